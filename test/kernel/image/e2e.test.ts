// Images end to end: a real berthd in a throwaway netns playing the host; the busybox image from
// scripts/mkimage-busybox.sh goes through berth import → images → inspect → save → rmi → load →
// inspect (same id), then the docker CLI and dockerode do the same against berthd; bad archives
// change nothing; records survive a restart; --storage-driver vfs works the same.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, readdirSync, rmSync, writeFileSync, createReadStream } from 'node:fs';
import { join } from 'node:path';
import Docker from 'dockerode';
import { isRoot, skipReason, uniquePrefix } from '../../helpers/prefix.js';
import { makeHost, type TestHost } from '../../helpers/netns.js';
import { startTestDaemon, testDir, type TestDaemon } from '../../helpers/daemon.js';
import { busyboxTar, makeTar } from '../../helpers/images.js';
import { run } from '../../helpers/sh.js';

const hasDocker = (await run(['docker', '--version'])).code === 0;
if (!isRoot) console.log(`skipping image e2e: ${skipReason}`);
if (!hasDocker) console.log('skipping the docker CLI image checks: no docker CLI on PATH');

async function tarNames(path: string): Promise<string[]> {
  const r = await run(['tar', '-tf', path]);
  return r.stdout.split('\n').filter(Boolean);
}

