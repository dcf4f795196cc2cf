// The remote API end to end: berthd in a throwaway netns playing the host, on tcp://127.0.0.1:2376
// with --tlsverify beside its unix socket; berth, the docker CLI and dockerode (run inside that
// netns) succeed with a client certificate and are refused without one, with one from another CA,
// with an expired one and over plain HTTP, and berthd logs why. Socket activation with sockets a
// wrapper passes as systemd does (LISTEN_FDS/LISTEN_PID, fds 3 and 4). Bad starts leave nothing.
import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isRoot, skipReason, uniquePrefix } from '../helpers/prefix.js';
import { makeHost, type TestHost } from '../helpers/netns.js';
import { BERTH, BERTHD, ROOT, registerPid, startTestDaemon, testDir, unregisterPid, type TestDaemon } from '../helpers/daemon.js';
import { busyboxTar } from '../helpers/images.js';
import { nsenterArgs, run, type Result } from '../helpers/sh.js';
import { hasOpenssl, makePki, type Pki } from '../unit/listeners-certs.js';

const hasDocker = (await run(['docker', '--version'])).code === 0;
const withOpenssl = await hasOpenssl();
const hasPython = (await run(['python3', '--version'])).code === 0;
if (!isRoot) console.log(`skipping TLS e2e: ${skipReason}`);
if (!withOpenssl) console.log('skipping TLS e2e: no openssl to make certificates');
if (!hasDocker) console.log('skipping docker CLI TLS checks: no docker CLI on PATH');
if (!hasPython) console.log('skipping socket activation: no python3 to play systemd (bind, set LISTEN_PID, exec)');

const PORT = 2376;

/** Temp dirs of this file (certificates, state of failed starts, the install), removed at its end. */
const made: string[] = [];
function tmp(label: string): string {
  const d = testDir(label);
  made.push(d);
  return d;
}
afterAll(() => {
  for (const d of made) rmSync(d, { recursive: true, force: true });
});
const TCP = `tcp://127.0.0.1:${PORT}`;

/** berthd's JSON log lines that refused a client, parsed. */
function refusals(d: { log(): string }): { reason: string; remote: string; listener: string }[] {
  return d
    .log()
    .split('\n')
    .filter((l) => l.includes('"msg":"refused a'))
    .map((l) => JSON.parse(l) as { reason: string; remote: string; listener: string });
}

/** The number of refusals once berthd's log has been quiet for 150 ms (lines of an earlier client may still be on their way). */
async function settled(d: { log(): string }): Promise<number> {
  let n = refusals(d).length;
  for (let quiet = 0; quiet < 150; quiet += 25) {
    await new Promise((r) => setTimeout(r, 25));
    const m = refusals(d).length;
    if (m !== n) [n, quiet] = [m, 0];
  }
  return n;
}

/** Wait until berthd has logged more refusals than `before` (3 s at most); returns the new ones. */
async function newRefusals(d: { log(): string }, before: number): Promise<{ reason: string; remote: string }[]> {
  for (let i = 0; i < 150 && refusals(d).length <= before; i++) await new Promise((r) => setTimeout(r, 20));
  return refusals(d).slice(before);
}

// A script dockerode runs inside the netns (the daemon's 127.0.0.1 is there): ping and version with
// the TLS options it is given, printing {ok, version} or {error}.
const DOCKERODE_SCRIPT = `
import Docker from ${JSON.stringify(join(ROOT, 'node_modules/dockerode/lib/docker.js'))};
import { readFileSync } from 'node:fs';
const [port, ca, cert, key] = process.argv.slice(2);
const opts = { host: '127.0.0.1', port: Number(port), protocol: 'https', ca: readFileSync(ca) };
if (cert) { opts.cert = readFileSync(cert); opts.key = readFileSync(key); }
try {
  const docker = new Docker(opts);
  const ok = String(await docker.ping());
  const v = await docker.version();
  console.log(JSON.stringify({ ok, version: v.ApiVersion }));
} catch (e) {
  console.log(JSON.stringify({ error: String(e.message ?? e) }));
}
`;

