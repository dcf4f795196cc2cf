// The layer download's hot loop, in a worker thread (dist/bin/layer-worker.mjs): the GET of one
// blob, the sha256 of the compressed bytes, the decompressor, the sha256 of what comes out (the diff
// id), and optionally the staged blob file. The daemon's event loop then only unpacks: on two cores
// the hashing and HTTP receive no longer queue behind the unpack, the API and the network handlers.
// Decompressed chunks go to the daemon by transfer (no copy) when nothing else holds them; the
// daemon acknowledges what its unpack consumed, so at most WINDOW bytes are in flight per download.
// The daemon prepares the request (endpoint, token) and keeps every decision: any answer but a 200
// is handed back untouched (it retries in-process, where auth, mirrors and error documents are
// handled), and the digests are compared there. Protocol: offload.ts.
import { createHash } from 'node:crypto';
import { openSync, closeSync } from 'node:fs';
import http, { type IncomingMessage } from 'node:http';
import https from 'node:https';
import { parentPort } from 'node:worker_threads';
import { PushDecoder } from '../../../drivers/image/layer/decoder.js';
import { FileWriter } from '../../../drivers/image/layer/writer.js';
import { TarSplitter } from '../../../drivers/image/layer/tarsplit.js';
import type { FromWorker, ToWorker, FetchOrder } from './offload.js';

/** Decompressed bytes handed to the daemon and not yet acknowledged, per download. */
const WINDOW = 4 << 20;
/** Progress: a "bytes" message at least every this many compressed bytes. */
const PROGRESS_STEP = 512 << 10;
const REDIRECTS = new Set([301, 302, 303, 307, 308]);
const MAX_REDIRECTS = 10;

const port = parentPort!;
const agents = {
  http: new http.Agent({ keepAlive: true, maxSockets: 16 }),
  https: new https.Agent({ keepAlive: true, maxSockets: 16 }),
  insecure: new https.Agent({ keepAlive: true, maxSockets: 16, rejectUnauthorized: false }),
};
const running = new Map<number, Download>();

const post = (m: FromWorker, transfer?: ArrayBuffer[]) => port.postMessage(m, transfer);

port.on('message', (m: ToWorker) => {
  if (m.t === 'fetch') {
    const d = new Download(m);
    running.set(m.id, d);
    void d.run().finally(() => running.delete(m.id));
  } else if (m.t === 'ack') running.get(m.id)?.ack(m.bytes);
  else if (m.t === 'abort') running.get(m.id)?.abort(m.reason);
});

class TransportFailure extends Error {
  constructor(
    readonly code: string | undefined,
    message: string,
  ) {
    super(message);
  }
}

class Download {
  readonly #o: FetchOrder;
  #res: IncomingMessage | undefined;
  #req: http.ClientRequest | undefined;
  #aborted: string | undefined;
  #outstanding = 0;
  #wakeSink: (() => void) | undefined;
  #fail: ((e: Error) => void) | undefined;

  constructor(o: FetchOrder) {
    this.#o = o;
  }

  ack(bytes: number): void {
    this.#outstanding -= bytes;
    if (this.#outstanding <= WINDOW) {
      const w = this.#wakeSink;
      this.#wakeSink = undefined;
      w?.();
    }
  }

  abort(reason: string): void {
    this.#aborted ??= reason;
    const w = this.#wakeSink;
    this.#wakeSink = undefined;
    w?.();
    this.#fail?.(new TransportFailure('ABORT_ERR', reason));
  }

  async run(): Promise<void> {
    const { id } = this.#o;
    try {
      const res = await this.#get();
      if (res.statusCode !== 200) {
        res.resume();
        post({ t: 'status', id, status: res.statusCode ?? 0 });
        return;
      }
      const length = res.headers['content-length'] === undefined ? undefined : Number(res.headers['content-length']);
      if (length !== undefined && length !== this.#o.size) {
        res.destroy();
        post({ t: 'length', id, length });
        return;
      }
      post({ t: 'head', id });
      await this.#stream(res);
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      post({ t: 'error', id, kind: e instanceof TransportFailure ? 'transport' : 'io', code: err.code, message: err.message });
    }
  }

