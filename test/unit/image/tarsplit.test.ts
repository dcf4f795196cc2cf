import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync, truncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pack } from 'tar-stream';
import { TarSplitter, assembleTar, splitSize, type SplitResult } from '../../../drivers/image/layer/tarsplit.js';
import { unpackLayer } from '../../../drivers/image/layer/unpack.js';
import type { Exec } from '../../../drivers/sys/exec.js';
import { makeTar } from '../../helpers/images.js';

/** Runs nothing: whiteout devices and opaque xattrs are not made (their targets are still removed). */
const nullExec: Exec = { run: async () => '' };

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

// ---- tars by hand ---------------------------------------------------------------------------

interface Hdr {
  name: string;
  /** typeflag character ('0', '\0', '5', 'x', 'L', ...) */
  type?: string;
  size?: number;
  /** Write the size field in base-256. */
  size256?: boolean;
  linkname?: string;
  prefix?: string;
  /** 'ustar' (ustar\0 00), 'gnu' (ustar  \0) */
  format?: 'ustar' | 'gnu';
  mode?: number;
  badChecksum?: boolean;
}

function octal(b: Buffer, off: number, len: number, v: number) {
  b.write(v.toString(8).padStart(len - 1, '0') + '\0', off, len, 'latin1');
}

function header(h: Hdr): Buffer {
  const b = Buffer.alloc(512);
  b.write(h.name, 0, 100, 'utf8');
  octal(b, 100, 8, h.mode ?? 0o644);
  octal(b, 108, 8, 0);
  octal(b, 116, 8, 0);
  const size = h.size ?? 0;
  if (h.size256) {
    b[124] = 0x80;
    let n = size;
    for (let i = 135; i > 124; i--) {
      b[i] = n % 256;
      n = Math.floor(n / 256);
    }
  } else octal(b, 124, 12, size);
  octal(b, 136, 12, 1_700_000_000);
  b.write(h.type ?? '0', 156, 1, 'latin1');
  if (h.linkname) b.write(h.linkname, 157, 100, 'utf8');
  b.write((h.format ?? 'ustar') === 'ustar' ? 'ustar\x0000' : 'ustar  \0', 257, 8, 'latin1');
  if (h.prefix) b.write(h.prefix, 345, 155, 'utf8'); // in GNU format these bytes are not a prefix
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 32 : b[i]!;
  if (h.badChecksum) sum += 1;
  b.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 8, 'latin1');
  return b;
}

const pad = (n: number) => Buffer.alloc((512 - (n % 512)) % 512);

function member(h: Hdr, body: Buffer | string = Buffer.alloc(0)): Buffer {
  const data = typeof body === 'string' ? Buffer.from(body) : body;
  return Buffer.concat([header({ ...h, size: h.size ?? data.length }), data, pad(data.length)]);
}

function paxRecord(kv: Record<string, string>, type = 'x'): Buffer {
  let text = '';
  for (const [k, v] of Object.entries(kv)) {
    const line = ` ${k}=${v}\n`;
    let len = Buffer.byteLength(line) + 1;
    while (String(len).length + Buffer.byteLength(line) !== len) len = String(len).length + Buffer.byteLength(line);
    text += `${len}${line}`;
  }
  return member({ name: 'PaxHeaders/x', type }, text);
}

const gnuLong = (name: string, type = 'L') => member({ name: '././@LongLink', type, format: 'gnu' }, name + '\0');
const END = Buffer.alloc(1024);

// ---- the round trip ---------------------------------------------------------------------------

let base: string;
beforeEach(() => {
  base = mkdtempSync(join(tmpdir(), 'berth-unit-tarsplit-'));
});
afterEach(() => rmSync(base, { recursive: true, force: true }));

async function* source(tar: Buffer): AsyncGenerator<Uint8Array> {
  yield tar;
}

async function unpack(tar: Buffer, whiteouts: 'overlay' | 'keep' = 'keep'): Promise<string> {
  const dir = mkdtempSync(join(base, 'layer-'));
  await unpackLayer(source(tar), dir, { whiteouts, chown: false, exec: nullExec });
  return dir;
}

