// The Distribution v2 / OCI client: one RegistryClient per daemon (endpoint rules, keep-alive
// connections, which insecure hosts speak plain HTTP), one Repository per pull or push (its
// endpoint, credentials and tokens). A 401 is answered once per request with the challenge's
// scheme: a Bearer token from the realm (anonymous, Basic credentials or a refresh token) or Basic
// credentials. Registry error documents become BerthErrors with docker's wording ("manifest
// unknown: manifest unknown"); an unreachable registry is a system error naming the address.
import { createHash } from 'node:crypto';
import { Transform, type Readable, type TransformCallback } from 'node:stream';
import type { IncomingMessage } from 'node:http';
import { BerthError, forbidden, invalidParameter, notFound, systemError } from '../../../drivers/errors.js';
import { DEFAULT_DOMAIN } from '../reference.js';
import { sha256 } from '../blobs.js';
import { basicHeader, parseWwwAuthenticate, repositoryScope, tokenFromAnswer, type Challenge, type Credentials } from './auth.js';
import { Endpoints, HUB_AUTH_KEY, type Endpoint, type EndpointOptions } from './endpoints.js';
import { readSmall, Transport, TransportError, type HttpResponse, type Method } from './http.js';
import type { LayerWorkers } from './offload.js';
import { MANIFEST_ACCEPT, MANIFEST_LIMIT, parseManifest, type Parsed } from './manifest.js';

export interface RegistryClientOptions extends EndpointOptions {
  userAgent: string;
  idleTimeoutMs?: number;
  /** Where layer downloads run (a worker thread); without one, in the daemon's event loop. */
  layerWorker?: LayerWorkers;
  /** Sees the programs a worker ran for an unpack (the engine's per-job exec counts). */
  onExec?: (argv: string[]) => void;
}

export interface RepositoryOptions {
  creds?: Credentials | undefined;
  /** What the operation does: ['pull'] or ['pull', 'push']. */
  actions: readonly ('pull' | 'push')[];
  /** Other repositories (same registry) to read from: cross-repository mounts. */
  readFrom?: readonly string[];
  signal?: AbortSignal | undefined;
  /** Mirrors are for pulls only. */
  mirrors?: boolean;
}

export interface FetchedManifest {
  bytes: Buffer;
  digest: string;
  mediaType: string;
  parsed: Parsed;
}

const ERROR_LIMIT = 64 * 1024;

export class RegistryClient {
  readonly endpoints: Endpoints;
  readonly transport: Transport;
  readonly layerWorker: LayerWorkers | undefined;
  readonly onExec: ((argv: string[]) => void) | undefined;
  /** Insecure registries whose HTTPS attempt failed: plain HTTP first from then on. */
  readonly #plain = new Set<string>();

  constructor(opts: RegistryClientOptions) {
    this.endpoints = new Endpoints(opts);
    this.layerWorker = opts.layerWorker;
    this.onExec = opts.onExec;
    this.transport = new Transport({ userAgent: opts.userAgent, ...(opts.idleTimeoutMs ? { idleTimeoutMs: opts.idleTimeoutMs } : {}) });
  }

