// Unpacking one layer tar into an empty directory, shared by the overlay and vfs drivers. It streams
// (tar-stream), hashes what it reads (the diff id), and applies modes, ownership, mtimes, symlinks
// and hardlinks. It NEVER writes outside `dir`: member names are cleaned or refused (paths.ts), every
// parent is checked with lstat to be a real directory (so nothing is written through a symlink),
// files are opened O_EXCL|O_NOFOLLOW, and hardlink targets get the same checks. An escape attempt
// throws invalid_parameter; the caller removes `dir` (the driver unpacks into a temp dir).
// Entries node cannot make (device nodes, fifos, overlay whiteouts and opaque xattrs) are collected
// and made in ONE `tar -x` run at the end (special.ts).
// Metadata calls and small files are synchronous on purpose: each is a few microseconds on the page
// cache, while a round trip through libuv's thread pool costs far more per call (an image is
// thousands of small metadata calls: 10x faster measured). The event loop still turns between tar
// members. The data of large files goes out in ~1 MiB writev batches on the thread pool instead
// (writer.ts), so the copy into the page cache overlaps with hashing and decompressing.
import { createHash } from 'node:crypto';
import {
  chmodSync,
  closeSync,
  constants,
  fchmodSync,
  fchownSync,
  futimesSync,
  lchownSync,
  linkSync,
  lstatSync,
  lutimesSync,
  mkdirSync,
  openSync,
  rmSync,
  symlinkSync,
  utimesSync,
  writeSync,
  type Stats,
} from 'node:fs';
import { join } from 'node:path';
import { extract, type Header } from 'tar-stream';
import { invalidParameter } from '../../errors.js';
import type { Exec } from '../../sys/exec.js';
import type { Log } from '../../log.js';
import { cleanMemberPath, parentsOf, whiteoutOf } from './paths.js';
import { applySpecial, type SpecialEntry } from './special.js';
import { archiveError } from './compression.js';
import { FileWriter } from './writer.js';

export interface UnpackOptions {
  /** 'overlay': whiteouts become 0:0 character devices and opaque dirs get trusted.overlay.opaque=y.
   *  'keep': whiteout files stay as they are in the tar (.wh.<name>), for a later merge (vfs). */
  whiteouts: 'overlay' | 'keep';
  /** Apply the uid/gid of each member and make device nodes (needs root). */
  chown: boolean;
  /** Runs the one `tar -x` for special entries. */
  exec: Exec;
  log?: Log;
  /** Hash what is read (default true). False when the caller hashes the stream itself (a pull
   *  computes the diff id while decompressing): the result's diffId is then undefined. */
  hash?: boolean;
}

export interface UnpackResult {
  /** "sha256:<hex>" of the uncompressed tar bytes read (undefined with `hash: false`). */
  diffId: string | undefined;
  /** Sum of the regular files' sizes (Docker's layer size). */
  size: number;
  /** Members that could not be made here (device nodes without root, unknown types). */
  skipped: string[];
}

function lstatOrUndefined(p: string): Stats | undefined {
  try {
    return lstatSync(p);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw e;
  }
}

const FILE_FLAGS = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;
/** Files larger than this are written on the thread pool (writer.ts); smaller ones synchronously. */
const ASYNC_FILE = 256 * 1024;

