// docker diff and docker commit end to end, under both storage drivers: a real berthd in a
// throwaway netns playing the host, real runc. A container adds, changes and deletes files;
// `berth diff` lists them as dockerd would; `berth commit` makes an image that has them (the deleted
// file gone), with --change applied; the image survives save / rmi / load; the docker CLI works too.
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isRoot, skipReason, uniquePrefix } from '../helpers/prefix.js';
import { makeHost, type TestHost } from '../helpers/netns.js';
import { startTestDaemon, testDir, type TestDaemon } from '../helpers/daemon.js';
import { busyboxTar } from '../helpers/images.js';
import { run } from '../helpers/sh.js';

const hasDocker = (await run(['docker', '--version'])).code === 0;
if (!isRoot) console.log(`skipping commit e2e: ${skipReason}`);

const SCRIPT = [
  'echo new > /x',
  'echo more >> /etc/passwd',
  'rm -rf /www', // overlay: /www comes back opaque; its old file is deleted, its new one added
  'mkdir /www',
  'echo z > /www/z',
  'mkdir -p /tmp/d',
  'echo y > /tmp/d/y',
  'rm -rf /root',
  'mkdir /root', // overlay: an opaque dir over the deleted one; vfs: its mode changed
].join(' && ');

const EXPECTED = ['C /etc', 'C /etc/passwd', 'C /root', 'C /tmp', 'A /tmp/d', 'A /tmp/d/y', 'C /www', 'D /www/index.html', 'A /www/z', 'A /x'];

describe.skipIf(!isRoot).each(['overlay', 'vfs'])('docker diff and commit end to end (%s)', (driver) => {
  let host: TestHost;
  let d: TestDaemon;
  let dir: string;

  beforeAll(async () => {
    const prefix = uniquePrefix();
    host = await makeHost(prefix);
    d = await startTestDaemon({ netns: host.name, namePrefix: prefix, args: ['--bridge', `${prefix}b0`, '--storage-driver', driver] });
    dir = testDir('commit');
    const tar = await busyboxTar(testDir('img'));
    const r = await d.cli(['import', tar, 'busybox:latest']);
    expect(r.code, r.stderr).toBe(0);
    const s = await d.cli(['run', '--name', 'chg', 'busybox', 'sh', '-c', SCRIPT]);
    expect(s.code, s.stderr).toBe(0);
  }, 60_000);
  afterAll(async () => {
    await d?.teardown();
    await host?.destroy();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const lines = (s: string) => s.split('\n').filter(Boolean);

  it('berth diff of a stopped container lists what it added, changed and deleted, parents as C', async () => {
    const r = await d.cli(['diff', 'chg']);
    expect(r.code, r.stderr).toBe(0);
    expect(lines(r.stdout)).toEqual(EXPECTED);
  });

  it('a container that changed nothing has an empty diff (no /etc/hosts & co.); a running one lists its file', async () => {
    expect((await d.cli(['run', '--name', 'plain', 'busybox', 'true'])).code).toBe(0);
    const p = await d.cli(['diff', 'plain']);
    expect(p.code, p.stderr).toBe(0);
    expect(p.stdout).toBe('');
    expect((await d.cli(['run', '-d', '--name', 'live', 'busybox', 'sh', '-c', 'echo hi > /live.txt && sleep 300'])).code).toBe(0);
    let out = '';
    for (let i = 0; i < 100 && !out.includes('/live.txt'); i++) {
      out = (await d.cli(['diff', 'live'])).stdout;
      if (!out.includes('/live.txt')) await new Promise((res) => setTimeout(res, 50));
    }
    expect(lines(out)).toEqual(['A /live.txt']);
    const missing = await d.cli(['diff', 'nosuch']);
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toContain('No such container: nosuch');
  });

  it('berth commit: the new image has the changes, -c CMD, author and message', async () => {
    const c = await d.cli(['commit', '-a', 'Ann <ann@x>', '-m', 'snap it', '-c', 'CMD ["cat","/x"]', 'chg', 'snap:1']);
    expect(c.code, c.stderr).toBe(0);
    expect(c.stdout.trim()).toMatch(/^sha256:[0-9a-f]{64}$/);
    const id = c.stdout.trim();
    const r = await d.cli(['run', '--rm', 'snap:1']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('new\n');
    const check = await d.cli(['run', '--rm', 'snap:1', 'sh', '-c', 'test ! -e /www/index.html && cat /www/z /tmp/d/y && tail -n 1 /etc/passwd && stat -c %a /root']);
    expect(check.code, check.stderr).toBe(0);
    expect(check.stdout).toBe('z\ny\nmore\n755\n');
    const i = await d.cli(['image', 'inspect', '-f', '{{.Id}}|{{.Author}}|{{.Comment}}|{{json .Config.Cmd}}|{{json .RootFS.Layers}}', 'snap:1']);
    expect(i.code, i.stderr).toBe(0);
    const [head, layers] = [i.stdout.trim().split('|').slice(0, 4).join('|'), i.stdout.trim().split('|')[4]!];
    expect(head).toBe(`${id}|Ann <ann@x>|snap it|["cat","/x"]`);
    expect(JSON.parse(layers)).toHaveLength(2);
    // the committed container's own diff is unchanged; a bad --change is a 400 and nothing is made
    const before = (await d.cli(['images', '-q'])).stdout;
    const bad = await d.cli(['commit', '-c', 'RUN echo', 'chg', 'bad:1']);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain('RUN is not a valid change command');
    expect((await d.cli(['images', '-q'])).stdout).toBe(before);
  });

  it('a commit with no changes still adds an (empty) layer', async () => {
    const c = await d.cli(['commit', 'plain', 'same:1']);
    expect(c.code, c.stderr).toBe(0);
    const i = await d.cli(['image', 'inspect', '-f', '{{json .RootFS.Layers}}', 'same:1']);
    expect(JSON.parse(i.stdout)).toHaveLength(2);
    const r = await d.cli(['run', '--rm', 'same:1', 'cat', '/www/index.html']);
    expect(r.stdout).toBe('hello from berth\n');
  });

  it('berth commit of a running container; the image survives save, rmi and load', async () => {
    const c = await d.cli(['commit', 'live', 'livesnap']);
    expect(c.code, c.stderr).toBe(0);
    const tar = join(dir, 'livesnap.tar');
    expect((await d.cli(['save', '-o', tar, 'livesnap'])).code).toBe(0);
    const rm = await d.cli(['rmi', 'livesnap']);
    expect(rm.code, rm.stderr).toBe(0);
    const l = await d.cli(['load', '-i', tar]);
    expect(l.code, l.stderr).toBe(0);
    expect(l.stdout).toContain('livesnap:latest');
    const r = await d.cli(['run', '--rm', 'livesnap', 'cat', '/live.txt']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('hi\n');
  });

  it.skipIf(!hasDocker)('docker diff and docker commit', async () => {
    const df = await d.docker(['diff', 'chg']);
    expect(df.code, df.stderr).toBe(0);
    expect(lines(df.stdout)).toEqual(EXPECTED);
    const c = await d.docker(['commit', '-c', 'ENV GREETING=hello', '-c', 'WORKDIR /tmp/d', '-m', 'via docker', 'chg', 'dsnap:2']);
    expect(c.code, c.stderr).toBe(0);
    expect(c.stdout.trim()).toMatch(/^sha256:[0-9a-f]{64}$/);
    const r = await d.docker(['run', '--rm', 'dsnap:2', 'sh', '-c', 'echo $GREETING && pwd && cat y && cat /x']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('hello\n/tmp/d\ny\nnew\n');
  });
});