  /** GET, following redirects like http.ts (Authorization dropped when leaving the origin). */
  async #get(): Promise<IncomingMessage> {
    let url = new URL(this.#o.url);
    const headers = { ...this.#o.headers };
    for (let hop = 0; ; hop++) {
      const res = await this.#once(url, headers);
      const loc = res.headers.location;
      if (!REDIRECTS.has(res.statusCode ?? 0) || !loc) return res;
      res.resume();
      if (hop >= MAX_REDIRECTS) throw new TransportFailure('ETOOMANYREDIRECTS', `GET ${url.href}: too many redirects`);
      const next = new URL(loc, url);
      if (next.protocol !== 'http:' && next.protocol !== 'https:') throw new TransportFailure('EBADREDIRECT', `GET ${url.href}: redirect to ${next.protocol}`);
      if (next.origin !== url.origin) delete headers.Authorization;
      url = next;
    }
  }

  #once(url: URL, headers: Record<string, string>): Promise<IncomingMessage> {
    return new Promise((resolve, reject) => {
      if (this.#aborted) return reject(new TransportFailure('ABORT_ERR', this.#aborted));
      const isHttps = url.protocol === 'https:';
      const req = (isHttps ? https : http).request({
        method: 'GET',
        hostname: url.hostname.replace(/^\[|\]$/g, ''),
        port: url.port || (isHttps ? 443 : 80),
        path: url.pathname + url.search,
        headers,
        agent: isHttps ? (this.#o.skipVerify ? agents.insecure : agents.https) : agents.http,
        servername: isHttps && !/^[\d.]+$|:/.test(url.hostname) ? url.hostname : undefined,
      });
      this.#req = req;
      let res: IncomingMessage | undefined;
      const fail = (e: Error) => {
        const err = e instanceof TransportFailure ? e : new TransportFailure((e as NodeJS.ErrnoException).code, `GET ${url.href}: ${e.message}`);
        if (res) res.destroy(err);
        else reject(err);
        req.destroy(err);
      };
      this.#fail = fail;
      req.setTimeout(this.#o.idleMs, () => fail(new TransportFailure('ETIMEDOUT', `GET ${url.href}: no answer for ${Math.round(this.#o.idleMs / 1000)} s`)));
      req.on('error', fail);
      req.on('response', (r) => {
        res = r;
        this.#res = r;
        r.on('aborted', () => fail(new TransportFailure('ECONNRESET', `GET ${url.href}: the connection broke off`)));
        resolve(r);
      });
      req.end();
    });
  }

  async #stream(res: IncomingMessage): Promise<void> {
    const { id, size } = this.#o;
    const writer = this.#o.blobPath !== undefined ? new Writer(this.#o.blobPath) : undefined;
    const diffHash = createHash('sha256');
    const splitter = this.#o.split ? new TarSplitter({ whiteouts: 'overlay' }) : undefined;
    let out = 0;
    const decoder = new PushDecoder((c) => {
      diffHash.update(c);
      splitter?.push(c);
      out += c.length;
      const w = writer?.write(c);
      if (this.#o.chunks && !this.#aborted) this.#send(c, writer !== undefined);
      const room = this.#outstanding > WINDOW ? new Promise<void>((r) => (this.#wakeSink = r)) : undefined;
      return w && room ? Promise.all([w, room]).then(() => {}) : (w ?? room);
    });
    let decodeError: { message: string; code: string | undefined } | undefined;
    const decodeFailed = (e: unknown) => {
      if (decodeError) return;
      const err = e as NodeJS.ErrnoException;
      // A failed write is an I/O error: it stops the download. Bad data only stops decompressing.
      if (writer?.failed) return res.destroy(err);
      decodeError = { message: err.message, code: err.code };
    };
    const hash = createHash('sha256');
    let n = 0;
    let reported = 0;
    res.on('data', (c: Buffer) => {
      hash.update(c);
      n += c.length;
      if (n > size) return void res.destroy(Object.assign(new Error('too large'), { code: 'ETOOLARGE' }));
      if (n - reported >= PROGRESS_STEP) {
        reported = n;
        post({ t: 'bytes', id, n });
      }
      if (decodeError) return;
      const p = decoder.write(c);
      if (!p) return;
      res.pause();
      p.then(
        () => res.resume(),
        (e: unknown) => {
          decodeFailed(e);
          res.resume();
        },
      );
    });
    try {
      await new Promise<void>((resolve, reject) => {
        res.on('end', resolve);
        res.on('error', reject);
        res.on('close', () => (res.complete ? resolve() : reject(new TransportFailure('ECONNRESET', 'the connection broke off'))));
      });
      if (!decodeError) await decoder.end().catch(decodeFailed);
      await writer?.close();
    } catch (e) {
      decoder.destroy();
      await writer?.close().catch(() => {});
      if ((e as NodeJS.ErrnoException).code === 'ETOOLARGE') return post({ t: 'large', id });
      throw e instanceof TransportFailure || writer?.failed ? e : new TransportFailure((e as NodeJS.ErrnoException).code, (e as Error).message);
    }
    const s = decodeError ? undefined : splitter?.finish();
    const split = s ? { record: new Uint8Array(s.record).buffer, size: s.size, exact: s.exact } : undefined;
    post({ t: 'end', id, n, digest: `sha256:${hash.digest('hex')}`, out, diffId: `sha256:${diffHash.digest('hex')}`, decodeError, split }, split ? [split.record] : undefined);
  }

  /** Hand a decompressed chunk to the daemon: moved when it owns its memory and nothing else
   *  (the blob writer) still reads it, copied otherwise. */
  #send(c: Buffer, shared: boolean): void {
    const own = !shared && c.byteOffset === 0 && c.byteLength === c.buffer.byteLength && !(c.buffer instanceof SharedArrayBuffer);
    const buf = own ? (c.buffer as ArrayBuffer) : new Uint8Array(c).buffer;
    this.#outstanding += c.length;
    post({ t: 'chunk', id: this.#o.id, buf }, [buf]);
  }
}

/** The staged blob file (the daemon made it and renames it once both digests match). */
class Writer {
  readonly #fd: number;
  readonly #w: FileWriter;
  failed = false;
  #closed = false;

  constructor(path: string) {
    this.#fd = openSync(path, 'r+');
    this.#w = new FileWriter(this.#fd);
  }

  write(c: Uint8Array): Promise<void> | undefined {
    const p = this.#w.write(c);
    return p?.catch((e: unknown) => {
      this.failed = true;
      throw e;
    });
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    try {
      await this.#w.flush();
    } catch (e) {
      this.failed = true;
      throw e;
    } finally {
      await this.#w.settle();
      closeSync(this.#fd);
    }
  }
}
