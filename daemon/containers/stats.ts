// docker stats: a container's resource use read from its cgroup (v1: cpuacct, cpu, memory, pids,
// blkio; a v2 unified group where v1 has none) and its netns (/proc/<pid>/net/dev), found from its
// init pid's /proc/<pid>/cgroup. Reads files only; the parsers are pure and take the file texts.
import { readFile } from 'node:fs/promises';
import os from 'node:os';

/** Reads a text file; undefined when it does not exist (or cannot be read). */
export type ReadText = (path: string) => Promise<string | undefined>;

export const readText: ReadText = (p) => readFile(p, 'utf8').catch(() => undefined);

export interface StatsEnv {
  read: ReadText;
  /** /proc and the cgroup mount root (tests point them at a fixture tree). */
  procRoot: string;
  cgroupRoot: string;
  /** Host memory: the limit shown for a container without one, as dockerd. */
  machineMemory: number;
  onlineCpus: number;
  /** USER_HZ (clock ticks per second) of /proc/stat and cpuacct.stat. */
  clockTicks: number;
  now(): Date;
}

export function hostStatsEnv(): StatsEnv {
  return { read: readText, procRoot: '/proc', cgroupRoot: '/sys/fs/cgroup', machineMemory: os.totalmem(), onlineCpus: os.cpus().length, clockTicks: 100, now: () => new Date() };
}

export interface CpuStats {
  cpu_usage: { total_usage: number; percpu_usage?: number[]; usage_in_kernelmode: number; usage_in_usermode: number };
  system_cpu_usage?: number;
  online_cpus?: number;
  throttling_data: { periods: number; throttled_periods: number; throttled_time: number };
}

interface BlkioEntry {
  major: number;
  minor: number;
  op: string;
  value: number;
}

export interface NetStats {
  rx_bytes: number;
  rx_packets: number;
  rx_errors: number;
  rx_dropped: number;
  tx_bytes: number;
  tx_packets: number;
  tx_errors: number;
  tx_dropped: number;
}

/** One sample in Docker's StatsJSON shape, without name/id/pre* (added by `statsJson`). */
export interface Sample {
  read: string;
  pids_stats: { current?: number; limit?: number };
  blkio_stats: {
    io_service_bytes_recursive: BlkioEntry[] | null;
    io_serviced_recursive: BlkioEntry[] | null;
    io_queue_recursive: null;
    io_service_time_recursive: null;
    io_wait_time_recursive: null;
    io_merged_recursive: null;
    io_time_recursive: null;
    sectors_recursive: null;
  };
  num_procs: 0;
  storage_stats: Record<string, never>;
  cpu_stats: CpuStats;
  memory_stats: { usage?: number; max_usage?: number; stats?: Record<string, number>; failcnt?: number; limit?: number };
  networks?: Record<string, NetStats>;
}

export const ZERO_TIME = '0001-01-01T00:00:00Z';

/** What Docker sends for a container that is not running: only zeros (and its name and id). */
export function emptySample(): Sample {
  return {
    read: ZERO_TIME,
    pids_stats: {},
    blkio_stats: emptyBlkio(),
    num_procs: 0,
    storage_stats: {},
    cpu_stats: zeroCpu(),
    memory_stats: {},
  };
}

function emptyBlkio(): Sample['blkio_stats'] {
  return {
    io_service_bytes_recursive: null,
    io_serviced_recursive: null,
    io_queue_recursive: null,
    io_service_time_recursive: null,
    io_wait_time_recursive: null,
    io_merged_recursive: null,
    io_time_recursive: null,
    sectors_recursive: null,
  };
}

function zeroCpu(): CpuStats {
  return { cpu_usage: { total_usage: 0, usage_in_kernelmode: 0, usage_in_usermode: 0 }, throttling_data: { periods: 0, throttled_periods: 0, throttled_time: 0 } };
}

/** The StatsJSON docker's client reads: a sample, the one before it (for CPU %), name and id. */
export function statsJson(name: string, id: string, cur: Sample, prev: Sample | undefined): Record<string, unknown> {
  const { read, ...rest } = cur;
  return {
    read,
    preread: prev?.read ?? ZERO_TIME,
    ...rest,
    precpu_stats: prev?.cpu_stats ?? zeroCpu(),
    name: `/${name}`,
    id,
  };
}

