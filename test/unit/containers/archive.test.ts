// docker cp's pure parts, on a temp dir playing a container's root (no root needed): path
// resolution inside the root (escapes contained, symlinks, loops, binds), the stat header,
// tar rebasing (daemon side) and the client's copy rules.
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { extract } from 'tar-stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { containerPath, extractTo, goFileMode, goTime, memberName, resolveInRoot, statHeader, statPath, tarTree, type FsRoot } from '../../../daemon/containers/archive.js';
import { prepareArchiveCopy, rebaseName, splitCpArg, splitPathDirEntry } from '../../../client/commands/container/cp.js';
import { makeTar } from '../../helpers/images.js';
import type { Exec } from '../../../drivers/sys/exec.js';

let tmp: string;
let rootfs: string;
let outside: string;
let bind: string;
let root: FsRoot;
const noExec: Exec = { run: async () => '' };
const one = (b: Buffer) => (async function* () {
  yield b;
})();

beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'berth-archive-'));
  rootfs = join(tmp, 'rootfs');
  outside = join(tmp, 'outside');
  bind = join(tmp, 'bind');
  for (const d of [rootfs, outside, bind, join(rootfs, 'etc'), join(rootfs, 'data/sub'), join(rootfs, 'tmp')]) mkdirSync(d, { recursive: true });
  writeFileSync(join(rootfs, 'etc/hosts'), 'container hosts\n');
  writeFileSync(join(outside, 'secret'), 'host secret\n');
  writeFileSync(join(rootfs, 'data/f'), 'one\n');
  chmodSync(join(rootfs, 'data/f'), 0o640);
  writeFileSync(join(rootfs, 'data/sub/g'), 'two\n');
  writeFileSync(join(bind, 'b.txt'), 'bound\n');
  symlinkSync('/etc', join(rootfs, 'x')); // absolute: the container's /etc
  symlinkSync('../../../../../../../..' + outside, join(rootfs, 'climb')); // climbs: stops at the root
  symlinkSync(outside, join(rootfs, 'abs-out')); // the host's path, read inside the root
  symlinkSync('loop2', join(rootfs, 'loop1'));
  symlinkSync('loop1', join(rootfs, 'loop2'));
  symlinkSync('hosts', join(rootfs, 'etc/rel')); // relative, in its own dir
  // a decoy at the host path inside the root: what a contained resolution finds
  mkdirSync(rootfs + outside, { recursive: true });
  writeFileSync(rootfs + outside + '/secret', 'decoy\n');
  root = { base: rootfs, mounts: [{ type: 'bind', destination: '/mnt/b', source: bind }, { type: 'tmpfs', destination: '/run/t', source: '' }] };
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('resolveInRoot: the container root is "/"', () => {
  it('plain paths, relative to the root, cleaned', () => {
    expect(resolveInRoot(root, '/etc/hosts', false)).toEqual({ path: '/etc/hosts', host: join(rootfs, 'etc/hosts') });
    expect(resolveInRoot(root, 'etc//./hosts', false).path).toBe('/etc/hosts');
    expect(resolveInRoot(root, '/', false)).toEqual({ path: '/', host: rootfs });
  });

  it('".." stops at the root', () => {
    expect(resolveInRoot(root, '/../../../etc/hosts', false).host).toBe(join(rootfs, 'etc/hosts'));
    expect(resolveInRoot(root, '../../..' + outside + '/secret', true).host).toBe(rootfs + outside + '/secret');
  });

  it('an absolute symlink resolves inside the root; a climbing one stops at the root', () => {
    expect(resolveInRoot(root, '/x/hosts', false)).toEqual({ path: '/etc/hosts', host: join(rootfs, 'etc/hosts') });
    // the host's path, read inside the root: the decoy, never the host's file
    expect(resolveInRoot(root, '/abs-out/secret', false)).toEqual({ path: outside + '/secret', host: rootfs + outside + '/secret' });
    expect(readFileSync(resolveInRoot(root, '/climb/secret', false).host, 'utf8')).toBe('decoy\n');
    const r = resolveInRoot(root, '/abs-out', true);
    expect(r.host).toBe(rootfs + outside);
  });

  it('the last component is followed only when asked', () => {
    expect(resolveInRoot(root, '/x', false).host).toBe(join(rootfs, 'x'));
    expect(resolveInRoot(root, '/x', true).host).toBe(join(rootfs, 'etc'));
    expect(resolveInRoot(root, '/etc/rel', true).path).toBe('/etc/hosts');
  });

  it('a symlink loop is ELOOP after 40 links', () => {
    expect(() => resolveInRoot(root, '/loop1', true)).toThrow(/ELOOP/);
    expect(() => resolveInRoot(root, '/loop1/x', false)).toThrow(/ELOOP/);
    expect(resolveInRoot(root, '/loop1', false).path).toBe('/loop1'); // not followed: the link itself
  });

  it('a file in the middle is ENOTDIR; a missing last component is fine', () => {
    expect(() => resolveInRoot(root, '/etc/hosts/x', false)).toThrow(/ENOTDIR/);
    expect(resolveInRoot(root, '/etc/new', false).path).toBe('/etc/new');
    expect(() => resolveInRoot(root, '/nope/new', false)).toThrow(/ENOENT/);
  });

  it('a bind destination maps to its source (its missing parents too); a tmpfs is refused', () => {
    expect(resolveInRoot(root, '/mnt/b/b.txt', false).host).toBe(join(bind, 'b.txt'));
    expect(() => resolveInRoot(root, '/run/t/x', false)).toThrow(/tmpfs mount \/run\/t/);
  });
});

