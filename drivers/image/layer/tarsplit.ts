// Tar-split: store a pulled layer once. The splitter watches the uncompressed layer tar go by and
// keeps every byte that is NOT a regular file's content (headers, PAX/GNU records, padding, end
// blocks, trailing bytes) verbatim, and for each file's content only its path and size. With the
// unpacked layer dir, assembleTar() rebuilds the exact original tar (same sha256 = same diff id).
//
// The splitter must see the archive the way the unpacker (unpack.ts, through tar-stream) does, or a
// file reference could point at the wrong bytes. It follows tar-stream's framing and naming
// (node_modules/tar-stream/headers.js, extract.js): zero blocks are skipped and parsing goes on after
// them; a GNU long name is overridden by a PAX path; a 'g' global record is merged into a later 'x'
// (so a global path/size counts only for members that have their own 'x'); a directory's payload is
// not skipped. Wherever it cannot be sure it agrees (bad checksum, unknown format, odd sizes, a
// directory with a size, a truncated archive) it gives up: the rest is kept raw and `exact` is
// false, so the caller keeps the tar blob. Giving up is always safe; it only costs space.
//
// Record format (all ours; integers little-endian):
//   "BTS1"  u64 total tar size  then frames: u32 length + zlib(ops), each frame ≤ ~1 MiB of ops
//   ops:    0x01 u32 n <n raw bytes>  |  0x02 varint size, varint pathLength, <path, UTF-8>
//           |  0x03 varint n (n zero bytes: padding and end blocks, so they cost nothing to deflate)
// An op never spans frames, so assembling inflates one small frame at a time.
import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { deflateSync, inflateSync } from 'node:zlib';
import { cleanMemberPath, whiteoutOf, type WhiteoutKind } from './paths.js';

export interface SplitResult {
  /** The serialized record (see the format above). */
  record: Buffer;
  /** Total tar bytes seen. */
  size: number;
  /** False when the layer dir may not give back some referenced file's content (a later member
   *  replaced or removed it), or the splitter could not follow the archive to its end: the caller
   *  then keeps the tar as a blob instead. */
  exact: boolean;
}

const MAGIC = Buffer.from('BTS1', 'latin1');
const RECORD_HEAD = 12;
const OP_RAW = 1;
const OP_FILE = 2;
const OP_ZEROS = 3;
/** Ops gathered before a frame is compressed. */
const FRAME = 1 << 20;
/** zlib level for frames: 1 is ~4x cheaper than 6 on header bytes for ~15% more size. */
const DEFLATE_LEVEL = 1;
/** tar-stream refuses longer PAX/GNU records (extract.js MAX_HEADER_SIZE). */
const MAX_LONG_HEADER = 4 * 1024 * 1024;

const USTAR = Buffer.from('ustar\0', 'latin1');
const GNU = Buffer.from('ustar ', 'latin1');
const GNU_VERSION = Buffer.from(' \0', 'latin1');

// ---------------------------------------------------------------------------------------------
// Header decoding, mirroring tar-stream 3 (headers.js) so both read the same names and sizes.

/** Bytes of `b` from `start` up to the first NUL before `end`, as UTF-8 (tar-stream's decodeStr). */
function str(b: Uint8Array, start: number, end: number): string {
  let i = start;
  while (i < end && b[i] !== 0) i++;
  return Buffer.from(b.buffer, b.byteOffset + start, i - start).toString('utf8');
}

/** A numeric field: base-256 when the high bit is set (0x80 positive, 0xff negative, else null),
 *  else octal text with tar-stream's leniency (leading spaces and NULs, up to a space). */
function num(b: Uint8Array, off: number, len: number): number | null {
  if ((b[off] ?? 0) & 0x80) {
    const first = b[off];
    if (first !== 0x80 && first !== 0xff) return null;
    let sum = 0;
    for (let i = off + 1; i < off + len; i++) sum = sum * 256 + (first === 0x80 ? b[i]! : 0xff - b[i]!);
    return first === 0x80 ? sum : -sum;
  }
  const endField = off + len;
  let o = off;
  while (o < endField && b[o] === 32) o++;
  let end = o;
  while (end < endField && b[end] !== 32) end++;
  while (o < end && b[o] === 0) o++;
  if (end === o) return 0;
  return parseInt(Buffer.from(b.buffer, b.byteOffset + o, end - o).toString('utf8'), 8);
}

