// docker exec: exec instances (create → start → inspect, resize) over the exec driver's sessions.
// An instance lives in memory only (as dockerd's exec store): it is kept after its process ends so
// that its exit code can be read, and forgotten with its container (or when too many finished ones
// pile up). It never outlives the daemon: a restarted berthd knows no exec instance.
// A container's inspect lists (ExecIDs) its instances that have not ended, as dockerd: created or
// running ones. When the container stops, its instances that never started are forgotten.
// The process gets the environment dockerd gives an exec: PATH, HOSTNAME, TERM (with a TTY), the
// legacy link variables, the container's Env, then the exec's Env (see execEnv).
import { randomBytes } from 'node:crypto';
import { hostname as osHostname } from 'node:os';
import type { AttachOptions, ExecDriver, ExecSession } from '../../drivers/driver.js';
import type { ProcessSpec } from '../../drivers/handlers.js';
import { BerthError, conflict, invalidParameter, notFound } from '../../drivers/errors.js';
import { parseDetachKeys } from '../../client/attach.js';
import type { Daemon } from '../daemon.js';
import { linkEnv } from './links.js';
import type { ContainerRecord } from './types.js';

/** POST /containers/{id}/exec, the keys berth reads (Docker's ExecConfig). */
export interface ExecCreateBody {
  AttachStdin?: boolean;
  AttachStdout?: boolean;
  AttachStderr?: boolean;
  DetachKeys?: string;
  Tty?: boolean;
  ConsoleSize?: [number, number] | null;
  Env?: string[] | null;
  Cmd?: string[] | null;
  Privileged?: boolean;
  User?: string;
  WorkingDir?: string;
  [k: string]: unknown;
}

/** POST /exec/{id}/start. */
export interface ExecStartBody {
  Detach?: boolean;
  Tty?: boolean;
  ConsoleSize?: [number, number] | null;
}

export interface ExecInstance {
  readonly id: string;
  readonly containerId: string;
  readonly cmd: string[];
  readonly env: string[];
  readonly user: string;
  readonly workingDir: string;
  readonly tty: boolean;
  readonly attachStdin: boolean;
  readonly attachStdout: boolean;
  readonly attachStderr: boolean;
  readonly detachKeys: string;
  consoleSize: [number, number] | undefined;
  state: 'created' | 'running' | 'exited';
  exitCode: number | null;
  pid: number;
  session?: ExecSession;
  /** Settles once the process runs or failed to start (resize waits for it). */
  readonly started: Promise<void>;
  markStarted(): void;
  /** Settles with the exit code once the process has ended (or failed to start). */
  readonly exited: Promise<number>;
  markExited(code: number): void;
}

/** A started, attached exec: output goes to `io.onOutput` until the process ends or `close()`. */
export interface ExecRun {
  /** Resolves with the exit code (the instance is already marked exited). */
  readonly exited: Promise<number>;
  /** Detach the client; the process goes on. */
  close(): void;
}

/** Finished instances kept per container (oldest forgotten first); running ones are always kept. */
export const MAX_FINISHED_PER_CONTAINER = 128;
/** How long a resize waits for the instance to start (as dockerd). */
const RESIZE_WAIT_MS = 10_000;

const USER_RE = /^[A-Za-z0-9_.][A-Za-z0-9_.-]*(:[A-Za-z0-9_.][A-Za-z0-9_.-]*)?$/;
/** Docker's default PATH for Linux containers (oci.DefaultPathEnv). */
const DEFAULT_PATH = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

export class ExecService {
  readonly #d: Daemon;
  readonly #execs = new Map<string, ExecInstance>();
  readonly #unsubscribe: () => void;
  readonly #execIds = (containerId: string): string[] => this.liveIds(containerId);