function split(tar: Buffer, whiteouts: 'overlay' | 'keep' = 'keep', chunks: number[] = [tar.length || 1]): SplitResult {
  const s = new TarSplitter({ whiteouts });
  for (let off = 0, i = 0; off < tar.length; i++) {
    const n = Math.min(chunks[i % chunks.length]!, tar.length - off);
    // a fresh copy each time: the splitter must not keep references into the caller's chunks
    const c = Buffer.from(tar.subarray(off, off + n));
    s.push(c);
    c.fill(0xaa);
    off += n;
  }
  return s.finish();
}

async function assemble(record: Buffer, dir: string): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of assembleTar(record, dir)) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

/** Unpack `tar` (or `unpackFrom`), split it, rebuild it; check it is byte-identical. */
async function roundTrip(tar: Buffer, o: { whiteouts?: 'overlay' | 'keep'; chunks?: number[]; unpackFrom?: Buffer } = {}) {
  const dir = await unpack(o.unpackFrom ?? tar, o.whiteouts);
  const r = split(tar, o.whiteouts, o.chunks);
  expect(r.size).toBe(tar.length);
  expect(splitSize(r.record)).toBe(tar.length);
  const out = await assemble(r.record, dir);
  expect(out.length).toBe(tar.length);
  expect(sha(out)).toBe(sha(tar));
  return { r, dir };
}

describe('tar-split round trips (tar-stream pack)', () => {
  it('files of 0, 1, 511, 512, 513 bytes, dirs, symlinks, hardlinks; contents come from the dir', async () => {
    const tar = await makeTar([
      { name: './', type: 'directory' },
      { name: 'etc/', type: 'directory' },
      { name: 'etc/empty', content: '' },
      { name: 'etc/one', content: 'x' },
      { name: 'etc/511', content: randomBytes(511) },
      { name: 'etc/512', content: randomBytes(512) },
      { name: 'etc/513', content: randomBytes(513) },
      { name: 'etc/link', type: 'symlink', linkname: '513' },
      { name: 'etc/hard', type: 'link', linkname: 'etc/513' },
      { name: 'implicit/parent/file', content: 'deep' },
    ]);
    const { r, dir } = await roundTrip(tar);
    expect(r.exact).toBe(true);
    // The content really comes from the dir: same size, other bytes → another tar.
    writeFileSync(join(dir, 'etc/512'), Buffer.alloc(512, 1));
    const changed = await assemble(r.record, dir);
    expect(changed.length).toBe(tar.length);
    expect(sha(changed)).not.toBe(sha(tar));
  });

  it('a 5 MB file fed in chunks of 1, 7, 4093, 65536 bytes: the record stays tiny', async () => {
    const big = randomBytes(5 * 1024 * 1024 + 3);
    const tar = await makeTar([{ name: 'big.bin', content: big }, { name: 'after', content: 'tail' }]);
    const { r, dir } = await roundTrip(tar, { chunks: [1, 7, 4093, 65536] });
    expect(r.exact).toBe(true);
    expect(r.record.length).toBeLessThan(300);
    // It streams: the big file goes out in pieces of at most 1 MiB.
    let most = 0;
    let pieces = 0;
    for await (const c of assembleTar(r.record, dir)) {
      most = Math.max(most, (c as Buffer).length);
      pieces++;
    }
    expect(most).toBeLessThanOrEqual(1 << 20);
    expect(pieces).toBeGreaterThanOrEqual(5);
  });

  it('a PAX path (a name tar-stream cannot fit in ustar) and a ustar prefix', async () => {
    const long = `${'d'.repeat(120)}/${'f'.repeat(150)}`;
    const viaPrefix = `${'p'.repeat(120)}/name`;
    const tar = await makeTar([
      { name: long, content: 'pax named' },
      { name: viaPrefix, content: 'prefixed' },
    ]);
    expect(tar.includes(Buffer.from('path='))).toBe(true);
    const { r, dir } = await roundTrip(tar);
    expect(r.exact).toBe(true);
    truncateSync(join(dir, long), 3);
    await expect(assemble(r.record, dir)).rejects.toThrow(long);
  });

  it('uid/gid/size via PAX with a tar-stream pack', async () => {
    const p = pack();
    const chunks: Buffer[] = [];
    const done = (async () => {
      for await (const c of p) chunks.push(Buffer.from(c as Uint8Array));
    })();
    await new Promise<void>((res, rej) => p.entry({ name: 'owned', size: 5, pax: { uid: '3000000', gid: '3000001' } }, 'hello', (e) => (e ? rej(e) : res())));
    p.finalize();
    await done;
    const tar = Buffer.concat(chunks);
    const { r } = await roundTrip(tar);
    expect(r.exact).toBe(true);
  });
});

