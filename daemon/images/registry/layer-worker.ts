// A layer download, in a worker thread (dist/bin/layer-worker.mjs): the GET of one blob, the sha256
// of the compressed bytes, the decompressor, the sha256 of what comes out (the diff id), the tar
// splitter, and either the staged blob file or the storage driver's unpack (unpack.ts, into the
// driver's temp dir, with the driver's options). The daemon's event loop touches none of the bytes:
// on two cores the hashing, receiving and writing no longer queue behind each other, the API and
// the network handlers. The decompressed bytes wait in a bounded channel (Held) until the daemon
// says where they go — unpacked here, sent to it by transfer (a consumer that reads the stream
// itself; acknowledged, at most WINDOW bytes in flight), or dropped (the driver had the layer).
// The daemon prepares the request (endpoint, token) and keeps every decision: any answer but a 200
// is handed back untouched (it retries in-process, where auth, mirrors and error documents are
// handled), the digests are compared there, and the driver keeps the unpacked layer only once they
// matched. Protocol: offload.ts.
import { createHash } from 'node:crypto';
import { openSync, closeSync } from 'node:fs';
import http, { type IncomingMessage } from 'node:http';
import https from 'node:https';
import { parentPort } from 'node:worker_threads';
import { PushDecoder } from '../../../drivers/image/layer/decoder.js';
import { FileWriter } from '../../../drivers/image/layer/writer.js';
import { TarSplitter } from '../../../drivers/image/layer/tarsplit.js';
import { unpackLayer } from '../../../drivers/image/layer/unpack.js';
import { realExec, type Exec } from '../../../drivers/sys/exec.js';
import { Channel } from './channel.js';
import { toWire, type FromWorker, type ToWorker, type FetchOrder, type UnpackOrder } from './offload.js';

/** Decompressed bytes handed to the daemon and not yet acknowledged, per download. */
const WINDOW = 4 << 20;
/** Progress: a "bytes" message at most this often (the API's progress lines come every 100 ms;
 *  each message between threads costs ~0.1 ms). */
const PROGRESS_MS = 50;
const REDIRECTS = new Set([301, 302, 303, 307, 308]);
const MAX_REDIRECTS = 10;

const port = parentPort!;
const agents = {
  http: new http.Agent({ keepAlive: true, maxSockets: 16 }),
  https: new https.Agent({ keepAlive: true, maxSockets: 16 }),
  insecure: new https.Agent({ keepAlive: true, maxSockets: 16, rejectUnauthorized: false }),
};
const running = new Map<number, Download>();
/** Decompressed bytes of a download, until they went where the daemon said (may outlive it). */
const held = new Map<number, Held>();
const exec = realExec();

const post = (m: FromWorker, transfer?: ArrayBuffer[]) => port.postMessage(m, transfer);

port.on('message', (m: ToWorker) => {
  if (m.t === 'fetch') {
    const d = new Download(m);
    running.set(m.id, d);
    if (m.chunks) held.set(m.id, new Held(m.id));
    void d.run(held.get(m.id)).finally(() => running.delete(m.id));
  } else if (m.t === 'ack') held.get(m.id)?.ack(m.bytes);
  else if (m.t === 'abort') running.get(m.id)?.abort(m.reason);
  else if (m.t === 'unpack') held.get(m.id)?.unpack(m);
  else if (m.t === 'forward') held.get(m.id)?.forward();
  else if (m.t === 'skip') held.get(m.id)?.skip();
});

class TransportFailure extends Error {
  constructor(
    readonly code: string | undefined,
    message: string,
  ) {
    super(message);
  }
}

/** Where a download's decompressed bytes go: they wait (at most WINDOW bytes, then the download
 *  pauses) until the daemon says. */
