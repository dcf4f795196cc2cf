// The image service: image records (store kind "image"), the content store, and the use cases
// import / load / save / tag / remove / prune, each run as an engine job whose steps undo on failure.
// Layers are unpacked by the storage driver (--storage-driver) through engine handlers, once per
// layer; containers get their rootfs from mount/unmount. Events are published as Docker does.
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pack } from 'tar-stream';
import type { Job, LayerTar } from '../../drivers/handlers.js';
import { BerthError, conflict, invalidParameter, notFound } from '../../drivers/errors.js';
import { archiveError, decompress } from '../../drivers/image/layer/compression.js';
import type { Daemon } from '../daemon.js';
import { goArch } from '../api/routes/system.js';
import { BlobStore, hexOf, sha256, DIGEST_RE } from './blobs.js';
import { openSource, readArchive } from './archive.js';
import { applyChanges } from './changes.js';
import {
  familiarName,
  familiarString,
  fullString,
  parseReference,
  withDefaultTag,
  withTag,
  type Reference,
} from './reference.js';
import type { ConfigBlob, ImageConfig, ImageRecord } from './types.js';
import { filterImages } from './wire.js';
import { VERSION } from '../api/app.js';
import { credentialsFrom, type Credentials } from './registry/auth.js';
import { RegistryClient } from './registry/client.js';
import { LayerWorkers } from './registry/offload.js';
import { parsePlatform } from './registry/manifest.js';
import { DistributionMetadata } from './registry/metadata.js';
import { pullImage, type PullStore } from './registry/pull.js';
import { pushImages, type PushedTag } from './registry/push.js';
import { message, type ProgressSink } from './registry/progress.js';

export interface ImportOptions {
  /** "name" or "name:tag" (docker import's repository argument). */
  repo?: string;
  tag?: string;
  /** Dockerfile instructions (`--change`). */
  changes?: string[];
  message?: string;
  /** What the image was imported from, for the default comment ("-" for the request body). */
  source?: string;
}

export type RemoveItem = { Untagged: string } | { Deleted: string };

/** What pull and push are told by the API: credentials, cancellation, where progress goes. */
export interface RegistryRequest {
  creds?: Credentials | undefined;
  signal?: AbortSignal | undefined;
  progress: ProgressSink;
}

/** Who uses an image: a container id (treated as running), or the id and whether it runs. */
export type ImageUser = string | { id: string; running: boolean } | undefined;

const EPOCH = new Date(0);

export class ImageService {
  readonly #d: Daemon;
  readonly #blobs: BlobStore;
  readonly #ready: Promise<void>;
  readonly #registry: RegistryClient;
  readonly #metadata: DistributionMetadata;
  /** Layer downloads in flight, by diff id (shared by concurrent pulls). */
  readonly #downloads = new Map<string, Promise<unknown>>();
  /** Record changes (tags moving between images, deletions) one at a time. */
  #queue: Promise<unknown> = Promise.resolve();

  /** Set by the container service: which container uses an image (for rmi's 409), or undefined. */
  usedBy: (imageId: string) => ImageUser = () => undefined;

