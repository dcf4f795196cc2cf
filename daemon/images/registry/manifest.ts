// Manifests as registries serve them, pure: Docker schema2 and OCI image manifests, Docker manifest
// lists and OCI indexes; which one a body is (by its mediaType field, else the Content-Type),
// validation of every field berth uses (digests, sizes, media types), and the choice of one
// platform from an index. Schema 1 is refused as docker 28 does.
import { invalidParameter, notFound } from '../../../drivers/errors.js';
import { DIGEST_RE } from '../blobs.js';

export const MEDIA = {
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  dockerLayerGzip: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
  dockerLayer: 'application/vnd.docker.image.rootfs.diff.tar',
  ociLayer: 'application/vnd.oci.image.layer.v1.tar',
  ociLayerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  ociLayerZstd: 'application/vnd.oci.image.layer.v1.tar+zstd',
  schema1: 'application/vnd.docker.distribution.manifest.v1+json',
  schema1Signed: 'application/vnd.docker.distribution.manifest.v1+prettyjws',
} as const;

/** The Accept header of a manifest request: every kind berth reads. */
export const MANIFEST_ACCEPT = [MEDIA.ociIndex, MEDIA.dockerList, MEDIA.ociManifest, MEDIA.dockerManifest].join(', ');

const LAYER_TYPES = new Set<string>([MEDIA.dockerLayerGzip, MEDIA.dockerLayer, MEDIA.ociLayer, MEDIA.ociLayerGzip, MEDIA.ociLayerZstd]);
const FOREIGN = /\.(foreign|nondistributable)\./;

/** Most a manifest may weigh (docker's limit). */
export const MANIFEST_LIMIT = 4 * 1024 * 1024;
/** Most an image config may weigh. */
export const CONFIG_LIMIT = 8 * 1024 * 1024;

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  platform?: Platform;
  annotations?: Record<string, string>;
}

export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
}

export type Parsed =
  | { kind: 'index'; mediaType: string; manifests: Descriptor[] }
  | { kind: 'manifest'; mediaType: string; config: Descriptor; layers: Descriptor[] };

/** Parse and check a manifest body. `contentType` is the server's, used when the body names none. */
export function parseManifest(bytes: Buffer, contentType: string | undefined, what: string): Parsed {
  let o: Record<string, unknown>;
  try {
    o = JSON.parse(bytes.toString('utf8')) as Record<string, unknown>;
  } catch {
    throw invalidParameter(`${what}: the manifest is not valid JSON`);
  }
  if (!o || typeof o !== 'object' || Array.isArray(o)) throw invalidParameter(`${what}: the manifest is not a JSON object`);
  const ct = (contentType ?? '').split(';')[0]!.trim();
  const mediaType = typeof o.mediaType === 'string' && o.mediaType ? o.mediaType : ct;
  if (o.schemaVersion === 1 || mediaType === MEDIA.schema1 || mediaType === MEDIA.schema1Signed)
    throw invalidParameter(`${what}: Docker Image manifest version 2, schema 1 is not supported; the image must be pushed again with a newer client`);
  if (o.schemaVersion !== 2) throw invalidParameter(`${what}: unsupported manifest schemaVersion ${JSON.stringify(o.schemaVersion)}`);
  const isIndex = mediaType === MEDIA.ociIndex || mediaType === MEDIA.dockerList || (!mediaType && Array.isArray(o.manifests));
  if (isIndex) {
    if (!Array.isArray(o.manifests)) throw invalidParameter(`${what}: an index without manifests`);
    return { kind: 'index', mediaType: mediaType || MEDIA.ociIndex, manifests: o.manifests.map((d, i) => descriptor(d, `${what}: manifests[${i}]`)) };
  }
  const isManifest = mediaType === MEDIA.ociManifest || mediaType === MEDIA.dockerManifest || (!mediaType && o.config !== undefined);
  if (!isManifest) throw invalidParameter(`${what}: unsupported manifest media type "${mediaType}"`);
  if (!Array.isArray(o.layers)) throw invalidParameter(`${what}: a manifest without layers`);
  const config = descriptor(o.config, `${what}: config`);
  const layers = o.layers.map((d, i) => descriptor(d, `${what}: layers[${i}]`));
  for (const [i, l] of layers.entries()) {
    if (FOREIGN.test(l.mediaType)) throw invalidParameter(`${what}: layer ${i + 1} is a foreign (non-distributable) layer, which berth cannot pull`);
    if (!LAYER_TYPES.has(l.mediaType)) throw invalidParameter(`${what}: layer ${i + 1} has an unsupported media type "${l.mediaType}"`);
  }
  return { kind: 'manifest', mediaType: mediaType || MEDIA.ociManifest, config, layers };
}