  repository(name: { domain: string; path: string }, o: RepositoryOptions): Repository {
    let eps = this.endpoints.forRegistry(name.domain);
    if (o.mirrors === false) eps = eps.filter((e) => !e.mirror);
    if (this.#plain.has(name.domain)) eps = [...eps.filter((e) => e.base.startsWith('http:')), ...eps.filter((e) => !e.base.startsWith('http:'))];
    return new Repository(this, name, eps, o, (ep) => {
      if (ep.base.startsWith('http:') && !ep.mirror) this.#plain.add(ep.registry);
    });
  }

  /** Check credentials the way `docker login` does: GET /v2/ with them. Resolves with a refresh
   *  token when the token server gave one. */
  async login(serverAddress: string, creds: Credentials, signal?: AbortSignal): Promise<{ identityToken?: string }> {
    const registry = registryOfServerAddress(serverAddress);
    const repo = this.repository({ domain: registry, path: '' }, { creds, actions: [], signal, mirrors: false });
    return repo.login();
  }

  close(): void {
    this.transport.close();
    this.layerWorker?.close();
  }
}

/** "https://index.docker.io/v1/", "docker.io" → "docker.io"; "https://localhost:5000/" → "localhost:5000". */
export function registryOfServerAddress(s: string): string {
  let v = s.trim();
  if (!v) return DEFAULT_DOMAIN;
  v = v.replace(/^[a-z][a-z0-9+.-]*:\/\//i, '').replace(/\/.*$/, '').toLowerCase();
  if (['docker.io', 'index.docker.io', 'registry-1.docker.io', 'registry.hub.docker.com'].includes(v)) return DEFAULT_DOMAIN;
  if (!/^(\[[0-9a-f:.]+\]|[a-z0-9.-]+)(:\d{1,5})?$/.test(v)) throw invalidParameter(`invalid registry address "${s}"`);
  return v;
}

/** The config.json key a registry's credentials live under. */
export function authKeyOf(registry: string): string {
  return registry === DEFAULT_DOMAIN ? HUB_AUTH_KEY : registry;
}

export class Repository {
  readonly #client: RegistryClient;
  readonly #eps: Endpoint[];
  readonly #o: RepositoryOptions;
  readonly #onPlain: (ep: Endpoint) => void;
  readonly #auth = new Map<string, string>();
  #pinned: Endpoint | undefined;
  /** A refresh token the token server gave at login (docker's identity token). */
  #refreshToken: string | undefined;

  constructor(client: RegistryClient, readonly name: { domain: string; path: string }, eps: Endpoint[], o: RepositoryOptions, onPlain: (ep: Endpoint) => void) {
    this.#client = client;
    this.#eps = eps;
    this.#o = o;
    this.#onPlain = onPlain;
  }

  /** The endpoint in use (after the first request). */
  get endpoint(): Endpoint | undefined {
    return this.#pinned;
  }

  /** "localhost:5000/x", "docker.io/library/busybox": for messages. */
  get fullName(): string {
    return `${this.name.domain}/${this.name.path}`;
  }

  // ---- manifests ---------------------------------------------------------------------------------

  /** GET a manifest by tag or digest, verified: by digest, its bytes must hash to it; by tag, to
   *  the Docker-Content-Digest the registry announced (when it did). */
  async manifest(reference: string): Promise<FetchedManifest> {
    const what = `${this.fullName}:${reference}`.replace(/:sha256:/, '@sha256:');
    return this.#onEndpoint(async (ep) => {
      const res = await this.#send(ep, 'GET', this.#url(ep, `manifests/${reference}`), { headers: { Accept: MANIFEST_ACCEPT } });
      if (res.status !== 200) throw await this.#error(res, 'manifest', reference);
      const bytes = await readSmall(res.body, MANIFEST_LIMIT, `manifest ${what}`).catch(rethrowRange);
      const digest = sha256(bytes);
      if (reference.startsWith('sha256:') && digest !== reference)
        throw invalidParameter(`manifest verification failed for digest ${reference}: the registry sent content with digest ${digest}`);
      const announced = String(res.headers['docker-content-digest'] ?? '');
      if (!reference.startsWith('sha256:') && announced.startsWith('sha256:') && announced !== digest)
        throw invalidParameter(`manifest verification failed for ${what}: the registry announced ${announced} but sent content with digest ${digest}`);
      const ct = res.headers['content-type'];
      const parsed = parseManifest(bytes, ct, `manifest ${what}`);
      return { bytes, digest, mediaType: parsed.mediaType, parsed };
    });
  }