describe.skipIf(!isRoot || !withOpenssl)('berthd on tcp:// with --tlsverify', () => {
  let host: TestHost;
  let d: TestDaemon;
  let pki: Pki;
  let certDir: string;
  let script: string;
  const inHost = (argv: string[], opts: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<Result> =>
    run([...nsenterArgs(host.name), ...argv], { ...opts, env: { ...process.env, ...opts.env } });
  const berth = (args: string[], env: NodeJS.ProcessEnv = {}) => inHost([process.execPath, BERTH, ...args], { env });
  const tlsFlags = (cert = pki.clientCert, key = pki.clientKey, ca = pki.ca) => ['--tlsverify', '--tlscacert', ca, '--tlscert', cert, '--tlskey', key];
  const dockerode = async (cert?: string) => JSON.parse((await inHost([process.execPath, script, String(PORT), pki.ca, ...(cert ? [cert, pki.clientKey] : [])])).stdout) as { ok?: string; version?: string; error?: string };

  beforeAll(async () => {
    const prefix = uniquePrefix();
    host = await makeHost(prefix);
    const dir = tmp('pki');
    pki = await makePki(dir);
    // DOCKER_CERT_PATH / BERTH_CERT_PATH layout
    certDir = join(dir, 'client');
    mkdirSync(certDir);
    copyFileSync(pki.ca, join(certDir, 'ca.pem'));
    copyFileSync(pki.clientCert, join(certDir, 'cert.pem'));
    copyFileSync(pki.clientKey, join(certDir, 'key.pem'));
    script = join(dir, 'dockerode.mjs');
    writeFileSync(script, DOCKERODE_SCRIPT);
    d = await startTestDaemon({
      netns: host.name,
      namePrefix: prefix,
      args: ['--bridge', `${prefix}b0`, '-H', TCP, '--tlsverify', '--tlscacert', pki.ca, '--tlscert', pki.serverCert, '--tlskey', pki.serverKey],
    });
  });
  afterAll(async () => {
    await d?.teardown();
    await host?.destroy();
  });

  it('says what it listens on', () => {
    const ready = d.log().split('\n').find((l) => l.includes('berthd is ready'));
    expect(JSON.parse(ready!).listeners).toEqual([d.host, `${TCP} (tls verify)`]);
  });

  it('answers berth version with a client certificate', async () => {
    const r = await berth(['-H', TCP, ...tlsFlags(), 'version']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('Server: Berth Engine');
  });

  it('takes host and TLS from BERTH_* and from DOCKER_* variables', async () => {
    const b = await berth(['info', '--format', '{{.ServerVersion}}'], { BERTH_HOST: TCP, BERTH_TLS_VERIFY: '1', BERTH_CERT_PATH: certDir });
    expect(b.stderr).toBe('');
    expect(b.stdout.trim()).toBe('0.1.0');
    const dk = await berth(['info', '--format', '{{.ServerVersion}}'], { DOCKER_HOST: TCP, DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: certDir });
    expect(dk.stderr).toBe('');
    expect(dk.stdout.trim()).toBe('0.1.0');
  });

  it.each([
    ['without a client certificate', () => ['--tlsverify', '--tlscacert', pki.ca], 'no client certificate'],
    ['with a certificate from another CA', () => tlsFlags(pki.otherCaCert), 'client certificate is not signed by the CA in --tlscacert (UNABLE_TO_VERIFY_LEAF_SIGNATURE)'],
    ['with an expired certificate', () => tlsFlags(pki.expiredCert), 'client certificate has expired'],
    ['over plain HTTP', () => [], 'plain HTTP on a TLS listener'],
  ])('refuses berth %s and logs why', async (_what, flags, reason) => {
    const before = await settled(d);
    const r = await berth(['-H', TCP, ...flags(), 'info']);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(reason.startsWith('plain') ? /^Error response from daemon: Client sent an HTTP request to an HTTPS server\.\n$/ : /^error during connect: GET "https:\/\/127\.0\.0\.1:2376\/info": /);
    const got = await newRefusals(d, before);
    expect(got[0]).toMatchObject({ reason, remote: expect.stringMatching(/^127\.0\.0\.1:\d+$/) });
  });

  it('refuses curl over plain HTTP with Go\'s answer', async () => {
    const r = await inHost(['curl', '-sS', '--max-time', '3', `http://127.0.0.1:${PORT}/_ping`]);
    expect(r.stdout).toBe('Client sent an HTTP request to an HTTPS server.\n');
  });

  it.skipIf(!hasDocker)('answers the docker CLI with a client certificate and refuses it otherwise', async () => {
    const docker = (flags: string[], args: string[]) => inHost(['docker', ...flags, '-H', TCP, ...args]);
    const ok = await docker(tlsFlags(), ['version', '--format', '{{.Server.APIVersion}}']);
    expect(ok.stderr).toBe('');
    expect(ok.stdout.trim()).toBe('1.51');
    const info = await docker(tlsFlags(), ['info', '--format', '{{.ServerVersion}}']);
    expect(info.stdout.trim()).toBe('0.1.0');
    const env = await inHost(['docker', 'info', '--format', '{{.ServerVersion}}'], { env: { DOCKER_HOST: TCP, DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: certDir } });
    expect(env.stdout.trim()).toBe('0.1.0');

    for (const [flags, reason] of [
      [['--tlsverify', '--tlscacert', pki.ca], 'no client certificate'],
      // Go sends a certificate only when its issuer is among the CAs the server names: none is sent
      [tlsFlags(pki.otherCaCert), 'no client certificate'],
      [tlsFlags(pki.expiredCert), 'client certificate has expired'],
    ] as const) {
      const before = await settled(d);
      const r = await docker([...flags], ['version', '--format', '{{.Server.APIVersion}}']);
      expect(r.code, reason).not.toBe(0);
      expect(r.stdout.trim(), reason).toBe('');
      expect(r.stderr, reason).toContain('error during connect');
      // the docker CLI tries more than once: every attempt is refused for this reason
      expect((await newRefusals(d, before)).map((x) => x.reason), r.stderr).toContain(reason);
    }
    const plain = await docker([], ['version', '--format', '{{.Server.APIVersion}}']);
    expect(plain.code).not.toBe(0);
    expect(plain.stderr).toContain('Client sent an HTTP request to an HTTPS server.');
  });

  it('answers dockerode with its TLS options and refuses it without a certificate', async () => {
    expect(await dockerode(pki.clientCert)).toEqual({ ok: 'OK', version: '1.51' });
    const before = await settled(d);
    expect((await dockerode()).error).toBeTruthy();
    expect((await newRefusals(d, before))[0]?.reason).toBe('no client certificate');
    const expired = await dockerode(pki.expiredCert);
    expect(expired.error).toBeTruthy();
  });

  it('keeps the unix socket working beside it (berth, dockerode)', async () => {
    expect((await d.cli(['version'])).code).toBe(0);
    const docker = new Docker({ socketPath: d.socket });
    expect(String(await docker.ping())).toBe('OK');
  });

  it('runs an attached container over TLS: the hijacked stream, half-closed by the client, carries the output', async () => {
    const tar = await busyboxTar(tmp('img'));
    expect((await d.cli(['import', tar, 'busybox:latest'])).code).toBe(0);
    const r = await berth(['-H', TCP, ...tlsFlags(), 'run', '--rm', 'busybox', 'sh', '-c', 'echo over tls; exit 4']);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('over tls\n');
    expect(r.code).toBe(4);
    if (hasDocker) {
      const dk = await inHost(['docker', ...tlsFlags(), '-H', TCP, 'run', '--rm', 'busybox', 'echo', 'docker over tls']);
      expect(dk.stderr).toBe('');
      expect(dk.stdout).toBe('docker over tls\n');
    }
  });

  it('stops on SIGTERM, removing its socket and pidfile', async () => {
    expect(await d.stop()).toBe(0);
    expect(existsSync(d.socket)).toBe(false);
    expect(existsSync(join(d.dir, 'berthd.pid'))).toBe(false);
    const r = await berth(['-H', TCP, ...tlsFlags(), 'version']);
    expect(r.stderr).toContain('Cannot connect to the berth daemon at tcp://127.0.0.1:2376');
  });
});

// python3 plays systemd: bind the sockets, put them on fds 3.., set LISTEN_FDS and LISTEN_PID to its
// own pid, then exec node: one pid all along (nsenter before it execs too), as under systemd.
const ACTIVATE = `
import fcntl, os, socket, sys
i = sys.argv.index('--'); specs, cmd = sys.argv[1:i], sys.argv[i+1:]
high = []
for n, spec in enumerate(specs):
    kind, _, addr = spec.partition(':')
    if kind == 'unix':
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM); s.bind(addr)
    else:
        h, _, port = addr.rpartition(':')
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM); s.bind((h, int(port)))
    s.listen(128)
    high.append(fcntl.fcntl(s.fileno(), fcntl.F_DUPFD_CLOEXEC, 100 + n)); s.close()
for n, fd in enumerate(high):
    os.dup2(fd, 3 + n, inheritable=True); os.close(fd)
os.environ['LISTEN_FDS'] = str(len(high)); os.environ['LISTEN_PID'] = str(os.getpid())
os.execvp(cmd[0], cmd)
`;

describe.skipIf(!isRoot || !withOpenssl || !hasPython)('berthd under socket activation (fd://)', () => {
  it('serves the unix and TCP sockets it was given, TLS on the TCP one, and leaves them to their owner', async () => {
    const prefix = uniquePrefix();
    const host = await makeHost(prefix);
    const dir = tmp('fd');
    const pki = await makePki(tmp('fdpki'));
    const sock = join(dir, 'activated.sock');
    const argv = [
      'python3', '-c', ACTIVATE, `unix:${sock}`, `tcp:127.0.0.1:${PORT}`, '--',
      process.execPath, BERTHD, '-H', 'fd://',
      '--tlsverify', '--tlscacert', pki.ca, '--tlscert', pki.serverCert, '--tlskey', pki.serverKey,
      '--data-root', join(dir, 'data'), '--exec-root', join(dir, 'run'), '--pidfile', join(dir, 'berthd.pid'),
      '--name-prefix', prefix, '--bridge', `${prefix}b0`,
    ];
    // python binds inside the host netns: run the wrapper itself there
    const p = spawn('nsenter', [`--net=/run/netns/${host.name}`, '--', ...argv], { stdio: ['ignore', 'ignore', 'pipe'] });
    registerPid(p.pid!);
    let log = '';
    p.stderr!.on('data', (c) => (log += c.toString()));
    const exited = new Promise<number | null>((r) => p.once('exit', (code) => r(code)));
    try {
      for (let i = 0; i < 400 && !log.includes('berthd is ready'); i++) {
        if (p.exitCode !== null) throw new Error(`berthd exited: ${log}`);
        await new Promise((r) => setTimeout(r, 25));
      }
      const ready = JSON.parse(log.split('\n').find((l) => l.includes('berthd is ready'))!);
      expect(ready.listeners).toEqual([`fd://3 (unix ${sock})`, `fd://4 (tcp 127.0.0.1:${PORT} tls verify)`]);
      expect(Number(readFileSync(join(dir, 'berthd.pid'), 'utf8'))).toBe(p.pid); // LISTEN_PID matched: the same process

      const viaUnix = await run([process.execPath, BERTH, '-H', `unix://${sock}`, 'info', '--format', '{{.ServerVersion}}']);
      expect(viaUnix.stdout.trim()).toBe('0.1.0');
      const tls = ['--tlsverify', '--tlscacert', pki.ca, '--tlscert', pki.clientCert, '--tlskey', pki.clientKey];
      const viaTcp = await run([...nsenterArgs(host.name), process.execPath, BERTH, '-H', `tcp://127.0.0.1:${PORT}`, ...tls, 'info', '--format', '{{.ServerVersion}}']);
      expect(viaTcp.stderr).toBe('');
      expect(viaTcp.stdout.trim()).toBe('0.1.0');
      const noCert = await run([...nsenterArgs(host.name), process.execPath, BERTH, '-H', `tcp://127.0.0.1:${PORT}`, '--tlsverify', '--tlscacert', pki.ca, 'info']);
      expect(noCert.code).toBe(1);
      await new Promise((r) => setTimeout(r, 50));
      expect(log).toContain('"reason":"no client certificate"');

      p.kill('SIGTERM');
      expect(await exited).toBe(0);
      expect(existsSync(join(dir, 'berthd.pid'))).toBe(false);
      expect(existsSync(sock)).toBe(true); // systemd's socket: not berthd's to remove
    } finally {
      if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
      unregisterPid(p.pid!);
      await host.destroy();
    }
  });

  it('refuses fd:// when no sockets were passed, leaving nothing', async () => {
    const dir = tmp('nofd');
    const r = await run([process.execPath, BERTHD, '-H', 'fd://', '--data-root', join(dir, 'data'), '--exec-root', join(dir, 'run'), '--pidfile', join(dir, 'berthd.pid')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('cannot listen on fd://: no sockets were passed by systemd');
    expect(existsSync(join(dir, 'berthd.pid'))).toBe(false);
    expect(existsSync(join(dir, 'run'))).toBe(false);
  });
});

describe.skipIf(!isRoot || !withOpenssl)('berthd bad remote-API starts', () => {
  let host: TestHost;
  let pki: Pki;
  beforeAll(async () => {
    host = await makeHost(uniquePrefix());
    pki = await makePki(tmp('badpki'));
  });
  afterAll(async () => {
    await host?.destroy();
  });

  const tls = () => ['--tlsverify', '--tlscacert', pki.ca, '--tlscert', pki.serverCert, '--tlskey', pki.serverKey];
  it.each([
    ['tcp:// without an address', () => ['-H', 'tcp://'], 2, 'invalid host "tcp://": want tcp://ADDR:PORT'],
    ['udp://', () => ['-H', 'udp://x'], 2, 'invalid host "udp://x": unsupported scheme "udp"'],
    ['unix:// in a missing directory', () => ['-H', 'unix:///nonexistent-berth-dir/b.sock'], 1, 'directory /nonexistent-berth-dir does not exist'],
    ['plain TCP on 0.0.0.0', () => ['-H', 'tcp://0.0.0.0:2375'], 2, 'pass --insecure-tcp-listener to accept the risk'],
    ['a missing certificate', () => ['-H', TCP, ...tls().slice(0, 4), '/nonexistent/cert.pem', '--tlskey', pki.serverKey], 1, 'cannot read --tlscert /nonexistent/cert.pem: no such file'],
    ['an unreadable certificate (a directory)', () => ['-H', TCP, ...tls().slice(0, 4), pki.dir, '--tlskey', pki.serverKey], 1, `cannot read --tlscert ${'{dir}'}: it is a directory`],
    ['a key that does not match the certificate', () => ['-H', TCP, ...tls().slice(0, 6), pki.clientKey], 1, 'does not match the certificate in --tlscert'],
    ['a missing CA', () => ['-H', TCP, '--tlsverify', '--tlscacert', '/nonexistent/ca.pem', '--tlscert', pki.serverCert, '--tlskey', pki.serverKey], 1, 'cannot read --tlscacert /nonexistent/ca.pem'],
  ])('refuses %s: a clear error, exit non-zero, no pidfile, socket or dirs', async (_what, args, code, msg) => {
    const dir = tmp('bad');
    const sock = join(dir, 'berth.sock');
    const r = await run([
      ...nsenterArgs(host.name), process.execPath, BERTHD, '-H', `unix://${sock}`, ...args(),
      '--data-root', join(dir, 'data'), '--exec-root', join(dir, 'run'), '--pidfile', join(dir, 'berthd.pid'),
    ]);
    expect(r.code).toBe(code);
    expect(r.stderr).toContain(msg.replace('{dir}', pki.dir));
    for (const left of [sock, 'berthd.pid', 'data', 'run']) expect(existsSync(left.startsWith('/') ? left : join(dir, left)), left).toBe(false);
  });

  it('refuses a TCP port already in use before taking the pidfile', async () => {
    const dir = tmp('busy');
    const holder = spawn('nsenter', [`--net=/run/netns/${host.name}`, '--', process.execPath, '-e', `require('net').createServer().listen(${PORT}, '127.0.0.1', () => console.log('up'))`], { stdio: ['ignore', 'pipe', 'ignore'] });
    registerPid(holder.pid!);
    try {
      await new Promise<void>((r) => holder.stdout!.once('data', () => r()));
      const r = await run([...nsenterArgs(host.name), process.execPath, BERTHD, '-H', `unix://${dir}/b.sock`, '-H', TCP, ...tls(), '--data-root', join(dir, 'data'), '--exec-root', join(dir, 'run'), '--pidfile', join(dir, 'berthd.pid')]);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(`cannot listen on ${TCP}: the address is already in use`);
      for (const left of ['b.sock', 'berthd.pid', 'data', 'run']) expect(existsSync(join(dir, left)), left).toBe(false);
    } finally {
      holder.kill('SIGKILL');
      unregisterPid(holder.pid!);
    }
  });
});

describe('scripts/install.sh', () => {
  it('installs binaries, units and a config file, enabling and starting nothing', async () => {
    const t = tmp('install');
    // systemctl and groupadd on PATH record any call: there must be none
    mkdirSync(join(t, 'shim'));
    for (const tool of ['systemctl', 'groupadd']) {
      writeFileSync(join(t, 'shim', tool), `#!/bin/sh\necho "${tool} $*" >> ${join(t, 'calls')}\nexit 1\n`, { mode: 0o755 });
    }
    const env = { ...process.env, PATH: `${join(t, 'shim')}:${process.env.PATH}` };

    // staged for a package: files under DESTDIR only, no group made
    const staged = await run(['bash', join(ROOT, 'scripts/install.sh')], { env: { ...env, DESTDIR: join(t, 'stage') }, timeoutMs: 120_000 });
    expect(staged.stderr).toBe('');
    expect(staged.code).toBe(0);
    for (const f of ['usr/local/bin/berthd', 'usr/local/bin/berth', 'usr/local/lib/berth/dist/bin/berthd.mjs', 'etc/systemd/system/berthd.service', 'etc/systemd/system/berthd.socket', 'etc/berth/daemon.json'])
      expect(existsSync(join(t, 'stage', f)), f).toBe(true);
    expect(readFileSync(join(t, 'stage/usr/local/bin/berthd'), 'utf8')).toContain(' /usr/local/lib/berth/dist/bin/berthd.mjs "$@"');
    expect(existsSync(join(t, 'stage/usr/local/lib/berth/node_modules/vitest'))).toBe(false); // production packages only
    expect(existsSync(join(t, 'stage/usr/local/lib/berth/node_modules/fastify'))).toBe(true);

    // into a prefix of its own, with an operator's config file in place
    const p = (s: string) => join(t, s);
    mkdirSync(p('etc/berth'), { recursive: true });
    writeFileSync(p('etc/berth/daemon.json'), '{"log-level": "debug"}\n');
    const r = await run(['bash', join(ROOT, 'scripts/install.sh')], {
      env: { ...env, PREFIX: p('usr'), SYSTEMD_DIR: p('systemd'), CONFIG_DIR: p('etc/berth'), GROUP: 'root' },
      timeoutMs: 120_000,
    });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('nothing was enabled or started');
    expect(existsSync(p('calls'))).toBe(false); // no systemctl, no groupadd
    expect(readFileSync(p('etc/berth/daemon.json'), 'utf8')).toBe('{"log-level": "debug"}\n');
    expect((await run([p('usr/bin/berthd'), '--version'])).stdout).toBe('berthd version 0.1.0, API 1.51\n');
    expect((await run([p('usr/bin/berth'), '--version'])).stdout).toBe('berth version 0.1.0, API 1.51\n');

    const service = readFileSync(p('systemd/berthd.service'), 'utf8');
    expect(service).toContain(`ExecStart=${p('usr/bin/berthd')} -H fd:// --config-file ${p('etc/berth/daemon.json')}\n`);
    for (const line of ['Type=notify', 'NotifyAccess=all', 'Delegate=yes', 'KillMode=process', 'Requires=berthd.socket']) expect(service).toContain(`${line}\n`);
    const socket = readFileSync(p('systemd/berthd.socket'), 'utf8');
    for (const line of ['ListenStream=/run/berth/berth.sock', 'SocketMode=0660', 'SocketUser=root', 'SocketGroup=root']) expect(socket).toContain(`${line}\n`);
    const verify = await run(['systemd-analyze', 'verify', p('systemd/berthd.socket'), p('systemd/berthd.service')]);
    if (verify.stderr.includes('ENOENT') || verify.code === 127) console.log('systemd-analyze not available: units not verified');
    else expect(verify.stderr).toBe('');

    // the shipped config file is one berthd accepts
    const { loadConfig } = await import('../../daemon/config.js');
    expect(loadConfig(['--config-file', join(t, 'stage/etc/berth/daemon.json')])).toMatchObject({ dataRoot: '/var/lib/berth', logLevel: 'info' });
  }, 240_000);
});