  constructor(d: Daemon) {
    this.#d = d;
    // A removed container takes its exec instances with it; a stopped one those that never ran
    // (dockerd's cleanup unregisters them; running ones end with the container and stay readable).
    this.#unsubscribe = d.events.subscribe((e) => {
      if (e.Type !== 'container') return;
      if (e.Action === 'destroy') this.#forgetContainer(e.Actor.ID);
      else if (e.Action === 'die') this.#forgetUnstarted(e.Actor.ID);
    });
    d.containers.execIds = this.#execIds;
  }

  close(): void {
    this.#unsubscribe();
    if (this.#d.containers.execIds === this.#execIds) this.#d.containers.execIds = () => [];
    for (const x of this.#execs.values()) x.session?.close();
  }

  #driver(): ExecDriver {
    const drv = this.#d.engine.driver('exec', this.#d.execDriver);
    if (!drv) throw new BerthError('system', 'no exec driver');
    return drv as ExecDriver;
  }

  get(id: string): ExecInstance {
    const x = this.#execs.get(id);
    if (!x) throw notFound(`No such exec instance: ${id}`);
    return x;
  }

  /** Exec instances of a container, in creation order. */
  ofContainer(containerId: string): ExecInstance[] {
    return [...this.#execs.values()].filter((x) => x.containerId === containerId);
  }

  /** A container's ExecIDs: its instances not yet ended (created, or running), in creation order. */
  liveIds(containerId: string): string[] {
    return this.ofContainer(containerId)
      .filter((x) => x.state !== 'exited')
      .map((x) => x.id);
  }

  /** Validate and record an exec instance; nothing runs yet. */
  create(ref: string, body: ExecCreateBody | undefined): { Id: string } {
    const b = body ?? {};
    const c = this.#d.containers.get(ref);
    if (b.Privileged) throw invalidParameter('berth does not support privileged exec (--privileged)');
    const cmd = b.Cmd ?? [];
    if (!Array.isArray(cmd) || cmd.length === 0 || cmd[0] === '') throw invalidParameter('No exec command specified');
    for (const a of cmd) if (typeof a !== 'string' || a.includes('\0')) throw invalidParameter('an exec command argument holds a NUL byte');
    const userEnv = b.Env ?? [];
    for (const e of userEnv) {
      if (typeof e !== 'string' || e.includes('\0')) throw invalidParameter('an environment entry holds a NUL byte');
      if (envName(e) === '') throw invalidParameter(`invalid environment variable: ${e}`);
    }
    const tty = Boolean(b.Tty);
    const workingDir = b.WorkingDir || c.config.WorkingDir || '/';
    if (!workingDir.startsWith('/')) throw invalidParameter(`the working directory '${workingDir}' is invalid, it needs to be an absolute path`);
    const user = b.User ?? '';
    if (user !== '' && !USER_RE.test(user)) throw invalidParameter(`invalid user "${user}"`);
    const detachKeys = b.DetachKeys ?? '';
    if (detachKeys !== '') {
      try {
        parseDetachKeys(detachKeys);
      } catch {
        throw invalidParameter(`Invalid detach keys (${detachKeys}) provided`);
      }
    }
    const consoleSize = consoleSizeOf(b.ConsoleSize);
    this.#assertRunning(c);
    const env = execEnv({ hostname: c.config.Hostname || osHostname(), tty, links: this.#linkEnv(c), config: c.config.Env, exec: userEnv });

    const id = randomBytes(32).toString('hex');
    const x = newInstance({
      id,
      containerId: c.id,
      cmd: [...cmd],
      env,
      user: user || c.config.User || '',
      workingDir,
      tty,
      attachStdin: Boolean(b.AttachStdin),
      attachStdout: Boolean(b.AttachStdout),
      attachStderr: Boolean(b.AttachStderr),
      detachKeys,
      consoleSize,
    });
    this.#execs.set(id, x);
    this.#prune(c.id);
    this.#d.events.publish('container', `exec_create: ${cmd.join(' ')}`, c.id, { ...this.#attrs(c), execID: id });
    return { Id: id };
  }

  /**
   * Checks that an instance may start now (404, 409) and marks it running, so that a second start
   * is refused. Call before answering the client with 101; then `run`.
   */
  claim(id: string, body: ExecStartBody | undefined): ExecInstance {
    const x = this.get(id);
    if (x.state === 'running') throw conflict(`Error: Exec command ${id} is already running`);
    if (x.state === 'exited') throw conflict(`Error: Exec command ${id} has already run`);
    const c = this.#d.containers.get(x.containerId);
    this.#assertRunning(c);
    const size = consoleSizeOf(body?.ConsoleSize);
    if (size) x.consoleSize = size;
    x.state = 'running';
    return x;
  }

  /**
   * Run a claimed instance. With `io` the process's stdio is attached before it runs; without (-d)
   * its output is dropped. Rejects when the process could not start; the instance then has exited
   * with 127 (command not found) or 126 (any other failure), as dockerd.
   */
  async run(x: ExecInstance, io?: AttachOptions): Promise<ExecRun> {
    const c = this.#d.containers.get(x.containerId);
    const process: ProcessSpec = {
      args: x.cmd,
      env: x.env,
      cwd: x.workingDir,
      user: x.user || '0',
      tty: x.tty,
      openStdin: x.attachStdin && io?.stdin !== undefined,
      ...(x.tty && x.consoleSize ? { consoleSize: { height: x.consoleSize[0], width: x.consoleSize[1] } } : {}),
    };
    let session: ExecSession;
    try {
      session = await this.#driver().exec(c.id, this.#d.containers.bundleDir(c.id), x.id, process, io);
    } catch (err) {
      const msg = err instanceof Error ? err.message : String(err);
      x.markExited(/executable file not found|no such file or directory/i.test(msg) ? 127 : 126);
      x.markStarted();
      throw err;
    }
    x.session = session;
    x.pid = session.pid;
    x.markStarted();
    this.#d.events.publish('container', `exec_start: ${x.cmd.join(' ')}`, c.id, { ...this.#attrs(c), execID: x.id });
    const exited = session.exitCode.then(
      (code) => code,
      () => 255,
    );
    void exited.then((code) => {
      x.markExited(code);
      delete x.session;
      const cur = this.#d.containers.find(x.containerId);
      this.#d.events.publish('container', 'exec_die', x.containerId, { ...(cur ? this.#attrs(cur) : {}), execID: x.id, exitCode: String(code) });
      this.#prune(x.containerId);
    });
    return { exited: x.exited, close: () => session.close() };
  }

  /** Resize the instance's TTY; waits for a start in flight. An instance that has ended is left alone. */
  async resize(id: string, height: number, width: number): Promise<void> {
    const x = this.get(id);
    for (const v of [height, width]) if (!Number.isInteger(v) || v < 0 || v > 65535) throw invalidParameter(`invalid terminal size ${height}x${width}`);
    if (x.state === 'created') {
      // docker resizes right after the start request: wait for the process, a bounded while
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), RESIZE_WAIT_MS)));
      const r = await Promise.race([x.started.then(() => 'started' as const), timeout]);
      clearTimeout(timer);
      if (r === 'timeout') throw conflict(`exec ${id} has not been started`);
    }
    await x.started;
    if (x.state !== 'running' || !x.session) return;
    await x.session.resize(height, width);
  }

  /** GET /exec/{id}/json in Docker's shape. */
  inspect(id: string): Record<string, unknown> {
    const x = this.get(id);
    return {
      ID: x.id,
      Running: x.state === 'running',
      ExitCode: x.exitCode,
      ProcessConfig: {
        tty: x.tty,
        entrypoint: x.cmd[0],
        arguments: x.cmd.slice(1),
        privileged: false,
        ...(x.user ? { user: x.user } : {}),
      },
      OpenStdin: x.attachStdin,
      OpenStderr: x.attachStderr,
      OpenStdout: x.attachStdout,
      CanRemove: false,
      ContainerID: x.containerId,
      DetachKeys: x.detachKeys,
      Pid: x.state === 'running' ? x.pid : 0,
    };
  }

  #assertRunning(c: ContainerRecord): void {
    if (c.state.status === 'restarting') throw conflict(`Container ${c.id} is restarting, wait until the container is running`);
    if (c.state.status !== 'running') throw conflict(`container ${c.id} is not running`);
    if (c.state.paused) throw conflict(`Container ${c.id} is paused, unpause the container before exec`);
  }

  /**
   * The legacy link variables of a container on the default bridge, worked out now from the linked
   * containers' addresses (as dockerd at exec create): a linked container that is not running fails
   * the exec; one that was removed since is left out.
   */
  #linkEnv(c: ContainerRecord): string[] {
    if (c.links.length === 0) return [];
    const bridge = this.#d.networks.find('bridge');
    if (!bridge || !c.endpoints[bridge.id]) return [];
    const env: string[] = [];
    for (const l of c.links) {
      const t = this.#d.containers.find(l.containerId);
      if (!t) continue;
      const fullName = `/${c.name}/${l.alias}`;
      if (t.state.status !== 'running') throw conflict(`Cannot link to a non running container: /${t.name} AS ${fullName}`);
      const epId = t.endpoints[bridge.id];
      const ip = (epId ? this.#d.store.get('endpoint', epId)?.ipv4 : undefined)?.split('/')[0];
      if (!ip) throw conflict(`container ${t.id} not attached to default bridge network`);
      env.push(...linkEnv({ fullName, alias: l.alias, ip, exposed: Object.keys(t.config.ExposedPorts ?? {}), env: t.config.Env }));
    }
    return env;
  }

  #forgetContainer(containerId: string): void {
    for (const x of this.ofContainer(containerId)) {
      x.session?.close();
      this.#execs.delete(x.id);
    }
  }

  #forgetUnstarted(containerId: string): void {
    for (const x of this.ofContainer(containerId)) if (x.state === 'created') this.#execs.delete(x.id);
  }

  /** Forget the oldest finished instances of a container beyond MAX_FINISHED_PER_CONTAINER. */
  #prune(containerId: string): void {
    const finished = this.ofContainer(containerId).filter((x) => x.state === 'exited');
    for (const x of finished.slice(0, Math.max(0, finished.length - MAX_FINISHED_PER_CONTAINER))) this.#execs.delete(x.id);
  }

  #attrs(c: ContainerRecord): Record<string, string> {
    return { name: c.name, image: c.image, ...c.config.Labels };
  }
}

