// Pull one image: manifest (an index resolves to this platform's manifest), config, then the
// layers three at a time. Each layer streams from the registry in one pass (fetchLayer): a sha256
// of the compressed bytes, the decompressor, a sha256 of what comes out (the diff id), a tar
// splitter, and the storage driver's unpack into a temp dir — with a layer worker (offload.ts) all
// of it in a worker thread. The layer is kept once: unpacked, with its tar-split record, and only
// when both digests match; a layer whose tar the record cannot rebuild also gets its blob. Layers
// the store has are skipped. Every step that adds something registers its undo on the job, so a
// failed or cancelled pull leaves nothing; a pull cut short by a crash leaves only temp dirs and
// files, swept at the next start. The record comes last.
import { createHash } from 'node:crypto';
import { finished } from 'node:stream/promises';
import type { Job } from '../../../drivers/handlers.js';
import { BerthError, invalidParameter, notFound } from '../../../drivers/errors.js';
import { archiveError } from '../../../drivers/image/layer/compression.js';
import { PushDecoder } from '../../../drivers/image/layer/decoder.js';
import type { BlobStore, StagedBlob, WrittenBlob } from '../blobs.js';
import type { LayerStream, LayerVerified } from '../../../drivers/handlers.js';
import type { Download } from './offload.js';
import { TarSplitter, type SplitResult } from '../../../drivers/image/layer/tarsplit.js';
import { Channel } from './channel.js';
import { DIGEST_RE, hexOf, sha256 } from '../blobs.js';
import { familiarName, familiarString, type Reference } from '../reference.js';
import type { ConfigBlob, ImageRecord } from '../types.js';
import type { Credentials } from './auth.js';
import type { RegistryClient, Repository } from './client.js';
import { inBatches } from './concurrency.js';
import { readSmall } from './http.js';
import { CONFIG_LIMIT, configMatches, platformString, selectManifest, type Descriptor, type Platform } from './manifest.js';
import type { BlobSource, DistributionMetadata } from './metadata.js';
import { action, bytes, message, shortId, Throttle, type ProgressSink } from './progress.js';

/** Layer downloads at a time. */
export const PULL_CONCURRENCY = 3;

/** What a pull needs from the image service (the store side). */
export interface PullStore {
  blobs: BlobStore;
  metadata: DistributionMetadata;
  /** Layer downloads in flight in this daemon, by diff id (two pulls of one layer share one). */
  downloads: Map<string, Promise<unknown>>;
  /** Unpack a layer blob with the storage driver (idempotent). */
  unpack(diffId: string, job: Job): Promise<{ size: number }>;
  /** Unpack a layer while it downloads: the driver keeps it once `verified` resolves. */
  unpackStream(diffId: string, source: AsyncIterable<Uint8Array>, verified: Promise<LayerVerified>, unpackInto: UnpackInto | undefined, job: Job): Promise<{ size: number }>;
  /** Whether the layer's tar is here: a blob, or an unpacked layer with its tar-split record. */
  hasLayer(diffId: string, job: Job): Promise<boolean>;
  image(id: string): ImageRecord | undefined;
  /** The record of a verified config whose layers are in the store (writes the config blob). */
  record(config: Buffer, diffIds: string[], job: Job): Promise<ImageRecord>;
  /** Give the image these tags and repo digests: the record as stored, and whether a name was new to it. */
  commit(rec: ImageRecord, tags: string[], digests: string[]): Promise<{ image: ImageRecord; named: boolean }>;
  /** A blob some image record uses (never deleted by an undo). */
  isReferenced(digest: string): boolean;
}

export interface PullRequest {
  /** With a tag or a digest. */
  ref: Reference;
  /** The platform asked for (`--platform`); undefined means this machine's, leniently. */
  platform: Platform | undefined;
  defaultPlatform: Platform;
  creds?: Credentials | undefined;
  signal?: AbortSignal | undefined;
  progress: ProgressSink;
}

export interface PullResult {
  image: ImageRecord;
  /** Digest of what the reference named (the index, for a multi-platform image). */
  digest: string;
  /** Something was downloaded or a name moved ("Downloaded newer image" rather than "up to date"). */
  changed: boolean;
}

