// k8s-file.ts and logs.ts: conmon's log lines read as Docker's json-file entries: partial lines, both
// streams, tail, since/until, follow (on a temp file; no root).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatTimeNs, parseAll, parseRecord, parseTimeNs, tailRecords, countLines } from '../../../drivers/exec/runc/k8s-file.js';
import { readLogs } from '../../../drivers/exec/runc/logs.js';
import { realExecHost } from '../../../drivers/exec/runc/host.js';
import type { LogEntry, LogOptions } from '../../../drivers/driver.js';

const T = (s: number, ns = 0) => `2026-01-02T03:04:${String(s).padStart(2, '0')}.${String(ns).padStart(9, '0')}+00:00`;
const line = (s: number, stream: string, tag: string, text: string) => `${T(s)} ${stream} ${tag} ${text}\n`;

describe('times', () => {
  it('parses RFC 3339 with nanoseconds and any offset to ns since the epoch', () => {
    expect(parseTimeNs('1970-01-01T00:00:01.000000002Z')).toBe(1_000_000_002n);
    expect(parseTimeNs('2026-01-02T05:04:05.123456789+02:00')).toBe(parseTimeNs('2026-01-02T03:04:05.123456789Z'));
    expect(parseTimeNs('2026-01-02T03:04:05-01:30')).toBe(parseTimeNs('2026-01-02T04:34:05Z'));
    expect(parseTimeNs('yesterday')).toBeUndefined();
  });
  it('formats as Go’s RFC3339Nano in UTC (trailing zeros dropped)', () => {
    expect(formatTimeNs(parseTimeNs('2026-01-02T05:04:05.123450000+02:00')!)).toBe('2026-01-02T03:04:05.12345Z');
    expect(formatTimeNs(parseTimeNs('2026-01-02T03:04:05Z')!)).toBe('2026-01-02T03:04:05Z');
    expect(formatTimeNs(1_000_000_002n)).toBe('1970-01-01T00:00:01.000000002Z');
  });
});

describe('records', () => {
  it('F lines get their newline back, P lines are pieces, bytes stay bytes', () => {
    const r = parseRecord(Buffer.from(`${T(1, 5)} stderr F bad news`))!;
    expect(r).toMatchObject({ stream: 'stderr', partial: false, time: '2026-01-02T03:04:01.000000005Z' });
    expect(r.line.toString()).toBe('bad news\n');
    const p = parseRecord(Buffer.from(`${T(1)} stdout P abc`))!;
    expect(p.partial).toBe(true);
    expect(p.line.toString()).toBe('abc');
    const bin = parseRecord(Buffer.concat([Buffer.from(`${T(1)} stdout F `), Buffer.from([0xff, 0xfe])]))!;
    expect([...bin.line]).toEqual([0xff, 0xfe, 0x0a]);
    expect(parseRecord(Buffer.from(`${T(1)} stdout F `))!.line.toString()).toBe('\n'); // an empty line
    expect(parseRecord(Buffer.from('not a log line'))).toBeUndefined();
    expect(parseRecord(Buffer.from(`${T(1)} stdin F x`))).toBeUndefined();
    expect(parseRecord(Buffer.from(`${T(1)} stdout X x`))).toBeUndefined();
  });

  it('tail counts lines: a run of P ending in F is one, a trailing run of P is one', () => {
    const recs = parseAll(
      Buffer.from(
        line(1, 'stdout', 'F', 'one') +
          line(2, 'stdout', 'P', 'tw') +
          line(3, 'stdout', 'F', 'o') +
          line(4, 'stderr', 'F', 'three') +
          line(5, 'stdout', 'P', 'fo') +
          line(6, 'stdout', 'P', 'ur'),
      ),
    );
    expect(countLines(recs)).toBe(4);
    const text = (n: number) => tailRecords(recs, n).map((r) => r.line.toString()).join('');
    expect(text(1)).toBe('four');
    expect(text(2)).toBe('three\nfour');
    expect(text(3)).toBe('two\nthree\nfour');
    expect(text(10)).toBe('one\ntwo\nthree\nfour');
    expect(text(0)).toBe('');
  });
});

