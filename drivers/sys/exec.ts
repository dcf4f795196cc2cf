// Running programs: argument arrays only (never a shell), one error type with everything needed to
// tell what failed. Every execution is reported to `onExec` so the engine can count them per job.
import { execa } from 'execa';
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

export function realExec(onExec?: ExecObserver): Exec {
  return {
    async run(argv, opts = {}) {
      const [file, ...args] = argv;
      if (!file) throw systemError('empty command');
      const t0 = performance.now();
      const r = await execa(file, args, {
        input: opts.input ?? '',
        timeout: opts.timeoutMs ?? 60_000,
        reject: false,
        stripFinalNewline: false,
        env: opts.env,
        extendEnv: true,
      });
      const ok = r.exitCode === 0 && !r.failed;
      onExec?.(argv, performance.now() - t0, ok);
      if (!ok) throw new CommandError(argv, r.exitCode, String(r.stderr ?? r.message ?? ''), r);
      return String(r.stdout ?? '');
    },
  };
}