  constructor(d: Daemon) {
    this.#d = d;
    const blobs = new BlobStore(join(d.config.dataRoot, 'image'));
    this.#blobs = blobs;
    // Throws on a bad --insecure-registry or --registry-mirror: the daemon does not start.
    this.#registry = new RegistryClient({
      insecure: d.config.insecureRegistries,
      mirrors: d.config.registryMirrors,
      userAgent: `berth/${VERSION} (linux; ${goArch(process.arch)})`,
      ...(d.layerWorker ? { layerWorker: new LayerWorkers(d.layerWorker), onExec: (argv: string[]) => d.engine.recordExec(argv) } : {}),
    });
    this.#metadata = new DistributionMetadata(join(d.config.dataRoot, 'image'));
    this.#ready = (async () => {
      await blobs.init();
      const n = await blobs.sweepTmp();
      if (n) d.log.info({ count: n }, 'removed temp files of interrupted image writes');
    })();
    this.#ready.catch((err: unknown) => d.log.error({ err }, 'image store: cannot prepare the content store'));
  }

  /** Close registry connections and the layer download worker (the daemon's shutdown). */
  shutdown(): void {
    this.#registry.close();
  }

  /** Settles once the content store is prepared (it is made in the background at construction). */
  ready(): Promise<void> {
    return this.#ready;
  }

  get driver(): string {
    return this.#d.config.storageDriver;
  }

  get blobs(): BlobStore {
    return this.#blobs;
  }

  list(): ImageRecord[] {
    return this.#d.store.list('image');
  }

  get count(): number {
    return this.list().length;
  }

  /** An image by name:tag, name (→ :latest), name@digest, sha256:<id>, or a unique id prefix. */
  find(ref: string): ImageRecord | undefined {
    const all = this.list();
    const full = /^sha256:([0-9a-f]{64})$/.exec(ref);
    if (full) return this.#d.store.get('image', full[1]!);
    let parsed: Reference | undefined;
    try {
      parsed = parseReference(ref);
    } catch {
      parsed = undefined;
    }
    if (parsed) {
      if (parsed.digest) {
        const want = familiarString({ domain: parsed.domain, path: parsed.path, digest: parsed.digest });
        const hit = all.find((i) => i.repoDigests.includes(want));
        if (hit) return hit;
      } else {
        const want = familiarString(withDefaultTag(parsed));
        const hit = all.find((i) => i.repoTags.includes(want));
        if (hit) return hit;
      }
    }
    const hex = ref.startsWith('sha256:') ? ref.slice(7) : ref;
    if (/^[0-9a-f]{1,64}$/.test(hex)) {
      const hits = all.filter((i) => i.id.startsWith(hex));
      if (hits.length === 1) return hits[0];
    }
    return undefined;
  }

  resolve(ref: string): ImageRecord {
    const r = this.find(ref);
    if (!r) throw notFound(`No such image: ${ref}`);
    return r;
  }

  filter(filters: Record<string, string[]>): ImageRecord[] {
    const list = filterImages(this.list(), filters, (r) => this.resolve(r));
    return list.sort((a, b) => Date.parse(b.created) - Date.parse(a.created) || a.id.localeCompare(b.id));
  }

  /** The config blob of an image (history, author, …). */
  async configBlob(img: ImageRecord): Promise<ConfigBlob> {
    return JSON.parse((await this.#blobs.read(`sha256:${img.id}`)).toString('utf8')) as ConfigBlob;
  }

  // ---- containers' rootfs ------------------------------------------------------------------------

  /** Mount (or reuse) a container's rootfs; the layers are unpacked first if the driver lacks one. */
  async mount(containerId: string, image: ImageRecord, parent?: Job): Promise<{ rootfs: string }> {
    await this.#ready;
    const run = async (job: Job) => {
      for (const diffId of image.layers)
        await this.#d.engine.run('image_unpack', this.driver, { layer: { diffId, path: this.#blobs.path(diffId), compression: 'none' } }, job);
      return this.#d.engine.run('image_mount', this.driver, { containerId, layers: image.layers }, job);
    };
    return parent ? run(parent) : this.#d.engine.job('image_mount_rootfs', run);
  }

  async unmount(containerId: string, opts: { remove: boolean }, parent?: Job): Promise<void> {
    await this.#d.engine.run('image_unmount', this.driver, { containerId, remove: opts.remove }, parent);
  }

  /** Remove the rootfs (mounts, upper dirs, copies) of every container not in `keep`: call after
   *  the container records are loaded, to clear what a crash between rm and clean-up left. */
  async pruneRootfs(keep: string[], parent?: Job): Promise<string[]> {
    const { removed } = await this.#d.engine.run('image_prune', this.driver, { keep }, parent);
    if (removed.length) this.#d.log.info({ removed }, 'removed container rootfs no container owns');
    return removed;
  }

  // ---- import ----------------------------------------------------------------------------------

  /** docker import: `body` is a rootfs tar (plain or gzip) that becomes a one-layer image. */
  async importImage(body: AsyncIterable<Uint8Array>, o: ImportOptions = {}): Promise<ImageRecord> {
    await this.#ready;
    // Everything the request says is checked before the first byte is stored.
    const tag = o.repo ? importTag(o.repo, o.tag) : undefined;
    const config = applyChanges({}, o.changes ?? []);
    const comment = o.message || `Imported from ${o.source ?? '-'}`;
    return this.#d.engine.job('image_import', async (job) => {
      const { stream } = await decompress(body);
      const layer = await this.#blobs.write(stream).catch((e: unknown) => {
        throw archiveError(e);
      });
      if (layer.created) job.undo.push('delete layer blob', () => this.#blobs.delete(layer.digest));
      const { size } = await this.#unpack(layer.digest, job);
      const created = new Date().toISOString();
      const blob: ConfigBlob = {
        architecture: goArch(process.arch),
        comment,
        config,
        created,
        history: [{ created, comment }],
        os: 'linux',
        rootfs: { type: 'layers', diff_ids: [layer.digest] },
      };
      const cfg = await this.#blobs.writeBuffer(JSON.stringify(blob));
      if (cfg.created) job.undo.push('delete config blob', () => this.#blobs.delete(cfg.digest));
      const rec: ImageRecord = {
        id: hexOf(cfg.digest),
        repoTags: [],
        repoDigests: [],
        created,
        size,
        architecture: blob.architecture!,
        os: 'linux',
        config,
        layers: [layer.digest],
        comment,
      };
      const saved = await this.#commit(rec, tag ? [tag] : []);
      this.#event('import', saved.id, tag ?? `sha256:${saved.id}`);
      return saved;
    });
  }

  // ---- load ------------------------------------------------------------------------------------

  /** docker load: a docker-archive or OCI-layout tar. Returns Docker's "Loaded image…" lines. */
  async load(body: AsyncIterable<Uint8Array>): Promise<string[]> {
    await this.#ready;
    return this.#d.engine.job('image_load', async (job) => {
      const staging = this.#blobs.tmpPath('load');
      await mkdir(staging, { mode: 0o700 });
      let written: string[] = [];
      try {
        const archive = await readArchive(body, this.#blobs, staging).catch((e: Error & { writtenBlobs?: string[] }) => {
          written = e.writtenBlobs ?? [];
          throw e;
        });
        written = archive.written;
        if (archive.images.length === 0) throw invalidParameter('invalid archive: no images in it');
        const lines: string[] = [];
        const done: { rec: ImageRecord; tags: string[] }[] = [];
        for (const img of archive.images) {
          const rec = await this.#loadOne(img, job);
          done.push({ rec, tags: img.tags });
        }
        for (const { rec, tags } of done) {
          const saved = await this.#commit(rec, tags);
          for (const t of tags) {
            this.#event('load', saved.id, t);
            lines.push(`Loaded image: ${t}`);
          }
          if (tags.length === 0) {
            this.#event('load', saved.id, `sha256:${saved.id}`);
            lines.push(`Loaded image ID: sha256:${saved.id}`);
          }
        }
        return lines;
      } finally {
        await rm(staging, { recursive: true, force: true });
        const keep = this.#referencedBlobs();
        for (const b of written) if (!keep.has(b)) await this.#blobs.delete(b);
      }
    });
  }

  async #loadOne(img: { config: Buffer; tags: string[]; layers: import('./archive.js').LayerSource[] }, job: Job): Promise<ImageRecord> {
    let blob: ConfigBlob;
    try {
      blob = JSON.parse(img.config.toString('utf8')) as ConfigBlob;
    } catch {
      throw invalidParameter('invalid archive: an image config is not valid JSON');
    }
    const diffIds = blob?.rootfs?.diff_ids;
    if (!Array.isArray(diffIds) || !diffIds.every((d) => typeof d === 'string' && DIGEST_RE.test(d)))
      throw invalidParameter('invalid archive: image config without rootfs.diff_ids');
    if (diffIds.length !== img.layers.length)
      throw invalidParameter(`invalid archive: the image has ${img.layers.length} layers but its config lists ${diffIds.length}`);
    let size = 0;
    for (const [i, diffId] of diffIds.entries()) {
      if ((await this.#layerTar(diffId, job)) === undefined) {
        const { stream } = await decompress(openSource(this.#blobs, img.layers[i]!));
        const w = await this.#blobs.write(stream, diffId).catch((e: unknown) => {
          if (e instanceof BerthError && e.code === 'invalid_parameter')
            throw invalidParameter(`invalid archive: layer ${i + 1} does not match its diff id ${diffId}`);
          throw archiveError(e);
        });
        if (w.created) job.undo.push('delete layer blob', () => this.#blobs.delete(diffId));
      }
      size += (await this.#unpack(diffId, job)).size;
    }
    const cfg = await this.#blobs.writeBuffer(img.config);
    if (cfg.created) job.undo.push('delete config blob', () => this.#blobs.delete(cfg.digest));
    const config: ImageConfig = pickConfig(blob.config);
    return {
      id: hexOf(cfg.digest),
      repoTags: [],
      repoDigests: [],
      created: typeof blob.created === 'string' && !Number.isNaN(Date.parse(blob.created)) ? blob.created : EPOCH.toISOString(),
      size,
      architecture: blob.architecture ?? goArch(process.arch),
      os: blob.os ?? 'linux',
      config,
      layers: diffIds,
      ...(blob.comment ? { comment: blob.comment } : {}),
    };
  }

  /** A layer's tar: its blob in the content store (imported, loaded, committed layers), or rebuilt
   *  by the storage driver from the unpacked layer and its tar-split record (pulled layers, which
   *  are stored once). Undefined when neither is here. */
  async #layerTar(diffId: string, job?: Job): Promise<LayerTar | undefined> {
    if (await this.#blobs.has(diffId)) {
      const size = await this.#blobs.size(diffId);
      return { size, open: () => this.#blobs.stream(diffId) };
    }
    return this.#d.engine.run('image_layer_tar', this.driver, { diffId }, job);
  }

  /** Refuses (404) an image whose config or a layer's tar is not here. */
  async #checkComplete(rec: ImageRecord): Promise<void> {
    for (const d of [`sha256:${rec.id}`, ...rec.layers]) {
      const here = d === `sha256:${rec.id}` ? await this.#blobs.has(d) : (await this.#layerTar(d)) !== undefined;
      if (!here) throw notFound(`blob ${d} of image ${rec.id.slice(0, 12)} is missing`);
    }
  }

  #unpack(diffId: string, job: Job): Promise<{ diffId: string; size: number }> {
    return this.#d.engine.run('image_unpack', this.driver, { layer: { diffId, path: this.#blobs.path(diffId), compression: 'none' } }, job);
  }

  // ---- save ------------------------------------------------------------------------------------

  /** docker save: a tar holding both a docker-archive (manifest.json, repositories) and an OCI
   *  layout (oci-layout, index.json, blobs/sha256), as docker 25+ writes. All refs are resolved
   *  before the first byte. */
  async save(refs: string[]): Promise<Readable> {
    await this.#ready;
    if (refs.length === 0) throw invalidParameter('no image names given');
    const chosen = new Map<string, { rec: ImageRecord; tags: Set<string> }>();
    for (const ref of refs) {
      const rec = this.resolve(ref);
      const entry = chosen.get(rec.id) ?? { rec, tags: new Set<string>() };
      chosen.set(rec.id, entry);
      let parsed: Reference | undefined;
      try {
        parsed = parseReference(ref);
      } catch {
        parsed = undefined;
      }
      if (!parsed) continue;
      const name = familiarName(parsed);
      if (parsed.tag !== undefined) {
        const t = familiarString({ ...parsed, digest: undefined } as Reference);
        if (rec.repoTags.includes(t)) entry.tags.add(t);
      } else if (!parsed.digest) {
        const tagged = rec.repoTags.filter((t) => t.slice(0, t.lastIndexOf(':')) === name);
        if (tagged.length === 0) continue;
        // A bare name saves every tag of that repository (docker save busybox).
        for (const other of this.list()) for (const t of other.repoTags) if (t.slice(0, t.lastIndexOf(':')) === name) {
          const e = chosen.get(other.id) ?? { rec: other, tags: new Set<string>() };
          e.tags.add(t);
          chosen.set(other.id, e);
        }
      }
    }
    const images = [...chosen.values()];
    // Everything the tar needs must exist before we start answering.
    for (const { rec } of images) await this.#checkComplete(rec);
    for (const { rec } of images) this.#event('save', rec.id, [...(chosen.get(rec.id)?.tags ?? [])][0] ?? `sha256:${rec.id}`);
    return Readable.from(this.#saveTar(images));
  }

  async *#saveTar(images: { rec: ImageRecord; tags: Set<string> }[]): AsyncGenerator<Uint8Array> {
    const p = pack();
    const producing = (async () => {
      const add = (h: Parameters<typeof p.entry>[0], data?: Buffer) =>
        new Promise<void>((resolve, reject) => {
          const cb = (err?: Error | null) => (err ? reject(err) : resolve());
          if (data) p.entry(h, data, cb);
          else p.entry(h, cb).end(undefined);
        });
      const addFile = async (name: string, tar: LayerTar) =>
        new Promise<void>((resolve, reject) => {
          const sink = p.entry({ name, size: tar.size, mode: 0o444, mtime: EPOCH }, (err) => (err ? reject(err) : resolve()));
          const src = tar.open();
          src.on('error', (e) => {
            sink.destroy(e);
            reject(e);
          });
          src.pipe(sink as unknown as NodeJS.WritableStream);
        });
      const blobOrLayer = async (d: string): Promise<LayerTar> => {
        const t = await this.#layerTar(d);
        if (!t) throw notFound(`blob ${d} is missing`);
        return t;
      };
      await add({ name: 'blobs/', type: 'directory', mode: 0o755, mtime: EPOCH });
      await add({ name: 'blobs/sha256/', type: 'directory', mode: 0o755, mtime: EPOCH });
      const sent = new Set<string>();
      const manifestJson: unknown[] = [];
      const index: unknown[] = [];
      const repositories: Record<string, Record<string, string>> = {};
      for (const { rec, tags } of images) {
        for (const d of [`sha256:${rec.id}`, ...rec.layers]) {
          if (sent.has(d)) continue;
          sent.add(d);
          await addFile(`blobs/sha256/${hexOf(d)}`, await blobOrLayer(d));
        }
        const manifest = Buffer.from(
          JSON.stringify({
            schemaVersion: 2,
            mediaType: 'application/vnd.oci.image.manifest.v1+json',
            config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: `sha256:${rec.id}`, size: await this.#blobs.size(`sha256:${rec.id}`) },
            layers: await Promise.all(
              rec.layers.map(async (l) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: l, size: (await blobOrLayer(l)).size })),
            ),
          }),
        );
        const mdigest = sha256(manifest);
        if (!sent.has(mdigest)) {
          sent.add(mdigest);
          await add({ name: `blobs/sha256/${hexOf(mdigest)}`, size: manifest.length, mode: 0o444, mtime: EPOCH }, manifest);
        }
        const desc = { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: mdigest, size: manifest.length };
        const tagList = [...tags];
        if (tagList.length === 0) index.push(desc);
        for (const t of tagList) {
          const r = parseReference(t);
          index.push({ ...desc, annotations: { 'io.containerd.image.name': fullString(r), 'org.opencontainers.image.ref.name': r.tag ?? 'latest' } });
          (repositories[familiarName(r)] ??= {})[r.tag ?? 'latest'] = hexOf(rec.layers.at(-1) ?? `sha256:${rec.id}`);
        }
        manifestJson.push({ Config: `blobs/sha256/${rec.id}`, RepoTags: tagList.length ? tagList : null, Layers: rec.layers.map((l) => `blobs/sha256/${hexOf(l)}`) });
      }
      const json = (name: string, v: unknown) => {
        const b = Buffer.from(JSON.stringify(v));
        return add({ name, size: b.length, mode: 0o444, mtime: EPOCH }, b);
      };
      await json('index.json', { schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: index });
      await json('manifest.json', manifestJson);
      await json('oci-layout', { imageLayoutVersion: '1.0.0' });
      if (Object.keys(repositories).length) await json('repositories', repositories);
      p.finalize();
    })().catch((e: unknown) => {
      p.destroy(e as Error);
    });
    try {
      for await (const chunk of p) yield chunk as Uint8Array;
    } finally {
      await producing;
    }
  }

  // ---- pull / push / login ---------------------------------------------------------------------

  /** docker pull (POST /images/create?fromImage=&tag=&platform=): `tag` may be a digest; neither a
   *  tag in `fromImage` nor `tag` pulls every tag of the repository. Errors met before the first
   *  progress message reject; the caller streams the rest. */
  async pull(fromImage: string, o: RegistryRequest & { tag?: string | undefined; platform?: string | undefined }): Promise<ImageRecord[]> {
    await this.#ready;
    const ref = pullReference(fromImage, o.tag);
    const platform = o.platform ? parsePlatform(o.platform) : undefined;
    const defaultPlatform = { os: 'linux', architecture: goArch(process.arch) };
    const one = (r: Reference) =>
      this.#d.engine.job('image_pull', async (job) => {
        const res = await pullImage(this.#registry, this.#pullStore(), job, { ref: r, platform, defaultPlatform, creds: o.creds, signal: o.signal, progress: o.progress });
        this.#d.events.publish('image', 'pull', familiarString(r), { name: familiarString(r) });
        return res;
      });
    if (ref.tag !== undefined || ref.digest !== undefined) {
      const res = await one(ref);
      o.progress(message(`Status: ${res.changed ? 'Downloaded newer image' : 'Image is up to date'} for ${familiarString(ref)}`));
      return [res.image];
    }
    const tags = (await this.#registry.repository(ref, { creds: o.creds, actions: ['pull'], signal: o.signal }).tags()).sort();
    if (tags.length === 0) throw notFound(`repository ${familiarName(ref)} has no tags`);
    const out: ImageRecord[] = [];
    let changed = false;
    for (const tag of tags) {
      const res = await one({ ...ref, tag });
      changed ||= res.changed;
      out.push(res.image);
    }
    o.progress(message(`Status: ${changed ? 'Downloaded newer image' : 'Image is up to date'} for ${familiarName(ref)}`));
    return out;
  }

  /** docker push (POST /images/{name}/push?tag=): the tag, or every local tag of the repository. */
  async push(name: string, o: RegistryRequest & { tag?: string | undefined }): Promise<PushedTag[]> {
    await this.#ready;
    const r = parseReference(name);
    if (r.digest) throw invalidParameter('cannot push a digest reference');
    const repoName = familiarName(r);
    const tag = o.tag || r.tag;
    if (tag !== undefined) withTag(r, tag);
    const tags = tag !== undefined ? [tag] : this.#tagsOf(repoName);
    if (tags.length === 0) throw notFound(`An image does not exist locally with the tag: ${repoName}`);
    const list = tags.map((t) => {
      const image = this.find(`${repoName}:${t}`);
      if (!image) throw notFound(`tag does not exist: ${repoName}:${t}`);
      return { tag: t, image };
    });
    for (const { image } of list) await this.#checkComplete(image);
    return this.#d.engine.job('image_push', async (job) => {
      const pushed = await pushImages(
        this.#registry,
        { blobs: this.#blobs, metadata: this.#metadata, layerTar: (d) => this.#layerTar(d, job), addDigest: async (image, rd) => void (await this.#commit(image, [], [rd])) },
        { name: { domain: r.domain, path: r.path }, tags: list, creds: o.creds, signal: o.signal, progress: o.progress },
      );
      for (const { tag: t, image } of list) this.#event('push', image.id, `${repoName}:${t}`);
      return pushed;
    });
  }

  /** POST /auth: check credentials against a registry (nothing is stored: clients keep them). */
  async login(body: Record<string, unknown>, signal?: AbortSignal): Promise<{ Status: string; IdentityToken: string }> {
    const server = typeof body.serveraddress === 'string' ? body.serveraddress : '';
    const creds = credentialsFrom(body) ?? {};
    const r = await this.#registry.login(server, creds, signal);
    return { Status: 'Login Succeeded', IdentityToken: r.identityToken ?? '' };
  }

  #tagsOf(repoName: string): string[] {
    const out: string[] = [];
    for (const i of this.list()) for (const t of i.repoTags) if (t.slice(0, t.lastIndexOf(':')) === repoName) out.push(t.slice(t.lastIndexOf(':') + 1));
    return out.sort();
  }

  #pullStore(): PullStore {
    return {
      blobs: this.#blobs,
      metadata: this.#metadata,
      downloads: this.#downloads,
      unpack: (diffId, job) => this.#unpack(diffId, job),
      unpackStream: (diffId, source, verified, unpackInto, job) => this.#d.engine.run('image_unpack', this.driver, { layer: { diffId, source, verified, unpackInto } }, job),
      hasLayer: async (diffId, job) => (await this.#layerTar(diffId, job)) !== undefined,
      image: (id) => this.#d.store.get('image', id),
      record: (config, diffIds, job) => this.#loadOne({ config, tags: [], layers: diffIds.map((digest) => ({ kind: 'blob' as const, digest })) }, job),
      commit: async (rec, tags, digests) => {
        const before = this.#d.store.get('image', rec.id);
        const had = new Set([...(before?.repoTags ?? []), ...(before?.repoDigests ?? [])]);
        const image = await this.#commit(rec, tags, digests);
        for (const t of tags) if (!had.has(t)) this.#event('tag', rec.id, t);
        return { image, named: [...tags, ...digests].some((n) => !had.has(n)) };
      },
      isReferenced: (digest) => this.#referencedBlobs().has(digest),
    };
  }

  /** Record an image whose blobs are already stored (docker commit: daemon/images/commit.ts),
   *  tagged `tags` (taken from other images, as tag does). */
  async addImage(rec: ImageRecord, tags: string[]): Promise<ImageRecord> {
    const saved = await this.#commit(rec, tags);
    for (const t of tags) this.#event('tag', saved.id, t);
    return saved;
  }

  // ---- tag / remove / prune ---------------------------------------------------------------------

  /** docker tag: `repo` may carry the tag ("x:1"); `tag` overrides it. */
  async tag(ref: string, repo: string, tag?: string): Promise<string> {
    await this.#ready;
    const img = this.resolve(ref);
    if (!repo) throw invalidParameter('repository name must have at least one component');
    let r = parseReference(repo);
    if (r.digest) throw invalidParameter('refusing to create a tag with a digest reference');
    if (r.path === 'library/sha256' || /^[0-9a-f]{64}$/.test(familiarName(r)))
      throw invalidParameter('refusing to create an ambiguous tag using digest algorithm as name');
    r = tag ? withTag(r, tag) : withDefaultTag(r);
    const name = familiarString(r);
    await this.#commit(img, [name]);
    this.#event('tag', img.id, name);
    return name;
  }

  /** docker rmi. `ref` by name untags that name (deleting the image with its last name); by id it
   *  deletes the image (with force when it has several names). A running container's image cannot
   *  be removed; a stopped container's only with force, and then it is untagged but kept. */
  async remove(ref: string, opts: { force?: boolean; prune?: boolean } = {}): Promise<RemoveItem[]> {
    await this.#ready;
    return this.#serial(() =>
      this.#d.engine.job('image_remove', async (job) => {
        const img = this.resolve(ref);
        const short = img.id.slice(0, 12);
        const names = [...img.repoTags, ...img.repoDigests];
        const byName = this.#nameOf(ref, img);
        const drop = byName ? droppedWith(byName, img) : [];
        if (byName && names.length > drop.length) {
          await this.#setNames(img, names.filter((n) => !drop.includes(n)));
          for (const n of drop) this.#event('untag', img.id, n);
          return drop.map((n) => ({ Untagged: n }));
        }
        if (!byName && names.length > 1 && !opts.force)
          throw conflict(`conflict: unable to delete ${short} (must be forced) - image is referenced in multiple repositories`);
        const u = this.usedBy(img.id);
        const user = typeof u === 'string' ? { id: u, running: true } : u;
        if (user?.running)
          throw conflict(`conflict: unable to delete ${byName ?? short} (cannot be forced) - image is being used by running container ${user.id.slice(0, 12)}`);
        if (user && !opts.force)
          throw conflict(`conflict: unable to delete ${byName ?? short} (must be forced) - image is being used by stopped container ${user.id.slice(0, 12)}`);
        const out: RemoveItem[] = [];
        await this.#setNames(img, []);
        for (const n of names) {
          out.push({ Untagged: n });
          this.#event('untag', img.id, n);
        }
        if (user) return out; // forced, but a stopped container still needs the layers
        await this.#delete(img, job);
        out.push({ Deleted: `sha256:${img.id}` });
        return out;
      }),
    );
  }

  /** docker image prune: dangling images (or, with dangling=false, every unused one). */
  async prune(filters: Record<string, string[]>): Promise<{ ImagesDeleted: RemoveItem[] | null; SpaceReclaimed: number }> {
    await this.#ready;
    const all = (filters.dangling?.[0] ?? 'true').toLowerCase();
    const onlyDangling = all === 'true' || all === '1';
    const rest = Object.fromEntries(Object.entries(filters).filter(([k]) => k !== 'dangling'));
    for (const k of Object.keys(rest)) if (!['label', 'until'].includes(k)) throw invalidParameter(`invalid filter '${k}'`);
    const victims = this.filter(rest).filter((i) => (!onlyDangling || (i.repoTags.length === 0 && i.repoDigests.length === 0)) && !this.usedBy(i.id));
    const deleted: RemoveItem[] = [];
    let space = 0;
    for (const img of victims) {
      const out = await this.remove(`sha256:${img.id}`, { force: true }).catch(() => []);
      if (out.some((o) => 'Deleted' in o)) space += img.size;
      deleted.push(...out);
    }
    return { ImagesDeleted: deleted.length ? deleted : null, SpaceReclaimed: space };
  }

  /** The name `ref` gave for `img`, when it named it (not by id). */
  #nameOf(ref: string, img: ImageRecord): string | undefined {
    if (/^(sha256:)?[0-9a-f]{1,64}$/.test(ref) && img.id.startsWith(ref.replace(/^sha256:/, ''))) {
      // A hex string that is also a tag of this image is a name (docker prefers names).
      try {
        const t = familiarString(withDefaultTag(parseReference(ref)));
        if (img.repoTags.includes(t)) return t;
      } catch {
        /* an id */
      }
      return undefined;
    }
    const r = withDefaultTag(parseReference(ref));
    const s = familiarString(r);
    return img.repoTags.includes(s) || img.repoDigests.includes(s) ? s : undefined;
  }

  async #delete(img: ImageRecord, job: Job): Promise<void> {
    await this.#d.store.delete('image', img.id);
    this.#event('delete', img.id, undefined);
    await this.#blobs.delete(`sha256:${img.id}`);
    const still = this.#referencedBlobs();
    for (const l of new Set(img.layers)) {
      if (still.has(l)) continue;
      await this.#d.engine.run('image_remove_layer', this.driver, { diffId: l }, job);
      await this.#blobs.delete(l);
    }
  }

  #referencedBlobs(): Set<string> {
    const s = new Set<string>();
    for (const i of this.list()) {
      s.add(`sha256:${i.id}`);
      for (const l of i.layers) s.add(l);
    }
    return s;
  }

  /** Write `rec` (merging with a record of the same id) and give it `tags` and repo `digests`
   *  ("name@sha256:…", from a registry), taking them from other images. */
  #commit(rec: ImageRecord, tags: string[], digests: string[] = []): Promise<ImageRecord> {
    return this.#serial(async () => {
      const now = new Date().toISOString();
      for (const other of this.list()) {
        if (other.id === rec.id) continue;
        const keep = other.repoTags.filter((t) => !tags.includes(t));
        const keepDigests = other.repoDigests.filter((t) => !digests.includes(t));
        if (keep.length !== other.repoTags.length || keepDigests.length !== other.repoDigests.length) {
          await this.#d.store.put('image', { ...other, repoTags: keep, repoDigests: keepDigests });
          for (const t of other.repoTags.filter((x) => tags.includes(x))) this.#event('untag', other.id, t);
        }
      }
      const cur = this.#d.store.get('image', rec.id) ?? rec;
      const merged: ImageRecord = {
        ...cur,
        repoTags: [...new Set([...cur.repoTags, ...tags])],
        repoDigests: [...new Set([...cur.repoDigests, ...digests])],
        ...(tags.length ? { lastTagTime: now } : {}),
      };
      await this.#d.store.put('image', merged);
      return merged;
    });
  }

  async #setNames(img: ImageRecord, names: string[]): Promise<void> {
    const cur = this.#d.store.get('image', img.id);
    if (!cur) return;
    await this.#d.store.put('image', {
      ...cur,
      repoTags: cur.repoTags.filter((t) => names.includes(t)),
      repoDigests: cur.repoDigests.filter((t) => names.includes(t)),
    });
  }

  #serial<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.#queue.then(fn, fn);
    this.#queue = next.catch(() => {});
    return next;
  }

  #event(action: string, id: string, name: string | undefined): void {
    const labels = this.#d.store.get('image', id)?.config.Labels ?? {};
    this.#d.events.publish('image', action, `sha256:${id}`, { ...labels, ...(name ? { name } : {}) });
  }
}

