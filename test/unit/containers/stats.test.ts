// docker stats and top from a fake /proc and cgroup tree: the parsers, one sample in Docker's
// StatsJSON shape (v1 and v2 groups), the CPU % inputs docker's client computes from, top's ps -ef
// rows, and the routes (stream=false primes, one-shot does not, stream=true sends one per tick).
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import Fastify, { type FastifyInstance } from 'fastify';
import {
  emptySample,
  parseBlkio,
  parseKeyValues,
  parseNetDev,
  parseProcCgroup,
  parseSystemCpu,
  sample,
  statsJson,
  type StatsEnv,
} from '../../../daemon/containers/stats.js';
import { checkPsArgs, containerPids, cpuTime, parseProcStat, startTime, top, ttyName, userName, type TopEnv } from '../../../daemon/containers/top.js';
import { statsRoutes } from '../../../daemon/api/routes/stats.js';
import { toHttpError } from '../../../daemon/api/errors.js';
import { unitDaemon } from '../../helpers/unit-daemon.js';
import type { Daemon } from '../../../daemon/daemon.js';
import type { ContainerRecord } from '../../../daemon/containers/types.js';

const GROUP = '/bt-' + 'a'.repeat(64);
const V1_CGROUP = ['12:pids:' + GROUP, '4:memory:' + GROUP, '3:cpu,cpuacct:' + GROUP, '7:blkio:' + GROUP, '1:name=systemd:' + GROUP, '0::' + GROUP].join('\n');
const NET_DEV = `Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo:     100       2    0    0    0     0          0         0      100       2    0    0    0     0       0          0
  eth0:    1500      12    1    2    0     0          0         0      700       7    3    4    0     0       0          0
`;

function v1Files(cpuNs: number, systemTicks: number): Record<string, string> {
  const g = (c: string, f: string) => `/sys/fs/cgroup/${c}${GROUP}/${f}`;
  return {
    '/proc/100/cgroup': V1_CGROUP + '\n',
    '/proc/100/net/dev': NET_DEV,
    '/proc/stat': `cpu  ${systemTicks} 0 0 0 0 0 0 99 0 0\ncpu0 1 2 3\nbtime 1700000000\n`,
    [g('cpuacct', 'cpuacct.usage')]: `${cpuNs}\n`,
    [g('cpuacct', 'cpuacct.usage_percpu')]: `${cpuNs - 10} 10 \n`,
    [g('cpuacct', 'cpuacct.stat')]: 'user 30\nsystem 20\n',
    [g('cpu', 'cpu.stat')]: 'nr_periods 5\nnr_throttled 1\nthrottled_time 77\n',
    [g('memory', 'memory.usage_in_bytes')]: '409600\n',
    [g('memory', 'memory.max_usage_in_bytes')]: '819200\n',
    [g('memory', 'memory.limit_in_bytes')]: '9223372036854771712\n',
    [g('memory', 'memory.failcnt')]: '0\n',
    [g('memory', 'memory.stat')]: 'cache 4096\nrss 200000\ntotal_inactive_file 8192\n',
    [g('pids', 'pids.current')]: '3\n',
    [g('pids', 'pids.max')]: 'max\n',
    [g('blkio', 'blkio.throttle.io_service_bytes_recursive')]: '8:0 Read 4096\n8:0 Write 512\n8:0 Total 4608\nTotal 4608\n',
    [g('blkio', 'blkio.throttle.io_serviced_recursive')]: '8:0 Read 1\n8:0 Write 1\nTotal 2\n',
  };
}

function env(files: Record<string, string>, over: Partial<StatsEnv> = {}): StatsEnv {
  return {
    read: async (p) => files[p],
    procRoot: '/proc',
    cgroupRoot: '/sys/fs/cgroup',
    machineMemory: 8 * 1024 ** 3,
    onlineCpus: 2,
    clockTicks: 100,
    now: () => new Date('2026-01-02T03:04:05.000Z'),
    ...over,
  };
}