/**
 * An exec's environment, in dockerd's order: PATH, HOSTNAME, TERM=xterm when the exec has a TTY, the
 * link variables; then the container's Env and after it the exec's Env each replace a variable of
 * the same name in place or are appended. An exec entry without `=` unsets the variable.
 */
export function execEnv(o: { hostname: string; tty: boolean; links: string[]; config: string[]; exec: string[] }): string[] {
  const base = [DEFAULT_PATH, `HOSTNAME=${o.hostname}`, ...(o.tty ? ['TERM=xterm'] : []), ...o.links];
  return replaceOrAppendEnv(replaceOrAppendEnv(base, o.config), o.exec);
}

/** Docker's ReplaceOrAppendEnvValues: each override replaces the default of its name where it
 *  stands (an unset one comes back there) or is appended; `NAME` alone removes NAME. Unlike
 *  Docker, a name given twice among the overrides is kept once (the last), as berth's create does. */
export function replaceOrAppendEnv(defaults: string[], overrides: string[]): string[] {
  const out: (string | undefined)[] = [...defaults];
  const at = new Map<string, number>();
  out.forEach((kv, i) => at.set(envName(kv!), i));
  for (const kv of overrides) {
    const name = envName(kv);
    const i = at.get(name);
    if (!kv.includes('=')) {
      if (i !== undefined) out[i] = undefined;
    } else if (i !== undefined) {
      out[i] = kv;
    } else {
      at.set(name, out.push(kv) - 1);
    }
  }
  return out.filter((kv): kv is string => kv !== undefined);
}

