// The content store: blobs under <data-root>/image/blobs/sha256/<hex>, named by the sha256 of their
// bytes, computed while streaming (a name is never trusted). Writes go to a temp file in
// <data-root>/image/tmp and are renamed into place after the digest is known (and matches what
// the caller expected); a blob that fails verification leaves no file. Data goes out in ~1 MiB
// writev batches on the thread pool (FileWriter) and is made durable (fdatasync) before the rename.
// A caller that hashes the bytes itself anyway (a pull) stages them (`stage`) instead: each byte
// is hashed once.
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, type ReadStream } from 'node:fs';
import { mkdir, open, readFile, readdir, rename, rm, stat, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { invalidParameter, notFound } from '../../drivers/errors.js';
import { FileWriter } from '../../drivers/image/layer/writer.js';

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
    const staged = await this.stage();
    const hash = createHash('sha256');
    try {
      for await (const chunk of src) {
        hash.update(chunk);
        const p = staged.write(chunk);
        if (p) await p;
      }
    } catch (e) {
      await staged.discard();
      throw e;
    }
    const digest = `sha256:${hash.digest('hex')}`;
    if (expected !== undefined && digest !== expected) {
      await staged.discard();
      throw invalidParameter(`blob content does not match its digest: expected ${expected}, got ${digest}`);
    }
    return staged.commit(digest);
  }

  /** A temp file for a blob whose digest the caller computes from the bytes it hands over; nothing
   *  is in the store until `commit(digest)`. The caller must end with commit or discard. */
  async stage(): Promise<StagedBlob> {
    const tmp = this.tmpPath('blob');
    return new StagedBlob(this, tmp, await open(tmp, 'wx', 0o600));
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

/** A blob being written (BlobStore.stage). */
export class StagedBlob {
  readonly #store: BlobStore;
  readonly #tmp: string;
  #fh: FileHandle | undefined;
  readonly #w: FileWriter;
  #size = 0;

  constructor(store: BlobStore, tmp: string, fh: FileHandle) {
    this.#store = store;
    this.#tmp = tmp;
    this.#fh = fh;
    this.#w = new FileWriter(fh.fd);
  }

  get size(): number {
    return this.#size;
  }

  /** The temp file (another thread may write it: see adopt). */
  get path(): string {
    return this.#tmp;
  }

  /** `bytes` were written to the temp file by someone else (the layer worker), none through here. */
  adopt(bytes: number): void {
    this.#size = bytes;
  }

  /** Queue bytes (they must not change afterwards). A promise: wait for it before the next. */
  write(chunk: Uint8Array): Promise<void> | undefined {
    if (!this.#fh) return Promise.reject(new Error('internal: write to a committed or discarded blob'));
    this.#size += chunk.length;
    return this.#w.write(chunk);
  }

  /** Make the bytes durable and name them `digest` — which the caller computed from exactly the
   *  bytes it wrote. A blob the store has already is kept, the temp file dropped. */
  async commit(digest: string): Promise<WrittenBlob> {
    const final = this.#store.path(digest);
    try {
      await this.#w.flush();
      await this.#fh!.datasync();
      await this.#close();
      const created = !(await this.#store.has(digest));
      if (created) await rename(this.#tmp, final);
      else await rm(this.#tmp, { force: true });
      return { digest, size: this.#size, created };
    } catch (e) {
      await this.discard();
      throw e;
    }
  }

  /** Drop the temp file (idempotent). */
  async discard(): Promise<void> {
    await this.#w.settle();
    await this.#close().catch(() => {});
    await rm(this.#tmp, { force: true });
  }

  async #close(): Promise<void> {
    const fh = this.#fh;
    this.#fh = undefined;
    await fh?.close();
  }
}
