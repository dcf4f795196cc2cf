// Starting and deleting a created container. For runc the two steps on every `run` path are done
// the way runc itself does them, without running runc (each run of it costs ~10 ms here): start =
// release the exec fifo its init waits on; delete of a stopped container = remove its cgroups and
// its state dir. Anything unexpected falls back to the runtime's binary, as other runtimes (crun)
// always do. Be aware: this knows runc 1.1's state layout (<root>/<id>/{exec.fifo,state.json}).
import { join } from 'node:path';
import type { Log } from '../../log.js';
import { CommandError } from '../../sys/exec.js';
import type { ExecHost } from './host.js';
import { runtimeError } from './conmon.js';

export const isRunc = (runtime: string) => runtime.split('/').pop() === 'runc';

/** Where a runtime's state for `id` lives, and the file runc (and crun) keep until start. */
export const stateDir = (root: string, id: string) => join(root, id);
export const execFifo = (root: string, id: string) => join(root, id, 'exec.fifo');

export class RuntimeOps {
  readonly #host: ExecHost;
  readonly #log: Log;

  constructor(host: ExecHost, log: Log) {
    this.#host = host;
    this.#log = log;
  }

  /** Let a created container's process run. `pid` is its init (from conmon's pid file). */
  async start(runtime: string, root: string, id: string, pid: number | undefined): Promise<void> {
    if (isRunc(runtime) && pid !== undefined && (await this.#releaseFifo(root, id, pid))) return;
    try {
      await this.#host.exec.run([runtime, '--root', root, 'start', id]);
    } catch (e) {
      if (e instanceof CommandError) throw runtimeError('OCI runtime start failed', e.stderr, e);
      throw e;
    }
  }

  /** Remove the runtime's state of a container that has exited; absent is fine. */
  async delete(runtime: string, root: string, id: string): Promise<void> {
    if (!(await this.#host.exists(stateDir(root, id)))) return;
    if (isRunc(runtime) && (await this.#destroyRunc(root, id))) return;
    try {
      await this.#host.exec.run([runtime, '--root', root, 'delete', id]);
    } catch (e) {
      this.#log.warn({ err: e, container: id }, 'runtime delete failed; forcing');
      await this.forceDelete(runtime, root, id);
    }
  }

  /** Freeze (`pause`) or thaw (`resume`) a running container: the runtime's own commands (runc
   *  writes the freezer cgroup and waits until every task is frozen). */
  async freeze(runtime: string, root: string, id: string, on: boolean): Promise<void> {
    const cmd = on ? 'pause' : 'resume';
    try {
      await this.#host.exec.run([runtime, '--root', root, cmd, id]);
    } catch (e) {
      if (e instanceof CommandError) throw runtimeError(`OCI runtime ${cmd} failed`, e.stderr, e);
      throw e;
    }
  }

  /** `delete --force`: for leftovers and half-made containers only (runc 1.1 sleeps 100 ms in it). */
  async forceDelete(runtime: string, root: string, id: string): Promise<void> {
    if (!(await this.#host.exists(stateDir(root, id)))) return;
    try {
      await this.#host.exec.run([runtime, '--root', root, 'delete', '--force', id]);
    } catch (e) {
      if (e instanceof CommandError && /does not exist|not found/i.test(e.stderr)) return;
      throw e;
    }
  }

  /** What `runc start` does: read the first byte of exec.fifo (the init writes it and execs), then
   *  remove the fifo (runc tells "created" from "running" by it). false: run `runc start`. */
  async #releaseFifo(root: string, id: string, pid: number): Promise<boolean> {
    const fifo = execFifo(root, id);
    if (!(await this.#host.exists(fifo))) return false;
    const released = await this.#host.awaitFifoByte(fifo, 10_000, async () => (await this.#host.procState(pid)) === 'running');
    if (!released) return false;
    await this.#host.removeFile(fifo);
    return true;
  }

  /** What `runc delete` does for a stopped container of ours: our containers have their own pid
   *  namespace and no hooks, so removing the cgroups (from state.json) and the state dir is all. */
  async #destroyRunc(root: string, id: string): Promise<boolean> {
    try {
      const text = await this.#host.readText(join(stateDir(root, id), 'state.json'));
      if (text === undefined) return false;
      const state = JSON.parse(text) as { cgroup_paths?: Record<string, unknown>; init_process_pid?: unknown };
      if (typeof state.init_process_pid === 'number' && (await this.#host.procState(state.init_process_pid)) === 'running') return false;
      const paths = Object.values(state.cgroup_paths ?? {});
      if (!paths.every((p): p is string => typeof p === 'string' && p.startsWith('/sys/fs/cgroup/') && !p.split('/').includes('..'))) return false;
      for (const p of paths) await this.#host.removeCgroup(p);
      await this.#host.removeTree(stateDir(root, id));
      return true;
    } catch (err) {
      this.#log.warn({ err, container: id }, 'removing the runc state directly failed; running runc delete');
      return false;
    }
  }
}
