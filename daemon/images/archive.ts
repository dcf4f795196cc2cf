// Reading an image archive (`docker load` input): a docker-archive (manifest.json, legacy
// <id>/layer.tar or docker 25+'s blobs/sha256/…) or an OCI image layout (oci-layout, index.json,
// blobs/sha256/…), plain or gzip. Members named blobs/sha256/<hex> stream straight into the content
// store, verified against their name; everything else is staged in a temp dir (member names are
// cleaned first: nothing is written outside it). Symlinks and hardlinks between members (older
// docker save dedups layers so) are followed inside the archive only.
import { createReadStream } from 'node:fs';
import { mkdir, open, readFile, stat } from 'node:fs/promises';
import { once } from 'node:events';
import { dirname, join, posix } from 'node:path';
import { extract } from 'tar-stream';
import { invalidParameter } from '../../drivers/errors.js';
import { cleanMemberPath } from '../../drivers/image/layer/paths.js';
import { archiveError, decompress } from '../../drivers/image/layer/compression.js';
import { DIGEST_RE, type BlobStore } from './blobs.js';
import { normalizeTagged, parseReference, withDefaultTag, familiarString } from './reference.js';

/** Where a layer's bytes are (possibly compressed). */
export type LayerSource = { kind: 'blob'; digest: string } | { kind: 'file'; path: string };

export interface ArchiveImage {
  /** The config blob's bytes (its sha256 is the image id). */
  config: Buffer;
  /** Familiar "name:tag"s. */
  tags: string[];
  /** In the order of the config's rootfs.diff_ids. */
  layers: LayerSource[];
}

export interface ReadArchive {
  format: 'docker-archive' | 'oci-layout';
  images: ArchiveImage[];
  /** Blobs this read added to the store (the caller removes those no image keeps). */
  written: string[];
}

const BLOB_MEMBER = /^blobs\/sha256\/([0-9a-f]{64})$/;
const MAX_JSON = 64 * 1024 * 1024;
const MEDIA_INDEX = ['application/vnd.oci.image.index.v1+json', 'application/vnd.docker.distribution.manifest.list.v2+json'];
const MEDIA_MANIFEST = ['application/vnd.oci.image.manifest.v1+json', 'application/vnd.docker.distribution.manifest.v2+json'];

export function openSource(blobs: BlobStore, s: LayerSource): AsyncIterable<Uint8Array> {
  return s.kind === 'blob' ? blobs.stream(s.digest) : createReadStream(s.path);
}

/** Stream `src` (the archive, plain or gzip) into the store and `staging` (an empty dir) and read
 *  its manifests. Throws invalid_parameter for anything malformed. */
