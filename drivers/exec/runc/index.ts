// The exec driver: containers as OCI bundles run by runc (or crun) under conmon. conmon outlives
// berthd, writes the k8s-file log and the exit code; berthd learns of exits by watching conmon's exit
// dir. State is read from files (exit file, pid file, /proc), not by running `runc state`.
// Layout: <bundleDir>/{config.json,pidfile,conmon.pid,attach,ctl,winsz} (the daemon picks bundleDir);
// <execRoot>/<runtime>/ the runtime's --root; <execRoot>/exec/exits/<id> exit codes;
// <execRoot>/exec/meta/<id>.json what the driver needs to manage <id> again after a restart.
import { join } from 'node:path';
import type { AdoptReport, AttachOptions, AttachSession, DriverContext, ExecDriver, ExitListener, LogEntry, LogOptions } from '../../driver.js';
import type { ContainerSpec, ExecState, HandlerIn, Job } from '../../handlers.js';
import { conflict, invalidParameter, isBerthError, notFound, systemError, wrap } from '../../errors.js';
import { safeId } from '../../names.js';
import type { Log } from '../../log.js';
import { CommandError } from '../../sys/exec.js';
import { buildConfig, nofileFor, parseNofileHard, validateSpec } from './spec.js';
import { needsLookup, resolveUser } from './user.js';
import { BUNDLE_FILES, conmonArgv, parseSync, runtimeError } from './conmon.js';
import { realExecHost, type Closer, type ExecHost } from './host.js';
import { signalNumber } from './signals.js';
import { readLogs } from './logs.js';
import { attachTo } from './attach.js';

/** What the driver keeps per container, so a new instance (after a restart) can manage it. */
interface Meta {
  id: string;
  bundleDir: string;
  logPath: string;
  runtime: string;
  runtimeRoot: string;
  tty: boolean;
  created: string;
}

export interface RuncDriverOptions {
  /** conmon binary (default: `conmon` on PATH). */
  conmon?: string;
  /** How long conmon may take to report the container created. */
  createTimeoutMs?: number;
  /** How long exec_delete waits for a SIGKILLed container before `runtime delete --force`. */
  killWaitMs?: number;
}

const ID_RE = /^[0-9a-f]{64}$/;
const isRunc = (runtime: string) => runtime.split('/').pop() === 'runc';
const SIGKILL = 9;
const POLL_MS = 100;

export default function runcDriver(ctx: DriverContext): Promise<ExecDriver> {
  return createRuncDriver(ctx, realExecHost(ctx.sys.exec));
}

export async function createRuncDriver(ctx: DriverContext, host: ExecHost, opts: RuncDriverOptions = {}): Promise<ExecDriver> {
  const runtimeName = ctx.config.runtime || 'runc';
  if (!/^[A-Za-z0-9._/+-]+$/.test(runtimeName)) throw invalidParameter(`invalid runtime "${runtimeName}"`);
  const runtimeBase = runtimeName.split('/').pop()!;
  const execRoot = ctx.config.execRoot;
  const paths = {
    runtimeRoot: join(execRoot, runtimeBase),
    exits: join(execRoot, 'exec', 'exits'),
    meta: join(execRoot, 'exec', 'meta'),
  };
  await host.mkdirp(paths.runtimeRoot);
  await host.mkdirp(paths.exits);
  await host.mkdirp(paths.meta);
  const nofile = nofileFor(parseNofileHard(await host.readText('/proc/self/limits')));
  const d = new RuncDriver(ctx, host, paths, runtimeName, nofile, opts);
  d.watch();
  return d.api();
}

interface Paths {
  runtimeRoot: string;
  exits: string;
  meta: string;
}

class RuncDriver {
  readonly #ctx: DriverContext;
  readonly #host: ExecHost;
  readonly #paths: Paths;
  readonly #runtimeName: string;
  readonly #nofile: number;
  readonly #opts: Required<Omit<RuncDriverOptions, 'conmon'>> & { conmon: string };
  readonly #log: Log;
  readonly #listeners = new Set<ExitListener>();
  /** id → mtime (ms) of the exit file already reported, so each exit is reported once. */
  readonly #reported = new Map<string, number>();
  /** id → callbacks waiting for that container's exit file. */
  readonly #waiters = new Map<string, Set<() => void>>();
  #watcher: Closer | undefined;
  #binsP: Promise<{ runtime: string; conmon: string }> | undefined;

