// DNS messages, pure (RFC 1035): read the question of a query, write answers (A, AAAA, PTR) and
// error responses, and swap the id of a forwarded message. Only what an embedded resolver needs:
// one question per query, names with or without compression, no EDNS in what we write.
import { Address6 } from 'ip-address';

export const TYPE = { A: 1, PTR: 12, AAAA: 28 } as const;
export const RCODE = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5 } as const;
/** Docker's embedded DNS answers with a TTL of 600 s. */
export const TTL = 600;

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
