// docker cp: the archive API (HEAD|GET|PUT /containers/{id}/archive) as dockerd 28 answers it.
// THE security-critical part is resolveInRoot: a container path and every symlink met on the way are
// resolved as if `base` were "/" (".." stops at the root, absolute targets restart at the root, 40
// links at most), one component at a time with lstat, so the kernel never follows a symlink of the
// container's. The result is a host path without symlinks in it; files are then opened O_NOFOLLOW,
// directories walked with lstat, and archives extracted by the layer unpacker (which refuses ".."
// and writing through symlinks). A running container is read through /proc/<pid>/root (its mounts
// as it sees them, tmpfs included); a stopped one through its rootfs mounted for the copy, with its
// binds mapped here (mounts: a path under a bind destination is the bind source on the host).
// Known limit: a running container's process could swap a checked directory for a symlink between
// the check and the use (node has no openat2 RESOLVE_IN_ROOT); reads then still see only the
// container's files or the host's that the kernel lets root see — see README.md.
import { constants, lstatSync, readdirSync, readlinkSync, statSync, type BigIntStats, type Stats } from 'node:fs';
import { once } from 'node:events';
import { Readable } from 'node:stream';
import { extract, pack, type Header } from 'tar-stream';
import type { Daemon } from '../daemon.js';
import { forbidden, invalidParameter, notFound } from '../../drivers/errors.js';
import { realExec, type Exec } from '../../drivers/sys/exec.js';
import { cleanMemberPath, parentsOf } from '../../drivers/image/layer/paths.js';
import { unpackLayer } from '../../drivers/image/layer/unpack.js';
import { tarWriter, type PackHeader } from '../../drivers/image/layer/pack.js';
import { decompress, archiveError } from '../../drivers/image/layer/compression.js';
import type { MountPoint } from './mounts.js';
import type { ContainerRecord } from './types.js';

type Headers = PackHeader;

/** Linux's limit on symlinks followed in one resolution (ELOOP after it). */
export const MAX_SYMLINKS = 40;

/** A mount seen at `destination` in the container (stopped containers: their binds and tmpfs). */
export interface RootMount {
  type: 'bind' | 'tmpfs';
  destination: string;
  source: string;
}

/** A filesystem as a container sees it: `base` is its "/" on the host. */
export interface FsRoot {
  base: string;
  mounts: readonly RootMount[];
}

export interface Resolved {
  /** The clean absolute path in the container after resolution. */
  path: string;
  /** Where that is on the host. */
  host: string;
}

/** Docker's ContainerPathStat (the X-Docker-Container-Path-Stat header, base64 JSON). */
export interface PathStat {
  name: string;
  size: number;
  /** Go's os.FileMode bits. */
  mode: number;
  /** RFC 3339 with nanoseconds, as Go marshals a time.Time. */
  mtime: string;
  linkTarget: string;
}

function fsError(code: 'ENOENT' | 'ENOTDIR' | 'ELOOP', path: string): NodeJS.ErrnoException {
  const text = { ENOENT: 'no such file or directory', ENOTDIR: 'not a directory', ELOOP: 'too many levels of symbolic links' }[code];
  return Object.assign(new Error(`${code}: ${text}, ${path}`), { code, path });
}

/** The mount a container path is under (the longest destination that contains it). */
export function mountOf<M extends { destination: string }>(mounts: readonly M[], path: string): M | undefined {
  let best: M | undefined;
  for (const m of mounts) {
    const d = m.destination;
    if ((path === d || path.startsWith(d === '/' ? '/' : d + '/')) && (!best || d.length > best.destination.length)) best = m;
  }
  return best;
}

function hostOf(root: FsRoot, parts: readonly string[]): { host: string; mountPoint: boolean } {
  const path = '/' + parts.join('/');
  const m = mountOf(root.mounts, path);
  if (!m) return { host: parts.length ? `${root.base}${path}` : root.base, mountPoint: false };
  if (m.type === 'tmpfs') throw invalidParameter(`berth cannot copy under the tmpfs mount ${m.destination} of a container that is not running`);
  return { host: m.source + path.slice(m.destination === '/' ? 0 : m.destination.length), mountPoint: path === m.destination };
}