describe('tar-split round trips (hand-made tars)', () => {
  it('GNU long name, PAX path, PAX size, base-256 size, octal size with spaces, contiguous and NUL typeflags', async () => {
    const longName = `gnu/${'n'.repeat(200)}`;
    const tar = Buffer.concat([
      member({ name: 'gnu/', type: '5', size: 0 }),
      gnuLong(longName),
      member({ name: '././@LongLink-trunc', format: 'gnu' }, 'long-named content'),
      paxRecord({ path: 'pax/named', mtime: '1700000000.5' }),
      member({ name: 'ignored-by-pax' }, 'pax-named content'),
      paxRecord({ size: '1000' }),
      member({ name: 'paxsized', size: 0 }, randomBytes(1000)),
      member({ name: 'b256', size256: true }, randomBytes(700)),
      member({ name: 'nulflag', type: '\0' }, 'typeflag NUL'),
      member({ name: 'contig', type: '7' }, 'contiguous'),
      member({ name: 'prefixed', prefix: 'pre/fix' }, 'ustar prefix'),
      member({ name: 'gnuformat', format: 'gnu', prefix: 'not/a/prefix' }, 'gnu has no prefix'),
      END,
    ]);
    const { r } = await roundTrip(tar, { chunks: [1, 7, 4093] });
    expect(r.exact).toBe(true);
    // References, not raw: shrinking each file breaks the rebuild, naming it.
    for (const f of [longName, 'pax/named', 'paxsized', 'b256', 'nulflag', 'contig', 'pre/fix/prefixed', 'gnuformat']) {
      const dir = await unpack(tar);
      truncateSync(join(dir, f), 0);
      await expect(assemble(r.record, dir)).rejects.toThrow(JSON.stringify(f));
    }
  });

  it('PAX path wins over a GNU long name, as in tar-stream; a global path counts only under an x record', async () => {
    const tar = Buffer.concat([
      gnuLong('gnu-name'),
      paxRecord({ path: 'pax-name' }),
      member({ name: 'short' }, 'which name?'),
      paxRecord({ path: 'global-name' }, 'g'),
      member({ name: 'plain' }, 'no x: plain'),
      paxRecord({ mtime: '1' }),
      member({ name: 'with-x' }, 'x without path: global-name'),
      END,
    ]);
    const { r, dir } = await roundTrip(tar);
    expect(r.exact).toBe(true);
    for (const f of ['pax-name', 'plain', 'global-name']) {
      truncateSync(join(dir, f), 1);
      await expect(assemble(r.record, dir)).rejects.toThrow(JSON.stringify(f));
      writeFileSync(join(dir, f), f === 'pax-name' ? 'which name?' : f === 'plain' ? 'no x: plain' : 'x without path: global-name');
    }
    expect(sha(await assemble(r.record, dir))).toBe(sha(tar));
  });

  it('whiteouts and opaque markers (overlay and keep) stay raw and round-trip', async () => {
    const tar = await makeTar([
      { name: 'a/keep', content: 'kept' },
      { name: 'a/.wh.gone', content: '' },
      { name: 'b/.wh..wh..opq', content: '' },
      { name: 'b/file', content: 'in opaque dir' },
      { name: '.wh..wh.plnk/x', content: 'aufs meta' },
    ]);
    for (const whiteouts of ['overlay', 'keep'] as const) {
      const { r } = await roundTrip(tar, { whiteouts });
      expect(r.exact).toBe(true);
    }
  });

  it('extra zero blocks after the end, and a tar without end blocks', async () => {
    const body = Buffer.concat([member({ name: 'f' }, 'content'), member({ name: 'g' }, randomBytes(600))]);
    const extra = Buffer.concat([body, END, Buffer.alloc(512 * 7)]);
    expect((await roundTrip(extra)).r.exact).toBe(true);
    expect((await roundTrip(body)).r.exact).toBe(true);
  });

  it('a member after the end blocks is parsed as tar-stream does (it unpacks it too)', async () => {
    const tar = Buffer.concat([member({ name: 'f' }, 'first'), END, member({ name: 'f' }, 'again'), END]);
    const dir = await unpack(tar);
    const r = split(tar);
    expect(r.exact).toBe(false); // the second f replaced the first on disk: the rebuild is wrong
    const out = await assemble(r.record, dir);
    expect(out.length).toBe(tar.length);
    expect(sha(out)).not.toBe(sha(tar));
  });

  it('trailing garbage and a truncated last block: kept raw, exact=false (tar-stream refuses them)', async () => {
    const good = Buffer.concat([member({ name: 'f' }, 'content'), END]);
    const garbage = Buffer.concat([good, randomBytes(512 * 3 + 77)]);
    await expect(unpack(garbage)).rejects.toThrow();
    const g = await roundTrip(garbage, { unpackFrom: good, chunks: [100] });
    expect(g.r.exact).toBe(false);
    const short = Buffer.concat([good, Buffer.from('half a block')]);
    const s = await roundTrip(short, { unpackFrom: good });
    expect(s.r.exact).toBe(false);
    // a bad checksum in the middle: the rest is raw
    const bad = Buffer.concat([member({ name: 'f' }, 'content'), member({ name: 'g', badChecksum: true }, 'x'), END]);
    const b = await roundTrip(bad, { unpackFrom: good });
    expect(b.r.exact).toBe(false);
  });

  it('a tar cut inside a file: rebuilds to its size, exact=false', async () => {
    const full = Buffer.concat([member({ name: 'f' }, randomBytes(5000)), END]);
    const cut = full.subarray(0, 512 + 3000);
    const r = split(cut);
    expect(r.exact).toBe(false);
    expect(splitSize(r.record)).toBe(cut.length);
  });

  it('a directory with a size (tar-stream does not skip its payload): exact=false, still rebuilds', async () => {
    const tar = Buffer.concat([member({ name: 'f' }, 'content'), header({ name: 'd/', type: '5', size: 10 }), END]);
    const r = split(tar);
    expect(r.exact).toBe(false);
    expect(splitSize(r.record)).toBe(tar.length);
  });

  it('an empty tar and a tar of only end blocks', async () => {
    const r0 = split(Buffer.alloc(0));
    expect(r0).toMatchObject({ size: 0, exact: true });
    expect(await assemble(r0.record, base)).toHaveLength(0);
    const { r } = await roundTrip(END);
    expect(r.exact).toBe(true);
  });
});

