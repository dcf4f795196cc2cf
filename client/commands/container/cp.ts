// berth cp [-a] [-L] [-q] CONTAINER:SRC_PATH DEST_PATH|-  /  SRC_PATH|- CONTAINER:DEST_PATH.
// docker cp's client half: the container side through the archive API (HEAD stat, GET tar, PUT tar),
// the local side with docker's rules (pkg/archive CopyInfo, PrepareArchiveCopy, RebaseArchiveEntries):
// a tar is renamed so that extracting it in a directory gives what `cp -a` would. Local extraction
// uses the layer unpacker (no "..", nothing written through a symlink).
import { lstatSync, readlinkSync, realpathSync, statSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { ApiError, type Api } from '../../api.js';
import { defineCommand, type Io } from '../../command.js';
import { parseFlags } from '../../flags.js';
import { binaryStdout } from '../image/messages.js';
import { seg } from './shared.js';

export interface CpOptions {
  /** A usage error docker reports with exit 1 (the command's own, not a flag's). */
  usage?: string;
  source: string;
  destination: string;
  archive: boolean;
  followLink: boolean;
}

/** docker's splitCpArg: CONTAINER:PATH, unless the argument is an absolute or ./-relative local path. */
export function splitCpArg(arg: string): { container: string; path: string } {
  if (arg.startsWith('/')) return { container: '', path: arg };
  const i = arg.indexOf(':');
  if (i < 0 || arg.startsWith('.')) return { container: '', path: arg };
  return { container: arg.slice(0, i), path: arg.slice(i + 1) };
}

const specifiesCurrentDir = (p: string) => p === '.' || p.endsWith('/.');
const hasTrailingSep = (p: string) => p.endsWith('/');

function clean(p: string): string {
  const abs = p.startsWith('/');
  const parts: string[] = [];
  for (const s of p.split('/')) {
    if (s === '' || s === '.') continue;
    if (s === '..' && parts.length && parts.at(-1) !== '..') parts.pop();
    else if (s === '..' && abs) continue;
    else parts.push(s);
  }
  const out = (abs ? '/' : '') + parts.join('/');
  return out || (abs ? '/' : '.');
}

/** docker's SplitPathDirEntry: "/a/b/" → ["/a", "b"]; "/a/b/." → ["/a/b", "."]. */
export function splitPathDirEntry(p: string): [string, string] {
  let c = clean(p);
  if (specifiesCurrentDir(p)) c = c === '/' ? '/.' : `${c}/.`;
  const i = c.lastIndexOf('/');
  if (i < 0) return ['.', c];
  const base = c.slice(i + 1) || '/';
  return [i === 0 ? '/' : c.slice(0, i), base];
}

/** docker's PreserveTrailingDotOrSeparator. */
function preserveTrailing(cleaned: string, original: string): string {
  let c = cleaned;
  if (!specifiesCurrentDir(c) && specifiesCurrentDir(original)) c = (hasTrailingSep(c) ? c : c + '/') + '.';
  if (!hasTrailingSep(c) && hasTrailingSep(original)) c += '/';
  return c;
}

/** docker's GetRebaseName: the resolved path keeps a trailing "/." or "/"; a changed base name is the rebase. */
export function rebaseName(path: string, resolved: string): { path: string; rebase: string } {
  let r = resolved;
  if (specifiesCurrentDir(path) && !specifiesCurrentDir(r)) r += '/.';
  if (hasTrailingSep(path) && !hasTrailingSep(r)) r += '/';
  const [, a] = splitPathDirEntry(path);
  const [, b] = splitPathDirEntry(r);
  return { path: r, rebase: a !== b ? a : '' };
}

export interface CopyInfo {
  path: string;
  exists: boolean;
  isDir: boolean;
  rebase?: string;
}

/**
 * docker's PrepareArchiveCopy: the directory to extract into and how the source's members must be
 * renamed (oldBase → newBase) for the copy to land at the destination. Throws docker's errors.
 */
export function prepareArchiveCopy(src: CopyInfo, dst: CopyInfo): { dir: string; rebase?: [string, string] } {
  const [dstDir, dstBase] = splitPathDirEntry(dst.path);
  const srcBase = src.rebase || splitPathDirEntry(src.path)[1];
  if (dst.exists && dst.isDir) return { dir: dst.path };
  if (dst.exists && src.isDir) throw new Error('cannot copy directory');
  if (dst.exists || src.isDir) return { dir: dstDir, rebase: [srcBase, dstBase] };
  if (hasTrailingSep(dst.path) || specifiesCurrentDir(dst.path)) throw new Error('no such directory');
  return { dir: dstDir, rebase: [srcBase, dstBase] };
}

const ISDIR = 2 ** 31;
const ISLINK = 2 ** 27;
const NOT_FILE = 2 ** 26 + 2 ** 25 + 2 ** 24 + 2 ** 21; // device, pipe, socket, char device

interface Stat {
  name: string;
  mode: number;
  linkTarget: string;
}

function parseStat(h: string | string[] | undefined): Stat {
  const v = Array.isArray(h) ? h[0] : h;
  if (!v) throw new Error('the daemon sent no X-Docker-Container-Path-Stat header');
  return JSON.parse(Buffer.from(v, 'base64').toString('utf8')) as Stat;
}

async function statPath(api: Api, container: string, path: string): Promise<Stat> {
  const res = await api.stream('HEAD', `/containers/${seg(container)}/archive`, { query: { path } });
  res.resume();
  return parseStat(res.headers['x-docker-container-path-stat']);
}

/** An absolute local path that keeps a trailing "/" or "/.". */
function localPath(p: string): string {
  return preserveTrailing(resolve(p), p);
}

function goStatError(op: string, p: string, e: unknown): Error {
  const code = (e as NodeJS.ErrnoException).code;
  const why = code === 'ENOENT' ? 'no such file or directory' : code === 'ENOTDIR' ? 'not a directory' : code === 'EACCES' ? 'permission denied' : (e as Error).message;
  return new Error(`${op} ${p}: ${why}`);
}

/** docker's CopyInfoDestinationPath: a local destination, its symlinks followed (10 at most). */
function destinationInfo(p0: string): CopyInfo {
  let p = p0;
  for (let n = 0; ; n++) {
    let st;
    try {
      st = lstatSync(p);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw goStatError('lstat', p, e);
      const [parent] = splitPathDirEntry(p);
      let ps;
      try {
        ps = statSync(parent);
      } catch (e2) {
        throw goStatError('stat', parent, e2);
      }
      if (!ps.isDirectory()) throw new Error('not a directory');
      return { path: p, exists: false, isDir: false };
    }
    if (!st.isSymbolicLink()) return { path: p, exists: true, isDir: st.isDirectory() };
    if (n >= 10) throw new Error(`too many symlinks in ${p0}`);
    const t = readlinkSync(p);
    p = isAbsolute(t) ? t : join(splitPathDirEntry(p)[0], t);
  }
}

const SYNOPSIS = 'cp [OPTIONS] CONTAINER:SRC_PATH DEST_PATH|-\n\tberth cp [OPTIONS] SRC_PATH|- CONTAINER:DEST_PATH';

export default defineCommand<CpOptions>({
  usage: `${SYNOPSIS}\n\nCopy files/folders between a container and the local filesystem\n\nOptions:\n  -a, --archive       Archive mode (copy all uid/gid information)\n  -L, --follow-link   Always follow symbol link in SRC_PATH\n  -q, --quiet         Suppress progress output during copy`,
  parse(argv) {
    const { flags, args } = parseFlags(argv, {
      archive: { type: 'bool', short: 'a' },
      'follow-link': { type: 'bool', short: 'L' },
      quiet: { type: 'bool', short: 'q' },
    });
    const o = { source: args[0] ?? '', destination: args[1] ?? '', archive: flags.archive === true, followLink: flags['follow-link'] === true };
    if (args.length !== 2) return { ...o, usage: `"cp" requires exactly 2 arguments.\nSee 'berth cp --help'.\n\nUsage:  berth ${SYNOPSIS}\n\nCopy files/folders between a container and the local filesystem` };
    if (o.source === '') return { ...o, usage: 'source can not be empty' };
    if (o.destination === '') return { ...o, usage: 'destination can not be empty' };
    return o;
  },
  async run(api, o, io) {
    if (o.usage) {
      io.err(`${o.usage}\n`);
      return 1;
    }
    const src = splitCpArg(o.source);
    const dst = splitCpArg(o.destination);
    if (src.container && dst.container) {
      io.err('copying between containers is not supported\n');
      return 1;
    }
    if (!src.container && !dst.container) {
      io.err('must specify at least one container source\n');
      return 1;
    }
    try {
      if (src.container) await fromContainer(api, src.container, src.path, o.destination, o, io);
      else await toContainer(api, dst.container, dst.path, src.path, o, io);
    } catch (e) {
      if (e instanceof ApiError) throw e;
      io.err(`${(e as Error).message}\n`);
      return 1;
    }
    return 0;
  },
});

async function fromContainer(api: Api, container: string, srcPath0: string, dest: string, o: CpOptions, io: Io): Promise<void> {
  const { extractTo, rebaseTar } = await import('../../../daemon/containers/archive.js');
  const { realExec } = await import('../../../drivers/sys/exec.js');
  let srcPath = srcPath0;
  let rebase = '';
  if (o.followLink) {
    const st = await statPath(api, container, srcPath).catch(() => undefined);
    if (st && st.mode & ISLINK) {
      const target = st.linkTarget.startsWith('/') ? st.linkTarget : join(splitPathDirEntry(srcPath)[0], st.linkTarget);
      ({ path: srcPath, rebase } = rebaseName(srcPath, target));
    }
  }
  const res = await api.stream('GET', `/containers/${seg(container)}/archive`, { query: { path: srcPath } });
  if (dest === '-') {
    await pipeline(res, binaryStdout(io), { end: false });
    return;
  }
  const stat = parseStat(res.headers['x-docker-container-path-stat']);
  const srcInfo: CopyInfo = { path: srcPath, exists: true, isDir: Math.floor(stat.mode / ISDIR) % 2 === 1, ...(rebase ? { rebase } : {}) };
  let content: AsyncIterable<Uint8Array> = res;
  if (rebase) content = rebaseTar(content, splitPathDirEntry(srcPath)[1], rebase);
  let dstInfo: CopyInfo;
  let plan: ReturnType<typeof prepareArchiveCopy>;
  try {
    dstInfo = destinationInfo(localPath(dest));
    plan = prepareArchiveCopy(srcInfo, dstInfo);
  } catch (e) {
    res.destroy();
    throw e;
  }
  if (plan.rebase) content = rebaseTar(content, plan.rebase[0], plan.rebase[1]);
  await extractTo(plan.dir, content, { noOverwriteDirNonDir: true, chown: false, shown: plan.dir, exec: realExec() });
}

async function toContainer(api: Api, container: string, dstPath: string, source: string, o: CpOptions, io: Io): Promise<void> {
  const dstInfo: CopyInfo = { path: dstPath, exists: false, isDir: false };
  let st: Stat | undefined;
  try {
    st = await statPath(api, container, dstPath);
    if (st.mode & ISLINK) {
      const target = st.linkTarget.startsWith('/') ? st.linkTarget : join(splitPathDirEntry(dstPath)[0], st.linkTarget);
      dstInfo.path = target;
      st = await statPath(api, container, target);
    }
  } catch (e) {
    if (!(e instanceof ApiError) || e.status !== 404) throw e;
    st = undefined;
  }
  if (st && (Math.floor(st.mode / ISDIR) % 2 === 0) && hasKind(st.mode, NOT_FILE))
    throw new Error(`destination "${container}:${dstPath}" must be a directory or a regular file`);
  if (st) {
    dstInfo.exists = true;
    dstInfo.isDir = Math.floor(st.mode / ISDIR) % 2 === 1;
  }
  const put = (dir: string, body: NodeJS.ReadableStream | AsyncIterable<Uint8Array>) =>
    api.call('PUT', `/containers/${seg(container)}/archive`, {
      query: { path: dir, noOverwriteDirNonDir: 'true', copyUIDGID: o.archive ? 'true' : undefined },
      stream: body as NodeJS.ReadableStream,
    });
  if (source === '-') {
    if (!dstInfo.isDir) throw new Error(`destination "${container}:${dstPath}" must be a directory`);
    await put(dstInfo.path, io.stdin);
    return;
  }
  const { tarTree, rebaseTar } = await import('../../../daemon/containers/archive.js');
  const { Readable } = await import('node:stream');
  // docker's CopyInfoSourcePath: with -L the source's symlinks are all followed, else only its directory's
  let srcPath = localPath(source);
  let rebase = '';
  try {
    if (o.followLink) {
      const real = realpathSync(srcPath.replace(/\/\.?$/, '') || '/');
      ({ path: srcPath, rebase } = rebaseName(srcPath, real));
    }
    lstatSync(clean(srcPath));
  } catch (e) {
    throw goStatError('lstat', clean(srcPath), e);
  }
  const [dir, base] = splitPathDirEntry(srcPath);
  const top = base === '.' ? dir : join(dir, base);
  const isDir = lstatSync(top).isDirectory();
  const srcInfo: CopyInfo = { path: srcPath, exists: true, isDir, ...(rebase ? { rebase } : {}) };
  const plan = prepareArchiveCopy(srcInfo, dstInfo);
  let content: AsyncIterable<Uint8Array> = tarTree(top, rebase || base);
  if (plan.rebase) content = rebaseTar(content, plan.rebase[0], plan.rebase[1]);
  await put(plan.dir, Readable.from(content, { objectMode: false }));
}

function hasKind(mode: number, bits: number): boolean {
  for (const b of [2 ** 26, 2 ** 25, 2 ** 24, 2 ** 21]) if (bits >= b && Math.floor(mode / b) % 2 === 1) return true;
  return false;
}
