// Layer compression: told apart by magic bytes (never by a file name or a media type alone), and
// undone while streaming. gzip through node:zlib; plain tar as is. zstd, bzip2 and xz are refused
// with a clear error (node 20 has no zstd; see README "Be aware").
import { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
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
    const c = Buffer.from(r.value);
    head.push(c);
    len += c.length;
  }
  const first = Buffer.concat(head);
  const kind = detectCompression(first);
  if (kind === 'bzip2' || kind === 'xz' || kind === 'zstd')
    throw invalidParameter(`${kind}-compressed layers are not supported (use gzip or an uncompressed tar)`);
  async function* rest(): AsyncGenerator<Buffer> {
    if (first.length) yield first;
    if (done) return;
    for (;;) {
      const r = await it.next();
      if (r.done) return;
      yield Buffer.from(r.value);
    }
  }
  const raw = Readable.from(rest(), { objectMode: false });
  if (kind === 'none') return { stream: raw, compression: 'none' };
  const gunzip = createGunzip();
  raw.on('error', (e) => gunzip.destroy(e));
  raw.pipe(gunzip);
  return { stream: gunzip, compression: 'gzip' };
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
