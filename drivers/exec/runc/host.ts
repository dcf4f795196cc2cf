// THE ONLY MODULE OF THE EXEC DRIVER THAT TOUCHES THE HOST: files of bundles and logs, /proc, signals,
// conmon's start (a spawn with the sync pipe as fd 3), the attach socket (AF_UNIX SOCK_SEQPACKET, which
// node's `net` cannot open: node-unix-socket's native SeqpacketSocket), the ctl fifo. Programs that
// run to completion (runc start/delete) go through sys.exec, so the engine counts them per job.
// drivers/sys has no Runtime adapter yet; this is it, owned by the exec driver.
import { spawn } from 'node:child_process';
import { Socket } from 'node:net';
import { constants as fsc, watch, openSync, closeSync } from 'node:fs';
import { access, lstat, mkdir, open, readFile, readdir, readlink, rename, rm, rmdir, stat, writeFile } from 'node:fs/promises';
import { delimiter, join, posix } from 'node:path';
import type { Exec } from '../../sys/exec.js';
import { systemError } from '../../errors.js';
import { SYNC_FD } from './conmon.js';

export interface Closer {
  close(): void;
}

/** What conmon said on its sync pipe, and how its first process ended. */
export interface ConmonStart {
  sync: string;
  stderr: string;
  code: number | null;
}

/** A started `conmon --exec`: its pipes (node's stdio socketpairs, as fds 3–5 in conmon). */
export interface ConmonExec {
  /** Next JSON line conmon wrote on the sync pipe; undefined at its end or after `timeoutMs` (< 0: none). */
  nextSync(timeoutMs: number): Promise<string | undefined>;
  /** Next line on the attach pipe (conmon's "attach socket ready"). */
  nextAttach(timeoutMs: number): Promise<string | undefined>;
  /** One write to the start pipe (conmon reads it once at start and, with --exec-attach, once more
   *  before it runs the runtime). */
  start(): void;
  /** Stop listening (the session goes on). */
  close(): void;
}

export interface LogFile {
  size(): Promise<number>;
  read(position: number, length: number): Promise<Buffer>;
  close(): Promise<void>;
}

/** The part of node-unix-socket's SeqpacketSocket berth uses. */
export interface Seqpacket {
  write(buf: Buffer): void;
  end(): void;
  destroy(): void;
  on(ev: 'data', cb: (b: Buffer) => void): this;
  on(ev: 'end' | 'close', cb: () => void): this;
  on(ev: 'error', cb: (e: Error) => void): this;
}

export type ProcState = 'running' | 'zombie' | 'gone';

export interface ExecHost {
  readonly exec: Exec;
  /** Absolute path of a program: itself if it has a slash, else the first match on PATH. */
  which(program: string): Promise<string>;
  /** Start conmon; resolve when it has reported on the sync pipe (or its first process failed). */
  /** `cwd`: conmon's working directory, where it drops an empty `oom` file when the container's
   *  cgroup sees an OOM (conmon 2.1 writes it relative to its cwd): the bundle dir. */
  spawnConmon(argv: readonly string[], timeoutMs: number, cwd?: string): Promise<ConmonStart>;
  /** Start `conmon --exec` with a sync pipe, a start pipe and (attach) an attach pipe. */
  spawnConmonExec(argv: readonly string[], attach: boolean): ConmonExec;
  readText(path: string): Promise<string | undefined>;
  /** Read `path` inside `root` with every symlink resolved inside root (never the host's files). */
  readInRoot(root: string, path: string): Promise<string | undefined>;
  /** Write through a temp file and rename (readers never see half a file). */
  writeAtomic(path: string, text: string): Promise<void>;
  mkdirp(path: string, mode?: number): Promise<void>;
  /** Remove a file or socket; absent is fine. */
  removeFile(path: string): Promise<void>;
  /** Remove an empty directory; absent or not empty is fine (returns false then). */
  removeDir(path: string): Promise<boolean>;
  mtime(path: string): Promise<Date | undefined>;
  exists(path: string): Promise<boolean>;
  list(dir: string): Promise<string[]>;
  procState(pid: number): Promise<ProcState>;
  /** kill(2); false when there is no such process. */
  signal(pid: number, signo: number): boolean;
  watchDir(dir: string, onName: (name: string | null) => void): Closer;
  watchFile(path: string, onChange: () => void): Closer;
  openLog(path: string): Promise<LogFile | undefined>;
  /** Connect to `<dir>/<name>` (through /proc/self/fd, so the path length does not matter). */
  connectSeqpacket(dir: string, name: string): Promise<Seqpacket>;
  /** Write to a fifo that must have a reader (ENXIO otherwise). */
  writeFifo(path: string, text: string): Promise<void>;
  /** Open a fifo read-write without blocking and wait for its first byte: true when it came, false
   *  after `timeoutMs` or once `keepWaiting()` says no (checked every 100 ms). */
  awaitFifoByte(path: string, timeoutMs: number, keepWaiting: () => Promise<boolean>): Promise<boolean>;
  /** rm -rf. */
  removeTree(path: string): Promise<void>;
  /** rmdir a cgroup directory, retrying a moment while the kernel still counts it busy; absent is fine. */
  removeCgroup(path: string): Promise<void>;
}

