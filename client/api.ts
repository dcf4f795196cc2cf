// The CLI's HTTP client: Docker Engine API over a unix socket with node:http only (the CLI loads
// nothing it does not need: node's start-up is most of a short command's time).
import { request, type IncomingMessage, type ClientRequest } from 'node:http';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/** The daemon could not be reached at all. */
export class ConnectError extends Error {
  constructor(
    readonly host: string,
    cause: unknown,
  ) {
    super(`Cannot connect to the berth daemon at ${host}. Is the berth daemon running?`, { cause });
    this.name = 'ConnectError';
  }
}

export interface RequestOptions {
  query?: Record<string, string | number | boolean | undefined>;
  body?: unknown;
  /** A raw body (a tar stream): sent as is with this content type. */
  stream?: NodeJS.ReadableStream;
  contentType?: string;
  headers?: Record<string, string>;
}

export interface Api {
  readonly host: string;
  /** JSON request; resolves with the parsed body (undefined for an empty one). 304 resolves too. */
  call<T = unknown>(method: string, path: string, opts?: RequestOptions): Promise<{ status: number; body: T }>;
  /** A request whose response is read as a stream (events, logs, progress). Errors still throw. */
  stream(method: string, path: string, opts?: RequestOptions): Promise<IncomingMessage>;
  /** An upgraded (hijacked) connection for attach and exec: the raw socket after a 101. */
  upgrade(method: string, path: string, opts?: RequestOptions): Promise<{ socket: import('node:net').Socket; head: Buffer; tty: boolean }>;
}

function qs(query: RequestOptions['query']): string {
  if (!query) return '';
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v !== undefined) p.set(k, String(v));
  const s = p.toString();
  return s ? `?${s}` : '';
}

async function readAll(res: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of res) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

function errorMessage(text: string, status: number): string {
  try {
    const j = JSON.parse(text) as { message?: string };
    if (j.message) return j.message;
  } catch {
    /* not JSON */
  }
  return text.trim() || `HTTP ${status}`;
}

/** host: unix:///path/to.sock */
export function unixApi(host: string): Api {
  if (!host.startsWith('unix://')) throw new Error(`unsupported host "${host}": want unix:///path`);
  const socketPath = host.slice('unix://'.length);

  function send(method: string, path: string, opts: RequestOptions, upgrade = false): Promise<{ req: ClientRequest; res?: IncomingMessage; socket?: import('node:net').Socket; head?: Buffer }> {
    return new Promise((resolve, reject) => {
      const headers: Record<string, string> = { Host: 'berth', ...opts.headers };
      let payload: string | undefined;
      if (opts.body !== undefined) {
        payload = JSON.stringify(opts.body);
        headers['Content-Type'] = 'application/json';
        headers['Content-Length'] = String(Buffer.byteLength(payload));
      } else if (opts.stream) {
        headers['Content-Type'] = opts.contentType ?? 'application/x-tar';
      }
      if (upgrade) {
        headers.Connection = 'Upgrade';
        headers.Upgrade = 'tcp';
      }
      const req = request({ socketPath, method, path: path + qs(opts.query), headers });
      req.on('error', (e) => reject(new ConnectError(host, e)));
      if (upgrade) {
        req.on('upgrade', (res, socket, head) => resolve({ req, res, socket, head }));
        req.on('response', (res) => resolve({ req, res }));
      } else req.on('response', (res) => resolve({ req, res }));
      if (opts.stream) opts.stream.pipe(req);
      else req.end(payload);
    });
  }

  return {
    host,
    async call<T>(method: string, path: string, opts: RequestOptions = {}) {
      const { res } = await send(method, path, opts);
      const text = await readAll(res!);
      const status = res!.statusCode ?? 0;
      if (status >= 400) throw new ApiError(status, errorMessage(text, status));
      let body: unknown;
      if (text !== '' && (res!.headers['content-type'] ?? '').includes('json')) body = JSON.parse(text);
      else if (text !== '') body = text;
      return { status, body: body as T };
    },
    async stream(method, path, opts = {}) {
      const { res } = await send(method, path, opts);
      const status = res!.statusCode ?? 0;
      if (status >= 400) throw new ApiError(status, errorMessage(await readAll(res!), status));
      return res!;
    },
    async upgrade(method, path, opts = {}) {
      const r = await send(method, path, opts, true);
      if (!r.socket) {
        const status = r.res!.statusCode ?? 0;
        const text = await readAll(r.res!);
        if (status >= 400) throw new ApiError(status, errorMessage(text, status));
        throw new ApiError(status, `the daemon did not upgrade the connection (HTTP ${status})`);
      }
      const tty = (r.res!.headers['content-type'] ?? '').includes('raw-stream');
      return { socket: r.socket, head: r.head ?? Buffer.alloc(0), tty };
    },
  };
}
