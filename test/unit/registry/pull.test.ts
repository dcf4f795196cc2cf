// Pull and push through the image service and its routes, with the real vfs driver (no root) and
// an in-process registry: gzip, zstd and plain layers, manifest lists, digests, skipped layers,
// tampered blobs and cancellations that leave nothing, cross-repository mounts, and the JSON
// progress stream docker's CLI draws.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readdirSync, readFileSync, existsSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { decompress } from 'fzstd';
import { unitDaemon } from '../../helpers/unit-daemon.js';
import { buildApp, type FastifyInstance } from '../../../daemon/api/app.js';
import type { Daemon } from '../../../daemon/daemon.js';
import vfs from '../../../drivers/image/vfs/index.js';
import { realSys } from '../../../drivers/sys/index.js';
import { makeNames } from '../../../drivers/names.js';
import { silentLog } from '../../../drivers/log.js';
import { isBerthError } from '../../../drivers/errors.js';
import { goArch } from '../../../daemon/api/routes/system.js';
import { MEDIA } from '../../../daemon/images/registry/manifest.js';
import type { JsonMessage } from '../../../daemon/images/registry/progress.js';
import { makeTar } from '../../helpers/images.js';
import { RegistryClient } from '../../../daemon/images/registry/client.js';
import { fetchLayer, type LayerSink } from '../../../daemon/images/registry/pull.js';
import { BlobStore } from '../../../daemon/images/blobs.js';
import { FakeRegistry, sha } from './fake-registry.js';

const ZST = readFileSync(join(import.meta.dirname, '../image/fixtures/layer.tar.zst'));
const ARCH = goArch(process.arch);

let d: Daemon;
let app: FastifyInstance;
let reg: FakeRegistry;
let cleanup: () => void;

async function setup(opts: ConstructorParameters<typeof FakeRegistry>[0] = {}): Promise<void> {
  const u = await unitDaemon(['--storage-driver', 'vfs']);
  d = u.d;
  cleanup = u.cleanup;
  d.engine.install(
    await vfs({
      sys: realSys(),
      records: d.store,
      names: makeNames('bu'),
      log: silentLog,
      config: { dataRoot: d.config.dataRoot, execRoot: d.config.execRoot, bridge: 'x', icc: true, ipForward: false, runtime: 'runc', storageDriver: 'vfs' },
    }),
  );
  app = await buildApp(d);
  reg = await new FakeRegistry(opts).start();
}

/** The image service prepares its store in the background: wait for it (any call does) before
 *  removing the dir, or it would be made again behind our back. */
async function teardown(): Promise<void> {
  await d.images.prune({}).catch(() => {});
  await app.close();
  await reg.stop();
  cleanup();
}

beforeEach(() => setup());
afterEach(teardown);

interface Layer {
  blob: Buffer;
  diffId: string;
  mediaType: string;
}

async function layers(): Promise<Layer[]> {
  const a = await makeTar([{ name: 'etc/', type: 'directory' }, { name: 'etc/hostname', content: 'gzip layer\n' }]);
  const c = await makeTar([{ name: 'plain.txt', content: 'plain layer\n' }]);
  return [
    { blob: gzipSync(a), diffId: sha(a), mediaType: MEDIA.dockerLayerGzip },
    { blob: ZST, diffId: sha(decompress(new Uint8Array(ZST))), mediaType: MEDIA.ociLayerZstd },
    { blob: c, diffId: sha(c), mediaType: MEDIA.ociLayer },
  ];
}

/** Publish an image; returns its manifest digest and image id. */
function publish(repo: string, tag: string | undefined, ls: Layer[], arch = ARCH, extra: { diffIds?: string[] } = {}): { digest: string; id: string; manifest: Buffer } {
  const config = Buffer.from(JSON.stringify({ architecture: arch, os: 'linux', config: { Cmd: ['sh'] }, rootfs: { type: 'layers', diff_ids: extra.diffIds ?? ls.map((l) => l.diffId) } }));
  const configDigest = reg.addBlob(repo, config);
  for (const l of ls) reg.addBlob(repo, l.blob);
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MEDIA.ociManifest,
      config: { mediaType: MEDIA.ociConfig, digest: configDigest, size: config.length },
      layers: ls.map((l) => ({ mediaType: l.mediaType, digest: sha(l.blob), size: l.blob.length })),
    }),
  );
  const digest = tag ? reg.addManifest(repo, tag, manifest, MEDIA.ociManifest) : reg.addManifest(repo, sha(manifest), manifest, MEDIA.ociManifest);
  return { digest, id: configDigest.slice(7), manifest };
}

