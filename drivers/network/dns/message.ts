// DNS messages, pure (RFC 1035): read the question of a query, write answers (A, AAAA, PTR) and
// error responses, swap the id of a forwarded message, and fit a response into a UDP client's
// limit (512 bytes, or the size its EDNS0 OPT record announces: RFC 6891). Only what an embedded
// resolver needs: one question per query, names with or without compression, no EDNS in what we
// write (an OPT record of a forwarded answer is kept).
import { Address6 } from 'ip-address';

export const TYPE = { A: 1, PTR: 12, AAAA: 28, OPT: 41 } as const;
export const RCODE = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5 } as const;
/** Docker's embedded DNS answers with a TTL of 600 s. */
export const TTL = 600;
/** The largest UDP message a client without EDNS takes (RFC 1035 2.3.4). */
export const UDP_MIN = 512;
/** The largest message a 2-byte TCP length can frame. */
export const TCP_MAX = 0xffff;
const TC = 0x0200;

export interface Question {
  id: number;
  /** Recursion desired: copied into the answer. */
  rd: boolean;
  opcode: number;
  /** Lowercase, without the trailing dot. */
  name: string;
  type: number;
  class: number;
  /** Byte offset just after the question (answers start there). */
  end: number;
}

export class DnsFormatError extends Error {}

function readName(buf: Buffer, start: number): { name: string; next: number } {
  const labels: string[] = [];
  let at = start;
  let next = -1;
  for (let hops = 0; hops < 64; hops++) {
    if (at >= buf.length) throw new DnsFormatError('name runs past the message');
    const len = buf[at]!;
    if (len === 0) {
      if (next < 0) next = at + 1;
      const name = labels.join('.').toLowerCase();
      if (name.length > 253) throw new DnsFormatError('name too long');
      return { name, next };
    }
    if ((len & 0xc0) === 0xc0) {
      if (at + 1 >= buf.length) throw new DnsFormatError('truncated pointer');
      if (next < 0) next = at + 2;
      at = ((len & 0x3f) << 8) | buf[at + 1]!;
      continue;
    }
    if (len > 63 || at + 1 + len > buf.length) throw new DnsFormatError('bad label');
    labels.push(buf.toString('latin1', at + 1, at + 1 + len));
    at += 1 + len;
  }
  throw new DnsFormatError('too many labels or a pointer loop');
}

/** The question of a query; throws DnsFormatError on a malformed one (answer FORMERR). */
export function parseQuery(buf: Buffer): Question {
  if (buf.length < 12) throw new DnsFormatError('short header');
  const id = buf.readUInt16BE(0);
  const flags = buf.readUInt16BE(2);
  if (flags & 0x8000) throw new DnsFormatError('not a query');
  const qd = buf.readUInt16BE(4);
  if (qd !== 1) throw new DnsFormatError(`${qd} questions`);
  const { name, next } = readName(buf, 12);
  if (next + 4 > buf.length) throw new DnsFormatError('short question');
  return { id, rd: !!(flags & 0x0100), opcode: (flags >> 11) & 0xf, name, type: buf.readUInt16BE(next), class: buf.readUInt16BE(next + 2), end: next + 4 };
}

function encodeName(name: string): Buffer {
  const parts = name === '' ? [] : name.split('.');
  const chunks: Buffer[] = [];
  for (const p of parts) {
    const b = Buffer.from(p, 'latin1');
    if (b.length === 0 || b.length > 63) throw new DnsFormatError(`bad label in ${name}`);
    chunks.push(Buffer.from([b.length]), b);
  }
  chunks.push(Buffer.from([0]));
  return Buffer.concat(chunks);
}

export type Rdata = { type: 1; address: string } | { type: 28; address: string } | { type: 12; name: string };

function rdata(r: Rdata): Buffer {
  if (r.type === TYPE.A) return Buffer.from(r.address.split('.').map(Number));
  if (r.type === TYPE.AAAA) {
    const n = new Address6(r.address).bigInt();
    const b = Buffer.alloc(16);
    for (let i = 0; i < 16; i++) b[15 - i] = Number((n >> BigInt(8 * i)) & 0xffn);
    return b;
  }
  return encodeName(r.name);
}

/** A response to `q`: the question echoed, then the answers (owner name = the question's, by pointer). */
export function response(query: Buffer, q: Question, rcode: number, answers: readonly Rdata[] = []): Buffer {
  const header = Buffer.alloc(12);
  header.writeUInt16BE(q.id, 0);
  // QR, opcode copied, AA (we are the authority for these names), RD copied, RA.
  header.writeUInt16BE(0x8000 | (q.opcode << 11) | 0x0400 | (q.rd ? 0x0100 : 0) | 0x0080 | (rcode & 0xf), 2);
  header.writeUInt16BE(1, 4);
  header.writeUInt16BE(answers.length, 6);
  const question = query.subarray(12, q.end);
  const rrs = answers.map((a) => {
    const data = rdata(a);
    const rr = Buffer.alloc(12);
    rr.writeUInt16BE(0xc00c, 0); // pointer to the question's name
    rr.writeUInt16BE(a.type, 2);
    rr.writeUInt16BE(1, 4); // IN
    rr.writeUInt32BE(TTL, 6);
    rr.writeUInt16BE(data.length, 10);
    return Buffer.concat([rr, data]);
  });
  return Buffer.concat([header, question, ...rrs]);
}