  async putManifest(reference: string, bytes: Buffer, mediaType: string): Promise<string> {
    return this.#onEndpoint(async (ep) => {
      const res = await this.#send(ep, 'PUT', this.#url(ep, `manifests/${reference}`), { headers: { 'Content-Type': mediaType }, body: bytes });
      if (res.status !== 201 && res.status !== 200 && res.status !== 202) throw await this.#error(res, 'manifest', reference);
      res.body.resume();
      return sha256(bytes);
    });
  }

  /** Every tag of the repository (following Link pagination). */
  async tags(): Promise<string[]> {
    return this.#onEndpoint(async (ep) => {
      const out: string[] = [];
      let url = this.#url(ep, 'tags/list');
      for (let page = 0; page < 1000; page++) {
        const res = await this.#send(ep, 'GET', url);
        if (res.status !== 200) throw await this.#error(res, 'tags');
        const body = JSON.parse((await readSmall(res.body, MANIFEST_LIMIT, 'tag list').catch(rethrowRange)).toString('utf8')) as { tags?: unknown };
        if (Array.isArray(body.tags)) out.push(...body.tags.filter((t): t is string => typeof t === 'string'));
        const next = /<([^>]+)>\s*;\s*rel="?next"?/.exec(String(res.headers.link ?? ''));
        if (!next) break;
        url = new URL(next[1]!, res.url);
      }
      return out;
    });
  }

  // ---- blobs -------------------------------------------------------------------------------------

  /** The worker thread layer downloads may run in, and what its GET of `digest` sends: the endpoint
   *  in use and its token. Undefined without a worker or before a request chose the endpoint. */
  offload(
    digest: string,
  ): { worker: LayerWorkers; url: URL; headers: Record<string, string>; skipVerify: boolean; idleMs: number; signal: AbortSignal | undefined; onExec: ((argv: string[]) => void) | undefined } | undefined {
    const ep = this.#pinned;
    const worker = this.#client.layerWorker;
    if (!ep || !worker) return undefined;
    const auth = this.#auth.get(ep.base);
    return {
      worker,
      url: this.#url(ep, `blobs/${digest}`),
      headers: { 'User-Agent': this.#client.transport.userAgent, ...(auth ? { Authorization: auth } : {}) },
      skipVerify: ep.skipVerify,
      idleMs: this.#client.transport.idleMs,
      signal: this.#o.signal,
      onExec: this.#client.onExec,
    };
  }


  /** GET a blob: the response body (a stream the caller must consume) and its announced length. */
  async blob(digest: string): Promise<{ body: IncomingMessage; length: number | undefined }> {
    return this.#onEndpoint(async (ep) => {
      const res = await this.#send(ep, 'GET', this.#url(ep, `blobs/${digest}`));
      if (res.status !== 200) throw await this.#error(res, 'blob', digest);
      const cl = res.headers['content-length'];
      return { body: res.body, length: cl === undefined ? undefined : Number(cl) };
    });
  }

  /** HEAD a blob: its size, or undefined when the repository does not have it. */
  async blobSize(digest: string): Promise<number | undefined> {
    return this.#onEndpoint(async (ep) => {
      const res = await this.#send(ep, 'HEAD', this.#url(ep, `blobs/${digest}`));
      res.body.resume();
      if (res.status === 404) return undefined;
      if (res.status !== 200) throw await this.#error(res, 'blob', digest);
      return Number(res.headers['content-length'] ?? 0);
    });
  }

  /** Ask the registry to link a blob another repository holds. False when it would not (it may
   *  then have opened an upload, which is cancelled). */
  async mount(digest: string, from: string): Promise<boolean> {
    return this.#onEndpoint(async (ep) => {
      const url = this.#url(ep, 'blobs/uploads/');
      url.searchParams.set('mount', digest);
      url.searchParams.set('from', from);
      const res = await this.#send(ep, 'POST', url);
      res.body.resume();
      if (res.status === 201) return true;
      if (res.status === 202 && res.headers.location) {
        await this.#send(ep, 'DELETE', new URL(res.headers.location, res.url)).then((r) => r.body.resume(), () => {});
        return false;
      }
      if (res.status === 401 || res.status === 403 || res.status === 404) return false;
      throw await this.#error(res, 'blob upload');
    });
  }

  /** Upload a blob from a stream of unknown length (one PATCH, then the PUT that names the digest
   *  computed on the way). `onBytes` sees the count of bytes sent so far. */
  async uploadStream(src: Readable, onBytes?: (n: number) => void): Promise<{ digest: string; size: number }> {
    return this.#onEndpoint(async (ep) => {
      let location = await this.#startUpload(ep);
      const counter = new HashCounter(onBytes);
      src.on('error', (e) => counter.destroy(e));
      src.pipe(counter);
      const patch = await this.#send(ep, 'PATCH', location, { headers: { 'Content-Type': 'application/octet-stream' }, body: counter, noRetry: true }).catch((e: unknown) => {
        // The request is gone: stop reading the layer.
        src.destroy();
        counter.destroy();
        throw e;
      });
      if (patch.status !== 202 && patch.status !== 204) throw await this.#error(patch, 'blob upload');
      patch.body.resume();
      if (patch.headers.location) location = new URL(patch.headers.location, patch.url);
      const digest = counter.digest();
      location.searchParams.set('digest', digest);
      const put = await this.#send(ep, 'PUT', location);
      if (put.status !== 201 && put.status !== 204) throw await this.#error(put, 'blob upload', digest);
      put.body.resume();
      return { digest, size: counter.size };
    });
  }

  /** Upload a small blob whose digest is known (the image config): one POST and one PUT. */
  async uploadBuffer(bytes: Buffer, digest: string): Promise<void> {
    return this.#onEndpoint(async (ep) => {
      const location = await this.#startUpload(ep);
      location.searchParams.set('digest', digest);
      const put = await this.#send(ep, 'PUT', location, { headers: { 'Content-Type': 'application/octet-stream' }, body: bytes });
      if (put.status !== 201 && put.status !== 204) throw await this.#error(put, 'blob upload', digest);
      put.body.resume();
    });
  }

  async #startUpload(ep: Endpoint): Promise<URL> {
    const res = await this.#send(ep, 'POST', this.#url(ep, 'blobs/uploads/'));
    res.body.resume();
    if (res.status !== 202 || !res.headers.location) throw await this.#error(res, 'blob upload');
    return new URL(res.headers.location, res.url);
  }

  // ---- login -------------------------------------------------------------------------------------

  async login(): Promise<{ identityToken?: string }> {
    return this.#onEndpoint(async (ep) => {
      const url = new URL(`${ep.base}/v2/`);
      const res = await this.#send(ep, 'GET', url, { login: true });
      res.body.resume();
      if (res.status === 200) return this.#refreshToken ? { identityToken: this.#refreshToken } : {};
      if (res.status === 401) throw forbidden(`login to ${ep.registry} failed: unauthorized: incorrect username or password`);
      throw await this.#error(res, 'login');
    });
  }

  // ---- plumbing ----------------------------------------------------------------------------------

  #url(ep: Endpoint, rest: string): URL {
    return new URL(`${ep.base}/v2/${this.name.path}/${rest}`);
  }

  /** Run `fn` on the pinned endpoint, or find one: insecure HTTPS falls back to HTTP on a
   *  transport error, a mirror to the next endpoint on any error. */
  async #onEndpoint<T>(fn: (ep: Endpoint) => Promise<T>): Promise<T> {
    if (this.#pinned) return this.#wrap(this.#pinned, () => fn(this.#pinned!));
    let last: unknown;
    let plainErr: unknown;
    const isTransport = (e: unknown) => e instanceof BerthError && e.cause instanceof TransportError;
    for (const [i, ep] of this.#eps.entries()) {
      const next = this.#eps[i + 1];
      try {
        const out = await this.#wrap(ep, () => fn(ep));
        this.#pinned = ep;
        if (ep.base.startsWith('http:')) this.#onPlain(ep);
        return out;
      } catch (e) {
        last = e;
        if (isTransport(e) && ep.base.startsWith('http:')) plainErr ??= e;
        if (this.#o.signal?.aborted || !next) break;
        if (ep.mirror || (isTransport(e) && next.registry === ep.registry)) continue;
        // An answer from the registry itself: it is the one to use.
        this.#pinned = ep;
        break;
      }
    }
    // Nothing answered an insecure registry: the plain-HTTP attempt's error says most (as docker's).
    throw isTransport(last) && plainErr ? plainErr : last;
  }

  async #wrap<T>(ep: Endpoint, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (e) {
      if (e instanceof TransportError) {
        if (e.code === 'ABORT_ERR') throw new BerthError('system', e.message, { cause: e });
        throw new BerthError('system', `registry ${ep.registry} is unreachable: ${e.message}`, { cause: e });
      }
      throw e;
    }
  }

  async #send(
    ep: Endpoint,
    method: Method,
    url: URL,
    o: { headers?: Record<string, string>; body?: Buffer | Readable; noRetry?: boolean; login?: boolean } = {},
  ): Promise<HttpResponse> {
    const go = () => {
      const auth = this.#auth.get(ep.base);
      return this.#client.transport.request({
        method,
        url,
        headers: { ...o.headers, ...(auth ? { Authorization: auth } : {}) },
        ...(o.body !== undefined ? { body: o.body } : {}),
        ...(this.#o.signal ? { signal: this.#o.signal } : {}),
        skipVerify: ep.skipVerify,
      });
    };
    const res = await go();
    if (res.status !== 401 || o.noRetry) return res;
    const challenges = parseWwwAuthenticate(res.headers['www-authenticate']);
    const header = await this.#authorize(ep, challenges, o.login === true);
    if (!header) return res;
    res.body.resume();
    this.#auth.set(ep.base, header);
    return go();
  }

  /** The Authorization header for a challenge, or undefined when there is nothing to try. */
  async #authorize(ep: Endpoint, challenges: Challenge[], login: boolean): Promise<string | undefined> {
    const creds = this.#o.creds ?? {};
    if (creds.registryToken) return `Bearer ${creds.registryToken}`;
    const bearer = challenges.find((c) => c.scheme === 'bearer');
    if (bearer) return `Bearer ${await this.#token(ep, bearer, creds, login)}`;
    const basic = challenges.find((c) => c.scheme === 'basic');
    if (basic) return basicHeader(creds);
    return undefined;
  }

  async #token(ep: Endpoint, ch: Challenge, creds: Credentials, login: boolean): Promise<string> {
    let realm: URL;
    try {
      realm = new URL(ch.params.realm ?? '');
    } catch {
      throw systemError(`registry ${ep.registry} asks for a token from an invalid realm ${JSON.stringify(ch.params.realm)}`);
    }
    if (realm.protocol !== 'https:' && realm.protocol !== 'http:') throw systemError(`registry ${ep.registry}: token realm ${realm.href} is not HTTP(S)`);
    const scopes = new Set<string>();
    if (!login) {
      if (this.#o.actions.length) scopes.add(repositoryScope(this.name.path, this.#o.actions));
      for (const r of this.#o.readFrom ?? []) scopes.add(repositoryScope(r, ['pull']));
      if (ch.params.scope) for (const s of ch.params.scope.split(' ')) if (s) scopes.add(s);
    }
    const skipVerify = this.#client.endpoints.isInsecure(realm.host);
    let res: HttpResponse;
    try {
      if (creds.identityToken) {
        const form = new URLSearchParams({ grant_type: 'refresh_token', refresh_token: creds.identityToken, client_id: 'berth', service: ch.params.service ?? '' });
        if (scopes.size) form.set('scope', [...scopes].join(' '));
        res = await this.#client.transport.request({
          method: 'POST',
          url: realm,
          headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
          body: Buffer.from(form.toString()),
          ...(this.#o.signal ? { signal: this.#o.signal } : {}),
          skipVerify,
        });
      } else {
        const url = new URL(realm);
        if (ch.params.service) url.searchParams.set('service', ch.params.service);
        for (const s of scopes) url.searchParams.append('scope', s);
        const basic = basicHeader(creds);
        if (basic) {
          url.searchParams.set('account', creds.username!);
          if (login) {
            url.searchParams.set('offline_token', 'true');
            url.searchParams.set('client_id', 'berth');
          }
        }
        res = await this.#client.transport.request({ method: 'GET', url, headers: basic ? { Authorization: basic } : {}, ...(this.#o.signal ? { signal: this.#o.signal } : {}), skipVerify });
      }
    } catch (e) {
      if (e instanceof TransportError) throw new BerthError('system', `token server of ${ep.registry} is unreachable: ${e.message}`, { cause: e });
      throw e;
    }
    const body = await readSmall(res.body, ERROR_LIMIT, 'token answer').catch(rethrowRange);
    if (res.status === 401 || res.status === 403) {
      const detail = registryMessage(body) ?? 'unauthorized: incorrect username or password';
      throw forbidden(`${login ? `login to ${ep.registry} failed` : `authentication with ${ep.registry} failed`}: ${detail}`);
    }
    if (res.status !== 200) throw systemError(`token server ${realm.host} answered ${res.status}: ${body.toString('utf8').slice(0, 200)}`);
    let json: unknown;
    try {
      json = JSON.parse(body.toString('utf8'));
    } catch {
      throw systemError(`token server ${realm.host} answered with something that is not JSON`);
    }
    try {
      const t = tokenFromAnswer(json);
      const refresh = (json as { refresh_token?: unknown }).refresh_token;
      if (typeof refresh === 'string' && refresh) this.#refreshToken = refresh;
      return t.token;
    } catch (e) {
      throw systemError(`token server ${realm.host}: ${(e as Error).message}`);
    }
  }

  /** A BerthError for a registry's non-success answer, in docker's words. */
  async #error(res: HttpResponse, what: 'manifest' | 'blob' | 'blob upload' | 'tags' | 'login', ref?: string): Promise<BerthError> {
    const body = res.body.readableEnded ? Buffer.alloc(0) : await readSmall(res.body, ERROR_LIMIT, 'error answer').catch(() => Buffer.alloc(0));
    const s0 = res.status;
    const fallback = s0 === 401 ? 'unauthorized: authentication required' : s0 === 403 ? 'denied: requested access to the resource is denied' : `${s0} ${httpStatusText(s0)}`;
    const detail = registryMessage(body) ?? fallback;
    const name = this.fullName.replace(/^docker\.io\/(library\/)?/, '');
    const s = res.status;
    if (what === 'manifest' && (s === 401 || s === 403) && this.#o.actions.includes('pull') && !this.#o.actions.includes('push'))
      return forbidden(`pull access denied for ${name}, repository does not exist or may require 'berth login': ${detail}`);
    if (s === 401 || s === 403) return forbidden(`${what} ${ref ?? ''} of ${name}: ${detail}`.replace(/ {2}/g, ' '));
    if (what === 'manifest' && s === 404) {
      const shown = ref?.startsWith('sha256:') ? `${name}@${ref}` : `${name}:${ref}`;
      return notFound(`manifest for ${shown} not found: ${detail}`);
    }
    if (s === 404) return notFound(`${what} ${ref ?? ''} of ${name} not found: ${detail}`.replace(/ {2}/g, ' '));
    if (s === 400 || s === 405 || s === 413 || s === 416) return invalidParameter(`${what} ${ref ?? ''} of ${name}: ${detail}`.replace(/ {2}/g, ' '));
    return systemError(`${what} ${ref ?? ''} of ${name}: registry ${this.#pinned?.registry ?? this.name.domain} answered ${detail}`.replace(/ {2}/g, ' '));
  }
}