  constructor(ctx: DriverContext, host: ExecHost, paths: Paths, runtimeName: string, nofile: number, opts: RuncDriverOptions) {
    this.#ctx = ctx;
    this.#nofile = nofile;
    this.#host = host;
    this.#paths = paths;
    this.#runtimeName = runtimeName;
    this.#log = ctx.log;
    this.#opts = { conmon: opts.conmon ?? 'conmon', createTimeoutMs: opts.createTimeoutMs ?? 30_000, killWaitMs: opts.killWaitMs ?? 10_000 };
  }

  api(): ExecDriver {
    return {
      kind: 'exec',
      name: 'runc',
      handlers: {
        exec_create: (i, job) => this.create(i.spec, job),
        exec_start: (i) => this.start(i),
        exec_state: (i) => this.state(safeId(i.containerId), i.bundleDir),
        exec_kill: (i) => this.kill(i),
        exec_stop: (i) => this.stop(i),
        exec_delete: (i) => this.delete(safeId(i.containerId), i.bundleDir),
      },
      restore: () => this.restore(),
      shutdown: async () => this.shutdown(),
      onExit: (cb) => {
        this.#listeners.add(cb);
        return () => this.#listeners.delete(cb);
      },
      adopt: (ids) => this.adopt(ids),
      logs: (id, logPath, o) => this.logs(id, logPath, o ?? {}),
      attach: (id, bundleDir, o) => this.attach(id, bundleDir, o),
      resize: (id, bundleDir, h, w) => this.resize(id, bundleDir, h, w),
    };
  }

  // ---- exits ---------------------------------------------------------------------------