async function pull(ref: string, o: { tag?: string; platform?: string; signal?: AbortSignal } = {}) {
  const msgs: JsonMessage[] = [];
  const images = await d.images.pull(ref, { ...o, progress: (m) => msgs.push(m) });
  return { images, msgs, lines: msgs.map((m) => `${m.id ? `${m.id}: ` : ''}${m.status ?? ''}`) };
}

async function rejection(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected a rejection');
}

const dir = (...p: string[]) => join(d.config.dataRoot, 'image', ...p);
const ls = (p: string) => (existsSync(p) ? readdirSync(p).sort() : []);
/** A pulled layer's tar as the driver rebuilds it from its files and tar-split record. */
async function rebuilt(diffId: string): Promise<Buffer> {
  const t = await d.engine.run('image_layer_tar', 'vfs', { diffId });
  if (!t) throw new Error(`no tar for ${diffId}`);
  const chunks: Buffer[] = [];
  for await (const c of t.open()) chunks.push(c as Buffer);
  const b = Buffer.concat(chunks);
  expect(b.length).toBe(t.size);
  return b;
}

const leftovers = () => ({ blobs: ls(dir('blobs/sha256')), layers: ls(dir('vfs/layers')), tmp: ls(dir('tmp')), images: d.images.list().length });
const NOTHING = { blobs: [], layers: [], tmp: [], images: 0 };

