// Running programs: argument arrays only (never a shell), one error type with everything needed to
// tell what failed. Every execution is reported to `onExec` so the engine can count them per job.
// node:child_process rather than execa: execa took ~100 ms to import (a third of berthd's start)
// and added ~1 ms to each of the few executions a container start makes; we use none of its extras.
import { execFile } from 'node:child_process';
import { systemError, BerthError } from '../errors.js';

export interface RunOptions {
  /** Written to the program's stdin. */
  input?: string;
  /** Milliseconds before the program is killed. */
  timeoutMs?: number;
  env?: Record<string, string>;
}

export interface Exec {
  /** Run argv; resolve with stdout, reject with a CommandError on a non-zero exit. */
  run(argv: readonly string[], opts?: RunOptions): Promise<string>;
  /** Whether `pid` is a program this Exec runs, or ran in the last few seconds (the flush watcher
   *  tells berth's firewall transactions by the pid `nft monitor` names). */
  ran?(pid: number): boolean;
}

export class CommandError extends BerthError {
  readonly argv: readonly string[];
  readonly exitCode: number | undefined;
  readonly stderr: string;
  constructor(argv: readonly string[], exitCode: number | undefined, stderr: string, cause?: unknown) {
    const what = stderr.trim().split('\n').slice(-3).join('; ') || `exit code ${exitCode}`;
    super('system', `${argv[0]} failed: ${what}`, { cause });
    this.argv = argv;
    this.exitCode = exitCode;
    this.stderr = stderr;
  }
}

export type ExecObserver = (argv: readonly string[], ms: number, ok: boolean) => void;

/** How long a child's pid is remembered after its end: enough for `nft monitor`'s line about its
 *  transaction to arrive, far too short for the kernel to hand the pid out again. */
const REMEMBER_MS = 5000;

export function realExec(onExec?: ExecObserver): Exec {
  // pid → when it ended (0 while it runs); pruned as new children start
  const children = new Map<number, number>();
  const forget = () => {
    const old = performance.now() - REMEMBER_MS;
    for (const [pid, ended] of children) if (ended !== 0 && ended < old) children.delete(pid);
  };
  return {
    ran(pid) {
      const ended = children.get(pid);
      return ended !== undefined && (ended === 0 || performance.now() - ended < REMEMBER_MS);
    },
    async run(argv, opts = {}) {
      const [file, ...args] = argv;
      if (!file) throw systemError('empty command');
      const t0 = performance.now();
      const r = await new Promise<{ code: number | undefined; stdout: string; stderr: string; error?: Error }>((resolve) => {
        const child = execFile(
          file,
          args,
          {
            timeout: opts.timeoutMs ?? 60_000,
            maxBuffer: 256 * 1024 * 1024,
            env: opts.env ? { ...process.env, ...opts.env } : process.env,
            encoding: 'utf8',
          },
          (err, stdout, stderr) => {
            const e = err as (NodeJS.ErrnoException & { code?: number | string; killed?: boolean }) | null;
            resolve({
              code: e ? (typeof e.code === 'number' ? e.code : undefined) : 0,
              stdout: String(stdout),
              stderr: String(stderr) || (e && typeof e.code !== 'number' ? e.message : ''),
              ...(e ? { error: e } : {}),
            });
          },
        );
        const pid = child.pid;
        if (pid !== undefined) {
          forget();
          children.set(pid, 0);
          child.once('exit', () => children.set(pid, performance.now()));
        }
        child.stdin?.on('error', () => {}); // a program that exits without reading its input
        child.stdin?.end(opts.input ?? '');
      });
      const ok = r.code === 0 && !r.error;
      onExec?.(argv, performance.now() - t0, ok);
      if (!ok) throw new CommandError(argv, r.code, r.stderr, r.error);
      return r.stdout;
    },
  };
}
