import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { decompress } from '../../../drivers/image/layer/compression.js';

async function* failingAfter(first: Buffer, err: Error): AsyncGenerator<Buffer> {
  yield first;
  await new Promise((r) => setTimeout(r, 5));
  throw err;
}

describe('decompress when the source fails', () => {
  it.each(['gzip', 'none'] as const)('keeps the error for the reader (%s), with no uncaught exception before it reads', async (kind) => {
    const body = kind === 'gzip' ? gzipSync(Buffer.alloc(1 << 20, 7)).subarray(0, 4096) : Buffer.alloc(4096, 1);
    const uncaught: unknown[] = [];
    const onUncaught = (e: unknown) => uncaught.push(e);
    process.on('uncaughtException', onUncaught);
    try {
      const { stream } = await decompress(failingAfter(body, new Error('client went away')));
      await new Promise((r) => setTimeout(r, 50)); // the failure happens before anyone reads
      await expect(
        (async () => {
          for await (const _ of stream) void _;
        })(),
      ).rejects.toThrow('client went away');
      expect(uncaught).toEqual([]);
    } finally {
      process.off('uncaughtException', onUncaught);
    }
  });
});