describe('stat', () => {
  it('Go FileMode bits and RFC 3339 nano times', () => {
    expect(goFileMode(0o040755)).toBe(2 ** 31 + 0o755);
    expect(goFileMode(0o120777)).toBe(2 ** 27 + 0o777);
    expect(goFileMode(0o104755)).toBe(2 ** 23 + 0o755);
    expect(goFileMode(0o100644)).toBe(0o644);
    expect(goTime(1_700_000_000_123_400_000n)).toBe('2023-11-14T22:13:20.1234Z');
    expect(goTime(1_700_000_000_000_000_000n)).toBe('2023-11-14T22:13:20Z');
  });

  it('names as dockerd: base name, "." for a trailing /., "/" for the root; a symlink has its full resolution', () => {
    expect(containerPath('/etc/').name).toBe('etc');
    expect(containerPath('/etc/.').name).toBe('.');
    expect(containerPath('/').name).toBe('/');
    expect(() => containerPath('')).toThrow(/path cannot be empty/);
    const s = statPath(root, '/x').stat;
    expect(s).toMatchObject({ name: 'x', linkTarget: '/etc' });
    expect(s.mode).toBe(2 ** 27 + 0o777);
    const f = statPath(root, '/data/f');
    expect(f.stat).toMatchObject({ name: 'f', size: 4, mode: 0o640, linkTarget: '' });
    expect(JSON.parse(Buffer.from(statHeader(f.stat), 'base64').toString())).toEqual({ ...f.stat });
    expect(Object.keys(JSON.parse(Buffer.from(statHeader(f.stat), 'base64').toString()))).toEqual(['name', 'size', 'mode', 'mtime', 'linkTarget']);
    expect(statPath(root, '/x/').isDir).toBe(true); // a trailing slash follows the link
    expect(() => statPath(root, '/missing')).toThrow(/ENOENT/);
  });
});

async function members(tar: NodeJS.ReadableStream | AsyncIterable<Uint8Array>): Promise<{ name: string; type: string; linkname: string | null; body: string }[]> {
  const ex = extract();
  const out: { name: string; type: string; linkname: string | null; body: string }[] = [];
  const feed = (async () => {
    for await (const c of tar as AsyncIterable<Uint8Array>) ex.write(c as Buffer);
    ex.end(undefined);
  })();
  for await (const e of ex) {
    const chunks: Buffer[] = [];
    for await (const c of e) chunks.push(c as Buffer);
    out.push({ name: e.header.name, type: e.header.type ?? '', linkname: e.header.linkname ?? null, body: Buffer.concat(chunks).toString() });
  }
  await feed;
  return out;
}

describe('tar out, rebased as dockerd', () => {
  it('a file is one member named as asked; a dir is name/…; "." gives ./…; symlinks stay symlinks', async () => {
    expect(memberName('hosts', '', false)).toBe('hosts');
    expect(memberName('data', 'sub', true)).toBe('data/sub/');
    expect(memberName('/', 'etc', true)).toBe('//etc/');
    expect(await members(tarTree(join(rootfs, 'etc/hosts'), 'hosts'))).toEqual([{ name: 'hosts', type: 'file', linkname: null, body: 'container hosts\n' }]);
    const dir = await members(tarTree(join(rootfs, 'data'), 'data'));
    expect(dir.map((m) => m.name)).toEqual(['data/', 'data/f', 'data/sub/', 'data/sub/g']);
    const dot = await members(tarTree(join(rootfs, 'data'), '.'));
    expect(dot.map((m) => m.name)).toEqual(['./', './f', './sub/', './sub/g']);
    expect(await members(tarTree(join(rootfs, 'x'), 'x'))).toEqual([{ name: 'x', type: 'symlink', linkname: '/etc', body: '' }]);
  });

  it("rebase '' (export): the top's contents named from it, without an entry of its own", async () => {
    expect(memberName('', 'etc', true)).toBe('etc/');
    expect(memberName('', 'etc/hosts', false)).toBe('etc/hosts');
    const all = await members(tarTree(join(rootfs, 'data'), ''));
    expect(all.map((m) => m.name)).toEqual(['f', 'sub/', 'sub/g']);
  });
});