export async function pullImage(client: RegistryClient, store: PullStore, job: Job, req: PullRequest): Promise<PullResult> {
  const { ref } = req;
  const reference = ref.digest ?? ref.tag;
  if (!reference) throw invalidParameter('a pull needs a tag or a digest');
  const ac = new AbortController();
  const abort = (reason: unknown) => ac.abort(reason);
  job.signal.addEventListener('abort', () => abort(job.signal.reason), { once: true });
  req.signal?.addEventListener('abort', () => abort(req.signal!.reason), { once: true });
  if (req.signal?.aborted) abort(req.signal.reason);
  const repo = client.repository(ref, { creds: req.creds, actions: ['pull'], signal: ac.signal });

  // 1. What to pull: everything is fetched and checked before the first message.
  const top = await repo.manifest(reference);
  let man = top;
  const want = req.platform ?? req.defaultPlatform;
  if (top.parsed.kind === 'index') {
    const d = selectManifest(top.parsed.manifests, want);
    man = await repo.manifest(d.digest);
  }
  if (man.parsed.kind !== 'manifest') throw invalidParameter(`manifest ${man.digest} of ${repo.fullName}: an index inside an index is not supported`);
  const { config: cdesc, layers } = man.parsed;
  const cbytes = await fetchConfig(repo, cdesc);
  const config = parseConfig(cbytes, cdesc.digest);
  const diffIds = config.rootfs!.diff_ids!;
  if (diffIds.length !== layers.length)
    throw invalidParameter(`manifest ${man.digest} of ${repo.fullName} lists ${layers.length} layers but its config ${diffIds.length} diff ids`);
  if (config.os && config.os !== 'linux') throw invalidParameter(`image operating system "${config.os}" cannot be used on this platform`);
  if (req.platform && top.parsed.kind === 'manifest' && !configMatches(config, req.platform))
    throw notFound(
      `image with reference ${familiarString(ref)} was found but does not match the specified platform: wanted ${platformString(req.platform)}, actual: ${config.os}/${config.architecture}${config.variant ? `/${config.variant}` : ''}`,
    );

  req.progress(message(`Pulling from ${ref.path}`, reference));
  const id = hexOf(cdesc.digest);
  const have = store.image(id);
  const pulled: { diffId: string; source: BlobSource }[] = [];
  if (!have || !(await allPresent(store, have.layers, job))) {
    const unique = dedupe(layers, diffIds);
    for (const u of unique) req.progress(action('Pulling fs layer', shortId(u.desc.digest)));
    await inBatches(
      unique,
      PULL_CONCURRENCY,
      async (u) => {
        try {
          const got = await layer(repo, store, job, u.desc, u.diffId, req.progress);
          if (got) pulled.push({ diffId: u.diffId, source: { digest: u.desc.digest, repository: repo.fullName, mediaType: u.desc.mediaType, size: u.desc.size } });
        } catch (e) {
          abort(e);
          throw e;
        }
      },
      (u) => req.progress(action('Waiting', shortId(u.desc.digest))),
    );
  }
  const rec = await store.record(cbytes, diffIds, job);
  const tags = ref.tag !== undefined && !ref.digest ? [familiarString({ domain: ref.domain, path: ref.path, tag: ref.tag })] : [];
  const { image, named } = await store.commit(rec, tags, [`${familiarName(ref)}@${top.digest}`]);
  await Promise.all(pulled.map((p) => store.metadata.add(p.diffId, p.source).catch((err: unknown) => job.log.warn({ err }, 'cannot record where a layer came from'))));
  req.progress(message(`Digest: ${top.digest}`));
  return { image, digest: top.digest, changed: pulled.length > 0 || named };
}

async function allPresent(store: PullStore, diffIds: string[], job: Job): Promise<boolean> {
  for (const d of diffIds) if (!(await store.hasLayer(d, job))) return false;
  return true;
}

/** One entry per distinct layer (an image may hold the same layer twice). */
function dedupe(layers: Descriptor[], diffIds: string[]): { desc: Descriptor; diffId: string }[] {
  const seen = new Set<string>();
  const out: { desc: Descriptor; diffId: string }[] = [];
  layers.forEach((desc, i) => {
    const diffId = diffIds[i]!;
    if (seen.has(diffId)) return;
    seen.add(diffId);
    out.push({ desc, diffId });
  });
  return out;
}

