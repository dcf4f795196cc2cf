import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { extract } from 'tar-stream';
import { unpackLayer } from '../../../drivers/image/layer/unpack.js';
import { LayerStore } from '../../../drivers/image/layer/store.js';
import { isBerthError } from '../../../drivers/errors.js';
import type { Exec } from '../../../drivers/sys/exec.js';
import { silentLog } from '../../../drivers/log.js';
import { UndoStack } from '../../../drivers/undo.js';
import type { Job } from '../../../drivers/handlers.js';
import { makeTar, type TarEntry } from '../../helpers/images.js';

function recordingExec(): Exec & { calls: { argv: readonly string[]; input?: string }[] } {
  const calls: { argv: readonly string[]; input?: string }[] = [];
  return {
    calls,
    async run(argv, opts = {}) {
      calls.push({ argv, ...(opts.input !== undefined ? { input: opts.input } : {}) });
      return '';
    },
  };
}

const noExec: Exec = {
  run: async (argv) => {
    throw new Error(`unexpected exec ${argv.join(' ')}`);
  },
};

function job(): Job {
  return { id: 'j', name: 'test', log: silentLog, signal: new AbortController().signal, undo: new UndoStack() };
}

async function entriesOf(tarText: string) {
  const ex = extract();
  const out: { name: string; type: string; devmajor: number; devminor: number; pax: Record<string, string> | null }[] = [];
  const done = (async () => {
    for await (const e of ex) {
      out.push({ name: e.header.name, type: e.header.type, devmajor: e.header.devmajor, devminor: e.header.devminor, pax: (e.header.pax as Record<string, string>) ?? null });
      e.resume();
    }
  })();
  ex.end(Buffer.from(tarText, 'utf8'));
  await done;
  return out;
}

let base: string;
let layer: string;
let outside: string;
beforeEach(() => {
  base = mkdtempSync(join(tmpdir(), 'berth-unit-unpack-'));
  layer = join(base, 'layer');
  outside = join(base, 'outside');
  mkdirSync(layer);
  mkdirSync(outside);
  writeFileSync(join(outside, 'secret'), 'keep me');
});
afterEach(() => rmSync(base, { recursive: true, force: true }));

const mtime = new Date('2023-05-06T07:08:09Z');

