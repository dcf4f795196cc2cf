// Running commands from tests, with argument arrays. `inNetns` enters a named netns with nsenter
// (not `ip netns exec`, which would also remount /sys and drop the cgroup mounts runc needs).
import { execFile, spawn, type ChildProcess } from 'node:child_process';

export interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

export function run(argv: string[], opts: { input?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<Result> {
  return new Promise((resolve) => {
    const child = execFile(
      argv[0]!,
      argv.slice(1),
      { env: opts.env ?? process.env, timeout: opts.timeoutMs ?? 30_000, maxBuffer: 64 * 1024 * 1024 },
      (err, stdout, stderr) => {
        const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : 1) : 0;
        resolve({ code, stdout: String(stdout), stderr: String(stderr) });
      },
    );
    if (opts.input !== undefined) child.stdin?.end(opts.input);
    else child.stdin?.end();
  });
}

/** Run and throw on a non-zero exit. */
export async function must(argv: string[], opts: Parameters<typeof run>[1] = {}): Promise<string> {
  const r = await run(argv, opts);
  if (r.code !== 0) throw new Error(`${argv.join(' ')} → ${r.code}: ${r.stderr || r.stdout}`);
  return r.stdout;
}

export function nsenterArgs(netns: string): string[] {
  return ['nsenter', `--net=/run/netns/${netns}`, '--'];
}

export function inNetns(netns: string, argv: string[], opts: Parameters<typeof run>[1] = {}): Promise<Result> {
  return run([...nsenterArgs(netns), ...argv], opts);
}

export function spawnInNetns(netns: string, argv: string[], opts: { env?: NodeJS.ProcessEnv } = {}): ChildProcess {
  return spawn(nsenterArgs(netns)[0]!, [...nsenterArgs(netns).slice(1), ...argv], {
    env: opts.env ?? process.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}
