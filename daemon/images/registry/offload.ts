// The daemon's side of layer-worker.ts: worker threads (one per core, at most two), each started on
// the first layer download it gets and ended after a minute without one (each holds ~10 MB), shared
// by every pull; a download goes to the one with the fewest in flight. `fetch` gives a Download:
// how it ends, and where its decompressed bytes go once the registry answered 200 — `unpack(dir)`
// in the worker (the storage driver's LayerStream.unpackInto), `forward()` here through `onChunk`
// (a consumer that reads the stream itself), or `skip()`. Forwarded chunks are acknowledged once
// `onChunk`'s promise settles: the worker keeps at most a few MiB ahead of the consumer. A worker
// that dies fails its downloads and unpacks (a system error); the next download starts a new one.
// The programs an unpack ran in a worker (`tar -x` for device nodes and whiteouts) come back with
// its result, for the engine's per-job exec counts.
import { availableParallelism } from 'node:os';
import { BerthError, type ErrorCode } from '../../../drivers/errors.js';
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
  /** The decompressed bytes go to an unpack: held in the worker until the daemon says where —
   *  unpacked there ('unpack'), sent back ('forward'), or dropped ('skip'). */
  chunks: boolean;
  /** Make the tar-split record of the decompressed bytes (tarsplit.ts). */
  split: boolean;
}

export interface UnpackOrder {
  t: 'unpack';
  id: number;
  /** The storage driver's temp dir (empty); the driver's options. */
  dir: string;
  whiteouts: 'overlay' | 'keep';
  chown: boolean;
}

export type ToWorker =
  | FetchOrder
  | UnpackOrder
  | { t: 'forward'; id: number }
  | { t: 'skip'; id: number }
  | { t: 'ack'; id: number; bytes: number }
  | { t: 'abort'; id: number; reason: string };

/** An error as it crosses threads: a BerthError keeps its code, an errno error its code. */
export interface WireError {
  message: string;
  code: string | undefined;
  berth: boolean;
}

export function fromWire(e: WireError): Error {
  return e.berth ? new BerthError(e.code as ErrorCode, e.message) : Object.assign(new Error(e.message), { code: e.code });
}

export function toWire(e: unknown): WireError {
  const err = e as Error & { code?: unknown };
  return { message: err?.message ?? String(e), code: typeof err?.code === 'string' ? err.code : undefined, berth: e instanceof BerthError };
}

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

/** Besides the ending: 'head' (a 200 with the right length: the daemon says where the bytes go),
 *  the chunks (forwarded), progress, and how an unpack in the worker ended. */
export type FromWorker =
  | Ending
  | { t: 'head'; id: number }
  | { t: 'chunk'; id: number; buf: ArrayBuffer }
  | { t: 'bytes'; id: number; n: number }
  | { t: 'unpacked'; id: number; size: number; skipped: string[]; execs: string[][] }
  | { t: 'unpack-error'; id: number; error: WireError; execs: string[][] };

/** One download in a worker: how it ends, and where its decompressed bytes go. */
export interface Download {
  done: Promise<Ending>;
  /** Unpack them in the worker into `dir` (the driver's temp dir): resolves when all are written.
   *  `onExec` sees the programs the unpack ran there (tar -x for device nodes and whiteouts), in
   *  the async context of the caller. */
  unpack(dir: string, opts: { whiteouts: 'overlay' | 'keep'; chown: boolean }, onExec?: (argv: string[]) => void): Promise<{ size: number; skipped: string[] }>;
  /** Send them here (FetchHandlers.onChunk). */
  forward(): void;
  /** Nobody wants them. */
  skip(): void;
}

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

interface Unpacking {
  resolve(r: { size: number; skipped: string[]; execs: string[][] }): void;
  reject(e: Error & { execs?: string[][] }): void;
}

export class LayerWorker {
  readonly #file: string;
  #worker: Worker | undefined;
  #next = 1;
  readonly #pending = new Map<number, Pending>();
  readonly #unpacks = new Map<number, Unpacking>();
  #idle: NodeJS.Timeout | undefined;

  constructor(file: string) {
    this.#file = file;
  }

  /** Downloads and unpacks in flight. */
  get load(): number {
    return this.#pending.size + this.#unpacks.size;
  }

  fetch(order: Omit<FetchOrder, 't' | 'id'>, h: FetchHandlers): Download {
    const id = this.#next++;
    const w = this.#start();
    w.ref();
    const post = (m: ToWorker) => {
      if (this.#worker === w) w.postMessage(m);
    };
    const done = new Promise<Ending>((resolve) => {
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
    return {
      done,
      unpack: async (dir, opts, onExec) => {
        const run = new Promise<{ size: number; skipped: string[]; execs: string[][] }>((resolve, reject) => {
          if (this.#worker !== w) return reject(Object.assign(new Error('the layer download worker stopped'), { code: 'EWORKER' }));
          this.#unpacks.set(id, { resolve, reject });
          post({ t: 'unpack', id, dir, ...opts });
        });
        try {
          const { execs, ...r } = await run;
          for (const argv of execs) onExec?.(argv);
          return r;
        } catch (e) {
          for (const argv of (e as { execs?: string[][] }).execs ?? []) onExec?.(argv);
          throw e;
        }
      },
      forward: () => post({ t: 'forward', id }),
      skip: () => post({ t: 'skip', id }),
    };
  }

  /** Stop the worker (the daemon's shutdown); downloads in flight fail. */
  close(): void {
    clearTimeout(this.#idle);
    const w = this.#worker;
    this.#worker = undefined;
    void w?.terminate();
    this.#failAll('it was closed');
  }

  /** Every download and unpack in flight fails (the worker is gone). */
  #failAll(why: string): void {
    for (const [id, p] of this.#pending) p.resolve({ t: 'error', id, kind: 'io', code: 'EWORKER', message: `the layer download worker stopped: ${why}` });
    this.#pending.clear();
    for (const u of this.#unpacks.values()) u.reject(Object.assign(new Error(`the layer download worker stopped: ${why}`), { code: 'EWORKER' }));
    this.#unpacks.clear();
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
      this.#failAll(why);
    };
    w.on('error', (e) => gone(e.message));
    w.on('exit', (code) => gone(`exit code ${code}`));
    return w;
  }

  #message(w: Worker, m: FromWorker): void {
    if (m.t === 'unpacked' || m.t === 'unpack-error') {
      const u = this.#unpacks.get(m.id);
      this.#unpacks.delete(m.id);
      if (m.t === 'unpacked') u?.resolve({ size: m.size, skipped: m.skipped, execs: m.execs });
      else u?.reject(Object.assign(fromWire(m.error), { execs: m.execs }));
      this.#idleIfDone(w);
      return;
    }
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
      this.#idleIfDone(w);
    };
    if (p.busy || p.queue.length) p.queue.push(Object.assign(Buffer.alloc(0), { finish }));
    else finish();
  }

  /** Nothing in flight: the worker may end after a while (and does not hold the process). */
  #idleIfDone(w: Worker): void {
    if (this.load > 0 || this.#worker !== w) return;
    w.unref();
    clearTimeout(this.#idle);
    this.#idle = setTimeout(() => this.close(), IDLE_MS);
    this.#idle.unref();
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

  fetch(order: Omit<FetchOrder, 't' | 'id'>, h: FetchHandlers): Download {
    const w = this.#all.reduce((a, b) => (b.load < a.load ? b : a));
    return w.fetch(order, h);
  }

  close(): void {
    for (const w of this.#all) w.close();
  }
}