/** Unsigned header checksum with the checksum field counted as spaces. */
function checksum(b: Uint8Array): number {
  let sum = 8 * 32;
  for (let i = 0; i < 148; i++) sum += b[i]!;
  for (let i = 156; i < 512; i++) sum += b[i]!;
  return sum;
}

function sameBytes(b: Uint8Array, off: number, want: Buffer): boolean {
  for (let i = 0; i < want.length; i++) if (b[off + i] !== want[i]) return false;
  return true;
}

/** PAX records "len key=value\n", decoded as tar-stream's decodePax does (stops at the first bad one). */
function decodePax(buf: Buffer): Map<string, string> {
  const out = new Map<string, string>();
  while (buf.length) {
    let i = 0;
    while (i < buf.length && buf[i] !== 32) i++;
    const len = parseInt(buf.subarray(0, i).toString('utf8'), 10);
    if (!len) return out;
    const rec = buf.subarray(i + 1, len - 1).toString('utf8');
    const eq = rec.indexOf('=');
    if (eq === -1) return out;
    out.set(rec.slice(0, eq), rec.slice(eq + 1));
    buf = buf.subarray(len);
  }
  return out;
}

/** Compared against, never written or handed out. */
const ZERO_BLOCK = Buffer.alloc(512);

/** Whether b[start, end) (at most 512 bytes) is all zeros; a native compare, no view made. */
function allZero(b: Uint8Array, start: number, end: number): boolean {
  return ZERO_BLOCK.compare(b, start, end, 0, end - start) === 0;
}

/** Names cleanMemberPath would leave as they are (no ".", "..", "//", leading or trailing "/", NUL). */
const NEEDS_CLEANING = /\0|\/\/|^\/|\/$|(^|\/)\.\.?(\/|$)/;

/** Padding after a payload of `size` bytes. */
function padOf(size: number): number {
  const r = size % 512;
  return r === 0 ? 0 : 512 - r;
}

type Kind = 'file' | 'directory' | 'long-path' | 'long-link' | 'pax' | 'pax-global' | 'other';

/** tar-stream's type for a typeflag byte ('\0' and '0' are files; 'N' is an old long name). */
function kindOf(flag: number): Kind {
  switch (flag === 0 ? 0 : flag - 48) {
    case 0:
    case 7:
      return 'file';
    case 5:
      return 'directory';
    case 28:
    case 30:
      return 'long-path';
    case 27:
      return 'long-link';
    case 72:
      return 'pax';
    case 55:
      return 'pax-global';
    default:
      return 'other';
  }
}

// ---------------------------------------------------------------------------------------------
// The record writer: ops appended to a buffer, compressed into frames of ~1 MiB.

function varint(n: number, out: number[]): void {
  while (n >= 0x80) {
    out.push((n % 0x80) | 0x80);
    n = Math.floor(n / 0x80);
  }
  out.push(n);
}

class RecordWriter {
  readonly #frames: Buffer[] = [];
  #buf = Buffer.allocUnsafe(FRAME + 4096);
  #pos = 0;
  /** Where the open raw op's length goes, or -1. */
  #rawAt = -1;
  /** Zero bytes not yet written as an op. */
  #zeros = 0;

  #room(n: number): void {
    if (this.#pos + n <= this.#buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.#buf.length * 2, this.#pos + n));
    this.#buf.copy(next, 0, 0, this.#pos);
    this.#buf = next;
  }