describe('parsers', () => {
  it('reads /proc/<pid>/cgroup, splitting joined controllers, with the v2 group under ""', () => {
    const m = parseProcCgroup(V1_CGROUP);
    expect(m.get('cpu')).toBe(GROUP);
    expect(m.get('cpuacct')).toBe(GROUP);
    expect(m.get('name=systemd')).toBe(GROUP);
    expect(m.get('')).toBe(GROUP);
    expect(parseProcCgroup('garbage\n').size).toBe(0);
  });
  it('reads key/value files, blkio lines, /proc/stat and net/dev', () => {
    expect(parseKeyValues('a 1\nb x\nc -2\n')).toEqual({ a: 1, c: -2 });
    expect(parseBlkio('8:0 Read 10\n8:16 Write 5\nTotal 15\n')).toEqual([
      { major: 8, minor: 0, op: 'read', value: 10 },
      { major: 8, minor: 16, op: 'write', value: 5 },
    ]);
    expect(parseBlkio(undefined)).toBeNull();
    // user..softirq, not steal: (1+2+3+4+5+6+7) ticks of 10 ms
    expect(parseSystemCpu('cpu  1 2 3 4 5 6 7 1000 0 0\n', 100)).toBe(280_000_000);
    expect(parseNetDev(NET_DEV)).toEqual({
      eth0: { rx_bytes: 1500, rx_packets: 12, rx_errors: 1, rx_dropped: 2, tx_bytes: 700, tx_packets: 7, tx_errors: 3, tx_dropped: 4 },
    });
  });
});

describe('sample', () => {
  it('fills Docker StatsJSON from a cgroup v1 tree; an unlimited memory limit shows the host memory', async () => {
    const s = await sample(env(v1Files(5_000_000, 1000)), 100, true);
    expect(s.read).toBe('2026-01-02T03:04:05.000Z');
    expect(s.cpu_stats).toEqual({
      cpu_usage: { total_usage: 5_000_000, percpu_usage: [4_999_990, 10], usage_in_kernelmode: 200_000_000, usage_in_usermode: 300_000_000 },
      system_cpu_usage: 10_000_000_000,
      online_cpus: 2,
      throttling_data: { periods: 5, throttled_periods: 1, throttled_time: 77 },
    });
    expect(s.memory_stats).toEqual({ usage: 409600, max_usage: 819200, failcnt: 0, limit: 8 * 1024 ** 3, stats: { cache: 4096, rss: 200000, total_inactive_file: 8192 } });
    expect(s.pids_stats).toEqual({ current: 3 });
    expect(s.blkio_stats.io_service_bytes_recursive).toEqual([
      { major: 8, minor: 0, op: 'read', value: 4096 },
      { major: 8, minor: 0, op: 'write', value: 512 },
      { major: 8, minor: 0, op: 'total', value: 4608 },
    ]);
    expect(s.networks).toEqual({ eth0: expect.objectContaining({ rx_bytes: 1500, tx_bytes: 700 }) });
  });

  it('leaves the networks out for --net host, and gives zeros for a process that is gone', async () => {
    expect((await sample(env(v1Files(1, 1)), 100, false)).networks).toBeUndefined();
    expect(await sample(env({}), 100, true)).toEqual(emptySample());
  });

  it('falls back to a cgroup v2 group (unified mount)', async () => {
    const files = {
      '/proc/7/cgroup': '0::/grp\n',
      '/proc/stat': 'cpu  1 0 0 0 0 0 0\n',
      '/sys/fs/cgroup/unified/grp/cpu.stat': 'usage_usec 1500\nuser_usec 1000\nsystem_usec 500\nnr_periods 0\nnr_throttled 0\nthrottled_usec 0\n',
      '/sys/fs/cgroup/unified/grp/memory.current': '1234\n',
      '/sys/fs/cgroup/unified/grp/memory.max': 'max\n',
      '/sys/fs/cgroup/unified/grp/memory.stat': 'inactive_file 34\n',
      '/sys/fs/cgroup/unified/grp/pids.current': '2\n',
      '/sys/fs/cgroup/unified/grp/pids.max': '100\n',
    };
    const s = await sample(env(files), 7, false);
    expect(s.cpu_stats.cpu_usage).toEqual({ total_usage: 1_500_000, usage_in_kernelmode: 500_000, usage_in_usermode: 1_000_000 });
    expect(s.memory_stats).toEqual({ usage: 1234, stats: { inactive_file: 34 }, limit: 8 * 1024 ** 3 });
    expect(s.pids_stats).toEqual({ current: 2, limit: 100 });
  });

  it('statsJson carries the previous sample as precpu (docker computes CPU % from the two)', async () => {
    const a = await sample(env(v1Files(1_000_000_000, 1000)), 100, true);
    const b = await sample(env(v1Files(1_500_000_000, 1100), { now: () => new Date('2026-01-02T03:04:06.000Z') }), 100, true);
    const j = statsJson('web', 'f'.repeat(64), b, a) as Record<string, { cpu_usage: { total_usage: number }; system_cpu_usage: number }> & Record<string, unknown>;
    expect(j.name).toBe('/web');
    expect(j.id).toBe('f'.repeat(64));
    expect(j.preread).toBe('2026-01-02T03:04:05.000Z');
    expect(j.read).toBe('2026-01-02T03:04:06.000Z');
    const cpuDelta = j.cpu_stats!.cpu_usage.total_usage - j.precpu_stats!.cpu_usage.total_usage;
    const sysDelta = j.cpu_stats!.system_cpu_usage - j.precpu_stats!.system_cpu_usage;
    expect((cpuDelta / sysDelta) * 2 * 100).toBeCloseTo(100); // 0.5 s of CPU in 1 s of 2 CPUs' time, x2 CPUs
    const first = statsJson('web', 'f'.repeat(64), a, undefined) as Record<string, unknown>;
    expect(first.preread).toBe('0001-01-01T00:00:00Z');
    expect(first.precpu_stats).toEqual({ cpu_usage: { total_usage: 0, usage_in_kernelmode: 0, usage_in_usermode: 0 }, throttling_data: { periods: 0, throttled_periods: 0, throttled_time: 0 } });
  });
});