class Held {
  readonly #id: number;
  readonly #channel = new Channel(WINDOW);
  #mode: 'wait' | 'unpack' | 'forward' | 'skip' = 'wait';
  #outstanding = 0;
  #wake: (() => void) | undefined;
  #settle!: () => void;
  /** Resolves once the bytes went where they were told (all sent, all unpacked, or dropped): the
   *  download's ending is posted only then, so it never overtakes a forwarded chunk. */
  readonly settled = new Promise<void>((r) => (this.#settle = r));

  constructor(id: number) {
    this.#id = id;
  }

  push(c: Buffer): Promise<void> | undefined {
    return this.#channel.push(c);
  }

  end(): void {
    this.#channel.end();
  }

  fail(e: unknown): void {
    this.#channel.fail(e);
    this.#wakeUp();
  }

  unpack(o: UnpackOrder): void {
    if (this.#mode !== 'wait') return;
    this.#mode = 'unpack';
    // (the programs it runs are reported, for the job's trace in the daemon)
    const execs: string[][] = [];
    const counted: Exec = { run: (argv, opts) => (execs.push([...argv]), exec.run(argv, opts)) };
    unpackLayer(this.#channel, o.dir, { whiteouts: o.whiteouts, chown: o.chown, exec: counted, hash: false }).then(
      (r) => post({ t: 'unpacked', id: this.#id, size: r.size, skipped: r.skipped, execs }),
      (e: unknown) => post({ t: 'unpack-error', id: this.#id, error: toWire(e), execs }),
    ).finally(() => this.#done());
  }

  #done(): void {
    held.delete(this.#id);
    this.#settle();
  }

  forward(): void {
    if (this.#mode !== 'wait') return;
    this.#mode = 'forward';
    void (async () => {
      try {
        for await (const c of this.#channel) {
          this.#send(c as Buffer);
          if (this.#outstanding > WINDOW) await new Promise<void>((r) => (this.#wake = r));
        }
      } catch {
        // the download failed: the daemon learns it from the download's ending
      } finally {
        this.#done();
      }
    })();
  }

  skip(): void {
    this.#mode = 'skip';
    this.#channel.abandon();
    this.#done();
  }

  ack(bytes: number): void {
    this.#outstanding -= bytes;
    if (this.#outstanding <= WINDOW) this.#wakeUp();
  }

  #wakeUp(): void {
    const w = this.#wake;
    this.#wake = undefined;
    w?.();
  }

  /** Hand a chunk to the daemon: moved when it owns its memory, copied otherwise. */
  #send(c: Buffer): void {
    const own = c.byteOffset === 0 && c.byteLength === c.buffer.byteLength && !(c.buffer instanceof SharedArrayBuffer);
    const buf = own ? (c.buffer as ArrayBuffer) : new Uint8Array(c).buffer;
    this.#outstanding += c.length;
    post({ t: 'chunk', id: this.#id, buf }, [buf]);
  }
}

class Download {
  readonly #o: FetchOrder;
  #aborted: string | undefined;
  #fail: ((e: Error) => void) | undefined;

  constructor(o: FetchOrder) {
    this.#o = o;
  }

  abort(reason: string): void {
    this.#aborted ??= reason;
    this.#fail?.(new TransportFailure('ABORT_ERR', reason));
  }

  async run(sink: Held | undefined): Promise<void> {
    const { id } = this.#o;
    let head = false;
    try {
      const res = await this.#get();
      if (res.statusCode !== 200) {
        res.resume();
        sink?.skip();
        post({ t: 'status', id, status: res.statusCode ?? 0 });
        return;
      }
      const length = res.headers['content-length'] === undefined ? undefined : Number(res.headers['content-length']);
      if (length !== undefined && length !== this.#o.size) {
        res.destroy();
        sink?.skip();
        post({ t: 'length', id, length });
        return;
      }
      post({ t: 'head', id });
      head = true;
      await this.#stream(res, sink);
    } catch (e) {
      // (before the head the daemon never says where the bytes go: nothing is held for it)
      if (head) sink?.fail(e);
      else sink?.skip();
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
        r.on('aborted', () => fail(new TransportFailure('ECONNRESET', `GET ${url.href}: the connection broke off`)));
        resolve(r);
      });
      req.end();
    });
  }

  async #stream(res: IncomingMessage, sink: Held | undefined): Promise<void> {
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
      const room = sink?.push(c);
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
    let reported = performance.now();
    res.on('data', (c: Buffer) => {
      hash.update(c);
      n += c.length;
      if (n > size) return void res.destroy(Object.assign(new Error('too large'), { code: 'ETOOLARGE' }));
      const now = performance.now();
      if (now - reported >= PROGRESS_MS) {
        reported = now;
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
      if ((e as NodeJS.ErrnoException).code === 'ETOOLARGE') {
        sink?.fail(e);
        return post({ t: 'large', id });
      }
      throw e instanceof TransportFailure || writer?.failed ? e : new TransportFailure((e as NodeJS.ErrnoException).code, (e as Error).message);
    }
    if (decodeError) sink?.fail(Object.assign(new Error(decodeError.message), { code: decodeError.code }));
    else sink?.end();
    await sink?.settled;
    const s = decodeError ? undefined : splitter?.finish();
    const split = s ? { record: new Uint8Array(s.record).buffer, size: s.size, exact: s.exact } : undefined;
    post({ t: 'end', id, n, digest: `sha256:${hash.digest('hex')}`, out, diffId: `sha256:${diffHash.digest('hex')}`, decodeError, split }, split ? [split.record] : undefined);
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