/**
 * Resolve `path` (absolute or relative to "/") inside `root`: every symlink on the way is read and
 * followed inside the root; the last component too when `followLast`. A missing last component is
 * fine (the caller's lstat tells); a missing or non-directory one before it is ENOENT/ENOTDIR.
 */
export function resolveInRoot(root: FsRoot, path: string, followLast: boolean): Resolved {
  if (path.includes('\0')) throw invalidParameter('invalid path: NUL byte');
  let done: string[] = [];
  let todo = path.split('/');
  let links = 0;
  while (todo.length) {
    const part = todo.shift()!;
    if (part === '' || part === '.') continue;
    if (part === '..') {
      done.pop(); // stops at the root
      continue;
    }
    const cand = [...done, part];
    const last = !todo.some((p) => p !== '' && p !== '.');
    const { host, mountPoint } = hostOf(root, cand);
    let st: Stats;
    try {
      // a bind's source is the host's own path (runc resolved it on the host too)
      st = mountPoint ? statSync(host) : lstatSync(host);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if ((code === 'ENOENT' || code === 'ENOTDIR') && last) {
        done = cand;
        break;
      }
      // a mount's missing parents in a stopped container's rootfs: runc makes them at start
      const under = '/' + cand.join('/') + '/';
      if (code === 'ENOENT' && root.mounts.some((m) => m.destination.startsWith(under))) {
        done = cand;
        continue;
      }
      if (code === 'ENOENT' || code === 'ENOTDIR') throw fsError(code, '/' + cand.join('/'));
      throw e;
    }
    if (st.isSymbolicLink() && (!last || followLast)) {
      if (++links > MAX_SYMLINKS) throw fsError('ELOOP', path);
      const target = readlinkSync(host);
      if (target.startsWith('/')) done = [];
      todo = [...target.split('/'), ...todo];
      continue;
    }
    if (!last && !st.isDirectory()) throw fsError('ENOTDIR', '/' + cand.join('/'));
    done = cand;
  }
  return { path: '/' + done.join('/'), host: hostOf(root, done).host };
}

/**
 * A request's path as dockerd reads it: relative to "/", cleaned, with a trailing "/" or "/."
 * kept in meaning (the last component is then followed); `name` is Go's filepath.Base of it.
 */
export function containerPath(p: string): { abs: string; followLast: boolean; name: string } {
  if (p === '') throw invalidParameter('bad parameter: path cannot be empty');
  const parts: string[] = [];
  for (const s of p.split('/')) {
    if (s === '' || s === '.') continue;
    if (s === '..') parts.pop();
    else parts.push(s);
  }
  const abs = '/' + parts.join('/');
  const dot = p === '.' || p.endsWith('/.');
  const followLast = dot || p.endsWith('/');
  const name = dot ? '.' : (parts.at(-1) ?? '/');
  return { abs, followLast, name };
}

/** Go's os.FileMode of a stat's st_mode. */
export function goFileMode(mode: number): number {
  const S = constants;
  let m = mode & 0o777;
  const type = mode & S.S_IFMT;
  if (type === S.S_IFDIR) m += 2 ** 31;
  else if (type === S.S_IFLNK) m += 2 ** 27;
  else if (type === S.S_IFIFO) m += 2 ** 25;
  else if (type === S.S_IFSOCK) m += 2 ** 24;
  else if (type === S.S_IFBLK) m += 2 ** 26;
  else if (type === S.S_IFCHR) m += 2 ** 26 + 2 ** 21;
  if (mode & 0o4000) m += 2 ** 23;
  if (mode & 0o2000) m += 2 ** 22;
  if (mode & 0o1000) m += 2 ** 20;
  return m;
}