describe('exact=false when the dir cannot give content back', () => {
  const cases: [string, Buffer, 'overlay' | 'keep', boolean][] = [
    ['a duplicate path', Buffer.concat([member({ name: 'a/f' }, 'one'), member({ name: './a//f' }, 'two'), END]), 'keep', false],
    ['a later symlink at the path', Buffer.concat([member({ name: 'f' }, 'one'), member({ name: 'f', type: '2', linkname: 'x' }), END]), 'keep', false],
    ['a non-dir replacing its parent', Buffer.concat([member({ name: 'a/b/f' }, 'one'), member({ name: 'a' }, 'file now'), END]), 'keep', false],
    ['a whiteout of it (overlay)', Buffer.concat([member({ name: 'a/f' }, 'one'), member({ name: 'a/.wh.f' }), END]), 'overlay', false],
    ['a whiteout of its parent (overlay)', Buffer.concat([member({ name: 'a/b/f' }, 'one'), member({ name: 'a/.wh.b' }), END]), 'overlay', false],
    ['a whiteout of it kept as a file (keep)', Buffer.concat([member({ name: 'a/f' }, 'one'), member({ name: 'a/.wh.f' }), END]), 'keep', true],
    ['a later dir at its parent', Buffer.concat([member({ name: 'a/f' }, 'one'), member({ name: 'a/', type: '5' }), END]), 'keep', true],
    ['a hardlink to it', Buffer.concat([member({ name: 'a/f' }, 'one'), member({ name: 'a/g', type: '1', linkname: 'a/f' }), END]), 'keep', true],
    ['a file replacing a hardlink to it', Buffer.concat([member({ name: 'f' }, 'one'), member({ name: 'g', type: '1', linkname: 'f' }), member({ name: 'g' }, 'two'), END]), 'keep', true],
    ['a sibling whiteout (overlay)', Buffer.concat([member({ name: 'a/f' }, 'one'), member({ name: 'a/.wh.fg' }), END]), 'overlay', true],
  ];
  for (const [what, tar, whiteouts, exact] of cases) {
    it(`${what}: exact=${exact}`, async () => {
      const dir = await unpack(tar, whiteouts);
      const r = split(tar, whiteouts);
      expect(r.exact).toBe(exact);
      if (exact) expect(sha(await assemble(r.record, dir))).toBe(sha(tar));
    });
  }

  it('the file really is gone or changed in those cases (so the check is needed)', async () => {
    const tar = Buffer.concat([member({ name: 'a/f' }, 'one'), member({ name: 'a/f' }, 'two!'), END]);
    const dir = await unpack(tar);
    const r = split(tar);
    await expect(assemble(r.record, dir)).rejects.toThrow('"a/f"');
  });
});