async function fetchConfig(repo: Repository, d: Descriptor): Promise<Buffer> {
  if (d.size > CONFIG_LIMIT) throw invalidParameter(`image config ${d.digest} is too large (${d.size} bytes)`);
  const { body } = await repo.blob(d.digest);
  const buf = await readSmall(body, CONFIG_LIMIT, `image config ${d.digest}`).catch((e: unknown) => {
    if (e instanceof RangeError) throw invalidParameter(e.message);
    throw e;
  });
  const got = sha256(buf);
  if (got !== d.digest) throw invalidParameter(`image config ${d.digest} does not match its digest: the registry sent content with digest ${got}`);
  return buf;
}

function parseConfig(buf: Buffer, digest: string): ConfigBlob {
  let c: ConfigBlob;
  try {
    c = JSON.parse(buf.toString('utf8')) as ConfigBlob;
  } catch {
    throw invalidParameter(`image config ${digest} is not valid JSON`);
  }
  const ids = c?.rootfs?.diff_ids;
  if (!Array.isArray(ids) || !ids.every((d) => typeof d === 'string' && DIGEST_RE.test(d))) throw invalidParameter(`image config ${digest} has no valid rootfs.diff_ids`);
  return c;
}

/** Download (unless present) and unpack one layer. Resolves true when it was downloaded. */
async function layer(repo: Repository, store: PullStore, job: Job, desc: Descriptor, diffId: string, progress: ProgressSink): Promise<boolean> {
  const id = shortId(desc.digest);
  const inflight = store.downloads.get(diffId);
  if (inflight) await inflight.catch(() => {});
  if (await store.hasLayer(diffId, job)) {
    progress(action('Already exists', id));
    await store.unpack(diffId, job);
    return false;
  }
  const p = download(repo, store, job, desc, diffId, progress);
  store.downloads.set(diffId, p);
  try {
    await p;
  } finally {
    if (store.downloads.get(diffId) === p) store.downloads.delete(diffId);
  }
  progress(bytes('Extracting', id, desc.size, desc.size));
  progress(action('Pull complete', id));
  return true;
}

/** Download, verify, store and unpack one layer in one pass (fetchLayer with the driver's unpack). */
async function download(repo: Repository, store: PullStore, job: Job, desc: Descriptor, diffId: string, progress: ProgressSink): Promise<void> {
  const id = shortId(desc.digest);
  const throttle = new Throttle();
  const w = await fetchLayer(
    repo,
    store.blobs,
    desc,
    diffId,
    (n, done) => {
      if (done) {
        progress(bytes('Downloading', id, n, desc.size));
        progress(action('Verifying Checksum', id));
      } else if (throttle.due(id)) progress(bytes('Downloading', id, n, desc.size));
    },
    (source, verified, unpackInto) => store.unpackStream(diffId, source, verified, unpackInto, job),
  );
  if (!(await store.hasLayer(diffId, job))) {
    // No way to rebuild its tar: the record could not capture it (a member replaced an earlier
    // one's file: w.exact is false), or the driver had the layer already without a record. The
    // tar is kept as a blob, fetched again.
    job.log.info({ layer: diffId, exact: w.exact }, 'layer tar kept as a blob: it cannot be rebuilt from the unpacked files');
    const again = await fetchLayer(repo, store.blobs, desc, diffId);
    if (again.blob?.created)
      job.undo.push('delete pulled layer blob', async () => {
        if (!store.isReferenced(diffId)) await store.blobs.delete(diffId);
      });
  }
  progress(action('Download complete', id));
}

/** Where a layer's uncompressed tar goes while it downloads (a storage driver's streamed unpack):
 *  it keeps the layer only once `verified` resolves. Resolves when it kept (or already had) it. */
export type LayerSink = (source: AsyncIterable<Uint8Array>, verified: Promise<LayerVerified>, unpackInto?: UnpackInto) => Promise<unknown>;
/** LayerStream.unpackInto: the layer worker unpacks the bytes itself (then `source` is not read). */
export type UnpackInto = NonNullable<LayerStream['unpackInto']>;