describe('readLogs', () => {
  let dir: string;
  const host = realExecHost({ run: async () => '' });
  const notRunning = { running: async () => false, onExit: () => () => {} };
  const read = async (path: string, opts: LogOptions, hooks = notRunning) => {
    const out: LogEntry[] = [];
    for await (const e of readLogs(host, path, opts, hooks)) out.push(e);
    return out;
  };
  const texts = (es: LogEntry[]) => es.map((e) => `${e.stream}:${e.line.toString()}`);

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'berth-unit-exec-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('all, one stream, since/until (inclusive), and a missing file', async () => {
    const p = join(dir, 'a.log');
    writeFileSync(p, line(1, 'stdout', 'F', 'a') + line(2, 'stderr', 'F', 'b') + 'garbage\n' + line(3, 'stdout', 'F', 'c'));
    expect(texts(await read(p, {}))).toEqual(['stdout:a\n', 'stderr:b\n', 'stdout:c\n']);
    expect(texts(await read(p, { stdout: false }))).toEqual(['stderr:b\n']);
    expect(texts(await read(p, { sinceNs: parseTimeNs(T(2)) }))).toEqual(['stderr:b\n', 'stdout:c\n']);
    expect(texts(await read(p, { untilNs: parseTimeNs(T(2)) }))).toEqual(['stdout:a\n', 'stderr:b\n']);
    expect(texts(await read(p, { tail: 2, sinceNs: parseTimeNs(T(3)) }))).toEqual(['stdout:c\n']);
    expect(await read(join(dir, 'none.log'), {})).toEqual([]);
  });

  it('tail of a file much larger than the read chunk, with a line cut by the chunk boundary', async () => {
    const p = join(dir, 'big.log');
    let text = '';
    for (let i = 0; i < 5000; i++) text += line(i % 60, i % 3 ? 'stdout' : 'stderr', 'F', `line ${i} ${'x'.repeat(i % 50)}`);
    writeFileSync(p, text);
    const last = await read(p, { tail: 3 });
    expect(last.map((e) => e.line.toString().split(' ').slice(0, 2).join(' '))).toEqual(['line 4997', 'line 4998', 'line 4999']);
    expect((await read(p, { tail: 1200 })).length).toBe(1200);
    expect((await read(p, { tail: 1200 }))[0]!.line.toString()).toMatch(/^line 3800 /);
    expect((await read(p, { tail: 0 })).length).toBe(0);
  });

  it('follow: what is appended, until the container exits; a partial line comes out at once', async () => {
    const p = join(dir, 'f.log');
    writeFileSync(p, line(1, 'stdout', 'F', 'first'));
    let running = true;
    const exitCbs = new Set<() => void>();
    const hooks = { running: async () => running, onExit: (cb: () => void) => (exitCbs.add(cb), () => exitCbs.delete(cb)) };
    const got: string[] = [];
    const done = (async () => {
      for await (const e of readLogs(host, p, { follow: true, tail: 1 }, hooks)) got.push(e.line.toString());
    })();
    await until(() => got.length === 1);
    appendFileSync(p, line(2, 'stdout', 'P', 'prompt> '));
    await until(() => got.length === 2);
    appendFileSync(p, line(3, 'stderr', 'F', 'last'));
    running = false;
    for (const cb of exitCbs) cb();
    await done;
    expect(got).toEqual(['first\n', 'prompt> ', 'last\n']);
  });

  it('follow stops when the reader aborts', async () => {
    const p = join(dir, 'g.log');
    writeFileSync(p, line(1, 'stdout', 'F', 'x'));
    const ac = new AbortController();
    const got: string[] = [];
    const done = (async () => {
      for await (const e of readLogs(host, p, { follow: true, signal: ac.signal }, { running: async () => true, onExit: () => () => {} }))
        got.push(e.line.toString());
    })();
    await until(() => got.length === 1);
    ac.abort();
    await done;
    expect(got).toEqual(['x\n']);
  });
});

async function until(cond: () => boolean, ms = 5000): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > ms) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 5));
  }
}