describe('extract in', () => {
  it('".." and writing through a symlink are refused; nothing lands outside', async () => {
    const dst = join(tmp, 'dst');
    mkdirSync(dst);
    const up = await makeTar([{ name: '../escaped', content: 'x' }]);
    await expect(extractTo(dst, one(up), { noOverwriteDirNonDir: true, chown: false, shown: '/dst', exec: noExec })).rejects.toThrow(/\.\./);
    const through = await makeTar([
      { name: 'esc', type: 'symlink', linkname: outside },
      { name: 'esc/evil', content: 'x' },
    ]);
    await expect(extractTo(dst, one(through), { noOverwriteDirNonDir: true, chown: false, shown: '/dst', exec: noExec })).rejects.toThrow(/written through/);
    expect(readdirSync(outside)).toEqual(['secret']);
    expect(readdirSync(tmp)).not.toContain('escaped');
  });

  it('noOverwriteDirNonDir: a file never replaces a directory; whiteout names are ordinary files', async () => {
    const dst = join(tmp, 'dst2');
    mkdirSync(join(dst, 'd'), { recursive: true });
    const bad = await makeTar([{ name: 'd', content: 'x' }]);
    await expect(extractTo(dst, one(bad), { noOverwriteDirNonDir: true, chown: false, shown: '/dst2', exec: noExec })).rejects.toThrow(/cannot overwrite directory "\/dst2\/d"/);
    const wh = await makeTar([{ name: '.wh.keep', content: 'w' }, { name: 'd/n', content: 'n' }]);
    await extractTo(dst, one(wh), { noOverwriteDirNonDir: true, chown: false, shown: '/dst2', exec: noExec });
    expect(readFileSync(join(dst, '.wh.keep'), 'utf8')).toBe('w');
    expect(readFileSync(join(dst, 'd/n'), 'utf8')).toBe('n');
  });
});

describe('the client: docker cp rules', () => {
  it('splits CONTAINER:PATH unless the argument is a local path', () => {
    expect(splitCpArg('c1:/etc/hosts')).toEqual({ container: 'c1', path: '/etc/hosts' });
    expect(splitCpArg('/abs:x')).toEqual({ container: '', path: '/abs:x' });
    expect(splitCpArg('./f:x')).toEqual({ container: '', path: './f:x' });
    expect(splitCpArg('file')).toEqual({ container: '', path: 'file' });
  });

  it('SplitPathDirEntry, GetRebaseName and PrepareArchiveCopy', () => {
    expect(splitPathDirEntry('/a/b/')).toEqual(['/a', 'b']);
    expect(splitPathDirEntry('/a/b/.')).toEqual(['/a/b', '.']);
    expect(splitPathDirEntry('/')).toEqual(['/', '/']);
    expect(rebaseName('/data/link', '/etc')).toEqual({ path: '/etc', rebase: 'link' });
    expect(rebaseName('/data/link/.', '/etc')).toEqual({ path: '/etc/.', rebase: '' });
    const file = { path: '/etc/hosts', exists: true, isDir: false };
    const dir = { path: '/data', exists: true, isDir: true };
    expect(prepareArchiveCopy(file, { path: '/out', exists: true, isDir: true })).toEqual({ dir: '/out' });
    expect(prepareArchiveCopy(file, { path: '/out/h2', exists: false, isDir: false })).toEqual({ dir: '/out', rebase: ['hosts', 'h2'] });
    expect(prepareArchiveCopy(dir, { path: '/out/copy', exists: false, isDir: false })).toEqual({ dir: '/out', rebase: ['data', 'copy'] });
    expect(() => prepareArchiveCopy(dir, { path: '/out/f', exists: true, isDir: false })).toThrow('cannot copy directory');
    expect(() => prepareArchiveCopy(file, { path: '/out/new/', exists: false, isDir: false })).toThrow('no such directory');
  });
});
