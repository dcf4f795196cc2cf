// The pull's push-mode decoder (drivers/image/layer/decoder.ts): gzip framing read by hand around a
// raw inflate (every header field, several members, zero padding), zstd and plain tar, any chunking,
// a slow sink, and the same error codes as zlib's gunzip for broken input.
import { describe, expect, it } from 'vitest';
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { crc32, deflateRawSync, gzipSync } from 'node:zlib';
import { PushDecoder, gzipHeaderLength } from '../../../drivers/image/layer/decoder.js';
import { archiveError } from '../../../drivers/image/layer/compression.js';
import { isBerthError } from '../../../drivers/errors.js';

const ZST = readFileSync(join(import.meta.dirname, 'fixtures/layer.tar.zst'));
const ZST_TAR_SHA = 'b2ae8dce7f12c9985c91c0d6d734d2b8e8eec499d6ceb943b08639aa2d4be796';

/** Decode `input` fed in `size`-byte chunks; `slow` makes the sink answer with a promise. */
async function decode(input: Buffer, size: number, slow = false): Promise<{ out: Buffer; compression: string | undefined; chunks: number }> {
  const parts: Buffer[] = [];
  const d = new PushDecoder((c) => {
    parts.push(Buffer.from(c));
    return slow ? new Promise((r) => setTimeout(r, 1)) : undefined;
  });
  for (let i = 0; i < input.length; i += size) {
    const p = d.write(input.subarray(i, i + size));
    if (p) await p;
  }
  await d.end();
  return { out: Buffer.concat(parts), compression: d.compression, chunks: parts.length };
}

async function decodeError(input: Buffer, size = 4096): Promise<unknown> {
  return decode(input, size).then(
    () => {
      throw new Error('expected a failure');
    },
    (e: unknown) => e,
  );
}