describe('pull', () => {
  it('pulls gzip, zstd and plain layers by tag: record, layers stored once (rebuilt exactly from their files), progress as docker', async () => {
    const L = await layers();
    const { digest, id } = publish('x', '1', L);
    const { images, msgs, lines } = await pull(`${reg.host}/x`, { tag: '1' });
    const name = `${reg.host}/x`;
    expect(images).toHaveLength(1);
    expect(images[0]).toMatchObject({ id, repoTags: [`${name}:1`], repoDigests: [`${name}@${digest}`], layers: L.map((l) => l.diffId), architecture: ARCH, os: 'linux' });
    expect(images[0]!.config.Cmd).toEqual(['sh']);
    expect(leftovers()).toEqual({ blobs: [id], layers: L.map((l) => l.diffId.slice(7)).sort(), tmp: [], images: 1 });
    expect(readFileSync(join(dir('vfs/layers'), L[0]!.diffId.slice(7), 'diff/etc/hostname'), 'utf8')).toBe('gzip layer\n');
    for (const l of L) expect(sha(await rebuilt(l.diffId))).toBe(l.diffId);
    const short = (l: Layer) => sha(l.blob).slice(7, 19);
    expect(lines[0]).toBe('1: Pulling from x');
    expect(msgs[0]!.progressDetail).toBeUndefined();
    for (const l of L) {
      const mine = lines.filter((s) => s.startsWith(short(l)));
      expect(mine[0]).toBe(`${short(l)}: Pulling fs layer`);
      expect(mine).toContain(`${short(l)}: Verifying Checksum`);
      expect(mine).toContain(`${short(l)}: Download complete`);
      expect(mine.at(-1)).toBe(`${short(l)}: Pull complete`);
      const dl = msgs.filter((m) => m.id === short(l) && m.status === 'Downloading').at(-1)!;
      expect(dl.progressDetail).toEqual({ current: l.blob.length, total: l.blob.length });
      expect(dl.progress).toMatch(/^\[=+>\] +[\d.]+k?B\/[\d.]+k?B$/);
    }
    expect(lines.slice(-2)).toEqual([`Digest: ${digest}`, `Status: Downloaded newer image for ${name}:1`]);
    // where each layer came from is remembered for pushes
    const meta = JSON.parse(readFileSync(dir('distribution/v2metadata-by-diffid/sha256', L[1]!.diffId.slice(7)), 'utf8'));
    expect(meta).toEqual([{ digest: sha(L[1]!.blob), repository: name, mediaType: MEDIA.ociLayerZstd, size: L[1]!.blob.length }]);
  });

  it('again: "up to date" without fetching a layer; a layer the store has is "Already exists"', async () => {
    const L = await layers();
    publish('x', '1', L);
    await pull(`${reg.host}/x:1`);
    const before = reg.log.length;
    const again = await pull(`${reg.host}/x:1`);
    expect(again.lines.at(-1)).toBe(`Status: Image is up to date for ${reg.host}/x:1`);
    expect(reg.log.slice(before).filter((l) => l.url.includes('/blobs/') && L.some((x) => l.url.endsWith(sha(x.blob))))).toEqual([]);
    const extra = await makeTar([{ name: 'new.txt', content: 'new' }]);
    publish('y', 'latest', [L[0]!, { blob: gzipSync(extra), diffId: sha(extra), mediaType: MEDIA.dockerLayerGzip }]);
    const y = await pull(`${reg.host}/y`, { tag: 'latest' });
    expect(y.lines).toContain(`${sha(L[0]!.blob).slice(7, 19)}: Already exists`);
    expect(y.lines.filter((s) => s.endsWith('Pull complete'))).toHaveLength(1);
  });

  it('pulls by digest: a repo digest, no tag', async () => {
    const L = await layers();
    const { digest, id } = publish('x', undefined, L);
    const { images, lines } = await pull(`${reg.host}/x@${digest}`);
    expect(images[0]).toMatchObject({ id, repoTags: [], repoDigests: [`${reg.host}/x@${digest}`] });
    expect(lines[0]).toBe(`${digest}: Pulling from x`);
    expect(lines.at(-1)).toBe(`Status: Downloaded newer image for ${reg.host}/x@${digest}`);
    // the tag parameter may carry the digest too (docker's client sends it so)
    await d.images.remove(`${reg.host}/x@${digest}`);
    expect((await pull(`${reg.host}/x`, { tag: digest })).images[0]!.id).toBe(id);
  });

  it('resolves a manifest list to this platform, or to --platform', async () => {
    const L = await layers();
    const native = publish('m', 'native', L.slice(0, 1));
    const other = publish('m', 'other', L.slice(1), 'riscv64');
    const index = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: MEDIA.ociIndex,
        manifests: [
          { mediaType: MEDIA.ociManifest, digest: other.digest, size: other.manifest.length, platform: { os: 'linux', architecture: 'riscv64' } },
          { mediaType: MEDIA.ociManifest, digest: native.digest, size: native.manifest.length, platform: { os: 'linux', architecture: ARCH } },
        ],
      }),
    );
    const indexDigest = reg.addManifest('m', 'multi', index, MEDIA.ociIndex);
    const a = await pull(`${reg.host}/m:multi`);
    expect(a.images[0]).toMatchObject({ id: native.id, architecture: ARCH, repoDigests: [`${reg.host}/m@${indexDigest}`] });
    expect(a.lines).toContain(`Digest: ${indexDigest}`);
    const b = await pull(`${reg.host}/m:multi`, { platform: 'linux/riscv64' });
    expect(b.images[0]).toMatchObject({ id: other.id, architecture: 'riscv64', repoTags: [`${reg.host}/m:multi`], repoDigests: [`${reg.host}/m@${indexDigest}`] });
    // the tag and the index digest moved to the riscv64 image
    expect(d.store.get('image', native.id)).toMatchObject({ repoTags: [], repoDigests: [] });
    const none = await rejection(pull(`${reg.host}/m:multi`, { platform: 'linux/s390x' }));
    expect(isBerthError(none, 'not_found')).toBe(true);
    expect(none.message).toBe('no matching manifest for linux/s390x in the manifest list entries');
    const mismatch = await rejection(pull(`${reg.host}/m:native`, { platform: 'linux/riscv64' }));
    expect(mismatch.message).toBe(`image with reference ${reg.host}/m:native was found but does not match the specified platform: wanted linux/riscv64, actual: linux/${ARCH}`);
  });

  it('pulls every tag when there is neither a tag nor a digest', async () => {
    const L = await layers();
    publish('t', 'a', L.slice(0, 1));
    publish('t', 'b', L.slice(1, 2));
    const { images, lines } = await pull(`${reg.host}/t`);
    expect(images.map((i) => i.repoTags)).toEqual([[`${reg.host}/t:a`], [`${reg.host}/t:b`]]);
    expect(lines.at(-1)).toBe(`Status: Downloaded newer image for ${reg.host}/t`);
  });

  it('refuses a tampered layer blob and leaves nothing', async () => {
    const L = await layers();
    publish('x', '1', L);
    const bad = Buffer.from(L[0]!.blob);
    bad[bad.length >> 1] ^= 0xff;
    reg.tamper.set(sha(L[0]!.blob), bad);
    const e = await rejection(pull(`${reg.host}/x:1`));
    expect(isBerthError(e, 'invalid_parameter')).toBe(true);
    expect(e.message).toBe(`blob ${sha(L[0]!.blob)} of ${reg.host}/x does not match its digest: the registry sent ${bad.length} bytes with digest ${sha(bad)}`);
    expect(leftovers()).toEqual(NOTHING);
    // truncated: the size is wrong
    reg.tamper.set(sha(L[0]!.blob), L[0]!.blob.subarray(0, 10));
    expect((await rejection(pull(`${reg.host}/x:1`))).message).toMatch(/announced 10 bytes, the manifest says/);
    expect(leftovers()).toEqual(NOTHING);
  });

  it('a tampered layer that still decompresses to a good tar is refused after its unpack, leaving nothing', async () => {
    const { randomBytes } = await import('node:crypto');
    const real = await makeTar([{ name: 'etc/', type: 'directory' }, { name: 'etc/data', content: randomBytes(20_000) }]);
    const L = [{ blob: gzipSync(real), diffId: sha(real), mediaType: MEDIA.dockerLayerGzip }];
    publish('x', '1', L);
    // same length as the real blob: a whole gzip of another tar, then zero padding (which gzip ignores)
    const evil = gzipSync(await makeTar([{ name: 'etc/', type: 'directory' }, { name: 'etc/data', content: 'evil\n' }]));
    reg.tamper.set(sha(L[0]!.blob), Buffer.concat([evil, Buffer.alloc(L[0]!.blob.length - evil.length)]));
    const e = await rejection(pull(`${reg.host}/x:1`));
    expect(isBerthError(e, 'invalid_parameter')).toBe(true);
    expect(e.message).toMatch(new RegExp(`^blob ${sha(L[0]!.blob)} of ${reg.host}/x does not match its digest`));
    expect(leftovers()).toEqual(NOTHING);
  });

  it('a layer whose digests match but whose tar is broken or escapes leaves nothing', async () => {
    const good = await makeTar([{ name: 'ok', content: 'fine' }]);
    const broken = Buffer.concat([good.subarray(0, 512), Buffer.alloc(600, 0x41)]);
    broken.write('garbage!', 0);
    const escaping = await makeTar([{ name: 'ok', content: '1' }, { name: '../outside', content: '2' }]);
    for (const [tar, msg] of [
      [broken, /^layer sha256:[0-9a-f]{64} of 127\.0\.0\.1:\d+\/b: invalid tar archive/],
      [escaping, /climbs out with "\.\.": refusing to write outside the layer/],
    ] as const) {
      publish('b', '1', [{ blob: gzipSync(tar), diffId: sha(tar), mediaType: MEDIA.dockerLayerGzip }]);
      const e = await rejection(pull(`${reg.host}/b:1`));
      expect(isBerthError(e, 'invalid_parameter'), String(e)).toBe(true);
      expect(e.message).toMatch(msg);
      expect(leftovers()).toEqual(NOTHING);
    }
    expect(existsSync(join(d.config.dataRoot, 'image', 'vfs', 'outside'))).toBe(false);
  });

  it('streams big layers through (several MB, gzip in several members): content and blobs as sent', async () => {
    const { randomBytes } = await import('node:crypto');
    const a = randomBytes(3_000_000);
    const b = Buffer.from('compressible text\n'.repeat(200_000));
    const tar = await makeTar([{ name: 'a.bin', content: a }, { name: 'dir/', type: 'directory' }, { name: 'dir/b.txt', content: b }]);
    // a gzip of two members, as `cat x.gz y.gz` makes
    const blob = Buffer.concat([gzipSync(tar.subarray(0, 1_000_001)), gzipSync(tar.subarray(1_000_001))]);
    const plain = await makeTar([{ name: 'c.bin', content: randomBytes(2_500_000) }]);
    const L = [
      { blob, diffId: sha(tar), mediaType: MEDIA.dockerLayerGzip },
      { blob: plain, diffId: sha(plain), mediaType: MEDIA.ociLayer },
    ];
    const { id } = publish('big', '1', L);
    await pull(`${reg.host}/big:1`);
    const diff = (l: Layer) => join(dir('vfs/layers'), l.diffId.slice(7), 'diff');
    expect(readFileSync(join(diff(L[0]!), 'a.bin')).equals(a)).toBe(true);
    expect(readFileSync(join(diff(L[0]!), 'dir/b.txt')).equals(b)).toBe(true);
    expect((await rebuilt(L[0]!.diffId)).equals(tar)).toBe(true);
    expect((await rebuilt(L[1]!.diffId)).equals(plain)).toBe(true);
    expect(leftovers()).toEqual({ blobs: [id], layers: L.map((l) => l.diffId.slice(7)).sort(), tmp: [], images: 1 });
  });

  it('a layer the driver has but whose tar cannot be rebuilt is downloaded again and kept as a blob; the unpacked copy stays', async () => {
    const L = await layers();
    publish('x', '1', L);
    await pull(`${reg.host}/x:1`);
    const layerDir = join(dir('vfs/layers'), L[0]!.diffId.slice(7));
    const ino = statSync(layerDir).ino;
    rmSync(join(layerDir, 'tar-split')); // lost
    const again = await pull(`${reg.host}/x:1`);
    expect(again.lines).toContain(`${sha(L[0]!.blob).slice(7, 19)}: Pull complete`);
    expect(sha(readFileSync(dir('blobs/sha256', L[0]!.diffId.slice(7))))).toBe(L[0]!.diffId);
    expect(statSync(layerDir).ino).toBe(ino);
    expect(readFileSync(join(layerDir, 'diff/etc/hostname'), 'utf8')).toBe('gzip layer\n');
    expect(leftovers().tmp).toEqual([]);
  });

  it('refuses a tampered config and a config whose diff ids do not match the layers, leaving nothing', async () => {
    const L = await layers();
    const { id } = publish('x', '1', L);
    reg.tamper.set(`sha256:${id}`, Buffer.from('{"rootfs":{"diff_ids":[]}}'));
    expect((await rejection(pull(`${reg.host}/x:1`))).message).toMatch(/^image config sha256:[0-9a-f]{64} does not match its digest/);
    reg.tamper.clear();
    const wrong = sha('not the second layer');
    publish('w', '1', L, ARCH, { diffIds: [L[0]!.diffId, wrong, L[2]!.diffId] });
    const e = await rejection(pull(`${reg.host}/w:1`));
    expect(e.message).toBe(`layer ${sha(L[1]!.blob)} of ${reg.host}/w: its content does not match the diff id ${wrong} of the image config`);
    expect(leftovers()).toEqual(NOTHING);
  });

  it('cancelled mid-download (the client went away): nothing is left, the next pull completes', async () => {
    await reg.stop();
    reg = await new FakeRegistry({ blobDelayMs: 200 }).start();
    const L = await layers();
    publish('x', '1', L);
    const ac = new AbortController();
    const msgs: JsonMessage[] = [];
    const p = d.images.pull(`${reg.host}/x:1`, {
      signal: ac.signal,
      progress: (m) => {
        msgs.push(m);
        if (m.status === 'Pulling fs layer') ac.abort(new Error('the client went away: cancelled'));
      },
    });
    expect((await rejection(p)).message).toBe('the client went away: cancelled');
    expect(leftovers()).toEqual(NOTHING);
    expect((await pull(`${reg.host}/x:1`)).lines.at(-1)).toBe(`Status: Downloaded newer image for ${reg.host}/x:1`);
  });

  it('downloads three layers at a time', async () => {
    await reg.stop();
    reg = await new FakeRegistry({ blobDelayMs: 50 }).start();
    const tars = await Promise.all([1, 2, 3, 4, 5, 6].map((i) => makeTar([{ name: `f${i}`, content: `layer ${i}` }])));
    publish('c', '1', tars.map((t) => ({ blob: gzipSync(t), diffId: sha(t), mediaType: MEDIA.dockerLayerGzip })));
    const { lines } = await pull(`${reg.host}/c:1`);
    expect(reg.maxInflightBlobs).toBe(3);
    expect(lines.filter((l) => l.endsWith(': Waiting'))).toHaveLength(3);
  });

  it('refuses bad references and platforms before any request', async () => {
    for (const [ref, o, msg] of [
      ['Bad/Name', {}, 'must be lowercase'],
      [`${reg.host}/x`, { tag: 'sha256:abc' }, 'unsupported digest'],
      [`${reg.host}/x`, { tag: '-x' }, 'invalid tag format'],
      [`${reg.host}/x`, { tag: '1', platform: 'linux/' }, 'invalid platform'],
    ] as const) {
      const e = await rejection(pull(ref, o));
      expect(isBerthError(e, 'invalid_parameter'), String(e)).toBe(true);
      expect(e.message).toContain(msg);
    }
    expect(reg.log).toEqual([]);
  });
});

