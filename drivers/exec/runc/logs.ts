// Reading a container's k8s-file log as Docker's json-file reader would: all or the last N lines,
// since/until, one or both streams, and with follow: new entries as conmon appends them, until the
// container has exited (its exit file exists, so conmon has drained everything) or the reader stops.
import type { LogEntry, LogOptions } from '../../driver.js';
import type { ExecHost, LogFile } from './host.js';
import { LineSplitter, keep, parseRecord, tailRecords } from './k8s-file.js';

const CHUNK = 64 * 1024;
/** How often a follower looks again when nothing told it about new data. */
const IDLE_POLL_MS = 500;

export interface FollowHooks {
  /** True while the container can still write. */
  running(): Promise<boolean>;
  /** Call `cb` when the container exits; returns the unsubscribe function. */
  onExit(cb: () => void): () => void;
}

export async function* readLogs(host: ExecHost, path: string, opts: LogOptions, hooks: FollowHooks): AsyncGenerator<LogEntry> {
  const f = await host.openLog(path);
  if (!f) return;
  try {
    const filter = { stdout: opts.stdout, stderr: opts.stderr, sinceNs: opts.sinceNs, untilNs: opts.untilNs };
    const pastUntil = (r: LogEntry) => opts.untilNs !== undefined && r.timeNs > opts.untilNs;
    let pos: number;
    if (opts.tail !== undefined && opts.tail >= 0) {
      const t = await readTail(f, opts.tail);
      for (const r of t.records) {
        if (pastUntil(r)) return;
        if (keep(r, filter)) yield r;
      }
      pos = t.end;
    } else {
      pos = 0;
    }

    const splitter = new LineSplitter();
    let stop = false;
    const abort = opts.signal;
    const readOn = async function* (): AsyncGenerator<LogEntry> {
      const size = await f.size();
      while (pos < size) {
        const buf = await f.read(pos, Math.min(CHUNK, size - pos));
        if (buf.length === 0) break;
        pos += buf.length;
        for (const line of splitter.push(buf)) {
          const r = parseRecord(line);
          if (!r) continue;
          if (pastUntil(r)) {
            stop = true;
            return;
          }
          if (keep(r, filter)) yield r;
        }
      }
    };

    yield* readOn();
    if (!opts.follow || stop || abort?.aborted) return;

    // follow: wake on a write to the file, on the exit, on abort, or every IDLE_POLL_MS
    let wake: (() => void) | undefined;
    const poke = () => {
      const w = wake;
      wake = undefined;
      w?.();
    };
    const watcher = host.watchFile(path, poke);
    let exited = false;
    const unsubscribe = hooks.onExit(() => {
      exited = true;
      poke();
    });
    abort?.addEventListener('abort', poke, { once: true });
    try {
      for (;;) {
        yield* readOn();
        if (stop || abort?.aborted) return;
        if (exited || !(await hooks.running())) {
          yield* readOn(); // what was written before the exit file
          return;
        }
        await new Promise<void>((resolve) => {
          wake = resolve;
          setTimeout(poke, IDLE_POLL_MS).unref();
        });
      }
    } finally {
      watcher.close();
      unsubscribe();
      abort?.removeEventListener('abort', poke);
    }
  } finally {
    await f.close();
  }
}

/** The records of the last `n` lines, reading the file backwards in chunks; `end` = where to follow on. */
async function readTail(f: LogFile, n: number): Promise<{ records: LogEntry[]; end: number }> {
  const size = await f.size();
  let start = size;
  let acc = Buffer.alloc(0);
  for (;;) {
    const from = Math.max(0, start - CHUNK);
    const chunk = await f.read(from, start - from);
    acc = Buffer.concat([chunk, acc]);
    start = from;
    // Enough once the complete lines after the first newline hold more than n full lines.
    if (start === 0 || countFull(acc) > n) break;
  }
  // Skip a first line that was cut; ignore an unfinished last line (follow picks it up).
  let body = acc;
  let offset = start;
  if (start > 0) {
    const nl = body.indexOf(0x0a);
    body = body.subarray(nl + 1);
    offset += nl + 1;
  }
  const lastNl = body.lastIndexOf(0x0a);
  const complete = lastNl >= 0 ? body.subarray(0, lastNl + 1) : Buffer.alloc(0);
  const records: LogEntry[] = [];
  for (const line of new LineSplitter().push(complete)) {
    const r = parseRecord(line);
    if (r) records.push(r);
  }
  return { records: tailRecords(records, n), end: offset + complete.length };
}

/** Count the F records among the complete file lines of `buf` (its first line may be cut: skipped). */
function countFull(buf: Buffer): number {
  let n = 0;
  let start = buf.indexOf(0x0a) + 1;
  for (let nl = buf.indexOf(0x0a, start); nl >= 0; nl = buf.indexOf(0x0a, start)) {
    const sp1 = buf.indexOf(0x20, start);
    const sp2 = sp1 < 0 || sp1 > nl ? -1 : buf.indexOf(0x20, sp1 + 1);
    if (sp2 > 0 && sp2 + 1 < nl && buf[sp2 + 1] === 0x46 /* F */) n++;
    start = nl + 1;
  }
  return n;
}
