// The exec driver: containers as OCI bundles run by runc (or crun) under conmon. conmon outlives
// berthd, writes the k8s-file log and the exit code; berthd learns of exits by watching conmon's exit
// dir (exits.ts). State is read from files (exit file, pid file, /proc), not by running `runc state`.
// Layout: <bundleDir>/{config.json,pidfile,conmon.pid,attach,ctl,winsz} (the daemon picks bundleDir);
// <execRoot>/<runtime>/ the runtime's --root; <execRoot>/exec/exits/<id> exit codes;
// <execRoot>/exec/meta/<id>.json what the driver needs to manage <id> again after a restart.
import { join } from 'node:path';
import type { AdoptReport, AttachOptions, AttachSession, DriverContext, ExecDriver, ExecSession, LogEntry, LogOptions } from '../../driver.js';
import type { ReconcileReport } from '../../types.js';
import type { ContainerSpec, ExecState, HandlerIn, Job, ProcessSpec } from '../../handlers.js';
import { conflict, invalidParameter, isBerthError, notFound, systemError, wrap } from '../../errors.js';
import { safeId } from '../../names.js';
import type { Log } from '../../log.js';
import { buildConfig, cgroupsPath, nofileFor, parseNofileHard, parseOomKill, validateProcess, validateSpec } from './spec.js';
import { needsLookup, resolveUser } from './user.js';
import { BUNDLE_FILES, conmonArgv, parseSync, runtimeError } from './conmon.js';
import { realExecHost, type ExecHost } from './host.js';
import { signalNumber } from './signals.js';
import { readLogs } from './logs.js';
import { attachTo } from './attach.js';
import { ExitWatcher } from './exits.js';
import { RuntimeOps, execFifo } from './runtime.js';
import { startExecSession } from './exec-session.js';

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
  /** How long a SIGKILLed container may take to be reported gone. */
  killWaitMs?: number;
}

interface Paths {
  runtimeRoot: string;
  exits: string;
  meta: string;
  /** One dir per `docker exec` session. */
  sessions: string;
}

const ID_RE = /^[0-9a-f]{64}$/;
const SIGKILL = 9;

export default function runcDriver(ctx: DriverContext): Promise<ExecDriver> {
  return createRuncDriver(ctx, realExecHost(ctx.sys.exec));
}

export async function createRuncDriver(ctx: DriverContext, host: ExecHost, opts: RuncDriverOptions = {}): Promise<ExecDriver> {
  const runtimeName = ctx.config.runtime || 'runc';
  if (!/^[A-Za-z0-9._/+-]+$/.test(runtimeName)) throw invalidParameter(`invalid runtime "${runtimeName}"`);
  const execRoot = ctx.config.execRoot;
  const paths: Paths = {
    runtimeRoot: join(execRoot, runtimeName.split('/').pop()!),
    exits: join(execRoot, 'exec', 'exits'),
    meta: join(execRoot, 'exec', 'meta'),
    sessions: join(execRoot, 'exec', 'sessions'),
  };
  for (const p of Object.values(paths)) await host.mkdirp(p);
  const nofile = nofileFor(parseNofileHard(await host.readText('/proc/self/limits')));
  const d = new RuncDriver(ctx, host, paths, runtimeName, nofile, opts);
  return d.api();
}

class RuncDriver {
  readonly #ctx: DriverContext;
  readonly #host: ExecHost;
  readonly #paths: Paths;
  readonly #runtimeName: string;
  readonly #nofile: number;
  readonly #opts: Required<Omit<RuncDriverOptions, 'conmon'>> & { conmon: string };
  readonly #log: Log;
  readonly #exits: ExitWatcher;
  readonly #runtime: RuntimeOps;
  #binsP: Promise<{ runtime: string; conmon: string }> | undefined;

