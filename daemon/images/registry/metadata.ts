// What berth knows of a layer's life in registries (docker's "v2 metadata"): for a diff id, the
// compressed blobs it was pulled as or pushed as, and from which repository. A push reuses them:
// a blob the target repository has is not sent again, one a sibling repository of the same
// registry has is mounted. One JSON file per diff id under <data-root>/image/distribution/,
// written atomically; hints only (a stale entry costs a HEAD request, never a wrong image).
import { mkdir, readFile, rename, writeFile, rm } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { hexOf } from '../blobs.js';

export interface BlobSource {
  /** The compressed blob's digest in the registry. */
  digest: string;
  /** "registry/path": "localhost:5000/x", "docker.io/library/busybox". */
  repository: string;
  mediaType: string;
  size: number;
}

const KEEP = 20;

export class DistributionMetadata {
  readonly dir: string;
  /** Updates of one diff id's file, one at a time. */
  readonly #queues = new Map<string, Promise<unknown>>();

  constructor(imageRoot: string) {
    this.dir = join(imageRoot, 'distribution', 'v2metadata-by-diffid', 'sha256');
  }

  async sources(diffId: string): Promise<BlobSource[]> {
    try {
      const list = JSON.parse(await readFile(join(this.dir, hexOf(diffId)), 'utf8')) as unknown;
      return Array.isArray(list) ? list.filter(isSource) : [];
    } catch {
      return [];
    }
  }

  /** Remember `src` for `diffId` (newest first, duplicates dropped). */
  add(diffId: string, src: BlobSource): Promise<void> {
    const hex = hexOf(diffId);
    const prev = this.#queues.get(hex) ?? Promise.resolve();
    const next = prev.then(async () => {
      const list = (await this.sources(diffId)).filter((s) => !(s.digest === src.digest && s.repository === src.repository));
      list.unshift(src);
      await mkdir(this.dir, { recursive: true, mode: 0o700 });
      const tmp = join(this.dir, `.tmp-${hex}-${randomBytes(4).toString('hex')}`);
      try {
        await writeFile(tmp, JSON.stringify(list.slice(0, KEEP)), { mode: 0o600 });
        await rename(tmp, join(this.dir, hex));
      } catch (e) {
        await rm(tmp, { force: true });
        throw e;
      }
    });
    const settled = next.catch(() => {});
    this.#queues.set(hex, settled);
    void settled.then(() => {
      if (this.#queues.get(hex) === settled) this.#queues.delete(hex);
    });
    return next;
  }

  /** Forget a layer (it left the store). */
  async remove(diffId: string): Promise<void> {
    await rm(join(this.dir, hexOf(diffId)), { force: true });
  }
}

function isSource(x: unknown): x is BlobSource {
  const o = x as BlobSource;
  return !!o && typeof o.digest === 'string' && typeof o.repository === 'string' && typeof o.mediaType === 'string' && typeof o.size === 'number';
}
