// HostConfig resource limits (-m, --memory-swap, --cpus, --cpu-shares, --cpuset-cpus, --pids-limit,
// --oom-kill-disable …): checked as dockerd 28 checks them (its messages), normalised as dockerd
// records them, and turned into the exec driver's ContainerResources. PURE: the host's CPUs are
// passed in (HostCpus), read once by the caller.
import { invalidParameter } from '../../drivers/errors.js';
import type { ContainerResources } from '../../drivers/handlers.js';

/** The resource keys of HostConfig berth implements (with their zero values as dockerd shows them). */
export interface ResourceConfig {
  Memory: number;
  MemorySwap: number;
  MemoryReservation: number;
  NanoCpus: number;
  CpuShares: number;
  CpuPeriod: number;
  CpuQuota: number;
  CpusetCpus: string;
  CpusetMems: string;
  /** null: no limit (unset, 0 and negative all mean that, as in dockerd). */
  PidsLimit: number | null;
  OomKillDisable: boolean;
}

export const RESOURCE_KEYS = [
  'Memory', 'MemorySwap', 'MemoryReservation', 'NanoCpus', 'CpuShares', 'CpuPeriod', 'CpuQuota',
  'CpusetCpus', 'CpusetMems', 'PidsLimit', 'OomKillDisable',
] as const;

/** What the host offers: the CPU count (Go's NumCPU) and the root cpuset's cpus and mems lists. */
export interface HostCpus {
  count: number;
  cpus: string;
  mems: string;
}

/** dockerd's floor for memory limits and reservations (6 MiB). */
export const MIN_MEMORY = 6 * 1024 * 1024;

export const ZERO_RESOURCES: ResourceConfig = {
  Memory: 0, MemorySwap: 0, MemoryReservation: 0, NanoCpus: 0, CpuShares: 0, CpuPeriod: 0, CpuQuota: 0,
  CpusetCpus: '', CpusetMems: '', PidsLimit: null, OomKillDisable: false,
};

function int(hc: Record<string, unknown>, k: string): number {
  const v = hc[k];
  if (v === undefined || v === null) return 0;
  if (typeof v !== 'number' || !Number.isSafeInteger(v)) throw invalidParameter(`invalid HostConfig.${k}: ${JSON.stringify(v)} is not an integer`);
  return v;
}

function str(hc: Record<string, unknown>, k: string): string {
  const v = hc[k];
  if (v === undefined || v === null) return '';
  if (typeof v !== 'string') throw invalidParameter(`invalid HostConfig.${k}: ${JSON.stringify(v)} is not a string`);
  return v;
}

/** A cpuset list ("0-2,4"), as moby's parsers.ParseUintList; throws `invalid format: …`. */
export function parseCpuList(list: string): Set<number> {
  const out = new Set<number>();
  if (list === '') return out;
  for (const part of list.split(',')) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part);
    if (!m) throw new Error(`invalid format: ${list}`);
    const lo = Number(m[1]);
    const hi = m[2] === undefined ? lo : Number(m[2]);
    if (hi < lo || hi > 8192) throw new Error(`invalid format: ${list}`);
    for (let i = lo; i <= hi; i++) out.add(i);
  }
  return out;
}

function checkSet(kind: 'cpus' | 'mems', requested: string, available: string): void {
  let want: Set<number>;
  try {
    want = parseCpuList(requested);
  } catch (e) {
    throw invalidParameter(`Invalid value ${requested} for cpuset ${kind}: ${(e as Error).message}`);
  }
  let have: Set<number>;
  try {
    have = parseCpuList(available);
  } catch {
    have = new Set();
  }
  for (const n of want) {
    if (!have.has(n)) {
      throw invalidParameter(
        kind === 'cpus'
          ? `Requested CPUs are not available - requested ${requested}, available: ${available}`
          : `Requested memory nodes are not available - requested ${requested}, available: ${available}`,
      );
    }
  }
}

/**
 * HostConfig → the limits to record, or dockerd's 400. Checks in dockerd's order
 * (verifyPlatformContainerResources), then its defaults: MemorySwap = 2 × Memory when only Memory is
 * set, PidsLimit ≤ 0 → null.
 */