describe('push', () => {
  async function importImage(tag: string): Promise<string> {
    const tar = await makeTar([{ name: 'bin/', type: 'directory' }, { name: 'bin/tool', content: 'x'.repeat(5000), mode: 0o755 }]);
    const rec = await d.images.importImage(Readable.from([tar]), { repo: tag });
    return rec.id;
  }

  async function push(name: string, tag?: string) {
    const msgs: JsonMessage[] = [];
    const out = await d.images.push(name, { ...(tag ? { tag } : {}), progress: (m) => msgs.push(m) });
    return { out, msgs, lines: msgs.filter((m) => m.status).map((m) => `${m.id ? `${m.id}: ` : ''}${m.status}`) };
  }

  it('pushes, pulls back the same image, then reuses and mounts blobs', async () => {
    const id = await importImage(`${reg.host}/p:1`);
    const layer = d.images.resolve(`${reg.host}/p:1`).layers[0]!;
    const first = await push(`${reg.host}/p`, '1');
    const [{ digest, size }] = first.out as [{ digest: string; size: number }];
    expect(first.lines[0]).toBe(`The push refers to repository [${reg.host}/p]`);
    expect(first.lines).toContain(`${layer.slice(7, 19)}: Preparing`);
    expect(first.lines).toContain(`${layer.slice(7, 19)}: Pushed`);
    expect(first.lines.at(-1)).toBe(`1: digest: ${digest} size: ${size}`);
    expect(first.msgs.at(-1)).toEqual({ progressDetail: {}, aux: { Tag: '1', Digest: digest, Size: size } });
    const man = JSON.parse(reg.manifests.get('p')!.get('1')!.body.toString());
    expect(man.mediaType).toBe(MEDIA.dockerManifest);
    expect(man.config).toMatchObject({ mediaType: MEDIA.dockerConfig, digest: `sha256:${id}` });
    expect(man.layers[0].mediaType).toBe(MEDIA.dockerLayerGzip);
    expect(d.images.resolve(`${reg.host}/p:1`).repoDigests).toEqual([`${reg.host}/p@${digest}`]);

    const again = await push(`${reg.host}/p:1`);
    expect(again.lines).toContain(`${layer.slice(7, 19)}: Layer already exists`);
    await d.images.tag(`${reg.host}/p:1`, `${reg.host}/q`, '2');
    const other = await push(`${reg.host}/q`, '2');
    expect(other.lines).toContain(`${layer.slice(7, 19)}: Mounted from p`);
    expect((other.out as { digest: string }[])[0]!.digest).toBe(digest);

    // rmi (the last tag of a repository takes its digest name with it), then pull back
    await d.images.remove(`${reg.host}/q:2`);
    const rm = await d.images.remove(`${reg.host}/p:1`);
    expect(rm).toEqual([{ Untagged: `${reg.host}/p:1` }, { Untagged: `${reg.host}/p@${digest}` }, { Deleted: `sha256:${id}` }]);
    expect(leftovers()).toEqual(NOTHING);
    const back = await pull(`${reg.host}/p:1`);
    expect(back.images[0]!.id).toBe(id);
  });

  it('pushes every local tag of a repository without a tag; refuses what is not there', async () => {
    await importImage(`${reg.host}/r:a`);
    await d.images.tag(`${reg.host}/r:a`, `${reg.host}/r`, 'b');
    const all = await push(`${reg.host}/r`);
    expect((all.out as { tag: string }[]).map((o) => o.tag)).toEqual(['a', 'b']);
    expect([...reg.manifests.get('r')!.keys()].filter((k) => !k.startsWith('sha256:')).sort()).toEqual(['a', 'b']);
    expect((await rejection(push(`${reg.host}/r`, 'zz'))).message).toBe(`tag does not exist: ${reg.host}/r:zz`);
    expect((await rejection(push(`${reg.host}/none`))).message).toBe(`An image does not exist locally with the tag: ${reg.host}/none`);
  });
});

