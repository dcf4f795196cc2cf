import { describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { Readable } from 'node:stream';
import { decompress, detectCompression } from '../../../drivers/image/layer/compression.js';
import { isBerthError } from '../../../drivers/errors.js';

// fixtures/layer.tar.zst: `zstd -19` of a tar with etc/motd, big.txt (1 MB, many zstd blocks), seq.txt.
const ZST = readFileSync(join(import.meta.dirname, 'fixtures/layer.tar.zst'));
const TAR_SHA = 'b2ae8dce7f12c9985c91c0d6d734d2b8e8eec499d6ceb943b08639aa2d4be796';

async function drain(src: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of src) chunks.push(Buffer.from(c));
  return Buffer.concat(chunks);
}

function chunked(b: Buffer, size: number): Readable {
  const out: Buffer[] = [];
  for (let i = 0; i < b.length; i += size) out.push(b.subarray(i, i + size));
  return Readable.from(out);
}

describe('layer compression', () => {
  it('tells formats apart by magic bytes', () => {
    expect(detectCompression(gzipSync('x'))).toBe('gzip');
    expect(detectCompression(ZST)).toBe('zstd');
    expect(detectCompression(Buffer.from('BZh91AY'))).toBe('bzip2');
    expect(detectCompression(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]))).toBe('xz');
    expect(detectCompression(Buffer.from('plain tar'))).toBe('none');
  });

  it('undoes zstd while streaming, whatever the chunking', async () => {
    for (const size of [1, 7, 4096, ZST.length]) {
      const { stream, compression } = await decompress(chunked(ZST, size));
      expect(compression).toBe('zstd');
      expect(createHash('sha256').update(await drain(stream)).digest('hex')).toBe(TAR_SHA);
    }
  });

  it('undoes gzip and passes plain bytes through', async () => {
    const data = Buffer.from('hello layer'.repeat(1000));
    expect((await drain((await decompress(chunked(gzipSync(data), 100))).stream)).equals(data)).toBe(true);
    expect((await drain((await decompress(chunked(data, 3))).stream)).equals(data)).toBe(true);
  });

  it('refuses bzip2/xz and corrupt zstd with invalid_parameter', async () => {
    await expect(decompress(Readable.from([Buffer.from('BZh91AY&SY')]))).rejects.toThrow('bzip2-compressed layers are not supported');
    const bad = Buffer.concat([ZST.subarray(0, 4), Buffer.alloc(64, 0xee)]);
    const err = await drain((await decompress(Readable.from([bad]))).stream).catch((e: unknown) => e);
    expect(isBerthError(err, 'invalid_parameter')).toBe(true);
  });
});
