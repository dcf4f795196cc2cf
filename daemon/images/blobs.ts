// The content store: blobs under <data-root>/image/blobs/sha256/<hex>, named by the sha256 of their
// bytes, computed while streaming (a name is never trusted). Writes go to a temp file in
// <data-root>/image/tmp and are renamed into place after the digest is known (and matches what
// the caller expected); a blob that fails verification leaves no file.
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, type ReadStream } from 'node:fs';
import { mkdir, open, readFile, readdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { invalidParameter, notFound } from '../../drivers/errors.js';

export const DIGEST_RE = /^sha256:([0-9a-f]{64})$/;

export function hexOf(digest: string): string {
  const m = DIGEST_RE.exec(digest);
  if (!m) throw invalidParameter(`invalid digest "${digest}"`);
  return m[1]!;
}

export function sha256(data: Uint8Array | string): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

export interface WrittenBlob {
  digest: string;
  size: number;
  /** False when the store had the blob already (nothing was added). */
  created: boolean;
}

export class BlobStore {
  readonly dir: string;
  readonly tmpDir: string;

  constructor(readonly root: string) {
    this.dir = join(root, 'blobs', 'sha256');
    this.tmpDir = join(root, 'tmp');
  }

  async init(): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    await mkdir(this.tmpDir, { recursive: true, mode: 0o700 });
  }

  path(digest: string): string {
    return join(this.dir, hexOf(digest));
  }

  async has(digest: string): Promise<boolean> {
    return stat(this.path(digest)).then(
      () => true,
      () => false,
    );
  }

  async size(digest: string): Promise<number> {
    return (await stat(this.path(digest))).size;
  }

  /** A temp path on the store's filesystem (for staging). */
  tmpPath(label: string): string {
    return join(this.tmpDir, `${label}-${randomBytes(6).toString('hex')}`);
  }

  /** Stream bytes into the store. With `expected`, a different digest is refused (invalid_parameter)
   *  and nothing is kept. */
  async write(src: AsyncIterable<Uint8Array> | Iterable<Uint8Array>, expected?: string): Promise<WrittenBlob> {
    if (expected !== undefined) hexOf(expected);
    const tmp = this.tmpPath('blob');
    const hash = createHash('sha256');
    let size = 0;
    const fh = await open(tmp, 'wx', 0o600);
    try {
      try {
        for await (const chunk of src) {
          hash.update(chunk);
          size += chunk.length;
          await fh.write(chunk);
        }
        await fh.sync();
      } finally {
        await fh.close();
      }
      const digest = `sha256:${hash.digest('hex')}`;
      if (expected !== undefined && digest !== expected)
        throw invalidParameter(`blob content does not match its digest: expected ${expected}, got ${digest}`);
      const created = !(await this.has(digest));
      if (created) await rename(tmp, this.path(digest));
      else await rm(tmp, { force: true });
      return { digest, size, created };
    } catch (e) {
      await rm(tmp, { force: true });
      throw e;
    }
  }

  async writeBuffer(data: Uint8Array | string, expected?: string): Promise<WrittenBlob> {
    const buf = typeof data === 'string' ? Buffer.from(data) : data;
    return this.write([buf], expected);
  }

  async read(digest: string): Promise<Buffer> {
    return readFile(this.path(digest)).catch(() => {
      throw notFound(`blob ${digest} is not in the content store`);
    });
  }

  stream(digest: string): ReadStream {
    return createReadStream(this.path(digest));
  }

  async delete(digest: string): Promise<void> {
    await rm(this.path(digest), { force: true });
  }

  /** Remove temp files left by an interrupted write or load. */
  async sweepTmp(): Promise<number> {
    const list = await readdir(this.tmpDir).catch(() => [] as string[]);
    for (const f of list) await rm(join(this.tmpDir, f), { recursive: true, force: true });
    return list.length;
  }
}