describe('fetchLayer with an unpack beside it', () => {
  async function setupFetch() {
    const { randomBytes } = await import('node:crypto');
    const tar = await makeTar([{ name: 'a.bin', content: randomBytes(3_000_000) }]);
    const blob = gzipSync(tar);
    reg.addBlob('f', blob);
    const desc = { mediaType: MEDIA.dockerLayerGzip, digest: sha(blob), size: blob.length };
    const client = new RegistryClient({ insecure: [], mirrors: [], userAgent: 'test' });
    const repo = client.repository({ domain: reg.host, path: 'f' }, { actions: ['pull'] });
    const blobs = new BlobStore(join(d.config.dataRoot, 'fetch'));
    await blobs.init();
    return { tar, desc, client, repo, blobs };
  }

  it('an I/O error of the unpack stops the download and leaves no blob', async () => {
    const { tar, desc, client, repo, blobs } = await setupFetch();
    const sink: LayerSink = async (source) => {
      for await (const _ of source) break;
      throw Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' });
    };
    await expect(fetchLayer(repo, blobs, desc, sha(tar), undefined, sink)).rejects.toThrow('ENOSPC');
    expect(readdirSync(blobs.tmpDir)).toEqual([]);
    expect(await blobs.has(sha(tar))).toBe(false);
    client.close();
  });

  it('with an unpack no blob is kept: the unpack gets the tar-split record; without one the blob is stored; an unpack failing after verification fails it', async () => {
    const { tar, desc, client, repo, blobs } = await setupFetch();
    let record: Buffer | undefined;
    const keep: LayerSink = async (source, verified) => {
      for await (const _ of source) void _;
      record = (await verified).tarSplit;
    };
    expect(await fetchLayer(repo, blobs, desc, sha(tar), undefined, keep)).toEqual({ exact: true });
    expect(record?.subarray(0, 4).toString()).toBe('BTS1');
    expect(await blobs.has(sha(tar))).toBe(false);
    expect(await fetchLayer(repo, blobs, desc, sha(tar), undefined, async () => ({ size: 1 }))).toEqual({ exact: true });
    expect(await fetchLayer(repo, blobs, desc, sha(tar))).toEqual({ exact: false, blob: { digest: sha(tar), size: tar.length, created: true } });
    expect(sha(await blobs.read(sha(tar)))).toBe(sha(tar));
    await blobs.delete(sha(tar));
    const late: LayerSink = async (source, verified) => {
      for await (const _ of source) void _;
      await verified;
      throw Object.assign(new Error('EIO: i/o error, rename'), { code: 'EIO' });
    };
    await expect(fetchLayer(repo, blobs, desc, sha(tar), undefined, late)).rejects.toThrow('EIO');
    expect(await blobs.has(sha(tar))).toBe(false);
    expect(readdirSync(blobs.tmpDir)).toEqual([]);
    client.close();
  });
});

