// Containers end to end: a real berthd in a throwaway netns playing the host, the berth CLI and the
// docker CLI, real runc/conmon/overlay, real traffic. After each removal nothing of the container
// is left: checked with ip, iptables-save, /proc/mounts and /proc, not with berth's own code.
import { readFileSync, readdirSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isRoot, skipReason, uniquePrefix } from '../helpers/prefix.js';
import { makeHost, type TestHost } from '../helpers/netns.js';
import { startTestDaemon, testDir, type TestDaemon } from '../helpers/daemon.js';
import { busyboxTar } from '../helpers/images.js';
import { run } from '../helpers/sh.js';

const hasDocker = (await run(['docker', '--version'])).code === 0;
if (!isRoot) console.log(`skipping container e2e: ${skipReason}`);
if (!hasDocker) console.log('skipping docker CLI container checks: no docker CLI on PATH');

interface Artifacts {
  id: string;
  netns: string;
  veth: string;
  tag: string;
}

/** The kernel objects berth made for a running container, from the operator's view. */
async function artifacts(d: TestDaemon, name: string): Promise<Artifacts> {
  const id = JSON.parse((await d.cli(['inspect', name])).stdout)[0].Id as string;
  const eps = JSON.parse((await d.cli(['network', 'inspect', 'bridge', '-f', '{{json .Berth.endpoints}}'])).stdout) as {
    id: string;
    container: { id: string };
    netns: { name: string };
    hostVeth: { name: string };
  }[];
  const ep = eps.find((e) => e.container.id === id);
  if (!ep) throw new Error(`no endpoint for ${name}`);
  return { id, netns: ep.netns.name, veth: ep.hostVeth.name, tag: `${d.namePrefix}:${ep.id.slice(0, 12)}` };
}

/** What of a container is still there, read from the kernel and /proc (not from berth). */
async function traces(host: TestHost, a: Artifacts): Promise<Record<string, string[]>> {
  const netns = JSON.parse((await run(['ip', '-json', 'netns', 'list'])).stdout || '[]') as { name: string }[];
  const links = JSON.parse((await host.exec(['ip', '-json', 'link', 'show'])).stdout || '[]') as { ifname: string }[];
  const rules = (await host.exec(['iptables-save'])).stdout.split('\n').filter((l) => l.includes(`"${a.tag}"`));
  const mounts = readFileSync('/proc/mounts', 'utf8').split('\n').filter((l) => l.includes(a.id));
  const procs: string[] = [];
  for (const p of readdirSync('/proc').filter((x) => /^\d+$/.test(x))) {
    try {
      const cmd = readFileSync(`/proc/${p}/cmdline`, 'utf8');
      if (cmd.includes(a.id)) procs.push(`${p}: ${cmd.replace(/\0/g, ' ')}`);
    } catch {
      /* gone */
    }
  }
  return {
    netns: netns.map((n) => n.name).filter((n) => n === a.netns),
    veths: links.map((l) => l.ifname).filter((n) => n === a.veth),
    rules,
    mounts,
    procs,
  };
}

/** Endpoint rules (not the daemon's or a network's) still in the kernel: none when no container runs. */
async function endpointRules(host: TestHost, d: TestDaemon): Promise<string[]> {
  const nets = (await d.cli(['network', 'ls', '-q', '--no-trunc'])).stdout.split('\n').filter(Boolean).map((n) => n.slice(0, 12));
  return (await host.exec(['iptables-save'])).stdout.split('\n').filter((l) => {
    const m = /--comment "[a-z0-9]+:([0-9a-f]{12})"/.exec(l);
    return m && m[1] !== '000000000000' && !nets.includes(m[1]!);
  });
}

const none = { netns: [], veths: [], rules: [], mounts: [], procs: [] };

/** curl from the host netns (or another), a few tries while the server comes up. */
async function curl(ns: { exec: TestHost['exec'] }, url: string): Promise<string> {
  let last = '';
  for (let i = 0; i < 40; i++) {
    const r = await ns.exec(['curl', '-fsS', '--max-time', '2', url]);
    if (r.code === 0) return r.stdout;
    last = r.stderr;
    await new Promise((res) => setTimeout(res, 50));
  }
  throw new Error(`curl ${url}: ${last}`);
}