/** The names an rmi by `name` removes, as docker: the name, and when it is a repository's last
 *  tag on the image, that repository's digest names ("x@sha256:…") too. */
function droppedWith(name: string, img: ImageRecord): string[] {
  if (name.includes('@')) return [name];
  const repo = name.slice(0, name.lastIndexOf(':'));
  if (img.repoTags.some((t) => t !== name && t.slice(0, t.lastIndexOf(':')) === repo)) return [name];
  return [name, ...img.repoDigests.filter((d) => d.slice(0, d.indexOf('@')) === repo)];
}

/** The reference a pull asks for: `fromImage` with `tag` (a tag or a digest) when given. */
export function pullReference(fromImage: string, tag?: string): Reference {
  const r = parseReference(fromImage);
  if (!tag) return r;
  if (tag.startsWith('sha256:')) {
    if (!DIGEST_RE.test(tag)) throw invalidParameter(`invalid reference format: unsupported digest "${tag}"`);
    return { domain: r.domain, path: r.path, digest: tag };
  }
  return withTag(r, tag);
}

/** The tag an import gets: docker import's repository argument with an optional tag parameter. */
export function importTag(repo: string, tag?: string): string {
  let r = parseReference(repo);
  if (r.digest) throw invalidParameter('cannot import digest reference');
  r = tag ? withTag(r, tag) : withDefaultTag(r);
  return familiarString(r);
}