/**
 * Stream one compressed layer blob from the registry, hashing every byte once: the compressed
 * bytes (the blob digest) as they arrive, the decompressed ones (the diff id) as they come out of
 * the decompressor, which hands them on to the storage driver's `unpack` and to a tar splitter
 * (tarsplit.ts) — or, without an unpack, to the content store (a staged temp file). A layer is so
 * stored once: unpacked, with its tar-split record, from which its exact tar is rebuilt for save
 * and push (like Docker's and Podman's); the result's `exact` is false when the record could not
 * capture the tar (a member replaced an earlier one's file): the caller then fetches the blob too.
 * Nothing is kept unless both digests match: the driver's `verified` resolves (with the record)
 * or the staged blob is renamed into `blobs/sha256/<diff id>` only then; otherwise `verified`
 * rejects (the driver removes its temp dir) and the temp file goes. If the decompressing side fails
 * on the data (bad gzip, bad tar), the rest is still read and hashed: a digest mismatch is the
 * error to report when there is one. An I/O error stops it at once. `onBytes(n, done)` sees the
 * bytes received.
 * With a layer worker (offload.ts), the GET, both hashes, the decompressor, the splitter and the
 * blob file or the unpack (through the driver's `unpackInto`) run in that thread; an answer other
 * than 200 there is asked again here.
 */
export async function fetchLayer(
  repo: Repository,
  blobs: BlobStore,
  desc: Descriptor,
  diffId: string,
  onBytes: (n: number, done: boolean) => void = () => {},
  unpack?: LayerSink,
): Promise<Fetched> {
  const staged = unpack ? undefined : await blobs.stage();
  try {
    const f: LayerFetch = { repo, blobs, staged, desc, diffId, onBytes, unpack };
    const off = repo.offload(desc.digest);
    if (off) {
      const got = await inWorker(off, f);
      if (got) return got;
    }
    return await inProcess(f);
  } catch (e) {
    await staged?.discard();
    throw e;
  }
}

/** One fetchLayer call, as its two ways of downloading see it. */
interface LayerFetch {
  repo: Repository;
  blobs: BlobStore;
  /** The blob being written (no unpack), or undefined (an unpack: no blob). */
  staged: StagedBlob | undefined;
  desc: Descriptor;
  diffId: string;
  onBytes: (n: number, done: boolean) => void;
  unpack: LayerSink | undefined;
}

export interface Fetched {
  /** Without an unpack: the blob written (or found) in the content store. */
  blob?: WrittenBlob;
  /** With an unpack: the tar-split record given to the driver captures the tar exactly. */
  exact: boolean;
}

/** The driver's unpack beside one download: the channel it reads, the promise that lets it keep
 *  the layer, and the first data error it met (the digests decide whether that is the one). */
class Beside {
  readonly channel: Channel | undefined;
  readonly verified: Promise<LayerVerified>;
  readonly unpacking: Promise<unknown> | undefined;
  dataError: unknown;
  #verify!: { resolve: (v: LayerVerified) => void; reject: (e: unknown) => void };

