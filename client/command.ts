// What every CLI command is: a pure parse of its arguments, and a run against an Api with an Io.
// Tests call both without a daemon (a fake Api) and without a terminal (a recording Io).
import type { Api } from './api.js';

export interface Io {
  out(s: string): void;
  err(s: string): void;
  readonly stdin: NodeJS.ReadableStream;
  readonly stdinIsTTY: boolean;
  readonly stdoutIsTTY: boolean;
  readonly env: Record<string, string | undefined>;
  /** Set when the command wants to react to Ctrl-C itself (attach, events, logs -f). */
  onInterrupt?(fn: () => void): void;
  /** The client's terminal, when stdin or stdout is one: size, raw input mode, resize events (run -it, exec -it). */
  readonly terminal?: Terminal;
}

export interface Terminal {
  size(): { rows: number; cols: number };
  /** Raw input (keys go to the container as typed) on, or back to how it was. */
  setRaw(raw: boolean): void;
  /** Calls fn on each window size change; returns the unsubscribe. */
  onResize(fn: () => void): () => void;
}

export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export interface Command<O> {
  /** `berth <name>` words, e.g. ['system', 'jobs']. */
  readonly usage: string;
  parse(argv: string[]): O;
  run(api: Api, opts: O, io: Io): Promise<number>;
  /** The exit code for a daemon error: 125 for run/create (as docker), 1 otherwise. */
  readonly daemonErrorCode?: number;
}

export function defineCommand<O>(c: Command<O>): Command<O> {
  return c;
}