describe('assembleTar', () => {
  it('errors naming the file when it changed size, or is missing', async () => {
    const tar = await makeTar([{ name: 'x/small', content: 'abc' }, { name: 'x/big', content: randomBytes(600_000) }]);
    const dir = await unpack(tar);
    const r = split(tar);
    writeFileSync(join(dir, 'x/big'), randomBytes(600_001));
    await expect(assemble(r.record, dir)).rejects.toThrow(/"x\/big".*600001 bytes.*600000/);
    rmSync(join(dir, 'x/small'));
    await expect(assemble(r.record, dir)).rejects.toThrow('x/small');
  });

  it('refuses something that is not a record', () => {
    expect(() => assembleTar(Buffer.from('nope'), base)).toThrow('not a tar-split record');
    expect(() => splitSize(Buffer.alloc(20))).toThrow('not a tar-split record');
  });

  it('errors on a corrupt frame', async () => {
    const tar = await makeTar([{ name: 'f', content: 'abc' }]);
    const r = split(tar);
    const bad = Buffer.from(r.record);
    bad[bad.length - 3] = bad[bad.length - 3]! ^ 0xff;
    await expect(assemble(bad, base)).rejects.toThrow();
  });
});

describe('agreement with tar-stream (mutated headers)', () => {
  it('whatever tar-stream unpacks, an exact record rebuilds byte for byte; the splitter never throws', async () => {
    let seed = 0x2545f491; // xorshift32: the same mutations every run
    const rand = (n: number) => {
      seed ^= seed << 13;
      seed ^= seed >>> 17;
      seed ^= seed << 5;
      return (seed >>> 0) % n;
    };
    const original = Buffer.concat([
      member({ name: 'a' }, 'first file'),
      paxRecord({ path: 'p/named' }),
      member({ name: 'x' }, randomBytes(700)),
      gnuLong('g/long'),
      member({ name: 'y', format: 'gnu' }, 'gnu long named'),
      member({ name: 'b', prefix: 'pre' }, randomBytes(1500)),
      member({ name: 'c', type: '2', linkname: 'a' }),
      member({ name: 'd' }, randomBytes(513)),
      member({ name: '.wh.zz' }),
      member({ name: 'zy' }, 'after a whiteout'),
      END,
    ]);
    const headers: number[] = [];
    for (let off = 0; off < original.length - 1024; ) {
      headers.push(off);
      const size = parseInt(original.toString('latin1', off + 124, off + 135), 8);
      off += 512 + size + pad(size).length;
    }
    const spots = [0, 1, 2, 99, 124, 125, 130, 131, 134, 135, 156, 157, 257, 262, 263, 345, 346];
    const values = [0, 0x20, 0x2f, 0x30, 0x31, 0x35, 0x37, 0x41, 0x4c, 0x4b, 0x67, 0x78, 0x80, 0xff];
    let unpacked = 0;
    let exactOnes = 0;
    for (let round = 0; round < 300; round++) {
      const whiteouts = round % 2 ? 'overlay' : 'keep';
      const tar = Buffer.from(original);
      for (let m = rand(4) === 0 ? 2 : 1; m > 0; m--) {
        const h = headers[rand(headers.length)]!;
        tar[h + spots[rand(spots.length)]!] = values[rand(values.length)]!;
        if (tar[h + 156] === 0x35) tar[h + 156] = 0x30; // a dir with a size hangs tar-stream itself
        if (rand(4) > 0) {
          let sum = 0;
          for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 32 : tar[h + i]!;
          tar.write(sum.toString(8).padStart(6, '0') + '\0 ', h + 148, 8, 'latin1');
        }
      }
      const r = split(tar, whiteouts, [1 + rand(700)]);
      expect(splitSize(r.record)).toBe(tar.length);
      const dir = mkdtempSync(join(base, 'fuzz-'));
      const ok = await unpackLayer(source(tar), dir, { whiteouts, chown: false, exec: nullExec }).then(
        () => true,
        (e: Error) => {
          if (process.env.FUZZ_DEBUG) console.log(e.message);
          return false;
        },
      );
      if (ok) {
        unpacked++;
        if (r.exact) {
          exactOnes++;
          expect(sha(await assemble(r.record, dir))).toBe(sha(tar));
        }
      }
      rmSync(dir, { recursive: true, force: true });
    }
    // the fuzz did exercise both sides
    if (process.env.FUZZ_DEBUG) console.log({ unpacked, exactOnes });
    expect(unpacked).toBeGreaterThan(60);
    expect(exactOnes).toBeGreaterThan(40);
  }, 60_000);
});

