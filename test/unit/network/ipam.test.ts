import { describe, expect, it } from 'vitest';
import { Ipam, macFromIp } from '../../../drivers/network/ipam/allocator.js';
import { checkPools, defaultPools, overlaps, parseCidr, pickSubnet, poolSubnets } from '../../../drivers/network/ipam/pool.js';
import { Ipam6, parseCidr6, ulaSubnets } from '../../../drivers/network/ipam/v6.js';
import { BerthError } from '../../../drivers/errors.js';

const code = (f: () => unknown) => {
  try {
    f();
  } catch (e) {
    return [(e as BerthError).code, (e as Error).message];
  }
  return undefined;
};

describe('Ipam', () => {
  it('hands out host addresses in turn, never the network, broadcast or gateway address', () => {
    const ipam = new Ipam('10.9.0.0/29', '10.9.0.1');
    const got = [1, 2, 3, 4, 5].map(() => ipam.allocate());
    expect(got).toEqual(['10.9.0.2', '10.9.0.3', '10.9.0.4', '10.9.0.5', '10.9.0.6']);
    expect(code(() => ipam.allocate())).toEqual(['conflict', "no available IPv4 addresses on this network's address pools: 10.9.0.0/29"]);
  });
  it('never twice; a released address comes back only after the others (serial, like Docker)', () => {
    const ipam = new Ipam('10.9.0.0/29', '10.9.0.6');
    const a = ipam.allocate();
    const b = ipam.allocate();
    expect(a).toBe('10.9.0.1');
    expect(b).toBe('10.9.0.2');
    ipam.release(a);
    expect(ipam.allocate()).toBe('10.9.0.3');
    expect(ipam.allocate()).toBe('10.9.0.4');
    expect(ipam.allocate()).toBe('10.9.0.5');
    expect(ipam.allocate()).toBe('10.9.0.1'); // wrapped around to the released one
    expect(code(() => ipam.allocate())?.[0]).toBe('conflict');
    ipam.release('10.9.0.4');
    ipam.release('10.9.0.4'); // idempotent
    expect(ipam.allocate()).toBe('10.9.0.4');
  });
  it("reserve: --ip and restored endpoints; taken → forbidden (Docker's 403), outside or special → invalid", () => {
    const ipam = new Ipam('172.17.0.0/16', '172.17.0.1');
    ipam.reserve('172.17.0.2');
    expect(ipam.allocate()).toBe('172.17.0.3');
    expect(code(() => ipam.reserve('172.17.0.2'))).toEqual(['forbidden', 'Address already in use']);
    expect(code(() => ipam.reserve('172.17.0.1'))?.[0]).toBe('invalid_parameter');
    expect(code(() => ipam.reserve('172.17.255.255'))?.[0]).toBe('invalid_parameter');
    expect(code(() => ipam.reserve('10.0.0.1'))?.[0]).toBe('invalid_parameter');
    expect(code(() => ipam.reserve('1.2.3'))?.[0]).toBe('invalid_parameter');
  });
  it('ip-range: addresses come from the range only', () => {
    const ipam = new Ipam('172.17.0.0/16', '172.17.0.1', '172.17.5.0/30');
    // A range inside a larger subnet has no network/broadcast address of its own: all four are hosts.
    expect([1, 2, 3, 4].map(() => ipam.allocate())).toEqual(['172.17.5.0', '172.17.5.1', '172.17.5.2', '172.17.5.3']);
    expect(code(() => ipam.allocate())?.[0]).toBe('conflict');
    expect(code(() => new Ipam('172.17.0.0/16', '172.17.0.1', '10.0.0.0/24'))?.[0]).toBe('invalid_parameter');
    expect(code(() => new Ipam('172.17.0.0/16', '10.0.0.1'))?.[0]).toBe('invalid_parameter');
  });
  it('MAC from the address, as Docker', () => {
    expect(macFromIp('172.17.0.2')).toBe('02:42:ac:11:00:02');
    expect(macFromIp('10.255.1.200')).toBe('02:42:0a:ff:01:c8');
  });
});

