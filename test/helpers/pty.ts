// A terminal for CLIs under test (`docker run -it`, `exec -it`, `attach`): the command runs under
// util-linux `script` in a pty of a given size; the test types into it, each line of input once the
// output so far matches what it waits for. script's own stdin stays open until the command ends:
// at its EOF script would type an end-of-file character into the terminal.
import { spawn } from 'node:child_process';

export interface TtyStep {
  /** Wait until the output (since the previous step's match) matches this; default: no wait. */
  waitFor?: RegExp;
  /** Then wait this long (for input that has no output to wait for). */
  delayMs?: number;
  /** Then type this. */
  send: string | Buffer;
}

export interface TtyResult {
  code: number;
  /** Everything the terminal showed (with \r\n line ends). */
  output: string;
}

const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

export function runInTty(
  argv: string[],
  opts: { rows?: number; cols?: number; steps?: TtyStep[]; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): Promise<TtyResult> {
  const cmd = `stty rows ${opts.rows ?? 24} cols ${opts.cols ?? 80}; exec ${argv.map(quote).join(' ')}`;
  const child = spawn('script', ['-qefc', cmd, '/dev/null'], { stdio: ['pipe', 'pipe', 'pipe'], env: opts.env ?? process.env });
  let output = '';
  let from = 0;
  const steps = [...(opts.steps ?? [])];
  let busy = false;
  const next = async (): Promise<void> => {
    if (busy) return;
    const s = steps[0];
    if (!s) return;
    if (s.waitFor) {
      const m = s.waitFor.exec(output.slice(from));
      if (!m) return;
      from += m.index + m[0].length;
    }
    steps.shift();
    busy = true;
    if (s.delayMs) await new Promise((r) => setTimeout(r, s.delayMs));
    if (child.exitCode === null) child.stdin.write(s.send);
    busy = false;
    void next();
  };
  child.stdout.on('data', (c: Buffer) => {
    output += c.toString('utf8');
    void next();
  });
  child.stderr.on('data', (c: Buffer) => (output += c.toString('utf8')));
  void next();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 20_000);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      child.stdin.destroy();
      resolve({ code: code ?? (signal ? 128 + 9 : 1), output });
    });
  });
}
