import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BlobStore, sha256 } from '../../../daemon/images/blobs.js';
import { isBerthError } from '../../../drivers/errors.js';

let base: string;
let store: BlobStore;
beforeEach(async () => {
  base = mkdtempSync(join(tmpdir(), 'berth-unit-blobs-'));
  store = new BlobStore(base);
  await store.init();
});
afterEach(() => rmSync(base, { recursive: true, force: true }));

describe('content store', () => {
  it('names a blob by the sha256 of its bytes', async () => {
    const w = await store.write([Buffer.from('hello '), Buffer.from('world')]);
    expect(w).toEqual({ digest: sha256('hello world'), size: 11, created: true });
    expect(readFileSync(store.path(w.digest), 'utf8')).toBe('hello world');
    expect((await store.writeBuffer('hello world')).created).toBe(false);
    expect(readdirSync(store.tmpDir)).toEqual([]);
  });

  it('refuses a blob whose content does not match the expected digest, leaving no file', async () => {
    const claimed = sha256('something else');
    let err: unknown;
    try {
      await store.write([Buffer.from('hello')], claimed);
    } catch (e) {
      err = e;
    }
    expect(isBerthError(err, 'invalid_parameter')).toBe(true);
    expect((err as Error).message).toContain('does not match');
    expect(await store.has(claimed)).toBe(false);
    expect(await store.has(sha256('hello'))).toBe(false);
    expect(readdirSync(store.dir)).toEqual([]);
    expect(readdirSync(store.tmpDir)).toEqual([]);
  });

  it('removes the temp file when the source fails midway', async () => {
    async function* broken() {
      yield Buffer.from('part');
      throw new Error('connection reset');
    }
    await expect(store.write(broken())).rejects.toThrow('connection reset');
    expect(readdirSync(store.tmpDir)).toEqual([]);
    expect(readdirSync(store.dir)).toEqual([]);
  });

  it('never builds a path from a bad digest', () => {
    expect(() => store.path('sha256:../../etc/passwd')).toThrow('invalid digest');
    expect(() => store.path('md5:abc')).toThrow('invalid digest');
  });
});