describe('unpackLayer', () => {
  it('writes files, dirs, modes, mtimes, symlinks and hardlinks, and returns the diff id', async () => {
    const tar = await makeTar([
      { name: './', type: 'directory' },
      { name: 'bin/', type: 'directory', mode: 0o750, mtime },
      { name: 'bin/tool', content: 'echo hi', mode: 0o4755, mtime },
      { name: 'bin/sh', type: 'symlink', linkname: 'tool' },
      { name: 'bin/tool2', type: 'link', linkname: 'bin/tool' },
      { name: 'etc/deep/file', content: 'implicit parents' },
      { name: 'etc/.wh.gone', content: '' },
      { name: 'opq/.wh..wh..opq', content: '' },
    ]);
    const r = await unpackLayer([tar], layer, { whiteouts: 'keep', chown: false, exec: noExec });
    expect(r.diffId).toBe(`sha256:${createHash('sha256').update(tar).digest('hex')}`);
    expect(r.size).toBe('echo hi'.length + 'implicit parents'.length);
    const tool = lstatSync(join(layer, 'bin/tool'));
    expect(tool.mode & 0o7777).toBe(0o4755);
    expect(tool.mtime.toISOString()).toBe(mtime.toISOString());
    expect(lstatSync(join(layer, 'bin')).mode & 0o7777).toBe(0o750);
    expect(lstatSync(join(layer, 'bin')).mtime.toISOString()).toBe(mtime.toISOString());
    expect(readlinkSync(join(layer, 'bin/sh'))).toBe('tool');
    expect(lstatSync(join(layer, 'bin/tool2')).ino).toBe(tool.ino);
    expect(readFileSync(join(layer, 'etc/deep/file'), 'utf8')).toBe('implicit parents');
    // keep mode: whiteouts stay as files for the vfs merge
    expect(existsSync(join(layer, 'etc/.wh.gone'))).toBe(true);
    expect(existsSync(join(layer, 'opq/.wh..wh..opq'))).toBe(true);
  });

  it('overlay mode: whiteouts become 0:0 char devices and opaque dirs an xattr, in one tar run', async () => {
    const exec = recordingExec();
    const tar = await makeTar([
      { name: 'a/', type: 'directory', mode: 0o711 },
      { name: 'a/.wh.old', content: '' },
      { name: 'a/new', content: 'n' },
      { name: 'd/.wh..wh..opq', content: '' },
      { name: '.wh.top', content: '' },
    ]);
    await unpackLayer([tar], layer, { whiteouts: 'overlay', chown: true, exec });
    expect(exec.calls).toHaveLength(1);
    expect(exec.calls[0]!.argv).toEqual(['tar', '-x', '-f', '-', '-C', layer, '--numeric-owner', '--same-owner', '--same-permissions', '--xattrs', '--xattrs-include=trusted.overlay.*']);
    const entries = await entriesOf(exec.calls[0]!.input!);
    expect(entries).toEqual([
      { name: 'd/', type: 'directory', devmajor: 0, devminor: 0, pax: { path: 'd/', 'SCHILY.xattr.trusted.overlay.opaque': 'y' } },
      { name: 'a/old', type: 'character-device', devmajor: 0, devminor: 0, pax: null },
      { name: 'top', type: 'character-device', devmajor: 0, devminor: 0, pax: null },
    ]);
    // no .wh. file lands in an overlay layer
    expect(readdirSync(join(layer, 'a'))).toEqual(['new']);
    expect(readdirSync(join(layer, 'd'))).toEqual([]);
  });

  const escapes: [string, TarEntry[]][] = [
    ['a ../ path', [{ name: '../outside/x', content: 'pwned' }]],
    ['a deeper ../ path', [{ name: 'a/b/../../../outside/x', content: 'pwned' }]],
    ['an absolute path', [{ name: `${'/'}tmp/berth-unit-abs-${process.pid}`, content: 'pwned' }]],
    ['a write through a relative symlink', [{ name: 'esc', type: 'symlink', linkname: '../outside' }, { name: 'esc/x', content: 'pwned' }]],
    ['a write through an absolute symlink', [{ name: 'esc', type: 'symlink', linkname: '/' }, { name: 'esc/tmp/pwned', content: 'pwned' }]],
    ['a dir through a symlink', [{ name: 'esc', type: 'symlink', linkname: '../outside' }, { name: 'esc/sub/', type: 'directory' }]],
    ['a hardlink out with ../', [{ name: 'h', type: 'link', linkname: '../outside/secret' }]],
    ['an absolute hardlink', [{ name: 'h', type: 'link', linkname: '/etc/passwd' }]],
    ['a hardlink through a symlink', [{ name: 'esc', type: 'symlink', linkname: '../outside' }, { name: 'h', type: 'link', linkname: 'esc/secret' }]],
    ['a symlink then a hardlink into it', [{ name: 'esc', type: 'symlink', linkname: '/etc' }, { name: 'esc/passwd', type: 'link', linkname: 'x' }]],
  ];
  it('a member refused early in a tar that arrives in many chunks ends the unpack (the feed stops; no hang)', async () => {
    const tar = await makeTar([{ name: '../outside/x', content: 'pwned' }, { name: 'big', content: Buffer.alloc(8 << 20, 7) }]);
    let fed = 0;
    async function* chunks() {
      for (let off = 0; off < tar.length; off += 16 << 10) {
        fed++;
        yield tar.subarray(off, off + (16 << 10));
        await new Promise((r) => setImmediate(r));
      }
    }
    const err = await unpackLayer(chunks(), layer, { whiteouts: 'keep', chown: false, exec: noExec }).then(() => undefined, (e: unknown) => e);
    expect(isBerthError(err, 'invalid_parameter')).toBe(true);
    expect(fed).toBeLessThan(tar.length / (16 << 10)); // stopped reading
    expect(readdirSync(outside)).toEqual(['secret']);
  });

  it.each(escapes)('refuses %s and writes nothing outside', async (_what, entries) => {
    const tar = await makeTar(entries);
    let err: unknown;
    try {
      await unpackLayer([tar], layer, { whiteouts: 'keep', chown: false, exec: noExec });
    } catch (e) {
      err = e;
    }
    expect(isBerthError(err, 'invalid_parameter')).toBe(true);
    expect(readdirSync(outside)).toEqual(['secret']);
    expect(readFileSync(join(outside, 'secret'), 'utf8')).toBe('keep me');
    expect(existsSync(`/tmp/berth-unit-abs-${process.pid}`)).toBe(false);
    expect(existsSync('/tmp/pwned')).toBe(false);
  });

  it('replaces a symlink by a file instead of writing through it', async () => {
    const tar = await makeTar([
      { name: 'f', type: 'symlink', linkname: '../outside/secret' },
      { name: 'f', content: 'mine' },
    ]);
    await unpackLayer([tar], layer, { whiteouts: 'keep', chown: false, exec: noExec });
    expect(lstatSync(join(layer, 'f')).isFile()).toBe(true);
    expect(readFileSync(join(outside, 'secret'), 'utf8')).toBe('keep me');
  });

  it('a symlink or hardlink without a target is invalid_parameter, not a crash', async () => {
    for (const [type, msg] of [
      ['symlink', 'invalid symlink target for "x"'],
      ['link', 'hardlink "x" points at the layer root'],
    ] as const) {
      const tar = await makeTar([{ name: 'x', type, linkname: '' }]);
      const err = await unpackLayer([tar], layer, { whiteouts: 'keep', chown: false, exec: noExec }).catch((e: unknown) => e);
      expect(isBerthError(err, 'invalid_parameter') && (err as Error).message).toBe(msg);
    }
  });

  it('refuses an empty stream', async () => {
    await expect(unpackLayer([], layer, { whiteouts: 'keep', chown: false, exec: noExec })).rejects.toThrow('empty');
  });
});

