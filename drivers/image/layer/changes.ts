// A container's filesystem changes (docker diff) and their layer tar (docker commit).
//   overlay: the container's upper dir against the image's layer dirs (top first; overlay
//   whiteouts: a 0/0 char device deletes, trusted.overlay.opaque=y hides what is below a dir).
//   vfs: the container's rootfs copy against the image's layers applied in memory (whiteouts kept
//   as .wh. files in the layer dirs), compared as dockerd's naive differ does.
// The walks read the filesystem through an FsView (real: lstat/readdir; tests: a fake tree), so
// they are pure otherwise. The kinds are dockerd's: 0 Modified (C), 1 Added (A), 2 Deleted (D).
// Like dockerd: the list is sorted by path, and a change's parent directories are listed as C.
// What dockerd's init layer hides is left out: the mountpoints berth's runtime makes in the rootfs
// (/etc/hosts, /etc/hostname, /etc/resolv.conf, and /dev, /proc, /sys when the image lacked them).
import { lstatSync, readdirSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { Readable } from 'node:stream';
import { extract, pack } from 'tar-stream';
import type { Change } from '../../handlers.js';
import type { Exec } from '../../sys/exec.js';
import { OPAQUE_MARKER, WHITEOUT_PREFIX, whiteoutOf } from './paths.js';
import { tarWriter, type PackHeader } from './pack.js';

type Headers = PackHeader;

export type FileType = 'dir' | 'file' | 'symlink' | 'char' | 'block' | 'fifo' | 'socket';

export interface Info {
  type: FileType;
  /** Permission bits (& 0o7777). */
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtimeNs: bigint;
  rdev: number;
  /** For hardlinks in a tar: "dev:ino" when nlink > 1. */
  linkKey?: string;
}

/** How the walks see a filesystem: absolute host paths. */
export interface FsView {
  lstat(path: string): Info | undefined;
  /** Names in a directory ([] when it is not one). */
  readdir(path: string): string[];
}

export const MODIFIED = 0;
export const ADDED = 1;
export const DELETED = 2;

/** Mountpoints berth's runtime creates in a rootfs; dockerd has them in its init layer, so its diff
 *  never lists them. */
export const EXCLUDED = new Set(['/etc/hosts', '/etc/hostname', '/etc/resolv.conf', '/dev', '/proc', '/sys']);

function typeOf(s: { isDirectory(): boolean; isFile(): boolean; isSymbolicLink(): boolean; isCharacterDevice(): boolean; isBlockDevice(): boolean; isFIFO(): boolean }): FileType {
  if (s.isDirectory()) return 'dir';
  if (s.isFile()) return 'file';
  if (s.isSymbolicLink()) return 'symlink';
  if (s.isCharacterDevice()) return 'char';
  if (s.isBlockDevice()) return 'block';
  if (s.isFIFO()) return 'fifo';
  return 'socket';
}

export const realFs: FsView = {
  lstat(path) {
    let s;
    try {
      s = lstatSync(path, { bigint: true });
    } catch {
      return undefined;
    }
    const type = typeOf(s);
    return {
      type,
      mode: Number(s.mode) & 0o7777,
      uid: Number(s.uid),
      gid: Number(s.gid),
      size: Number(s.size),
      mtimeNs: s.mtimeNs,
      rdev: Number(s.rdev),
      ...(type !== 'dir' && s.nlink > 1n ? { linkKey: `${s.dev}:${s.ino}` } : {}),
    };
  },
  readdir(path) {
    try {
      return readdirSync(path);
    } catch {
      return [];
    }
  },
};

const join = (root: string, p: string) => (p === '/' ? root : root + p);
const child = (p: string, name: string) => (p === '/' ? `/${name}` : `${p}/${name}`);
const parentOf = (p: string) => p.slice(0, p.lastIndexOf('/')) || '/';
const byPath = (a: Change, b: Change) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0);

function ancestors(p: string): string[] {
  const out: string[] = [];
  for (let q = parentOf(p); q !== '/'; q = parentOf(q)) out.push(q);
  return out;
}

/** Drop the excluded paths, list every parent of a change as C (unless listed), sort by path. */
export function finishChanges(raw: Change[]): Change[] {
  const byP = new Map<string, Change>();
  for (const c of raw) if (!EXCLUDED.has(c.path)) byP.set(c.path, c);
  for (const c of [...byP.values()]) for (const a of ancestors(c.path)) if (!byP.has(a)) byP.set(a, { path: a, kind: MODIFIED });
  return [...byP.values()].sort(byPath);
}

// ---- overlay ---------------------------------------------------------------------------------

const isWhiteout = (i: Info | undefined) => i?.type === 'char' && i.rdev === 0;

