// Layer downloads in the worker thread (dist/bin/layer-worker.mjs, built by `npm run build`):
// fetchLayer through it against the in-process registry — what the unpack and the store get, a
// redirect to another origin, answers other than 200 asked again in-process, a tampered blob, bad
// gzip, a cancellation and an I/O error of the unpack, each leaving nothing behind — and a whole
// pull through the image service with the worker.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { gzipSync } from 'node:zlib';
import { makeTar } from '../../helpers/images.js';
import { RegistryClient } from '../../../daemon/images/registry/client.js';
import { fetchLayer, type LayerSink } from '../../../daemon/images/registry/pull.js';
import { LayerWorkers } from '../../../daemon/images/registry/offload.js';
import { BlobStore } from '../../../daemon/images/blobs.js';
import { MEDIA } from '../../../daemon/images/registry/manifest.js';
import { isBerthError } from '../../../drivers/errors.js';
import { FakeRegistry, sha } from './fake-registry.js';

const WORKER = resolve(import.meta.dirname, '../../../dist/bin/layer-worker.mjs');
const built = existsSync(WORKER);

describe.skipIf(!built)('fetchLayer in the layer worker (skipped: run `npm run build` first)', () => {
  let reg: FakeRegistry;
  let dir: string;
  let blobs: BlobStore;
  let workers: LayerWorkers;
  let client: RegistryClient;
  let calls: number;

  async function setup(opts: ConstructorParameters<typeof FakeRegistry>[0] = {}) {
    reg = await new FakeRegistry(opts).start();
    dir = mkdtempSync(join(tmpdir(), 'berth-offload-'));
    blobs = new BlobStore(join(dir, 'image'));
    await blobs.init();
    workers = new LayerWorkers(WORKER, 1);
    const fetch = workers.fetch.bind(workers);
    calls = 0;
    workers.fetch = (o, h) => {
      calls++;
      return fetch(o, h);
    };
    client = new RegistryClient({ insecure: [], mirrors: [], userAgent: 'test', layerWorker: workers });
  }

  afterEach(async () => {
    client.close();
    await reg.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  async function layer(size = 3_000_000) {
    const tar = await makeTar([{ name: 'a.bin', content: randomBytes(size) }, { name: 'b.txt', content: 'b\n' }]);
    const blob = gzipSync(tar);
    reg.addBlob('r', blob);
    const desc = { mediaType: MEDIA.dockerLayerGzip, digest: sha(blob), size: blob.length };
    const repo = client.repository({ domain: reg.host, path: 'r' }, { actions: ['pull'] });
    await repo.blobSize(desc.digest); // the first request picks the endpoint (the worker needs it)
    return { tar, blob, desc, repo };
  }

  /** An unpack that hashes what it reads and keeps it once verified. */
  function sink(): { fn: LayerSink; got: () => string; kept: () => boolean; record: () => Buffer | undefined } {
    const h = createHash('sha256');
    let kept = false;
    let record: Buffer | undefined;
    return {
      fn: async (source, verified) => {
        for await (const c of source) h.update(c);
        record = (await verified).tarSplit;
        kept = true;
      },
      got: () => `sha256:${h.digest('hex')}`,
      kept: () => kept,
      record: () => record,
    };
  }

  const leftovers = () => readdirSync(blobs.tmpDir);

  it('downloads, verifies and hands the unpack every byte and the tar-split record (no blob); progress counts the compressed bytes', async () => {
    await setup();
    const { tar, desc, repo } = await layer();
    const s = sink();
    const seen: number[] = [];
    const w = await fetchLayer(repo, blobs, desc, sha(tar), (n) => seen.push(n), s.fn);
    expect(calls).toBe(1);
    expect(w).toEqual({ exact: true });
    expect(s.got()).toBe(sha(tar));
    expect(s.kept()).toBe(true);
    expect(s.record()?.subarray(0, 4).toString()).toBe('BTS1');
    expect(await blobs.has(sha(tar))).toBe(false);
    expect(seen.at(-1)).toBe(desc.size);
    expect(seen.every((n, i) => i === 0 || n >= seen[i - 1]!)).toBe(true); // (worker progress comes at most every 50 ms)
    expect(leftovers()).toEqual([]);
  });

  it('unpackInto: the worker unpacks into the given dir (the bytes never come here); a sink that takes neither is not waited for', async () => {
    await setup();
    const { tar, desc, repo } = await layer();
    const into = join(dir, 'unpacked');
    mkdirSync(into);
    let got: { size: number; skipped: string[] } | undefined;
    let record: Buffer | undefined;
    const fn: LayerSink = async (_source, verified, unpackInto) => {
      got = await unpackInto!(into, { whiteouts: 'keep', chown: false });
      record = (await verified).tarSplit;
    };
    expect(await fetchLayer(repo, blobs, desc, sha(tar), undefined, fn)).toEqual({ exact: true });
    expect(got).toEqual({ size: 3_000_000 + 2, skipped: [] });
    expect(readFileSync(join(into, 'b.txt'), 'utf8')).toBe('b\n');
    expect(statSync(join(into, 'a.bin')).size).toBe(3_000_000);
    expect(record?.subarray(0, 4).toString()).toBe('BTS1');
    // a driver that had the layer: reads nothing, calls nothing
    expect(await fetchLayer(repo, blobs, desc, sha(tar), undefined, async () => ({ size: 1 }))).toEqual({ exact: true });
    expect(calls).toBe(2);
    expect(leftovers()).toEqual([]);
  });

  it('unpackInto: a tar the unpack refuses (right digests) is a layer error, nothing escapes', async () => {
    await setup();
    const evil = await makeTar([{ name: '../escape', content: 'x' }]);
    const blob = gzipSync(evil);
    reg.addBlob('r', blob);
    const desc = { mediaType: MEDIA.dockerLayerGzip, digest: sha(blob), size: blob.length };
    const repo = client.repository({ domain: reg.host, path: 'r' }, { actions: ['pull'] });
    await repo.blobSize(desc.digest);
    const into = join(dir, 'evil');
    mkdirSync(into);
    let unpackErr: unknown;
    const fn: LayerSink = async (_source, verified, unpackInto) => {
      try {
        await unpackInto!(into, { whiteouts: 'overlay', chown: false });
        await verified;
      } catch (e) {
        unpackErr = e;
        throw e;
      }
    };
    const err = await fetchLayer(repo, blobs, desc, sha(evil), undefined, fn).catch((e: unknown) => e);
    expect(isBerthError(unpackErr) && unpackErr.code).toBe('invalid_parameter');
    expect(isBerthError(err) && err.code).toBe('invalid_parameter');
    expect((err as Error).message).toMatch(/^layer sha256:[0-9a-f]+ of 127\.0\.0\.1:\d+\/r: .*climbs out with "\.\."/);
    expect(existsSync(join(dir, 'escape'))).toBe(false);
    expect(leftovers()).toEqual([]);
  });

  it('without an unpack, stores the blob (written by the worker, renamed here)', async () => {
    await setup();
    const { tar, desc, repo } = await layer();
    expect(await fetchLayer(repo, blobs, desc, sha(tar))).toEqual({ exact: false, blob: { digest: sha(tar), size: tar.length, created: true } });
    expect(calls).toBe(1);
    expect(sha(await blobs.read(sha(tar)))).toBe(sha(tar));
    expect(leftovers()).toEqual([]);
  });

  it('follows a redirect to another origin without the Authorization header', async () => {
    await setup({ redirectBlobs: true, auth: { kind: 'bearer', user: 'u', pass: 'p', anonymousPull: true } });
    const { tar, desc, repo } = await layer(100_000);
    const s = sink();
    await fetchLayer(repo, blobs, desc, sha(tar), undefined, s.fn);
    expect(calls).toBe(1);
    expect(s.got()).toBe(sha(tar));
    expect(reg.storageLog.length).toBeGreaterThan(0);
    expect(reg.storageLog.every((l) => l.authorization === undefined)).toBe(true);
    expect(reg.log.some((l) => l.url.includes('/blobs/') && l.method === 'GET' && l.authorization?.startsWith('Bearer '))).toBe(true);
  });

  it('an answer other than 200 is asked again in-process, which words the error', async () => {
    await setup();
    const { tar, desc, repo } = await layer(1000);
    reg.repoBlobs.get('r')!.delete(desc.digest);
    const err = await fetchLayer(repo, blobs, desc, sha(tar)).catch((e: unknown) => e);
    expect(calls).toBe(1);
    expect(isBerthError(err) && err.code).toBe('not_found');
    expect(reg.log.filter((l) => l.method === 'GET' && l.url.includes(desc.digest))).toHaveLength(2);
    expect(leftovers()).toEqual([]);
  });

  it('a tampered blob is refused and leaves nothing; the unpack is told', async () => {
    await setup();
    const { tar, blob, desc, repo } = await layer(500_000);
    const bad = Buffer.from(blob);
    bad[bad.length - 100]! ^= 1;
    reg.tamper.set(desc.digest, bad);
    let unpackErr: unknown;
    const fn: LayerSink = async (source, verified) => {
      try {
        for await (const _ of source) void _;
        await verified;
      } catch (e) {
        unpackErr = e;
        throw e;
      }
    };
    const err = await fetchLayer(repo, blobs, desc, sha(tar), undefined, fn).catch((e: unknown) => e);
    expect((err as Error).message).toMatch(/does not match its digest/);
    expect(unpackErr).toBe(err);
    expect(await blobs.has(sha(tar))).toBe(false);
    expect(leftovers()).toEqual([]);
  });

  it('bad gzip with the right digest is a layer error; a wrong diff id is refused', async () => {
    await setup();
    const junk = Buffer.concat([Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3]), randomBytes(5000)]);
    reg.addBlob('r', junk);
    const repo = client.repository({ domain: reg.host, path: 'r' }, { actions: ['pull'] });
    await repo.blobSize(sha(junk));
    const err = await fetchLayer(repo, blobs, { mediaType: MEDIA.dockerLayerGzip, digest: sha(junk), size: junk.length }, sha('x')).catch((e: unknown) => e);
    expect(isBerthError(err) && err.code).toBe('invalid_parameter');
    expect((err as Error).message).toMatch(/^layer sha256:[0-9a-f]+ of 127\.0\.0\.1:\d+\/r: /);
    const { desc } = await layer(1000);
    const err2 = await fetchLayer(repo, blobs, desc, sha('not it')).catch((e: unknown) => e);
    expect((err2 as Error).message).toMatch(/does not match the diff id/);
    expect(leftovers()).toEqual([]);
  });

  it('a cancellation stops the download and leaves nothing', async () => {
    await setup({ blobDelayMs: 300 });
    const ac = new AbortController();
    const { tar, desc } = await layer(1000);
    const repo = client.repository({ domain: reg.host, path: 'r' }, { actions: ['pull'], signal: ac.signal });
    await repo.blobSize(desc.digest);
    setTimeout(() => ac.abort(new Error('pull cancelled')), 50);
    const err = await fetchLayer(repo, blobs, desc, sha(tar), undefined, sink().fn).catch((e: unknown) => e);
    expect(calls).toBe(1);
    expect((err as Error).message).toMatch(/pull cancelled/);
    expect(leftovers()).toEqual([]);
  });

  it('workers closed mid-download (shutdown) fail it at once; the next download starts a new worker', async () => {
    await setup({ blobDelayMs: 300 });
    const { tar, desc, repo } = await layer(1000);
    const pending = fetchLayer(repo, blobs, desc, sha(tar), undefined, sink().fn);
    await new Promise((r) => setTimeout(r, 100));
    workers.close();
    await expect(pending).rejects.toThrow('the layer download worker stopped: it was closed');
    expect(leftovers()).toEqual([]);
    const s = sink();
    expect(await fetchLayer(repo, blobs, desc, sha(tar), undefined, s.fn)).toEqual({ exact: true });
    expect(s.got()).toBe(sha(tar));
  });

  it('an I/O error of the unpack stops the download and leaves no blob', async () => {
    await setup();
    const { tar, desc, repo } = await layer();
    const fn: LayerSink = async (source) => {
      for await (const _ of source) break;
      throw Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' });
    };
    await expect(fetchLayer(repo, blobs, desc, sha(tar), undefined, fn)).rejects.toThrow('ENOSPC');
    expect(await blobs.has(sha(tar))).toBe(false);
    expect(leftovers()).toEqual([]);
  });
});