  constructor(ctx: DriverContext, host: ExecHost, paths: Paths, runtimeName: string, nofile: number, opts: RuncDriverOptions) {
    this.#ctx = ctx;
    this.#host = host;
    this.#paths = paths;
    this.#runtimeName = runtimeName;
    this.#nofile = nofile;
    this.#log = ctx.log;
    this.#opts = { conmon: opts.conmon ?? 'conmon', createTimeoutMs: opts.createTimeoutMs ?? 30_000, killWaitMs: opts.killWaitMs ?? 10_000 };
    this.#exits = new ExitWatcher(host, paths.exits, ctx.log, (id, dir) => this.#supervised(id, dir));
    this.#runtime = new RuntimeOps(host, ctx.log);
    this.#exits.start();
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
        exec_pause: (i) => this.freeze(i, true),
        exec_resume: (i) => this.freeze(i, false),
      },
      restore: () => this.restore(),
      shutdown: async () => this.#exits.close(),
      onExit: (cb) => this.#exits.onExit(cb),
      adopt: (ids) => this.adopt(ids),
      logs: (id, logPath, o) => this.logs(id, logPath, o ?? {}),
      attach: (id, bundleDir, o) => this.attach(id, bundleDir, o),
      resize: (id, bundleDir, h, w) => this.resize(id, bundleDir, h, w),
      exec: (id, bundleDir, execId, process, io) => this.exec(id, bundleDir, execId, process, io),
    };
  }

  // ---- small reads -------------------------------------------------------------------------

  /** True while the container's process or its conmon lives. */
  async #supervised(id: string, bundleDir: string): Promise<boolean> {
    const pid = await this.#pid(join(bundleDir, BUNDLE_FILES.pid));
    if (pid && (await this.#host.procState(pid)) === 'running') return true;
    const cpid = await this.#pid(join(bundleDir, BUNDLE_FILES.conmonPid));
    return cpid !== undefined && (await this.#host.procState(cpid)) === 'running';
  }

  /** OOMKilled: the kernel's count of OOM kills in the container's memory cgroup (v1
   *  memory.oom_control, v2 memory.events), which stays readable until exec_delete removes the
   *  cgroup. Only this driver's flat cgroup layout (spec.ts cgroupsPath) is looked at. */
  async #oomKilled(id: string): Promise<boolean> {
    const cg = cgroupsPath(this.#ctx.names.prefix, id);
    const v1 = await this.#host.readText(join('/sys/fs/cgroup/memory', cg, 'memory.oom_control'));
    if (v1 !== undefined) return parseOomKill(v1) > 0;
    const v2 = await this.#host.readText(join('/sys/fs/cgroup', cg, 'memory.events'));
    return v2 !== undefined && parseOomKill(v2) > 0;
  }

  /** Frozen (paused): the freezer of the driver's flat cgroup (v1 freezer.state FROZEN or
   *  FREEZING; v2 cgroup.freeze 1). */
  async #frozen(id: string): Promise<boolean> {
    const cg = cgroupsPath(this.#ctx.names.prefix, id);
    const v1 = await this.#host.readText(join('/sys/fs/cgroup/freezer', cg, 'freezer.state'));
    if (v1 !== undefined) return v1.trim() !== 'THAWED';
    const v2 = await this.#host.readText(join('/sys/fs/cgroup', cg, 'cgroup.freeze'));
    return v2 !== undefined && v2.trim() === '1';
  }

  /** After a signal meant to end it: a frozen container must be thawed for it to act on the
   *  signal (dockerd's kill and stop do this too), or exit waits would hang. */
  async #thawIfFrozen(id: string, meta: Meta | undefined): Promise<void> {
    if (!(await this.#frozen(id))) return;
    const runtime = meta?.runtime ?? (await this.#bins()).runtime;
    await this.#runtime.freeze(runtime, meta?.runtimeRoot ?? this.#paths.runtimeRoot, id, false);
  }

  async #pid(path: string): Promise<number | undefined> {
    const t = await this.#host.readText(path);
    const n = t === undefined ? NaN : Number.parseInt(t.trim(), 10);
    return Number.isInteger(n) && n > 0 ? n : undefined;
  }

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

  /** The runtime and conmon binaries, looked up once (and again after a failure). */
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
    const [passwd, group] = needsLookup(spec.process.user)
      ? await Promise.all([host.readInRoot(spec.rootfs, '/etc/passwd'), host.readInRoot(spec.rootfs, '/etc/group')])
      : [undefined, undefined];
    const user = resolveUser(spec.process.user, { passwd, group });
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
    // (but for this one) A `-v` source that does not exist becomes a directory (0755), as dockerd
    // makes it when the container starts; like dockerd's, it stays when the container goes.
    for (const m of spec.mounts ?? [])
      if (m.type === 'bind' && m.createSource && !(await host.exists(m.source)))
        await host.mkdirp(m.source, 0o755).catch((e) => {
          throw wrap(e, `error while creating mount source path '${m.source}'`);
        });
    await host.mkdirp(spec.bundleDir);
    job.undo.push('remove bundle files', () => this.#removeBundle(spec.bundleDir));
    job.undo.push('remove exec meta', () => host.removeFile(this.#metaPath(id)));
    await Promise.all([
      host.writeAtomic(this.#metaPath(id), JSON.stringify(meta)),
      host.writeAtomic(join(spec.bundleDir, BUNDLE_FILES.config), JSON.stringify(config)),
      this.#exits.clear(id), // an earlier run's code
    ]);

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
    const r = await host.spawnConmon(argv, this.#opts.createTimeoutMs, spec.bundleDir);
    const sync = parseSync(r.sync);
    if (!sync || 'error' in sync) {
      // conmon is gone or going; the runtime removed its half-made container (or we do)
      await this.#runtime.forceDelete(bins.runtime, this.#paths.runtimeRoot, id).catch(() => {});
      await this.#exits.clear(id);
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
    const pid = await this.#pid(join(i.bundleDir, BUNDLE_FILES.pid));
    await this.#runtime.start(meta.runtime, meta.runtimeRoot, id, pid);
    return { status: 'running', pid: pid ?? 0 };
  }

  async state(id: string, bundleDir: string): Promise<ExecState> {
    const ex = await this.#exits.read(id);
    if (ex) return { status: 'stopped', pid: 0, ...ex, ...((await this.#oomKilled(id)) ? { oomKilled: true } : {}) };
    const meta = await this.#meta(id);
    const dir = bundleDir || meta?.bundleDir;
    if (!dir) return { status: 'unknown', pid: 0 };
    const pid = await this.#pid(join(dir, BUNDLE_FILES.pid));
    if (pid === undefined) return { status: 'unknown', pid: 0 };
    if ((await this.#host.procState(pid)) === 'running') {
      // runc and crun keep exec.fifo in their state dir until the container is started
      const created = await this.#host.exists(execFifo(meta?.runtimeRoot ?? this.#paths.runtimeRoot, id));
      if (created) return { status: 'created', pid };
      return { status: 'running', pid, ...((await this.#frozen(id)) ? { paused: true } : {}) };
    }
    // the process is gone: conmon writes the exit file in a moment, unless conmon died too
    await this.#exits.wait(id, dir, 2_000);
    const ex2 = await this.#exits.read(id);
    if (ex2) return { status: 'stopped', pid: 0, ...ex2, ...((await this.#oomKilled(id)) ? { oomKilled: true } : {}) };
    return { status: 'stopped', pid: 0, exitCode: 255, finishedAt: new Date().toISOString() };
  }

  async kill(i: HandlerIn<'exec_kill'>): Promise<void> {
    const id = safeId(i.containerId);
    const signo = signalNumber(i.signal);
    const st = await this.state(id, i.bundleDir);
    // kill(2) on the init pid, as `runc kill` does, without running runc
    if ((st.status !== 'running' && st.status !== 'created') || !this.#host.signal(st.pid, signo))
      throw conflict(`container ${id} is not running`);
    if (st.paused) await this.#thawIfFrozen(id, await this.#meta(id));
  }

  /** Pause (on) or unpause a running container: the runtime freezes or thaws its cgroup. */
  async freeze(i: HandlerIn<'exec_pause'>, on: boolean): Promise<void> {
    const id = safeId(i.containerId);
    const meta = await this.#meta(id);
    const st = await this.state(id, i.bundleDir);
    if (!meta || st.status !== 'running') throw conflict(`container ${id} is not running`);
    await this.#runtime.freeze(meta.runtime, meta.runtimeRoot, id, on);
  }

  async stop(i: HandlerIn<'exec_stop'>): Promise<ExecState> {
    const id = safeId(i.containerId);
    const signo = signalNumber(i.signal);
    if (!Number.isFinite(i.timeoutSeconds)) throw invalidParameter(`invalid stop timeout ${i.timeoutSeconds}`);
    const st = await this.state(id, i.bundleDir);
    if (st.status !== 'running' && st.status !== 'created') return st;
    if (this.#host.signal(st.pid, signo)) {
      if (st.paused) await this.#thawIfFrozen(id, await this.#meta(id));
      const ms = i.timeoutSeconds < 0 ? -1 : Math.round(i.timeoutSeconds * 1000);
      if (!(await this.#exits.wait(id, i.bundleDir, ms))) {
        this.#log.info({ container: id, signal: i.signal, timeoutSeconds: i.timeoutSeconds }, 'container did not stop in time; sending SIGKILL');
        this.#host.signal(st.pid, SIGKILL);
        await this.#exits.wait(id, i.bundleDir, this.#opts.killWaitMs);
      }
    }
    return this.state(id, i.bundleDir);
  }

  /** Kill if running, wait for the exit, remove the runtime's state (never `delete --force` on a
   *  running container: runc 1.1 sleeps 100 ms in it), remove the bundle files. Idempotent. */
  async delete(id: string, bundleDir: string): Promise<ExecState> {
    const meta = await this.#meta(id);
    const dir = bundleDir || meta?.bundleDir;
    let st = await this.state(id, dir ?? '');
    if ((st.status === 'running' || st.status === 'created') && dir) {
      this.#host.signal(st.pid, SIGKILL);
      if (st.paused) await this.#thawIfFrozen(id, meta).catch((err) => this.#log.warn({ err, container: id }, 'thawing a paused container failed'));
      await this.#exits.wait(id, dir, this.#opts.killWaitMs);
      st = await this.state(id, dir);
    }
    const runtime = meta?.runtime ?? (await this.#bins()).runtime;
    await this.#runtime.delete(runtime, meta?.runtimeRoot ?? this.#paths.runtimeRoot, id);
    await this.#exits.clear(id);
    if (dir) await this.#removeBundle(dir);
    await this.#host.removeFile(this.#metaPath(id));
    return st.status === 'unknown' ? st : { ...st, pid: 0 };
  }

  async #removeBundle(dir: string): Promise<void> {
    // (+ `oom`: conmon's empty marker of an OOM in the container's cgroup, made in its cwd)
    await Promise.all([...Object.values(BUNDLE_FILES), 'oom'].map((f) => this.#host.removeFile(join(dir, f))));
    await this.#host.removeDir(dir);
  }

  // ---- restart ---------------------------------------------------------------------------

  /** Runtime state no meta file owns is a crash's leftover (meta is written before conmon starts
   *  and removed after the runtime's state): nothing the daemon can know about. Removed. */
  async restore(): Promise<ReconcileReport> {
    const removed: string[] = [];
    const metas = new Set((await this.#host.list(this.#paths.meta)).filter((n) => n.endsWith('.json')).map((n) => n.slice(0, -5)));
    for (const id of await this.#host.list(this.#paths.runtimeRoot)) {
      if (!ID_RE.test(id) || metas.has(id)) continue;
      try {
        await this.#removeLeftover(id);
        removed.push(`runtime state of ${id.slice(0, 12)}`);
      } catch (err) {
        this.#log.warn({ err, container: id }, 'removing leftover runtime state failed');
      }
    }
    // exec sessions of an earlier daemon whose process has ended (nobody else removes them)
    for (const s of await this.#host.list(this.#paths.sessions)) {
      const dir = join(this.#paths.sessions, s);
      const cpid = await this.#pid(join(dir, BUNDLE_FILES.conmonPid));
      if (cpid !== undefined && (await this.#host.procState(cpid)) === 'running') continue;
      await this.#host.removeTree(dir);
      removed.push(`exec session ${s.slice(0, 12)}`);
    }
    return { recreated: [], removed };
  }

  async adopt(ids: readonly string[]): Promise<AdoptReport> {
    const known = new Set(ids.map((id) => safeId(id)));
    const states: Record<string, ExecState> = {};
    for (const id of known) states[id] = await this.state(id, (await this.#meta(id))?.bundleDir ?? '');
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
    // only the runtime knows it (its state holds the init pid): let it kill and remove
    await this.#runtime.forceDelete((await this.#bins()).runtime, this.#paths.runtimeRoot, id);
    await this.#exits.clear(id);
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
      onExit: (cb) => this.#exits.subscribe(id, cb),
    });
  }

  async attach(idIn: string, bundleDir: string, o: AttachOptions): Promise<AttachSession> {
    safeId(idIn);
    if (!bundleDir.startsWith('/')) throw invalidParameter(`bundle dir must be absolute: ${bundleDir}`);
    return attachTo(this.#host, bundleDir, o);
  }

  async exec(idIn: string, bundleDir: string, execId: string, process: ProcessSpec, io: AttachOptions | undefined): Promise<ExecSession> {
    const id = safeId(idIn);
    safeId(execId);
    validateProcess(process);
    const st = await this.state(id, bundleDir);
    if (st.status !== 'running') throw conflict(`container ${id} is not running`);
    if (st.paused) throw conflict(`Container ${id} is paused, unpause the container before exec`);
    const meta = await this.#meta(id);
    if (!meta) throw conflict(`container ${id} is not running`);
    const bins = await this.#bins();
    return startExecSession(
      { host: this.#host, log: this.#log, conmon: bins.conmon, runtime: meta.runtime, runtimeRoot: meta.runtimeRoot, nofile: this.#nofile },
      id,
      meta.bundleDir,
      join(this.#paths.sessions, execId),
      process,
      io,
    );
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
}