/** What the image's layers (overlay format, top first) have at `p`: the top-most entry, or
 *  undefined when none has it or a higher one deletes it (a whiteout of it or of a parent, or a
 *  non-directory at a parent). Opaque dirs inside the lower layers are not looked at (as dockerd). */
export function lowerInfo(fs: FsView, lowers: readonly string[], p: string): Info | undefined {
  for (const l of lowers) {
    const i = fs.lstat(join(l, p));
    if (i) return isWhiteout(i) ? undefined : i;
    for (const a of ancestors(p)) {
      const ai = fs.lstat(join(l, a));
      if (!ai) continue;
      if (ai.type !== 'dir') return undefined; // a whiteout or a file hides p
      break;
    }
  }
  return undefined;
}

/** The upper dir's entries (container paths, walk order) with their info. */
function walkTree(fs: FsView, root: string): [string, Info][] {
  const out: [string, Info][] = [];
  const walk = (p: string) => {
    for (const name of fs.readdir(join(root, p)).sort()) {
      const q = child(p, name);
      const i = fs.lstat(join(root, q));
      if (!i) continue;
      out.push([q, i]);
      if (i.type === 'dir') walk(q);
    }
  };
  walk('/');
  return out;
}

/** Directories of the upper dir that the layers below have too: the ones whose opaque xattr
 *  matters (readOpaque reads just those). */
export function upperDirsBelow(fs: FsView, upper: string, lowers: readonly string[]): string[] {
  return walkTree(fs, upper)
    .filter(([p, i]) => i.type === 'dir' && lowerInfo(fs, lowers, p)?.type === 'dir')
    .map(([p]) => p);
}

/** overlay: the changes the upper dir holds. `opaque`: upper dirs with trusted.overlay.opaque=y. */
export function overlayChanges(fs: FsView, upper: string, lowers: readonly string[], opaque: ReadonlySet<string>): Change[] {
  const raw: Change[] = [];
  const inUpper = new Set<string>();
  for (const [p, i] of walkTree(fs, upper)) {
    inUpper.add(p);
    if (isWhiteout(i)) {
      raw.push({ path: p, kind: DELETED });
      continue;
    }
    const below = lowerInfo(fs, lowers, p);
    if (!below) raw.push({ path: p, kind: ADDED });
    else if (i.type !== 'dir' || below.type !== 'dir') raw.push({ path: p, kind: MODIFIED });
    else if (opaque.has(p) || i.mode !== below.mode || i.uid !== below.uid || i.gid !== below.gid) raw.push({ path: p, kind: MODIFIED });
    // (a directory copied up only because something below it changed is listed as their parent)
  }
  // an opaque dir hides everything the layers had in it: those are deleted
  for (const p of opaque) {
    const names = new Set<string>();
    for (const l of lowers) for (const n of fs.readdir(join(l, p))) names.add(n);
    for (const n of names) {
      const q = child(p, n);
      if (!inUpper.has(q) && lowerInfo(fs, lowers, q)) raw.push({ path: q, kind: DELETED });
    }
  }
  return finishChanges(raw);
}

// ---- vfs -------------------------------------------------------------------------------------

export interface Indexed {
  host: string;
  info: Info;
}

/** The image's layers (bottom first, whiteouts kept as .wh. files) applied in memory: container
 *  path → the file that the image's rootfs has there. */
export function layeredIndex(fs: FsView, layers: readonly string[]): Map<string, Indexed> {
  const index = new Map<string, Indexed>();
  const dropUnder = (p: string, self: boolean) => {
    const pre = p === '/' ? '/' : `${p}/`;
    for (const k of [...index.keys()]) if ((self && k === p) || k.startsWith(pre)) index.delete(k);
  };
  for (const l of layers) {
    const entries = walkTree(fs, l);
    for (const [p] of entries) {
      const w = whiteoutOf(p.slice(1));
      if (w?.kind === 'opaque') dropUnder(`/${w.dir}`, false);
      else if (w?.kind === 'whiteout') dropUnder(`/${w.path}`, true);
    }
    for (const [p, info] of entries) {
      if (whiteoutOf(p.slice(1))) continue;
      if (info.type !== 'dir') dropUnder(p, false);
      index.set(p, { host: join(l, p), info });
    }
  }
  return index;
}

/** dockerd's naive differ: type, mode, owner or device differ, or (not for dirs) mtime or size. */
export function differs(a: Info, b: Info): boolean {
  if (a.type !== b.type || a.mode !== b.mode || a.uid !== b.uid || a.gid !== b.gid || a.rdev !== b.rdev) return true;
  return a.type !== 'dir' && (a.mtimeNs !== b.mtimeNs || a.size !== b.size);
}

