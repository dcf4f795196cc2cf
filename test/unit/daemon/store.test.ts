import { existsSync, mkdtempSync, readdirSync, writeFileSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { FileStore } from '../../../daemon/state/store.js';

interface Recs {
  thing: { id: string; n: number; pad?: string };
}

const dirs: string[] = [];
function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), 'berth-unit-store-'));
  dirs.push(d);
  return d;
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('FileStore', () => {
  it('writes one JSON file per record and reloads them after a restart', async () => {
    const dir = tmp();
    const s = await FileStore.open<Recs>(dir, ['thing']);
    await s.put('thing', { id: 'a1', n: 1 });
    await s.put('thing', { id: 'b2', n: 2 });
    await s.put('thing', { id: 'a1', n: 3 });
    await s.delete('thing', 'b2');
    expect(readdirSync(join(dir, 'thing'))).toEqual(['a1.json']);
    const again = await FileStore.open<Recs>(dir, ['thing']);
    expect(again.list('thing')).toEqual([{ id: 'a1', n: 3 }]);
  });

  it('keeps its index apart from callers: a mutated object does not change the record', async () => {
    const s = await FileStore.open<Recs>(tmp(), ['thing']);
    const r = { id: 'x1', n: 1 };
    await s.put('thing', r);
    r.n = 99;
    expect(s.get('thing', 'x1')!.n).toBe(1);
  });

  it('applies concurrent writes to one record in order: the last put wins on disk', async () => {
    const dir = tmp();
    const s = await FileStore.open<Recs>(dir, ['thing']);
    await Promise.all(Array.from({ length: 20 }, (_, n) => s.put('thing', { id: 'c', n })));
    expect(JSON.parse(readFileSync(join(dir, 'thing', 'c.json'), 'utf8')).n).toBe(19);
  });

  it('sweeps temp files of interrupted writes and sets aside a corrupt record at open', async () => {
    const dir = tmp();
    const s = await FileStore.open<Recs>(dir, ['thing']);
    await s.put('thing', { id: 'ok', n: 1 });
    writeFileSync(join(dir, 'thing', 'ok.json.tmp-123-1'), '{"id":"ok","n":');
    writeFileSync(join(dir, 'thing', 'bad.json'), '{"id":');
    const again = await FileStore.open<Recs>(dir, ['thing']);
    expect(again.list('thing')).toEqual([{ id: 'ok', n: 1 }]);
    expect(readdirSync(join(dir, 'thing')).sort()).toEqual(['bad.json.corrupt', 'ok.json']);
  });

  it('refuses ids that could escape its directory', async () => {
    const s = await FileStore.open<Recs>(tmp(), ['thing']);
    await expect(s.put('thing', { id: '../x', n: 1 })).rejects.toMatchObject({ code: 'invalid_parameter' });
  });

  const built = join(import.meta.dirname, '../../../dist/daemon/state/store.js');
  it.skipIf(!existsSync(built))('survives kill -9 in the middle of writing: every record reads back old or new, never broken (needs npm run build)', async () => {
    const dir = tmp();
    // A child process rewrites 50 records in a loop; we kill it at a random moment, 5 times.
    const script = `
      import { FileStore } from ${JSON.stringify(built)};
      const s = await FileStore.open(${JSON.stringify(dir)}, ['thing']);
      for (let n = 0; ; n++) await Promise.all(Array.from({ length: 50 }, (_, i) => s.put('thing', { id: 'r' + i, n, pad: 'x'.repeat(20000) })));
    `;
    for (let round = 0; round < 5; round++) {
      spawnSync('timeout', ['-s', 'KILL', `${0.4 + Math.random() * 0.6}`, process.execPath, '--input-type=module', '-e', script]);
      const again = await FileStore.open<Recs>(dir, ['thing']);
      for (const r of again.list('thing')) expect(r.pad).toHaveLength(20000);
      expect(readdirSync(join(dir, 'thing')).filter((f) => f.includes('.corrupt'))).toEqual([]);
    }
  });
});