export function validateResources(hc: Record<string, unknown>, host: HostCpus): ResourceConfig {
  const r: ResourceConfig = {
    Memory: int(hc, 'Memory'),
    MemorySwap: int(hc, 'MemorySwap'),
    MemoryReservation: int(hc, 'MemoryReservation'),
    NanoCpus: int(hc, 'NanoCpus'),
    CpuShares: int(hc, 'CpuShares'),
    CpuPeriod: int(hc, 'CpuPeriod'),
    CpuQuota: int(hc, 'CpuQuota'),
    CpusetCpus: str(hc, 'CpusetCpus'),
    CpusetMems: str(hc, 'CpusetMems'),
    PidsLimit: hc.PidsLimit === undefined || hc.PidsLimit === null ? null : int(hc, 'PidsLimit'),
    OomKillDisable: false,
  };
  if (hc.OomKillDisable !== undefined && hc.OomKillDisable !== null && typeof hc.OomKillDisable !== 'boolean')
    throw invalidParameter(`invalid HostConfig.OomKillDisable: ${JSON.stringify(hc.OomKillDisable)} is not a boolean`);
  r.OomKillDisable = hc.OomKillDisable === true;

  // memory
  if (r.Memory !== 0 && r.Memory < MIN_MEMORY) throw invalidParameter('Minimum memory limit allowed is 6MB');
  if (r.Memory > 0 && r.MemorySwap > 0 && r.MemorySwap < r.Memory)
    throw invalidParameter('Minimum memoryswap limit should be larger than memory limit, see usage');
  if (r.Memory === 0 && r.MemorySwap > 0) throw invalidParameter('You should always set the Memory limit when using Memoryswap limit, see usage');
  if (r.MemoryReservation > 0 && r.MemoryReservation < MIN_MEMORY) throw invalidParameter('Minimum memory reservation allowed is 6MB');
  if (r.Memory > 0 && r.MemoryReservation > 0 && r.Memory < r.MemoryReservation)
    throw invalidParameter('Minimum memory limit can not be less than memory reservation limit, see usage');
  if (r.Memory < 0 || r.MemoryReservation < 0) throw invalidParameter('memory limits can not be negative');
  if (r.MemorySwap < -1) throw invalidParameter('MemorySwap can not be less than -1 (unlimited)');

  // cpu
  if (r.NanoCpus > 0 && r.CpuPeriod > 0) throw invalidParameter('Conflicting options: Nano CPUs and CPU Period cannot both be set');
  if (r.NanoCpus > 0 && r.CpuQuota > 0) throw invalidParameter('Conflicting options: Nano CPUs and CPU Quota cannot both be set');
  if (r.NanoCpus < 0 || r.NanoCpus > host.count * 1e9)
    throw invalidParameter(`Range of CPUs is from 0.01 to ${host.count}.00, as there are only ${host.count} CPUs available`);
  if (r.CpuShares < 0) throw invalidParameter('shares: invalid argument');
  if (r.CpuPeriod !== 0 && (r.CpuPeriod < 1000 || r.CpuPeriod > 1000000))
    throw invalidParameter('CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)');
  if (r.CpuQuota > 0 && r.CpuQuota < 1000) throw invalidParameter('CPU cfs quota can not be less than 1ms (i.e. 1000)');

  // cpuset
  checkSet('cpus', r.CpusetCpus, host.cpus);
  checkSet('mems', r.CpusetMems, host.mems);

  // dockerd's defaults (adaptContainerSettings, postContainersCreate)
  if (r.Memory > 0 && r.MemorySwap === 0) r.MemorySwap = r.Memory * 2;
  if (r.PidsLimit !== null && r.PidsLimit <= 0) r.PidsLimit = null;
  return r;
}

/** The recorded limits → the exec driver's resources (dockerd's getMemoryResources, getCPUResources,
 *  getPidsLimit); undefined when nothing is limited. `--cpus 0.5` → period 100000, quota 50000. */
export function containerResources(r: Partial<ResourceConfig>): ContainerResources | undefined {
  const out: ContainerResources = {};
  const memory: NonNullable<ContainerResources['memory']> = {};
  if ((r.Memory ?? 0) > 0) memory.limit = r.Memory!;
  if ((r.MemoryReservation ?? 0) > 0) memory.reservation = r.MemoryReservation!;
  if ((r.MemorySwap ?? 0) > 0) memory.swap = r.MemorySwap!; // -1 (unlimited): not set, as dockerd
  if (r.OomKillDisable) memory.disableOOMKiller = true;
  if (Object.keys(memory).length) out.memory = memory;

  const cpu: NonNullable<ContainerResources['cpu']> = {};
  if ((r.CpuShares ?? 0) > 0) cpu.shares = r.CpuShares!;
  if ((r.NanoCpus ?? 0) > 0) {
    cpu.period = 100000;
    cpu.quota = Math.floor((r.NanoCpus! * 100000) / 1e9);
  }
  if (r.CpuPeriod) cpu.period = r.CpuPeriod;
  if (r.CpuQuota) cpu.quota = r.CpuQuota;
  if (r.CpusetCpus) cpu.cpus = r.CpusetCpus;
  if (r.CpusetMems) cpu.mems = r.CpusetMems;
  if (Object.keys(cpu).length) out.cpu = cpu;

  if (r.PidsLimit !== undefined && r.PidsLimit !== null && r.PidsLimit > 0) out.pids = { limit: r.PidsLimit };
  return Object.keys(out).length ? out : undefined;
}

/** The root cpuset's lists from their file texts (cgroup v1 cpuset.cpus / cpuset.mems, or v2's
 *  cpuset.cpus.effective), falling back to 0..count-1 and node 0. */
export function hostCpus(count: number, cpusText: string | undefined, memsText: string | undefined): HostCpus {
  const cpus = cpusText?.trim() || (count > 1 ? `0-${count - 1}` : '0');
  return { count, cpus, mems: memsText?.trim() || '0' };
}
