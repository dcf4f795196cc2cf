// resources.ts: dockerd's checks and defaults for -m, --memory-swap, --cpus, --cpuset-*, --pids-limit,
// and the mapping to the exec driver's limits; plus buildContainer recording them.
import { describe, expect, it } from 'vitest';
import { containerResources, hostCpus, parseCpuList, validateResources, ZERO_RESOURCES } from '../../../daemon/containers/resources.js';
import { buildContainer, type CreateLookups } from '../../../daemon/containers/create.js';
import { inspect } from '../../../daemon/containers/wire.js';
import { isBerthError } from '../../../drivers/errors.js';

const HOST = { count: 2, cpus: '0-1', mems: '0' };
const MB = 1024 * 1024;

describe('validateResources', () => {
  it('zeros when nothing is set (docker CLI sends zeros, PidsLimit 0)', () => {
    expect(validateResources({ Memory: 0, MemorySwap: 0, PidsLimit: 0, OomKillDisable: false, CpusetCpus: '' }, HOST)).toEqual(ZERO_RESOURCES);
    expect(validateResources({}, HOST)).toEqual(ZERO_RESOURCES);
  });

  it("applies dockerd's defaults: swap = 2 × memory, PidsLimit ≤ 0 → null", () => {
    const r = validateResources({ Memory: 64 * MB, PidsLimit: -1 }, HOST);
    expect(r.MemorySwap).toBe(128 * MB);
    expect(r.PidsLimit).toBeNull();
    expect(validateResources({ Memory: 64 * MB, MemorySwap: -1 }, HOST).MemorySwap).toBe(-1);
    expect(validateResources({ PidsLimit: 20 }, HOST).PidsLimit).toBe(20);
  });

  it.each<[Record<string, unknown>, string]>([
    [{ Memory: 1024 }, 'Minimum memory limit allowed is 6MB'],
    [{ Memory: -5 }, 'Minimum memory limit allowed is 6MB'],
    [{ Memory: 32 * MB, MemorySwap: 16 * MB }, 'Minimum memoryswap limit should be larger than memory limit, see usage'],
    [{ MemorySwap: 16 * MB }, 'You should always set the Memory limit when using Memoryswap limit, see usage'],
    [{ MemoryReservation: MB }, 'Minimum memory reservation allowed is 6MB'],
    [{ Memory: 16 * MB, MemoryReservation: 32 * MB }, 'Minimum memory limit can not be less than memory reservation limit, see usage'],
    [{ NanoCpus: 5e8, CpuPeriod: 100000 }, 'Conflicting options: Nano CPUs and CPU Period cannot both be set'],
    [{ NanoCpus: 5e8, CpuQuota: 50000 }, 'Conflicting options: Nano CPUs and CPU Quota cannot both be set'],
    [{ NanoCpus: 99e9 }, 'Range of CPUs is from 0.01 to 2.00, as there are only 2 CPUs available'],
    [{ NanoCpus: -1 }, 'Range of CPUs is from 0.01 to 2.00, as there are only 2 CPUs available'],
    [{ CpuShares: -2 }, 'shares: invalid argument'],
    [{ CpuPeriod: 999 }, 'CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)'],
    [{ CpuQuota: 500 }, 'CPU cfs quota can not be less than 1ms (i.e. 1000)'],
    [{ CpusetCpus: '1-x' }, 'Invalid value 1-x for cpuset cpus: invalid format: 1-x'],
    [{ CpusetCpus: '7' }, 'Requested CPUs are not available - requested 7, available: 0-1'],
    [{ CpusetMems: '3' }, 'Requested memory nodes are not available - requested 3, available: 0'],
    [{ Memory: '64m' }, 'invalid HostConfig.Memory'],
    [{ Memory: 1.5 }, 'invalid HostConfig.Memory'],
    [{ OomKillDisable: 'yes' }, 'invalid HostConfig.OomKillDisable'],
  ])('%j → 400 %s', (hc, msg) => {
    try {
      validateResources(hc, HOST);
      expect.unreachable();
    } catch (e) {
      expect(isBerthError(e, 'invalid_parameter')).toBe(true);
      expect((e as Error).message).toContain(msg);
    }
  });

  it('parses cpuset lists as moby does', () => {
    expect([...parseCpuList('0-2,5')]).toEqual([0, 1, 2, 5]);
    expect(parseCpuList('').size).toBe(0);
    expect(() => parseCpuList('2-1')).toThrow('invalid format: 2-1');
    expect(() => parseCpuList('0,,1')).toThrow('invalid format');
  });

  it('hostCpus falls back to 0..n-1 and node 0', () => {
    expect(hostCpus(4, undefined, undefined)).toEqual({ count: 4, cpus: '0-3', mems: '0' });
    expect(hostCpus(2, '0-1\n', '0\n')).toEqual({ count: 2, cpus: '0-1', mems: '0' });
    expect(hostCpus(1, '', '')).toEqual({ count: 1, cpus: '0', mems: '0' });
  });
});