export async function readArchive(src: AsyncIterable<Uint8Array>, blobs: BlobStore, staging: string): Promise<ReadArchive> {
  const { stream } = await decompress(src);
  const ex = extract();
  const feeding = (async () => {
    for await (const chunk of stream) if (!ex.write(chunk)) await once(ex as unknown as NodeJS.EventEmitter, 'drain');
    ex.end(undefined);
  })().catch((e: unknown) => {
    ex.destroy(e as Error);
    throw e;
  });

  const written: string[] = [];
  const members = new Set<string>(); // regular files seen (staged or blob)
  const links = new Map<string, string>(); // member → member it points at
  try {
    for await (const entry of ex) {
      const h = entry.header;
      const body = entry as unknown as AsyncIterable<Uint8Array>;
      const rel = cleanMemberPath(h.name);
      const drain = async () => {
        for await (const _ of body) void _;
      };
      if (h.type === 'file' || h.type === 'contiguous-file') {
        if (rel === '') throw invalidParameter('invalid archive: a file member without a name');
        const m = BLOB_MEMBER.exec(rel);
        if (m) {
          const w = await blobs.write(body, `sha256:${m[1]}`);
          if (w.created) written.push(w.digest);
        } else {
          const p = join(staging, rel);
          await mkdir(dirname(p), { recursive: true }).catch(() => {
            throw invalidParameter(`invalid archive: "${h.name}" is below a file`);
          });
          const fh = await open(p, 'wx', 0o600).catch(() => {
            throw invalidParameter(`invalid archive: "${h.name}" appears twice`);
          });
          try {
            for await (const c of body) await fh.write(c);
          } finally {
            await fh.close();
          }
        }
        members.add(rel);
      } else if (h.type === 'symlink') {
        await drain();
        links.set(rel, cleanMemberPath(posix.join(posix.dirname(rel), h.linkname)));
      } else if (h.type === 'link') {
        await drain();
        links.set(rel, cleanMemberPath(h.linkname));
      } else {
        await drain();
      }
    }
    await feeding;
  } catch (e) {
    ex.destroy();
    await feeding.catch(() => {});
    // The caller removes `written` on failure too: hand them over through the error.
    throw Object.assign(archiveError(e) as Error, { writtenBlobs: written });
  }

  const resolve = (rel: string): LayerSource => {
    let r = cleanMemberPath(rel);
    for (let hops = 0; links.has(r); hops++) {
      if (hops > 16) throw invalidParameter(`invalid archive: too many links at "${rel}"`);
      r = links.get(r)!;
    }
    const m = BLOB_MEMBER.exec(r);
    if (m) return { kind: 'blob', digest: `sha256:${m[1]}` };
    if (!members.has(r)) throw invalidParameter(`invalid archive: "${rel}" is not in the archive`);
    return { kind: 'file', path: join(staging, r) };
  };
  const readSource = async (s: LayerSource, what: string): Promise<Buffer> => {
    const path = s.kind === 'blob' ? blobs.path(s.digest) : s.path;
    const st = await stat(path).catch(() => {
      throw invalidParameter(`invalid archive: ${what} is missing`);
    });
    if (st.size > MAX_JSON) throw invalidParameter(`invalid archive: ${what} is too large`);
    return readFile(path);
  };
  const readJson = async <T>(s: LayerSource, what: string): Promise<T> => {
    try {
      return JSON.parse((await readSource(s, what)).toString('utf8')) as T;
    } catch (e) {
      if ((e as { code?: string }).code === 'invalid_parameter') throw e;
      throw invalidParameter(`invalid archive: ${what} is not valid JSON`);
    }
  };

  try {
    if (members.has('manifest.json') || links.has('manifest.json')) {
      const manifest = await readJson<unknown>(resolve('manifest.json'), 'manifest.json');
      if (!Array.isArray(manifest)) throw invalidParameter('invalid archive: manifest.json is not a list');
      const images: ArchiveImage[] = [];
      for (const m of manifest as { Config?: unknown; RepoTags?: unknown; Layers?: unknown }[]) {
        if (typeof m?.Config !== 'string' || !Array.isArray(m.Layers) || !m.Layers.every((l) => typeof l === 'string'))
          throw invalidParameter('invalid archive: a manifest.json entry lacks Config or Layers');
        const tags = Array.isArray(m.RepoTags) ? m.RepoTags.map((t) => normalizeTagged(String(t))) : [];
        images.push({ config: await readSource(resolve(m.Config), m.Config), tags, layers: (m.Layers as string[]).map(resolve) });
      }
      return { format: 'docker-archive', images, written };
    }
    if (members.has('index.json')) {
      const index = await readJson<OciIndex>(resolve('index.json'), 'index.json');
      const byConfig = new Map<string, ArchiveImage>();
      const visit = async (list: OciDescriptor[] | undefined, depth: number, inherited?: string) => {
        if (!Array.isArray(list)) throw invalidParameter('invalid archive: an index without manifests');
        for (const d of list) {
          if (typeof d?.digest !== 'string' || !DIGEST_RE.test(d.digest)) throw invalidParameter('invalid archive: a descriptor without a sha256 digest');
          const name = nameOf(d.annotations) ?? inherited;
          if (MEDIA_INDEX.includes(d.mediaType ?? '')) {
            if (depth > 4) throw invalidParameter('invalid archive: indexes nested too deep');
            const nested = await readJson<OciIndex>({ kind: 'blob', digest: d.digest }, `index ${d.digest}`);
            await visit(pickPlatform(nested.manifests), depth + 1, name);
            continue;
          }
          if (d.mediaType !== undefined && !MEDIA_MANIFEST.includes(d.mediaType)) continue; // attestations and the like
          const man = await readJson<OciManifest>({ kind: 'blob', digest: d.digest }, `manifest ${d.digest}`);
          if (typeof man?.config?.digest !== 'string' || !DIGEST_RE.test(man.config.digest) || !Array.isArray(man.layers))
            throw invalidParameter(`invalid archive: manifest ${d.digest} lacks a config or layers`);
          const config = await readSource({ kind: 'blob', digest: man.config.digest }, `config ${man.config.digest}`);
          let img = byConfig.get(man.config.digest);
          if (!img) {
            img = {
              config,
              tags: [],
              layers: man.layers.map((l) => {
                if (typeof l?.digest !== 'string' || !DIGEST_RE.test(l.digest)) throw invalidParameter('invalid archive: a layer without a sha256 digest');
                return { kind: 'blob' as const, digest: l.digest };
              }),
            };
            byConfig.set(man.config.digest, img);
          }
          if (name && !img.tags.includes(name)) img.tags.push(name);
        }
      };
      await visit(index.manifests, 0);
      return { format: 'oci-layout', images: [...byConfig.values()], written };
    }
    throw invalidParameter('invalid archive: neither manifest.json (docker-archive) nor index.json (OCI layout) found');
  } catch (e) {
    throw Object.assign(e as Error, { writtenBlobs: written });
  }
}

interface OciDescriptor {
  mediaType?: string;
  digest?: string;
  size?: number;
  annotations?: Record<string, string>;
  platform?: { architecture?: string; os?: string };
}
interface OciIndex {
  manifests?: OciDescriptor[];
}
interface OciManifest {
  config?: OciDescriptor;
  layers?: OciDescriptor[];
}

/** The image name of a descriptor: containerd's full name, or an OCI ref.name that is a reference. */
function nameOf(a: Record<string, string> | undefined): string | undefined {
  const full = a?.['io.containerd.image.name'];
  const ref = a?.['org.opencontainers.image.ref.name'];
  for (const n of [full, ref]) {
    if (!n || !/[/:]/.test(n)) continue; // a bare "latest" names no repository
    try {
      return familiarString(withDefaultTag(parseReference(n)));
    } catch {
      throw invalidParameter(`invalid archive: bad image name "${n}"`);
    }
  }
  return undefined;
}

/** From a multi-platform index, the manifest for this machine (linux/<arch>), else the first. */
function pickPlatform(list: OciDescriptor[] | undefined): OciDescriptor[] {
  if (!Array.isArray(list) || list.length === 0) throw invalidParameter('invalid archive: an empty image index');
  const arch = ({ x64: 'amd64', arm64: 'arm64' } as Record<string, string>)[process.arch] ?? process.arch;
  const mine = list.find((d) => d.platform?.os === 'linux' && d.platform.architecture === arch);
  return [mine ?? list.find((d) => MEDIA_MANIFEST.includes(d.mediaType ?? '')) ?? list[0]!];
}