  #closeZeros(): void {
    if (this.#zeros === 0) return;
    const head: number[] = [OP_ZEROS];
    varint(this.#zeros, head);
    this.#zeros = 0;
    this.#room(head.length);
    for (const x of head) this.#buf[this.#pos++] = x;
  }

  #closeRaw(): void {
    if (this.#rawAt < 0) return;
    this.#buf.writeUInt32LE(this.#pos - this.#rawAt - 4, this.#rawAt);
    this.#rawAt = -1;
  }

  #maybeFlush(): void {
    if (this.#pos < FRAME) return;
    this.#closeRaw();
    this.#flush();
  }

  #flush(): void {
    if (this.#pos === 0) return;
    const z = deflateSync(this.#buf.subarray(0, this.#pos), { level: DEFLATE_LEVEL });
    const len = Buffer.allocUnsafe(4);
    len.writeUInt32LE(z.length, 0);
    this.#frames.push(len, z);
    this.#pos = 0;
  }

  zeros(n: number): void {
    this.#closeRaw();
    this.#zeros += n;
  }

  raw(b: Uint8Array): void {
    this.#closeZeros();
    for (let off = 0; off < b.length; ) {
      if (this.#rawAt < 0) {
        this.#room(5);
        this.#buf[this.#pos++] = OP_RAW;
        this.#rawAt = this.#pos;
        this.#pos += 4;
      }
      const n = Math.min(b.length - off, FRAME);
      this.#room(n);
      this.#buf.set(b.subarray(off, off + n), this.#pos);
      this.#pos += n;
      off += n;
      this.#maybeFlush();
    }
  }

  /** A header block: mostly zeros (name and link fields, prefix, tail), so zero runs of 16+ bytes
   *  become zero ops and deflate sees about a third of the block. */
  sparse(b: Buffer): void {
    let lit = 0; // start of the literal bytes not yet written
    for (let i = 0; i < b.length; ) {
      if (b[i] !== 0) {
        i++;
        continue;
      }
      let j = i + 1;
      while (j < b.length && b[j] === 0) j++;
      if (j - i >= 16 || j === b.length) {
        if (i > lit) this.#literal(b, lit, i);
        this.zeros(j - i);
        lit = j;
      }
      i = j;
    }
    if (lit < b.length) this.#literal(b, lit, b.length);
  }

  /** A few raw bytes (less than a block), copied without making a view. */
  #literal(b: Buffer, start: number, end: number): void {
    this.#closeZeros();
    this.#room(5 + end - start);
    if (this.#rawAt < 0) {
      this.#buf[this.#pos++] = OP_RAW;
      this.#rawAt = this.#pos;
      this.#pos += 4;
    }
    this.#pos += b.copy(this.#buf, this.#pos, start, end);
    this.#maybeFlush();
  }

  file(path: string, size: number): void {
    this.#closeRaw();
    this.#closeZeros();
    const p = Buffer.from(path, 'utf8');
    const head: number[] = [OP_FILE];
    varint(size, head);
    varint(p.length, head);
    this.#room(head.length + p.length);
    for (const x of head) this.#buf[this.#pos++] = x;
    p.copy(this.#buf, this.#pos);
    this.#pos += p.length;
    this.#maybeFlush();
  }

  finish(size: number): Buffer {
    this.#closeRaw();
    this.#closeZeros();
    this.#flush();
    const head = Buffer.alloc(RECORD_HEAD);
    MAGIC.copy(head, 0);
    head.writeBigUInt64LE(BigInt(size), 4);
    return Buffer.concat([head, ...this.#frames]);
  }
}

// ---------------------------------------------------------------------------------------------
// The splitter.

type State = 'header' | 'payload' | 'long' | 'pad' | 'raw';

/** Fed the uncompressed layer tar in order, in chunks of any size. push() is synchronous and cheap:
 *  it parses header blocks and counts file payload bytes; it never copies file content. */
export class TarSplitter {
  readonly #overlay: boolean;
  readonly #out = new RecordWriter();
  #size = 0;
  #exact = true;
  #done = false;

  #state: State = 'header';
  readonly #hdr = Buffer.alloc(512);
  #hdrLen = 0;
  /** Payload / long record / padding bytes still to come. */
  #left = 0;
  /** The member whose payload is going by is a file reference (path, declared size). */
  #refPath: string | undefined;
  #refSize = 0;
  #padAfter = 0;
  #long: Buffer[] = [];
  #longKind: Kind = 'other';
  #longSize = 0;

  #gnuPath: string | null = null;
  #pax: Map<string, string> | null = null;
  #paxGlobal: Map<string, string> | null = null;

  /** Paths of referenced files, and every proper ancestor of one. */
  readonly #refs = new Set<string>();
  readonly #ancestors = new Set<string>();

  constructor(opts: { whiteouts: 'overlay' | 'keep' }) {
    this.#overlay = opts.whiteouts === 'overlay';
  }

  push(chunk: Uint8Array): void {
    if (this.#done) throw new Error('TarSplitter.push() after finish()');
    this.#size += chunk.length;
    let off = 0;
    while (off < chunk.length) {
      const avail = chunk.length - off;
      switch (this.#state) {
        case 'raw':
          this.#out.raw(chunk.subarray(off));
          return;
        case 'header': {
          const n = Math.min(512 - this.#hdrLen, avail);
          this.#hdr.set(chunk.subarray(off, off + n), this.#hdrLen);
          this.#hdrLen += n;
          off += n;
          if (this.#hdrLen === 512) {
            this.#hdrLen = 0;
            this.#out.sparse(this.#hdr);
            this.#header();
          }
          break;
        }
        case 'payload': {
          const n = Math.min(this.#left, avail);
          if (this.#refPath === undefined) this.#out.raw(chunk.subarray(off, off + n));
          this.#left -= n;
          off += n;
          if (this.#left === 0) {
            if (this.#refPath !== undefined) this.#out.file(this.#refPath, this.#refSize);
            this.#refPath = undefined;
            this.#toPad(this.#padAfter);
          }
          break;
        }
        case 'long': {
          const n = Math.min(this.#left, avail);
          const part = chunk.subarray(off, off + n);
          this.#long.push(Buffer.from(part));
          this.#out.raw(part);
          this.#left -= n;
          off += n;
          if (this.#left === 0) this.#longDone();
          break;
        }
        case 'pad': {
          const n = Math.min(this.#left, avail);
          if (allZero(chunk, off, off + n)) this.#out.zeros(n);
          else this.#out.raw(chunk.subarray(off, off + n));
          this.#left -= n;
          off += n;
          if (this.#left === 0) this.#state = 'header';
          break;
        }
      }
    }
  }

  finish(): SplitResult {
    if (this.#done) throw new Error('TarSplitter.finish() called twice');
    this.#done = true;
    switch (this.#state) {
      case 'header':
        // A partial block at the end: tar-stream fails on it ("Unexpected end of data").
        if (this.#hdrLen > 0) {
          this.#out.raw(this.#hdr.subarray(0, this.#hdrLen));
          this.#exact = false;
        }
        break;
      case 'payload':
        // Truncated inside a member: reference what came, so the record still adds up to `size`.
        if (this.#refPath !== undefined && this.#refSize - this.#left > 0) this.#out.file(this.#refPath, this.#refSize - this.#left);
        this.#exact = false;
        break;
      case 'long':
      case 'pad':
        this.#exact = false;
        break;
      case 'raw':
        break;
    }
    return { record: this.#out.finish(this.#size), size: this.#size, exact: this.#exact };
  }

  /** Stop parsing: everything from here on is raw, and the dir may not match what we saw. */
  #giveUp(): void {
    this.#state = 'raw';
    this.#exact = false;
    this.#refPath = undefined;
    this.#long = [];
  }

  #toPad(n: number): void {
    this.#left = n;
    this.#state = n > 0 ? 'pad' : 'header';
  }

  #header(): void {
    const h = this.#hdr;
    const sum = checksum(h);
    if (sum === 8 * 32) return; // a zero block: tar-stream skips it and reads on
    if (num(h, 148, 8) !== sum) return this.#giveUp();
    const ustar = sameBytes(h, 257, USTAR);
    if (!ustar && !(sameBytes(h, 257, GNU) && sameBytes(h, 263, GNU_VERSION))) return this.#giveUp();
    const kind = kindOf(h[156]!);
    let size = num(h, 124, 12);

    if (kind === 'long-path' || kind === 'long-link' || kind === 'pax' || kind === 'pax-global') {
      // tar-stream mis-frames a zero-length record; refuses one over 4 MiB.
      if (size === null || !Number.isSafeInteger(size) || size <= 0 || size > MAX_LONG_HEADER) return this.#giveUp();
      this.#longKind = kind;
      this.#longSize = size;
      this.#left = size;
      this.#long = [];
      this.#state = 'long';
      return;
    }

    let name = str(h, 0, 100);
    if (ustar && h[345] !== 0) name = `${str(h, 345, 500)}/${name}`;
    if (this.#gnuPath) {
      name = this.#gnuPath;
      this.#gnuPath = null;
    }
    if (this.#pax) {
      const path = this.#pax.get('path');
      if (path) name = path;
      const paxSize = this.#pax.get('size');
      if (paxSize) size = parseInt(paxSize, 10);
      this.#pax = null;
    }
    if (size === null || !Number.isSafeInteger(size) || size < 0) return this.#giveUp();
    // tar-stream hands a directory an empty body without skipping its payload (and then waits on it
    // forever): nothing to agree with.
    if (kind === 'directory' && size > 0) return this.#giveUp();

    const ref = this.#member(name, kind, size);
    if (size === 0) return;
    this.#refPath = ref;
    this.#refSize = size;
    this.#left = size;
    this.#padAfter = padOf(size);
    this.#state = 'payload';
  }

  #longDone(): void {
    const body = Buffer.concat(this.#long, this.#longSize);
    this.#long = [];
    switch (this.#longKind) {
      case 'long-path':
        this.#gnuPath = str(body, 0, body.length);
        break;
      case 'pax-global':
        this.#paxGlobal = decodePax(body);
        break;
      case 'pax': {
        const own = decodePax(body);
        this.#pax = this.#paxGlobal ? new Map([...this.#paxGlobal, ...own]) : own;
        break;
      }
      default: // a GNU long link name: hardlink targets do not matter here
    }
    this.#toPad(padOf(this.#longSize));
  }

  /** Note what a member does to the layer dir; returns its path when its content is a reference. */
  #member(name: string, kind: Kind, size: number): string | undefined {
    let rel: string;
    let wo: WhiteoutKind;
    try {
      rel = name !== '' && !NEEDS_CLEANING.test(name) ? name : cleanMemberPath(name);
      if (rel === '') return undefined; // the layer root: the unpacker skips it
      wo = whiteoutOf(rel);
    } catch {
      return undefined; // the unpacker refuses the whole layer: nothing to keep consistent
    }
    if (this.#exact && this.#refs.size > 0) {
      if (this.#refs.has(rel)) this.#exact = false;
      else if (kind !== 'directory' && this.#ancestors.has(rel)) this.#exact = false;
      else if (this.#overlay && wo?.kind === 'whiteout' && (this.#refs.has(wo.path) || this.#ancestors.has(wo.path))) this.#exact = false;
    }
    if (kind !== 'file' || size === 0 || wo !== undefined) return undefined;
    if (this.#exact) {
      this.#refs.add(rel);
      // Parents, innermost first; once one is known, so are all above it.
      for (let i = rel.lastIndexOf('/'); i > 0; i = rel.lastIndexOf('/', i - 1)) {
        const p = rel.slice(0, i);
        if (this.#ancestors.has(p)) break;
        this.#ancestors.add(p);
      }
    }
    return rel;
  }
}

// ---------------------------------------------------------------------------------------------
// Reading a record back.

function head(record: Buffer): number {
  if (record.length < RECORD_HEAD || !record.subarray(0, 4).equals(MAGIC)) throw new Error('not a tar-split record (bad magic)');
  const size = record.readBigUInt64LE(4);
  if (size > BigInt(Number.MAX_SAFE_INTEGER)) throw new Error('corrupt tar-split record (size)');
  return Number(size);
}

/** Total size the record rebuilds to (for a Content-Length or a tar header before streaming). */
export function splitSize(record: Buffer): number {
  return head(record);
}

const ZERO_CHUNK = 64 * 1024;

type Op = { raw: Buffer } | { path: string; size: number };

/** The ops of a record, one frame inflated at a time. */
function* opsOf(record: Buffer): Generator<Op> {
  let at = RECORD_HEAD;
  while (at < record.length) {
    if (at + 4 > record.length) throw new Error('corrupt tar-split record (frame length)');
    const len = record.readUInt32LE(at);
    at += 4;
    if (at + len > record.length) throw new Error('corrupt tar-split record (frame)');
    const ops = inflateSync(record.subarray(at, at + len));
    at += len;
    let p = 0;
    const vint = (): number => {
      let n = 0;
      let scale = 1;
      for (;;) {
        if (p >= ops.length || scale > 2 ** 49) throw new Error('corrupt tar-split record (number)');
        const b = ops[p++]!;
        n += (b & 0x7f) * scale;
        if (b < 0x80) return n;
        scale *= 0x80;
      }
    };
    while (p < ops.length) {
      const tag = ops[p++];
      if (tag === OP_RAW) {
        if (p + 4 > ops.length) throw new Error('corrupt tar-split record (raw op)');
        const n = ops.readUInt32LE(p);
        p += 4;
        if (p + n > ops.length) throw new Error('corrupt tar-split record (raw op)');
        yield { raw: ops.subarray(p, p + n) };
        p += n;
      } else if (tag === OP_FILE) {
        const size = vint();
        const n = vint();
        if (p + n > ops.length) throw new Error('corrupt tar-split record (file op)');
        const path = ops.subarray(p, p + n).toString('utf8');
        p += n;
        let clean: string;
        try {
          clean = cleanMemberPath(path);
        } catch {
          clean = '';
        }
        if (clean !== path || path === '') throw new Error(`corrupt tar-split record (path ${JSON.stringify(path)})`);
        yield { path, size };
      } else if (tag === OP_ZEROS) {
        const n = vint();
        // fresh buffers: a consumer may write into what it is given
        for (let left = n; left > 0; left -= ZERO_CHUNK) yield { raw: Buffer.alloc(Math.min(left, ZERO_CHUNK)) };
      } else throw new Error(`corrupt tar-split record (op ${tag})`);
    }
  }
}

/** Output is handed on in pieces of about this size. */
const OUT_CHUNK = 256 * 1024;
/** Files up to this size are read synchronously in one go (like unpack.ts writes them). */
const SMALL_FILE = 256 * 1024;
const READ_FLAGS = constants.O_RDONLY | constants.O_NOFOLLOW;

function sizeError(path: string, have: number, want: number): Error {
  return new Error(`tar-split: ${JSON.stringify(path)} in the layer dir is ${have} bytes, the record says ${want}: the layer changed on disk`);
}

async function* tarChunks(record: Buffer, dir: string, total: number): AsyncGenerator<Buffer> {
  let pending: Buffer[] = [];
  let pendingLen = 0;
  let sent = 0;
  const take = (): Buffer => {
    const b = pending.length === 1 ? pending[0]! : Buffer.concat(pending, pendingLen);
    sent += pendingLen;
    pending = [];
    pendingLen = 0;
    return b;
  };
  for (const op of opsOf(record)) {
    if ('raw' in op) {
      pending.push(op.raw);
      pendingLen += op.raw.length;
    } else {
      const abs = join(dir, op.path);
      if (op.size <= SMALL_FILE) {
        const fd = openSync(abs, READ_FLAGS);
        try {
          const st = fstatSync(fd);
          if (!st.isFile() || st.size !== op.size) throw sizeError(op.path, st.isFile() ? st.size : -1, op.size);
          const b = Buffer.allocUnsafe(op.size);
          for (let o = 0; o < op.size; ) {
            const n = readSync(fd, b, o, op.size - o, o);
            if (n === 0) throw sizeError(op.path, o, op.size);
            o += n;
          }
          pending.push(b);
          pendingLen += b.length;
        } finally {
          closeSync(fd);
        }
      } else {
        if (pendingLen > 0) yield take();
        const fh = await open(abs, READ_FLAGS);
        try {
          const st = await fh.stat();
          if (!st.isFile() || st.size !== op.size) throw sizeError(op.path, st.isFile() ? st.size : -1, op.size);
          for (let o = 0; o < op.size; ) {
            const b = Buffer.allocUnsafe(Math.min(1 << 20, op.size - o));
            const { bytesRead } = await fh.read(b, 0, b.length, o);
            if (bytesRead === 0) throw sizeError(op.path, o, op.size);
            o += bytesRead;
            sent += bytesRead;
            yield bytesRead === b.length ? b : b.subarray(0, bytesRead);
          }
        } finally {
          await fh.close();
        }
      }
    }
    if (pendingLen >= OUT_CHUNK) yield take();
  }
  if (pendingLen > 0) yield take();
  if (sent !== total) throw new Error(`corrupt tar-split record: it rebuilds ${sent} bytes, its header says ${total}`);
}

/** The original tar, rebuilt: raw bytes from the record, file contents read from `dir` (the layer's
 *  unpacked dir). Each file must still have its recorded size, else the stream errors (a plain
 *  Error naming the file). Streams; never holds a file whole (beyond small ones, ≤ 256 KiB).
 *  Throws at once on a record that is not one. */
export function assembleTar(record: Buffer, dir: string): Readable {
  const total = head(record);
  return Readable.from(tarChunks(record, dir, total), { objectMode: false, highWaterMark: 1 << 20 });
}