describe.skipIf(!built)('a pull through the image service with the layer worker', () => {
  let cleanup: () => void;
  let reg: FakeRegistry;
  beforeEach(async () => {
    reg = await new FakeRegistry().start();
  });
  afterEach(async () => {
    await reg.stop();
    cleanup?.();
  });

  it('pulls a two-layer image and a container could use it', async () => {
    const { unitDaemon } = await import('../../helpers/unit-daemon.js');
    const vfs = (await import('../../../drivers/image/vfs/index.js')).default;
    const { realSys } = await import('../../../drivers/sys/index.js');
    const { makeNames } = await import('../../../drivers/names.js');
    const { silentLog } = await import('../../../drivers/log.js');
    const u = await unitDaemon(['--storage-driver', 'vfs'], { layerWorker: WORKER });
    cleanup = u.cleanup;
    const d = u.d;
    d.engine.install(
      await vfs({
        sys: realSys(),
        records: d.store,
        names: makeNames('bw'),
        log: silentLog,
        config: { dataRoot: d.config.dataRoot, execRoot: d.config.execRoot, bridge: 'x', icc: true, ipForward: false, runtime: 'runc', storageDriver: 'vfs' },
      }),
    );
    const tars = [await makeTar([{ name: 'etc/', type: 'directory' }, { name: 'etc/hostname', content: 'one\n' }]), await makeTar([{ name: 'big.bin', content: randomBytes(2_000_000) }])];
    const layers = tars.map((t) => {
      const gz = gzipSync(t);
      return { mediaType: MEDIA.dockerLayerGzip, digest: reg.addBlob('img', gz), size: gz.length };
    });
    const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', config: {}, rootfs: { type: 'layers', diff_ids: tars.map((t) => sha(t)) } }));
    const cdigest = reg.addBlob('img', config);
    const manifest = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MEDIA.dockerManifest, config: { mediaType: MEDIA.dockerConfig, digest: cdigest, size: config.length }, layers }));
    reg.addManifest('img', 'latest', manifest, MEDIA.dockerManifest);
    const messages: string[] = [];
    const [img] = await d.images.pull(`${reg.host}/img:latest`, { progress: (m) => messages.push(JSON.stringify(m)) });
    expect(img!.layers).toEqual(tars.map((t) => sha(t)));
    expect(messages.filter((m) => m.includes('"Pull complete"'))).toHaveLength(2);
    d.images.shutdown();
  });
});