describe('LayerStore', () => {
  it('unpacks a gzip blob once, verifies its diff id and registers its removal', async () => {
    const tar = await makeTar([{ name: 'hello', content: 'world' }]);
    const diffId = `sha256:${createHash('sha256').update(tar).digest('hex')}`;
    const blob = join(base, 'blob');
    writeFileSync(blob, gzipSync(tar));
    const store = new LayerStore(join(base, 'drv'), { whiteouts: 'keep', shortLinks: true, chown: false, exec: noExec, log: silentLog });
    const j = job();
    expect(await store.unpack({ diffId, path: blob, compression: 'gzip' }, j)).toEqual({ diffId, size: 5 });
    expect(readFileSync(join(store.diffDir(diffId), 'hello'), 'utf8')).toBe('world');
    expect(await store.shortLink(diffId)).toMatch(/^l\/[a-z2-7]{12}$/);
    expect(readFileSync(join(base, 'drv', await store.shortLink(diffId), 'hello'), 'utf8')).toBe('world');
    // a second unpack reads nothing (the blob may be gone) and adds no undo step
    rmSync(blob);
    const j2 = job();
    expect(await store.unpack({ diffId, path: blob, compression: 'gzip' }, j2)).toEqual({ diffId, size: 5 });
    expect(j2.undo.size).toBe(0);
    await j.undo.unwind();
    expect(await store.has(diffId)).toBe(false);
    expect(readdirSync(join(base, 'drv', 'l'))).toEqual([]);
  });

  it('refuses content that does not match the diff id and leaves nothing', async () => {
    const tar = await makeTar([{ name: 'hello', content: 'world' }]);
    const blob = join(base, 'blob');
    writeFileSync(blob, tar);
    const store = new LayerStore(join(base, 'drv'), { whiteouts: 'overlay', shortLinks: true, chown: false, exec: noExec, log: silentLog });
    const lie = `sha256:${'0'.repeat(64)}`;
    await expect(store.unpack({ diffId: lie, path: blob, compression: 'none' }, job())).rejects.toThrow('does not match its digest');
    expect(readdirSync(join(base, 'drv', 'layers'))).toEqual([]);
    expect(readdirSync(join(base, 'drv', 'l'))).toEqual([]);
  });

  it('removes an escaping layer completely', async () => {
    const tar = await makeTar([{ name: 'ok', content: '1' }, { name: '../x', content: '2' }]);
    const blob = join(base, 'blob');
    writeFileSync(blob, tar);
    const store = new LayerStore(join(base, 'drv'), { whiteouts: 'keep', shortLinks: false, chown: false, exec: noExec, log: silentLog });
    const diffId = `sha256:${createHash('sha256').update(tar).digest('hex')}`;
    await expect(store.unpack({ diffId, path: blob, compression: 'none' }, job())).rejects.toSatisfy((e) => isBerthError(e, 'invalid_parameter'));
    expect(readdirSync(join(base, 'drv', 'layers'))).toEqual([]);
    expect(existsSync(join(base, 'drv', 'x'))).toBe(false);
  });

  it('a streamed layer (a pull) is kept only once verified resolves; a large file goes out in batches', async () => {
    const big = Buffer.alloc(3 * 1024 * 1024 + 123);
    for (let i = 0; i < big.length; i += 4096) big.writeUInt32LE(i, i);
    const tar = await makeTar([{ name: 'big.bin', content: big }, { name: 'small', content: 'x' }]);
    const diffId = `sha256:${createHash('sha256').update(tar).digest('hex')}`;
    const store = new LayerStore(join(base, 'drv'), { whiteouts: 'overlay', shortLinks: true, chown: false, exec: noExec, log: silentLog });
    let verify!: () => void;
    const verified = new Promise<void>((r) => (verify = r));
    const pieces = Array.from({ length: Math.ceil(tar.length / 65536) }, (_, i) => tar.subarray(i * 65536, (i + 1) * 65536));
    let done = false;
    const p = store.unpack({ diffId, source: pieces, verified }, job()).then((r) => ((done = true), r));
    await new Promise((r) => setTimeout(r, 50));
    // everything is read and written, but nothing is in place before the caller says so
    expect(done).toBe(false);
    expect(await store.has(diffId)).toBe(false);
    expect(readdirSync(join(base, 'drv', 'layers')).every((f) => f.startsWith('.tmp-'))).toBe(true);
    verify();
    expect(await p).toEqual({ diffId, size: big.length + 1 });
    expect(readFileSync(join(store.diffDir(diffId), 'big.bin')).equals(big)).toBe(true);
    // again: the layer is there, the stream is never read
    const never: AsyncIterable<Uint8Array> = {
      [Symbol.asyncIterator]: () => ({ next: () => Promise.reject(new Error('read a stream it did not need')) }),
    };
    expect(await store.unpack({ diffId, source: never, verified: new Promise(() => {}) }, job())).toEqual({ diffId, size: big.length + 1 });
  });

  it('a streamed layer whose verification fails, or whose stream fails, leaves nothing', async () => {
    const tar = await makeTar([{ name: 'hello', content: 'world' }]);
    const diffId = `sha256:${createHash('sha256').update(tar).digest('hex')}`;
    const store = new LayerStore(join(base, 'drv'), { whiteouts: 'overlay', shortLinks: true, chown: false, exec: noExec, log: silentLog });
    const j = job();
    const bad = Promise.reject(new Error('blob digest mismatch'));
    bad.catch(() => {});
    await expect(store.unpack({ diffId, source: [tar], verified: bad }, j)).rejects.toThrow('blob digest mismatch');
    async function* cut() {
      yield tar.subarray(0, 700);
      throw new Error('connection reset');
    }
    await expect(store.unpack({ diffId, source: cut(), verified: new Promise(() => {}) }, j)).rejects.toThrow('connection reset');
    expect(readdirSync(join(base, 'drv', 'layers'))).toEqual([]);
    expect(readdirSync(join(base, 'drv', 'l'))).toEqual([]);
    expect(j.undo.size).toBe(0);
  });

  it('sweeps interrupted unpacks and dangling links', async () => {
    const store = new LayerStore(join(base, 'drv'), { whiteouts: 'overlay', shortLinks: true, chown: false, exec: noExec, log: silentLog });
    mkdirSync(join(base, 'drv', 'layers', '.tmp-abc'), { recursive: true });
    mkdirSync(join(base, 'drv', 'l'), { recursive: true });
    const { symlinkSync } = await import('node:fs');
    symlinkSync('../layers/nothing/diff', join(base, 'drv', 'l', 'aaaaaaaaaaaa'));
    expect((await store.sweep()).sort()).toEqual(['l/aaaaaaaaaaaa', 'layers/.tmp-abc']);
    expect(readdirSync(join(base, 'drv', 'layers'))).toEqual([]);
  });
});
