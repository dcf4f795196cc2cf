// A real berthd for kernel and e2e tests: started as a process inside a test "host" netns (or the
// current one), with its socket, state and runtime dirs under a per-test temp dir whose name
// carries the run prefix. `stop` sends SIGTERM and waits; the global teardown kills leftovers by PID.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync, existsSync, readFileSync } from 'node:fs';
import { request } from 'node:http';
import { join, resolve } from 'node:path';
import { tmpdir } from 'node:os';
import { run, nsenterArgs, type Result } from './sh.js';
import { runPrefix } from './prefix.js';

export const ROOT = resolve(import.meta.dirname, '../..');
export const BERTHD = join(ROOT, 'dist/bin/berthd.mjs');
export const BERTH = join(ROOT, 'dist/bin/berth.mjs');

export function pidsDir(prefix = runPrefix()): string {
  return join(tmpdir(), `berth-test-${prefix}-pids`);
}

export function registerPid(pid: number): void {
  mkdirSync(pidsDir(), { recursive: true });
  writeFileSync(join(pidsDir(), String(pid)), '');
}

export function unregisterPid(pid: number): void {
  rmSync(join(pidsDir(), String(pid)), { force: true });
}

/** A temp dir whose path names the run (`/tmp/berth-test-<prefix>-…`), so sweeps can find it. */
export function testDir(label: string): string {
  return mkdtempSync(join(tmpdir(), `berth-test-${runPrefix()}-${label}-`));
}

export interface TestDaemon {
  dir: string;
  socket: string;
  host: string;
  netns: string | undefined;
  namePrefix: string;
  pid: number;
  /** berthd's stderr so far (JSON log lines). */
  log(): string;
  cli(args: string[], opts?: { input?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number }): Promise<Result>;
  docker(args: string[], opts?: { input?: string; timeoutMs?: number }): Promise<Result>;
  /** SIGTERM and wait for the exit code. */
  stop(): Promise<number | null>;
  /** SIGKILL, as a crash would. */
  kill9(): Promise<void>;
  /** Start again on the same dirs (after stop or kill9). */
  restart(): Promise<void>;
  /** stop if running, remove the temp dir. */
  cleanup(): Promise<void>;
  /** `rm -f` every container (their conmons and mounts go with them), then cleanup(). */
  teardown(): Promise<void>;
}

export interface DaemonOptions {
  /** The netns playing the host; undefined runs berthd in the current netns. */
  netns?: string;
  /** The prefix for netns names berthd makes (default: the netns name's prefix or the run's). */
  namePrefix: string;
  args?: string[];
  env?: NodeJS.ProcessEnv;
}

function ping(socketPath: string): Promise<boolean> {
  return new Promise((res) => {
    const req = request({ socketPath, path: '/_ping', method: 'GET' }, (r) => {
      r.resume();
      res(r.statusCode === 200);
    });
    req.on('error', () => res(false));
    req.end();
  });
}

export async function startTestDaemon(opts: DaemonOptions): Promise<TestDaemon> {
  const dir = testDir('d');
  const socket = join(dir, 'berth.sock');
  const host = `unix://${socket}`;
  const argv = [
    process.execPath,
    '--single-threaded-gc', // as berthd's shebang and installed wrapper run it
    BERTHD,
    '-H',
    host,
    '--data-root',
    join(dir, 'data'),
    '--exec-root',
    join(dir, 'run'),
    '--pidfile',
    join(dir, 'berthd.pid'),
    '--name-prefix',
    opts.namePrefix,
    ...(opts.args ?? []),
  ];
  let proc: ChildProcess;
  let stderr = '';
  let exited: Promise<number | null>;

  async function launch(): Promise<void> {
    stderr = '';
    const full = opts.netns ? [...nsenterArgs(opts.netns), ...argv] : argv;
    proc = spawn(full[0]!, full.slice(1), { env: { ...process.env, ...opts.env }, stdio: ['ignore', 'ignore', 'pipe'] });
    registerPid(proc.pid!);
    proc.stderr!.on('data', (c) => (stderr += c.toString()));
    exited = new Promise((res) => proc.once('exit', (code) => res(code)));
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline) {
      if (proc.exitCode !== null) throw new Error(`berthd exited with ${proc.exitCode}: ${stderr}`);
      if (existsSync(socket) && (await ping(socket))) return;
      await new Promise((r) => setTimeout(r, 25));
    }
    throw new Error(`berthd did not answer /_ping within 20 s: ${stderr}`);
  }
  await launch();

  const d: TestDaemon = {
    dir,
    socket,
    host,
    netns: opts.netns,
    namePrefix: opts.namePrefix,
    get pid() {
      return proc.pid!;
    },
    log: () => stderr,
    cli: (args, o = {}) => run([process.execPath, BERTH, '-H', host, ...args], { ...o, env: { ...process.env, ...o.env } }),
    docker: (args, o = {}) => run(['docker', '-H', host, ...args], o),
    async stop() {
      if (proc.exitCode !== null || proc.signalCode !== null) return proc.exitCode;
      proc.kill('SIGTERM');
      const code = await exited;
      unregisterPid(proc.pid!);
      return code;
    },
    async kill9() {
      if (proc.exitCode === null && proc.signalCode === null) {
        proc.kill('SIGKILL');
        await exited;
      }
      unregisterPid(proc.pid!);
    },
    async restart() {
      await launch();
    },
    async cleanup() {
      await d.stop();
      // Whatever berthd left mounted under its dir (it should have left nothing).
      const mounts = readFileSync('/proc/mounts', 'utf8').split('\n').map((l) => l.split(' ')[1] ?? '').filter((m) => m.startsWith(dir)).reverse();
      for (const m of mounts) await run(['umount', '-l', m]);
      rmSync(dir, { recursive: true, force: true });
    },
    async teardown() {
      const ids = (await d.cli(['ps', '-aq'])).stdout.split('\n').filter(Boolean);
      if (ids.length) await d.cli(['rm', '-f', ...ids]);
      await d.cleanup();
    },
  };
  return d;
}