describe.skipIf(!isRoot)('images end to end', () => {
  let host: TestHost;
  let d: TestDaemon;
  let dir: string;
  let bb: string;
  beforeAll(async () => {
    const prefix = uniquePrefix();
    host = await makeHost(prefix);
    d = await startTestDaemon({ netns: host.name, namePrefix: prefix, args: ['--bridge', `${prefix}b0`] });
    dir = testDir('imge2e');
    bb = await busyboxTar(dir);
  });
  afterAll(async () => {
    await d?.cleanup();
    await host?.destroy();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const blobs = () => readdirSync(join(d.dir, 'data/image/blobs/sha256')).sort();
  const layers = () => readdirSync(join(d.dir, 'data/image/overlay/layers')).sort();

  it('berth: import → images → inspect → save → rmi → load → inspect, same id', async () => {
    const imp = await d.cli(['import', '-c', 'CMD ["httpd","-f","-p","80","-h","/www"]', '-c', 'EXPOSE 80', bb, 'busybox:latest']);
    expect(imp.stderr).toBe('');
    expect(imp.code).toBe(0);
    const id = imp.stdout.trim();
    expect(id).toMatch(/^sha256:[0-9a-f]{64}$/);

    const ls = await d.cli(['images']);
    expect(ls.stdout.split('\n')[0]).toMatch(/^REPOSITORY {3}TAG {7}IMAGE ID {7}CREATED {3,}SIZE$/);
    expect(ls.stdout).toMatch(new RegExp(`^busybox\\s+latest\\s+${id.slice(7, 19)}\\s+(Less than a second|\\d+ seconds?) ago\\s+1\\.98MB$`, 'm'));

    const insp = await d.cli(['image', 'inspect', '-f', '{{.Id}} {{json .Config.Cmd}} {{json .Config.ExposedPorts}} {{.RootFS.Type}}', 'busybox']);
    expect(insp.stdout.trim()).toBe(`${id} ["httpd","-f","-p","80","-h","/www"] {"80/tcp":{}} layers`);

    const out = join(dir, 'saved.tar');
    const save = await d.cli(['save', '-o', out, 'busybox']);
    expect(save.code, save.stderr).toBe(0);
    expect(await tarNames(out)).toEqual(expect.arrayContaining(['manifest.json', 'index.json', 'oci-layout', `blobs/sha256/${id.slice(7)}`]));
    const refused = await d.cli(['save', 'busybox'], { env: {} });
    expect(refused.code).toBe(0); // stdout is a pipe here, not a terminal: the tar goes to stdout
    expect(refused.stdout.length).toBeGreaterThan(1_000_000);

    const rmi = await d.cli(['rmi', 'busybox']);
    expect(rmi.stdout).toBe(`Untagged: busybox:latest\nDeleted: ${id}\n`);
    expect((await d.cli(['images', '-q'])).stdout).toBe('');
    expect(blobs()).toEqual([]);
    expect(layers()).toEqual([]);

    const load = await d.cli(['load', '-i', out]);
    expect(load.stdout).toBe('Loaded image: busybox:latest\n');
    expect((await d.cli(['image', 'inspect', '-f', '{{.Id}}', 'busybox'])).stdout.trim()).toBe(id);
  });

  it('berth: tag, rmi by name keeps the image, errors as docker', async () => {
    expect((await d.cli(['tag', 'busybox', 'localhost:5000/bb:1'])).code).toBe(0);
    const ls = await d.cli(['images', '--format', '{{.Repository}}:{{.Tag}}']);
    expect(ls.stdout.split('\n').filter(Boolean).sort()).toEqual(['busybox:latest', 'localhost:5000/bb:1']);
    expect((await d.cli(['rmi', 'localhost:5000/bb:1'])).stdout).toBe('Untagged: localhost:5000/bb:1\n');
    const nope = await d.cli(['rmi', 'nope']);
    expect(nope.code).toBe(1);
    expect(nope.stderr).toBe('Error response from daemon: No such image: nope\n');
    const bad = await d.cli(['tag', 'busybox', 'Bad']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('must be lowercase');
  });

  it('refuses an escaping tar and a tampered archive, leaving nothing', async () => {
    const before = { blobs: blobs(), layers: layers() };
    const evil = join(dir, 'evil.tar');
    writeFileSync(evil, await makeTar([{ name: 'etc', type: 'symlink', linkname: '/etc' }, { name: 'etc/berth-pwned', content: 'x' }]));
    const r = await d.cli(['import', evil, 'evil']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('refusing to write outside the layer');
    expect(existsSync('/etc/berth-pwned')).toBe(false);
    const dots = join(dir, 'dots.tar');
    writeFileSync(dots, await makeTar([{ name: '../../../../../tmp/berth-pwned', content: 'x' }]));
    expect((await d.cli(['import', dots, 'evil'])).stderr).toContain('climbs out');
    expect(existsSync('/tmp/berth-pwned')).toBe(false);
    const junk = join(dir, 'junk.tar');
    writeFileSync(junk, 'this is not a tar archive'.repeat(100));
    expect((await d.cli(['load', '-i', junk])).code).toBe(1);
    expect({ blobs: blobs(), layers: layers() }).toEqual(before);
    expect(readdirSync(join(d.dir, 'data/image/tmp'))).toEqual([]);
    expect((await d.cli(['images', '--format', '{{.Repository}}'])).stdout).toBe('busybox\n');
  });

  it.skipIf(!hasDocker)('docker CLI: images, image inspect, save, rmi, load, import, tag', async () => {
    const id = (await d.cli(['image', 'inspect', '-f', '{{.Id}}', 'busybox'])).stdout.trim();
    const ls = await d.docker(['images', '--format', '{{.Repository}} {{.Tag}} {{.ID}} {{.Size}}']);
    expect(ls.stderr).toBe('');
    expect(ls.stdout).toBe(`busybox latest ${id.slice(7, 19)} 1.98MB\n`);
    const insp = await d.docker(['image', 'inspect', '--format', '{{.Id}} {{.Os}} {{.Architecture}} {{len .RootFS.Layers}}', 'busybox']);
    expect(insp.stdout.trim()).toBe(`${id} linux amd64 1`);
    const out = join(dir, 'docker-saved.tar');
    expect((await d.docker(['save', '-o', out, 'busybox'])).code).toBe(0);
    expect(await tarNames(out)).toContain('manifest.json');
    const rmi = await d.docker(['rmi', 'busybox']);
    expect(rmi.stdout).toBe(`Untagged: busybox:latest\nDeleted: ${id}\n`);
    const load = await d.docker(['load', '-i', out]);
    expect(load.stdout).toBe('Loaded image: busybox:latest\n');
    expect((await d.docker(['image', 'inspect', '-f', '{{.Id}}', 'busybox'])).stdout.trim()).toBe(id);
    const imp = await d.docker(['import', '-c', 'ENV X=1', '-m', 'from docker', bb, 'dimp:1']);
    expect(imp.stderr).toBe('');
    expect((await d.docker(['image', 'inspect', '-f', '{{.Comment}} {{.Config.Env}} {{.Size}}', 'dimp:1'])).stdout.trim()).toBe('from docker [X=1] 1982381');
    expect((await d.docker(['tag', 'dimp:1', 'dimp:2'])).code).toBe(0);
    expect((await d.docker(['rmi', 'dimp:1', 'dimp:2'])).stdout).toMatch(/^Untagged: dimp:1\nUntagged: dimp:2\nDeleted: sha256:[0-9a-f]{64}\n$/);
    const missing = await d.docker(['image', 'inspect', 'nope']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('No such image: nope');
  });

  it('dockerode: listImages, inspect, get (save) and loadImage', async () => {
    const docker = new Docker({ socketPath: d.socket });
    const list = await docker.listImages();
    expect(list.map((i) => i.RepoTags)).toEqual([['busybox:latest']]);
    const insp = await docker.getImage('busybox').inspect();
    expect(insp.Id).toBe(list[0]!.Id);
    const tarStream = await docker.getImage('busybox').get();
    const chunks: Buffer[] = [];
    for await (const c of tarStream) chunks.push(c as Buffer);
    const out = join(dir, 'dockerode.tar');
    writeFileSync(out, Buffer.concat(chunks));
    await docker.getImage('busybox').remove();
    expect(await docker.listImages()).toEqual([]);
    const res = await docker.loadImage(createReadStream(out));
    const text: string[] = [];
    for await (const c of res) text.push(String(c));
    expect(text.join('')).toContain('Loaded image: busybox:latest');
    expect((await docker.getImage('busybox').inspect()).Id).toBe(insp.Id);
  });

  it('keeps images across a restart', async () => {
    const id = (await d.cli(['image', 'inspect', '-f', '{{.Id}}', 'busybox'])).stdout.trim();
    await d.stop();
    await d.restart();
    expect((await d.cli(['image', 'inspect', '-f', '{{.Id}}', 'busybox'])).stdout.trim()).toBe(id);
    expect((await d.cli(['info', '-f', '{{.Images}} {{.Driver}}'])).stdout.trim()).toBe('1 overlay');
  });
});

describe.skipIf(!isRoot)('images with --storage-driver vfs', () => {
  let host: TestHost;
  let d: TestDaemon;
  let dir: string;
  beforeAll(async () => {
    const prefix = uniquePrefix();
    host = await makeHost(prefix);
    d = await startTestDaemon({ netns: host.name, namePrefix: prefix, args: ['--bridge', `${prefix}b0`, '--storage-driver', 'vfs'] });
    dir = testDir('imgvfs');
  });
  afterAll(async () => {
    await d?.cleanup();
    await host?.destroy();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('imports and removes with the vfs layer store', async () => {
    const bb = await busyboxTar(dir);
    expect((await d.cli(['import', bb, 'busybox'])).code).toBe(0);
    expect((await d.cli(['info', '-f', '{{.Images}} {{.Driver}}'])).stdout.trim()).toBe('1 vfs');
    expect(readdirSync(join(d.dir, 'data/image/vfs/layers'))).toHaveLength(1);
    expect((await d.cli(['rmi', 'busybox'])).code).toBe(0);
    expect(readdirSync(join(d.dir, 'data/image/vfs/layers'))).toEqual([]);
  });
});
