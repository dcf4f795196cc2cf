// A stateful fake of the exec driver's host adapter: files and dirs in memory, processes as a table,
// a conmon that "creates" the container (pid file, conmon pid, the runtime's state dir with
// exec.fifo) and writes the exit file when the process gets a fatal signal, as the real one does.
import { dirname } from 'node:path';
import type { Exec } from '../../../drivers/sys/exec.js';
import { CommandError } from '../../../drivers/sys/exec.js';
import type { ExecHost, LogFile, ProcState, Seqpacket } from '../../../drivers/exec/runc/host.js';

export class FakeExecHost implements ExecHost {
  readonly files = new Map<string, string>();
  readonly dirs = new Set<string>();
  readonly procs = new Map<number, ProcState>();
  readonly calls: string[] = [];
  readonly watchers = new Map<string, Set<(name: string | null) => void>>();
  /** What the next conmon start does. */
  conmon: { fail?: string } = {};
  #nextPid = 1000;

  readonly exec: Exec = {
    run: async (argv) => {
      this.calls.push(`run ${argv.join(' ')}`);
      const [, , root, cmd, ...rest] = argv;
      const id = rest[rest.length - 1]!;
      if (cmd === 'start') {
        if (!this.files.has(`${root}/${id}/exec.fifo`)) throw new CommandError([...argv], 1, 'cannot start a container that has stopped');
        this.files.delete(`${root}/${id}/exec.fifo`);
      } else if (cmd === 'pause' || cmd === 'resume') {
        // runc's freezer (cgroup v1): the state file; a thaw delivers the fatal signals held back
        if (!this.dirs.has(`${root}/${id}`)) throw new CommandError([...argv], 1, 'container does not exist');
        this.files.set(FakeExecHost.freezer(id), cmd === 'pause' ? 'FROZEN\n' : 'THAWED\n');
        if (cmd === 'resume') for (const [pid, c] of this.#conmons) if (c.id === id && c.held !== undefined) this.exit(pid, c.held);
      } else if (cmd === 'delete') {
        await this.removeTree(`${root}/${id}`);
        for (const d of [...this.dirs]) if (d.startsWith('/sys/fs/cgroup/') && d.endsWith(id)) this.dirs.delete(d);
      }
      return '';
    },
  };

  /** Every path that exists, files and dirs, sorted. */
  tree(): string[] {
    return [...this.files.keys(), ...this.dirs].sort();
  }

  async which(p: string) {
    return p.includes('/') ? p : `/usr/bin/${p}`;
  }

  async spawnConmon(argv: readonly string[]) {
    this.calls.push(`conmon ${argv.slice(1).join(' ')}`);
    const arg = (flag: string) => argv[argv.indexOf(flag) + 1]!;
    if (this.conmon.fail) return { sync: `{"data": -1, "message": ${JSON.stringify(this.conmon.fail)}}\n`, stderr: '', code: 0 };
    const id = arg('--cid');
    const bundle = arg('--bundle');
    const root = argv[argv.indexOf('--root') + 2]!;
    const pid = this.#nextPid++;
    const cpid = this.#nextPid++;
    this.procs.set(pid, 'running');
    this.procs.set(cpid, 'running');
    this.files.set(`${bundle}/pidfile`, String(pid));
    this.files.set(`${bundle}/conmon.pid`, String(cpid));
    this.dirs.add(`${root}/${id}`);
    this.files.set(`${root}/${id}/exec.fifo`, '');
    const cg = (h: string) => `/sys/fs/cgroup/${h}/berth-${id}`;
    for (const h of ['memory', 'pids', 'unified']) this.dirs.add(cg(h));
    this.files.set(`${root}/${id}/state.json`, JSON.stringify({ init_process_pid: pid, cgroup_paths: { memory: cg('memory'), pids: cg('pids'), '': cg('unified') } }));
    this.files.set(arg('--log-path').replace(/^k8s-file:/, ''), '');
    this.#conmons.set(pid, { id, cpid, exitDir: arg('--exit-dir') });
    return { sync: `{"data": ${pid}}\n`, stderr: '', code: 0 };
  }
  readonly #conmons = new Map<number, { id: string; cpid: number; exitDir: string; held?: number }>();
  /** The freezer state file of a container's cgroup (the driver's flat layout, prefix berth). */
  static freezer(id: string) {
    return `/sys/fs/cgroup/freezer/berth-${id}/freezer.state`;
  }

  /** conmon --exec: reports a pid at once and the exit code `execExit` after the start words. */
  execExit = 0;
  /** Ends the running exec session (its process exits with execExit). */
  endExec: () => void = () => {};
  spawnConmonExec(argv: readonly string[], attach: boolean) {
    this.calls.push(`conmon-exec ${argv.slice(1).join(' ')}`);
    const ended = new Promise<void>((r) => (this.endExec = r));
    const lines = [`{"data": ${this.#nextPid++}}`];
    let starts = 0;
    return {
      nextSync: async () => {
        if (lines.length) return lines.shift();
        await ended;
        return `{"data": ${this.execExit}}`;
      },
      nextAttach: async () => (attach && starts >= 1 ? '{"data": 0}' : undefined),
      start: () => void starts++,
      close: () => {},
    };
  }

  /** The container process `pid` ends with `code`: conmon writes the exit file and goes. */
  exit(pid: number, code: number): void {
    const c = this.#conmons.get(pid);
    this.procs.set(pid, 'gone');
    if (!c) return;
    this.procs.set(c.cpid, 'gone');
    this.files.set(`${c.exitDir}/${c.id}`, String(code));
    this.#mtimes.set(`${c.exitDir}/${c.id}`, new Date());
    for (const w of this.watchers.get(c.exitDir) ?? []) w(c.id);
  }
  readonly #mtimes = new Map<string, Date>();

  async readText(p: string) {
    return this.files.get(p);
  }
  async readInRoot(root: string, p: string) {
    return this.files.get(`${root}${p}`);
  }
  async writeAtomic(p: string, text: string) {
    if (!this.dirs.has(dirname(p))) throw Object.assign(new Error(`ENOENT: ${p}`), { code: 'ENOENT' });
    this.calls.push(`write ${p}`);
    this.files.set(p, text);
  }
  async mkdirp(p: string) {
    for (let d = p; d !== '/' && !this.dirs.has(d); d = dirname(d)) this.dirs.add(d);
  }
  async removeFile(p: string) {
    this.files.delete(p);
  }
  async removeDir(p: string) {
    if ([...this.files.keys(), ...this.dirs].some((x) => x.startsWith(`${p}/`))) return false;
    return this.dirs.delete(p);
  }
  async mtime(p: string) {
    return this.files.has(p) ? (this.#mtimes.get(p) ?? new Date(0)) : undefined;
  }
  async exists(p: string) {
    return this.files.has(p) || this.dirs.has(p);
  }
  async list(dir: string) {
    const out = new Set<string>();
    for (const p of [...this.files.keys(), ...this.dirs]) if (dirname(p) === dir) out.add(p.slice(dir.length + 1));
    return [...out];
  }
  async procState(pid: number) {
    return this.procs.get(pid) ?? 'gone';
  }
  signal(pid: number, signo: number) {
    this.calls.push(`kill ${pid} ${signo}`);
    if (this.procs.get(pid) !== 'running') return false;
    const c = this.#conmons.get(pid);
    const frozen = c !== undefined && this.files.get(FakeExecHost.freezer(c.id)) === 'FROZEN\n';
    // a frozen task acts on a fatal signal only once thawed (cgroup v1 freezer)
    if ((signo === 9 || signo === 15) && frozen) c.held = 128 + signo;
    else if (signo === 9 || signo === 15) queueMicrotask(() => this.exit(pid, 128 + signo));
    return true;
  }
  watchDir(dir: string, onName: (name: string | null) => void) {
    const set = this.watchers.get(dir) ?? new Set();
    this.watchers.set(dir, set);
    set.add(onName);
    return { close: () => set.delete(onName) };
  }
  watchFile() {
    return { close() {} };
  }
  async openLog(): Promise<LogFile | undefined> {
    return undefined;
  }
  async connectSeqpacket(): Promise<Seqpacket> {
    throw new Error('No such file or directory');
  }
  async awaitFifoByte(p: string) {
    this.calls.push(`fifo ${p}`);
    return this.files.has(p); // the container's init is there and writes at once
  }
  async removeTree(p: string) {
    for (const f of [...this.files.keys()]) if (f === p || f.startsWith(`${p}/`)) this.files.delete(f);
    for (const d of [...this.dirs]) if (d === p || d.startsWith(`${p}/`)) this.dirs.delete(d);
  }
  async removeCgroup(p: string) {
    this.calls.push(`rmdir ${p}`);
    this.dirs.delete(p);
  }
  async writeFifo(p: string) {
    if (!this.files.has(p)) throw Object.assign(new Error('ENXIO'), { code: 'ENXIO' });
  }
}