describe('containerResources', () => {
  it('nothing set → undefined (config.json keeps only the device rules)', () => {
    expect(containerResources(ZERO_RESOURCES)).toBeUndefined();
    expect(containerResources({})).toBeUndefined();
  });

  it('--cpus 0.5 → period 100000, quota 50000 (dockerd)', () => {
    expect(containerResources({ NanoCpus: 5e8 })).toEqual({ cpu: { period: 100000, quota: 50000 } });
    expect(containerResources({ NanoCpus: 1.5e9 })).toEqual({ cpu: { period: 100000, quota: 150000 } });
  });

  it('maps every limit', () => {
    const r = validateResources(
      { Memory: 64 * MB, MemoryReservation: 32 * MB, CpuShares: 512, CpuPeriod: 50000, CpuQuota: 25000, CpusetCpus: '0', CpusetMems: '0', PidsLimit: 20, OomKillDisable: true },
      HOST,
    );
    expect(containerResources(r)).toEqual({
      memory: { limit: 64 * MB, reservation: 32 * MB, swap: 128 * MB, disableOOMKiller: true },
      cpu: { shares: 512, period: 50000, quota: 25000, cpus: '0', mems: '0' },
      pids: { limit: 20 },
    });
  });

  it('--memory-swap -1 (unlimited) sets no swap limit, as dockerd', () => {
    expect(containerResources({ Memory: 64 * MB, MemorySwap: -1 })).toEqual({ memory: { limit: 64 * MB } });
  });
});

describe('buildContainer records the limits; inspect shows them as dockerd', () => {
  const image = { id: 'a'.repeat(64), config: { Cmd: ['sh'] } };
  const look: CreateLookups = {
    image: () => image,
    containerByName: () => undefined,
    container: () => undefined,
    network: (ref) => (ref === 'bridge' ? { id: 'b'.repeat(64), name: 'bridge', driver: 'bridge' } : undefined),
    pathExists: () => true,
    hostCpus: () => HOST,
    randomName: () => 'x_y',
    newId: () => 'c'.repeat(64),
    now: () => '2026-01-01T00:00:00.000Z',
  };
  const ctx = { endpoint: () => undefined, network: () => undefined, dir: () => '/d', logPath: () => '/l', storageDriver: 'overlay2', now: 0 };

  it('-m 64m --cpus 0.5 --pids-limit 20', () => {
    const c = buildContainer(undefined, { Image: 'busybox', HostConfig: { Memory: 64 * MB, NanoCpus: 5e8, PidsLimit: 20, MemorySwappiness: -1 } }, look);
    expect(c.hostConfig).toMatchObject({ Memory: 64 * MB, MemorySwap: 128 * MB, NanoCpus: 5e8, PidsLimit: 20, OomKillDisable: false });
    const hc = inspect(c, ctx).HostConfig as Record<string, unknown>;
    expect(hc).toMatchObject({ Memory: 64 * MB, MemorySwap: 128 * MB, NanoCpus: 5e8, PidsLimit: 20, CpuShares: 0, CpusetCpus: '' });
  });

  it('unset: zeros and PidsLimit null, also for records older than limits', () => {
    const c = buildContainer(undefined, { Image: 'busybox', HostConfig: { Memory: 0, PidsLimit: 0 } }, look);
    expect(inspect(c, ctx).HostConfig).toMatchObject({ ...ZERO_RESOURCES, PidsLimit: null });
    for (const k of Object.keys(ZERO_RESOURCES)) delete (c.hostConfig as unknown as Record<string, unknown>)[k];
    expect(inspect(c, ctx).HostConfig).toMatchObject(ZERO_RESOURCES);
  });

  it('a bad limit fails create before anything is made', () => {
    expect(() => buildContainer('x', { Image: 'busybox', HostConfig: { Memory: 1024 } }, look)).toThrow('Minimum memory limit allowed is 6MB');
    expect(() => buildContainer('x', { Image: 'busybox', HostConfig: { CpusetCpus: '7' } }, look)).toThrow(
      'Requested CPUs are not available - requested 7, available: 0-1',
    );
  });

  it('still refuses host options berth does not implement', () => {
    expect(() => buildContainer('x', { Image: 'busybox', HostConfig: { BlkioWeight: 300 } }, look)).toThrow(/HostConfig.BlkioWeight/);
  });
});
