// Resource limits end to end: a real berthd in a throwaway netns playing the host, real runc on this
// host's cgroup v1 hierarchies. The limits are read from inside the container (its own cgroup files
// are what it sees under /sys/fs/cgroup), the OOM kill is a real one.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isRoot, skipReason, uniquePrefix } from '../helpers/prefix.js';
import { makeHost, type TestHost } from '../helpers/netns.js';
import { startTestDaemon, testDir, type TestDaemon } from '../helpers/daemon.js';
import { busyboxTar } from '../helpers/images.js';
import { run } from '../helpers/sh.js';

const hasDocker = (await run(['docker', '--version'])).code === 0;
if (!isRoot) console.log(`skipping resources e2e: ${skipReason}`);

describe.skipIf(!isRoot)('resource limits end to end', () => {
  let host: TestHost;
  let d: TestDaemon;

  beforeAll(async () => {
    const prefix = uniquePrefix();
    host = await makeHost(prefix);
    d = await startTestDaemon({ netns: host.name, namePrefix: prefix, args: ['--bridge', `${prefix}b0`] });
    const tar = await busyboxTar(testDir('img'));
    const r = await d.cli(['import', tar, 'busybox:latest']);
    expect(r.code, r.stderr).toBe(0);
  });
  afterAll(async () => {
    await d?.teardown();
    await host?.destroy();
  });

  const inspect = async (name: string) => {
    const r = await d.cli(['inspect', name]);
    expect(r.code, r.stderr).toBe(0);
    return (JSON.parse(r.stdout) as Record<string, Record<string, unknown>>[])[0]!;
  };

  it('-m 64m: the memory cgroup limit the container sees is 64 MiB (and memsw 128 MiB, as dockerd)', async () => {
    const r = await d.cli(['run', '--rm', '-m', '64m', 'busybox', 'cat', '/sys/fs/cgroup/memory/memory.limit_in_bytes', '/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('67108864\n134217728\n');
  });

  it('--cpus 0.5 → cfs quota 50000 / period 100000; --cpu-shares 512; --cpuset-cpus 0; --pids-limit 20', async () => {
    const r = await d.cli([
      'run', '--rm', '--cpus', '0.5', '-c', '512', '--cpuset-cpus', '0', '--pids-limit', '20', 'busybox', 'cat',
      '/sys/fs/cgroup/cpu/cpu.cfs_quota_us', '/sys/fs/cgroup/cpu/cpu.cfs_period_us', '/sys/fs/cgroup/cpu/cpu.shares',
      '/sys/fs/cgroup/cpuset/cpuset.cpus', '/sys/fs/cgroup/pids/pids.max',
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('50000\n100000\n512\n0\n20\n');
  });

  it('inspect shows the limits as dockerd; unset ones are zeros and PidsLimit null', async () => {
    const c = await d.cli(['create', '--name', 'lim', '-m', '32m', '--memory-reservation', '16m', '--cpus', '1.5', '--pids-limit', '100', '--cpuset-cpus', '0-1', '--oom-kill-disable', 'busybox', 'true']);
    expect(c.code, c.stderr).toBe(0);
    const hc = (await inspect('lim')).HostConfig!;
    expect(hc).toMatchObject({
      Memory: 33554432, MemorySwap: 67108864, MemoryReservation: 16777216, NanoCpus: 1500000000, CpuShares: 0, CpuPeriod: 0, CpuQuota: 0,
      CpusetCpus: '0-1', CpusetMems: '', PidsLimit: 100, OomKillDisable: true,
    });
    expect((await d.cli(['create', '--name', 'nolim', 'busybox', 'true'])).code).toBe(0);
    expect((await inspect('nolim')).HostConfig).toMatchObject({ Memory: 0, MemorySwap: 0, NanoCpus: 0, CpusetCpus: '', PidsLimit: null, OomKillDisable: false });
    expect((await d.cli(['rm', 'lim', 'nolim'])).code).toBe(0);
  });

  it.skipIf(!hasDocker)('docker stats --no-stream shows the -m limit (berth has no stats command)', async () => {
    expect((await d.cli(['run', '-d', '--name', 'st', '-m', '64m', 'busybox', 'sleep', '30'])).code).toBe(0);
    try {
      const r = await d.docker(['stats', '--no-stream', '--format', '{{.MemUsage}}', 'st']);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toMatch(/\/ 64MiB/);
    } finally {
      await d.cli(['rm', '-f', 'st']);
    }
  });

  it('a container allocating past -m 16m --memory-swap 16m is OOM killed: exit 137, State.OOMKilled, an oom event', async () => {
    const since = Math.floor(Date.now() / 1000) - 1;
    // 64 MiB of 'a' held in a shell variable: far past 16 MiB with no swap to go to
    const r = await d.cli(['run', '--name', 'oom', '-m', '16m', '--memory-swap', '16m', 'busybox', 'sh', '-c', 'x=$(head -c 67108864 /dev/zero | tr "\\0" a); echo survived']);
    expect(r.code).toBe(137);
    expect(r.stdout).not.toContain('survived');
    const st = (await inspect('oom')).State!;
    expect(st).toMatchObject({ Status: 'exited', ExitCode: 137, OOMKilled: true });
    const ev = await d.cli(['events', '--since', String(since), '--until', String(Math.floor(Date.now() / 1000) + 1), '--filter', 'container=oom', '--format', '{{.Action}}']);
    expect(ev.stdout.split('\n')).toContain('oom');
    // conmon's own `oom` marker went into the bundle dir (removed with it), not berthd's cwd
    expect(existsSync(join(process.cwd(), 'oom'))).toBe(false);
    // a plain SIGKILL is not an OOM kill
    expect((await d.cli(['rm', 'oom'])).code).toBe(0);
    expect((await d.cli(['run', '-d', '--name', 'nooom', '-m', '16m', 'busybox', 'sleep', '30'])).code).toBe(0);
    expect((await d.cli(['kill', 'nooom'])).code).toBe(0);
    expect((await d.cli(['wait', 'nooom'])).stdout.trim()).toBe('137');
    expect((await inspect('nooom')).State).toMatchObject({ ExitCode: 137, OOMKilled: false });
    expect((await d.cli(['rm', 'nooom'])).code).toBe(0);
  });

  it("bad values: exit 125 with dockerd's message, nothing created", async () => {
    const before = (await d.cli(['ps', '-aq'])).stdout;
    const small = await d.cli(['run', '--rm', '--name', 'bad1', '-m', '1k', 'busybox', 'true']);
    expect(small.code).toBe(125);
    expect(small.stderr).toContain('Minimum memory limit allowed is 6MB');
    const cpus = await d.cli(['run', '--rm', '--name', 'bad2', '--cpus', '99', 'busybox', 'true']);
    expect(cpus.code).toBe(125);
    expect(cpus.stderr).toMatch(/Range of CPUs is from 0\.01 to \d+\.00, as there are only \d+ CPUs available/);
    const set = await d.cli(['create', '--cpuset-cpus', '1-x', 'busybox', 'true']);
    expect(set.code).toBe(125);
    expect(set.stderr).toContain('Invalid value 1-x for cpuset cpus');
    const absent = await d.cli(['create', '--cpuset-cpus', '77', 'busybox', 'true']);
    expect(absent.stderr).toMatch(/Requested CPUs are not available - requested 77, available: /);
    const swap = await d.cli(['create', '-m', '32m', '--memory-swap', '16m', 'busybox', 'true']);
    expect(swap.stderr).toContain('Minimum memoryswap limit should be larger than memory limit, see usage');
    const unit = await d.cli(['create', '-m', '64q', 'busybox', 'true']);
    expect(unit.code).toBe(125);
    expect(unit.stderr).toContain(`invalid argument "64q" for "-m, --memory" flag: invalid suffix: 'q'`);
    expect((await d.cli(['ps', '-aq'])).stdout).toBe(before);
  });

  it.skipIf(!hasDocker)('the docker CLI: run -m 32m, inspect', async () => {
    const r = await d.docker(['run', '--rm', '-m', '32m', 'busybox', 'cat', '/sys/fs/cgroup/memory/memory.limit_in_bytes']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('33554432\n');
    expect((await d.docker(['create', '--name', 'dlim', '-m', '32m', '--cpus', '0.5', '--pids-limit', '50', 'busybox', 'true'])).code).toBe(0);
    const i = await d.docker(['inspect', '-f', '{{.HostConfig.Memory}} {{.HostConfig.MemorySwap}} {{.HostConfig.NanoCpus}} {{.HostConfig.PidsLimit}} {{.State.OOMKilled}}', 'dlim']);
    expect(i.stdout.trim()).toBe('33554432 67108864 500000000 50 false');
    const bad = await d.docker(['run', '--rm', '-m', '1k', 'busybox', 'true']);
    expect(bad.code).toBe(125);
    expect(bad.stderr).toContain('Minimum memory limit allowed is 6MB');
    expect((await d.docker(['rm', 'dlim'])).code).toBe(0);
  });
});
