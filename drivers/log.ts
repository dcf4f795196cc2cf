// The logger drivers and the daemon use: the subset of pino's Logger berth relies on, so tests can
// pass a silent or recording logger without pino.
export interface LogFn {
  (msg: string): void;
  (obj: object, msg?: string): void;
}

export interface Log {
  trace: LogFn;
  debug: LogFn;
  info: LogFn;
  warn: LogFn;
  error: LogFn;
  child(bindings: Record<string, unknown>): Log;
}

const noop: LogFn = () => {};
export const silentLog: Log = { trace: noop, debug: noop, info: noop, warn: noop, error: noop, child: () => silentLog };
