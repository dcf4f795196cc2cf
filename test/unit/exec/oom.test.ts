// OOMKilled as the exec driver reports it: exec_state of a stopped container reads the kernel's
// oom_kill count in the container's memory cgroup (fake host: the cgroup file is a map entry).
import { describe, expect, it } from 'vitest';
import type { DriverContext } from '../../../drivers/driver.js';
import type { ContainerSpec, Job } from '../../../drivers/handlers.js';
import { UndoStack } from '../../../drivers/undo.js';
import { silentLog } from '../../../drivers/log.js';
import { makeNames } from '../../../drivers/names.js';
import { createRuncDriver } from '../../../drivers/exec/runc/index.js';
import { parseOomKill } from '../../../drivers/exec/runc/spec.js';
import { FakeExecHost } from './fake-host.js';

const ID = 'ef'.repeat(32);
const BUNDLE = `/run/berth/containers/${ID}`;
const spec: ContainerSpec = {
  container: { id: ID, name: 'm' },
  hostname: 'm',
  rootfs: '/var/lib/berth/rootfs/x',
  netnsPath: '/run/netns/berth-x',
  process: { args: ['sh'], env: ['PATH=/bin'], cwd: '/', user: '0', tty: false, openStdin: false },
  files: { hosts: '/d/hosts', resolvConf: '/d/resolv.conf', hostname: '/d/hostname' },
  resources: { memory: { limit: 16 << 20, swap: 16 << 20 } },
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
const OOM_CONTROL = `/sys/fs/cgroup/memory/berth-${ID}/memory.oom_control`;

async function exited(oomKills: number | undefined) {
  const host = new FakeExecHost();
  await host.mkdirp('/run/berth/containers');
  const d = await createRuncDriver(ctx(host), host);
  await d.handlers.exec_create({ spec }, job());
  const cfg = JSON.parse(host.files.get(`${BUNDLE}/config.json`)!);
  await d.handlers.exec_start({ containerId: ID, bundleDir: BUNDLE }, job());
  if (oomKills !== undefined) host.files.set(OOM_CONTROL, `oom_kill_disable 0\nunder_oom 0\noom_kill ${oomKills}\n`);
  host.exit(1000, 137);
  return { st: await d.handlers.exec_state({ containerId: ID, bundleDir: BUNDLE }, job()), cfg };
}

describe('OOMKilled from the memory cgroup', () => {
  it('oom_kill > 0 at exit → oomKilled; the limits are in config.json', async () => {
    const { st, cfg } = await exited(1);
    expect(st).toMatchObject({ status: 'stopped', exitCode: 137, oomKilled: true });
    expect(cfg.linux.resources.memory).toEqual({ limit: 16 << 20, swap: 16 << 20 });
  });

  it('oom_kill 0, or no cgroup file (v2 host without memory.events, or gone): not OOM killed', async () => {
    expect((await exited(0)).st.oomKilled).toBeUndefined();
    expect((await exited(undefined)).st.oomKilled).toBeUndefined();
  });

  it('parseOomKill reads v1 memory.oom_control and v2 memory.events', () => {
    expect(parseOomKill('oom_kill_disable 0\nunder_oom 0\noom_kill 3\n')).toBe(3);
    expect(parseOomKill('low 0\nhigh 0\nmax 5\noom 2\noom_kill 1\noom_group_kill 0\n')).toBe(1);
    expect(parseOomKill('oom_kill_disable 0\nunder_oom 0\n')).toBe(0);
  });
});