const isErr = (e: unknown, ...codes: string[]) => typeof e === 'object' && e !== null && codes.includes((e as NodeJS.ErrnoException).code ?? '');

export function realExecHost(exec: Exec): ExecHost {
  return {
    exec,

    async which(program) {
      if (program.includes('/')) {
        await access(program, fsc.X_OK);
        return program;
      }
      for (const dir of (process.env.PATH ?? '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin').split(delimiter)) {
        if (!dir.startsWith('/')) continue;
        const p = join(dir, program);
        try {
          await access(p, fsc.X_OK);
          return p;
        } catch {
          /* next */
        }
      }
      throw systemError(`${program} not found in PATH`);
    },

    spawnConmon(argv, timeoutMs, cwd) {
      return new Promise((resolve, reject) => {
        const [file, ...args] = argv;
        const child = spawn(file!, args, {
          ...(cwd ? { cwd } : {}),
          stdio: ['ignore', 'ignore', 'pipe', 'pipe'],
          env: { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', _OCI_SYNCPIPE: String(SYNC_FD) },
        });
        let sync = '';
        let stderr = '';
        let code: number | null | undefined;
        let settled = false;
        const syncPipe = child.stdio[SYNC_FD] as NodeJS.ReadableStream & { destroy(): void };
        const done = (err?: Error) => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          syncPipe.destroy(); // the supervisor keeps its end for life; we need no more from it
          if (err) reject(err);
          else resolve({ sync, stderr, code: code ?? null });
        };
        const timer = setTimeout(() => {
          done(systemError(`conmon did not report within ${timeoutMs} ms: ${stderr.trim()}`));
        }, timeoutMs);
        // The first process exits at once (after forking the supervisor); wait for it too, so the
        // conmon pid file exists when we resolve.
        const maybeDone = () => {
          if (code !== undefined && (sync.includes('\n') || syncEnded)) done();
        };
        let syncEnded = false;
        syncPipe.on('data', (c: Buffer) => {
          sync += c.toString();
          maybeDone();
        });
        syncPipe.on('end', () => {
          syncEnded = true;
          maybeDone();
        });
        syncPipe.on('error', () => {
          syncEnded = true;
          maybeDone();
        });
        child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
        child.on('error', (e) => done(systemError(`start conmon: ${e.message}`, e)));
        child.on('exit', (c, sig) => {
          code = c ?? (sig ? -1 : null);
          // A failing first process never forked: nobody else holds the sync pipe.
          if (c !== 0) syncEnded = true;
          maybeDone();
        });
      });
    },

    spawnConmonExec(argv, attach) {
      const [file, ...args] = argv;
      const child = spawn(file!, args, {
        stdio: ['ignore', 'ignore', 'ignore', 'pipe', 'pipe', ...(attach ? (['pipe'] as const) : [])],
        env: {
          PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin',
          _OCI_SYNCPIPE: '3',
          _OCI_STARTPIPE: '4',
          ...(attach ? { _OCI_ATTACHPIPE: '5' } : {}),
        },
      });
      child.on('error', () => {});
      const pipes = child.stdio as unknown as (NodeJS.ReadableStream & NodeJS.WritableStream & { destroy(): void })[];
      const sync = lineReader(pipes[3]!);
      const att = attach ? lineReader(pipes[5]!) : undefined;
      const startPipe = pipes[4]!;
      startPipe.on('error', () => {});
      return {
        nextSync: (ms) => sync.next(ms),
        nextAttach: (ms) => (att ? att.next(ms) : Promise.resolve(undefined)),
        start: () => void startPipe.write('0'),
        close: () => {
          sync.close();
          att?.close();
          startPipe.destroy();
        },
      };
    },

    async readText(path) {
      try {
        return await readFile(path, 'utf8');
      } catch (e) {
        if (isErr(e, 'ENOENT', 'ENOTDIR')) return undefined;
        throw e;
      }
    },

    async readInRoot(root, path) {
      const resolved = await resolveInRoot(root, path);
      if (resolved === undefined) return undefined;
      try {
        return await readFile(resolved, 'utf8');
      } catch (e) {
        if (isErr(e, 'ENOENT', 'ENOTDIR', 'EISDIR')) return undefined;
        throw e;
      }
    },

    async writeAtomic(path, text) {
      const tmp = `${path}.tmp-${process.pid}`;
      await writeFile(tmp, text, { mode: 0o600 });
      await rename(tmp, path);
    },

    async mkdirp(path, mode = 0o700) {
      await mkdir(path, { recursive: true, mode });
    },

    async removeFile(path) {
      await rm(path, { force: true });
    },

    async removeDir(path) {
      try {
        await rmdir(path);
        return true;
      } catch (e) {
        if (isErr(e, 'ENOENT', 'ENOTEMPTY', 'EEXIST')) return false;
        throw e;
      }
    },

    async mtime(path) {
      try {
        return (await stat(path)).mtime;
      } catch (e) {
        if (isErr(e, 'ENOENT', 'ENOTDIR')) return undefined;
        throw e;
      }
    },

    async exists(path) {
      try {
        await lstat(path);
        return true;
      } catch (e) {
        if (isErr(e, 'ENOENT', 'ENOTDIR')) return false;
        throw e;
      }
    },

    async list(dir) {
      try {
        return await readdir(dir);
      } catch (e) {
        if (isErr(e, 'ENOENT', 'ENOTDIR')) return [];
        throw e;
      }
    },

    async procState(pid) {
      if (!Number.isInteger(pid) || pid <= 0) return 'gone';
      let text: string;
      try {
        text = await readFile(`/proc/${pid}/stat`, 'utf8');
      } catch {
        return 'gone';
      }
      const st = text.slice(text.lastIndexOf(')') + 2, text.lastIndexOf(')') + 3);
      return st === 'Z' || st === 'X' ? 'zombie' : 'running';
    },

    signal(pid, signo) {
      if (!Number.isInteger(pid) || pid <= 1) return false;
      try {
        process.kill(pid, signo);
        return true;
      } catch (e) {
        if (isErr(e, 'ESRCH')) return false;
        throw e;
      }
    },

    watchDir(dir, onName) {
      const w = watch(dir, { persistent: false }, (_ev, name) => onName(name ? String(name) : null));
      w.on('error', () => onName(null));
      return { close: () => w.close() };
    },

    watchFile(path, onChange) {
      const w = watch(path, { persistent: false }, () => onChange());
      w.on('error', () => onChange());
      return { close: () => w.close() };
    },

    async openLog(path) {
      let fh;
      try {
        fh = await open(path, 'r');
      } catch (e) {
        if (isErr(e, 'ENOENT')) return undefined;
        throw e;
      }
      const h = fh;
      return {
        size: async () => (await h.stat()).size,
        read: async (position, length) => {
          const buf = Buffer.alloc(length);
          const { bytesRead } = await h.read(buf, 0, length, position);
          return buf.subarray(0, bytesRead);
        },
        close: () => h.close(),
      };
    },

    async connectSeqpacket(dir, name) {
      const mod = (await import('node-unix-socket')) as unknown as { default?: SeqpacketModule } & SeqpacketModule;
      const { SeqpacketSocket } = mod.default ?? mod;
      const dirFd = openSync(dir, fsc.O_RDONLY | fsc.O_DIRECTORY);
      const sock = new SeqpacketSocket();
      sock.setInternalReadBufferSize(64 * 1024); // conmon sends at most 8 KiB + 1 per packet
      return new Promise<Seqpacket>((resolve, reject) => {
        let fdOpen = true;
        const closeDir = () => {
          if (fdOpen) closeSync(dirFd);
          fdOpen = false;
        };
        sock.on('error', (e: Error) => {
          closeDir();
          reject(e);
        });
        try {
          sock.connect(`/proc/self/fd/${dirFd}/${name}`, () => {
            closeDir();
            resolve(sock);
          });
        } catch (e) {
          closeDir();
          sock.destroy();
          reject(e as Error);
        }
      });
    },

    async writeFifo(path, text) {
      const fh = await open(path, fsc.O_WRONLY | fsc.O_NONBLOCK);
      try {
        await fh.write(text);
      } finally {
        await fh.close();
      }
    },

    awaitFifoByte(path, timeoutMs, keepWaiting) {
      // O_RDWR: the open never blocks and no EOF comes before the writer shows up; the socket
      // reads through epoll, so no thread of the pool waits on it.
      const fd = openSync(path, fsc.O_RDWR | fsc.O_NONBLOCK);
      const sock = new Socket({ fd, readable: true, writable: false });
      return new Promise((resolve) => {
        let done = false;
        const finish = (v: boolean) => {
          if (done) return;
          done = true;
          clearInterval(poll);
          clearTimeout(timer);
          sock.destroy();
          resolve(v);
        };
        sock.once('data', () => finish(true));
        sock.once('error', () => finish(false));
        const timer = setTimeout(() => finish(false), timeoutMs);
        const poll = setInterval(() => {
          void keepWaiting().then((yes) => yes || finish(false), () => finish(false));
        }, 100);
      });
    },

    async removeTree(path) {
      await rm(path, { recursive: true, force: true });
    },

    async removeCgroup(path) {
      for (let i = 0; ; i++) {
        try {
          await rmdir(path);
          return;
        } catch (e) {
          if (isErr(e, 'ENOENT')) return;
          if (!isErr(e, 'EBUSY') || i >= 20) throw e;
          await new Promise((r) => setTimeout(r, 10));
        }
      }
    },
  };
}