/** A time in nanoseconds since the epoch as Go's RFC3339Nano (UTC, trailing zeros trimmed). */
export function goTime(ns: bigint): string {
  const sec = ns / 1_000_000_000n;
  const frac = ns % 1_000_000_000n;
  const base = new Date(Number(sec) * 1000).toISOString().slice(0, 19);
  const f = frac === 0n ? '' : '.' + frac.toString().padStart(9, '0').replace(/0+$/, '');
  return `${base}${f}Z`;
}

export function statHeader(s: PathStat): string {
  return Buffer.from(JSON.stringify({ name: s.name, size: s.size, mode: s.mode, mtime: s.mtime, linkTarget: s.linkTarget })).toString('base64');
}

/** dockerd's StatPath: lstat of the path (its directory part resolved); a symlink's full resolution as linkTarget. */
export function statPath(root: FsRoot, path: string): { stat: PathStat; resolved: Resolved; isDir: boolean } {
  const p = containerPath(path);
  const resolved = resolveInRoot(root, p.abs, p.followLast);
  const st: BigIntStats = lstatSync(resolved.host, { bigint: true });
  const mode = Number(st.mode);
  const linkTarget = st.isSymbolicLink() ? resolveInRoot(root, p.abs, true).path : '';
  return {
    stat: { name: p.name, size: Number(st.size), mode: goFileMode(mode), mtime: goTime(st.mtimeNs), linkTarget },
    resolved,
    isDir: st.isDirectory(),
  };
}

/** The tar name of a member: the top is `rebase`; a child at `rel` below it is rebase/rel
 *  (dockerd's rebase of "." or the base name; "/" gives "//rel", as dockerd's). */
export function memberName(rebase: string, rel: string, dir: boolean): string {
  const n = rebase === '' ? rel : rel === '' ? rebase : `${rebase}/${rel}`;
  return dir && !n.endsWith('/') ? n + '/' : n;
}

/**
 * A tar of the host path `top` (lstat only: symlinks are members, never followed; files opened
 * O_NOFOLLOW), its members named from `rebase` (memberName). Streamed with back-pressure.
 */
export function tarTree(top: string, rebase: string): Readable {
  const p = pack();
  const links = new Map<string, string>(); // dev:ino → first member name (hardlinks)
  const { add, addFile } = tarWriter(p);
  const walk = async (host: string, rel: string): Promise<void> => {
    const st = lstatSync(host);
    const h: Headers = { name: '', mode: st.mode & 0o7777, uid: st.uid, gid: st.gid, mtime: st.mtime };
    if (st.isDirectory()) {
      // rebase '' (export): the members are the top's contents, named from it, without an entry of its own
      if (rebase !== '' || rel !== '') await add({ ...h, name: memberName(rebase, rel, true), type: 'directory' });
      for (const child of readdirSync(host).sort()) await walk(`${host}/${child}`, rel === '' ? child : `${rel}/${child}`);
      return;
    }
    const name = memberName(rebase, rel, false);
    if (st.isSymbolicLink()) return add({ ...h, name, type: 'symlink', linkname: readlinkSync(host) });
    if (st.isFIFO()) return add({ ...h, name, type: 'fifo' });
    if (st.isCharacterDevice() || st.isBlockDevice()) {
      const major = Math.floor(st.rdev / 256) & 0xfff;
      const minor = (st.rdev & 0xff) | (Math.floor(st.rdev / 4096) & 0xfff00);
      return add({ ...h, name, type: st.isCharacterDevice() ? 'character-device' : 'block-device', devmajor: major, devminor: minor });
    }
    if (!st.isFile()) return; // sockets: not archived (as Go's archive/tar)
    if (st.nlink > 1) {
      const key = `${st.dev}:${st.ino}`;
      const first = links.get(key);
      if (first !== undefined) return add({ ...h, name, type: 'link', linkname: first });
      links.set(key, name);
    }
    return addFile({ ...h, name, type: 'file' }, host);
  };
  walk(top, '').then(
    () => p.finalize(),
    (e: unknown) => p.destroy(e as Error),
  );
  return p as unknown as Readable;
}

