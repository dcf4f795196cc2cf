// docker cp end to end: a real berthd in a throwaway netns playing the host, real runc. Files go out
// of running and stopped containers and in; escapes are refused or contained (the host path checked);
// a stopped container's rootfs is mounted only for the copy.
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isRoot, skipReason, uniquePrefix } from '../helpers/prefix.js';
import { makeHost, type TestHost } from '../helpers/netns.js';
import { BERTH, startTestDaemon, testDir, type TestDaemon } from '../helpers/daemon.js';
import { busyboxTar, makeTar } from '../helpers/images.js';
import { run } from '../helpers/sh.js';

const hasDocker = (await run(['docker', '--version'])).code === 0;
if (!isRoot) console.log(`skipping cp e2e: ${skipReason}`);

describe.skipIf(!isRoot)('docker cp end to end', () => {
  let host: TestHost;
  let d: TestDaemon;
  let dir: string; // local files of the test

  beforeAll(async () => {
    const prefix = uniquePrefix();
    host = await makeHost(prefix);
    d = await startTestDaemon({ netns: host.name, namePrefix: prefix, args: ['--bridge', `${prefix}b0`] });
    const tar = await busyboxTar(testDir('img'));
    const r = await d.cli(['import', tar, 'busybox:latest']);
    expect(r.code, r.stderr).toBe(0);
    dir = testDir('cp');
    // one running and one stopped container, each with a file, a dir and a symlink
    const setup = 'mkdir -p /data/sub && echo one > /data/f && chmod 640 /data/f && echo two > /data/sub/g && ln -s /etc /data/etc-link';
    expect((await d.cli(['run', '-d', '--name', 'live', 'busybox', 'sh', '-c', `${setup} && sleep 300`])).code).toBe(0);
    const s = await d.cli(['run', '--name', 'dead', 'busybox', 'sh', '-c', setup]);
    expect(s.code, s.stderr).toBe(0);
    // wait for the running one's setup
    for (let i = 0; i < 100; i++) {
      if ((await d.cli(['exec', 'live', 'test', '-L', '/data/etc-link'])).code === 0) break;
      await new Promise((r) => setTimeout(r, 50));
    }
  });
  afterAll(async () => {
    await d?.teardown();
    await host?.destroy();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const out = (name: string) => {
    const p = join(dir, name);
    mkdirSync(p, { recursive: true });
    return p;
  };
  // the stopped container's rootfs, mounted (its id in the line)
  const mounted = async () => {
    const id = (await d.cli(['inspect', '-f', '{{.Id}}', 'dead'])).stdout.trim();
    expect(id).toMatch(/^[0-9a-f]{64}$/);
    return readFileSync('/proc/mounts', 'utf8').split('\n').filter((l) => l.includes(id));
  };

  for (const name of ['live', 'dead']) {
    it(`berth cp a file and a dir out of a ${name === 'live' ? 'running' : 'stopped'} container (content and mode)`, async () => {
      const o = out(`out-${name}`);
      const f = await d.cli(['cp', `${name}:/data/f`, o]);
      expect(f.code, f.stderr).toBe(0);
      expect(readFileSync(join(o, 'f'), 'utf8')).toBe('one\n');
      expect(statSync(join(o, 'f')).mode & 0o777).toBe(0o640);
      const r = await d.cli(['cp', `${name}:/data`, join(o, 'copy')]);
      expect(r.code, r.stderr).toBe(0);
      expect(readFileSync(join(o, 'copy', 'sub', 'g'), 'utf8')).toBe('two\n');
      expect(readdirSync(join(o, 'copy')).sort()).toEqual(['etc-link', 'f', 'sub']);
      // the symlink comes as a symlink, not the host's /etc
      const link = await run(['readlink', join(o, 'copy', 'etc-link')]);
      expect(link.stdout.trim()).toBe('/etc');
      // -L follows it inside the container: the container's /etc/passwd comes, named etc-link
      const L = await d.cli(['cp', '-L', `${name}:/data/etc-link`, join(o, 'followed')]);
      expect(L.code, L.stderr).toBe(0);
      expect(existsSync(join(o, 'followed', 'passwd'))).toBe(true);
      // a trailing /. copies the contents
      const dot = await d.cli(['cp', `${name}:/data/sub/.`, out(`dot-${name}`)]);
      expect(dot.code, dot.stderr).toBe(0);
      expect(readdirSync(join(dir, `dot-${name}`))).toEqual(['g']);
      if (name === 'dead') expect(await mounted()).toEqual([]);
    });
  }

  it('cp - writes the tar to stdout with the stat header rebasing (file → member named as it)', async () => {
    const r = await run(['sh', '-c', `node ${BERTH} -H ${d.host} cp live:/etc/hosts - | tar -t`]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe('hosts');
  });

  it('cp into a running container: exec cat shows it; into a stopped one: seen at its next start', async () => {
    const src = join(out('in'), 'note.txt');
    writeFileSync(src, 'hello berth\n');
    const r = await d.cli(['cp', src, 'live:/tmp/']);
    expect(r.code, r.stderr).toBe(0);
    const cat = await d.cli(['exec', 'live', 'cat', '/tmp/note.txt']);
    expect(cat.stdout).toBe('hello berth\n');
    // a dir under a new name
    const r2 = await d.cli(['cp', join(dir, 'in'), 'dead:/newdir']);
    expect(r2.code, r2.stderr).toBe(0);
    expect(await mounted()).toEqual([]);
    const back = await d.cli(['cp', 'dead:/newdir/note.txt', '-']);
    expect(back.stdout).toContain('hello berth');
  });

  it('a tar with ../../evil or a symlink pointing out is refused or contained: nothing written outside the rootfs', async () => {
    const victim = out('victim');
    const evil = await makeTar([{ name: '../../../../../../../../' + victim.slice(1) + '/evil', content: 'x' }]);
    const r = await d.cli(['cp', '-', 'live:/tmp'], { input: evil.toString('latin1'), timeoutMs: 8000 });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/Error response from daemon: .*\.\./);
    // a symlink to the host dir, then a file through it
    const through = await makeTar([
      { name: 'esc', type: 'symlink', linkname: victim },
      { name: 'esc/evil', content: 'x' },
    ]);
    const r2 = await d.cli(['cp', '-', 'dead:/tmp'], { input: through.toString('latin1'), timeoutMs: 8000 });
    expect(r2.code).toBe(1);
    expect(r2.stderr).toMatch(/Error response from daemon: .*written through/);
    expect(readdirSync(victim)).toEqual([]);
    // a symlink pointing out, used as a destination: resolved inside the container
    expect((await d.cli(['exec', 'live', 'ln', '-s', victim, '/tmp/out'])).code).toBe(0);
    expect((await d.cli(['exec', 'live', 'mkdir', '-p', victim])).code).toBe(0);
    const src = join(out('in2'), 'x.txt');
    writeFileSync(src, 'contained\n');
    const r3 = await d.cli(['cp', src, 'live:/tmp/out/'], { timeoutMs: 8000 });
    expect(r3.code, r3.stderr).toBe(0);
    expect(readdirSync(victim)).toEqual([]);
    expect((await d.cli(['exec', 'live', 'cat', `${victim}/x.txt`])).stdout).toBe('contained\n');
  });

  it('a missing path: exit 1 with docker’s message; a file as extraction point: 400', async () => {
    const r = await d.cli(['cp', 'live:/nope', out('missing')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('Error response from daemon: Could not find the file /nope in container live\n');
    const usage = await d.cli(['cp', 'a', 'b']);
    expect(usage.code).toBe(1);
    expect(usage.stderr).toBe('must specify at least one container source\n');
    const put = await run(['curl', '-s', '-o', '/dev/null', '-w', '%{http_code}', '--unix-socket', d.socket, '-X', 'PUT', '--data-binary', '@/dev/null', 'http://x/containers/live/archive?path=/etc/hosts']);
    expect(put.stdout).toBe('400');
  });

  it('a path in a -v bind reads and writes the host dir (running and stopped)', async () => {
    const data = out('bind');
    writeFileSync(join(data, 'host.txt'), 'from the host\n');
    expect((await d.cli(['create', '--name', 'bound', '-v', `${data}:/mnt/b`, 'busybox', 'sleep', '300'])).code).toBe(0);
    const o = out('bind-out');
    const r = await d.cli(['cp', 'bound:/mnt/b/host.txt', o]);
    expect(r.code, r.stderr).toBe(0);
    expect(readFileSync(join(o, 'host.txt'), 'utf8')).toBe('from the host\n');
    const src = join(out('bind-in'), 'up.txt');
    writeFileSync(src, 'up\n');
    expect((await d.cli(['cp', src, 'bound:/mnt/b/'])).code).toBe(0);
    expect(readFileSync(join(data, 'up.txt'), 'utf8')).toBe('up\n');
    expect((await d.cli(['start', 'bound'])).code).toBe(0);
    const r2 = await d.cli(['cp', 'bound:/mnt/b/up.txt', '-']);
    expect(r2.stdout).toContain('up\n');
    expect((await d.cli(['rm', '-f', 'bound'])).code).toBe(0);
  });

  it.skipIf(!hasDocker)('docker cp both ways', async () => {
    const o = out('docker');
    const r = await d.docker(['cp', 'live:/data', join(o, 'data')]);
    expect(r.code, r.stderr).toBe(0);
    expect(readFileSync(join(o, 'data', 'sub', 'g'), 'utf8')).toBe('two\n');
    writeFileSync(join(o, 'd.txt'), 'via docker\n');
    const w = await d.docker(['cp', join(o, 'd.txt'), 'live:/tmp/d.txt']);
    expect(w.code, w.stderr).toBe(0);
    expect((await d.cli(['exec', 'live', 'cat', '/tmp/d.txt'])).stdout).toBe('via docker\n');
    const s = await d.docker(['cp', join(o, 'd.txt'), 'dead:/']);
    expect(s.code, s.stderr).toBe(0);
    const missing = await d.docker(['cp', 'dead:/nope', o]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('Could not find the file /nope in container dead');
    expect(await mounted()).toEqual([]);
  });

  it('export: the root filesystem as a tar, of a stopped and of a running container (its files, not its mounts)', async () => {
    const o = out('export');
    const members = async (file: string) => (await run(['tar', '-tf', file])).stdout.split('\n').filter(Boolean);
    const r = await d.cli(['export', '-o', join(o, 'dead.tar'), 'dead']);
    expect(r.code, r.stderr).toBe(0);
    const names = await members(join(o, 'dead.tar'));
    expect(names).toEqual(expect.arrayContaining(['bin/', 'bin/busybox', 'data/', 'data/f', 'data/sub/g', 'data/etc-link', 'etc/']));
    expect(names.filter((n) => n.startsWith('/') || n.startsWith('./'))).toEqual([]);
    expect(await mounted()).toEqual([]); // unmounted after the export
    const x = out('export-x');
    expect((await run(['tar', '-xf', join(o, 'dead.tar'), '-C', x, 'data/f'])).code).toBe(0);
    expect(readFileSync(join(x, 'data', 'f'), 'utf8')).toBe('one\n');
    // a running one: its rootfs, not /proc or the tmpfs /dev it sees
    expect((await d.cli(['export', '-o', join(o, 'live.tar'), 'live'])).code).toBe(0);
    const live = await members(join(o, 'live.tar'));
    expect(live).toContain('data/sub/g');
    expect(live.filter((n) => /^(proc|sys)\/./.test(n))).toEqual([]);
    const missing = await d.cli(['export', 'nope-no-such']);
    expect(missing.code).toBe(1);
    if (hasDocker) {
      const k = await d.docker(['export', '-o', join(o, 'docker.tar'), 'dead']);
      expect(k.code, k.stderr).toBe(0);
      expect(await members(join(o, 'docker.tar'))).toContain('data/sub/g');
    }
  });
});