/** vfs: the rootfs copy against the image's layers applied. */
export function vfsChanges(fs: FsView, rootfs: string, layers: readonly string[]): Change[] {
  const index = layeredIndex(fs, layers);
  const raw: Change[] = [];
  const present = new Set<string>();
  const sameDirs = new Set<string>(['/']);
  for (const [p, i] of walkTree(fs, rootfs)) {
    present.add(p);
    const old = index.get(p);
    if (!old) raw.push({ path: p, kind: ADDED });
    else if (differs(old.info, i)) raw.push({ path: p, kind: MODIFIED });
    if (i.type === 'dir' && old?.info.type === 'dir') sameDirs.add(p);
  }
  for (const p of index.keys()) if (!present.has(p) && sameDirs.has(parentOf(p))) raw.push({ path: p, kind: DELETED });
  return finishChanges(raw);
}

// ---- the opaque xattr ------------------------------------------------------------------------

/** The dirs (container paths, under `root`) that carry trusted.overlay.opaque=y. Node cannot read
 *  xattrs and getfattr is not everywhere: one GNU tar run writes just these dirs' headers (with
 *  their trusted.overlay xattrs as PAX records) to `tmpFile`, read back here. */
export async function readOpaque(exec: Exec, root: string, dirs: readonly string[], tmpFile: string): Promise<Set<string>> {
  const out = new Set<string>();
  if (dirs.length === 0) return out;
  try {
    await exec.run(
      ['tar', '-c', '-f', tmpFile, '--xattrs', '--xattrs-include=trusted.overlay.opaque', '--no-recursion', '-C', root, '--null', '-T', '-'],
      { input: dirs.map((d) => `.${d}`).join('\0') + '\0' },
    );
    const buf = readFileSync(tmpFile);
    const ex = extract();
    const done = (async () => {
      for await (const e of ex) {
        if ((e.header.pax as Record<string, string> | undefined)?.['SCHILY.xattr.trusted.overlay.opaque'] === 'y') out.add(`/${e.header.name.replace(/^\.?\/*/, '').replace(/\/+$/, '')}`);
        e.resume();
      }
    })();
    ex.end(buf);
    await done;
  } finally {
    rmSync(tmpFile, { force: true });
  }
  return out;
}

// ---- the layer tar ---------------------------------------------------------------------------

/** The changes as a layer tar: A/C entries from `source` (the upper dir, or the rootfs), D as
 *  `.wh.name`, an `opaque` dir followed by its `.wh..wh..opq`. Parents come before children (the
 *  list is sorted by path). Hardlinked files after the first become link entries. */
export function changesTar(changes: readonly Change[], source: string, opaque: ReadonlySet<string> = new Set(), fs: FsView = realFs, now = new Date()): Readable {
  const p = pack();
  const { add, addFile } = tarWriter(p);
  const links = new Map<string, string>();
  (async () => {
    for (const c of changes) {
      const name = c.path.slice(1);
      if (c.kind === DELETED) {
        const dir = parentOf(c.path);
        const base = c.path.slice(c.path.lastIndexOf('/') + 1);
        await add({ name: `${dir === '/' ? '' : `${dir.slice(1)}/`}${WHITEOUT_PREFIX}${base}`, type: 'file', size: 0, mode: 0o600, mtime: now });
        continue;
      }
      const host = join(source, c.path);
      const i = fs.lstat(host);
      if (!i || i.type === 'socket' || isWhiteout(i)) continue;
      const h: Headers = { name, mode: i.mode, uid: i.uid, gid: i.gid, mtime: new Date(Number(i.mtimeNs / 1_000_000n)) };
      if (i.type === 'dir') {
        await add({ ...h, name: `${name}/`, type: 'directory' });
        if (opaque.has(c.path)) await add({ name: `${name}/${OPAQUE_MARKER}`, type: 'file', size: 0, mode: 0o600, mtime: now });
      } else if (i.linkKey && links.has(i.linkKey)) await add({ ...h, type: 'link', linkname: links.get(i.linkKey)! });
      else if (i.type === 'file') {
        if (i.linkKey) links.set(i.linkKey, name);
        await addFile({ ...h, type: 'file' }, host);
      } else if (i.type === 'symlink') await add({ ...h, type: 'symlink', linkname: readlinkSync(host) });
      else if (i.type === 'fifo') await add({ ...h, type: 'fifo' });
      else {
        const major = Math.floor(i.rdev / 256) & 0xfff;
        const minor = (i.rdev & 0xff) | (Math.floor(i.rdev / 4096) & 0xfff00);
        await add({ ...h, type: i.type === 'char' ? 'character-device' : 'block-device', devmajor: major, devminor: minor });
      }
    }
    p.finalize();
  })().catch((e: unknown) => p.destroy(e as Error));
  return p as unknown as Readable;
}
