// The registry client's HTTP: node:http/https with keep-alive agents (one set per Transport), bodies
// as node streams in both directions (never buffered whole), redirects followed for GET/HEAD
// (Authorization is dropped when one leaves the origin: blob downloads go to storage hosts), an
// inactivity timeout and an abort signal on every request. TLS is checked unless the caller says
// the registry is insecure. Errors below HTTP (refused, reset, TLS, timeout) are TransportErrors.
import http, { type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import https from 'node:https';
import type { Readable } from 'node:stream';

export type Method = 'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export interface HttpRequest {
  method: Method;
  url: URL;
  headers?: Record<string, string>;
  /** A buffer (sent with its length) or a stream (sent chunked). */
  body?: Buffer | Readable;
  signal?: AbortSignal;
  /** HTTPS without certificate checks (insecure registries). */
  skipVerify?: boolean;
}

export interface HttpResponse {
  status: number;
  headers: IncomingHttpHeaders;
  /** Must be read or destroyed by the caller. */
  body: IncomingMessage;
  /** After redirects. */
  url: URL;
}

/** The request never got an HTTP answer (or its body broke off). */
export class TransportError extends Error {
  constructor(
    readonly url: URL,
    readonly code: string | undefined,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'TransportError';
  }

  /** A TLS-level failure (an HTTPS request to a plain-HTTP server ends so). */
  get tls(): boolean {
    return /^(EPROTO|ERR_SSL_|ERR_TLS_|CERT_|UNABLE_TO_|DEPTH_ZERO|SELF_SIGNED)/.test(this.code ?? '');
  }
}

export interface TransportOptions {
  userAgent: string;
  /** No byte for this long (connecting, waiting, reading) fails the request. */
  idleTimeoutMs?: number;
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);
const MAX_REDIRECTS = 10;

export class Transport {
  readonly #agents: { http: http.Agent; https: https.Agent; insecure: https.Agent };
  readonly #ua: string;
  readonly #idle: number;

  constructor(opts: TransportOptions) {
    this.#ua = opts.userAgent;
    this.#idle = opts.idleTimeoutMs ?? 60_000;
    this.#agents = {
      http: new http.Agent({ keepAlive: true, maxSockets: 16 }),
      https: new https.Agent({ keepAlive: true, maxSockets: 16 }),
      insecure: new https.Agent({ keepAlive: true, maxSockets: 16, rejectUnauthorized: false }),
    };
  }

  get userAgent(): string {
    return this.#ua;
  }

  get idleMs(): number {
    return this.#idle;
  }

  async request(r: HttpRequest): Promise<HttpResponse> {
    let url = r.url;
    const headers: Record<string, string> = { 'User-Agent': this.#ua, ...r.headers };
    const follow = r.method === 'GET' || r.method === 'HEAD';
    for (let hop = 0; ; hop++) {
      const res = await this.#once(r.method, url, headers, r.body, r.signal, r.skipVerify ?? false);
      const loc = res.headers.location;
      if (!follow || !REDIRECTS.has(res.statusCode ?? 0) || !loc) return { status: res.statusCode ?? 0, headers: res.headers, body: res, url };
      res.resume();
      if (hop >= MAX_REDIRECTS) throw new TransportError(url, 'ETOOMANYREDIRECTS', `${r.method} ${url.href}: too many redirects`);
      const next = new URL(loc, url);
      if (next.protocol !== 'http:' && next.protocol !== 'https:') throw new TransportError(url, 'EBADREDIRECT', `${r.method} ${url.href}: redirect to ${next.protocol}`);
      if (next.origin !== url.origin) delete headers.Authorization;
      url = next;
    }
  }

  #once(method: Method, url: URL, headers: Record<string, string>, body: Buffer | Readable | undefined, signal: AbortSignal | undefined, skipVerify: boolean): Promise<IncomingMessage> {
    return new Promise((resolve, reject) => {
      if (signal?.aborted) return reject(abortError(url, signal));
      const isHttps = url.protocol === 'https:';
      const h: Record<string, string> = { ...headers };
      if (Buffer.isBuffer(body)) h['Content-Length'] = String(body.length);
      else if (body === undefined && (method === 'POST' || method === 'PUT' || method === 'PATCH')) h['Content-Length'] = '0';
      const opts: https.RequestOptions = {
        method,
        hostname: url.hostname.replace(/^\[|\]$/g, ''),
        port: url.port || (isHttps ? 443 : 80),
        path: url.pathname + url.search,
        headers: h,
        agent: isHttps ? (skipVerify ? this.#agents.insecure : this.#agents.https) : this.#agents.http,
        servername: isHttps && !/^[\d.]+$|:/.test(url.hostname) ? url.hostname : undefined,
      };
      const req = (isHttps ? https : http).request(opts);
      let res: IncomingMessage | undefined;
      const fail = (e: Error) => {
        const err = e instanceof TransportError ? e : transportError(url, method, e);
        if (res) res.destroy(err);
        else reject(err);
        req.destroy(err);
      };
      const onAbort = () => fail(abortError(url, signal!));
      signal?.addEventListener('abort', onAbort, { once: true });
      req.setTimeout(this.#idle, () => fail(new TransportError(url, 'ETIMEDOUT', `${method} ${url.href}: no answer for ${Math.round(this.#idle / 1000)} s`)));
      req.on('error', (e) => fail(e));
      req.on('response', (r) => {
        res = r;
        r.once('close', () => signal?.removeEventListener('abort', onAbort));
        r.on('aborted', () => fail(new TransportError(url, 'ECONNRESET', `${method} ${url.href}: the connection broke off`)));
        resolve(r);
      });
      if (body === undefined || Buffer.isBuffer(body)) req.end(body);
      else {
        body.on('error', (e) => fail(e));
        body.pipe(req);
      }
    });
  }

  /** Close idle keep-alive connections (the daemon's shutdown). */
  close(): void {
    for (const a of Object.values(this.#agents)) a.destroy();
  }
}

function abortError(url: URL, signal: AbortSignal): TransportError {
  const reason = signal.reason instanceof Error ? signal.reason.message : 'the operation was cancelled';
  return new TransportError(url, 'ABORT_ERR', reason, { cause: signal.reason });
}

function transportError(url: URL, method: string, e: Error): TransportError {
  const code = (e as NodeJS.ErrnoException).code;
  return new TransportError(url, code, `${method} ${url.href}: ${e.message}`, { cause: e });
}

/** Read a small body whole (manifests, configs, error documents), refusing more than `limit` bytes. */
export async function readSmall(res: IncomingMessage, limit: number, what: string): Promise<Buffer> {
  const declared = Number(res.headers['content-length'] ?? NaN);
  if (declared > limit) {
    res.destroy();
    throw new RangeError(`${what} is too large (${declared} bytes; at most ${limit})`);
  }
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of res) {
    n += (c as Buffer).length;
    if (n > limit) {
      res.destroy();
      throw new RangeError(`${what} is too large (more than ${limit} bytes)`);
    }
    chunks.push(c as Buffer);
  }
  return Buffer.concat(chunks);
}
