// Real clients end to end: the docker CLI (skipped with a printed reason where it is absent) and
// dockerode (always) drive a berthd that runs in a throwaway netns playing the host, through the
// commands of issue 6. Each check looks at output AND exit code (or HTTP status); traffic to
// published ports is checked with curl from the host netns; pulls come from a docker-registry the
// test starts on 127.0.0.1 in that netns (skipped with a printed reason where it is absent).
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { request } from 'node:http';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import Docker from 'dockerode';
import { isRoot, skipReason, uniquePrefix } from '../helpers/prefix.js';
import { makeHost, type TestHost } from '../helpers/netns.js';
import { registerPid, startTestDaemon, testDir, unregisterPid, type TestDaemon } from '../helpers/daemon.js';
import { busyboxTar } from '../helpers/images.js';
import { nsenterArgs, run } from '../helpers/sh.js';
import { runInTty } from '../helpers/pty.js';

const hasDocker = (await run(['docker', '--version'])).code === 0;
const REGISTRY = '/usr/bin/docker-registry';
const hasRegistry = existsSync(REGISTRY);
if (!isRoot) console.log(`skipping client e2e: ${skipReason}`);
if (isRoot && !hasDocker) console.log('skipping the docker CLI half of the client e2e: no docker CLI on PATH (dockerode still runs)');
if (isRoot && !hasRegistry) console.log('skipping the client pull checks: no docker-registry (apt-get install docker-registry)');

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Temp dirs this file makes (images, the registry's storage, saved tars): removed in afterAll. */
const dirs: string[] = [];
const tempDir = (label: string) => {
  const dir = testDir(label);
  dirs.push(dir);
  return dir;
};

/** curl from a netns, a few tries while the server comes up. */
async function curl(ns: { exec: TestHost['exec'] }, url: string): Promise<string> {
  let last = '';
  for (let i = 0; i < 40; i++) {
    const r = await ns.exec(['curl', '-fsS', '--max-time', '2', url]);
    if (r.code === 0) return r.stdout;
    last = r.stderr;
    await sleep(50);
  }
  throw new Error(`curl ${url}: ${last}`);
}

/** A raw request to the daemon's socket: status, headers, body. */
function raw(socketPath: string, method: string, path: string): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath, method, path }, (res) => {
      let body = '';
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** Docker's multiplexed stream, split with dockerode's own demuxer. */
async function demuxed(docker: Docker, stream: NodeJS.ReadableStream): Promise<{ stdout: string; stderr: string }> {
  const out = new PassThrough();
  const err = new PassThrough();
  let stdout = '';
  let stderr = '';
  out.on('data', (c) => (stdout += c));
  err.on('data', (c) => (stderr += c));
  docker.modem.demuxStream(stream, out, err);
  await new Promise<void>((r) => {
    stream.on('end', () => r());
    stream.on('close', () => r());
  });
  return { stdout, stderr };
}

/** docker-registry on 127.0.0.1:port in the host netns, storage under `dir`; stopped by PID. */
async function startRegistry(host: TestHost, dir: string, port: number): Promise<{ stop(): Promise<void> }> {
  const cfg = join(dir, 'registry.yml');
  writeFileSync(
    cfg,
    `version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: ${join(dir, 'registry')}\nhttp:\n  addr: 127.0.0.1:${port}\n`,
  );
  const argv = [...nsenterArgs(host.name), REGISTRY, 'serve', cfg];
  const p: ChildProcess = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'ignore', 'pipe'] });
  registerPid(p.pid!);
  let err = '';
  p.stderr!.on('data', (c) => (err += c));
  const stop = async () => {
    if (p.exitCode === null && p.signalCode === null) {
      p.kill('SIGTERM');
      await new Promise((r) => p.once('exit', r));
    }
    unregisterPid(p.pid!);
  };
  for (let i = 0; i < 200; i++) {
    if (p.exitCode !== null) throw new Error(`docker-registry exited ${p.exitCode}: ${err}`);
    if ((await host.exec(['curl', '-s', '-o', '/dev/null', '-w', '%{http_code}', `http://127.0.0.1:${port}/v2/`])).stdout === '200') return { stop };
    await sleep(50);
  }
  await stop();
  throw new Error(`docker-registry did not answer: ${err}`);
}

async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  let s = '';
  for await (const c of stream) s += c.toString();
  return s;
}