function envName(kv: string): string {
  const eq = kv.indexOf('=');
  return eq < 0 ? kv : kv.slice(0, eq);
}

/** Docker's ConsoleSize [height, width]; [0, 0] and null mean "not given". */
export function consoleSizeOf(v: unknown): [number, number] | undefined {
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v) || v.length !== 2 || !v.every((n) => Number.isInteger(n) && n >= 0 && n <= 65535))
    throw invalidParameter(`invalid ConsoleSize: ${JSON.stringify(v)}`);
  const [h, w] = v as [number, number];
  return h === 0 && w === 0 ? undefined : [h, w];
}

function newInstance(
  fields: Omit<ExecInstance, 'state' | 'exitCode' | 'pid' | 'started' | 'markStarted' | 'exited' | 'markExited' | 'session'>,
): ExecInstance {
  let startedResolve!: () => void;
  let exitedResolve!: (code: number) => void;
  const started = new Promise<void>((r) => (startedResolve = r));
  const exited = new Promise<number>((r) => (exitedResolve = r));
  const x: ExecInstance = {
    ...fields,
    state: 'created',
    exitCode: null,
    pid: 0,
    started,
    markStarted: () => startedResolve(),
    exited,
    markExited: (code) => {
      if (x.state === 'exited') return;
      x.state = 'exited';
      x.exitCode = code;
      x.pid = 0;
      exitedResolve(code);
    },
  };
  return x;
}