/** Unpack the tar read from `src` (uncompressed) into the existing, empty directory `dir`. */
export async function unpackLayer(src: AsyncIterable<Uint8Array>, dir: string, opts: UnpackOptions): Promise<UnpackResult> {
  const ex = extract();
  const hash = opts.hash === false ? undefined : createHash('sha256');
  let bytes = 0;
  // Waits for room in the parser, or for its end: an unpack that failed destroys it, and a
  // destroyed stream never drains (waiting for 'drain' alone hung the feed, and the unpack with it).
  const room = () =>
    new Promise<void>((resolve) => {
      const done = () => {
        ex.off('drain', done);
        ex.off('close', done);
        resolve();
      };
      ex.on('drain', done);
      ex.on('close', done);
    });
  const feeding = (async () => {
    for await (const chunk of src) {
      if (ex.destroyed) return; // the unpack failed: stop reading the source
      hash?.update(chunk);
      bytes += chunk.length;
      if (!ex.write(chunk)) await room();
    }
    if (ex.destroyed) return;
    if (bytes === 0) throw invalidParameter('the layer archive is empty (want a tar)');
    ex.end(undefined);
  })().catch((e: unknown) => {
    ex.destroy(e as Error);
    throw e;
  });

  const u = new Unpacker(dir, opts);
  try {
    for await (const entry of ex) {
      await u.entry(entry.header, entry as unknown as AsyncIterable<Uint8Array>);
    }
    await feeding;
    await u.finish();
  } catch (e) {
    ex.destroy();
    await feeding.catch(() => {});
    throw archiveError(e);
  }
  return { diffId: hash ? `sha256:${hash.digest('hex')}` : undefined, size: u.size, skipped: u.skipped };
}

class Unpacker {
  size = 0;
  readonly skipped: string[] = [];
  /** Relative paths known to be real directories (made or checked by us). '' is the root. */
  readonly #dirs = new Set<string>(['']);
  /** Directory metadata, applied last (children change a directory's mtime). */
  readonly #dirMeta = new Map<string, Header>();
  readonly #special: SpecialEntry[] = [];
  readonly #opaque = new Set<string>();

  constructor(
    readonly dir: string,
    readonly opts: UnpackOptions,
  ) {}

