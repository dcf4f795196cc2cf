// The CLI's HTTP client: Docker Engine API over a unix socket, plain TCP, or TCP with TLS (client
// certificates, as docker's --tlsverify). node:http only; node:https is loaded when a command talks
// TLS (the CLI loads nothing it does not need: node's start-up is most of a short command's time).
import { readFileSync } from 'node:fs';
import { request, type IncomingMessage, type ClientRequest, type RequestOptions as HttpRequestOptions } from 'node:http';
import { isIP } from 'node:net';
import { join } from 'node:path';

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
    message = `Cannot connect to the berth daemon at ${host}. Is the berth daemon running?`,
  ) {
    super(message, { cause });
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

/** How one request reaches the daemon: node's request function and the options naming the peer. */
interface Transport {
  request: typeof request;
  options: HttpRequestOptions;
  /** The Host header (docker sends the daemon's address over TCP). */
  hostHeader: string;
}

/** Turns a failed connection into the CLI's message. */
type Failure = (err: Error, method: string, path: string) => ConnectError;

function httpApi(host: string, transport: () => Transport | Promise<Transport>, failure: Failure): Api {
  async function send(
    method: string,
    path: string,
    opts: RequestOptions,
    upgrade = false,
  ): Promise<{ req: ClientRequest; res?: IncomingMessage; socket?: import('node:net').Socket; head?: Buffer }> {
    const t = await transport();
    return new Promise((resolve, reject) => {
      const headers: Record<string, string> = { Host: t.hostHeader, ...opts.headers };
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
      let req: ClientRequest;
      try {
        req = t.request({ ...t.options, method, path: path + qs(opts.query), headers });
      } catch (e) {
        reject(failure(e as Error, method, path)); // a TLS context that cannot be made (key and cert apart)
        return;
      }
      req.on('error', (e) => reject(failure(e, method, path)));
      if (upgrade) {
        req.on('upgrade', (res, socket, head) => resolve({ req, res, socket, head }));
        req.on('response', (res) => resolve({ req, res }));
      } else req.on('response', (res) => resolve({ req, res }));
      if (opts.stream) {
        // pipe() does not pass a read error on: fail the request instead of hanging on it.
        opts.stream.once('error', (e) => req.destroy(e));
        opts.stream.pipe(req);
      }
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

/** host: unix:///path/to.sock */
export function unixApi(host: string): Api {
  if (!host.startsWith('unix://')) throw new Error(`unsupported host "${host}": want unix:///path`);
  const transport: Transport = { request, options: { socketPath: host.slice('unix://'.length) }, hostHeader: 'berth' };
  return httpApi(host, () => transport, (e) => new ConnectError(host, e));
}

export const DEFAULT_TCP_PORT = 2375;
export const DEFAULT_TLS_PORT = 2376;

/** tcp://ADDR[:PORT] (IPv6 in brackets); the port defaults to 2376 with TLS, 2375 without, as docker's. */
export function parseTcpHost(host: string, tls: boolean): { hostname: string; port: number } {
  const m = /^tcp:\/\/(?:\[([0-9A-Fa-f:.]+)\]|([^:/[\]]+))(?::(\d+))?\/?$/.exec(host);
  if (!m) throw new Error(`invalid host "${host}": want tcp://HOST:PORT`);
  const port = m[3] === undefined ? (tls ? DEFAULT_TLS_PORT : DEFAULT_TCP_PORT) : Number(m[3]);
  if (port < 1 || port > 65535) throw new Error(`invalid host "${host}": port must be 1-65535`);
  return { hostname: m[1] ?? m[2]!, port };
}

/** Key material for a TLS connection, read from files. */
export interface ClientTls {
  /** Check the daemon's certificate (against ca, or the system's CAs without one). */
  verify: boolean;
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
}

/** host: tcp://ADDR:PORT; TLS when `tls` is given. */
export function tcpApi(host: string, tls?: ClientTls): Api {
  const { hostname, port } = parseTcpHost(host, tls !== undefined);
  const authority = `${hostname.includes(':') ? `[${hostname}]` : hostname}:${port}`;
  const base = `${tls ? 'https' : 'http'}://${authority}`;
  let transport: Promise<Transport> | undefined;
  const connect = (): Promise<Transport> =>
    (transport ??= (async () => {
      if (!tls) return { request, options: { host: hostname, port }, hostHeader: authority };
      const https = await import('node:https');
      const agent = new https.Agent({
        keepAlive: true,
        ...(tls.ca ? { ca: tls.ca } : {}),
        ...(tls.cert ? { cert: tls.cert } : {}),
        ...(tls.key ? { key: tls.key } : {}),
        rejectUnauthorized: tls.verify,
        minVersion: 'TLSv1.2',
      });
      // The certificate is checked against the -H address (an IP address is matched to IP SANs, no SNI).
      const servername = isIP(hostname) ? '' : hostname;
      return { request: https.request as unknown as typeof request, options: { host: hostname, port, agent, servername } as HttpRequestOptions, hostHeader: authority };
    })());
  const failure: Failure = (e, method, path) => {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ECONNREFUSED') return new ConnectError(host, e);
    if (/key values mismatch/.test(e.message)) return new ConnectError(host, e, 'could not load X509 key pair: the client key does not match the client certificate');
    let why = (e as Error & { reason?: string }).reason ?? e.message;
    if (tls && (code === 'ECONNRESET' || e.message === 'socket hang up' || code === 'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED'))
      why += ' (the daemon closed the TLS connection: it refuses connections without a client certificate its CA signed; berthd logs why)';
    else if (tls && /certificate|altnames/i.test(why)) why += " (checking the daemon's certificate against --tlscacert)";
    if (!tls && (code === 'ECONNRESET' || code === 'HPE_INVALID_CONSTANT'))
      why += ' (does the daemon expect TLS? try --tlsverify)';
    return new ConnectError(host, e, `error during connect: ${method} "${base}${path}": ${why}`);
  };
  return httpApi(host, connect, failure);
}

/** Where the CLI connects and how: the result of flags and environment, before any file is read. */
export interface Target {
  host: string;
  /** TLS settings when TLS is on (they matter for tcp:// only). */
  tls?: { verify: boolean; caFile?: string; certFile?: string; keyFile?: string };
}

export interface TargetFlags {
  host?: string[];
  tls?: boolean;
  tlsverify?: boolean;
  tlscacert?: string;
  tlscert?: string;
  tlskey?: string;
  /** The client's config dir (default ~/.berth): the default home of ca.pem, cert.pem, key.pem. */
  config?: string;
}

export const DEFAULT_HOST = 'unix:///run/berth/berth.sock';

/**
 * docker's rules, with BERTH_ variables first: the host from -H, BERTH_HOST, DOCKER_HOST; TLS when
 * --tls, --tlsverify (given at all) or BERTH_TLS_VERIFY / DOCKER_TLS_VERIFY (set, non-empty);
 * files from the flags, else from BERTH_CERT_PATH / DOCKER_CERT_PATH / the config dir. A default
 * client cert or key that does not exist is left out; a CA or a file named by a flag is required.
 */
export function resolveTarget(flags: TargetFlags, env: Record<string, string | undefined>, home: string, exists: (path: string) => boolean): Target {
  const e = (k: string) => (env[k] === '' ? undefined : env[k]);
  const host = flags.host?.at(-1) ?? e('BERTH_HOST') ?? e('DOCKER_HOST') ?? DEFAULT_HOST;
  const verifyFromEnv = (e('BERTH_TLS_VERIFY') ?? e('DOCKER_TLS_VERIFY')) !== undefined;
  const verify = flags.tlsverify ?? verifyFromEnv;
  const tls = flags.tls === true || flags.tlsverify !== undefined || verifyFromEnv;
  if (!tls) return { host };
  const dir = e('BERTH_CERT_PATH') ?? e('DOCKER_CERT_PATH') ?? flags.config ?? join(home, '.berth');
  const optionalDefault = (flag: string | undefined, name: string) => {
    if (flag !== undefined) return flag;
    const p = join(dir, name);
    return exists(p) ? p : undefined;
  };
  const certFile = optionalDefault(flags.tlscert, 'cert.pem');
  const keyFile = optionalDefault(flags.tlskey, 'key.pem');
  return {
    host,
    tls: {
      verify,
      ...(verify ? { caFile: flags.tlscacert ?? join(dir, 'ca.pem') } : {}),
      ...(certFile ? { certFile } : {}),
      ...(keyFile ? { keyFile } : {}),
    },
  };
}

/** The Api for a target: reads the TLS files now, so a missing one is reported before any request. */
export function connectApi(target: Target, read: (path: string) => Buffer = readFileSync): Api {
  if (target.host.startsWith('unix://')) return unixApi(target.host);
  if (!target.host.startsWith('tcp://')) throw new Error(`unsupported host "${target.host}": want unix:///path or tcp://HOST:PORT`);
  const t = target.tls;
  if (!t) return tcpApi(target.host);
  const file = (what: string, p: string) => {
    try {
      return read(p);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      throw new Error(`could not read ${what} "${p}": ${code === 'ENOENT' ? 'no such file or directory' : code === 'EACCES' ? 'permission denied' : (err as Error).message}`);
    }
  };
  if ((t.certFile === undefined) !== (t.keyFile === undefined))
    throw new Error(`could not load X509 key pair: ${t.certFile ? `--tlscert ${t.certFile} has no --tlskey` : `--tlskey ${t.keyFile} has no --tlscert`}`);
  const tls: ClientTls = { verify: t.verify };
  if (t.caFile) tls.ca = file('CA certificate', t.caFile);
  if (t.certFile && t.keyFile) {
    tls.cert = file('client certificate', t.certFile);
    tls.key = file('client key', t.keyFile);
  }
  return tcpApi(target.host, tls);
}