/**
 * Extract the tar (plain or compressed) read from `body` into the host directory `dir` with the
 * layer unpacker; whiteout names are ordinary names. With `noOverwriteDirNonDir` a member may not
 * replace a directory with a non-directory or the reverse (what docker cp always asks).
 * `chown`: keep the members' uid/gid (copyUIDGID), else files belong to root. `shown` names `dir` in errors.
 */
export async function extractTo(dir: string, body: AsyncIterable<Uint8Array>, opts: { noOverwriteDirNonDir: boolean; chown: boolean; shown: string; exec: Exec }): Promise<void> {
  const { stream } = await decompress(body);
  const src = guardMembers(stream, dir, opts.shown, opts.noOverwriteDirNonDir);
  try {
    await unpackLayer(src, dir, { whiteouts: 'keep', chown: opts.chown, exec: opts.exec, hash: false });
  } catch (e) {
    throw archiveError(e);
  }
}

/**
 * Re-stream a tar, refusing ahead of the unpacker what it would refuse mid-stream (a ".." or an
 * absolute name, a member written through a symlink or a non-directory, on disk or made earlier in
 * this tar) and, with `noOverwriteDirNonDir`, a member replacing a directory by a non-directory or
 * the reverse. (The unpacker stays the authority; failing here first ends the upload cleanly.)
 */
function guardMembers(src: AsyncIterable<Uint8Array>, dir: string, shown: string, noOverwriteDirNonDir: boolean): AsyncGenerator<Uint8Array> {
  const made = new Map<string, boolean>(); // rel → is a directory, for members of this tar
  const isDirNow = (rel: string): boolean | undefined => {
    const m = made.get(rel);
    if (m !== undefined) return m;
    try {
      return lstatSync(`${dir}/${rel}`).isDirectory();
    } catch {
      return undefined;
    }
  };
  const where = (rel: string) => `${shown.replace(/\/$/, '')}/${rel}`;
  return mapTar(src, (h) => {
    const rel = cleanMemberPath(h.name);
    if (rel === '') return h;
    for (const p of parentsOf(rel)) {
      if (isDirNow(p) === false) throw invalidParameter(`tar member ${JSON.stringify(h.name)} would be written through the non-directory "${where(p)}": refusing to write outside the directory`);
    }
    const isDir = h.type === 'directory';
    if (noOverwriteDirNonDir) {
      const now = isDirNow(rel);
      if (now === true && !isDir) throw invalidParameter(`cannot overwrite directory "${where(rel)}" with non-directory "${h.name}"`);
      if (now === false && isDir) throw invalidParameter(`cannot overwrite non-directory "${where(rel)}" with directory "${h.name}"`);
    }
    made.set(rel, isDir);
    return h;
  });
}

/** A tar re-streamed with each header passed through `fn` (which may throw to stop it). */
export async function* mapTar(src: AsyncIterable<Uint8Array>, fn: (h: Header) => Header): AsyncGenerator<Uint8Array> {
  const ex = extract();
  const out = pack();
  const feeding = (async () => {
    for await (const c of src) if (!ex.write(c as Buffer)) await once(ex as unknown as NodeJS.EventEmitter, 'drain');
    ex.end(undefined);
  })().catch((e: unknown) => ex.destroy(e as Error));
  const repack = (async () => {
    for await (const entry of ex) {
      const h = fn(entry.header);
      await new Promise<void>((resolve, reject) => {
        const sink = out.entry(h, (err) => (err ? reject(err) : resolve()));
        (async () => {
          for await (const c of entry) if (!sink.write(c)) await once(sink as unknown as NodeJS.EventEmitter, 'drain');
          sink.end(undefined);
        })().catch(reject);
      });
    }
    await feeding;
    out.finalize();
  })().catch((e: unknown) => {
    ex.destroy();
    out.destroy(e as Error);
  });
  try {
    for await (const c of out) yield c as Uint8Array;
  } finally {
    await repack;
  }
}

