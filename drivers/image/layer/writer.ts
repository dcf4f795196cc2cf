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
  #error: { e: unknown } | undefined;

  constructor(fd: number, position = 0) {
    this.#fd = fd;
    this.#pos = position;
  }

  /** Bytes handed over so far (written or in flight). */
  get position(): number {
    return this.#pos + this.#len;
  }

  /** Queue a chunk. Undefined when more may come at once; a promise when a full batch must wait
   *  for the one in flight (it rejects with a write error). */
  write(chunk: Uint8Array): Promise<void> | undefined {
    if (this.#error) return Promise.reject(this.#error.e);
    if (chunk.length === 0) return undefined;
    this.#batch.push(chunk);
    this.#len += chunk.length;
    if (this.#len < BATCH && this.#batch.length < MAX_IOV) return undefined;
    if (!this.#inflight) {
      this.#send();
      return undefined;
    }
    return this.#inflight.then(() => {
      if (this.#error) throw this.#error.e;
      if (this.#len && !this.#inflight) this.#send();
    });
  }

  /** Write what is gathered and wait for every write to finish. */
  async flush(): Promise<void> {
    while (this.#inflight) await this.#inflight;
    this.#check();
    if (this.#len) {
      this.#send();
      await this.#inflight;
    }
    this.#check();
  }

  #check(): void {
    if (this.#error) throw this.#error.e;
  }

  /** Wait for the write in flight (after a failure elsewhere, before the fd is closed). */
  async settle(): Promise<void> {
    while (this.#inflight) await this.#inflight;
  }

  #send(): void {
    const bufs = this.#batch;
    const len = this.#len;
    const pos = this.#pos;
    this.#batch = [];
    this.#len = 0;
    this.#pos += len;
    const p = writeAll(this.#fd, bufs, pos, len).then(
      () => {
        if (this.#inflight === p) this.#inflight = undefined;
      },
      (e: unknown) => {
        this.#error ??= { e };
        if (this.#inflight === p) this.#inflight = undefined;
      },
    );
    this.#inflight = p;
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
