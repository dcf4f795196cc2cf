// exec_pause / exec_resume on the fake host: `runc pause|resume` with the runtime's root, state says
// paused from the freezer, a paused container refuses exec, and kill, stop and delete of a paused
// container thaw it so that the signal is acted on (the fake holds a fatal signal while frozen).
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
const BUNDLE = `/run/berth/containers/${ID}`;
const spec: ContainerSpec = {
  container: { id: ID, name: 'web' },
  hostname: 'web',
  rootfs: '/var/lib/berth/rootfs/x',
  netnsPath: '/run/netns/berth-x',
  process: { args: ['sh'], env: ['PATH=/bin'], cwd: '/', user: '0:0', tty: false, openStdin: false },
  files: { hosts: '/d/hosts', resolvConf: '/d/resolv.conf', hostname: '/d/hostname' },
  stopSignal: 'SIGTERM',
  bundleDir: BUNDLE,
  logPath: `/var/lib/berth/containers/${ID}/container.log`,
};
const job = (): Job => ({ id: 'j', name: 'j', log: silentLog, signal: new AbortController().signal, undo: new UndoStack() });
const ctx = (host: FakeExecHost): DriverContext => ({
  sys: { exec: host.exec } as never,
  records: undefined as never,
  names: makeNames('berth'),
  log: silentLog,
  config: { dataRoot: '/var/lib/berth', execRoot: '/run/berth', bridge: 'berth0', icc: true, ipForward: true, runtime: 'runc', storageDriver: 'vfs' },
});
const h = { containerId: ID, bundleDir: BUNDLE };
const conflict = (e: unknown) => isBerthError(e, 'conflict');

describe('exec/runc pause and resume on a fake host', () => {
  let host: FakeExecHost;
  let d: ExecDriver;
  beforeEach(async () => {
    host = new FakeExecHost();
    await host.mkdirp('/run/berth/containers');
    d = await createRuncDriver(ctx(host), host);
  });
  const running = async () => {
    await d.handlers.exec_create({ spec }, job());
    await d.handlers.exec_start(h, job());
    host.calls.length = 0;
  };
  const runs = () => host.calls.filter((c) => c.startsWith('run '));

  it('pause and resume run the runtime with its root; state says paused while frozen', async () => {
    await running();
    await d.handlers.exec_pause(h, job());
    expect(runs()).toEqual([`run /usr/bin/runc --root /run/berth/runc pause ${ID}`]);
    expect(await d.handlers.exec_state(h, job())).toEqual({ status: 'running', pid: 1000, paused: true });
    await d.handlers.exec_resume(h, job());
    expect(runs()[1]).toBe(`run /usr/bin/runc --root /run/berth/runc resume ${ID}`);
    expect(await d.handlers.exec_state(h, job())).toEqual({ status: 'running', pid: 1000 });
  });

  it('a container that is not running (created, stopped, unknown) is a conflict; a bad id touches nothing', async () => {
    await d.handlers.exec_create({ spec }, job());
    await expect(d.handlers.exec_pause(h, job())).rejects.toSatisfy(conflict);
    await d.handlers.exec_delete(h, job());
    await expect(d.handlers.exec_pause(h, job())).rejects.toSatisfy(conflict);
    await expect(d.handlers.exec_resume(h, job())).rejects.toSatisfy(conflict);
    host.calls.length = 0;
    await expect(d.handlers.exec_pause({ containerId: '../x', bundleDir: BUNDLE }, job())).rejects.toSatisfy((e) => isBerthError(e, 'invalid_parameter'));
    expect(host.calls).toEqual([]);
  });

  it('a paused container refuses exec with dockerd’s words', async () => {
    await running();
    await d.handlers.exec_pause(h, job());
    await expect(d.exec(ID, BUNDLE, 'ef'.repeat(32), { args: ['ls'], env: [], cwd: '/', user: '0:0', tty: false, openStdin: false }, undefined)).rejects.toThrow(
      `Container ${ID} is paused, unpause the container before exec`,
    );
  });

  it('kill of a paused container signals, then thaws it so the signal is acted on', async () => {
    await running();
    await d.handlers.exec_pause(h, job());
    await d.handlers.exec_kill({ ...h, signal: 'SIGKILL' }, job());
    expect(host.calls.slice(1)).toEqual(['kill 1000 9', `run /usr/bin/runc --root /run/berth/runc resume ${ID}`]);
    await new Promise((r) => setTimeout(r, 10));
    expect(await d.handlers.exec_state(h, job())).toMatchObject({ status: 'stopped', exitCode: 137 });
  });

  it('kill of a running (not paused) container runs no runtime', async () => {
    await running();
    await d.handlers.exec_kill({ ...h, signal: 'SIGTERM' }, job());
    expect(runs()).toEqual([]);
  });

  it('stop and delete of a paused container do not hang', async () => {
    await running();
    await d.handlers.exec_pause(h, job());
    expect(await d.handlers.exec_stop({ ...h, signal: 'SIGTERM', timeoutSeconds: 5 }, job())).toMatchObject({ status: 'stopped', exitCode: 143 });
    await d.handlers.exec_delete(h, job());

    await running();
    await d.handlers.exec_pause(h, job());
    const t = Date.now();
    expect(await d.handlers.exec_delete(h, job())).toMatchObject({ status: 'stopped', exitCode: 137 });
    expect(Date.now() - t).toBeLessThan(1000);
    expect(host.calls).toContain(`run /usr/bin/runc --root /run/berth/runc resume ${ID}`);
  });
});