describe('routes', () => {
  const lines = (body: string) => body.trim().split('\n').map((l) => JSON.parse(l) as JsonMessage);

  it('POST /images/create?fromImage: errors before any progress are HTTP errors', async () => {
    const r = await app.inject({ method: 'POST', url: `/v1.51/images/create?fromImage=${reg.host}/nope&tag=latest` });
    expect(r.statusCode).toBe(404);
    expect(r.headers['content-type']).toBe('application/json');
    expect(JSON.parse(r.body)).toEqual({ message: `manifest for ${reg.host}/nope:latest not found: manifest unknown: manifest unknown` });
  });

  it('streams progress as application/json lines; a later failure ends it with errorDetail', async () => {
    const L = await layers();
    publish('x', '1', L);
    const ok = await app.inject({ method: 'POST', url: `/images/create?fromImage=${reg.host}/x&tag=1` });
    expect(ok.statusCode).toBe(200);
    expect(ok.headers['content-type']).toBe('application/json');
    expect(lines(ok.body).at(-1)).toEqual({ status: `Status: Downloaded newer image for ${reg.host}/x:1` });
    publish('y', '1', L.slice(0, 1));
    const bad = Buffer.from(L[0]!.blob);
    bad[5] ^= 1;
    reg.tamper.set(sha(L[0]!.blob), bad);
    await d.images.remove(`${reg.host}/x:1`);
    const r = await app.inject({ method: 'POST', url: `/images/create?fromImage=${reg.host}/y&tag=1` });
    expect(r.statusCode).toBe(200);
    const last = lines(r.body).at(-1)!;
    expect(last.error).toMatch(/does not match its digest/);
    expect(last.errorDetail).toEqual({ message: last.error });
  });

  it('uses the X-Registry-Auth header for pull and push', async () => {
    await teardown();
    await setup({ auth: { kind: 'basic', user: 'u', pass: 'p' } });
    const L = await layers();
    publish('x', '1', L);
    const anon = await app.inject({ method: 'POST', url: `/images/create?fromImage=${reg.host}/x&tag=1` });
    expect(anon.statusCode).toBe(403);
    expect(JSON.parse(anon.body).message).toMatch(/^pull access denied for/);
    const auth = Buffer.from(JSON.stringify({ username: 'u', password: 'p', serveraddress: reg.host })).toString('base64url');
    const ok = await app.inject({ method: 'POST', url: `/images/create?fromImage=${reg.host}/x&tag=1`, headers: { 'x-registry-auth': auth } });
    expect(ok.statusCode).toBe(200);
    const push = await app.inject({ method: 'POST', url: `/images/${reg.host}/x/push?tag=1`, headers: { 'x-registry-auth': auth } });
    expect(push.statusCode).toBe(200);
    expect(lines(push.body).at(-1)!.aux).toMatchObject({ Tag: '1' });
    const badHeader = await app.inject({ method: 'POST', url: `/images/create?fromImage=${reg.host}/x&tag=1`, headers: { 'x-registry-auth': '!!' } });
    expect(badHeader.statusCode).toBe(400);
  });

  it('POST /auth checks credentials with the registry', async () => {
    await teardown();
    await setup({ auth: { kind: 'bearer', user: 'u', pass: 'p' } });
    const ok = await app.inject({ method: 'POST', url: '/v1.51/auth', payload: { username: 'u', password: 'p', serveraddress: reg.host } });
    expect(ok.statusCode).toBe(200);
    expect(JSON.parse(ok.body)).toEqual({ Status: 'Login Succeeded', IdentityToken: '' });
    const bad = await app.inject({ method: 'POST', url: '/auth', payload: { username: 'u', password: 'x', serveraddress: reg.host } });
    expect(bad.statusCode).toBe(403);
    expect(JSON.parse(bad.body).message).toBe(`login to ${reg.host} failed: unauthorized: incorrect username or password`);
  });
});
