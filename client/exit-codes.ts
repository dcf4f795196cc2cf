// Exit codes as docker's CLI has them.
export const EXIT = {
  ok: 0,
  /** A command failed (daemon error on most commands, unreachable daemon). */
  failure: 1,
  /** The daemon reported an error for run/create; any flag or usage error. */
  daemon: 125,
  /** The command in the container could not be invoked (permission, not executable). */
  cannotInvoke: 126,
  /** The command in the container was not found. */
  notFound: 127,
} as const;

/** docker run: map an error the daemon gave on start to 125/126/127. */
export function runErrorCode(message: string): number {
  const m = message.toLowerCase();
  if (/(executable file not found|no such file or directory|not found in \$path)/.test(m) && /exec/.test(m)) return EXIT.notFound;
  if (/permission denied/.test(m) && /exec/.test(m)) return EXIT.cannotInvoke;
  return EXIT.daemon;
}