/** FORMERR for a message we could not read (only the id is known, if any). */
export function formErr(query: Buffer): Buffer {
  const h = Buffer.alloc(12);
  if (query.length >= 2) query.copy(h, 0, 0, 2);
  h.writeUInt16BE(0x8000 | 0x0080 | RCODE.FORMERR, 2);
  return h;
}

/** A copy of a message with another id (forwarding: the upstream sees our id, the client its own). */
export function withId(msg: Buffer, id: number): Buffer {
  const out = Buffer.from(msg);
  if (out.length >= 2) out.writeUInt16BE(id, 0);
  return out;
}

export const idOf = (msg: Buffer): number => (msg.length >= 2 ? msg.readUInt16BE(0) : -1);

/** The address a reverse name stands for (`4.3.2.1.in-addr.arpa` → 1.2.3.4; ip6.arpa nibbles),
 *  or undefined for any other name. */
export function reverseAddress(name: string): string | undefined {
  const v4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.in-addr\.arpa$/.exec(name);
  if (v4) return [v4[4], v4[3], v4[2], v4[1]].map(Number).join('.');
  const v6 = /^((?:[0-9a-f]\.){32})ip6\.arpa$/.exec(name);
  if (v6) {
    const hex = v6[1]!.split('.').filter(Boolean).reverse().join('');
    return new Address6(hex.match(/.{4}/g)!.join(':')).correctForm();
  }
  return undefined;
}

interface Span {
  start: number;
  end: number;
  type: number;
  class: number;
  /** The owner name is the root (one zero byte), as an OPT record's must be. */
  root: boolean;
}

/** The resource records from `at` on (up to n): where each starts and ends, its type and class.
 *  Stops at the first one that cannot be read (a message cut short by a careless server). */
function records(buf: Buffer, at: number, n: number): Span[] {
  const out: Span[] = [];
  for (let i = 0; i < n; i++) {
    let next: number;
    try {
      next = readName(buf, at).next;
    } catch (e) {
      if (e instanceof DnsFormatError) break;
      throw e;
    }
    if (next + 10 > buf.length) break;
    const end = next + 10 + buf.readUInt16BE(next + 8);
    if (end > buf.length) break;
    out.push({ start: at, end, type: buf.readUInt16BE(next), class: buf.readUInt16BE(next + 2), root: next === at + 1 });
    at = end;
  }
  return out;
}

/** The largest UDP answer the client of this query takes: 512 bytes, or more if its EDNS0 OPT
 *  record announces more (that record's class is its UDP payload size). */
export function udpLimit(query: Buffer, q: Question): number {
  const n = query.readUInt16BE(6) + query.readUInt16BE(8) + query.readUInt16BE(10);
  const opt = records(query, q.end, n).find((r) => r.type === TYPE.OPT);
  return Math.min(Math.max(opt?.class ?? 0, UDP_MIN), TCP_MAX);
}

/** Whether a response says it was cut short (TC). */
export const truncated = (msg: Buffer): boolean => msg.length >= 4 && (msg.readUInt16BE(2) & TC) !== 0;

/** A response that fits in `limit` bytes: the message itself if it does, else TC set, the
 *  question, as many whole answer records as fit, no authority or additional records but the OPT
 *  record (RFC 6891 7: a truncated answer keeps it). Never a record cut in half. Compression
 *  pointers point backwards (RFC 1035 4.1.4), so the kept prefix stays readable. */
export function fit(msg: Buffer, limit: number): Buffer {
  if (msg.length <= limit || msg.length < 12) return msg;
  const header = Buffer.from(msg.subarray(0, 12));
  header.writeUInt16BE(header.readUInt16BE(2) | TC, 2);
  header.fill(0, 6, 12);
  const qd = msg.readUInt16BE(4);
  let qEnd = 12;
  try {
    for (let i = 0; i < qd; i++) qEnd = readName(msg, qEnd).next + 4;
  } catch (e) {
    if (!(e instanceof DnsFormatError)) throw e;
    qEnd = -1;
  }
  if (qEnd < 0 || qEnd > msg.length || qEnd > limit) {
    header.writeUInt16BE(0, 4); // no readable question: the bare header
    return header;
  }
  const an = records(msg, qEnd, msg.readUInt16BE(6));
  let opt: Buffer = Buffer.alloc(0);
  if (an.length === msg.readUInt16BE(6)) {
    const ns = records(msg, an.at(-1)?.end ?? qEnd, msg.readUInt16BE(8));
    if (ns.length === msg.readUInt16BE(8)) {
      const o = records(msg, ns.at(-1)?.end ?? an.at(-1)?.end ?? qEnd, msg.readUInt16BE(10)).find((r) => r.type === TYPE.OPT && r.root);
      if (o && qEnd + (o.end - o.start) <= limit) opt = msg.subarray(o.start, o.end);
    }
  }
  let kept = 0;
  while (kept < an.length && an[kept]!.end + opt.length <= limit) kept++;
  header.writeUInt16BE(kept, 6);
  header.writeUInt16BE(opt.length ? 1 : 0, 10);
  return Buffer.concat([header, msg.subarray(12, kept ? an[kept - 1]!.end : qEnd), opt]);
}