function descriptor(d: unknown, what: string): Descriptor {
  if (!d || typeof d !== 'object') throw invalidParameter(`${what}: not a descriptor`);
  const o = d as Record<string, unknown>;
  if (typeof o.digest !== 'string' || !DIGEST_RE.test(o.digest)) throw invalidParameter(`${what}: digest ${JSON.stringify(o.digest)} is not a sha256 digest`);
  if (typeof o.size !== 'number' || !Number.isSafeInteger(o.size) || o.size < 0) throw invalidParameter(`${what}: invalid size ${JSON.stringify(o.size)}`);
  const out: Descriptor = { mediaType: typeof o.mediaType === 'string' ? o.mediaType : '', digest: o.digest, size: o.size };
  const p = o.platform as Record<string, unknown> | undefined;
  if (p && typeof p === 'object' && typeof p.os === 'string' && typeof p.architecture === 'string')
    out.platform = { os: p.os, architecture: p.architecture, ...(typeof p.variant === 'string' && p.variant ? { variant: p.variant } : {}) };
  if (o.annotations && typeof o.annotations === 'object') out.annotations = o.annotations as Record<string, string>;
  return out;
}

/** "linux/arm64/v8", "linux/amd64", "arm64" (os defaults to linux): normalised as containerd does. */
export function parsePlatform(s: string): Platform {
  const parts = s.trim().toLowerCase().split('/');
  if (parts.some((p) => !/^[a-z0-9_.-]+$/.test(p)) || parts.length > 3)
    throw invalidParameter(`invalid platform "${s}": want os/arch[/variant]`);
  let os: string, architecture: string, variant: string | undefined;
  if (parts.length === 1) {
    if (['linux', 'windows', 'darwin', 'freebsd'].includes(parts[0]!)) throw invalidParameter(`invalid platform "${s}": missing architecture`);
    [os, architecture] = ['linux', parts[0]!];
  } else [os, architecture, variant] = parts as [string, string, string | undefined];
  return normalizePlatform({ os, architecture, ...(variant ? { variant } : {}) });
}

export function normalizePlatform(p: Platform): Platform {
  let arch = p.architecture.toLowerCase();
  let variant = p.variant?.toLowerCase();
  const os = p.os.toLowerCase() === 'macos' ? 'darwin' : p.os.toLowerCase();
  if (arch === 'x86_64' || arch === 'x86-64') arch = 'amd64';
  else if (arch === 'i386') arch = '386';
  else if (arch === 'aarch64' || arch === 'arm64') {
    arch = 'arm64';
    if (variant === '8' || variant === 'v8') variant = undefined;
  } else if (arch === 'armhf') [arch, variant] = ['arm', 'v7'];
  else if (arch === 'armel') [arch, variant] = ['arm', 'v6'];
  else if (arch === 'arm') {
    if (!variant || variant === '7') variant = 'v7';
    else if (/^\d$/.test(variant)) variant = `v${variant}`;
  } else if (arch === 'amd64' && variant === 'v1') variant = undefined;
  return { os, architecture: arch, ...(variant ? { variant } : {}) };
}

export function platformString(p: Platform): string {
  return `${p.os}/${p.architecture}${p.variant ? `/${p.variant}` : ''}`;
}

/** The index entry for `want`: the same os and architecture, and the same variant when `want`
 *  names one (else the first such entry). Entries without a platform, and attestations, never
 *  match. Not found is docker's "no matching manifest" error. */
export function selectManifest(manifests: readonly Descriptor[], want: Platform): Descriptor {
  const w = normalizePlatform(want);
  const candidates = manifests.filter((d) => {
    if (!d.platform || d.annotations?.['vnd.docker.reference.type'] === 'attestation-manifest') return false;
    if (d.mediaType && d.mediaType !== MEDIA.dockerManifest && d.mediaType !== MEDIA.ociManifest) return false;
    const p = normalizePlatform(d.platform);
    return p.os === w.os && p.architecture === w.architecture;
  });
  const exact = candidates.find((d) => normalizePlatform(d.platform!).variant === w.variant);
  const hit = exact ?? (w.variant === undefined ? candidates[0] : undefined);
  if (!hit) throw notFound(`no matching manifest for ${platformString(w)} in the manifest list entries`);
  return hit;
}

/** Whether an image config's platform satisfies `want` (os and architecture; the variant when both name one). */
export function configMatches(config: { os?: string; architecture?: string; variant?: string }, want: Platform): boolean {
  if (!config.os || !config.architecture) return true;
  const c = normalizePlatform({ os: config.os, architecture: config.architecture, ...(config.variant ? { variant: config.variant } : {}) });
  const w = normalizePlatform(want);
  return c.os === w.os && c.architecture === w.architecture && (!c.variant || !w.variant || c.variant === w.variant);
}