describe.skipIf(!isRoot)('real clients against berthd', () => {
  let host: TestHost;
  let d: TestDaemon;
  let docker: Docker;
  let bridge: string;
  let registry: { stop(): Promise<void> } | undefined;
  /** The busybox rootfs tar (scripts/mkimage-busybox.sh). */
  let busyTar: string;
  /** An image in the test registry: busybox, pushed by berth. */
  const REG_PORT = 5055;
  const remote = `127.0.0.1:${REG_PORT}/clients/busybox`;

  beforeAll(async () => {
    const prefix = uniquePrefix();
    host = await makeHost(prefix);
    bridge = `${prefix}b0`;
    d = await startTestDaemon({ netns: host.name, namePrefix: prefix, args: ['--bridge', bridge] });
    busyTar = await busyboxTar(tempDir('img'));
    const r = await d.cli(['import', busyTar, 'busybox:latest']);
    expect(r.code, r.stderr).toBe(0);
    docker = new Docker({ socketPath: d.socket });
    if (hasRegistry) {
      registry = await startRegistry(host, tempDir('reg'), REG_PORT);
      expect((await d.cli(['tag', 'busybox', `${remote}:v1`])).code).toBe(0);
      const push = await d.cli(['push', `${remote}:v1`]);
      expect(push.code, push.stderr).toBe(0);
      expect((await d.cli(['rmi', `${remote}:v1`])).code).toBe(0);
    }
  });
  afterAll(async () => {
    if (d) {
      const ids = (await d.cli(['ps', '-aq'])).stdout.split('\n').filter(Boolean);
      if (ids.length) await d.cli(['rm', '-f', ...ids]);
      for (const n of ['dnet', 'odnet', 'cdnet', 'odconn']) await d.cli(['network', 'rm', n]);
      await d.cleanup();
    }
    await registry?.stop();
    await host?.destroy();
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  // ---- the docker CLI ------------------------------------------------------------------------

  describe.skipIf(!hasDocker)('docker CLI', () => {
    const dk = (args: string[], o: { input?: string; timeoutMs?: number } = {}) => d.docker(args, o);
    const tty = (args: string[], o: Parameters<typeof runInTty>[1] = {}) => runInTty(['docker', '-H', d.host, ...args], o);

    it('version, info; the daemon answers an unknown endpoint with a JSON 404 and Docker headers', async () => {
      const v = await dk(['version', '--format', '{{.Server.APIVersion}} {{.Server.Os}} {{.Client.APIVersion}}']);
      expect(v.code, v.stderr).toBe(0);
      expect(v.stdout.trim()).toMatch(/^1\.51 linux 1\.\d+$/);
      const i = await dk(['info', '--format', '{{.OSType}} {{.Driver}} {{.Images}}']);
      expect(i.code, i.stderr).toBe(0);
      expect(i.stdout.trim()).toMatch(/^linux overlay \d+$/);
      for (const path of ['/v1.50/no/such/endpoint', '/containers/%zz/json']) {
        const r = await raw(d.socket, 'GET', path);
        expect(r.status).toBeGreaterThanOrEqual(400);
        expect(r.headers['content-type']).toBe('application/json');
        expect(JSON.parse(r.body).message).toEqual(expect.any(String));
        expect(r.headers['api-version']).toBe('1.51');
        expect(r.headers['ostype']).toBe('linux');
        expect(String(r.headers['server'])).toMatch(/^Berth\//);
      }
      // streamed answers carry them too
      const ev = await raw(d.socket, 'GET', `/v1.50/events?since=0&until=${Math.floor(Date.now() / 1000)}`);
      expect(ev.status).toBe(200);
      expect(ev.headers['api-version']).toBe('1.51');
      expect(ev.headers['ostype']).toBe('linux');
    });

    it.skipIf(!hasRegistry)('pull from a registry (a JSON progress stream), and run of a missing image pulls it', async () => {
      const p = await dk(['pull', `${remote}:v1`]);
      expect(p.code, p.stderr).toBe(0);
      expect(p.stdout).toMatch(/^v1: Pulling from clients\/busybox\n/);
      expect(p.stdout).toMatch(/Digest: sha256:[0-9a-f]{64}\n/);
      expect(p.stdout).toContain(`Status: Downloaded newer image for ${remote}:v1`);
      expect((await dk(['images', '--format', '{{.Repository}}:{{.Tag}}', `${remote}`])).stdout.trim()).toBe(`${remote}:v1`);
      expect((await dk(['rmi', `${remote}:v1`])).code).toBe(0);
      const r = await dk(['run', '--rm', `${remote}:v1`, 'echo', 'pulled and ran']);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).toContain(`Unable to find image '${remote}:v1' locally`);
      expect(r.stdout).toBe('pulled and ran\n');
      const missing = await dk(['pull', `${remote}:nosuchtag`]);
      expect(missing.code).toBe(1);
      expect(missing.stderr).toMatch(/manifest unknown|not found/);
      await dk(['rmi', `${remote}:v1`]);
    });

    it('images, image inspect, tag, rmi, import (a JSON progress stream)', async () => {
      const imp = await dk(['import', busyTar, 'imported:v1']);
      expect(imp.code, imp.stderr).toBe(0);
      expect(imp.stdout.trim()).toMatch(/^sha256:[0-9a-f]{64}$/);
      const ls = await dk(['images', '--format', '{{.Repository}}:{{.Tag}}']);
      expect(ls.stdout.split('\n')).toEqual(expect.arrayContaining(['busybox:latest', 'imported:v1']));
      const ins = await dk(['image', 'inspect', 'imported:v1', '--format', '{{.Os}} {{index .RepoTags 0}}']);
      expect(ins.stdout.trim()).toBe('linux imported:v1');
      expect((await dk(['tag', 'imported:v1', 'retagged:v2'])).code).toBe(0);
      expect((await dk(['images', '-q', 'retagged'])).stdout.trim()).toMatch(/^[0-9a-f]{12}$/);
      const rmi = await dk(['rmi', 'retagged:v2', 'imported:v1']);
      expect(rmi.code, rmi.stderr).toBe(0);
      expect(rmi.stdout).toContain('Untagged: retagged:v2');
      expect(rmi.stdout).toContain('Deleted: sha256:');
      const missing = await dk(['rmi', 'nosuchimage:1']);
      expect(missing.code).toBe(1);
      expect(missing.stderr).toContain('No such image: nosuchimage:1');
      const badInspect = await dk(['image', 'inspect', 'nosuchimage']);
      expect(badInspect.code).toBe(1);
      const tar = join(tempDir('save'), 'bb.tar');
      expect((await dk(['save', '-o', tar, 'busybox:latest'])).code).toBe(0);
      const load = await dk(['load', '-i', tar]);
      expect(load.code, load.stderr).toBe(0);
      expect(load.stdout).toContain('busybox:latest');
    });

    it('run attached: stdout and stderr apart, the exit code, --rm, -e, --name, stdin with -i', async () => {
      const r = await dk(['run', '--rm', '--name', 'dattached', '-e', 'GREETING=hi there', 'busybox', 'sh', '-c', 'echo "$GREETING"; echo oops >&2; exit 3']);
      expect(r.code).toBe(3);
      expect(r.stdout).toBe('hi there\n');
      expect(r.stderr).toBe('oops\n');
      // --rm: berthd answers the waiter once the container is down and finishes the removal just after
      let left = 'x';
      for (let k = 0; k < 40 && left !== ''; k++) {
        left = (await dk(['ps', '-a', '-q', '--filter', 'name=dattached'])).stdout;
        if (left) await sleep(50);
      }
      expect(left).toBe('');
      const u = await dk(['run', '--rm', '-u', 'nobody', '-w', '/tmp', '--entrypoint', 'sh', 'busybox', '-c', 'id -u; pwd']);
      expect(u.stdout).toBe('65534\n/tmp\n');
      const i = await dk(['run', '--rm', '-i', 'busybox', 'tr', 'a-z', 'A-Z'], { input: 'piped in\n' });
      expect(i.code, i.stderr).toBe(0);
      expect(i.stdout).toBe('PIPED IN\n');
    });

    it('run -d -p and -P: port, ps --format and filters, traffic to the published ports', async () => {
      const a = await dk(['run', '-d', '--name', 'dweb', '-p', '8181:80', 'busybox', 'httpd', '-f', '-p', '80', '-h', '/www']);
      expect(a.code, a.stderr).toBe(0);
      const b = await dk(['run', '-d', '--name', 'dwebp', '-P', '--expose', '80', '--label', 'role=web', 'busybox', 'httpd', '-f', '-p', '80', '-h', '/www']);
      expect(b.code, b.stderr).toBe(0);
      expect((await dk(['port', 'dweb'])).stdout.trim()).toBe('80/tcp -> 0.0.0.0:8181');
      const p = await dk(['port', 'dwebp', '80']);
      expect(p.code).toBe(0);
      const hostPort = Number(/0\.0\.0\.0:(\d+)/.exec(p.stdout)?.[1]);
      expect(hostPort).toBeGreaterThan(1024);
      expect(await curl(host, 'http://127.0.0.1:8181/')).toBe('hello from berth\n');
      expect(await curl(host, `http://127.0.0.1:${hostPort}/`)).toBe('hello from berth\n');
      const ps = await dk(['ps', '--format', '{{.Names}}|{{.Ports}}|{{.Status}}', '--filter', 'label=role=web']);
      expect(ps.stdout.trim()).toMatch(new RegExp(`^dwebp\\|0\\.0\\.0\\.0:${hostPort}->80/tcp\\|Up `));
      expect((await dk(['ps', '-q', '--filter', 'publish=8181'])).stdout.trim()).toBe(a.stdout.trim().slice(0, 12));
      expect((await dk(['ps', '--format', '{{.Names}}', '--filter', 'name=dweb'])).stdout.split('\n').filter(Boolean).sort()).toEqual(['dweb', 'dwebp']);
      expect((await dk(['port', 'dweb', '81'])).code).toBe(1);
      expect((await dk(['rm', '-f', 'dweb', 'dwebp'])).code).toBe(0);
    });

    it('--net in every mode: bridge, a user network, host, none, container:', async () => {
      const br = await dk(['run', '--rm', 'busybox', 'ip', '-o', '-4', 'addr', 'show', 'eth0']);
      expect(br.code, br.stderr).toBe(0);
      expect(br.stdout).toMatch(/inet 172\.17\.\d+\.\d+\/16/);
      expect((await dk(['network', 'create', '--subnet', '10.77.0.0/24', 'dnet'])).code).toBe(0);
      const user = await dk(['run', '--rm', '--net', 'dnet', 'busybox', 'ip', '-o', '-4', 'addr', 'show', 'eth0']);
      expect(user.code, user.stderr).toBe(0);
      expect(user.stdout).toMatch(/inet 10\.77\.0\.\d+\/24/);
      const hostNet = await dk(['run', '--rm', '--net', 'host', 'busybox', 'ip', '-o', 'link']);
      expect(hostNet.stdout).toContain(bridge);
      const none = await dk(['run', '--rm', '--net', 'none', 'busybox', 'ip', '-o', 'link']);
      expect(none.stdout.trim().split('\n').map((l) => l.split(':')[1]!.trim())).toEqual(['lo']);
      await dk(['run', '-d', '--name', 'dnsbox', 'busybox', 'sleep', '300']);
      const own = (await dk(['exec', 'dnsbox', 'ip', '-o', '-4', 'addr', 'show', 'eth0'])).stdout.split(/\s+/)[3];
      const joined = await dk(['run', '--rm', '--net', 'container:dnsbox', 'busybox', 'ip', '-o', '-4', 'addr', 'show', 'eth0']);
      expect(joined.code, joined.stderr).toBe(0);
      expect(joined.stdout.split(/\s+/)[3]).toBe(own);
      const conflicting = await dk(['run', '--rm', '--net', 'container:dnsbox', '-p', '80:80', 'busybox', 'true']);
      expect(conflicting.code).toBe(125);
      expect(conflicting.stderr).toMatch(/conflicting options: port publishing and the container type network mode/);
      expect((await dk(['rm', '-f', 'dnsbox'])).code).toBe(0);
    });

    it('--link: the alias resolves and the env names the linked ports', async () => {
      await dk(['run', '-d', '--name', 'dlinked', '--expose', '80', 'busybox', 'httpd', '-f', '-p', '80', '-h', '/www']);
      const r = await dk(['run', '--rm', '--link', 'dlinked:web', 'busybox', 'sh', '-c', 'echo $WEB_PORT_80_TCP_PORT; timeout 3 wget -qO- http://web/']);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toBe('80\nhello from berth\n');
      await dk(['rm', '-f', 'dlinked']);
    });

    it('create, start (again: no error), wait, stop (a stopped one: no error), kill, restart, rm; inspect of any object', async () => {
      const c = await dk(['create', '--name', 'dlife', 'busybox', 'sh', '-c', 'trap "exit 7" TERM; while true; do sleep 0.1; done']);
      expect(c.code, c.stderr).toBe(0);
      const id = c.stdout.trim();
      expect((await dk(['inspect', '-f', '{{.State.Status}}', 'dlife'])).stdout.trim()).toBe('created');
      expect((await dk(['start', 'dlife'])).stdout.trim()).toBe('dlife');
      const again = await dk(['start', 'dlife']);
      expect(again.code).toBe(0); // 304 from the daemon
      expect((await dk(['stop', '-t', '5', 'dlife'])).code).toBe(0);
      expect((await dk(['wait', 'dlife'])).stdout.trim()).toBe('7');
      expect((await dk(['stop', 'dlife'])).code).toBe(0); // 304
      expect((await dk(['restart', '-t', '1', 'dlife'])).code).toBe(0);
      expect((await dk(['inspect', '-f', '{{.State.Running}} {{.RestartCount}}', 'dlife'])).stdout.trim()).toMatch(/^true \d+$/);
      expect((await dk(['kill', 'dlife'])).stdout.trim()).toBe('dlife');
      expect((await dk(['wait', 'dlife'])).stdout.trim()).toBe('137');
      const killStopped = await dk(['kill', 'dlife']);
      expect(killStopped.code).toBe(1);
      expect(killStopped.stderr).toMatch(/is not running/);
      // inspect tries container, image, network, volume in turn
      expect((await dk(['inspect', '-f', '{{.Id}}', 'dlife'])).stdout.trim()).toBe(id);
      expect((await dk(['inspect', '-f', '{{.Id}}', 'busybox'])).stdout.trim()).toMatch(/^sha256:/);
      expect((await dk(['inspect', '-f', '{{.Name}}', 'bridge'])).stdout.trim()).toBe('bridge');
      const none = await dk(['inspect', 'nosuchobject']);
      expect(none.code).toBe(1);
      expect(none.stderr).toContain('No such object: nosuchobject');
      expect((await dk(['volume', 'inspect', 'nosuchvol'])).code).toBe(1);
      expect((await dk(['rename', 'dlife', 'dlife2'])).code).toBe(0);
      expect((await dk(['inspect', '-f', '{{.Name}}', id])).stdout.trim()).toBe('/dlife2');
      expect((await dk(['rm', 'dlife2'])).stdout.trim()).toBe('dlife2');
      const gone = await dk(['rm', 'dlife2']);
      expect(gone.code).toBe(1);
      expect(gone.stderr).toContain('No such container: dlife2');
      await dk(['create', '--name', 'dprunable', 'busybox', 'true']);
      const prune = await dk(['container', 'prune', '-f']);
      expect(prune.code).toBe(0);
      expect(prune.stdout).toMatch(/Deleted Containers:\n[0-9a-f]{64}\n/);
      expect((await dk(['ps', '-aq', '--filter', 'name=dprunable'])).stdout).toBe('');
      const busy = await dk(['run', '-d', '--name', 'dbusy', 'busybox', 'sleep', '300']);
      expect(busy.code).toBe(0);
      const rmRunning = await dk(['rm', 'dbusy']);
      expect(rmRunning.code).toBe(1);
      expect(rmRunning.stderr).toMatch(/container is running/);
      expect((await dk(['rm', '-f', 'dbusy'])).code).toBe(0);
    });

    it('logs: stdout and stderr apart without a TTY, raw with one; -f follows until the exit', async () => {
      await dk(['run', '--name', 'dlogs', 'busybox', 'sh', '-c', 'echo to-out; echo to-err >&2']);
      const l = await dk(['logs', 'dlogs']);
      expect(l.code).toBe(0);
      expect(l.stdout).toBe('to-out\n');
      expect(l.stderr).toBe('to-err\n');
      await dk(['run', '-t', '--name', 'dlogstty', 'busybox', 'sh', '-c', 'echo tty-out; echo tty-err >&2']);
      const t = await dk(['logs', 'dlogstty']);
      expect(t.stdout).toBe('tty-out\r\ntty-err\r\n');
      expect(t.stderr).toBe('');
      await dk(['run', '-d', '--name', 'dfollow', 'busybox', 'sh', '-c', 'for i in 1 2 3; do echo line$i; sleep 0.3; done']);
      const f = await dk(['logs', '-f', 'dfollow']);
      expect(f.code).toBe(0);
      expect(f.stdout).toBe('line1\nline2\nline3\n');
      expect((await dk(['logs', '--tail', '1', 'dfollow'])).stdout).toBe('line3\n');
      await dk(['rm', 'dlogs', 'dlogstty', 'dfollow']);
    });

    it('attach: the output and the exit code of a running container', async () => {
      await dk(['run', '-d', '--name', 'dattach', 'busybox', 'sh', '-c', 'sleep 1; echo from-attach; exit 6']);
      const a = await dk(['attach', 'dattach']);
      expect(a.stdout).toBe('from-attach\n');
      expect(a.code).toBe(6);
      await dk(['rm', 'dattach']);
    });

    it('exec: output, exit code from exec inspect, stdin, -d, -e -w -u; a missing command exits 127', async () => {
      await dk(['run', '-d', '--name', 'dexec', '-e', 'FROM_RUN=1', 'busybox', 'sleep', '300']);
      const e = await dk(['exec', 'dexec', 'sh', '-c', 'echo out $FROM_RUN; echo err >&2; exit 4']);
      expect(e.code).toBe(4);
      expect(e.stdout).toBe('out 1\n');
      expect(e.stderr).toBe('err\n');
      const i = await dk(['exec', '-i', 'dexec', 'wc', '-c'], { input: '12345' });
      expect(i.code, i.stderr).toBe(0);
      expect(i.stdout.trim()).toBe('5');
      const o = await dk(['exec', '-e', 'X=y', '-w', '/tmp', '-u', 'nobody', 'dexec', 'sh', '-c', 'echo $X $(pwd) $(id -u)']);
      expect(o.stdout).toBe('y /tmp 65534\n');
      const det = await dk(['exec', '-d', 'dexec', 'sh', '-c', 'echo detached > /tmp/flag']);
      expect(det.code).toBe(0);
      expect(det.stdout).toBe('');
      let flag = '';
      for (let k = 0; k < 40 && flag !== 'detached\n'; k++) {
        await sleep(50);
        flag = (await dk(['exec', 'dexec', 'cat', '/tmp/flag'])).stdout;
      }
      expect(flag).toBe('detached\n');
      const nf = await dk(['exec', 'dexec', 'nosuchcmd']);
      expect(nf.code).toBe(127);
      expect(nf.stdout + nf.stderr).toContain('executable file not found');
      await dk(['stop', '-t', '0', 'dexec']);
      const stopped = await dk(['exec', 'dexec', 'true']);
      expect(stopped.code).not.toBe(0);
      expect(stopped.stderr).toMatch(/is not running/);
      const missing = await dk(['exec', 'nosuchcontainer', 'true']);
      expect(missing.code).toBe(1);
      expect(missing.stderr).toContain('No such container: nosuchcontainer');
      await dk(['rm', 'dexec']);
    });

    it("exec: the container's env with its link variables, in dockerd's order; ExecIDs while an exec -d runs", async () => {
      expect((await dk(['run', '-d', '--name', 'dxdb', '--expose', '5432', '-e', 'PGDATA=/d', 'busybox', 'sleep', '300'])).code).toBe(0);
      const run = await dk(['run', '-d', '--name', 'dxweb', '--link', 'dxdb:db', '-e', 'MINE=1', 'busybox', 'sleep', '300']);
      expect(run.code, run.stderr).toBe(0);
      const dbIp = (await dk(['inspect', '-f', '{{.NetworkSettings.IPAddress}}', 'dxdb'])).stdout.trim();
      const hostname = (await dk(['inspect', '-f', '{{.Config.Hostname}}', 'dxweb'])).stdout.trim();
      const e = await dk(['exec', '-e', 'X=y', 'dxweb', 'env']);
      expect(e.code, e.stderr).toBe(0);
      expect(e.stdout.split('\n').filter(Boolean)).toEqual([
        'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
        `HOSTNAME=${hostname}`,
        `DB_PORT=tcp://${dbIp}:5432`,
        `DB_PORT_5432_TCP=tcp://${dbIp}:5432`,
        `DB_PORT_5432_TCP_ADDR=${dbIp}`,
        'DB_PORT_5432_TCP_PORT=5432',
        'DB_PORT_5432_TCP_PROTO=tcp',
        'DB_NAME=/dxweb/db',
        'DB_ENV_PGDATA=/d',
        'MINE=1',
        'X=y',
        'HOME=/root', // set by the runtime (runc), not the daemon
      ]);
      const ids = async () => (await dk(['inspect', '-f', '{{json .ExecIDs}}', 'dxweb'])).stdout.trim();
      expect(await ids()).toBe('null');
      expect((await dk(['exec', '-d', 'dxweb', 'sleep', '2'])).code).toBe(0);
      const listed = JSON.parse(await ids()) as string[];
      expect(listed).toHaveLength(1);
      expect(listed[0]).toMatch(/^[0-9a-f]{64}$/);
      let after = '';
      for (let k = 0; k < 60 && after !== 'null'; k++) {
        await sleep(100);
        after = await ids();
      }
      expect(after).toBe('null');
      expect((await dk(['rm', '-f', 'dxweb', 'dxdb'])).code).toBe(0);
    });

    it('-it with a TTY: run and exec see the terminal size at once, input reaches the shell, the exit code comes back', async () => {
      const r = await tty(['run', '--rm', '-it', 'busybox', 'stty', 'size'], { rows: 45, cols: 123 });
      expect(r.output.trim()).toBe('45 123');
      expect(r.code).toBe(0);
      await dk(['run', '-d', '--name', 'dtty', 'busybox', 'sleep', '300']);
      const s = await tty(['exec', '-it', 'dtty', 'stty', 'size'], { rows: 33, cols: 99 });
      expect(s.output.trim()).toBe('33 99');
      const sh = await tty(['exec', '-it', 'dtty', 'sh'], {
        steps: [
          { waitFor: /# /, send: 'echo sum-$((40+2))\r' },
          { waitFor: /sum-42/, send: 'exit 5\r' },
        ],
      });
      expect(sh.output).toContain('sum-42\r\n');
      expect(sh.code).toBe(5);
      const runSh = await tty(['run', '--rm', '-it', 'busybox', 'sh'], {
        steps: [
          { waitFor: /# /, send: 'tty; echo run-$((6*7))\r' },
          { waitFor: /run-42/, send: 'exit 2\r' },
        ],
      });
      expect(runSh.output).toMatch(/\/dev\/pts\/\d+\r\nrun-42\r\n/);
      expect(runSh.code).toBe(2);
      await dk(['rm', '-f', 'dtty']);
    });

    it('-it detach with ctrl-p ctrl-q, then attach again and type', async () => {
      const first = await tty(['run', '-it', '--name', 'ddetach', 'busybox', 'sh'], {
        steps: [
          { waitFor: /# /, send: 'echo first-$((1+1))\r' },
          { waitFor: /first-2/, send: Buffer.from([0x10, 0x11]) },
        ],
      });
      expect(first.code).toBe(0);
      expect((await dk(['inspect', '-f', '{{.State.Running}}', 'ddetach'])).stdout.trim()).toBe('true');
      const again = await tty(['attach', 'ddetach'], {
        steps: [
          { delayMs: 300, send: 'echo second-$((2+2))\r' },
          { waitFor: /second-4/, send: Buffer.from([0x10, 0x11]) },
        ],
      });
      expect(again.output).toContain('second-4');
      expect(again.output).toContain('read escape sequence');
      expect((await dk(['inspect', '-f', '{{.State.Running}}', 'ddetach'])).stdout.trim()).toBe('true');
      await dk(['rm', '-f', 'ddetach']);
    });

    it('events with filters (since/until, container, event)', async () => {
      const since = Math.floor(Date.now() / 1000) - 1;
      await dk(['run', '--name', 'devents', 'busybox', 'sh', '-c', 'exit 2']);
      await dk(['rm', 'devents']);
      const until = Math.floor(Date.now() / 1000) + 1;
      const all = await dk(['events', '--since', String(since), '--until', String(until), '--filter', 'container=devents', '--format', '{{.Type}} {{.Action}}']);
      expect(all.code, all.stderr).toBe(0);
      const actions = all.stdout.trim().split('\n');
      expect(actions).toEqual(expect.arrayContaining(['container create', 'container start', 'container die', 'container destroy']));
      expect(actions.every((a) => a.startsWith('container '))).toBe(true);
      const die = await dk(['events', '--since', String(since), '--until', String(until), '--filter', 'container=devents', '--filter', 'event=die', '--format', '{{.Actor.Attributes.exitCode}}']);
      expect(die.stdout.trim()).toBe('2');
    });

    it('network create, ls (filters), inspect, rm', async () => {
      const c = await dk(['network', 'create', '--subnet', '10.78.0.0/24', '--label', 'team=a', 'odnet']);
      expect(c.code, c.stderr).toBe(0);
      expect(c.stdout.trim()).toMatch(/^[0-9a-f]{64}$/);
      const ls = await dk(['network', 'ls', '--filter', 'label=team=a', '--format', '{{.Name}} {{.Driver}}']);
      expect(ls.stdout.trim()).toBe('odnet bridge');
      const ins = await dk(['network', 'inspect', 'odnet', '--format', '{{(index .IPAM.Config 0).Subnet}} {{.Labels.team}}']);
      expect(ins.stdout.trim()).toBe('10.78.0.0/24 a');
      const dup = await dk(['network', 'create', 'odnet']);
      expect(dup.code).toBe(1);
      expect(dup.stderr).toMatch(/already exists/);
      expect((await dk(['network', 'rm', 'odnet'])).stdout.trim()).toBe('odnet');
      const gone = await dk(['network', 'rm', 'odnet']);
      expect(gone.code).toBe(1);
      expect(gone.stderr).toMatch(/not found/);
    });

    it('network connect and disconnect of a running container: it gains and loses an interface', async () => {
      expect((await dk(['network', 'create', '--subnet', '10.81.0.0/24', 'cdnet'])).code).toBe(0);
      await dk(['run', '-d', '--name', 'dconn', 'busybox', 'sleep', '300']);
      const c = await dk(['network', 'connect', 'cdnet', 'dconn']);
      expect(c.code, c.stderr).toBe(0);
      const ips = (await dk(['exec', 'dconn', 'ip', '-o', '-4', 'addr'])).stdout;
      expect(ips).toMatch(/inet 172\.17\.\d+\.\d+\/16/);
      expect(ips).toMatch(/inet 10\.81\.0\.\d+\/24/);
      expect((await dk(['inspect', '-f', '{{len .NetworkSettings.Networks}}', 'dconn'])).stdout.trim()).toBe('2');
      const again = await dk(['network', 'connect', 'cdnet', 'dconn']);
      expect(again.code).toBe(1);
      const dc = await dk(['network', 'disconnect', 'cdnet', 'dconn']);
      expect(dc.code, dc.stderr).toBe(0);
      expect((await dk(['exec', 'dconn', 'ip', '-o', '-4', 'addr'])).stdout).not.toMatch(/10\.81\.0\./);
      expect((await dk(['network', 'connect', 'nosuchnet', 'dconn'])).code).toBe(1);
      await dk(['rm', '-f', 'dconn']);
      expect((await dk(['network', 'rm', 'cdnet'])).code).toBe(0);
    });

    it('stats --no-stream and top', async () => {
      await dk(['run', '-d', '--name', 'dstats', 'busybox', 'sh', '-c', 'sleep 300 & sleep 301; :']);
      const s = await dk(['stats', '--no-stream', '--format', '{{.Name}} {{.PIDs}} {{.MemUsage}}', 'dstats']);
      expect(s.code, s.stderr).toBe(0);
      expect(s.stdout.trim()).toMatch(/^dstats 3 [\d.]+[KMG]iB \/ [\d.]+[KMG]iB$/);
      const t = await dk(['top', 'dstats']);
      expect(t.code, t.stderr).toBe(0);
      const lines = t.stdout.trim().split('\n');
      expect(lines[0]).toMatch(/^UID\s+PID\s+PPID\s+C\s+STIME\s+TTY\s+TIME\s+CMD$/);
      expect(lines.slice(1).map((l) => l.split(/\s{2,}/).at(-1)).sort()).toEqual(['sh -c sleep 300 & sleep 301; :', 'sleep 300', 'sleep 301']);
      const aux = await dk(['top', 'dstats', 'aux']);
      expect(aux.code).toBe(1);
      expect(aux.stderr).toMatch(/not supported/);
      await dk(['rm', '-f', 'dstats']);
    });

    it('refuses options berth does not support with a clear message, and creates nothing', async () => {
      const before = (await dk(['ps', '-aq'])).stdout;
      const cases: [string[], RegExp][] = [
        [['--privileged'], /does not support the host option Privileged/],
        // (-v /host:/ctr, --mount type=bind|tmpfs and --tmpfs work: test/e2e/mounts.test.ts)
        [['-v', '/data'], /does not support volumes yet \(-v \/data\)/],
        [['-v', 'data:/data'], /does not support named volumes yet \(-v data:\/data\)/],
        [['--mount', 'type=volume,target=/data'], /does not support volumes yet \(--mount type=volume,target=\/data\)/],
        [['--volume-driver', 'local'], /does not support the host option VolumeDriver/],
        [['--security-opt', 'seccomp=unconfined'], /does not support the host option SecurityOpt/],
        [['--log-opt', 'max-size=1m'], /does not support log options \(--log-opt max-size\)/],
        [['--log-driver', 'syslog'], /does not support the log driver "syslog"/],
        // (-m, --cpus, --pids-limit … work: test/e2e/resources.test.ts)
        [['--device', '/dev/null'], /does not support the host option Devices/],
      ];
      for (const [flags, msg] of cases) {
        const r = await dk(['run', '--rm', ...flags, 'busybox', 'true']);
        expect(r.code, flags.join(' ')).toBe(125);
        expect(r.stderr, flags.join(' ')).toMatch(msg);
      }
      await dk(['run', '-d', '--name', 'dupd', 'busybox', 'sleep', '300']);
      const upd = await dk(['update', '--cpus', '1', 'dupd']);
      expect(upd.code).toBe(1);
      expect(upd.stderr).toContain('berth does not support changing the resources of a container (docker update)');
      await dk(['rm', '-f', 'dupd']);
      const vls = await dk(['volume', 'ls', '-q']);
      expect(vls.code).toBe(0);
      expect(vls.stdout).toBe('');
      const vol = await dk(['volume', 'create', 'v1']);
      expect(vol.code).toBe(1);
      expect(vol.stderr).toContain('berth does not support volumes yet');
      expect((await dk(['ps', '-aq'])).stdout).toBe(before);
    });
  });

  // ---- dockerode ----------------------------------------------------------------------------

  describe('dockerode', () => {
    const status = async (p: Promise<unknown>): Promise<number> => {
      try {
        await p;
        return 200;
      } catch (e) {
        return (e as { statusCode?: number }).statusCode ?? -1;
      }
    };

    it('ping, version, info', async () => {
      expect(String(await docker.ping())).toBe('OK');
      expect(await docker.version()).toMatchObject({ ApiVersion: '1.51', Os: 'linux' });
      expect(await docker.info()).toMatchObject({ OSType: 'linux', Driver: 'overlay' });
    });

    it.skipIf(!hasRegistry)('pull through docker.pull and followProgress (concatenated JSON progress messages)', async () => {
      const stream = await docker.pull(`${remote}:v1`);
      const events = await new Promise<{ status?: string; id?: string }[]>((resolve, reject) =>
        docker.modem.followProgress(stream, (err: Error | null, out: { status?: string }[]) => (err ? reject(err) : resolve(out))),
      );
      expect(events[0]).toMatchObject({ status: 'Pulling from clients/busybox', id: 'v1' });
      expect(events.at(-1)?.status).toBe(`Status: Downloaded newer image for ${remote}:v1`);
      expect((await docker.getImage(`${remote}:v1`).inspect()).RepoTags).toContain(`${remote}:v1`);
      await docker.getImage(`${remote}:v1`).remove();
      // a missing tag fails: an HTTP error before the stream, or an error message in it
      let failure = '';
      try {
        const text = await readAll((await docker.pull(`${remote}:nosuchtag`)) as NodeJS.ReadableStream);
        failure = text.includes('"error"') ? text : '';
      } catch (e) {
        failure = String(e);
      }
      expect(failure).toMatch(/manifest unknown|not found/);
    });

    it('images: list, inspect, tag, remove; import answers a concatenated JSON progress stream', async () => {
      expect((await docker.listImages()).flatMap((i) => i.RepoTags ?? [])).toContain('busybox:latest');
      const info = await docker.getImage('busybox').inspect();
      expect(info.Id).toMatch(/^sha256:/);
      await docker.getImage('busybox').tag({ repo: 'odimg', tag: 't1' });
      expect((await docker.getImage('odimg:t1').inspect()).Id).toBe(info.Id);
      const removed = await docker.getImage('odimg:t1').remove();
      expect(removed).toEqual([{ Untagged: 'odimg:t1' }]);
      expect(await status(docker.getImage('odimg:t1').inspect())).toBe(404);
      const stream = await docker.importImage(busyTar, { repo: 'odimported', tag: 'v1' });
      const msgs = (await readAll(stream)).trim().split(/\r?\n/).map((l) => JSON.parse(l) as { status?: string });
      expect(msgs.at(-1)?.status).toMatch(/^sha256:[0-9a-f]{64}$/);
      await docker.getImage('odimported:v1').remove();
    });

    it('create, attach before start, start, wait (next-exit registered before the start): output demuxed and the exit code', async () => {
      const c = await docker.createContainer({ Image: 'busybox', Cmd: ['sh', '-c', 'echo out; echo err >&2; exit 9'], name: 'odrun', AttachStdout: true, AttachStderr: true });
      const waited = c.wait({ condition: 'next-exit' });
      const stream = await c.attach({ stream: true, stdout: true, stderr: true, hijack: true });
      const output = demuxed(docker, stream);
      await c.start();
      expect(await waited).toEqual({ StatusCode: 9 });
      expect(await output).toEqual({ stdout: 'out\n', stderr: 'err\n' });
      const logs = await c.logs({ stdout: true, stderr: true });
      expect(logs.subarray(0, 8)).toEqual(Buffer.from([1, 0, 0, 0, 0, 0, 0, 4])); // the 8-byte frame header
      expect(await status(c.start())).toBe(200); // a stopped one starts again
      await c.wait();
      await c.remove();
      expect(await status(c.inspect())).toBe(404);
    });

    it('ports: PortBindings and PublishAllPorts, inspect, traffic; 304 for a started start and a stopped stop; 409 for removing a running one', async () => {
      const c = await docker.createContainer({
        Image: 'busybox',
        Cmd: ['httpd', '-f', '-p', '80', '-h', '/www'],
        name: 'odweb',
        ExposedPorts: { '80/tcp': {} },
        HostConfig: { PortBindings: { '80/tcp': [{ HostPort: '8282' }] } },
      });
      await c.start();
      const info = await c.inspect();
      expect(info.NetworkSettings.Ports['80/tcp']).toEqual([{ HostIp: '0.0.0.0', HostPort: '8282' }]);
      expect(await curl(host, 'http://127.0.0.1:8282/')).toBe('hello from berth\n');
      expect(await status(c.start())).toBe(304);
      expect(await status(c.remove())).toBe(409);
      await c.stop({ t: 0 });
      expect(await status(c.stop())).toBe(304);
      await c.remove();
      const p = await docker.createContainer({ Image: 'busybox', Cmd: ['httpd', '-f', '-p', '80', '-h', '/www'], ExposedPorts: { '80/tcp': {} }, HostConfig: { PublishAllPorts: true } });
      await p.start();
      const port = (await p.inspect()).NetworkSettings.Ports['80/tcp']?.[0]?.HostPort;
      expect(Number(port)).toBeGreaterThan(1024);
      expect(await curl(host, `http://127.0.0.1:${port}/`)).toBe('hello from berth\n');
      await p.remove({ force: true });
    });

    it('exec: hijacked start with stdin, demuxed output, the exit code from exec inspect; a TTY exec; detached', async () => {
      const c = await docker.createContainer({ Image: 'busybox', Cmd: ['sleep', '300'], name: 'odexec' });
      await c.start();
      const ex = await c.exec({ Cmd: ['sh', '-c', 'cat; echo bye >&2; exit 3'], AttachStdin: true, AttachStdout: true, AttachStderr: true });
      const stream = (await ex.start({ hijack: true, stdin: true })) as NodeJS.ReadWriteStream & { end(chunk?: string): void };
      const out = demuxed(docker, stream);
      stream.end('from dockerode\n');
      expect(await out).toEqual({ stdout: 'from dockerode\n', stderr: 'bye\n' });
      expect(await ex.inspect()).toMatchObject({ Running: false, ExitCode: 3, ProcessConfig: { entrypoint: 'sh' } });
      const t = await c.exec({ Cmd: ['sh', '-c', 'stty size; tty'], AttachStdout: true, Tty: true, ConsoleSize: [20, 70] });
      const ts = await t.start({ hijack: true, Tty: true, ConsoleSize: [20, 70] });
      expect(await readAll(ts)).toMatch(/^20 70\r\n\/dev\/pts\/\d+\r\n$/);
      expect((await t.inspect()).ExitCode).toBe(0);
      const dx = await c.exec({ Cmd: ['sh', '-c', 'sleep 0.2; exit 4'] });
      await dx.start({ Detach: true });
      let st = await dx.inspect();
      for (let i = 0; i < 40 && st.Running; i++) {
        await sleep(50);
        st = await dx.inspect();
      }
      expect(st).toMatchObject({ Running: false, ExitCode: 4 });
      expect(await status(docker.getExec('nosuch').inspect())).toBe(404);
      expect(await status(dx.start({ Detach: true }))).toBe(409);
      await c.remove({ force: true });
      expect(await status(ex.inspect())).toBe(404); // gone with its container
    });

    it('stats (stream=false, and a stream), top', async () => {
      const c = await docker.createContainer({ Image: 'busybox', Cmd: ['sleep', '300'], name: 'odstats' });
      await c.start();
      const s = await c.stats({ stream: false });
      expect(s.name).toBe('/odstats');
      expect(s.pids_stats.current).toBe(1);
      expect(s.memory_stats.usage).toBeGreaterThan(0);
      expect(s.cpu_stats.system_cpu_usage).toBeGreaterThan(s.precpu_stats.system_cpu_usage ?? 0);
      expect(Object.keys(s.networks ?? {})).toEqual(['eth0']);
      const live = (await c.stats({ stream: true })) as unknown as NodeJS.ReadableStream & { destroy(): void };
      const docs: { read: string }[] = [];
      await new Promise<void>((resolve) => {
        let buf = '';
        live.on('data', (chunk: Buffer) => {
          buf += chunk.toString();
          const lines = buf.split('\n');
          buf = lines.pop()!;
          for (const l of lines) if (l.trim()) docs.push(JSON.parse(l));
          if (docs.length >= 2) resolve();
        });
      });
      live.destroy();
      expect(Date.parse(docs[1]!.read)).toBeGreaterThan(Date.parse(docs[0]!.read));
      const top = await c.top();
      expect(top.Titles).toContain('PID');
      expect(top.Processes.map((p: string[]) => p.at(-1))).toEqual(['sleep 300']);
      await c.remove({ force: true });
    });

    it('events: since/until with filters, as a stream of JSON documents', async () => {
      const since = Math.floor(Date.now() / 1000) - 1;
      const c = await docker.createContainer({ Image: 'busybox', Cmd: ['true'], name: 'odevents' });
      await c.start();
      await c.wait();
      await c.remove();
      const stream = await docker.getEvents({ since, until: Math.floor(Date.now() / 1000) + 1, filters: { container: ['odevents'], event: ['start', 'die'] } });
      const evs = (await readAll(stream)).trim().split('\n').map((l) => JSON.parse(l) as { Action: string; Actor: { Attributes: Record<string, string> } });
      expect(evs.map((e) => e.Action)).toEqual(['start', 'die']);
      expect(evs[1]!.Actor.Attributes).toMatchObject({ name: 'odevents', exitCode: '0' });
    });

    it('networks: create, list with filters, inspect, remove; Docker statuses for conflicts and missing ones', async () => {
      const n = await docker.createNetwork({ Name: 'odnet', IPAM: { Config: [{ Subnet: '10.79.0.0/24' }] }, Labels: { owner: 'od' } });
      const info = await n.inspect();
      expect(info).toMatchObject({ Name: 'odnet', Driver: 'bridge', IPAM: { Config: [{ Subnet: '10.79.0.0/24' }] } });
      expect((await docker.listNetworks({ filters: { label: ['owner=od'] } })).map((x) => x.Name)).toEqual(['odnet']);
      expect(await status(docker.createNetwork({ Name: 'odnet' }))).toBe(409);
      const c = await docker.createContainer({ Image: 'busybox', Cmd: ['sleep', '300'], HostConfig: { NetworkMode: 'odnet' } });
      await c.start();
      expect((await c.inspect()).NetworkSettings.Networks.odnet?.IPAddress).toMatch(/^10\.79\.0\.\d+$/);
      expect(await status(n.remove())).toBe(403); // endpoints attached
      await c.remove({ force: true });
      await n.remove();
      expect(await status(n.inspect())).toBe(404);
      expect(await status(docker.getNetwork('bridge').remove())).toBe(403);
    });

    it('network connect / disconnect through dockerode', async () => {
      const n = await docker.createNetwork({ Name: 'odconn', IPAM: { Config: [{ Subnet: '10.82.0.0/24' }] } });
      const c = await docker.createContainer({ Image: 'busybox', Cmd: ['sleep', '300'] });
      await c.start();
      await n.connect({ Container: c.id });
      expect((await c.inspect()).NetworkSettings.Networks.odconn?.IPAddress).toMatch(/^10\.82\.0\.\d+$/);
      await n.disconnect({ Container: c.id });
      expect((await c.inspect()).NetworkSettings.Networks.odconn).toBeUndefined();
      expect(await status(docker.getNetwork('nosuchnet').connect({ Container: c.id }))).toBe(404);
      await c.remove({ force: true });
      await n.remove();
    });

    it('bad input: 400 for bad parameters, 404 for missing objects, 409 for a name in use; nothing is made', async () => {
      const before = (await docker.listContainers({ all: true })).length;
      expect(await status(docker.createContainer({ Image: 'busybox', Cmd: ['true'], HostConfig: { Privileged: true } }))).toBe(400);
      expect(await status(docker.createContainer({ Image: 'nosuchimage:1', Cmd: ['true'] }))).toBe(404);
      expect(await status(docker.createContainer({ Image: 'busybox', Cmd: ['true'], HostConfig: { RestartPolicy: { Name: 'sometimes' } } }))).toBe(400);
      await docker.createContainer({ Image: 'busybox', Cmd: ['true'], name: 'odtaken' });
      expect(await status(docker.createContainer({ Image: 'busybox', Cmd: ['true'], name: 'odtaken' }))).toBe(409);
      expect(await status(docker.getContainer('nosuch').inspect())).toBe(404);
      expect(await status(docker.getContainer('nosuch').stats({ stream: false }))).toBe(404);
      expect(await status(docker.getContainer('odtaken').exec({ Cmd: ['true'] }))).toBe(409); // not running
      expect((await docker.listContainers({ all: true })).length).toBe(before + 1);
      await docker.getContainer('odtaken').remove();
    });
  });
});