describe.skipIf(!isRoot)('containers end to end', () => {
  let host: TestHost;
  let peer: Awaited<ReturnType<TestHost['addPeer']>>;
  let d: TestDaemon;

  beforeAll(async () => {
    const prefix = uniquePrefix();
    host = await makeHost(prefix);
    peer = await host.addPeer('peer', 7);
    d = await startTestDaemon({ netns: host.name, namePrefix: prefix, args: ['--bridge', `${prefix}b0`] });
    const tar = await busyboxTar(testDir('img'));
    const r = await d.cli(['import', tar, 'busybox:latest']);
    expect(r.code, r.stderr).toBe(0);
  });
  afterAll(async () => {
    await d?.teardown();
    await host?.destroy();
  });

  it('runs -d -p and serves on 127.0.0.1, on the host address and to another machine; rm leaves nothing', async () => {
    const r = await d.cli(['run', '-d', '-p', '8080:80', '--name', 'web', 'busybox', 'httpd', '-f', '-p', '80', '-h', '/www']);
    expect(r.code, r.stderr).toBe(0);
    const id = r.stdout.trim();
    expect(id).toMatch(/^[0-9a-f]{64}$/);
    expect(await curl(host, 'http://127.0.0.1:8080/')).toBe('hello from berth\n');
    expect(await curl(host, `http://${peer.hostIp}:8080/`)).toBe('hello from berth\n');
    expect(await curl(peer, `http://${peer.hostIp}:8080/`)).toBe('hello from berth\n');
    const ps = await d.cli(['ps']);
    expect(ps.stdout).toMatch(/0\.0\.0\.0:8080->80\/tcp\s+web/);
    expect((await d.cli(['port', 'web'])).stdout.trim()).toBe('80/tcp -> 0.0.0.0:8080');
    const a = await artifacts(d, 'web');
    expect(a.id).toBe(id);
    const before = await traces(host, a);
    expect(before.rules).toHaveLength(3); // DNAT, FORWARD accept, hairpin MASQUERADE
    expect(before.netns).toEqual([a.netns]);
    expect(before.veths).toEqual([a.veth]);
    expect(before.mounts.length).toBeGreaterThan(0);
    expect((await d.cli(['rm', '-f', 'web'])).code).toBe(0);
    await new Promise((res) => setTimeout(res, 300)); // rule removal is queued off the user's path
    expect(await traces(host, a)).toEqual(none);
  });

  it('runs attached: prints the output, returns the exit code; --rm removes everything', async () => {
    const r = await d.cli(['run', '--rm', '--name', 'once', 'busybox', 'sh', '-c', 'echo out; echo err >&2; exit 3']);
    expect(r.code).toBe(3);
    expect(r.stdout).toBe('out\n');
    expect(r.stderr).toBe('err\n');
    // --rm finishes the removal off the user's path: gone within moments
    let left = 'x';
    for (let i = 0; i < 40 && left !== ''; i++) {
      left = (await d.cli(['ps', '-a', '--filter', 'name=once', '-q'])).stdout;
      if (left) await new Promise((res) => setTimeout(res, 50));
    }
    expect(left).toBe('');
    // and its name is free at once
    expect((await d.cli(['run', '--rm', '--name', 'once', 'busybox', 'true'])).code).toBe(0);
  });

  it("gives the process dockerd's environment: PATH, HOSTNAME, then the config's Env replacing in place", async () => {
    const plain = await d.cli(['run', '--rm', '--hostname', 'hx', '-e', 'A=1', 'busybox', 'env']);
    expect(plain.stdout).toBe('PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\nHOSTNAME=hx\nA=1\nHOME=/root\n');
    const custom = await d.cli(['run', '--rm', '-e', 'HOSTNAME=mine', '-e', 'PATH=/bin', 'busybox', 'env']);
    expect(custom.stdout).toBe('PATH=/bin\nHOSTNAME=mine\nHOME=/root\n');
  });

  it('exits 125/126/127 as docker for daemon, permission and not-found errors', async () => {
    expect((await d.cli(['run', '--rm', '--bogus-flag', 'busybox', 'true'])).code).toBe(125);
    const nf = await d.cli(['run', '--rm', 'busybox', 'no-such-command']);
    expect(nf.code).toBe(127);
    expect(nf.stderr).toContain('executable file not found');
    const perm = await d.cli(['run', '--rm', 'busybox', '/etc/passwd']);
    expect(perm.code).toBe(126);
    const img = await d.cli(['run', '--rm', '127.0.0.1:1/nosuchimage:1', 'true']);
    expect(img.code).toBe(125);
    expect(img.stderr).toContain("Unable to find image '127.0.0.1:1/nosuchimage:1' locally");
  });

  it('refuses bad input with a clear error and creates nothing', async () => {
    const before = (await d.cli(['ps', '-aq'])).stdout;
    const cases: [string[], RegExp][] = [
      [['run', '-d', '--name', 'dup', 'busybox', 'sleep', '100'], /^$/],
      [['run', '-d', '--name', 'dup', 'busybox', 'true'], /Conflict. The container name "\/dup" is already in use/],
      [['run', '-d', '--restart', 'sometimes', 'busybox', 'true'], /invalid restart policy/],
      [['run', '-d', 'busybox'], /no command specified/],
      [['run', '-d', '-p', '70000:80', 'busybox', 'true'], /invalid hostPort: 70000/],
      [['run', '-d', '--net', 'nosuchnet', 'busybox', 'true'], /network nosuchnet not found/],
      [['run', '-d', '--net', 'container:missing', 'busybox', 'true'], /No such container: missing/],
    ];
    for (const [argv, msg] of cases) {
      const r = await d.cli(argv);
      if (msg.source === '^$') expect(r.code, r.stderr).toBe(0);
      else {
        expect(r.code, argv.join(' ')).toBe(125);
        expect(r.stderr).toMatch(msg);
      }
    }
    const after = (await d.cli(['ps', '-aq'])).stdout.split('\n').filter(Boolean);
    expect(after.length).toBe(before.split('\n').filter(Boolean).length + 1); // only "dup"
    expect((await d.cli(['rm', '-f', 'dup'])).code).toBe(0);
  });

  it('keeps logs, stops with the signal then SIGKILL, kills, and leaves nothing after rm', async () => {
    await (await d.cli(['run', '-d', '--name', 'logger', 'busybox', 'sh', '-c', 'trap "" TERM; echo started; while true; do sleep 1; done']));
    const a = await artifacts(d, 'logger');
    for (let i = 0; i < 40 && !(await d.cli(['logs', 'logger'])).stdout.includes('started'); i++) await new Promise((r) => setTimeout(r, 50));
    expect((await d.cli(['logs', 'logger'])).stdout).toBe('started\n');
    expect((await d.cli(['logs', '-t', 'logger'])).stdout).toMatch(/^\d{4}-\d\d-\d\dT[\d:.]+Z started\n$/);
    const t0 = Date.now();
    expect((await d.cli(['stop', '-t', '1', 'logger'])).code).toBe(0);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(900); // TERM was ignored: SIGKILL after 1 s
    const st = JSON.parse((await d.cli(['inspect', 'logger'])).stdout)[0].State;
    expect(st).toMatchObject({ Status: 'exited', Running: false, ExitCode: 137 });
    expect((await d.cli(['start', 'logger'])).code).toBe(0);
    expect((await d.cli(['kill', '-s', 'KILL', 'logger'])).code).toBe(0);
    expect((await d.cli(['wait', 'logger'])).stdout.trim()).toBe('137');
    expect((await d.cli(['rm', 'logger'])).code).toBe(0);
    expect(await traces(host, a)).toEqual(none);
  });

  it('keeps a running container across a berthd restart, and after a kill -9, without leaks', async () => {
    await d.cli(['run', '-d', '-p', '8090:80', '--name', 'survivor', 'busybox', 'httpd', '-f', '-p', '80', '-h', '/www']);
    const a = await artifacts(d, 'survivor');
    expect(await curl(host, 'http://127.0.0.1:8090/')).toBe('hello from berth\n');
    expect(await d.stop()).toBe(0);
    expect(await curl(host, 'http://127.0.0.1:8090/')).toBe('hello from berth\n'); // serves with berthd down
    await d.restart();
    expect((await d.cli(['ps', '--format', '{{.Names}} {{.Ports}}'])).stdout).toContain('survivor 0.0.0.0:8090->80/tcp');
    await d.kill9();
    await d.restart();
    expect(await curl(host, 'http://127.0.0.1:8090/')).toBe('hello from berth\n');
    // the port is still held: a second container cannot take it
    const taken = await d.cli(['run', '-d', '-p', '8090:80', 'busybox', 'true']);
    expect(taken.code).toBe(125);
    expect(taken.stderr).toContain('port is already allocated');
    expect((await d.cli(['stop', '-t', '1', 'survivor'])).code).toBe(0);
    expect((await d.cli(['rm', 'survivor'])).code).toBe(0);
    await new Promise((res) => setTimeout(res, 300));
    expect(await traces(host, a)).toEqual(none);
    expect(await endpointRules(host, d)).toEqual([]);
  });

  it('marks a container that died while berthd was down exited, with its code, and releases its network', async () => {
    await d.cli(['run', '-d', '-p', '8091:80', '--name', 'shortlived', 'busybox', 'sh', '-c', 'sleep 1; exit 5']);
    const a = await artifacts(d, 'shortlived');
    await d.kill9();
    await new Promise((res) => setTimeout(res, 1500));
    await d.restart();
    const st = JSON.parse((await d.cli(['inspect', 'shortlived'])).stdout)[0].State;
    expect(st).toMatchObject({ Status: 'exited', ExitCode: 5 });
    // its network went with it at the restart: nothing left but the record
    await new Promise((res) => setTimeout(res, 300));
    expect(await traces(host, a)).toMatchObject({ netns: [], veths: [], rules: [], procs: [] });
    expect((await d.cli(['rm', 'shortlived'])).code).toBe(0);
    expect(await traces(host, a)).toEqual(none);
    expect(await endpointRules(host, d)).toEqual([]);
  });

  it('restarts with --restart on-failure:2, then gives up', async () => {
    await d.cli(['run', '-d', '--name', 'flaky', '--restart', 'on-failure:2', 'busybox', 'sh', '-c', 'exit 1']);
    let rc = 0;
    for (let i = 0; i < 60 && rc < 2; i++) {
      await new Promise((res) => setTimeout(res, 100));
      rc = JSON.parse((await d.cli(['inspect', 'flaky'])).stdout)[0].RestartCount;
    }
    expect(rc).toBe(2);
    await new Promise((res) => setTimeout(res, 1000));
    const c = JSON.parse((await d.cli(['inspect', 'flaky'])).stdout)[0];
    expect(c.RestartCount).toBe(2);
    expect(c.State.Status).toBe('exited');
    await d.cli(['rm', '-f', 'flaky']);
  });

  it('runs --net none (lo only) and --net host (the host netns)', async () => {
    const none = await d.cli(['run', '--rm', '--net', 'none', 'busybox', 'ip', '-o', 'link']);
    expect(none.code, none.stderr).toBe(0);
    expect(none.stdout.trim().split('\n').map((l) => l.split(':')[1]!.trim())).toEqual(['lo']);
    const hostNet = await d.cli(['run', '--rm', '--net', 'host', 'busybox', 'ip', '-o', 'link']);
    expect(hostNet.stdout).toContain(`${d.namePrefix}b0`);
  });

  it.skipIf(!hasDocker)('works from the docker CLI: run -d -p, ps, logs, inspect, stop, rm; run attached with exit code', async () => {
    const r = await d.docker(['run', '-d', '-p', '8085:80', '--name', 'dweb', 'busybox', 'httpd', '-f', '-p', '80', '-h', '/www']);
    expect(r.code, r.stderr).toBe(0);
    expect(await curl(host, 'http://127.0.0.1:8085/')).toBe('hello from berth\n');
    expect((await d.docker(['ps', '--format', '{{.Names}} {{.Ports}}'])).stdout).toContain('dweb 0.0.0.0:8085->80/tcp');
    expect((await d.docker(['inspect', '-f', '{{.State.Running}} {{(index (index .NetworkSettings.Ports "80/tcp") 0).HostPort}}', 'dweb'])).stdout.trim()).toBe('true 8085');
    expect((await d.docker(['stop', '-t', '1', 'dweb'])).code).toBe(0); // httpd as PID 1 ignores TERM
    expect((await d.docker(['rm', 'dweb'])).code).toBe(0);
    const a = await d.docker(['run', '--rm', 'busybox', 'sh', '-c', 'echo via docker; exit 4']);
    expect(a.stdout).toBe('via docker\n');
    expect(a.code).toBe(4);
    const stdin = await d.docker(['run', '--rm', '-i', 'busybox', 'cat'], { input: 'piped\n' });
    expect(stdin.stdout).toBe('piped\n');
    expect(stdin.code).toBe(0);
  });
});
