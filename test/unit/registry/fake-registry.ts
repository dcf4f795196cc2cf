// An in-process Distribution registry for unit tests, on 127.0.0.1 (plain HTTP): manifests and
// blobs per repository, uploads (POST/PATCH/PUT, cross-repository mounts), tag lists, and optional
// auth (Basic, or Bearer tokens from its own /token realm). Blob GETs can redirect to a second
// server (another origin), which records whether an Authorization header followed. Every request
// is logged. A model, not a mock: what is pushed can be pulled back.
import { createHash, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FakeRegistryOptions {
  auth?: { kind: 'basic' | 'bearer'; user: string; pass: string; anonymousPull?: boolean };
  /** Serve blob GETs by a 307 to a storage server on another port. */
  redirectBlobs?: boolean;
  /** Wait this long before answering a blob GET (to see concurrency and cancel mid-pull). */
  blobDelayMs?: number;
}

export interface Logged {
  method: string;
  url: string;
  authorization?: string;
}

export const sha = (b: Uint8Array | string) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

export class FakeRegistry {
  readonly blobs = new Map<string, Buffer>();
  /** repo → set of blob digests it holds */
  readonly repoBlobs = new Map<string, Set<string>>();
  /** repo → ref (tag or digest) → manifest */
  readonly manifests = new Map<string, Map<string, { body: Buffer; mediaType: string }>>();
  readonly log: Logged[] = [];
  readonly storageLog: Logged[] = [];
  /** Blob digest → bytes to send instead (tampering). */
  readonly tamper = new Map<string, Buffer>();
  readonly #uploads = new Map<string, Buffer[]>();
  readonly #tokens = new Map<string, string[]>();
  #server!: Server;
  #storage?: Server;
  port = 0;
  storagePort = 0;
  /** Connections that did not speak HTTP (a client trying TLS first). */
  garbage = 0;
  /** Blob GETs being answered now, and the most at once. */
  inflightBlobs = 0;
  maxInflightBlobs = 0;

  constructor(readonly opts: FakeRegistryOptions = {}) {}

  get host(): string {
    return `127.0.0.1:${this.port}`;
  }

  async start(): Promise<this> {
    this.#server = createServer((req, res) => void this.#handle(req, res).catch((e) => this.#json(res, 500, { errors: [{ code: 'UNKNOWN', message: String(e) }] })));
    this.#server.on('clientError', (_e, socket) => {
      this.garbage++;
      socket.destroy();
    });
    await new Promise<void>((r) => this.#server.listen(0, '127.0.0.1', r));
    this.port = (this.#server.address() as AddressInfo).port;
    if (this.opts.redirectBlobs) {
      this.#storage = createServer((req, res) => {
        this.storageLog.push({ method: req.method!, url: req.url!, ...(req.headers.authorization ? { authorization: req.headers.authorization } : {}) });
        const d = decodeURIComponent(req.url!.slice(1));
        const b = this.tamper.get(d) ?? this.blobs.get(d);
        if (!b) return void res.writeHead(404).end();
        res.writeHead(200, { 'Content-Length': b.length }).end(b);
      });
      await new Promise<void>((r) => this.#storage!.listen(0, '127.0.0.1', r));
      this.storagePort = (this.#storage.address() as AddressInfo).port;
    }
    return this;
  }

  async stop(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise<void>((r) => this.#server.close(() => r()));
    if (this.#storage) {
      this.#storage.closeAllConnections();
      await new Promise<void>((r) => this.#storage!.close(() => r()));
    }
  }

  /** Put a blob into a repository directly. */
  addBlob(repo: string, data: Buffer): string {
    const d = sha(data);
    this.blobs.set(d, data);
    (this.repoBlobs.get(repo) ?? this.repoBlobs.set(repo, new Set()).get(repo)!).add(d);
    return d;
  }

  addManifest(repo: string, ref: string, body: Buffer, mediaType: string): string {
    const m = this.manifests.get(repo) ?? this.manifests.set(repo, new Map()).get(repo)!;
    const d = sha(body);
    m.set(ref, { body, mediaType });
    m.set(d, { body, mediaType });
    return d;
  }

  #json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
    const b = Buffer.from(JSON.stringify(body));
    res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': b.length, ...headers }).end(b);
  }

  #err(res: ServerResponse, status: number, code: string, message: string, headers: Record<string, string> = {}): void {
    this.#json(res, status, { errors: [{ code, message }] }, headers);
  }

  async #body(req: IncomingMessage): Promise<Buffer> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    return Buffer.concat(chunks);
  }

  /** Whether the request may do `action` on `repo`; answers the 401 itself when not. */
  #allowed(req: IncomingMessage, res: ServerResponse, repo: string, action: 'pull' | 'push'): boolean {
    const a = this.opts.auth;
    if (!a) return true;
    if (a.anonymousPull && action === 'pull' && !req.headers.authorization) {
      // anonymous pulls still need a (anonymous) token with bearer
      if (a.kind === 'basic') return true;
    }
    const h = req.headers.authorization ?? '';
    if (a.kind === 'basic') {
      if (h === `Basic ${Buffer.from(`${a.user}:${a.pass}`).toString('base64')}`) return true;
      this.#err(res, 401, 'UNAUTHORIZED', 'authentication required', { 'WWW-Authenticate': 'Basic realm="fake"' });
      return false;
    }
    const scopes = h.startsWith('Bearer ') ? this.#tokens.get(h.slice(7)) : undefined;
    if (scopes?.some((s) => s === `repository:${repo}:${action}` || (s.startsWith(`repository:${repo}:`) && s.split(':')[2]!.split(',').includes(action)))) return true;
    const realm = `http://127.0.0.1:${this.port}/token`;
    const scope = repo ? `repository:${repo}:${action}` : '';
    this.#err(res, 401, 'UNAUTHORIZED', 'authentication required', {
      'WWW-Authenticate': `Bearer realm="${realm}",service="fake-registry"${scope ? `,scope="${scope}"` : ''}`,
    });
    return false;
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    this.log.push({ method: req.method!, url: req.url!, ...(req.headers.authorization ? { authorization: req.headers.authorization } : {}) });
    const url = new URL(req.url!, `http://${this.host}`);
    const a = this.opts.auth;
    if (url.pathname === '/token') {
      const scopes = url.searchParams.getAll('scope').flatMap((s) => s.split(' '));
      const h = req.headers.authorization ?? '';
      const good = h === `Basic ${Buffer.from(`${a!.user}:${a!.pass}`).toString('base64')}`;
      if (h && !good) return this.#err(res, 401, 'UNAUTHORIZED', 'incorrect username or password');
      const granted = good ? scopes : a!.anonymousPull ? scopes.map((s) => s.replace(/:[^:]*$/, ':pull')) : [];
      const token = randomBytes(8).toString('hex');
      this.#tokens.set(token, granted);
      return this.#json(res, 200, { token, expires_in: 300 });
    }
    if (url.pathname === '/v2/' || url.pathname === '/v2') {
      if (a) {
        const h = req.headers.authorization ?? '';
        const ok = a.kind === 'basic' ? h === `Basic ${Buffer.from(`${a.user}:${a.pass}`).toString('base64')}` : h.startsWith('Bearer ') && this.#tokens.has(h.slice(7));
        if (!ok)
          return this.#err(res, 401, 'UNAUTHORIZED', 'authentication required', {
            'WWW-Authenticate': a.kind === 'basic' ? 'Basic realm="fake"' : `Bearer realm="http://127.0.0.1:${this.port}/token",service="fake-registry"`,
          });
      }
      return this.#json(res, 200, {});
    }
    if (url.pathname.startsWith('/upload/')) return this.#upload(req, res, url);
    const m = /^\/v2\/(.+)\/(manifests|blobs|tags)\/(.*)$/.exec(url.pathname);
    if (!m) return this.#err(res, 404, 'NOT_FOUND', 'no route');
    const [, repo, kind, rest] = m as unknown as [string, string, string, string];
    const write = req.method === 'PUT' || req.method === 'POST' || req.method === 'PATCH';
    if (!this.#allowed(req, res, repo, write ? 'push' : 'pull')) return;
    if (kind === 'tags') {
      const tags = [...(this.manifests.get(repo)?.keys() ?? [])].filter((t) => !t.startsWith('sha256:'));
      return this.#json(res, 200, { name: repo, tags });
    }
    if (kind === 'manifests') {
      if (req.method === 'PUT') {
        const body = await this.#body(req);
        const d = this.addManifest(repo, rest, body, String(req.headers['content-type']));
        return void res.writeHead(201, { 'Docker-Content-Digest': d, 'Content-Length': 0 }).end();
      }
      const man = this.manifests.get(repo)?.get(rest);
      if (!man) return this.#err(res, 404, 'MANIFEST_UNKNOWN', 'manifest unknown');
      res.writeHead(200, { 'Content-Type': man.mediaType, 'Docker-Content-Digest': sha(man.body), 'Content-Length': man.body.length });
      return void res.end(req.method === 'HEAD' ? undefined : man.body);
    }
    // blobs
    if (rest === 'uploads/' && req.method === 'POST') {
      const mount = url.searchParams.get('mount');
      const from = url.searchParams.get('from');
      if (mount && from && this.repoBlobs.get(from)?.has(mount) && this.#readable(req, from)) {
        (this.repoBlobs.get(repo) ?? this.repoBlobs.set(repo, new Set()).get(repo)!).add(mount);
        return void res.writeHead(201, { Location: `/v2/${repo}/blobs/${mount}`, 'Content-Length': 0 }).end();
      }
      const id = randomBytes(6).toString('hex');
      this.#uploads.set(id, []);
      return void res.writeHead(202, { Location: `/upload/${id}?repo=${encodeURIComponent(repo)}&_state=x`, 'Content-Length': 0 }).end();
    }
    const digest = rest;
    if (!this.repoBlobs.get(repo)?.has(digest)) return this.#err(res, 404, 'BLOB_UNKNOWN', 'blob unknown to registry');
    const b = this.tamper.get(digest) ?? this.blobs.get(digest)!;
    if (req.method === 'HEAD') return void res.writeHead(200, { 'Content-Length': this.blobs.get(digest)!.length, 'Docker-Content-Digest': digest }).end();
    if (this.opts.redirectBlobs) return void res.writeHead(307, { Location: `http://127.0.0.1:${this.storagePort}/${encodeURIComponent(digest)}`, 'Content-Length': 0 }).end();
    this.inflightBlobs++;
    this.maxInflightBlobs = Math.max(this.maxInflightBlobs, this.inflightBlobs);
    try {
      if (this.opts.blobDelayMs) await new Promise((r) => setTimeout(r, this.opts.blobDelayMs));
      res.writeHead(200, { 'Content-Length': b.length, 'Docker-Content-Digest': digest }).end(b);
    } finally {
      this.inflightBlobs--;
    }
  }

  #readable(req: IncomingMessage, repo: string): boolean {
    const a = this.opts.auth;
    if (!a || a.kind === 'basic') return true;
    const h = req.headers.authorization ?? '';
    const scopes = h.startsWith('Bearer ') ? this.#tokens.get(h.slice(7)) : undefined;
    return !!scopes?.some((s) => s.startsWith(`repository:${repo}:`));
  }

  async #upload(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const id = url.pathname.slice('/upload/'.length);
    const parts = this.#uploads.get(id);
    const repo = url.searchParams.get('repo')!;
    if (!parts) return this.#err(res, 404, 'BLOB_UPLOAD_UNKNOWN', 'blob upload unknown');
    if (req.method === 'DELETE') {
      this.#uploads.delete(id);
      return void res.writeHead(204).end();
    }
    parts.push(await this.#body(req));
    if (req.method === 'PATCH') return void res.writeHead(202, { Location: `/upload/${id}?repo=${encodeURIComponent(repo)}&_state=y`, 'Content-Length': 0 }).end();
    const want = url.searchParams.get('digest');
    const data = Buffer.concat(parts);
    if (sha(data) !== want) return this.#err(res, 400, 'DIGEST_INVALID', 'provided digest did not match uploaded content');
    this.addBlob(repo, data);
    this.#uploads.delete(id);
    res.writeHead(201, { Location: `/v2/${repo}/blobs/${want}`, 'Docker-Content-Digest': want, 'Content-Length': 0 }).end();
  }
}
