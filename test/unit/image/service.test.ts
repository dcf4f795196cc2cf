// The image service and its routes through app.inject, with the real vfs driver (no root needed).
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { readdirSync, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { extract } from 'tar-stream';
import { unitDaemon } from '../../helpers/unit-daemon.js';
import { buildApp, type FastifyInstance } from '../../../daemon/api/app.js';
import type { Daemon } from '../../../daemon/daemon.js';
import vfs from '../../../drivers/image/vfs/index.js';
import { realSys } from '../../../drivers/sys/index.js';
import { makeNames } from '../../../drivers/names.js';
import { silentLog } from '../../../drivers/log.js';
import type { BerthEvent } from '../../../daemon/events.js';
import { makeTar, type TarEntry } from '../../helpers/images.js';

const sha = (b: Uint8Array | string) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

let d: Daemon;
let app: FastifyInstance;
let cleanup: () => void;
let events: BerthEvent[];

async function setup(): Promise<void> {
  const u = await unitDaemon(['--storage-driver', 'vfs']);
  d = u.d;
  cleanup = u.cleanup;
  const driver = await vfs({
    sys: realSys(),
    records: d.store,
    names: makeNames('bu'),
    log: silentLog,
    config: { dataRoot: d.config.dataRoot, execRoot: d.config.execRoot, bridge: 'x', icc: true, ipForward: false, runtime: 'runc', storageDriver: 'vfs' },
  });
  d.engine.install(driver);
  app = await buildApp(d);
  events = [];
  d.events.subscribe((e) => events.push(e));
}

beforeEach(setup);
afterEach(async () => {
  await app.close();
  cleanup();
});

const rootfs: TarEntry[] = [
  { name: 'bin/', type: 'directory' },
  { name: 'bin/busybox', content: '#!fake busybox', mode: 0o755 },
  { name: 'bin/sh', type: 'symlink', linkname: 'busybox' },
  { name: 'www/index.html', content: 'hello from berth\n' },
];

async function importTar(tar: Buffer, query: string, contentType = 'text/plain') {
  return app.inject({ method: 'POST', url: `/v1.51/images/create?fromSrc=-&${query}`, payload: tar, headers: { 'content-type': contentType } });
}

async function tarEntries(buf: Buffer): Promise<Map<string, Buffer>> {
  const ex = extract();
  const out = new Map<string, Buffer>();
  const done = (async () => {
    for await (const e of ex) {
      const chunks: Buffer[] = [];
      for await (const c of e) chunks.push(Buffer.from(c as Uint8Array));
      out.set(e.header.name, Buffer.concat(chunks));
    }
  })();
  ex.end(buf);
  await done;
  return out;
}

const blobDir = () => join(d.config.dataRoot, 'image', 'blobs', 'sha256');
const layerDir = () => join(d.config.dataRoot, 'image', 'vfs', 'layers');

describe('images API', () => {
  it('imports a rootfs tar (docker sends it as text/plain), lists and inspects it', async () => {
    const tar = await makeTar(rootfs);
    const r = await importTar(gzipSync(tar), 'repo=busybox&tag=1&changes=CMD%20%5B%22sh%22%5D&changes=ENV%20A%3Db&message=hi');
    expect(r.statusCode).toBe(200);
    expect(r.headers['content-type']).toBe('application/json');
    const id = (JSON.parse(r.body) as { status: string }).status;
    expect(id).toMatch(/^sha256:[0-9a-f]{64}$/);

    const list = (await app.inject({ url: '/images/json' })).json() as Record<string, unknown>[];
    expect(list).toHaveLength(1);
    expect(list[0]).toMatchObject({ Id: id, RepoTags: ['busybox:1'], RepoDigests: [], ParentId: '', Containers: -1, Size: 14 + 17 });
    expect(typeof list[0]!.Created).toBe('number');

    const insp = (await app.inject({ url: '/images/busybox:1/json' })).json() as Record<string, any>;
    expect(insp.Id).toBe(id);
    expect(insp.Comment).toBe('hi');
    expect(insp.Config.Cmd).toEqual(['sh']);
    expect(insp.Config.Env).toEqual(['A=b']);
    expect(insp.RootFS).toEqual({ Type: 'layers', Layers: [sha(tar)] });
    expect(insp.GraphDriver.Name).toBe('vfs');
    expect(insp.Os).toBe('linux');
    // the id is the digest of the config blob
    const cfg = d.images.blobs.path(id);
    expect(sha(readFileSync(cfg))).toBe(id);
    // by short id and by id prefix too
    expect((await app.inject({ url: `/images/${id.slice(7, 19)}/json` })).statusCode).toBe(200);
    const miss = await app.inject({ url: '/images/nope/json' });
    expect(miss.statusCode).toBe(404);
    expect(miss.json()).toEqual({ message: 'No such image: nope' });
    expect(events.map((e) => `${e.Action} ${e.Actor.Attributes.name}`)).toEqual(['import busybox:1']);
  });

  it('refuses bad input before storing anything', async () => {
    const tar = await makeTar(rootfs);
    for (const [q, status, msg] of [
      ['repo=Busy', 400, 'must be lowercase'],
      ['repo=busybox&tag=-x', 400, 'invalid tag format'],
      ['repo=busybox&changes=RUN%20x', 400, 'RUN is not a valid change command'],
    ] as const) {
      const r = await importTar(tar, q);
      expect(r.statusCode, q).toBe(status);
      expect(r.json().message).toContain(msg);
    }
    const esc = await importTar(await makeTar([{ name: 'ok', content: 'x' }, { name: 'l', type: 'symlink', linkname: '/etc' }, { name: 'l/passwd', content: 'root::0:0' }]), 'repo=evil');
    expect(esc.statusCode).toBe(400);
    expect(esc.json().message).toContain('outside the layer');
    expect(d.images.list()).toEqual([]);
    expect(readdirSync(blobDir())).toEqual([]);
    expect(existsSync(layerDir()) ? readdirSync(layerDir()) : []).toEqual([]);
    expect(readdirSync(d.images.blobs.tmpDir)).toEqual([]);
  });

  it('tags, untags by name, and answers rmi conflicts as docker', async () => {
    const r = await importTar(await makeTar(rootfs), 'repo=busybox');
    const id = (JSON.parse(r.body) as { status: string }).status;
    const short = id.slice(7, 19);
    expect((await app.inject({ method: 'POST', url: '/images/busybox/tag?repo=localhost:5000/x/y&tag=2' })).statusCode).toBe(201);
    expect((await app.inject({ method: 'POST', url: '/images/busybox/tag?repo=Bad' })).statusCode).toBe(400);
    expect((await app.inject({ method: 'POST', url: '/images/nope/tag?repo=x' })).statusCode).toBe(404);
    expect(d.images.resolve('localhost:5000/x/y:2').repoTags).toEqual(['busybox:latest', 'localhost:5000/x/y:2']);

    const byId = await app.inject({ method: 'DELETE', url: `/images/${short}` });
    expect(byId.statusCode).toBe(409);
    expect(byId.json().message).toBe(`conflict: unable to delete ${short} (must be forced) - image is referenced in multiple repositories`);
    const untag = await app.inject({ method: 'DELETE', url: '/images/localhost:5000/x/y:2' });
    expect(untag.json()).toEqual([{ Untagged: 'localhost:5000/x/y:2' }]);

    const cid = 'c'.repeat(64);
    d.images.usedBy = () => ({ id: cid, running: true });
    const running = await app.inject({ method: 'DELETE', url: '/images/busybox?force=1' });
    expect(running.statusCode).toBe(409);
    expect(running.json().message).toBe(`conflict: unable to delete busybox:latest (cannot be forced) - image is being used by running container cccccccccccc`);
    d.images.usedBy = () => ({ id: cid, running: false });
    const stopped = await app.inject({ method: 'DELETE', url: '/images/busybox' });
    expect(stopped.json().message).toContain('(must be forced) - image is being used by stopped container cccccccccccc');
    d.images.usedBy = () => undefined;
    const del = await app.inject({ method: 'DELETE', url: '/images/busybox' });
    expect(del.json()).toEqual([{ Untagged: 'busybox:latest' }, { Deleted: id }]);
    expect(d.images.list()).toEqual([]);
    expect(readdirSync(blobDir())).toEqual([]);
    expect(readdirSync(layerDir())).toEqual([]);
    expect(events.map((e) => e.Action)).toEqual(['import', 'tag', 'untag', 'untag', 'delete']);
  });

  it('saves a docker-archive + OCI layout and loads it back with the same id', async () => {
    const tar = await makeTar(rootfs);
    const id = (JSON.parse((await importTar(tar, 'repo=busybox')).body) as { status: string }).status;
    await app.inject({ method: 'POST', url: '/images/busybox/tag?repo=other' });
    const saved = await app.inject({ url: '/images/get?names=busybox&names=other:latest' });
    expect(saved.statusCode).toBe(200);
    expect(saved.headers['content-type']).toBe('application/x-tar');
    const files = await tarEntries(saved.rawPayload);
    expect([...files.keys()].filter((n) => !n.startsWith('blobs/')).sort()).toEqual(['index.json', 'manifest.json', 'oci-layout', 'repositories']);
    const manifest = JSON.parse(files.get('manifest.json')!.toString()) as { Config: string; RepoTags: string[]; Layers: string[] }[];
    expect(manifest).toEqual([{ Config: `blobs/sha256/${id.slice(7)}`, RepoTags: ['busybox:latest', 'other:latest'], Layers: [`blobs/sha256/${sha(tar).slice(7)}`] }]);
    const index = JSON.parse(files.get('index.json')!.toString()) as { manifests: { digest: string; annotations: Record<string, string> }[] };
    expect(index.manifests.map((m) => m.annotations['io.containerd.image.name'])).toEqual(['docker.io/library/busybox:latest', 'docker.io/library/other:latest']);
    for (const [name, body] of files) if (name.startsWith('blobs/sha256/') && body.length) expect(sha(body)).toBe(`sha256:${name.slice(13)}`);

    for (const n of ['busybox', 'other']) await app.inject({ method: 'DELETE', url: `/images/${n}` });
    expect(d.images.list()).toEqual([]);
    const loaded = await app.inject({ method: 'POST', url: '/images/load?quiet=0', payload: saved.rawPayload, headers: { 'content-type': 'application/x-tar' } });
    expect(loaded.statusCode).toBe(200);
    expect(loaded.body).toBe('{"stream":"Loaded image: busybox:latest\\n"}\n{"stream":"Loaded image: other:latest\\n"}\n');
    expect(d.images.resolve('busybox').id).toBe(id.slice(7));
    // an OCI-only copy of the same tar (what other tools write) loads too
    files.delete('manifest.json');
    files.delete('repositories');
    await app.inject({ method: 'DELETE', url: '/images/other' });
    await app.inject({ method: 'DELETE', url: '/images/busybox' });
    const oci = await makeTar([...files].filter(([n]) => !n.endsWith('/')).map(([name, body]) => ({ name, content: body })));
    const again = await app.inject({ method: 'POST', url: '/images/load', payload: Buffer.from(oci), headers: { 'content-type': 'application/x-tar' } });
    expect(again.statusCode, again.body).toBe(200);
    expect(d.images.resolve('other:latest').id).toBe(id.slice(7));
  });

  it('loads a legacy docker-archive (<id>/layer.tar, symlinked layers) and an OCI layout with gzip layers and a nested index', async () => {
    const base = await makeTar([{ name: 'etc/os', content: 'berth' }]);
    const top = await makeTar([{ name: 'etc/.wh.os', content: '' }, { name: 'app', content: 'x' }]);
    const config = JSON.stringify({ architecture: 'amd64', os: 'linux', config: { Cmd: ['/app'], Labels: { a: 'b' } }, rootfs: { type: 'layers', diff_ids: [sha(base), sha(top)] }, created: '2024-01-02T03:04:05Z' });
    const cfgHex = sha(config).slice(7);
    const legacy = await makeTar([
      { name: 'l1/', type: 'directory' },
      { name: 'l1/layer.tar', content: base },
      { name: 'l2/layer.tar', content: top },
      { name: 'l3/layer.tar', type: 'symlink', linkname: '../l2/layer.tar' },
      { name: `${cfgHex}.json`, content: config },
      { name: 'manifest.json', content: JSON.stringify([{ Config: `${cfgHex}.json`, RepoTags: ['legacy:v1'], Layers: ['l1/layer.tar', 'l3/layer.tar'] }]) },
    ]);
    const r = await app.inject({ method: 'POST', url: '/images/load', payload: legacy, headers: { 'content-type': 'application/x-tar' } });
    expect(r.statusCode, r.body).toBe(200);
    const img = d.images.resolve('legacy:v1');
    expect(img.id).toBe(cfgHex);
    expect(img.layers).toEqual([sha(base), sha(top)]);
    expect(img.config).toEqual({ Cmd: ['/app'], Labels: { a: 'b' } });
    expect(img.created).toBe('2024-01-02T03:04:05Z');
    await app.inject({ method: 'DELETE', url: '/images/legacy:v1' });

    // OCI: gzip layers, an index pointing at a platform index, names from annotations
    const gz1 = gzipSync(base);
    const gz2 = gzipSync(top);
    const manifest = JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha(config), size: config.length }, layers: [gz1, gz2].map((g) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: sha(g), size: g.length })) });
    const platforms = JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: sha(manifest), size: manifest.length, platform: { os: 'linux', architecture: 'amd64' } }] });
    const index = JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: 'application/vnd.oci.image.index.v1+json', digest: sha(platforms), size: platforms.length, annotations: { 'io.containerd.image.name': 'docker.io/library/ocitest:3', 'org.opencontainers.image.ref.name': '3' } }] });
    const blob = (b: string | Buffer) => ({ name: `blobs/sha256/${sha(b).slice(7)}`, content: Buffer.from(b) });
    const layout = await makeTar([{ name: 'oci-layout', content: '{"imageLayoutVersion":"1.0.0"}' }, blob(config), blob(gz1), blob(gz2), blob(manifest), blob(platforms), { name: 'index.json', content: index }]);
    const r2 = await app.inject({ method: 'POST', url: '/images/load', payload: gzipSync(layout), headers: { 'content-type': 'application/x-tar' } });
    expect(r2.statusCode, r2.body).toBe(200);
    expect(r2.body).toContain('Loaded image: ocitest:3');
    expect(d.images.resolve('ocitest:3').layers).toEqual([sha(base), sha(top)]);
    // only what the image keeps stays in the store: config and uncompressed layers
    expect(readdirSync(blobDir()).sort()).toEqual([cfgHex, sha(base).slice(7), sha(top).slice(7)].sort());
    expect(readdirSync(d.images.blobs.tmpDir)).toEqual([]);
  });

  it('refuses an archive whose blob does not match its name, and keeps nothing', async () => {
    const layer = await makeTar([{ name: 'f', content: 'x' }]);
    const config = JSON.stringify({ os: 'linux', rootfs: { type: 'layers', diff_ids: [sha(layer)] } });
    const bad = await makeTar([
      { name: `blobs/sha256/${sha(config).slice(7)}`, content: config },
      { name: `blobs/sha256/${sha(layer).slice(7)}`, content: 'not the layer' },
      { name: 'manifest.json', content: JSON.stringify([{ Config: `blobs/sha256/${sha(config).slice(7)}`, RepoTags: ['bad:1'], Layers: [`blobs/sha256/${sha(layer).slice(7)}`] }]) },
    ]);
    const r = await app.inject({ method: 'POST', url: '/images/load', payload: bad, headers: { 'content-type': 'application/x-tar' } });
    expect(r.statusCode, r.body).toBe(400);
    expect(r.json().message).toContain('does not match its digest');
    expect(d.images.list()).toEqual([]);
    expect(readdirSync(blobDir())).toEqual([]);
    expect(readdirSync(d.images.blobs.tmpDir)).toEqual([]);

    const wrongDiff = await makeTar([
      { name: `blobs/sha256/${sha(config).slice(7)}`, content: config },
      { name: 'other.tar', content: (await makeTar([{ name: 'g', content: 'y' }])) },
      { name: 'manifest.json', content: JSON.stringify([{ Config: `blobs/sha256/${sha(config).slice(7)}`, RepoTags: ['bad:1'], Layers: ['other.tar'] }]) },
    ]);
    const r2 = await app.inject({ method: 'POST', url: '/images/load', payload: wrongDiff, headers: { 'content-type': 'application/x-tar' } });
    expect(r2.statusCode, r2.body).toBe(400);
    expect(r2.json().message).toContain('does not match its diff id');
    expect(readdirSync(blobDir())).toEqual([]);
    const junk = await app.inject({ method: 'POST', url: '/images/load', payload: Buffer.from('not a tar at all, not at all'.repeat(40)) });
    expect(junk.statusCode, junk.body).toBe(400);
  });

  it('filters the list (reference, dangling, label) and prunes dangling images', async () => {
    const a = (JSON.parse((await importTar(await makeTar(rootfs), 'repo=busybox&changes=LABEL%20k%3Dv')).body) as { status: string }).status;
    await importTar(await makeTar([{ name: 'x', content: '1' }]), 'repo=foo/bar&tag=1');
    await importTar(await makeTar([{ name: 'y', content: '2' }]), 'repo=foo/bar&tag=1'); // takes the tag: the first one dangles
    const q = async (f: object) => ((await app.inject({ url: `/images/json?filters=${encodeURIComponent(JSON.stringify(f))}` })).json() as { RepoTags: string[] }[]).map((i) => i.RepoTags.join(',') || '<none>');
    expect(await q({ reference: ['busy*'] })).toEqual(['busybox:latest']);
    expect(await q({ reference: ['foo/bar:1'] })).toEqual(['foo/bar:1']);
    expect(await q({ dangling: ['true'] })).toEqual(['<none>']);
    expect(await q({ label: ['k=v'] })).toEqual(['busybox:latest']);
    expect((await app.inject({ url: `/images/json?filters=${encodeURIComponent('{"bogus":["x"]}')}` })).statusCode).toBe(400);
    const pr = (await app.inject({ method: 'POST', url: '/images/prune' })).json() as { ImagesDeleted: { Deleted?: string }[]; SpaceReclaimed: number };
    expect(pr.ImagesDeleted).toHaveLength(1);
    expect(pr.SpaceReclaimed).toBe(1);
    expect(d.images.list().map((i) => i.repoTags[0]).sort()).toEqual(['busybox:latest', 'foo/bar:1']);
    expect(d.images.resolve('busybox').id).toBe(a.slice(7));
  });

  it('imports a zstd-compressed tar and answers history', async () => {
    const zst = readFileSync(join(import.meta.dirname, 'fixtures/layer.tar.zst'))
    const r = await importTar(zst, 'repo=zs&message=zstd%20it', 'application/x-tar');
    expect(r.statusCode, r.body).toBe(200);
    expect(d.images.resolve('zs').layers).toEqual(['sha256:b2ae8dce7f12c9985c91c0d6d734d2b8e8eec499d6ceb943b08639aa2d4be796']);
    const h = (await app.inject({ url: '/images/zs/history' })).json() as { Id: string; Comment: string; Tags: string[]; Size: number }[];
    expect(h).toEqual([{ Id: `sha256:${d.images.resolve('zs').id}`, Created: expect.any(Number), CreatedBy: '', Tags: ['zs:latest'], Size: d.images.resolve('zs').size, Comment: 'zstd it' }]);
  });

  it('mounts a rootfs for a container through the driver and removes it', async () => {
    const r = await importTar(await makeTar(rootfs), 'repo=busybox');
    expect(r.statusCode).toBe(200);
    const cid = 'a'.repeat(64);
    const { rootfs: dir } = await d.images.mount(cid, d.images.resolve('busybox'));
    expect(readdirSync(dir).sort()).toEqual(['bin', 'www']);
    expect((await d.images.mount(cid, d.images.resolve('busybox'))).rootfs).toBe(dir);
    await d.images.unmount(cid, { remove: true });
    expect(existsSync(dir)).toBe(false);
    const orphan = 'b'.repeat(64);
    await d.images.mount(orphan, d.images.resolve('busybox'));
    await d.images.mount(cid, d.images.resolve('busybox'));
    expect(await d.images.pruneRootfs([cid])).toEqual([orphan]);
    expect(readdirSync(join(d.config.dataRoot, 'image', 'vfs', 'containers'))).toEqual([cid]);
  });
});
