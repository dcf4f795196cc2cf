// The daemon's side of layer-worker.ts: worker threads (one per core, at most two), each started on
// the first layer download it gets and ended after a minute without one (each holds ~10 MB), shared
// by every pull; a download goes to the one with the fewest in flight. `fetch` sends it one
// download and resolves with how it ended; decompressed chunks come back through `onChunk` (whose
// promise, if any, is waited for before the chunk is acknowledged: the worker keeps at most a few
// MiB ahead of the unpack). A worker that dies fails its downloads (a system error) and the next
// download starts a new one.
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';

export interface FetchOrder {
  t: 'fetch';
  id: number;
  url: string;
  headers: Record<string, string>;
  skipVerify: boolean;
  idleMs: number;
  /** The size the manifest gives (more bytes stop the download). */
  size: number;
  /** The staged blob file to write the decompressed bytes to, if any. */
  blobPath: string | undefined;
  /** Send the decompressed chunks back (for the unpack). */
  chunks: boolean;
  /** Make the tar-split record of the decompressed bytes (tarsplit.ts). */
  split: boolean;
}

export type ToWorker = FetchOrder | { t: 'ack'; id: number; bytes: number } | { t: 'abort'; id: number; reason: string };

export type Ending =
  /** An answer other than 200, untouched (the daemon asks again itself). */
  | { t: 'status'; id: number; status: number }
  /** The registry announced another length than the manifest's. */
  | { t: 'length'; id: number; length: number }
  /** More bytes came than the manifest's size. */
  | { t: 'large'; id: number }
  /** The body ended: what was received and what came out of the decompressor. */
  | {
      t: 'end';
      id: number;
      n: number;
      digest: string;
      out: number;
      diffId: string;
      decodeError: { message: string; code: string | undefined } | undefined;
      split: { record: ArrayBuffer; size: number; exact: boolean } | undefined;
    }
  | { t: 'error'; id: number; kind: 'transport' | 'io'; code: string | undefined; message: string };

/** Besides the ending: 'head' (a 200 with the right length: chunks follow), the chunks, progress. */
export type FromWorker = Ending | { t: 'head'; id: number } | { t: 'chunk'; id: number; buf: ArrayBuffer } | { t: 'bytes'; id: number; n: number };

export interface FetchHandlers {
  /** The registry answered 200 with the right length: chunks follow. */
  onHead?: () => void;
  onChunk?: (c: Buffer) => Promise<void> | undefined;
  onBytes?: (n: number) => void;
  signal?: AbortSignal | undefined;
}

interface Pending extends FetchHandlers {
  resolve(e: Ending): void;
  /** Chunks wait here in order while one is being handed on. */
  queue: Buffer[];
  busy: boolean;
}

const IDLE_MS = 60_000;

export class LayerWorker {
  readonly #file: string;
  #worker: Worker | undefined;
  #next = 1;
  readonly #pending = new Map<number, Pending>();
  #idle: NodeJS.Timeout | undefined;

  constructor(file: string) {
    this.#file = file;
  }

  /** Downloads in flight. */
  get load(): number {
    return this.#pending.size;
  }

  fetch(order: Omit<FetchOrder, 't' | 'id'>, h: FetchHandlers): Promise<Ending> {
    const id = this.#next++;
    const w = this.#start();
    w.ref();
    return new Promise<Ending>((resolve) => {
      const p: Pending = { ...h, resolve, queue: [], busy: false };
      this.#pending.set(id, p);
      const onAbort = () => w.postMessage({ t: 'abort', id, reason: h.signal!.reason instanceof Error ? h.signal!.reason.message : 'the operation was cancelled' } satisfies ToWorker);
      if (h.signal?.aborted) queueMicrotask(onAbort);
      else h.signal?.addEventListener('abort', onAbort, { once: true });
      p.resolve = (e) => {
        h.signal?.removeEventListener('abort', onAbort);
        resolve(e);
      };
      w.postMessage({ ...order, t: 'fetch', id } satisfies ToWorker);
    });
  }

  /** Stop the worker (the daemon's shutdown); downloads in flight fail. */
  close(): void {
    clearTimeout(this.#idle);
    void this.#worker?.terminate();
    this.#worker = undefined;
  }

  #start(): Worker {
    clearTimeout(this.#idle);
    if (this.#worker) return this.#worker;
    const w = new Worker(this.#file, { name: 'berth-layers' });
    this.#worker = w;
    w.on('message', (m: FromWorker) => this.#message(w, m));
    const gone = (why: string) => {
      if (this.#worker !== w) return;
      this.#worker = undefined;
      for (const [id, p] of this.#pending) p.resolve({ t: 'error', id, kind: 'io', code: 'EWORKER', message: `the layer download worker stopped: ${why}` });
      this.#pending.clear();
    };
    w.on('error', (e) => gone(e.message));
    w.on('exit', (code) => gone(`exit code ${code}`));
    return w;
  }

  #message(w: Worker, m: FromWorker): void {
    const p = this.#pending.get(m.id);
    if (!p) return;
    if (m.t === 'bytes') return p.onBytes?.(m.n);
    if (m.t === 'head') return p.onHead?.();
    if (m.t === 'chunk') {
      p.queue.push(Buffer.from(m.buf));
      if (!p.busy) void this.#drain(w, m.id, p);
      return;
    }
    // The end comes after every chunk: hand those on first.
    const finish = () => {
      this.#pending.delete(m.id);
      p.resolve(m);
      if (this.#pending.size === 0 && this.#worker === w) {
        w.unref();
        this.#idle = setTimeout(() => this.close(), IDLE_MS);
        this.#idle.unref();
      }
    };
    if (p.busy || p.queue.length) p.queue.push(Object.assign(Buffer.alloc(0), { finish }));
    else finish();
  }

  async #drain(w: Worker, id: number, p: Pending): Promise<void> {
    p.busy = true;
    try {
      while (p.queue.length) {
        const c = p.queue.shift()!;
        const finish = (c as Buffer & { finish?: () => void }).finish;
        if (finish) {
          finish();
          continue;
        }
        try {
          const r = p.onChunk?.(c);
          if (r) await r;
        } catch {
          // the consumer's failure is its own to report; the download goes on
        }
        w.postMessage({ t: 'ack', id, bytes: c.length } satisfies ToWorker);
      }
    } finally {
      p.busy = false;
    }
  }
}

/** Several LayerWorkers: `fetch` goes to the least busy. */
export class LayerWorkers {
  readonly #all: LayerWorker[];

  constructor(file: string, threads = Math.min(2, availableParallelism())) {
    this.#all = Array.from({ length: Math.max(1, threads) }, () => new LayerWorker(file));
  }

  fetch(order: Omit<FetchOrder, 't' | 'id'>, h: FetchHandlers): Promise<Ending> {
    const w = this.#all.reduce((a, b) => (b.load < a.load ? b : a));
    return w.fetch(order, h);
  }

  close(): void {
    for (const w of this.#all) w.close();
  }
}
