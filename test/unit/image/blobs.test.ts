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

describe('staged blobs (a caller that hashes itself)', () => {
  it('writes many chunks in order and names the blob only at commit', async () => {
    const chunks = Array.from({ length: 300 }, (_, i) => Buffer.alloc(7919 + i, i & 0xff));
    const all = Buffer.concat(chunks);
    const s = await store.stage();
    for (const c of chunks) {
      const p = s.write(c);
      if (p) await p;
    }
    expect(readdirSync(store.dir)).toEqual([]);
    expect(readdirSync(store.tmpDir)).toHaveLength(1);
    const w = await s.commit(sha256(all));
    expect(w).toEqual({ digest: sha256(all), size: all.length, created: true });
    expect(readFileSync(store.path(w.digest)).equals(all)).toBe(true);
    expect(readdirSync(store.tmpDir)).toEqual([]);
    await expect(s.write(Buffer.from('late'))).rejects.toThrow('committed or discarded');
    // the same bytes again: the store keeps its copy, the temp file goes
    const again = await store.stage();
    void again.write(all);
    expect(await again.commit(sha256(all))).toMatchObject({ created: false });
    expect(readdirSync(store.tmpDir)).toEqual([]);
  });

  it('discard leaves nothing, even with a write in flight', async () => {
    const s = await store.stage();
    void s.write(Buffer.alloc(3 << 20, 1));
    await s.discard();
    await s.discard();
    expect(readdirSync(store.tmpDir)).toEqual([]);
    expect(readdirSync(store.dir)).toEqual([]);
  });
});