describe('pools', () => {
  it('overlap', () => {
    expect(overlaps(parseCidr('172.17.0.0/16'), parseCidr('172.17.3.0/24'))).toBe(true);
    expect(overlaps(parseCidr('172.17.0.0/16'), parseCidr('172.18.0.0/16'))).toBe(false);
    expect(overlaps(parseCidr('0.0.0.0/0'), parseCidr('10.0.0.1/32'))).toBe(true);
  });
  it('172.17.0.0/16 first; skips subnets overlapping host routes, addresses, other networks', () => {
    const pools = defaultPools();
    const all = [...poolSubnets(pools)];
    expect(all[0]).toBe('172.17.0.0/16');
    expect(all).toHaveLength(15 + 16);
    expect(all.at(-1)).toBe('192.168.240.0/20');
    expect(pickSubnet(pools, [])).toBe('172.17.0.0/16');
    expect(pickSubnet(pools, ['172.17.9.1/32', '172.16.0.0/12'])).toBe('192.168.0.0/20');
    expect(pickSubnet(pools, ['172.17.0.0/16', '172.18.0.5/24'])).toBe('172.19.0.0/16');
    expect(pickSubnet([{ base: '10.0.0.0/8', size: 8 }], ['10.1.0.0/16'])).toBeUndefined();
  });
  it('--default-address-pool: base cut into subnets of its size, in order; bad sizes refused', () => {
    const pools = checkPools([
      { base: '10.10.0.0/16', size: 24 },
      { base: '10.20.0.0/23', size: 24 },
    ]);
    expect([...poolSubnets(pools)].slice(0, 2)).toEqual(['10.10.0.0/24', '10.10.1.0/24']);
    expect([...poolSubnets(pools)]).toHaveLength(256 + 2);
    expect(pickSubnet(pools, ['10.10.0.0/17', '10.10.128.0/17'])).toBe('10.20.0.0/24');
    expect(pickSubnet(pools, ['10.0.0.0/8'])).toBeUndefined();
    expect(code(() => checkPools([{ base: '10.10.0.0/16', size: 8 }]))?.[0]).toBe('invalid_parameter');
    expect(code(() => checkPools([{ base: '10.10.0.0/16', size: 31 }]))?.[0]).toBe('invalid_parameter');
    // a big pool is walked lazily
    expect(pickSubnet(checkPools([{ base: '10.0.0.0/8', size: 24 }]), ['10.0.0.0/9'])).toBe('10.128.0.0/24');
  });
});

describe('IPv6', () => {
  it('Ipam6: in turn from the subnet, never the subnet-router address or the gateway; taken → forbidden', () => {
    const ipam = new Ipam6('fd00:1::/64', 'fd00:1::1');
    expect([ipam.allocate(), ipam.allocate()]).toEqual(['fd00:1::2', 'fd00:1::3']);
    ipam.reserve('fd00:1::10');
    expect(code(() => ipam.reserve('fd00:1::10'))).toEqual(['forbidden', 'Address already in use']);
    expect(code(() => ipam.reserve('fd00:1::'))?.[0]).toBe('invalid_parameter');
    expect(code(() => ipam.reserve('fd00:1::1'))?.[0]).toBe('invalid_parameter');
    expect(code(() => ipam.reserve('fd00:2::5'))?.[0]).toBe('invalid_parameter');
    expect(code(() => new Ipam6('fd00:1::/64', 'fd00:2::1'))?.[0]).toBe('invalid_parameter');
    const tiny = new Ipam6('fd00:1::/126', 'fd00:1::1');
    expect([tiny.allocate(), tiny.allocate()]).toEqual(['fd00:1::2', 'fd00:1::3']);
    expect(code(() => tiny.allocate())?.[0]).toBe('conflict');
  });
  it('the ULA pool: a /48 of fd00::/8 fixed by the seed, cut into /64s', () => {
    const a = ulaSubnets('berth:/var/lib/berth');
    const first = a.next().value as string;
    const second = a.next().value as string;
    expect(first).toMatch(/^fd[0-9a-f]{2}:[0-9a-f]{1,4}:[0-9a-f]{1,4}::\/64$/);
    expect(parseCidr6(second).first - parseCidr6(first).first).toBe(1n << 64n);
    expect(ulaSubnets('berth:/var/lib/berth').next().value).toBe(first);
    expect(ulaSubnets('other').next().value).not.toBe(first);
  });
});
