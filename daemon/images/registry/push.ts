// Push images of one repository: per layer (three at a time) the cheapest way that works — the
// repository has the blob already (HEAD), a sibling repository of the same registry has it (a
// cross-repository mount), or an upload of the gzip-compressed layer streamed from the content
// store (one PATCH, its digest computed on the way) — then the config and a Docker schema2
// manifest under the tag. Where each blob went is remembered (metadata.ts) for the next push.
import { createGzip } from 'node:zlib';
import type { BlobStore } from '../blobs.js';
import type { LayerTar } from '../../../drivers/handlers.js';
import { notFound } from '../../../drivers/errors.js';
import { familiarName, type Reference } from '../reference.js';
import type { ImageRecord } from '../types.js';
import type { Credentials } from './auth.js';
import type { RegistryClient, Repository } from './client.js';
import { inBatches } from './concurrency.js';
import { MEDIA } from './manifest.js';
import type { BlobSource, DistributionMetadata } from './metadata.js';
import { action, bytes, message, shortId, Throttle, type ProgressSink } from './progress.js';

export const PUSH_CONCURRENCY = 3;

export interface PushStore {
  blobs: BlobStore;
  /** A layer's tar: its blob, or rebuilt from the unpacked layer (undefined: not here). */
  layerTar(diffId: string): Promise<LayerTar | undefined>;
  metadata: DistributionMetadata;
  /** Record that `image` is in a registry under this "name@sha256:…". */
  addDigest(image: ImageRecord, repoDigest: string): Promise<void>;
}

export interface PushRequest {
  /** The repository (domain and path; no tag). */
  name: Reference;
  /** What to push, in order: each tag and its image. */
  tags: { tag: string; image: ImageRecord }[];
  creds?: Credentials | undefined;
  signal?: AbortSignal | undefined;
  progress: ProgressSink;
}

export interface PushedTag {
  tag: string;
  digest: string;
  size: number;
}

interface LayerDesc {
  mediaType: string;
  digest: string;
  size: number;
}

export async function pushImages(client: RegistryClient, store: PushStore, req: PushRequest): Promise<PushedTag[]> {
  const fullName = `${req.name.domain}/${req.name.path}`;
  // Sibling repositories that may lend a blob: their read scope goes into the token request.
  const sources = new Map<string, BlobSource[]>();
  for (const { image } of req.tags) for (const l of image.layers) if (!sources.has(l)) sources.set(l, await store.metadata.sources(l));
  const readFrom = new Set<string>();
  for (const list of sources.values())
    for (const s of list) if (s.repository !== fullName && domainOf(s.repository) === req.name.domain) readFrom.add(pathOf(s.repository));
  const ac = new AbortController();
  req.signal?.addEventListener('abort', () => ac.abort(req.signal!.reason), { once: true });
  if (req.signal?.aborted) ac.abort(req.signal.reason);
  const repo = client.repository(req.name, { creds: req.creds, actions: ['pull', 'push'], readFrom: [...readFrom].slice(0, 10), signal: ac.signal, mirrors: false });

  req.progress(message(`The push refers to repository [${fullName}]`));
  const out: PushedTag[] = [];
  const done = new Map<string, Promise<LayerDesc>>();
  for (const { tag, image } of req.tags) {
    const layers = [...new Set(image.layers)];
    for (const l of [...layers].reverse()) req.progress(action('Preparing', shortId(l)));
    await inBatches(
      layers,
      PUSH_CONCURRENCY,
      async (diffId) => {
        try {
          let p = done.get(diffId);
          if (!p) {
            p = pushLayer(repo, store, diffId, sources.get(diffId) ?? [], req.progress);
            done.set(diffId, p);
          }
          await p;
        } catch (e) {
          ac.abort(e);
          throw e;
        }
      },
      (diffId) => req.progress(action('Waiting', shortId(diffId))),
    );
    const descs = await Promise.all(image.layers.map((l) => done.get(l)!));
    const configDigest = `sha256:${image.id}`;
    const config = await store.blobs.read(configDigest);
    if ((await repo.blobSize(configDigest)) === undefined) await repo.uploadBuffer(config, configDigest);
    const oci = descs.some((d) => d.mediaType.startsWith('application/vnd.oci.'));
    const manifest = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: oci ? MEDIA.ociManifest : MEDIA.dockerManifest,
        config: { mediaType: oci ? MEDIA.ociConfig : MEDIA.dockerConfig, size: config.length, digest: configDigest },
        layers: descs.map((d) => ({ mediaType: d.mediaType, size: d.size, digest: d.digest })),
      }),
    );
    const mediaType = oci ? MEDIA.ociManifest : MEDIA.dockerManifest;
    const digest = await repo.putManifest(tag, manifest, mediaType);
    await store.addDigest(image, `${familiarName(req.name)}@${digest}`);
    req.progress(message(`${tag}: digest: ${digest} size: ${manifest.length}`));
    req.progress({ progressDetail: {}, aux: { Tag: tag, Digest: digest, Size: manifest.length } });
    out.push({ tag, digest, size: manifest.length });
  }
  return out;
}

async function pushLayer(repo: Repository, store: PushStore, diffId: string, sources: BlobSource[], progress: ProgressSink): Promise<LayerDesc> {
  const id = shortId(diffId);
  const fullName = repo.fullName;
  for (const s of sources.filter((x) => x.repository === fullName)) {
    const size = await repo.blobSize(s.digest);
    if (size !== undefined) {
      progress(action('Layer already exists', id));
      return { mediaType: s.mediaType, digest: s.digest, size };
    }
  }
  for (const s of sources.filter((x) => x.repository !== fullName && domainOf(x.repository) === repo.name.domain)) {
    if (await repo.mount(s.digest, pathOf(s.repository))) {
      progress(action(`Mounted from ${pathOf(s.repository)}`, id));
      await store.metadata.add(diffId, { ...s, repository: fullName });
      return { mediaType: s.mediaType, digest: s.digest, size: s.size };
    }
  }
  const tar = await store.layerTar(diffId);
  if (!tar) throw notFound(`layer ${diffId} is missing`);
  const total = tar.size;
  const throttle = new Throttle();
  let read = 0;
  const src = tar.open();
  src.on('data', (c: Buffer | string) => {
    read += c.length;
    if (throttle.due(id)) progress(bytes('Pushing', id, read, total));
  });
  const gz = createGzip();
  src.on('error', (e) => gz.destroy(e));
  src.pipe(gz);
  const { digest, size } = await repo.uploadStream(gz).catch((e: unknown) => {
    src.destroy();
    gz.destroy();
    throw e;
  });
  progress(bytes('Pushing', id, total, total));
  progress(action('Pushed', id));
  const desc = { mediaType: MEDIA.dockerLayerGzip, digest, size };
  await store.metadata.add(diffId, { ...desc, repository: fullName });
  return desc;
}

function domainOf(repository: string): string {
  return repository.slice(0, repository.indexOf('/'));
}

function pathOf(repository: string): string {
  return repository.slice(repository.indexOf('/') + 1);
}