/** "manifest unknown: manifest unknown" from a Distribution error document. */
export function registryMessage(body: Buffer): string | undefined {
  try {
    const o = JSON.parse(body.toString('utf8')) as { errors?: { code?: unknown; message?: unknown; detail?: unknown }[]; details?: unknown };
    const errs = Array.isArray(o.errors) ? o.errors : [];
    const parts = errs.map((e) => {
      const code = typeof e.code === 'string' ? e.code.toLowerCase().replace(/_/g, ' ') : 'unknown';
      const msg = typeof e.message === 'string' && e.message ? e.message : code;
      return `${code}: ${msg}`;
    });
    if (parts.length) return parts.join(', ');
    if (typeof o.details === 'string') return o.details;
  } catch {
    /* not JSON */
  }
  return undefined;
}

function httpStatusText(s: number): string {
  return (
    ({ 400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 405: 'Method Not Allowed', 429: 'Too Many Requests', 500: 'Internal Server Error', 502: 'Bad Gateway', 503: 'Service Unavailable' } as Record<number, string>)[s] ?? 'status'
  );
}

function rethrowRange(e: unknown): never {
  if (e instanceof RangeError) throw invalidParameter(e.message);
  throw e;
}

/** A pass-through that hashes and counts what flows through it. */
class HashCounter extends Transform {
  readonly #hash = createHash('sha256');
  size = 0;
  constructor(readonly onBytes?: (n: number) => void) {
    super();
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.#hash.update(chunk);
    this.size += chunk.length;
    this.onBytes?.(this.size);
    cb(null, chunk);
  }
  digest(): string {
    return `sha256:${this.#hash.digest('hex')}`;
  }
}
