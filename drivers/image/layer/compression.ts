// Layer compression: told apart by magic bytes (never by a file name or a media type alone), and
// undone while streaming. gzip through node:zlib; zstd through fzstd (pure JS, no dependencies:
// node 20's zlib has no zstd); plain tar as is. bzip2 and xz are refused with a clear error.
import { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { Decompress } from 'fzstd';
import { BerthError, invalidParameter } from '../../errors.js';

export type Compression = 'gzip' | 'zstd' | 'none';

/** Compression of a stream that starts with `head` (at least 6 bytes, unless the stream is shorter). */
export function detectCompression(head: Uint8Array): Compression | 'bzip2' | 'xz' {
  const b = (i: number) => head[i];
  if (b(0) === 0x1f && b(1) === 0x8b) return 'gzip';
  if (b(0) === 0x28 && b(1) === 0xb5 && b(2) === 0x2f && b(3) === 0xfd) return 'zstd';
  if (b(0) === 0x42 && b(1) === 0x5a && b(2) === 0x68) return 'bzip2';
  if (b(0) === 0xfd && b(1) === 0x37 && b(2) === 0x7a && b(3) === 0x58 && b(4) === 0x5a && b(5) === 0x00) return 'xz';
  return 'none';
}

/** Peek at the start of `src` and return a stream of the uncompressed bytes. */
export async function decompress(src: AsyncIterable<Uint8Array>): Promise<{ stream: Readable; compression: Compression }> {
  const it = src[Symbol.asyncIterator]();
  const head: Buffer[] = [];
  let len = 0;
  let done = false;
  while (len < 6) {
    const r = await it.next();
    if (r.done) {
      done = true;
      break;
    }
    const c = asBuffer(r.value);
    head.push(c);
    len += c.length;
  }
  const first = Buffer.concat(head);
  const kind = detectCompression(first);
  if (kind === 'bzip2' || kind === 'xz') throw invalidParameter(`${kind}-compressed layers are not supported (use gzip, zstd or an uncompressed tar)`);
  async function* rest(): AsyncGenerator<Buffer> {
    if (first.length) yield first;
    if (done) return;
    for (;;) {
      const r = await it.next();
      if (r.done) return;
      yield asBuffer(r.value);
    }
  }
  const raw = quiet(Readable.from(rest(), { objectMode: false }));
  if (kind === 'none') return { stream: raw, compression: 'none' };
  if (kind === 'zstd') return { stream: quiet(Readable.from(unzstd(raw), { objectMode: false })), compression: 'zstd' };
  // 256 KiB output chunks: node's default 16 KiB made gunzip 2-3x slower on layer-sized input.
  const gunzip = quiet(createGunzip({ chunkSize: 256 * 1024 }));
  raw.on('error', (e) => gunzip.destroy(e));
  raw.pipe(gunzip);
  return { stream: gunzip, compression: 'gzip' };
}

/** A Buffer view of the same memory (Buffer.from(Uint8Array) would copy every chunk). */
function asBuffer(c: Uint8Array): Buffer {
  return Buffer.isBuffer(c) ? c : Buffer.from(c.buffer, c.byteOffset, c.byteLength);
}

/** A stream that may fail before its consumer listens (a client gone mid-upload) must not take the
 *  daemon down: the error is kept on the destroyed stream (`errored`) and thrown to whoever reads it. */
function quiet<T extends Readable>(s: T): T {
  s.on('error', () => {});
  return s;
}

/** zstd frames → bytes. Output is pulled one input chunk at a time (backpressure for free). */
async function* unzstd(src: AsyncIterable<Uint8Array>): AsyncGenerator<Buffer> {
  const out: Buffer[] = [];
  const d = new Decompress((chunk) => out.push(Buffer.from(chunk)));
  const push = (c: Uint8Array, final: boolean) => {
    try {
      d.push(c, final);
    } catch (e) {
      throw invalidParameter(`invalid zstd data: ${(e as Error).message}`, e);
    }
  };
  for await (const c of src) {
    push(c, false);
    while (out.length) yield out.shift()!;
  }
  push(new Uint8Array(0), true);
  while (out.length) yield out.shift()!;
}

/** An error met while reading an archive, as the user's fault when it is the data's: tar-stream's
 *  parse errors (no errno code) and zlib's (Z_*) become invalid_parameter; I/O errors stay. */
export function archiveError(e: unknown): unknown {
  if (e instanceof BerthError || !(e instanceof Error)) return e;
  const code = (e as NodeJS.ErrnoException).code;
  if (typeof code === 'string' && code.startsWith('Z_')) return invalidParameter(`invalid gzip data: ${e.message}`, e);
  if (code === undefined) return invalidParameter(`invalid tar archive: ${e.message}`, e);
  return e;
}