  #abs(rel: string): string {
    return rel === '' ? this.dir : join(this.dir, rel);
  }

  /** Make sure `rel` is a real directory (creating it, never through a symlink). */
  async #ensureDir(rel: string, member: string): Promise<void> {
    if (this.#dirs.has(rel)) return;
    for (const p of [...parentsOf(rel), rel]) {
      if (this.#dirs.has(p)) continue;
      const st = lstatOrUndefined(this.#abs(p));
      if (!st) mkdirSync(this.#abs(p), { mode: 0o755 });
      else if (!st.isDirectory())
        throw invalidParameter(
          `tar member ${JSON.stringify(member)} would be written through ${st.isSymbolicLink() ? 'the symlink' : 'the non-directory'} "${p}": refusing to write outside the layer`,
        );
      this.#dirs.add(p);
    }
  }

  async #ensureParents(rel: string, member: string): Promise<void> {
    const slash = rel.lastIndexOf('/');
    if (slash > 0) await this.#ensureDir(rel.slice(0, slash), member);
  }

  /** Remove whatever is at `rel` unless it is a directory and `keepDir`. Returns true if a dir stays. */
  async #clear(rel: string, keepDir: boolean): Promise<boolean> {
    const st = lstatOrUndefined(this.#abs(rel));
    if (!st) return false;
    if (st.isDirectory() && keepDir) {
      this.#dirs.add(rel);
      return true;
    }
    rmSync(this.#abs(rel), { recursive: true, force: true });
    for (const d of [...this.#dirs]) if (d === rel || d.startsWith(rel + '/')) this.#dirs.delete(d);
    for (const d of [...this.#dirMeta.keys()]) if (d === rel || d.startsWith(rel + '/')) this.#dirMeta.delete(d);
    return false;
  }

  async entry(h: Header, body: AsyncIterable<Uint8Array>): Promise<void> {
    const rel = cleanMemberPath(h.name);
    const drain = async () => {
      for await (const _ of body) void _;
    };
    if (rel === '') {
      await drain(); // the layer root itself: its attributes belong to the rootfs, not the layer
      return;
    }
    const wo = whiteoutOf(rel);
    if (wo && this.opts.whiteouts === 'overlay') {
      await drain();
      if (wo.kind === 'opaque') {
        await this.#ensureDir(wo.dir, h.name);
        this.#opaque.add(wo.dir);
      } else if (wo.kind === 'whiteout') {
        await this.#ensureParents(wo.path, h.name);
        await this.#clear(wo.path, false);
        this.#special.push({ kind: 'whiteout', rel: wo.path });
      }
      return;
    }
    if (wo?.kind === 'meta') {
      await drain();
      return;
    }

    await this.#ensureParents(rel, h.name);
    const abs = this.#abs(rel);
    switch (h.type) {
      case 'directory': {
        await drain();
        if (!(await this.#clear(rel, true))) mkdirSync(abs, { mode: 0o700 });
        this.#dirs.add(rel);
        this.#dirMeta.set(rel, h);
        return;
      }
      case 'file':
      case 'contiguous-file': {
        await this.#clear(rel, false);
        const fd = openSync(abs, FILE_FLAGS, 0o600);
        const w = h.size > ASYNC_FILE ? new FileWriter(fd) : undefined;
        try {
          if (w) {
            for await (const chunk of body) {
              const p = w.write(chunk);
              if (p) await p;
            }
            await w.flush();
          } else {
            for await (const chunk of body) {
              for (let off = 0; off < chunk.length; ) off += writeSync(fd, chunk, off, chunk.length - off);
            }
          }
          if (this.opts.chown) fchownSync(fd, h.uid, h.gid);
          fchmodSync(fd, h.mode & 0o7777);
          futimesSync(fd, h.mtime, h.mtime);
        } finally {
          await w?.settle();
          closeSync(fd);
        }
        this.size += h.size;
        return;
      }
      case 'symlink': {
        await drain();
        if (!h.linkname || h.linkname.includes('\0')) throw invalidParameter(`invalid symlink target for ${JSON.stringify(h.name)}`);
        await this.#clear(rel, false);
        symlinkSync(h.linkname, abs);
        if (this.opts.chown) lchownSync(abs, h.uid, h.gid);
        lutimesSync(abs, h.mtime, h.mtime);
        return;
      }
      case 'link': {
        await drain();
        const target = cleanMemberPath(h.linkname ?? '');
        if (target === '') throw invalidParameter(`hardlink ${JSON.stringify(h.name)} points at the layer root`);
        // The target must be inside this layer, reached through real directories, and not a dir.
        for (const p of parentsOf(target)) {
          if (this.#dirs.has(p)) continue;
          const st = lstatOrUndefined(this.#abs(p));
          if (!st?.isDirectory())
            throw invalidParameter(`hardlink ${JSON.stringify(h.name)} → ${JSON.stringify(h.linkname)} goes through "${p}", not a directory of the layer: refusing`);
        }
        const st = lstatOrUndefined(this.#abs(target));
        if (!st) throw invalidParameter(`hardlink ${JSON.stringify(h.name)} → ${JSON.stringify(h.linkname)}: no such member before it in the layer`);
        if (st.isDirectory()) throw invalidParameter(`hardlink ${JSON.stringify(h.name)} → ${JSON.stringify(h.linkname)}: a directory`);
        if (target === rel) return;
        await this.#clear(rel, false);
        linkSync(this.#abs(target), abs);
        return;
      }
      case 'character-device':
      case 'block-device':
      case 'fifo': {
        await drain();
        if (!this.opts.chown && h.type !== 'fifo') {
          this.skipped.push(rel);
          return;
        }
        await this.#clear(rel, false);
        this.#special.push({ kind: 'node', rel, header: h });
        return;
      }
      default:
        await drain();
        this.skipped.push(rel);
        this.opts.log?.debug({ member: h.name, type: h.type }, 'skipped a tar member of an unsupported type');
    }
  }

  async finish(): Promise<void> {
    const opaque = [...this.#opaque].map((rel) => ({ rel, header: this.#dirMeta.get(rel) }));
    await applySpecial(this.dir, this.#special, opaque, this.opts.exec);
    // Directory attributes last, deepest first, so writing children does not change them again.
    const dirs = [...this.#dirMeta.entries()].sort((a, b) => b[0].length - a[0].length);
    for (const [rel, h] of dirs) {
      const abs = this.#abs(rel);
      if (this.opts.chown) lchownSync(abs, h.uid, h.gid);
      chmodSync(abs, h.mode & 0o7777);
      utimesSync(abs, h.mtime, h.mtime);
    }
  }
}
