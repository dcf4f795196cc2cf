// The exec driver's handlers on a fake host: what it writes and runs, that bad input touches
// nothing, that a failed create leaves nothing, the state it reads back, exits reported once,
// adopt after a "restart".
import { beforeEach, describe, expect, it } from 'vitest';
import type { DriverContext, ExecDriver } from '../../../drivers/driver.js';
import type { ContainerSpec, Job } from '../../../drivers/handlers.js';
import { UndoStack } from '../../../drivers/undo.js';
import { silentLog } from '../../../drivers/log.js';
import { makeNames } from '../../../drivers/names.js';
import { isBerthError } from '../../../drivers/errors.js';
import { createRuncDriver } from '../../../drivers/exec/runc/index.js';
import { FakeExecHost } from './fake-host.js';

const ID = 'ab'.repeat(32);
const ID2 = 'cd'.repeat(32);
const BUNDLE = (id: string) => `/run/berth/containers/${id}`;

function spec(id = ID, over: Partial<ContainerSpec['process']> = {}): ContainerSpec {
  return {
    container: { id, name: 'web' },
    hostname: 'web',
    rootfs: '/var/lib/berth/rootfs/x',
    netnsPath: '/run/netns/berth-x',
    process: { args: ['sh'], env: ['PATH=/bin'], cwd: '/', user: '', tty: false, openStdin: false, ...over },
    files: { hosts: '/d/hosts', resolvConf: '/d/resolv.conf', hostname: '/d/hostname' },
    stopSignal: 'SIGTERM',
    bundleDir: BUNDLE(id),
    logPath: `/var/lib/berth/containers/${id}/container.log`,
  };
}
const job = (): Job => ({ id: 'j', name: 'j', log: silentLog, signal: new AbortController().signal, undo: new UndoStack() });
const ctx = (host: FakeExecHost, runtime = 'runc'): DriverContext => ({
  sys: { exec: host.exec } as never,
  records: undefined as never,
  names: makeNames('berth'),
  log: silentLog,
  config: { dataRoot: '/var/lib/berth', execRoot: '/run/berth', bridge: 'berth0', icc: true, ipForward: true, runtime, storageDriver: 'vfs' },
});