/** docker's RebaseArchiveEntries: the first `oldBase` in each name (and hardlink target) becomes `newBase`. */
export function rebaseTar(src: AsyncIterable<Uint8Array>, oldBase: string, newBase: string): AsyncGenerator<Uint8Array> {
  const old = oldBase === '/' ? '' : oldBase;
  return mapTar(src, (h) => {
    const r = { ...h, name: h.name.replace(old, () => newBase) };
    if (h.type === 'link' && h.linkname) r.linkname = h.linkname.replace(old, () => newBase);
    return r;
  });
}

// ---- the container side ------------------------------------------------------------------------

/** The mounts of a stopped container as the resolution maps them. */
export function rootMounts(mounts: readonly MountPoint[] | undefined): RootMount[] {
  return (mounts ?? []).map((m) => ({ type: m.type, destination: m.destination, source: m.source }));
}

/** The docker cp use cases over a container's filesystem (ContainerService.withFilesystem). */
export class ContainerArchive {
  readonly #d: Daemon;
  constructor(d: Daemon) {
    this.#d = d;
  }

  #root(c: ContainerRecord, fs: { base: string; running: boolean }): FsRoot {
    return { base: fs.base, mounts: fs.running ? [] : rootMounts(c.mounts) };
  }

  #notFound(e: unknown, path: string, ref: string): unknown {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return notFound(`Could not find the file ${path} in container ${ref}`);
    if (code === 'ELOOP') return invalidParameter(`${path}: too many levels of symbolic links`);
    return e;
  }

  #event(c: ContainerRecord, action: string, path: string): void {
    this.#d.events.publish('container', action, c.id, { name: c.name, image: c.image, path, ...c.config.Labels });
  }

  /** HEAD: the stat of `path` in the container. */
  async stat(ref: string, path: string): Promise<PathStat> {
    containerPath(path);
    return this.#d.containers.withFilesystem(ref, async (c, fs) => {
      try {
        return statPath(this.#root(c, fs), path).stat;
      } catch (e) {
        throw this.#notFound(e, path, ref);
      }
    });
  }

  /** GET: `send` gets the stat and the tar stream; the filesystem stays as it is until `send` settles. */
  async get(ref: string, path: string, send: (stat: PathStat, tar: Readable) => Promise<void>): Promise<void> {
    const p = containerPath(path);
    await this.#d.containers.withFilesystem(ref, async (c, fs) => {
      let s: ReturnType<typeof statPath>;
      try {
        s = statPath(this.#root(c, fs), path);
      } catch (e) {
        throw this.#notFound(e, path, ref);
      }
      this.#event(c, 'archive-path', path);
      await send(s.stat, tarTree(s.resolved.host, p.name));
    });
  }

  /** docker export: the container's root filesystem as a tar (its own files, not its mounts). */
  async export(ref: string, send: (tar: Readable) => Promise<void>): Promise<void> {
    await this.#d.containers.withFilesystem(
      ref,
      async (c, fs) => {
        this.#event(c, 'export', '/');
        await send(tarTree(fs.base, ''));
      },
      { rootfs: true },
    );
  }

  /** PUT: extract the tar in `body` into the directory `path` of the container. */
  async put(ref: string, path: string, body: AsyncIterable<Uint8Array>, opts: { noOverwriteDirNonDir: boolean; copyUIDGID: boolean }): Promise<void> {
    const p = containerPath(path);
    await this.#d.containers.withFilesystem(ref, async (c, fs) => {
      let r: Resolved;
      let st: Stats;
      try {
        r = resolveInRoot(this.#root(c, fs), p.abs, true);
        st = lstatSync(r.host);
      } catch (e) {
        throw this.#notFound(e, path, ref);
      }
      if (!st.isDirectory()) throw invalidParameter('extraction point is not a directory');
      const m = mountOf(c.mounts ?? [], r.path);
      if (m && m.type === 'bind' && !m.rw) throw forbidden('mounted volume is marked read-only');
      const exec = realExec((argv) => this.#d.engine.recordExec(argv));
      await extractTo(r.host, body, { noOverwriteDirNonDir: opts.noOverwriteDirNonDir, chown: opts.copyUIDGID, shown: r.path, exec });
      this.#event(c, 'extract-to-dir', path);
    });
  }
}