// ---- parsers (pure) ----------------------------------------------------------------------------

/** /proc/<pid>/cgroup → controller → path ("" for the v2 unified group). */
export function parseProcCgroup(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split('\n')) {
    const m = /^(\d+):([^:]*):(.*)$/.exec(line.trim());
    if (!m) continue;
    const [, , ctrls, path] = m;
    if (ctrls === '') out.set('', path!);
    else for (const c of ctrls!.split(',')) out.set(c, path!);
  }
  return out;
}

/** "key value" lines (memory.stat, cpu.stat, cpuacct.stat) → numbers. */
export function parseKeyValues(text: string | undefined): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of (text ?? '').split('\n')) {
    const [k, v] = line.trim().split(/\s+/);
    if (k && v !== undefined && /^-?\d+$/.test(v)) out[k] = Number(v);
  }
  return out;
}

function num(text: string | undefined): number | undefined {
  const t = text?.trim();
  return t && /^\d+$/.test(t) ? Number(t) : undefined;
}

/** blkio.throttle.io_service_bytes_recursive: "8:0 Read 4096" lines (the "Total" line dropped). */
export function parseBlkio(text: string | undefined): BlkioEntry[] | null {
  if (text === undefined) return null;
  const out: BlkioEntry[] = [];
  for (const line of text.split('\n')) {
    const m = /^(\d+):(\d+)\s+(\S+)\s+(\d+)$/.exec(line.trim());
    if (m) out.push({ major: Number(m[1]), minor: Number(m[2]), op: m[3]!.toLowerCase(), value: Number(m[4]) });
  }
  return out;
}

/** The host's CPU time in nanoseconds, from /proc/stat's first line (user … softirq, as dockerd). */
export function parseSystemCpu(procStat: string | undefined, clockTicks: number): number | undefined {
  const line = procStat?.split('\n').find((l) => l.startsWith('cpu '));
  if (!line) return undefined;
  const ticks = line.trim().split(/\s+/).slice(1, 8).reduce((a, v) => a + Number(v), 0);
  return Math.round((ticks * 1e9) / clockTicks);
}

/** /proc/<pid>/net/dev → per interface counters, loopback left out (as Docker). */
export function parseNetDev(text: string | undefined): Record<string, NetStats> | undefined {
  if (text === undefined) return undefined;
  const out: Record<string, NetStats> = {};
  for (const line of text.split('\n').slice(2)) {
    const m = /^\s*([^:\s]+):\s*(.*)$/.exec(line);
    if (!m || m[1] === 'lo') continue;
    const f = m[2]!.trim().split(/\s+/).map(Number);
    out[m[1]!] = {
      rx_bytes: f[0] ?? 0,
      rx_packets: f[1] ?? 0,
      rx_errors: f[2] ?? 0,
      rx_dropped: f[3] ?? 0,
      tx_bytes: f[8] ?? 0,
      tx_packets: f[9] ?? 0,
      tx_errors: f[10] ?? 0,
      tx_dropped: f[11] ?? 0,
    };
  }
  return out;
}

// ---- sampling ----------------------------------------------------------------------------------

/**
 * One sample of the container whose init is `pid`. `withNetworks`: false for --net host (its
 * interfaces are the host's, which Docker does not report). A process that is gone gives zeros.
 */