/** The image config fields berth keeps, from an untrusted config blob. */
function pickConfig(c: unknown): ImageConfig {
  if (!c || typeof c !== 'object') return {};
  const o = c as Record<string, unknown>;
  const strs = (v: unknown) => (Array.isArray(v) && v.every((x) => typeof x === 'string') ? (v as string[]) : undefined);
  const map = (v: unknown) => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, {}>) : undefined);
  const out: ImageConfig = {};
  if (strs(o.Env)) out.Env = strs(o.Env)!;
  if (strs(o.Cmd)) out.Cmd = strs(o.Cmd)!;
  if (strs(o.Entrypoint)) out.Entrypoint = strs(o.Entrypoint)!;
  if (typeof o.WorkingDir === 'string' && o.WorkingDir) out.WorkingDir = o.WorkingDir;
  if (typeof o.User === 'string' && o.User) out.User = o.User;
  if (map(o.ExposedPorts)) out.ExposedPorts = map(o.ExposedPorts)!;
  if (map(o.Labels)) out.Labels = Object.fromEntries(Object.entries(map(o.Labels)!).map(([k, v]) => [k, String(v)]));
  if (typeof o.StopSignal === 'string' && o.StopSignal) out.StopSignal = o.StopSignal;
  if (map(o.Volumes)) out.Volumes = map(o.Volumes)!;
  if (o.Healthcheck !== undefined && o.Healthcheck !== null) out.Healthcheck = o.Healthcheck;
  return out;
}
