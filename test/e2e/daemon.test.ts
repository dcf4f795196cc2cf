// berthd as a real process in a throwaway netns playing the host: berth, the docker CLI and
// dockerode talk to it; SIGTERM leaves no pidfile or socket; bad starts change nothing.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isRoot, skipReason, uniquePrefix } from '../helpers/prefix.js';
import { makeHost, type TestHost } from '../helpers/netns.js';
import { startTestDaemon, testDir, BERTHD, type TestDaemon } from '../helpers/daemon.js';
import { run, nsenterArgs } from '../helpers/sh.js';

const hasDocker = (await run(['docker', '--version'])).code === 0;
if (!isRoot) console.log(`skipping berthd e2e: ${skipReason}`);
if (!hasDocker) console.log('skipping docker CLI checks: no docker CLI on PATH');

describe.skipIf(!isRoot)('berthd process', () => {
  let host: TestHost;
  let d: TestDaemon;
  beforeAll(async () => {
    const prefix = uniquePrefix();
    host = await makeHost(prefix);
    d = await startTestDaemon({ netns: host.name, namePrefix: prefix, args: ['--bridge', `${prefix}b0`] });
  });
  afterAll(async () => {
    await d?.cleanup();
    await host?.destroy();
  });

  it('answers berth version with client and server', async () => {
    const r = await d.cli(['version']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('Server: Berth Engine');
    expect(r.stdout).toContain('API version:      1.51 (minimum version 1.24)');
  });

  it.skipIf(!hasDocker)('answers the docker CLI: version and info', async () => {
    const v = await d.docker(['version', '--format', '{{.Server.APIVersion}} {{.Server.Os}}']);
    expect(v.stderr).toBe('');
    expect(v.stdout.trim()).toBe('1.51 linux');
    const i = await d.docker(['info', '--format', '{{.ServerVersion}} {{.Swarm.LocalNodeState}} {{.DockerRootDir}}']);
    expect(i.code).toBe(0);
    expect(i.stdout.trim()).toBe(`0.1.0 inactive ${join(d.dir, 'data')}`);
  });

  it('answers dockerode: ping, version, info', async () => {
    const docker = new Docker({ socketPath: d.socket });
    expect(String(await docker.ping())).toBe('OK');
    expect((await docker.version()).ApiVersion).toBe('1.51');
    expect((await docker.info()).OSType).toBe('linux');
  });

  it('lists its jobs through berth system jobs', async () => {
    const r = await d.cli(['system', 'jobs', '--format', '{{.Name}} {{.Outcome}}']);
    expect(r.code).toBe(0);
  });

  it('refuses a second daemon on the same pidfile and changes nothing', async () => {
    const r = await run([...nsenterArgs(host.name), process.execPath, BERTHD, '-H', `unix://${d.dir}/other.sock`, '--data-root', join(d.dir, 'data2'), '--exec-root', join(d.dir, 'run2'), '--pidfile', join(d.dir, 'berthd.pid')]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('pid file found, ensure berthd is not running');
    expect(existsSync(join(d.dir, 'other.sock'))).toBe(false);
    expect(readFileSync(join(d.dir, 'berthd.pid'), 'utf8').trim()).toBe(String(d.pid));
    expect((await d.cli(['version'])).code).toBe(0);
  });

  it('stops on SIGTERM with exit 0 and removes its pidfile and socket', async () => {
    expect(await d.stop()).toBe(0);
    expect(existsSync(d.socket)).toBe(false);
    expect(existsSync(join(d.dir, 'berthd.pid'))).toBe(false);
    // and takes over a stale pidfile on the next start
    await d.restart();
    expect((await d.cli(['version'])).code).toBe(0);
  });
});

describe.skipIf(!isRoot)('berthd under systemd', () => {
  it('tells NOTIFY_SOCKET READY=1 once it answers', async () => {
    const dir = testDir('notify');
    const sock = join(dir, 'notify.sock');
    // node has no unix datagram sockets; perl (essential on Debian) plays systemd's end.
    const py = spawn('perl', ['-MIO::Socket::UNIX', '-e', '$|=1; my $s = IO::Socket::UNIX->new(Type => SOCK_DGRAM(), Local => $ARGV[0]) or die "bind: $!"; print "bound\n"; my $m; $s->recv($m, 4096); print "$m\n";', sock]);
    let got = '';
    py.stdout.on('data', (c) => (got += c.toString()));
    py.stderr.on('data', (c) => (got += c.toString()));
    for (let i = 0; i < 250 && !got.includes('bound'); i++) await new Promise((r) => setTimeout(r, 20));
    expect(got).toContain('bound');
    const prefix = uniquePrefix();
    const host = await makeHost(prefix);
    const d = await startTestDaemon({ netns: host.name, namePrefix: prefix, args: ['--bridge', `${prefix}b0`], env: { NOTIFY_SOCKET: sock } });
    try {
      const deadline = Date.now() + 5000;
      while (!got.includes('READY=1') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      expect(got).toContain('READY=1');
      expect(got).toContain(`MAINPID=${d.pid}`);
    } finally {
      py.kill();
      await d.cleanup();
      await host.destroy();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe.skipIf(!isRoot)('berthd bad starts', () => {
  it('refuses a socket in a directory that does not exist, leaving no pidfile', async () => {
    const dir = testDir('bad');
    const r = await run([process.execPath, BERTHD, '-H', `unix://${dir}/nope/berth.sock`, '--data-root', join(dir, 'data'), '--exec-root', join(dir, 'run'), '--pidfile', join(dir, 'berthd.pid')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`directory ${dir}/nope does not exist`);
    expect(existsSync(join(dir, 'berthd.pid'))).toBe(false);
    expect(existsSync(join(dir, 'data'))).toBe(false);
    expect(existsSync(join(dir, 'run'))).toBe(false);
    rmSync(dir, { recursive: true, force: true });
  });

  it('refuses bad flags with exit 2 and a message', async () => {
    const r = await run([process.execPath, BERTHD, '--log-level', 'loud']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('invalid log level "loud"');
  });
});
