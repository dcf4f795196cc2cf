import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { unpackLayer } from '../../../drivers/image/layer/unpack.js';
import { applyLayer } from '../../../drivers/image/layer/merge.js';
import { realExec } from '../../../drivers/sys/exec.js';
import { makeTar, type TarEntry } from '../../helpers/images.js';

let base: string;
beforeEach(() => {
  base = mkdtempSync(join(tmpdir(), 'berth-unit-merge-'));
});
afterEach(() => rmSync(base, { recursive: true, force: true }));

async function layer(name: string, entries: TarEntry[]): Promise<string> {
  const dir = join(base, name);
  mkdirSync(dir);
  await unpackLayer([await makeTar(entries)], dir, { whiteouts: 'keep', chown: false, exec: realExec() });
  return dir;
}

describe('vfs merge (applyLayer)', () => {
  it('applies whiteouts and opaque dirs by deleting from the copy, and never writes through a symlink', async () => {
    const outside = join(base, 'outside');
    mkdirSync(outside);
    writeFileSync(join(outside, 'victim'), 'untouched');
    const l1 = await layer('l1', [
      { name: 'a/keep', content: '1' },
      { name: 'a/gone', content: '2' },
      { name: 'd/x', content: 'x' },
      { name: 'd/sub/y', content: 'y' },
      { name: 'lib', type: 'symlink', linkname: outside }, // absolute: the host's view!
      { name: 'file-then-dir', content: 'f' },
      { name: 'sym', type: 'symlink', linkname: join(outside, 'victim') },
    ]);
    const l2 = await layer('l2', [
      { name: 'a/.wh.gone', content: '' },
      { name: 'a/new', content: '3' },
      { name: 'd/.wh..wh..opq', content: '' },
      { name: 'd/z', content: 'z' },
      { name: 'lib/victim', content: 'written into the rootfs' },
      { name: 'lib/.wh.secret', content: '' },
      { name: 'file-then-dir/inner', content: 'i' },
      { name: 'sym', content: 'replaced' },
    ]);
    const rootfs = join(base, 'rootfs');
    mkdirSync(rootfs);
    await applyLayer(l1, rootfs, realExec());
    await applyLayer(l2, rootfs, realExec());
    expect(readdirSync(join(rootfs, 'a')).sort()).toEqual(['keep', 'new']);
    expect(readdirSync(join(rootfs, 'd'))).toEqual(['z']);
    expect(lstatSync(join(rootfs, 'lib')).isDirectory()).toBe(true);
    expect(readFileSync(join(rootfs, 'lib/victim'), 'utf8')).toBe('written into the rootfs');
    expect(readFileSync(join(rootfs, 'file-then-dir/inner'), 'utf8')).toBe('i');
    expect(readFileSync(join(rootfs, 'sym'), 'utf8')).toBe('replaced');
    expect(lstatSync(join(rootfs, 'sym')).isSymbolicLink()).toBe(false);
    expect(readdirSync(outside)).toEqual(['victim']);
    expect(readFileSync(join(outside, 'victim'), 'utf8')).toBe('untouched');
    // no whiteout file reaches the rootfs
    const all: string[] = [];
    const walk = (d: string) => {
      for (const e of readdirSync(d, { withFileTypes: true })) {
        all.push(e.name);
        if (e.isDirectory()) walk(join(d, e.name));
      }
    };
    walk(rootfs);
    expect(all.filter((n) => n.startsWith('.wh.'))).toEqual([]);
    expect(existsSync(join(rootfs, 'd/sub'))).toBe(false);
  });
});
