// conmon's k8s-file log format, read in Docker's json-file terms. PURE (Buffers in, records out).
// A line of the file: `<RFC3339Nano local time> <stdout|stderr> <F|P> <bytes>\n`; F ends a line of
// the container's output (the newline was eaten by the split), P is a piece of a longer or still
// unfinished line. Bytes are kept as they are (container output need not be UTF-8).
import type { LogEntry } from '../../driver.js';

const TS_RE = /^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d)$/;

/** Nanoseconds since the epoch of an RFC 3339 time with any offset; undefined if malformed. */
export function parseTimeNs(ts: string): bigint | undefined {
  const m = TS_RE.exec(ts);
  if (!m) return undefined;
  const [, y, mo, d, h, mi, s, frac = '', off] = m;
  const ms = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s));
  if (Number.isNaN(ms)) return undefined;
  let offMin = 0;
  if (off !== 'Z') {
    const sign = off!.startsWith('-') ? -1 : 1;
    offMin = sign * (Number(off!.slice(1, 3)) * 60 + Number(off!.slice(4, 6)));
  }
  const ns = BigInt(frac.padEnd(9, '0') || '0');
  return (BigInt(ms) - BigInt(offMin) * 60_000n) * 1_000_000n + ns;
}

/** Go's time.RFC3339Nano in UTC, as Docker writes json-file "time": trailing zeros of the fraction dropped. */
export function formatTimeNs(ns: bigint): string {
  const ms = Number(ns / 1_000_000n);
  const base = new Date(ms).toISOString().slice(0, 19); // YYYY-MM-DDTHH:MM:SS
  const frac = (ns % 1_000_000_000n).toString().padStart(9, '0').replace(/0+$/, '');
  return `${base}${frac ? `.${frac}` : ''}Z`;
}

/** One line of the file (without its newline) → a record; undefined if it is not one. */
export function parseRecord(line: Buffer): LogEntry | undefined {
  const sp1 = line.indexOf(0x20);
  if (sp1 < 0) return undefined;
  const sp2 = line.indexOf(0x20, sp1 + 1);
  if (sp2 < 0) return undefined;
  const tag = line.subarray(sp2 + 1, sp2 + 2).toString('latin1');
  if ((tag !== 'F' && tag !== 'P') || (line.length > sp2 + 2 && line[sp2 + 2] !== 0x20)) return undefined;
  const stream = line.subarray(sp1 + 1, sp2).toString('latin1');
  if (stream !== 'stdout' && stream !== 'stderr') return undefined;
  const timeNs = parseTimeNs(line.subarray(0, sp1).toString('latin1'));
  if (timeNs === undefined) return undefined;
  const text = line.subarray(Math.min(line.length, sp2 + 3));
  const partial = tag === 'P';
  return {
    stream,
    timeNs,
    time: formatTimeNs(timeNs),
    line: partial ? Buffer.from(text) : Buffer.concat([text, NL]),
    partial,
  };
}

const NL = Buffer.from('\n');

/** Split a chunk stream into file lines; keeps the unfinished tail for the next chunk. */
export class LineSplitter {
  #rest: Buffer = Buffer.alloc(0);

  /** Complete lines in `chunk` (after what was kept), without their newlines. */
  push(chunk: Buffer): Buffer[] {
    const buf = this.#rest.length ? Buffer.concat([this.#rest, chunk]) : chunk;
    const out: Buffer[] = [];
    let start = 0;
    for (let i = buf.indexOf(0x0a); i >= 0; i = buf.indexOf(0x0a, start)) {
      out.push(buf.subarray(start, i));
      start = i + 1;
    }
    this.#rest = Buffer.from(buf.subarray(start));
    return out;
  }

  /** Bytes of an unfinished line (conmon writes whole lines, so this is a write in progress). */
  get pending(): number {
    return this.#rest.length;
  }
}

/** Every record of a whole text (malformed lines skipped). */
export function parseAll(buf: Buffer): LogEntry[] {
  const s = new LineSplitter();
  const out: LogEntry[] = [];
  for (const l of s.push(buf)) {
    const r = parseRecord(l);
    if (r) out.push(r);
  }
  return out;
}

/** Count the lines (Docker's --tail unit): each F record ends one; a trailing run of P is one. */
export function countLines(records: readonly LogEntry[]): number {
  let n = 0;
  for (const r of records) if (!r.partial) n++;
  if (records.length && records[records.length - 1]!.partial) n++;
  return n;
}

/** The records of the last `n` lines. */
export function tailRecords(records: readonly LogEntry[], n: number): LogEntry[] {
  if (n <= 0) return [];
  let count = 0;
  let i = records.length - 1;
  for (; i >= 0; i--) {
    const r = records[i]!;
    if (!r.partial || i === records.length - 1) {
      if (count === n) break;
      count++;
    }
  }
  return records.slice(i + 1);
}

export interface RecordFilter {
  stdout?: boolean;
  stderr?: boolean;
  sinceNs?: bigint;
  untilNs?: bigint;
}

/** Docker's since (inclusive) / until (inclusive) and stream selection. */
export function keep(r: LogEntry, f: RecordFilter): boolean {
  if (r.stream === 'stdout' && f.stdout === false) return false;
  if (r.stream === 'stderr' && f.stderr === false) return false;
  if (f.sinceNs !== undefined && r.timeNs < f.sinceNs) return false;
  if (f.untilNs !== undefined && r.timeNs > f.untilNs) return false;
  return true;
}
