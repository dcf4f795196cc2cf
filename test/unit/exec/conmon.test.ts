// conmon.ts: the command line, the sync-pipe answers, the classification of runtime errors.
import { describe, expect, it } from 'vitest';
import { conmonArgv, conmonExecArgv, parseSync, parseSyncExit, runtimeError, runtimeMessage } from '../../../drivers/exec/runc/conmon.js';
import { isBerthError } from '../../../drivers/errors.js';

const base = {
  conmon: '/usr/bin/conmon',
  id: 'a'.repeat(64),
  runtime: '/usr/sbin/runc',
  runtimeRoot: '/run/berth/runc',
  bundleDir: '/run/berth/containers/aaa',
  logPath: '/var/lib/berth/containers/aaa/container.log',
  exitDir: '/run/berth/exec/exits',
  tty: false,
  openStdin: false,
  stdinOnce: false,
};

describe('conmonArgv', () => {
  it('runs the runtime with its root, the bundle, the k8s-file log, the exit dir and the attach socket in the bundle', () => {
    expect(conmonArgv(base)).toEqual([
      '/usr/bin/conmon',
      '--api-version', '1',
      '--cid', base.id,
      '--cuuid', base.id,
      '--runtime', '/usr/sbin/runc',
      '--runtime-arg', '--root',
      '--runtime-arg', '/run/berth/runc',
      '--bundle', base.bundleDir,
      '--container-pidfile', `${base.bundleDir}/pidfile`,
      '--conmon-pidfile', `${base.bundleDir}/conmon.pid`,
      '--log-path', `k8s-file:${base.logPath}`,
      '--exit-dir', '/run/berth/exec/exits',
      '--full-attach',
      '--socket-dir-path', base.bundleDir,
      '--no-sync-log',
      '--log-level', 'error',
    ]);
  });
  it('-t, -i and StdinOnce', () => {
    expect(conmonArgv({ ...base, tty: true }).slice(-1)).toEqual(['--terminal']);
    expect(conmonArgv({ ...base, openStdin: true }).slice(-2)).toEqual(['--stdin', '--leave-stdin-open']);
    expect(conmonArgv({ ...base, openStdin: true, stdinOnce: true }).slice(-1)).toEqual(['--stdin']);
    // a TTY's stdin stays open for the next attach (docker run -it, detach, attach)
    expect(conmonArgv({ ...base, tty: true, openStdin: true, stdinOnce: true }).slice(-3)).toEqual(['--terminal', '--stdin', '--leave-stdin-open']);
  });
});

describe('conmonExecArgv', () => {
  it('runs `<runtime> exec` on the container with a process.json, a session dir, no log, attach on request', () => {
    const a = { conmon: '/usr/bin/conmon', containerId: 'a'.repeat(64), execId: 'b'.repeat(64), runtime: '/usr/sbin/runc', runtimeRoot: '/run/berth/runc', sessionDir: '/run/berth/exec/sessions/bbb', tty: true, openStdin: true, attach: true };
    const argv = conmonExecArgv(a);
    expect(argv.join(' ')).toContain(`--cid ${a.containerId} --cuuid ${a.execId}`);
    expect(argv.join(' ')).toContain('--exec --exec-process-spec /run/berth/exec/sessions/bbb/process.json --log-path none --exit-dir /run/berth/exec/sessions/bbb');
    expect(argv.slice(-3)).toEqual(['--exec-attach', '--terminal', '--stdin']);
    expect(conmonExecArgv({ ...a, attach: false, tty: false, openStdin: false }).slice(-2)).toEqual(['--log-level', 'error']);
    expect(parseSyncExit('{"data": 3}')).toBe(3);
    expect(parseSyncExit('{"data": 0}')).toBe(0);
    expect(parseSyncExit(undefined)).toBeUndefined();
  });
});

describe('parseSync', () => {
  it('reads the pid, or the error message', () => {
    expect(parseSync('{"data": 4242}\n')).toEqual({ pid: 4242 });
    expect(parseSync('{"data": -1, "message": "runc create failed"}\n')).toEqual({ error: 'runc create failed' });
    expect(parseSync('')).toBeUndefined();
    expect(parseSync('garbage\n{"data": 7}\n')).toEqual({ pid: 7 });
  });
});

describe('runtime errors', () => {
  const stderr =
    'time="2026-01-01T00:00:00Z" level=error msg="runc create failed: unable to start container process: exec: \\"nope\\": executable file not found in $PATH"\n';
  it('keeps the message of a logrus line', () => {
    expect(runtimeMessage(stderr)).toBe('runc create failed: unable to start container process: exec: "nope": executable file not found in $PATH');
  });
  it('a missing or non-executable command is the request’s fault (the CLI exits 127/126), the rest the system’s', () => {
    expect(isBerthError(runtimeError('OCI runtime create failed', stderr), 'invalid_parameter')).toBe(true);
    expect(isBerthError(runtimeError('x', 'exec: "/etc": permission denied'), 'invalid_parameter')).toBe(true);
    const e = runtimeError('OCI runtime create failed', 'cgroups: cannot find cgroup mount destination');
    expect(isBerthError(e, 'system')).toBe(true);
    expect(e.message).toBe('OCI runtime create failed: cgroups: cannot find cgroup mount destination');
  });
});