describe('top', () => {
  const now = new Date(2026, 0, 2, 12, 0, 0);
  const boot = Math.floor(now.getTime() / 1000) - 10_000; // booted 10000 s ago
  const stat = (pid: number, comm: string, ppid: number, tty: number, ticks: number, start: number) =>
    `${pid} (${comm}) S ${ppid} ${pid} ${pid} ${tty} -1 4194560 0 0 0 0 ${ticks} 0 0 0 20 0 1 0 ${start} 1000 100 18446744073709551615\n`;
  const files: Record<string, string> = {
    '/proc/100/cgroup': '12:pids:/g\n4:memory:/g\n',
    '/sys/fs/cgroup/pids/g/cgroup.procs': '130\n100\n',
    '/proc/stat': `cpu  1 2 3\nbtime ${boot}\n`,
    '/etc/passwd': 'root:x:0:0::/root:/bin/sh\nnobody:x:65534:65534::/:/bin/false\n',
    '/proc/100/stat': stat(100, 'sleep', 90, 0, 50, 900_000), // started 9000 s after boot: 1000 s ago
    '/proc/100/status': 'Name:\tsleep\nUid:\t0\t0\t0\t0\n',
    '/proc/100/cmdline': 'sleep\u00001000\u0000',
    '/proc/130/stat': stat(130, 'odd) name', 100, (136 << 8) | 3, 0, 999_000),
    '/proc/130/status': 'Uid:\t65534\t65534\t65534\t65534\n',
    '/proc/130/cmdline': '',
  };
  const topEnv = (f: Record<string, string>): TopEnv => ({ read: async (p) => f[p], listDir: async () => [], procRoot: '/proc', cgroupRoot: '/sys/fs/cgroup', clockTicks: 100, now: () => now });

  it('lists the processes of the pids cgroup in ps -ef columns', async () => {
    const r = await top(topEnv(files), 100);
    expect(r.Titles).toEqual(['UID', 'PID', 'PPID', 'C', 'STIME', 'TTY', 'TIME', 'CMD']);
    expect(r.Processes).toEqual([
      ['root', '100', '90', '0', '11:43', '?', '00:00:00', 'sleep 1000'],
      ['nobody', '130', '100', '0', '11:59', 'pts/3', '00:00:00', '[odd) name]'],
    ]);
  });

  it('only the init when no cgroup lists it; nothing when it is gone', async () => {
    expect(await containerPids(topEnv({ '/proc/5/cgroup': '1:cpu:/x\n' }), 5)).toEqual([5]);
    expect(await containerPids(topEnv({}), 5)).toEqual([]);
    expect((await top(topEnv({}), 5)).Processes).toEqual([]);
  });

  it('formats as ps', () => {
    expect(parseProcStat('1 (a (b) c) R 0 1 1 0 -1 0 0 0 0 0 7 8 0 0 20 0 1 0 55 0 0')).toMatchObject({ pid: 1, comm: 'a (b) c', ppid: 0, utime: 7, stime: 8, starttime: 55 });
    expect(parseProcStat('nonsense')).toBeUndefined();
    expect(ttyName(0)).toBe('?');
    expect(ttyName((136 << 8) | 0)).toBe('pts/0');
    expect(ttyName((137 << 8) | 2)).toBe('pts/258');
    expect(ttyName((4 << 8) | 1)).toBe('tty1');
    expect(cpuTime(3725.9)).toBe('01:02:05');
    expect(cpuTime(90061)).toBe('1-01:01:01');
    expect(startTime(new Date(2026, 0, 2, 9, 5), now)).toBe('09:05');
    expect(startTime(new Date(2025, 11, 30, 9, 5), new Date(2026, 0, 2))).toBe('2025');
    expect(startTime(new Date(2026, 0, 1, 9, 5), new Date(2026, 2, 2))).toBe('Jan01');
    expect(userName('a:x:5:5::/:/bin/sh\n', 5)).toBe('a');
    expect(userName(undefined, 7)).toBe('7');
  });

  it('serves ps -ef only', () => {
    for (const ok of [undefined, '', '-ef', 'ef', '-e -f']) expect(() => checkPsArgs(ok)).not.toThrow();
    expect(() => checkPsArgs('aux')).toThrow(/ps options "aux" are not supported/);
  });
});