/** Lines of a stream, one at a time. */
function lineReader(stream: NodeJS.ReadableStream): { next(timeoutMs: number): Promise<string | undefined>; close(): void } {
  const lines: string[] = [];
  let buf = '';
  let ended = false;
  let wake: (() => void) | undefined;
  stream.on('data', (c: Buffer) => {
    buf += c.toString();
    for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
      lines.push(buf.slice(0, i));
      buf = buf.slice(i + 1);
    }
    wake?.();
  });
  const end = () => {
    ended = true;
    wake?.();
  };
  stream.on('end', end);
  stream.on('error', end);
  stream.on('close', end);
  return {
    async next(timeoutMs) {
      for (;;) {
        if (lines.length) return lines.shift();
        if (ended) return undefined;
        const woke = await new Promise<boolean>((resolve) => {
          wake = () => resolve(true);
          if (timeoutMs >= 0) setTimeout(() => resolve(false), timeoutMs).unref();
        });
        wake = undefined;
        if (!woke) return undefined;
      }
    },
    close() {
      (stream as NodeJS.ReadableStream & { destroy?(): void }).destroy?.();
      end();
    },
  };
}

interface SeqpacketModule {
  SeqpacketSocket: new () => Seqpacket & {
    connect(path: string, cb: () => void): void;
    setInternalReadBufferSize(n: number): void;
  };
}

/** Walk `path` from `root` as if root were `/`: `..` and absolute symlinks stay inside root.
 *  Returns the host path, or undefined when a component is missing. */
export async function resolveInRoot(root: string, path: string): Promise<string | undefined> {
  let todo = path.split('/').filter((c) => c && c !== '.');
  const done: string[] = [];
  let links = 0;
  while (todo.length) {
    const c = todo.shift()!;
    if (c === '..') {
      done.pop();
      continue;
    }
    const host = join(root, ...done, c);
    let st;
    try {
      st = await lstat(host);
    } catch (e) {
      if (isErr(e, 'ENOENT', 'ENOTDIR')) return undefined;
      throw e;
    }
    if (st.isSymbolicLink()) {
      if (++links > 40) throw systemError(`too many symlinks resolving ${path} in ${root}`);
      const target = await readlink(host);
      const parts = target.split('/').filter((x) => x && x !== '.');
      if (posix.isAbsolute(target)) done.length = 0;
      todo = [...parts, ...todo];
      continue;
    }
    done.push(c);
  }
  return join(root, ...done);
}
