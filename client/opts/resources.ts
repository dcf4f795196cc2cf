// run/create resource flags (-m, --memory-swap, --cpus, -c, --cpuset-*, --pids-limit,
// --oom-kill-disable) → the HostConfig fields docker's CLI 28 sends, with its parsing and messages
// (go-units RAMInBytes for sizes, big.Rat for --cpus). Pure.
import { UsageError } from '../command.js';

export const resourceFlags = {
  memory: { type: 'string', short: 'm' },
  'memory-swap': { type: 'string' },
  'memory-reservation': { type: 'string' },
  cpus: { type: 'string' },
  'cpu-shares': { type: 'string', short: 'c' },
  'cpu-period': { type: 'string' },
  'cpu-quota': { type: 'string' },
  'cpuset-cpus': { type: 'string' },
  'cpuset-mems': { type: 'string' },
  'pids-limit': { type: 'string' },
  'oom-kill-disable': { type: 'bool' },
} as const;

/** The HostConfig resource fields of a docker 28 create body (its zeros when a flag is not given). */
export interface ResourceFields {
  CpuShares: number;
  Memory: number;
  NanoCpus: number;
  CpuPeriod: number;
  CpuQuota: number;
  CpusetCpus: string;
  CpusetMems: string;
  MemoryReservation: number;
  MemorySwap: number;
  OomKillDisable: boolean;
  PidsLimit: number;
}

const bad = (flag: string, v: string, why: string) => new UsageError(`invalid argument "${v}" for "${flag}" flag: ${why}`);

const UNITS: Record<string, number> = { k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4, p: 1024 ** 5 };

/** go-units RAMInBytes: `64m`, `1g`, `512k`, `1.5g`, `100`, `64MiB`, `2 GB` (binary units). */
export function ramInBytes(s: string): number {
  let sep = -1;
  for (let i = s.length - 1; i >= 0; i--) if ('0123456789. '.includes(s[i]!)) { sep = i; break; }
  if (sep === -1) throw new Error(`invalid size: '${s}'`);
  const num = s[sep] === ' ' ? s.slice(0, sep) : s.slice(0, sep + 1);
  const sfx = s.slice(sep + 1);
  if (!/^[+-]?(\d+\.?\d*|\.\d+)$/.test(num)) throw new Error(`invalid size: '${s}'`);
  const size = Number(num);
  if (size < 0) throw new Error(`invalid size: '${s}'`);
  if (sfx === '') return Math.trunc(size);
  const low = sfx.toLowerCase();
  if (sfx.length > 3) throw new Error(`invalid suffix: '${sfx}'`);
  if (low[0] === 'b') {
    if (low.length > 1) throw new Error(`invalid suffix: '${low}'`);
    return Math.trunc(size);
  }
  const mul = UNITS[low[0]!];
  if (mul === undefined || (low.length === 2 && low[1] !== 'b') || (low.length === 3 && low.slice(1) !== 'ib'))
    throw new Error(`invalid suffix: '${low}'`);
  return Math.trunc(size * mul);
}

/** docker's NanoCPUs: a rational number (`0.5`, `1.25`, `3/2`, `1e-1`) × 1e9, exactly. */
export function nanoCpus(s: string): number {
  const fail = () => new Error(`failed to parse ${s} as a rational number`);
  let num: bigint;
  let den: bigint;
  const frac = /^([+-]?\d+)\/(\d+)$/.exec(s);
  if (frac) {
    num = BigInt(frac[1]!);
    den = BigInt(frac[2]!);
    if (den === 0n) throw fail();
  } else {
    const m = /^([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/.exec(s);
    if (!m || (m[2] === '' && (m[3] ?? '') === '')) throw fail();
    const digits = `${m[2]}${m[3] ?? ''}` || '0';
    const exp = -(m[3] ?? '').length + Number(m[4] ?? 0);
    if (Math.abs(exp) > 400) throw fail();
    num = BigInt(digits) * (m[1] === '-' ? -1n : 1n);
    den = 1n;
    if (exp >= 0) num *= 10n ** BigInt(exp);
    else den = 10n ** BigInt(-exp);
  }
  const scaled = num * 1_000_000_000n;
  if (scaled % den !== 0n) throw new Error('value is too precise');
  return Number(scaled / den);
}

function int64(flag: string, v: string): number {
  if (!/^[+-]?\d+$/.test(v) || !Number.isSafeInteger(Number(v))) throw bad(flag, v, `strconv.ParseInt: parsing "${v}": invalid syntax`);
  return Number(v);
}

/** The parsed flags → the body fields (flags as parseFlags returns them). */
export function parseResourceFlags(f: Record<string, string | string[] | boolean | undefined>): ResourceFields {
  const s = (k: string) => f[k] as string | undefined;
  const size = (flag: string, v: string | undefined) => {
    if (v === undefined) return 0;
    try {
      return ramInBytes(v);
    } catch (e) {
      throw bad(flag, v, (e as Error).message);
    }
  };
  const swap = s('memory-swap');
  const cpus = s('cpus');
  let nano = 0;
  if (cpus !== undefined) {
    try {
      nano = nanoCpus(cpus);
    } catch (e) {
      throw bad('--cpus', cpus, (e as Error).message);
    }
  }
  const num = (flag: string, k: string) => (s(k) === undefined ? 0 : int64(flag, s(k)!));
  return {
    CpuShares: num('-c, --cpu-shares', 'cpu-shares'),
    Memory: size('-m, --memory', s('memory')),
    NanoCpus: nano,
    CpuPeriod: num('--cpu-period', 'cpu-period'),
    CpuQuota: num('--cpu-quota', 'cpu-quota'),
    CpusetCpus: s('cpuset-cpus') ?? '',
    CpusetMems: s('cpuset-mems') ?? '',
    MemoryReservation: size('--memory-reservation', s('memory-reservation')),
    MemorySwap: swap === '-1' ? -1 : size('--memory-swap', swap),
    OomKillDisable: (f['oom-kill-disable'] as boolean | undefined) ?? false,
    PidsLimit: num('--pids-limit', 'pids-limit'),
  };
}