describe('size and speed', () => {
  it('10,000 small files give a small record; 50 MB single-file throughput', async () => {
    const entries = [];
    for (let i = 0; i < 10_000; i++) entries.push({ name: `usr/share/pkg${i % 97}/file-${i}.txt`, content: `content of file ${i}\n`, mtime: new Date(1_700_000_000_000 + i * 1000) });
    const tar = await makeTar(entries);
    let t = 0;
    let splitMs = Infinity;
    let r: SplitResult | undefined;
    for (let k = 0; k < 3; k++) {
      t = performance.now();
      const s = new TarSplitter({ whiteouts: 'keep' });
      for (let off = 0; off < tar.length; off += 65536) s.push(tar.subarray(off, off + 65536));
      r = s.finish();
      splitMs = Math.min(splitMs, performance.now() - t);
    }
    if (!r) throw new Error('unreachable');
    expect(r.exact).toBe(true);
    expect(r.record.length).toBeLessThan(1024 * 1024);
    const dir = await unpack(tar);
    t = performance.now();
    const out = await assemble(r.record, dir);
    const asmMs = performance.now() - t;
    expect(sha(out)).toBe(sha(tar));

    const big = Buffer.concat([member({ name: 'big' }, Buffer.alloc(50 * 1024 * 1024, 7)), END]);
    let bigMs = Infinity;
    let rb: SplitResult | undefined;
    for (let k = 0; k < 3; k++) {
      t = performance.now();
      const s = new TarSplitter({ whiteouts: 'keep' });
      for (let off = 0; off < big.length; off += 1 << 20) s.push(big.subarray(off, off + (1 << 20)));
      rb = s.finish();
      bigMs = Math.min(bigMs, performance.now() - t);
    }
    t = performance.now();
    createHash('sha256').update(big).digest();
    const shaMs = performance.now() - t;
    expect(rb!.record.length).toBeLessThan(200);
    console.log(
      `tarsplit: 10,000 files: tar ${tar.length} B → record ${r.record.length} B, split ${splitMs.toFixed(1)} ms (best of 3), assemble ${asmMs.toFixed(1)} ms; ` +
        `50 MB single file: split ${bigMs.toFixed(2)} ms (${(50 / (bigMs / 1000)).toFixed(0)} MB/s, best of 3), sha256 ${shaMs.toFixed(1)} ms (${(50 / (shaMs / 1000)).toFixed(0)} MB/s)`,
    );
  }, 60_000);
});