describe('exec/runc driver on a fake host', () => {
  let host: FakeExecHost;
  let d: ExecDriver;
  const exits: [string, number][] = [];
  beforeEach(async () => {
    host = new FakeExecHost();
    host.files.set('/var/lib/berth/rootfs/x/etc/passwd', 'root:x:0:0:root:/root:/bin/sh\n');
    await host.mkdirp('/run/berth/containers'); // the daemon's; bundle dirs go in it
    d = await createRuncDriver(ctx(host), host);
    exits.length = 0;
    d.onExit((id, code) => exits.push([id, code]));
  });
  const h = (id = ID) => ({ containerId: id, bundleDir: BUNDLE(id) });

  it('a -v source that does not exist becomes a directory (mode 0755) before the runtime runs; a --mount one does not', async () => {
    const mounts: ContainerSpec['mounts'] = [
      { type: 'bind', source: '/srv/new/data', destination: '/data', readonly: false, propagation: 'rprivate', createSource: true },
      { type: 'bind', source: '/srv/other', destination: '/other', readonly: true, propagation: 'rprivate' },
      { type: 'tmpfs', destination: '/scratch', options: ['size=1m'] },
    ];
    await d.handlers.exec_create({ spec: { ...spec(), mounts } }, job());
    expect(await host.exists('/srv/new/data')).toBe(true);
    expect(await host.exists('/srv/other')).toBe(false);
    const cfg = JSON.parse(host.files.get(`${BUNDLE(ID)}/config.json`)!);
    expect(cfg.mounts.slice(-6).map((m: { destination: string }) => m.destination)).toEqual(['/data', '/other', '/scratch', '/etc/resolv.conf', '/etc/hostname', '/etc/hosts']);
  });

  it('a bad user mount touches nothing', async () => {
    const mounts: ContainerSpec['mounts'] = [
      { type: 'bind', source: '/srv/new', destination: '/data', readonly: false, propagation: 'rprivate', createSource: true },
      { type: 'bind', source: '/srv/x', destination: 'rel', readonly: false, propagation: 'rprivate' },
    ];
    await expect(d.handlers.exec_create({ spec: { ...spec(), mounts } }, job())).rejects.toSatisfy((e) => isBerthError(e, 'invalid_parameter'));
    expect(await host.exists('/srv/new')).toBe(false);
    expect(host.calls).toEqual([]);
  });

  it('create writes meta and config.json, then starts conmon with the runtime’s root; start releases runc’s exec fifo', async () => {
    const st = await d.handlers.exec_create({ spec: spec() }, job());
    expect(st).toEqual({ status: 'created', pid: 1000 });
    expect(host.calls.filter((c) => c.startsWith('write'))).toEqual([`write /run/berth/exec/meta/${ID}.json`, `write ${BUNDLE(ID)}/config.json`]);
    const conmon = host.calls.find((c) => c.startsWith('conmon'))!;
    expect(conmon).toContain('--runtime /usr/bin/runc --runtime-arg --root --runtime-arg /run/berth/runc');
    expect(conmon).toContain('--exit-dir /run/berth/exec/exits');
    const cfg = JSON.parse(host.files.get(`${BUNDLE(ID)}/config.json`)!);
    expect(cfg.linux.cgroupsPath).toBe(`/berth-${ID}`);
    expect(await d.handlers.exec_state(h(), job())).toEqual({ status: 'created', pid: 1000 });
    expect(await d.handlers.exec_start(h(), job())).toEqual({ status: 'running', pid: 1000 });
    // what `runc start` does, without running it: read the fifo the init waits on, remove it
    expect(host.calls).toContain(`fifo /run/berth/runc/${ID}/exec.fifo`);
    expect(host.calls.filter((c) => c.startsWith('run '))).toEqual([]);
    expect(await d.handlers.exec_state(h(), job())).toEqual({ status: 'running', pid: 1000 });
  });

  it('another runtime (crun) is driven through its binary: `crun start`, `crun delete`', async () => {
    const d2 = await createRuncDriver(ctx(host, 'crun'), host);
    await d2.handlers.exec_create({ spec: spec(ID2) }, job());
    expect(host.calls.find((c) => c.startsWith('conmon'))).toContain('--runtime /usr/bin/crun --runtime-arg --root --runtime-arg /run/berth/crun');
    await d2.handlers.exec_start(h(ID2), job());
    host.exit(1000, 0);
    await d2.handlers.exec_delete(h(ID2), job());
    expect(host.calls.filter((c) => c.startsWith('run '))).toEqual([
      `run /usr/bin/crun --root /run/berth/crun start ${ID2}`,
      `run /usr/bin/crun --root /run/berth/crun delete ${ID2}`,
    ]);
    expect(host.tree().filter((p) => p.includes(ID2) && !p.endsWith('container.log'))).toEqual([]);
  });

  it('bad input changes nothing: no file, no program', async () => {
    const before = host.tree();
    const calls = host.calls.length;
    for (const s of [spec('nothex'), spec(ID, { args: [] }), spec(ID, { user: 'ghost' }), { ...spec(), logPath: '/a:b' }]) {
      await expect(d.handlers.exec_create({ spec: s }, job())).rejects.toSatisfy((e) => isBerthError(e, 'invalid_parameter'));
    }
    expect(host.tree()).toEqual(before);
    expect(host.calls.length).toBe(calls);
  });

  it('a failed runtime create is undone by the job: nothing left', async () => {
    const before = host.tree();
    host.conmon.fail = 'runc create failed: unable to start container process: exec: "nope": executable file not found in $PATH';
    const j = job();
    const err = await d.handlers.exec_create({ spec: spec() }, j).catch((e: unknown) => e);
    expect(isBerthError(err, 'invalid_parameter')).toBe(true);
    expect((err as Error).message).toBe(`OCI runtime create failed: ${host.conmon.fail}`);
    await j.undo.unwind();
    expect(host.tree()).toEqual(before);
  });

  it('a later failure of the job unwinds a created container: killed, deleted, files gone', async () => {
    const before = host.tree();
    const j = job();
    await d.handlers.exec_create({ spec: spec() }, j);
    await j.undo.unwind();
    expect(host.calls).toContain('kill 1000 9');
    expect(host.tree().filter((p) => !p.endsWith('container.log'))).toEqual(before);
  });

  it('an exit is reported once, with the code; state then says stopped; kill says not running', async () => {
    await d.handlers.exec_create({ spec: spec() }, job());
    await d.handlers.exec_start(h(), job());
    host.exit(1000, 3);
    host.exit(1000, 3); // the watcher fires again for the same file
    await new Promise((r) => setTimeout(r, 10));
    expect(exits).toEqual([[ID, 3]]);
    expect(await d.handlers.exec_state(h(), job())).toMatchObject({ status: 'stopped', pid: 0, exitCode: 3 });
    await expect(d.handlers.exec_kill({ ...h(), signal: 'TERM' }, job())).rejects.toSatisfy((e) => isBerthError(e, 'conflict'));
    await expect(d.handlers.exec_kill({ ...h(), signal: 'NOPE' }, job())).rejects.toSatisfy((e) => isBerthError(e, 'invalid_parameter'));
  });

  it('stop sends the signal and returns the exit; delete of a running container kills, waits, removes cgroups and state (never `delete -f`)', async () => {
    await d.handlers.exec_create({ spec: spec() }, job());
    await d.handlers.exec_start(h(), job());
    expect(await d.handlers.exec_stop({ ...h(), signal: 'SIGTERM', timeoutSeconds: 5 }, job())).toMatchObject({ status: 'stopped', exitCode: 143 });
    await d.handlers.exec_create({ spec: spec(ID2) }, job());
    await d.handlers.exec_start(h(ID2), job());
    const st = await d.handlers.exec_delete(h(ID2), job());
    expect(st).toMatchObject({ status: 'stopped', exitCode: 137 });
    expect(host.calls.filter((c) => c.includes('delete'))).toEqual([]);
    expect(host.calls.filter((c) => c.startsWith('rmdir') && c.includes(ID2))).toEqual([
      `rmdir /sys/fs/cgroup/memory/berth-${ID2}`,
      `rmdir /sys/fs/cgroup/pids/berth-${ID2}`,
      `rmdir /sys/fs/cgroup/unified/berth-${ID2}`,
    ]);
    expect(host.tree().filter((p) => p.includes(ID2) && !p.endsWith('container.log'))).toEqual([]);
    expect(await host.exists(BUNDLE(ID2))).toBe(false);
    expect(await d.handlers.exec_state(h(ID2), job())).toEqual({ status: 'unknown', pid: 0 });
    // idempotent
    expect((await d.handlers.exec_delete(h(ID2), job())).status).toBe('unknown');
  });

  it('a new instance (restart) adopts what the daemon knows and removes the rest', async () => {
    await d.handlers.exec_create({ spec: spec() }, job());
    await d.handlers.exec_start(h(), job());
    await d.handlers.exec_create({ spec: spec(ID2) }, job());
    await d.shutdown?.();
    const d2 = await createRuncDriver(ctx(host), host);
    const rep = await d2.adopt([ID]);
    expect(rep.states[ID]).toEqual({ status: 'running', pid: 1000 });
    expect(rep.removed).toEqual([ID2]);
    expect(await host.exists(BUNDLE(ID2))).toBe(false);
    expect(await host.exists(`/run/berth/runc/${ID2}`)).toBe(false);
  });

  it('exec (docker exec): process.json in a session dir of its own, the exit code from conmon; bad input and stopped containers refused', async () => {
    await d.handlers.exec_create({ spec: spec() }, job());
    await d.handlers.exec_start(h(), job());
    const EXEC = 'ef'.repeat(32);
    host.execExit = 5;
    const s = await d.exec(ID, BUNDLE(ID), EXEC, { args: ['ls', '-l'], env: ['A=1'], cwd: '/tmp', user: '0:0', tty: false, openStdin: false });
    expect(s.pid).toBeGreaterThan(0);
    const proc = JSON.parse(host.files.get(`/run/berth/exec/sessions/${EXEC}/process.json`)!);
    expect(proc).toMatchObject({ args: ['ls', '-l'], cwd: '/tmp', user: { uid: 0, gid: 0 }, terminal: false });
    expect(proc.env).toEqual(['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'A=1', 'HOSTNAME=web', 'HOME=/root']);
    const argv = host.calls.find((c) => c.startsWith('conmon-exec'))!;
    expect(argv).toContain(`--cid ${ID} --cuuid ${EXEC}`);
    expect(argv).toContain(`--exec --exec-process-spec /run/berth/exec/sessions/${EXEC}/process.json --log-path none`);
    host.endExec();
    expect(await s.exitCode).toBe(5);
    expect(await host.exists(`/run/berth/exec/sessions/${EXEC}`)).toBe(false);
    const before = host.tree();
    await expect(d.exec(ID, BUNDLE(ID), EXEC, { args: [], env: [], cwd: '/', user: '', tty: false, openStdin: false })).rejects.toThrow(/No command specified/);
    await expect(d.exec(ID, BUNDLE(ID), 'x', { args: ['ls'], env: [], cwd: '/', user: '', tty: false, openStdin: false })).rejects.toThrow(/invalid object id/);
    expect(host.tree()).toEqual(before);
    host.exit(1000, 0);
    await expect(d.exec(ID, BUNDLE(ID), EXEC, { args: ['ls'], env: [], cwd: '/', user: '', tty: false, openStdin: false })).rejects.toSatisfy((e) =>
      isBerthError(e, 'conflict'),
    );
  });

  it('restore removes runtime state no meta owns and exec session dirs whose conmon is gone', async () => {
    await d.handlers.exec_create({ spec: spec() }, job()); // owned: stays
    await host.mkdirp(`/run/berth/runc/${ID2}`); // a crash's leftover
    host.files.set(`/run/berth/runc/${ID2}/state.json`, '{}');
    await host.mkdirp('/run/berth/exec/sessions/old');
    host.files.set('/run/berth/exec/sessions/old/conmon.pid', '4242');
    const rep = await d.restore();
    expect(rep.removed).toEqual([`runtime state of ${ID2.slice(0, 12)}`, 'exec session old']);
    expect(host.calls).toContain(`run /usr/bin/runc --root /run/berth/runc delete --force ${ID2}`);
    expect(await host.exists(`/run/berth/runc/${ID2}`)).toBe(false);
    expect(await host.exists('/run/berth/exec/sessions/old')).toBe(false);
    expect(await host.exists(`/run/berth/runc/${ID}`)).toBe(true);
  });

  it('resize and attach of a container that is not running are conflicts', async () => {
    await expect(d.resize(ID, BUNDLE(ID), 24, 80)).rejects.toSatisfy((e) => isBerthError(e, 'conflict'));
    await expect(d.resize(ID, BUNDLE(ID), -1, 80)).rejects.toSatisfy((e) => isBerthError(e, 'invalid_parameter'));
    await expect(d.attach(ID, BUNDLE(ID), { onOutput: () => {} })).rejects.toThrow(/You cannot attach to a stopped container/);
  });
});