  /** `stop` is called with an I/O error of the unpack: the download stops at once. With `dl` (a
   *  download in the layer worker) the driver may have the worker unpack the bytes (unpackInto);
   *  a driver that reads `source` instead gets them sent here; one that does neither (it had the
   *  layer) has them dropped there. */
  constructor(unpack: LayerSink | undefined, stop: (e: unknown) => void, dl?: Download, onExec?: (argv: string[]) => void) {
    this.verified = new Promise<LayerVerified>((resolve, reject) => (this.#verify = { resolve, reject }));
    this.verified.catch(() => {}); // a driver that had the layer never awaits it
    const channel = unpack ? new Channel(1 << 20) : undefined;
    this.channel = channel;
    let decided = false;
    const source: AsyncIterable<Uint8Array> | undefined =
      dl && channel
        ? {
            [Symbol.asyncIterator]: () => {
              if (!decided) dl.forward();
              decided = true;
              return channel[Symbol.asyncIterator]();
            },
          }
        : channel;
    const into: UnpackInto | undefined = dl
      ? (dir, opts) => {
          decided = true;
          return dl.unpack(dir, opts, onExec);
        }
      : undefined;
    // The driver's unpack: it may decline (it has the layer) or fail without ending the download.
    this.unpacking = unpack?.(source!, this.verified, into).finally(() => {
      channel!.abandon();
      if (dl && !decided) dl.skip();
    });
    this.unpacking?.catch((e: unknown) => this.failed(e, stop));
  }

  /** A data error (bad gzip, bad tar) is kept while the download goes on; any other stops it. */
  failed(e: unknown, stop: (e: unknown) => void): void {
    const err = archiveError(e);
    if (err instanceof BerthError && err.code === 'invalid_parameter') this.dataError ??= err;
    else stop(err);
  }

  /** Nothing is kept: the unpack ends with `err`, the staged blob goes. */
  async drop(err: unknown, staged: StagedBlob | undefined): Promise<void> {
    this.channel?.fail(err);
    this.#verify.reject(err);
    await this.unpacking?.catch(() => {});
    await staged?.discard();
  }

  /** Both digests matched: the blob goes into the store (blob mode), then the driver may keep the
   *  layer, with the tar-split record when it is exact. */
  async keep(staged: StagedBlob | undefined, blobs: BlobStore, diffId: string, split: SplitResult | undefined, layerError: (e: unknown) => unknown): Promise<Fetched> {
    this.channel?.end();
    let w: WrittenBlob | undefined;
    try {
      w = await staged?.commit(diffId);
    } catch (e) {
      this.#verify.reject(e);
      this.channel?.fail(e);
      await this.unpacking?.catch(() => {});
      throw e;
    }
    const exact = split?.exact === true;
    this.#verify.resolve({ tarSplit: exact ? split!.record : undefined });
    try {
      await this.unpacking;
    } catch (e) {
      if (w?.created) await blobs.delete(diffId).catch(() => {});
      throw layerError(e);
    }
    return { ...(w ? { blob: w } : {}), exact };
  }
}

const layerErrorOf = (repo: Repository, desc: Descriptor) => (e: unknown) => {
  const err = archiveError(e);
  return err instanceof BerthError ? invalidParameter(`layer ${desc.digest} of ${repo.fullName}: ${err.message}`, err) : err;
};
const announcedError = (repo: Repository, desc: Descriptor, length: number) =>
  invalidParameter(`blob ${desc.digest} of ${repo.fullName}: the registry announced ${length} bytes, the manifest says ${desc.size}`);
const largerError = (repo: Repository, desc: Descriptor) => invalidParameter(`blob ${desc.digest} of ${repo.fullName} is larger than the ${desc.size} bytes its manifest says`);
const digestError = (repo: Repository, desc: Descriptor, n: number, got: string) =>
  invalidParameter(`blob ${desc.digest} of ${repo.fullName} does not match its digest: the registry sent ${n} bytes with digest ${got}`);
const diffIdError = (repo: Repository, desc: Descriptor, diffId: string) =>
  invalidParameter(`layer ${desc.digest} of ${repo.fullName}: its content does not match the diff id ${diffId} of the image config`);

/** The download in the layer worker. Undefined when the registry answered other than 200 there. */
async function inWorker(off: NonNullable<ReturnType<Repository['offload']>>, f: LayerFetch): Promise<Fetched | undefined> {
  const { repo, blobs, staged, desc, diffId, onBytes, unpack } = f;
  const stop = new AbortController();
  let ioError: { e: unknown } | undefined;
  const halt = (e: unknown) => {
    ioError ??= { e };
    stop.abort(e);
  };
  let beside: Beside | undefined;
  const dl: Download = off.worker.fetch(
    { url: off.url.href, headers: off.headers, skipVerify: off.skipVerify, idleMs: off.idleMs, size: desc.size, blobPath: staged?.path, chunks: unpack !== undefined, split: unpack !== undefined },
    {
      onHead: () => (beside = new Beside(unpack, halt, dl, off.onExec)),
      onChunk: (c) => beside?.channel?.push(c),
      onBytes: (n) => onBytes(n, false),
      signal: off.signal ? AbortSignal.any([off.signal, stop.signal]) : stop.signal,
    },
  );
  const end = await dl.done;
  const fail = async (err: unknown): Promise<never> => {
    await beside?.drop(err, staged);
    throw err;
  };
  switch (end.t) {
    case 'status':
      return undefined;
    case 'length':
      return fail(announcedError(repo, desc, end.length));
    case 'large':
      return fail(largerError(repo, desc));
    case 'error': {
      if (ioError) return fail(ioError.e);
      if (end.kind === 'io') return fail(Object.assign(new Error(end.message), { code: end.code }));
      if (end.code === 'ABORT_ERR') return fail(new BerthError('system', end.message));
      return fail(new BerthError('system', `registry ${repo.endpoint?.registry ?? repo.name.domain} is unreachable: ${end.message}`));
    }
  }
  const b = beside!;
  if (ioError) return fail(ioError.e);
  onBytes(end.n, true);
  if (end.digest !== desc.digest || end.n !== desc.size) return fail(digestError(repo, desc, end.n, end.digest));
  const layerError = layerErrorOf(repo, desc);
  if (end.decodeError) {
    await b.drop(end.decodeError, staged);
    throw layerError(Object.assign(new Error(end.decodeError.message), { code: end.decodeError.code }));
  }
  if (end.diffId !== diffId) return fail(diffIdError(repo, desc, diffId));
  if (b.dataError !== undefined) {
    await b.drop(b.dataError, staged);
    throw layerError(b.dataError);
  }
  staged?.adopt(end.out);
  const split = end.split ? { record: Buffer.from(end.split.record), size: end.split.size, exact: end.split.exact } : undefined;
  return b.keep(staged, blobs, diffId, split, layerError);
}

/** The download in this event loop. */
async function inProcess(f: LayerFetch): Promise<Fetched> {
  const { repo, blobs, staged, desc, diffId, onBytes, unpack } = f;
  const { body, length } = await repo.blob(desc.digest);
  if (length !== undefined && length !== desc.size) {
    body.destroy();
    throw announcedError(repo, desc, length);
  }
  const b = new Beside(unpack, (e) => body.destroy(e as Error));

  // Decompressed bytes: hashed for the diff id, handed to the blob file and to the unpack.
  const diffHash = createHash('sha256');
  const splitter = unpack ? new TarSplitter({ whiteouts: 'overlay' }) : undefined;
  const decoder = new PushDecoder((c) => {
    diffHash.update(c);
    splitter?.push(c);
    const w = staged?.write(c);
    const u = b.channel?.push(c);
    return w && u ? Promise.all([w, u]).then(() => {}) : (w ?? u);
  });
  /** Set when the decoder (or a writer behind it) failed: the rest is only read and hashed. */
  let decodeFailure: { e: unknown } | undefined;
  const decodeFailed = (e: unknown) => {
    decodeFailure ??= { e };
    b.failed(e, (err) => body.destroy(err as Error));
  };
  const fail = async (err: unknown): Promise<never> => {
    decoder.destroy();
    await b.drop(err, staged);
    throw err;
  };

  // Compressed bytes: hashed for the blob digest and fed to the decoder as they arrive (events,
  // not an async iterator, which would join chunks that wait into a new buffer).
  const hash = createHash('sha256');
  let n = 0;
  body.on('data', (c: Buffer) => {
    hash.update(c);
    n += c.length;
    if (n > desc.size) return void body.destroy(largerError(repo, desc));
    onBytes(n, false);
    if (decodeFailure) return;
    const p = decoder.write(c);
    if (!p) return;
    body.pause();
    p.then(
      () => body.resume(),
      (e: unknown) => {
        decodeFailed(e);
        body.resume();
      },
    );
  });
  try {
    await finished(body);
  } catch (e) {
    body.destroy();
    return fail(e);
  }
  onBytes(n, true);
  const got = `sha256:${hash.digest('hex')}`;
  if (got !== desc.digest || n !== desc.size) return fail(digestError(repo, desc, n, got));
  const layerError = layerErrorOf(repo, desc);
  if (!decodeFailure) await decoder.end().catch(decodeFailed);
  if (decodeFailure) {
    await fail(decodeFailure.e).catch(() => {});
    throw layerError(decodeFailure.e);
  }
  if (`sha256:${diffHash.digest('hex')}` !== diffId) return fail(diffIdError(repo, desc, diffId));
  if (b.dataError !== undefined) {
    await fail(b.dataError).catch(() => {});
    throw layerError(b.dataError);
  }
  return b.keep(staged, blobs, diffId, splitter?.finish(), layerError);
}
