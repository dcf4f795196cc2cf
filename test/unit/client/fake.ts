// Test doubles for CLI commands: an Api that records every request and answers from a route
// function (JSON replies, streamed replies, hijacked connections), and an Io that records output.
import { Duplex, PassThrough, Readable } from 'node:stream';
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { ApiError, type Api, type RequestOptions } from '../../../client/api.js';
import type { Io, Terminal } from '../../../client/command.js';

export interface Req {
  kind: 'call' | 'stream' | 'upgrade';
  method: string;
  path: string;
  query: Record<string, string>;
  body?: unknown;
}

/** A hijacked connection: what the daemon sends (after `gate`), and what the client wrote. */
export class FakeConn extends Duplex {
  readonly written: Buffer[] = [];
  halfClosed = false;
  private started = false;

  constructor(
    private readonly chunks: Buffer[],
    private readonly gate: Promise<unknown> = Promise.resolve(),
  ) {
    super();
  }

  override _read(): void {
    if (this.started) return;
    this.started = true;
    void this.gate.then(() => {
      for (const c of this.chunks) this.push(c);
      this.push(null);
    });
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (e?: Error | null) => void): void {
    this.written.push(chunk);
    cb();
  }

  override _final(cb: (e?: Error | null) => void): void {
    this.halfClosed = true;
    cb();
  }

  get input(): string {
    return Buffer.concat(this.written).toString();
  }
}

export type Reply =
  | { status?: number; body?: unknown }
  | { error: ApiError }
  /** a streamed body; chunks sent after `gate` */
  | { stream: (string | Buffer)[]; gate?: Promise<unknown> }
  | { upgrade: FakeConn; tty?: boolean; head?: Buffer };

export type Route = (r: Req) => Reply | Promise<Reply> | undefined;

export interface FakeApi extends Api {
  readonly requests: Req[];
  /** "POST /containers/create" lines, in order. */
  lines(): string[];
}

function toQuery(q: RequestOptions['query']): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(q ?? {})) if (v !== undefined) out[k] = String(v);
  return out;
}

export function fakeApi(route: Route): FakeApi {
  const requests: Req[] = [];
  const answer = async (kind: Req['kind'], method: string, path: string, opts: RequestOptions = {}) => {
    const req: Req = { kind, method, path, query: toQuery(opts.query), ...(opts.body !== undefined ? { body: opts.body } : {}) };
    requests.push(req);
    const r = await route(req);
    if (r === undefined) throw new ApiError(404, 'page not found'); // berthd's and dockerd's answer to an unknown route
    if ('error' in r) throw r.error;
    return r;
  };
  return {
    host: 'unix:///fake.sock',
    requests,
    lines: () => requests.map((r) => `${r.method} ${r.path}`),
    async call<T>(method: string, path: string, opts?: RequestOptions) {
      const r = await answer('call', method, path, opts);
      if (!('status' in r) && !('body' in r)) throw new Error(`route for ${method} ${path} is not a JSON reply`);
      return { status: r.status ?? 200, body: r.body as T };
    },
    async stream(method: string, path: string, opts?: RequestOptions) {
      const r = await answer('stream', method, path, opts);
      if ('stream' in r) {
        const pt = new PassThrough();
        void (r.gate ?? Promise.resolve()).then(() => {
          for (const c of r.stream) pt.write(c);
          pt.end();
        });
        return pt as unknown as IncomingMessage;
      }
      if ('body' in r) return Readable.from([Buffer.from(JSON.stringify(r.body))]) as unknown as IncomingMessage;
      throw new Error(`route for ${method} ${path} is not a stream`);
    },
    async upgrade(method: string, path: string, opts?: RequestOptions) {
      const r = await answer('upgrade', method, path, opts);
      if (!('upgrade' in r)) throw new Error(`route for ${method} ${path} is not an upgrade`);
      return { socket: r.upgrade as unknown as Socket, head: r.head ?? Buffer.alloc(0), tty: r.tty ?? false };
    },
  };
}

export interface RecIo extends Io {
  outText: string;
  errText: string;
  stdin: PassThrough;
  interrupt?: () => void;
  rawModes: boolean[];
}

export function recIo(opts: { env?: Record<string, string>; tty?: boolean; size?: { rows: number; cols: number } } = {}): RecIo {
  const rawModes: boolean[] = [];
  const resizeFns: (() => void)[] = [];
  const terminal: Terminal | undefined = opts.tty
    ? {
        size: () => opts.size ?? { rows: 40, cols: 120 },
        setRaw: (raw) => void rawModes.push(raw),
        onResize(fn) {
          resizeFns.push(fn);
          return () => void resizeFns.splice(resizeFns.indexOf(fn), 1);
        },
      }
    : undefined;
  const io: RecIo = {
    outText: '',
    errText: '',
    out(s: string) {
      io.outText += s;
    },
    err(s: string) {
      io.errText += s;
    },
    stdin: new PassThrough(),
    stdinIsTTY: opts.tty ?? false,
    stdoutIsTTY: opts.tty ?? false,
    env: opts.env ?? {},
    onInterrupt(fn) {
      io.interrupt = fn;
    },
    ...(terminal ? { terminal } : {}),
    rawModes,
  };
  return io;
}

/** A promise with its resolve exposed. */
export function deferred<T = void>(): { promise: Promise<T>; resolve(v: T): void } {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}
