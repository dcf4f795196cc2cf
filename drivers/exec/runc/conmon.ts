// conmon's command line and its sync-pipe protocol. PURE. conmon (2.1) forks off a supervisor that
// runs `<runtime> create`, relays stdio to the k8s-file log and to attach clients, keeps the exit
// code (exit dir) and outlives the daemon. With `--api-version 1` it reports on the fd named by
// _OCI_SYNCPIPE: `{"data": <pid>}` once the container is created, or `{"data": -1, "message": …}`.
import { BerthError, invalidParameter, systemError } from '../../errors.js';

/** The files conmon and the runtime keep in a bundle dir (besides config.json). */
export const BUNDLE_FILES = {
  config: 'config.json',
  pid: 'pidfile', // the container's init pid (runtime --pid-file)
  conmonPid: 'conmon.pid',
  attach: 'attach', // AF_UNIX SOCK_SEQPACKET (--full-attach puts it here)
  ctl: 'ctl', // fifo: "1 <h> <w>\n" resizes the TTY, "2 0 0\n" reopens the log
  winsz: 'winsz', // fifo conmon feeds from ctl
} as const;

/** fd number of the sync pipe in conmon (0–2 are stdio). */
export const SYNC_FD = 3;

export interface ConmonArgs {
  conmon: string; // path of the conmon binary
  id: string;
  runtime: string; // absolute path of runc or crun
  runtimeRoot: string;
  bundleDir: string;
  logPath: string;
  exitDir: string;
  tty: boolean;
  openStdin: boolean;
  stdinOnce: boolean;
}

export function conmonArgv(a: ConmonArgs): string[] {
  const b = (f: string) => `${a.bundleDir}/${f}`;
  return [
    a.conmon,
    '--api-version',
    '1',
    '--cid',
    a.id,
    '--cuuid',
    a.id,
    '--runtime',
    a.runtime,
    '--runtime-arg',
    '--root',
    '--runtime-arg',
    a.runtimeRoot,
    '--bundle',
    a.bundleDir,
    '--container-pidfile',
    b(BUNDLE_FILES.pid),
    '--conmon-pidfile',
    b(BUNDLE_FILES.conmonPid),
    '--log-path',
    `k8s-file:${a.logPath}`,
    '--exit-dir',
    a.exitDir,
    '--full-attach', // the attach socket in the bundle dir: no symlink dir to clean up
    '--socket-dir-path',
    a.bundleDir,
    '--no-sync-log', // no fsync of the log on exit: the exit is reported sooner (json-file does not sync either)
    '--log-level',
    'error',
    ...(a.tty ? ['--terminal'] : []),
    ...(a.openStdin ? ['--stdin'] : []),
    // StdinOnce closes stdin when the first client's input ends, but never a TTY's (as dockerd): a
    // `run -it` detached with ctrl-p ctrl-q must still take input from the next `attach`.
    ...(a.openStdin && (!a.stdinOnce || a.tty) ? ['--leave-stdin-open'] : []),
  ];
}

export interface ConmonExecArgs {
  conmon: string;
  containerId: string;
  execId: string;
  runtime: string;
  runtimeRoot: string;
  /** The session's own dir: process.json, pid files, attach socket, ctl fifo, exit file. */
  sessionDir: string;
  tty: boolean;
  openStdin: boolean;
  attach: boolean;
}

/** `conmon --exec`: `<runtime> exec --detach --process <sessionDir>/process.json <id>` under conmon.
 *  With --exec-attach conmon says on the attach pipe when its socket is ready and waits for a
 *  second word on the start pipe before it runs the process. Output is not logged (as Docker). */
export function conmonExecArgv(a: ConmonExecArgs): string[] {
  const s = (f: string) => `${a.sessionDir}/${f}`;
  return [
    a.conmon,
    '--api-version',
    '1',
    '--cid',
    a.containerId,
    '--cuuid',
    a.execId,
    '--runtime',
    a.runtime,
    '--runtime-arg',
    '--root',
    '--runtime-arg',
    a.runtimeRoot,
    '--bundle',
    a.sessionDir,
    '--container-pidfile',
    s(BUNDLE_FILES.pid),
    '--conmon-pidfile',
    s(BUNDLE_FILES.conmonPid),
    '--exec',
    '--exec-process-spec',
    s(EXEC_PROCESS_FILE),
    '--log-path',
    'none',
    '--exit-dir',
    a.sessionDir,
    '--full-attach',
    '--socket-dir-path',
    a.sessionDir,
    '--log-level',
    'error',
    ...(a.attach ? ['--exec-attach'] : []),
    ...(a.tty ? ['--terminal'] : []),
    ...(a.openStdin ? ['--stdin'] : []),
  ];
}

export const EXEC_PROCESS_FILE = 'process.json';

/** The exit code conmon --exec reports at the end on the sync pipe. */
export function parseSyncExit(line: string | undefined): number | undefined {
  if (!line) return undefined;
  try {
    const m = JSON.parse(line) as { data?: unknown };
    return typeof m.data === 'number' && m.data >= 0 ? m.data : undefined;
  } catch {
    return undefined;
  }
}

export type SyncMessage = { pid: number } | { error: string };

/** Parse what conmon wrote on the sync pipe (one JSON object per line). */
export function parseSync(text: string): SyncMessage | undefined {
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    let m: { data?: unknown; message?: unknown };
    try {
      m = JSON.parse(line) as typeof m;
    } catch {
      continue;
    }
    if (typeof m.data !== 'number') continue;
    if (m.data > 0) return { pid: m.data };
    return { error: typeof m.message === 'string' ? m.message : `conmon reported ${m.data}` };
  }
  return undefined;
}

/** runc's stderr is a logrus line (`time=… level=error msg="…"`); keep the message. */
export function runtimeMessage(stderr: string): string {
  const lines = stderr.trim().split('\n').filter(Boolean);
  const msgs: string[] = [];
  for (const l of lines) {
    const m = /\bmsg="((?:[^"\\]|\\.)*)"/.exec(l);
    if (m) msgs.push(m[1]!.replace(/\\(.)/g, '$1'));
    else if (!/^time=/.test(l)) msgs.push(l);
  }
  return (msgs.length ? msgs : lines).join('; ').trim();
}

/**
 * The error for a runtime that failed to create or start a container, classified as dockerd does:
 * a command not found or not executable is the request's fault (400; the CLI exits 127/126),
 * anything else is the system's.
 */
export function runtimeError(what: string, stderr: string, cause?: unknown): BerthError {
  const msg = `${what}: ${runtimeMessage(stderr) || 'unknown error'}`;
  const low = msg.toLowerCase();
  if (low.includes('executable file not found') || low.includes('no such file or directory') || low.includes('permission denied'))
    return invalidParameter(msg, cause);
  return systemError(msg, cause);
}