export async function sample(env: StatsEnv, pid: number, withNetworks: boolean): Promise<Sample> {
  const groups = parseProcCgroup((await env.read(`${env.procRoot}/${pid}/cgroup`)) ?? '');
  if (groups.size === 0) return emptySample();
  const v1 = (ctrl: string, file: string) => {
    const p = groups.get(ctrl);
    return p === undefined ? Promise.resolve(undefined) : env.read(`${env.cgroupRoot}/${ctrl}${p === '/' ? '' : p}/${file}`);
  };
  const unified = groups.get('');
  const v2 = async (file: string) => {
    if (unified === undefined) return undefined;
    const sub = unified === '/' ? '' : unified;
    return (await env.read(`${env.cgroupRoot}${sub}/${file}`)) ?? (await env.read(`${env.cgroupRoot}/unified${sub}/${file}`));
  };
  const read = env.now().toISOString();
  const [usage, percpu, cpuacctStat, cpuStat, memUsage, memMax, memLimit, memFail, memStat, pidsCur, pidsMax, ioBytes, ioOps, procStat, netDev] = await Promise.all([
    v1('cpuacct', 'cpuacct.usage'),
    v1('cpuacct', 'cpuacct.usage_percpu'),
    v1('cpuacct', 'cpuacct.stat'),
    v1('cpu', 'cpu.stat'),
    v1('memory', 'memory.usage_in_bytes'),
    v1('memory', 'memory.max_usage_in_bytes'),
    v1('memory', 'memory.limit_in_bytes'),
    v1('memory', 'memory.failcnt'),
    v1('memory', 'memory.stat'),
    v1('pids', 'pids.current'),
    v1('pids', 'pids.max'),
    v1('blkio', 'blkio.throttle.io_service_bytes_recursive'),
    v1('blkio', 'blkio.throttle.io_serviced_recursive'),
    env.read(`${env.procRoot}/stat`),
    withNetworks ? env.read(`${env.procRoot}/${pid}/net/dev`) : Promise.resolve(undefined),
  ]);

  const cpu = zeroCpu();
  const tickNs = 1e9 / env.clockTicks;
  if (usage !== undefined) {
    const st = parseKeyValues(cpuacctStat);
    cpu.cpu_usage = {
      total_usage: num(usage) ?? 0,
      percpu_usage: (percpu ?? '').trim().split(/\s+/).filter(Boolean).map(Number),
      usage_in_kernelmode: Math.round((st.system ?? 0) * tickNs),
      usage_in_usermode: Math.round((st.user ?? 0) * tickNs),
    };
    const th = parseKeyValues(cpuStat);
    cpu.throttling_data = { periods: th.nr_periods ?? 0, throttled_periods: th.nr_throttled ?? 0, throttled_time: th.throttled_time ?? 0 };
  } else {
    const st = parseKeyValues(await v2('cpu.stat'));
    cpu.cpu_usage = { total_usage: (st.usage_usec ?? 0) * 1000, usage_in_kernelmode: (st.system_usec ?? 0) * 1000, usage_in_usermode: (st.user_usec ?? 0) * 1000 };
    cpu.throttling_data = { periods: st.nr_periods ?? 0, throttled_periods: st.nr_throttled ?? 0, throttled_time: (st.throttled_usec ?? 0) * 1000 };
  }
  const system = parseSystemCpu(procStat, env.clockTicks);
  if (system !== undefined) cpu.system_cpu_usage = system;
  cpu.online_cpus = env.onlineCpus;

  let memory: Sample['memory_stats'];
  if (memUsage !== undefined) {
    const limit = num(memLimit);
    memory = {
      usage: num(memUsage) ?? 0,
      max_usage: num(memMax) ?? 0,
      stats: parseKeyValues(memStat),
      failcnt: num(memFail) ?? 0,
      limit: limit === undefined || (env.machineMemory > 0 && limit > env.machineMemory) ? env.machineMemory : limit,
    };
  } else {
    const [cur, max, stat] = await Promise.all([v2('memory.current'), v2('memory.max'), v2('memory.stat')]);
    const limit = num(max);
    memory = cur === undefined ? {} : { usage: num(cur) ?? 0, stats: parseKeyValues(stat), limit: limit === undefined || limit > env.machineMemory ? env.machineMemory : limit };
  }

  let pids: Sample['pids_stats'] = {};
  const pc = num(pidsCur) ?? num(await v2('pids.current'));
  if (pc !== undefined) {
    pids = { current: pc };
    const pm = num(pidsMax) ?? num(await v2('pids.max'));
    if (pm !== undefined) pids.limit = pm;
  }

  const s: Sample = {
    read,
    pids_stats: pids,
    blkio_stats: { ...emptyBlkio(), io_service_bytes_recursive: parseBlkio(ioBytes), io_serviced_recursive: parseBlkio(ioOps) },
    num_procs: 0,
    storage_stats: {},
    cpu_stats: cpu,
    memory_stats: memory,
  };
  const networks = parseNetDev(netDev);
  if (networks) s.networks = networks;
  return s;
}