/** A gzip member written by hand, with the optional header fields. */
function member(data: Buffer, o: { extra?: Buffer; name?: string; comment?: string; hcrc?: boolean } = {}): Buffer {
  let flg = 0;
  const parts: Buffer[] = [];
  if (o.extra) {
    flg |= 4;
    const len = Buffer.alloc(2);
    len.writeUInt16LE(o.extra.length);
    parts.push(len, o.extra);
  }
  if (o.name !== undefined) {
    flg |= 8;
    parts.push(Buffer.from(o.name + '\0', 'latin1'));
  }
  if (o.comment !== undefined) {
    flg |= 16;
    parts.push(Buffer.from(o.comment + '\0', 'latin1'));
  }
  if (o.hcrc) {
    flg |= 2;
    parts.push(Buffer.from([0xaa, 0xbb]));
  }
  const trailer = Buffer.alloc(8);
  trailer.writeUInt32LE(crc32(data));
  trailer.writeUInt32LE(data.length % 2 ** 32, 4);
  return Buffer.concat([Buffer.from([0x1f, 0x8b, 8, flg, 0, 0, 0, 0, 0, 3]), ...parts, deflateRawSync(data), trailer]);
}

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('PushDecoder', () => {
  const text = Buffer.from('a layer of text, compressible\n'.repeat(40000));
  const noise = randomBytes(700_000);

  it('undoes gzip whatever the chunking, without joining output into big copies', async () => {
    for (const [data, sizes] of [
      [text, [1, 7, 10, 11, 4096]],
      [noise, [999, 65536]],
    ] as const) {
      const gz = gzipSync(data);
      for (const size of [...sizes, gz.length]) {
        const r = await decode(gz, size);
        expect(r.compression).toBe('gzip');
        expect(r.out.equals(data), `chunk ${size}`).toBe(true);
      }
    }
  });

  it('reads every optional header field and several members (zero padding ends the stream)', async () => {
    const a = member(text.subarray(0, 20_000), { extra: Buffer.alloc(300, 1), name: 'layer.tar', comment: 'made by hand', hcrc: true });
    const b = member(noise.subarray(0, 20_000), { name: '' });
    const c = gzipSync(Buffer.alloc(0));
    const want = Buffer.concat([text.subarray(0, 20_000), noise.subarray(0, 20_000)]);
    for (const size of [3, 9, 1000, 1 << 20]) {
      expect((await decode(Buffer.concat([a, b, c]), size)).out.equals(want)).toBe(true);
      expect((await decode(Buffer.concat([a, b, Buffer.alloc(777)]), size)).out.equals(want)).toBe(true);
    }
    expect(gzipHeaderLength(a.subarray(0, 12))).toBeUndefined();
  });

  it('holds back while the sink is busy and still delivers everything', async () => {
    const big = Buffer.concat([noise, noise, noise, noise]);
    const gz = gzipSync(big);
    const r = await decode(gz, 65536, true);
    expect(sha(r.out)).toBe(sha(big));
    expect(r.chunks).toBeGreaterThan(1);
  });

  it('undoes zstd and passes plain bytes through', async () => {
    for (const size of [5, 4096, ZST.length]) {
      const r = await decode(ZST, size);
      expect(r.compression).toBe('zstd');
      expect(sha(r.out)).toBe(ZST_TAR_SHA);
    }
    const p = await decode(text, 3333, true);
    expect(p.compression).toBe('none');
    expect(p.out.equals(text)).toBe(true);
    expect((await decode(Buffer.from('tiny'), 10)).out.toString()).toBe('tiny');
    expect((await decode(Buffer.alloc(0), 10)).out.length).toBe(0);
  });

  it('fails as zlib does on broken gzip: invalid_parameter through archiveError', async () => {
    const gz = gzipSync(text);
    const cases: [string, Buffer, RegExp][] = [
      ['truncated', gz.subarray(0, gz.length - 3), /unexpected end of file/],
      ['header only', gz.subarray(0, 10), /unexpected end of file/],
      ['cut in the header', member(text, { name: 'x'.repeat(100) }).subarray(0, 50), /unexpected end of file/],
      ['garbage after a member', Buffer.concat([gz, Buffer.from('xyz')]), /incorrect header check/],
      ['bad method', Buffer.concat([gz.subarray(0, 2), Buffer.from([7]), gz.subarray(3)]), /unknown compression method/],
      ['reserved flags', Buffer.concat([gz.subarray(0, 3), Buffer.from([0x80]), gz.subarray(4)]), /unknown header flags set/],
      ['wrong length', Buffer.concat([gz.subarray(0, gz.length - 1), Buffer.from([gz[gz.length - 1]! ^ 1])]), /incorrect length check/],
      ['corrupt deflate data', Buffer.concat([gz.subarray(0, 10), Buffer.alloc(64, 0xff), gz.subarray(74)]), /invalid/],
    ];
    for (const [what, input, msg] of cases) {
      const e = archiveError(await decodeError(input));
      expect(isBerthError(e, 'invalid_parameter'), what).toBe(true);
      expect((e as Error).message, what).toMatch(msg);
    }
    const bz = archiveError(await decodeError(Buffer.from('BZh91AY&SY more')));
    expect((bz as Error).message).toBe('bzip2-compressed layers are not supported (use gzip, zstd or an uncompressed tar)');
    const zst = archiveError(await decodeError(Buffer.concat([ZST.subarray(0, 4), Buffer.alloc(64, 0xee)])));
    expect(isBerthError(zst, 'invalid_parameter')).toBe(true);
  });

  it('passes a failing sink on, and stops', async () => {
    const d = new PushDecoder(() => Promise.reject(new Error('disk full')));
    const gz = gzipSync(noise);
    let err: unknown;
    try {
      for (let i = 0; i < gz.length; i += 65536) await d.write(gz.subarray(i, i + 65536));
      await d.end();
    } catch (e) {
      err = e;
    }
    expect((err as Error).message).toBe('disk full');
  });
});
