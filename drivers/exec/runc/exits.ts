// Exits: conmon writes `<exit dir>/<id>` (the code, 128+n for a signal) when a container's process
// has ended and its output is drained. One fs.watch on the dir tells berthd at once; each exit is
// reported to the listeners once (by the file's mtime), and waiters of that container are woken.
import { join } from 'node:path';
import type { ExitListener } from '../../driver.js';
import type { Log } from '../../log.js';
import type { Closer, ExecHost } from './host.js';

const ID_RE = /^[0-9a-f]{64}$/;
/** Waiters look again this often, in case a watch event was missed or conmon died. */
const POLL_MS = 100;

export interface ExitRecord {
  exitCode: number;
  /** The exit file's mtime, RFC 3339 UTC. */
  finishedAt: string;
}

export class ExitWatcher {
  readonly #host: ExecHost;
  readonly #dir: string;
  readonly #log: Log;
  /** False once neither the container's process nor its conmon lives (no exit file will come). */
  readonly #supervised: (id: string, bundleDir: string) => Promise<boolean>;
  readonly #listeners = new Set<ExitListener>();
  /** id → mtime (ms) of the exit file already reported. */
  readonly #reported = new Map<string, number>();
  readonly #waiters = new Map<string, Set<() => void>>();
  #watcher: Closer | undefined;

  constructor(host: ExecHost, dir: string, log: Log, supervised: (id: string, bundleDir: string) => Promise<boolean>) {
    this.#host = host;
    this.#dir = dir;
    this.#log = log;
    this.#supervised = supervised;
  }

  start(): void {
    this.#watcher ??= this.#host.watchDir(this.#dir, (name) => {
      if (name === null) void this.#rescan();
      else if (ID_RE.test(name)) void this.#seen(name);
    });
  }

  close(): void {
    this.#watcher?.close();
    this.#watcher = undefined;
  }

  onExit(cb: ExitListener): () => void {
    this.#listeners.add(cb);
    return () => this.#listeners.delete(cb);
  }

  path(id: string): string {
    return join(this.#dir, id);
  }

  async read(id: string): Promise<ExitRecord | undefined> {
    const p = this.path(id);
    const text = await this.#host.readText(p);
    if (text === undefined || text.trim() === '') return undefined;
    const code = Number.parseInt(text.trim(), 10);
    const mtime = await this.#host.mtime(p);
    return { exitCode: Number.isFinite(code) && code >= 0 ? code : 255, finishedAt: (mtime ?? new Date()).toISOString() };
  }

  /** Remove the exit file and forget it was reported (a new run of the same id, or a delete). */
  async clear(id: string): Promise<void> {
    await this.#host.removeFile(this.path(id));
    this.#reported.delete(id);
  }

  /** Call `cb` at this container's next exit; returns the unsubscribe function. */
  subscribe(id: string, cb: () => void): () => void {
    const set = this.#waiters.get(id) ?? new Set<() => void>();
    this.#waiters.set(id, set);
    set.add(cb);
    return () => {
      set.delete(cb);
      if (set.size === 0 && this.#waiters.get(id) === set) this.#waiters.delete(id);
    };
  }

  /** True once the container has exited (its exit file exists, or nothing supervises it any
   *  more), false after `timeoutMs` (< 0: no limit). */
  wait(id: string, bundleDir: string, timeoutMs: number): Promise<boolean> {
    return new Promise((resolve) => {
      let settled = false;
      const finish = (v: boolean) => {
        if (settled) return;
        settled = true;
        unsubscribe();
        clearInterval(poll);
        if (timer) clearTimeout(timer);
        resolve(v);
      };
      const unsubscribe = this.subscribe(id, () => finish(true));
      const check = async () => {
        if (settled) return;
        if ((await this.#host.exists(this.path(id))) || !(await this.#supervised(id, bundleDir))) finish(true);
      };
      const poll = setInterval(() => void check(), POLL_MS);
      poll.unref();
      const timer = timeoutMs >= 0 ? setTimeout(() => finish(false), timeoutMs) : undefined;
      timer?.unref();
      void check();
    });
  }

  async #rescan(): Promise<void> {
    for (const name of await this.#host.list(this.#dir)) if (ID_RE.test(name)) await this.#seen(name);
  }

  async #seen(id: string): Promise<void> {
    try {
      const ex = await this.read(id);
      if (!ex) return;
      const at = Date.parse(ex.finishedAt);
      if (this.#reported.get(id) === at) return;
      this.#reported.set(id, at);
      const ws = this.#waiters.get(id);
      this.#waiters.delete(id);
      for (const w of ws ?? []) w();
      for (const cb of this.#listeners) {
        try {
          cb(id, ex.exitCode, ex.finishedAt);
        } catch (err) {
          this.#log.error({ err, container: id }, 'exit listener failed');
        }
      }
    } catch (err) {
      this.#log.warn({ err, container: id }, 'reading an exit file failed');
    }
  }
}
