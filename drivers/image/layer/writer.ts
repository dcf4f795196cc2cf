// Writing a large stream of chunks to an open file without blocking the event loop and without
// copying: chunks are gathered into batches of ~1 MiB and written with one writev each, on libuv's
// thread pool, while the next batch gathers (at most one batch in flight, so memory stays bounded).
// The event loop keeps hashing, parsing and decompressing meanwhile. Chunks must not be changed
// after they are handed over (node's zlib and sockets hand out fresh memory, tar-stream subarrays).
import { writev } from 'node:fs';

/** Bytes gathered before a writev goes out. */
export const BATCH = 1 << 20;
/** writev takes at most IOV_MAX (1024) buffers. */
const MAX_IOV = 1024;

export class FileWriter {
  #fd: number;
  #pos: number;
  #batch: Uint8Array[] = [];
  #len = 0;
  #inflight: Promise<void> | undefined;
  #error: unknown;

  constructor(fd: number, position = 0) {
    this.#fd = fd;
    this.#pos = position;
  }

  /** Bytes handed over so far (written or in flight). */
  get position(): number {
    return this.#pos + this.#len;
  }

  /** Queue a chunk. Resolves at once unless a full batch must wait for the one in flight. */
  async write(chunk: Uint8Array): Promise<void> {
    if (this.#error !== undefined) throw this.#error;
    if (chunk.length === 0) return;
    this.#batch.push(chunk);
    this.#len += chunk.length;
    if (this.#len >= BATCH || this.#batch.length >= MAX_IOV) await this.#send();
  }

  /** Write what is gathered and wait for every write to finish. */
  async flush(): Promise<void> {
    if (this.#len) await this.#send();
    await this.#inflight;
    if (this.#error !== undefined) throw this.#error;
  }

  /** Wait for the write in flight (after a failure elsewhere, before the fd is closed). */
  async settle(): Promise<void> {
    await this.#inflight?.catch(() => {});
  }

  async #send(): Promise<void> {
    await this.#inflight;
    if (this.#error !== undefined) throw this.#error;
    const bufs = this.#batch;
    const len = this.#len;
    const pos = this.#pos;
    this.#batch = [];
    this.#len = 0;
    this.#pos += len;
    this.#inflight = writeAll(this.#fd, bufs, pos, len).catch((e: unknown) => {
      this.#error = e;
    });
  }
}

/** writev until every byte of `bufs` is at `pos` (a short write continues where it stopped). */
async function writeAll(fd: number, bufs: Uint8Array[], pos: number, len: number): Promise<void> {
  let rest = bufs;
  let left = len;
  while (left > 0) {
    const n = await new Promise<number>((resolve, reject) => writev(fd, rest as NodeJS.ArrayBufferView[], pos, (err, written) => (err ? reject(err) : resolve(written))));
    if (n <= 0) throw Object.assign(new Error('writev wrote nothing'), { code: 'EIO' });
    pos += n;
    left -= n;
    if (left === 0) break;
    let skip = n;
    const next: Uint8Array[] = [];
    for (const b of rest) {
      if (skip >= b.length) {
        skip -= b.length;
        continue;
      }
      next.push(skip ? b.subarray(skip) : b);
      skip = 0;
    }
    rest = next;
  }
}