  watch(): void {
    this.#watcher = this.#host.watchDir(this.#paths.exits, (name) => {
      if (name === null) void this.#rescan();
      else if (ID_RE.test(name)) void this.#exitFileSeen(name);
    });
  }

  async #rescan(): Promise<void> {
    for (const name of await this.#host.list(this.#paths.exits)) if (ID_RE.test(name)) await this.#exitFileSeen(name);
  }

  async #exitFileSeen(id: string): Promise<void> {
    try {
      const ex = await this.#readExit(id);
      if (!ex) return;
      const at = Date.parse(ex.finishedAt);
      if (this.#reported.get(id) === at) return;
      this.#reported.set(id, at);
      this.#wake(id);
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

  #wake(id: string): void {
    const ws = this.#waiters.get(id);
    if (!ws) return;
    this.#waiters.delete(id);
    for (const w of ws) w();
  }

  async #readExit(id: string): Promise<{ exitCode: number; finishedAt: string } | undefined> {
    const p = join(this.#paths.exits, id);
    const text = await this.#host.readText(p);
    if (text === undefined || text.trim() === '') return undefined;
    const code = Number.parseInt(text.trim(), 10);
    const mtime = await this.#host.mtime(p);
    return { exitCode: Number.isFinite(code) && code >= 0 ? code : 255, finishedAt: (mtime ?? new Date()).toISOString() };
  }

  /** Resolve true when the container has exited (its exit file exists, or its supervisor and
   *  process are both gone), false after `timeoutMs` (< 0: no limit). */
  #waitExit(id: string, bundleDir: string, timeoutMs: number): Promise<boolean> {
    return new Promise((resolve) => {
      let settled = false;
      const set = this.#waiters.get(id) ?? new Set<() => void>();
      this.#waiters.set(id, set);
      const finish = (v: boolean) => {
        if (settled) return;
        settled = true;
        set.delete(waiter);
        if (set.size === 0 && this.#waiters.get(id) === set) this.#waiters.delete(id);
        clearInterval(poll);
        if (timer) clearTimeout(timer);
        resolve(v);
      };
      const waiter = () => finish(true);
      set.add(waiter);
      const check = async () => {
        if (settled) return;
        if (await this.#host.exists(join(this.#paths.exits, id))) return finish(true);
        if (!(await this.#supervised(id, bundleDir))) return finish(true);
      };
      const poll = setInterval(() => void check(), POLL_MS);
      poll.unref();
      const timer = timeoutMs >= 0 ? setTimeout(() => finish(false), timeoutMs) : undefined;
      timer?.unref();
      void check();
    });
  }

  /** True while the container's process or its conmon lives. */
  async #supervised(id: string, bundleDir: string): Promise<boolean> {
    const pid = await this.#pid(join(bundleDir, BUNDLE_FILES.pid));
    if (pid && (await this.#host.procState(pid)) === 'running') return true;
    const cpid = await this.#pid(join(bundleDir, BUNDLE_FILES.conmonPid));
    return cpid !== undefined && (await this.#host.procState(cpid)) === 'running';
  }

  async #pid(path: string): Promise<number | undefined> {
    const t = await this.#host.readText(path);
    const n = t === undefined ? NaN : Number.parseInt(t.trim(), 10);
    return Number.isInteger(n) && n > 0 ? n : undefined;
  }

  // ---- meta ------------------------------------------------------------------------------

  #metaPath(id: string): string {
    return join(this.#paths.meta, `${id}.json`);
  }

  async #meta(id: string): Promise<Meta | undefined> {
    const t = await this.#host.readText(this.#metaPath(id));
    if (t === undefined) return undefined;
    try {
      return JSON.parse(t) as Meta;
    } catch {
      return undefined;
    }
  }

  #bins(): Promise<{ runtime: string; conmon: string }> {
    const p = (this.#binsP ??= (async () => ({ runtime: await this.#host.which(this.#runtimeName), conmon: await this.#host.which(this.#opts.conmon) }))());
    p.catch(() => {
      if (this.#binsP === p) this.#binsP = undefined;
    });
    return p;
  }

  // ---- handlers --------------------------------------------------------------------------

  async create(spec: ContainerSpec, job: Job): Promise<ExecState> {
    validateSpec(spec);
    const id = spec.container.id;
    const host = this.#host;
    const bins = await this.#bins().catch((e) => {
      throw wrap(e, `OCI runtime "${this.#runtimeName}" or conmon is not installed`);
    });
    const prior = await this.#meta(id);
    if (prior) {
      const st = await this.state(id, prior.bundleDir);
      if (st.status === 'running' || st.status === 'created') throw conflict(`container ${id} exists already in the runtime (${st.status})`);
      await this.delete(id, prior.bundleDir); // a stopped leftover of an earlier run
    }
    const user = needsLookup(spec.process.user)
      ? resolveUser(spec.process.user, {
          passwd: await host.readInRoot(spec.rootfs, '/etc/passwd'),
          group: await host.readInRoot(spec.rootfs, '/etc/group'),
        })
      : resolveUser(spec.process.user, {});
    const config = buildConfig(spec, user, { prefix: this.#ctx.names.prefix, nofile: this.#nofile });
    const meta: Meta = {
      id,
      bundleDir: spec.bundleDir,
      logPath: spec.logPath,
      runtime: bins.runtime,
      runtimeRoot: this.#paths.runtimeRoot,
      tty: spec.process.tty,
      created: new Date().toISOString(),
    };

    // side effects from here on; each undone on a later failure
    await host.mkdirp(spec.bundleDir);
    job.undo.push('remove bundle files', () => this.#removeBundle(spec.bundleDir));
    await host.writeAtomic(this.#metaPath(id), JSON.stringify(meta));
    job.undo.push('remove exec meta', () => host.removeFile(this.#metaPath(id)));
    await host.writeAtomic(join(spec.bundleDir, BUNDLE_FILES.config), JSON.stringify(config));
    await host.removeFile(join(this.#paths.exits, id)); // an earlier run's code
    this.#reported.delete(id);

    const argv = conmonArgv({
      conmon: bins.conmon,
      id,
      runtime: bins.runtime,
      runtimeRoot: this.#paths.runtimeRoot,
      bundleDir: spec.bundleDir,
      logPath: spec.logPath,
      exitDir: this.#paths.exits,
      tty: spec.process.tty,
      openStdin: spec.process.openStdin,
      stdinOnce: spec.process.stdinOnce ?? false,
    });
    const r = await host.spawnConmon(argv, this.#opts.createTimeoutMs);
    const sync = parseSync(r.sync);
    if (!sync || 'error' in sync) {
      // conmon is gone or going; the runtime removed its half-made container (delete it if not)
      await this.#forceRuntimeDelete(id, bins.runtime).catch(() => {});
      await host.removeFile(join(this.#paths.exits, id));
      const why = sync && 'error' in sync ? sync.error : r.stderr || `conmon exited with ${r.code} without a word`;
      throw runtimeError('OCI runtime create failed', why);
    }
    job.undo.push('kill and delete the container', async () => {
      await this.delete(id, spec.bundleDir);
    });
    return { status: 'created', pid: sync.pid };
  }

  async start(i: HandlerIn<'exec_start'>): Promise<ExecState> {
    const id = safeId(i.containerId);
    const meta = await this.#meta(id);
    if (!meta) throw notFound(`no such container in the runtime: ${id}`);
    if (isRunc(meta.runtime)) {
      const st = await this.#startRunc(meta, id, i.bundleDir);
      if (st) return st;
    }
    try {
      await this.#host.exec.run([meta.runtime, '--root', meta.runtimeRoot, 'start', id]);
    } catch (e) {
      if (e instanceof CommandError) throw runtimeError('OCI runtime start failed', e.stderr, e);
      throw e;
    }
    const pid = (await this.#pid(join(i.bundleDir, BUNDLE_FILES.pid))) ?? 0;
    return { status: 'running', pid };
  }

  async state(id: string, bundleDir: string): Promise<ExecState> {
    const ex = await this.#readExit(id);
    if (ex) return { status: 'stopped', pid: 0, ...ex };
    const meta = await this.#meta(id);
    const dir = bundleDir || meta?.bundleDir;
    if (!dir) return { status: 'unknown', pid: 0 };
    const pid = await this.#pid(join(dir, BUNDLE_FILES.pid));
    if (pid === undefined) return { status: 'unknown', pid: 0 };
    if ((await this.#host.procState(pid)) === 'running') {
      // runc (and crun) keep exec.fifo in their state dir until the container is started
      const root = meta?.runtimeRoot ?? this.#paths.runtimeRoot;
      const created = await this.#host.exists(join(root, id, 'exec.fifo'));
      return { status: created ? 'created' : 'running', pid };
    }
    // the process is gone: conmon writes the exit file in a moment, unless conmon died too
    await this.#waitExit(id, dir, 2_000);
    const ex2 = await this.#readExit(id);
    if (ex2) return { status: 'stopped', pid: 0, ...ex2 };
    return { status: 'stopped', pid: 0, exitCode: 255, finishedAt: new Date().toISOString() };
  }

  async kill(i: HandlerIn<'exec_kill'>): Promise<void> {
    const id = safeId(i.containerId);
    const signo = signalNumber(i.signal);
    const st = await this.state(id, i.bundleDir);
    if ((st.status !== 'running' && st.status !== 'created') || !this.#host.signal(st.pid, signo))
      throw conflict(`container ${id} is not running`);
  }

  async stop(i: HandlerIn<'exec_stop'>): Promise<ExecState> {
    const id = safeId(i.containerId);
    const signo = signalNumber(i.signal);
    if (!Number.isFinite(i.timeoutSeconds)) throw invalidParameter(`invalid stop timeout ${i.timeoutSeconds}`);
    let st = await this.state(id, i.bundleDir);
    if (st.status !== 'running' && st.status !== 'created') return st;
    if (this.#host.signal(st.pid, signo)) {
      const ms = i.timeoutSeconds < 0 ? -1 : Math.round(i.timeoutSeconds * 1000);
      if (!(await this.#waitExit(id, i.bundleDir, ms))) {
        this.#log.info({ container: id, signal: i.signal, timeoutSeconds: i.timeoutSeconds }, 'container did not stop in time; sending SIGKILL');
        this.#host.signal(st.pid, SIGKILL);
        await this.#waitExit(id, i.bundleDir, this.#opts.killWaitMs);
      }
    }
    st = await this.state(id, i.bundleDir);
    return st;
  }

  /** Kill if running, wait for the exit, `runtime delete`, remove the bundle files. Idempotent. */
  async delete(id: string, bundleDir: string): Promise<ExecState> {
    const meta = await this.#meta(id);
    const dir = bundleDir || meta?.bundleDir;
    let st = await this.state(id, dir ?? '');
    if ((st.status === 'running' || st.status === 'created') && dir) {
      this.#host.signal(st.pid, SIGKILL);
      await this.#waitExit(id, dir, this.#opts.killWaitMs);
      st = await this.state(id, dir);
    }
    const runtime = meta?.runtime ?? (await this.#bins()).runtime;
    const root = meta?.runtimeRoot ?? this.#paths.runtimeRoot;
    if ((await this.#host.exists(join(root, id))) && !(isRunc(runtime) && (await this.#destroyRunc(root, id)))) {
      try {
        await this.#host.exec.run([runtime, '--root', root, 'delete', id]);
      } catch (e) {
        this.#log.warn({ err: e, container: id }, 'runtime delete failed; forcing');
        await this.#forceRuntimeDelete(id, runtime, root);
      }
    }
    await this.#host.removeFile(join(this.#paths.exits, id));
    if (dir) await this.#removeBundle(dir);
    await this.#host.removeFile(this.#metaPath(id));
    this.#reported.delete(id);
    return st.status === 'unknown' ? st : { ...st, pid: 0 };
  }

  /**
   * What `runc start` does, without running runc (it costs ~10 ms): the container's init waits to
   * open runc's exec.fifo for writing; reading its first byte lets it exec the process; the fifo
   * goes (runc tells "created" from "running" by it). undefined: not possible, run `runc start`.
   */
  async #startRunc(meta: Meta, id: string, bundleDir: string): Promise<ExecState | undefined> {
    const fifo = join(meta.runtimeRoot, id, 'exec.fifo');
    if (!(await this.#host.exists(fifo))) return undefined;
    const pid = await this.#pid(join(bundleDir, BUNDLE_FILES.pid));
    if (pid === undefined) return undefined;
    const released = await this.#host.awaitFifoByte(fifo, 10_000, async () => (await this.#host.procState(pid)) === 'running');
    if (!released) return undefined;
    await this.#host.removeFile(fifo);
    return { status: 'running', pid };
  }

  /**
   * What `runc delete` does for a stopped container of ours (it costs ~10 ms): remove its cgroups
   * (from runc's state.json) and its state dir. Our containers have their own pid namespace and no
   * hooks, so nothing else is to do. false: not possible, run `runc delete`.
   */
  async #destroyRunc(root: string, id: string): Promise<boolean> {
    try {
      const text = await this.#host.readText(join(root, id, 'state.json'));
      if (text === undefined) return false;
      const state = JSON.parse(text) as { cgroup_paths?: Record<string, unknown>; init_process_pid?: unknown };
      if (typeof state.init_process_pid === 'number' && (await this.#host.procState(state.init_process_pid)) === 'running') return false;
      const paths = Object.values(state.cgroup_paths ?? {});
      if (!paths.every((p): p is string => typeof p === 'string' && p.startsWith('/sys/fs/cgroup/') && !p.split('/').includes('..'))) return false;
      for (const p of paths) await this.#host.removeCgroup(p);
      await this.#host.removeTree(join(root, id));
      return true;
    } catch (err) {
      this.#log.warn({ err, container: id }, 'removing the runc state directly failed; running runc delete');
      return false;
    }
  }

  async #forceRuntimeDelete(id: string, runtime: string, root = this.#paths.runtimeRoot): Promise<void> {
    if (!(await this.#host.exists(join(root, id)))) return;
    try {
      await this.#host.exec.run([runtime, '--root', root, 'delete', '--force', id]);
    } catch (e) {
      if (e instanceof CommandError && /does not exist|not found/i.test(e.stderr)) return;
      throw e;
    }
  }

  async #removeBundle(dir: string): Promise<void> {
    for (const f of Object.values(BUNDLE_FILES)) await this.#host.removeFile(join(dir, f));
    await this.#host.removeDir(dir);
  }

  // ---- restart ---------------------------------------------------------------------------

  async restore(): Promise<{ recreated: string[]; removed: string[] }> {
    // Runtime state no meta file owns is a crash's leftover (meta is written before conmon starts
    // and removed after `runtime delete`): nothing the daemon can know about.
    const removed: string[] = [];
    const metas = new Set((await this.#host.list(this.#paths.meta)).filter((n) => n.endsWith('.json')).map((n) => n.slice(0, -5)));
    for (const id of await this.#host.list(this.#paths.runtimeRoot)) {
      if (!ID_RE.test(id) || metas.has(id)) continue;
      await this.#removeLeftover(id);
      removed.push(`runtime state of ${id.slice(0, 12)}`);
    }
    return { recreated: [], removed };
  }

  async adopt(ids: readonly string[]): Promise<AdoptReport> {
    const known = new Set(ids.map((id) => safeId(id)));
    const states: Record<string, ExecState> = {};
    for (const id of known) {
      const meta = await this.#meta(id);
      states[id] = await this.state(id, meta?.bundleDir ?? '');
    }
    const candidates = new Set<string>();
    for (const n of await this.#host.list(this.#paths.meta)) if (n.endsWith('.json') && ID_RE.test(n.slice(0, -5))) candidates.add(n.slice(0, -5));
    for (const n of await this.#host.list(this.#paths.runtimeRoot)) if (ID_RE.test(n)) candidates.add(n);
    for (const n of await this.#host.list(this.#paths.exits)) if (ID_RE.test(n)) candidates.add(n);
    const removed: string[] = [];
    for (const id of candidates) {
      if (known.has(id)) continue;
      try {
        await this.#removeLeftover(id);
        removed.push(id);
      } catch (err) {
        this.#log.warn({ err, container: id }, 'removing a leftover container failed');
      }
    }
    return { states, removed };
  }

  async #removeLeftover(id: string): Promise<void> {
    const meta = await this.#meta(id);
    if (meta) {
      await this.delete(id, meta.bundleDir);
      return;
    }
    // no meta: only the runtime knows it; its state holds the init pid
    const root = this.#paths.runtimeRoot;
    const runtime = (await this.#bins()).runtime;
    await this.#forceRuntimeDelete(id, runtime, root);
    await this.#host.removeFile(join(this.#paths.exits, id));
  }

  // ---- logs, attach, resize ----------------------------------------------------------------

  logs(idIn: string, logPath: string, o: LogOptions): AsyncIterable<LogEntry> {
    const id = safeId(idIn);
    if (!logPath.startsWith('/')) throw invalidParameter(`log path must be absolute: ${logPath}`);
    if (o.tail !== undefined && (!Number.isInteger(o.tail) || o.tail < 0)) throw invalidParameter(`invalid tail ${o.tail}`);
    return readLogs(this.#host, logPath, o, {
      running: async () => {
        const meta = await this.#meta(id);
        if (!meta) return false;
        const st = await this.state(id, meta.bundleDir);
        return st.status === 'running' || st.status === 'created';
      },
      onExit: (cb) => {
        const set = this.#waiters.get(id) ?? new Set<() => void>();
        this.#waiters.set(id, set);
        set.add(cb);
        return () => set.delete(cb);
      },
    });
  }

  async attach(idIn: string, bundleDir: string, o: AttachOptions): Promise<AttachSession> {
    safeId(idIn);
    if (!bundleDir.startsWith('/')) throw invalidParameter(`bundle dir must be absolute: ${bundleDir}`);
    return attachTo(this.#host, bundleDir, o);
  }

  async resize(idIn: string, bundleDir: string, height: number, width: number): Promise<void> {
    const id = safeId(idIn);
    for (const v of [height, width]) if (!Number.isInteger(v) || v < 0 || v > 65535) throw invalidParameter(`invalid terminal size ${height}x${width}`);
    if (!bundleDir.startsWith('/')) throw invalidParameter(`bundle dir must be absolute: ${bundleDir}`);
    try {
      await this.#host.writeFifo(join(bundleDir, BUNDLE_FILES.ctl), `1 ${height} ${width}\n`);
    } catch (e) {
      if (isBerthError(e)) throw e;
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENXIO' || code === 'ENOENT') throw conflict(`container ${id} is not running`);
      throw systemError(`resize the terminal of ${id}: ${(e as Error).message}`, e);
    }
  }

  shutdown(): void {
    this.#watcher?.close();
    this.#watcher = undefined;
  }
}