describe('routes', () => {
  let d: Daemon;
  let cleanup: () => void;
  let app: FastifyInstance;
  let cpu = 1_000_000_000;
  let sys = 1000;
  const running = (): ContainerRecord =>
    ({
      id: 'a'.repeat(64),
      name: 'web',
      state: { status: 'running', pid: 100, exitCode: 0 },
      netns: { kind: 'named', name: 'x', path: '/run/netns/x' },
    }) as unknown as ContainerRecord;

  beforeEach(async () => {
    ({ d, cleanup } = await unitDaemon());
    await d.store.put('container', running());
    app = Fastify();
    app.setErrorHandler((err, _req, reply) => {
      const { status, message } = toHttpError(err);
      return reply.code(status).send({ message });
    });
    // each sample starts by reading the init's cgroup file: the counters move on then
    let files = v1Files(cpu, sys);
    const read = async (p: string) => {
      if (p === '/proc/100/cgroup') files = v1Files((cpu += 500_000_000), (sys += 100));
      return files[p];
    };
    await app.register(
      statsRoutes(d, {
        stats: { ...env({}), read },
        top: { read: async () => undefined, listDir: async () => [], procRoot: '/proc', cgroupRoot: '/sys/fs/cgroup', clockTicks: 100, now: () => new Date() },
        intervalMs: 5,
      }),
    );
  });
  afterEach(async () => {
    await app.close();
    cleanup();
  });

  it('stream=false primes the CPU numbers with a second sample; one-shot does not', async () => {
    const r = await app.inject({ url: `/containers/web/stats?stream=false` });
    expect(r.statusCode).toBe(200);
    const j = r.json();
    expect(j.name).toBe('/web');
    expect(j.precpu_stats.cpu_usage.total_usage).toBeGreaterThan(0);
    expect(j.cpu_stats.cpu_usage.total_usage).toBeGreaterThan(j.precpu_stats.cpu_usage.total_usage);
    const o = (await app.inject({ url: `/containers/web/stats?stream=0&one-shot=1` })).json();
    expect(o.precpu_stats.cpu_usage.total_usage).toBe(0);
    expect(o.cpu_stats.cpu_usage.total_usage).toBeGreaterThan(0);
    expect((await app.inject({ url: `/containers/web/stats?stream=1&one-shot=1` })).statusCode).toBe(400);
    expect((await app.inject({ url: `/containers/web/stats?stream=maybe` })).statusCode).toBe(400);
  });

  it('404 for a missing container; zeros for a stopped one; top refuses a stopped one (409)', async () => {
    const r = await app.inject({ url: `/containers/nosuch/stats?stream=false` });
    expect(r.statusCode).toBe(404);
    expect(r.json()).toEqual({ message: 'No such container: nosuch' });
    await d.store.put('container', { ...running(), state: { status: 'exited', pid: 0, exitCode: 0 } } as unknown as ContainerRecord);
    const z = (await app.inject({ url: `/containers/web/stats?stream=false` })).json();
    expect(z.cpu_stats.cpu_usage.total_usage).toBe(0);
    expect(z.memory_stats).toEqual({});
    expect(z.read).toBe('0001-01-01T00:00:00Z');
    expect((await app.inject({ url: `/containers/web/top` })).statusCode).toBe(409);
    expect((await app.inject({ url: `/containers/web/top?ps_args=aux` })).statusCode).toBe(400);
  });

  it('stream=true writes one document per tick, each with the previous as precpu', async () => {
    const address = await app.listen({ port: 0, host: '127.0.0.1' });
    const ac = new AbortController();
    const res = await fetch(`${address}/containers/web/stats`, { signal: ac.signal });
    expect(res.status).toBe(200);
    const reader = res.body!.getReader();
    let text = '';
    while (text.split('\n').length < 4) text += new TextDecoder().decode((await reader.read()).value);
    ac.abort();
    const docs = text.split('\n').filter(Boolean).slice(0, 3).map((l) => JSON.parse(l));
    expect(docs[0].precpu_stats.cpu_usage.total_usage).toBe(0);
    expect(docs[1].precpu_stats.cpu_usage.total_usage).toBe(docs[0].cpu_stats.cpu_usage.total_usage);
    expect(docs[2].precpu_stats.cpu_usage.total_usage).toBe(docs[1].cpu_stats.cpu_usage.total_usage);
  });
});
