// Bind mounts and tmpfs end to end: a real berthd in a throwaway netns playing the host, real runc.
// What a container wrote is read from the host's files, a tmpfs from the container's /proc/mounts;
// the host dirs bound live under this test's own temp dir (run-prefixed, removed in afterAll).
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isRoot, skipReason, uniquePrefix } from '../helpers/prefix.js';
import { makeHost, type TestHost } from '../helpers/netns.js';
import { startTestDaemon, testDir, type TestDaemon } from '../helpers/daemon.js';
import { busyboxTar } from '../helpers/images.js';
import { run } from '../helpers/sh.js';

const hasDocker = (await run(['docker', '--version'])).code === 0;
if (!isRoot) console.log(`skipping mounts e2e: ${skipReason}`);

describe.skipIf(!isRoot)('bind mounts and tmpfs end to end', () => {
  let host: TestHost;
  let d: TestDaemon;
  let dir: string; // the host dirs and files the containers see

  beforeAll(async () => {
    const prefix = uniquePrefix();
    host = await makeHost(prefix);
    d = await startTestDaemon({ netns: host.name, namePrefix: prefix, args: ['--bridge', `${prefix}b0`] });
    const tar = await busyboxTar(testDir('img'));
    const r = await d.cli(['import', tar, 'busybox:latest']);
    expect(r.code, r.stderr).toBe(0);
    dir = testDir('mnt');
  });
  afterAll(async () => {
    await d?.teardown();
    await host?.destroy();
    // nothing of ours stays mounted: every bind and tmpfs went with its container
    if (dir) {
      expect(readFileSync('/proc/mounts', 'utf8').split('\n').filter((l) => l.includes(dir))).toEqual([]);
      rmSync(dir, { recursive: true, force: true });
    }
  });

  const sub = (name: string) => {
    const p = join(dir, name);
    mkdirSync(p, { recursive: true });
    return p;
  };

  it('-v DIR:/data: what the container writes is in the host dir', async () => {
    const data = sub('rw');
    const r = await d.cli(['run', '--rm', '-v', `${data}:/data`, 'busybox', 'sh', '-c', 'echo hi > /data/f']);
    expect(r.code, r.stderr).toBe(0);
    expect(readFileSync(join(data, 'f'), 'utf8')).toBe('hi\n');
  });

  it('-v DIR:/data:ro: a write fails inside and the host dir is unchanged', async () => {
    const data = sub('ro');
    writeFileSync(join(data, 'f'), 'before\n');
    const r = await d.cli(['run', '--rm', '-v', `${data}:/data:ro`, 'busybox', 'sh', '-c', 'echo x > /data/f; echo y > /data/g']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/Read-only file system/);
    expect(readdirSync(data)).toEqual(['f']);
    expect(readFileSync(join(data, 'f'), 'utf8')).toBe('before\n');
    // and it can still be read
    const cat = await d.cli(['run', '--rm', '-v', `${data}:/data:ro`, 'busybox', 'cat', '/data/f']);
    expect(cat.stdout).toBe('before\n');
  });

  it('--mount type=bind,source=FILE,target=/etc/motd,readonly shows the file; a --mount on /etc/hosts replaces berth’s', async () => {
    const motd = join(sub('files'), 'motd');
    writeFileSync(motd, 'welcome to berth\n');
    const hosts = join(dir, 'files', 'hosts');
    writeFileSync(hosts, '10.9.8.7 mine\n');
    const r = await d.cli([
      'run', '--rm',
      '--mount', `type=bind,source=${motd},target=/etc/motd,readonly`,
      '--mount', `type=bind,src=${hosts},dst=/etc/hosts`,
      'busybox', 'sh', '-c', 'cat /etc/motd /etc/hosts; echo x >> /etc/motd',
    ]);
    expect(r.stdout).toBe('welcome to berth\n10.9.8.7 mine\n');
    expect(r.code).not.toBe(0); // the motd is read-only
    expect(readFileSync(motd, 'utf8')).toBe('welcome to berth\n');
  });

  it('a missing -v source becomes a directory (0755) at start', async () => {
    const missing = join(dir, 'made', 'by', 'start');
    expect(existsSync(missing)).toBe(false);
    const r = await d.cli(['run', '--rm', '-v', `${missing}:/m`, 'busybox', 'sh', '-c', 'touch /m/x']);
    expect(r.code, r.stderr).toBe(0);
    const st = statSync(missing);
    expect(st.isDirectory()).toBe(true);
    expect(st.mode & 0o777).toBe(0o755);
    expect(readdirSync(missing)).toEqual(['x']);
  });

  it('a missing --mount source is refused: 400 from the API, exit 125 from the CLI, no container made', async () => {
    const before = (await d.cli(['ps', '-aq'])).stdout;
    const missing = join(dir, 'nope');
    const r = await d.cli(['run', '--rm', '--mount', `type=bind,source=${missing},target=/x`, 'busybox', 'true']);
    expect(r.code).toBe(125);
    expect(r.stderr).toContain(`invalid mount config for type "bind": bind source path does not exist: ${missing}`);
    const body = JSON.stringify({ Image: 'busybox', HostConfig: { Mounts: [{ Type: 'bind', Source: missing, Target: '/x' }] } });
    const api = await run(['curl', '-s', '--unix-socket', d.socket, '-H', 'Content-Type: application/json', '-d', body, '-w', '\n%{http_code}', 'http://x/containers/create']);
    const [msg, status] = api.stdout.trim().split('\n');
    expect(status).toBe('400');
    expect(JSON.parse(msg!).message).toBe(`invalid mount config for type "bind": bind source path does not exist: ${missing}`);
    // bad specs: the daemon's words, nothing made either
    const bad = await d.cli(['run', '--rm', '-v', `${dir}:/x:xyz`, 'busybox', 'true']);
    expect(bad.code).toBe(125);
    expect(bad.stderr).toContain('invalid mode: xyz');
    const named = await d.cli(['run', '--rm', '-v', 'data:/x', 'busybox', 'true']);
    expect(named.code).toBe(125);
    expect(named.stderr).toContain('berth does not support named volumes yet (-v data:/x)');
    const dup = await d.cli(['run', '--rm', '-v', `${dir}:/x`, '--tmpfs', '/x', 'busybox', 'true']);
    expect(dup.stderr).toContain('Duplicate mount point: /x');
    expect((await d.cli(['ps', '-aq'])).stdout).toBe(before);
    expect(existsSync(missing)).toBe(false);
  });

  it('--tmpfs /scratch:size=1m gives a 1 MiB tmpfs (noexec, nosuid, nodev); --mount type=tmpfs too', async () => {
    const r = await d.cli([
      'run', '--rm', '--tmpfs', '/scratch:size=1m', '--mount', 'type=tmpfs,target=/t2,tmpfs-size=2m,tmpfs-mode=1770',
      'busybox', 'sh', '-c', 'grep -E " /(scratch|t2) " /proc/mounts; stat -c "%a" /t2; df -k /scratch | tail -1',
    ]);
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.trim().split('\n');
    const scratch = lines.find((l) => l.includes(' /scratch '))!;
    expect(scratch).toMatch(/^tmpfs \/scratch tmpfs /);
    expect(scratch).toMatch(/[ ,]nosuid[ ,]/);
    expect(scratch).toMatch(/[ ,]nodev[ ,]/);
    expect(scratch).toMatch(/[ ,]noexec[ ,]/);
    expect(scratch).toMatch(/[ ,]size=1024k[ ,]/);
    expect(lines.find((l) => l.includes(' /t2 '))).toMatch(/size=2048k/);
    expect(lines).toContain('1770');
    expect(lines.at(-1)!.split(/\s+/)[1]).toBe('1024'); // df: 1024 1K-blocks
  });

  it('inspect shows HostConfig.Binds/Mounts/Tmpfs and a Mounts array as dockerd; the mounts survive restart and a daemon restart', async () => {
    const data = sub('keep');
    const r = await d.cli([
      'run', '-d', '--name', 'keeper', '-v', `${data}:/data`, '--mount', 'type=tmpfs,target=/cache', '--tmpfs', '/run/x:size=64k',
      'busybox', 'sh', '-c', 'echo start >> /data/starts; grep -q " /cache tmpfs" /proc/mounts && echo tmpfs >> /data/starts; sleep 300',
    ]);
    expect(r.code, r.stderr).toBe(0);
    const j = JSON.parse((await d.cli(['inspect', 'keeper'])).stdout)[0];
    expect(j.HostConfig.Binds).toEqual([`${data}:/data`]);
    expect(j.HostConfig.Mounts).toEqual([{ Type: 'tmpfs', Target: '/cache' }]);
    expect(j.HostConfig.Tmpfs).toEqual({ '/run/x': 'size=64k' });
    expect(j.Mounts).toEqual([
      { Type: 'bind', Source: data, Destination: '/data', Mode: '', RW: true, Propagation: 'rprivate' },
      { Type: 'tmpfs', Source: '', Destination: '/cache', Mode: '', RW: true, Propagation: '' },
    ]);
    const lines = async (n: number) => {
      for (let i = 0; i < 100 && (readFileSync(join(data, 'starts'), 'utf8').match(/\n/g) ?? []).length < n; i++) await new Promise((res) => setTimeout(res, 50));
      return readFileSync(join(data, 'starts'), 'utf8');
    };
    expect(await lines(2)).toBe('start\ntmpfs\n');
    const re = await d.cli(['restart', '-t', '0', 'keeper']);
    expect(re.code, re.stderr).toBe(0);
    expect(await lines(4)).toBe('start\ntmpfs\n'.repeat(2));
    // berthd goes and comes back (the container keeps running); a restart then uses the stored mounts
    expect(await d.stop()).toBe(0);
    await d.restart();
    const re2 = await d.cli(['restart', '-t', '0', 'keeper']);
    expect(re2.code, re2.stderr).toBe(0);
    expect(await lines(6)).toBe('start\ntmpfs\n'.repeat(3));
    expect(JSON.parse((await d.cli(['inspect', 'keeper'])).stdout)[0].Mounts).toEqual(j.Mounts);
    expect((await d.cli(['rm', '-f', 'keeper'])).code).toBe(0);
  });

  it.skipIf(!hasDocker)('the docker CLI: run -v, inspect Mounts', async () => {
    const data = sub('docker');
    writeFileSync(join(data, 'f'), 'from the host\n');
    const r = await d.docker(['run', '--rm', '-v', `${data}:/data:ro`, 'busybox', 'cat', '/data/f']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('from the host\n');
    const c = await d.docker(['create', '--name', 'dmounts', '-v', `${data}:/data`, '--mount', `type=bind,src=${data},dst=/ro,readonly`, 'busybox', 'true']);
    expect(c.code, c.stderr).toBe(0);
    const m = await d.docker(['inspect', '-f', '{{json .Mounts}}', 'dmounts']);
    expect(JSON.parse(m.stdout)).toEqual([
      { Type: 'bind', Source: data, Destination: '/data', Mode: '', RW: true, Propagation: 'rprivate' },
      { Type: 'bind', Source: data, Destination: '/ro', Mode: '', RW: false, Propagation: 'rprivate' },
    ]);
    const missing = await d.docker(['run', '--rm', '--mount', `type=bind,src=${join(dir, 'absent')},dst=/x`, 'busybox', 'true']);
    expect(missing.code).toBe(125);
    expect(missing.stderr).toContain('bind source path does not exist');
    expect((await d.docker(['rm', 'dmounts'])).code).toBe(0);
  });
});
