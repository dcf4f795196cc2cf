// Subnet math, pure: parse and check CIDRs (on the ip-address package), overlaps, and the choice of
// a free subnet from address pools (Docker's defaults or --default-address-pool). IPv4 addresses
// are uint32 numbers; IPv6 ones (cidr6.ts) bigints.
import { Address4 } from 'ip-address';
import { invalidParameter } from '../../errors.js';

export interface Cidr {
  /** The address as written (may have host bits: 172.17.0.1/16 for --bip). */
  addr: number;
  prefix: number;
  /** First and last address of the subnet. */
  first: number;
  last: number;
}

export function parseAddr(s: string): number {
  if (!/^\d{1,3}(\.\d{1,3}){3}$/.test(s) || !Address4.isValid(s)) throw invalidParameter(`invalid IPv4 address: ${s}`);
  return Number(new Address4(s).bigInt());
}

export function parseCidr(s: string): Cidr {
  const m = /^(\d{1,3}(?:\.\d{1,3}){3})\/(\d{1,2})$/.exec(s);
  if (!m || !Address4.isValid(s)) throw invalidParameter(`invalid CIDR address: ${s}`);
  const a = new Address4(s);
  const prefix = Number(m[2]);
  if (prefix > 32) throw invalidParameter(`invalid CIDR address: ${s}`);
  return {
    addr: Number(a.bigInt()),
    prefix,
    first: Number(a.startAddress().bigInt()),
    last: Number(a.endAddress().bigInt()),
  };
}

export function fmtAddr(n: number): string {
  return Address4.fromBigInt(BigInt(n >>> 0)).correctForm();
}

/** "172.17.0.0/16": the network of a CIDR, host bits cleared. */
export function networkOf(c: Cidr): string {
  return `${fmtAddr(c.first)}/${c.prefix}`;
}

export function overlaps(a: Cidr, b: Cidr): boolean {
  return a.first <= b.last && b.first <= a.last;
}

export function contains(outer: Cidr, addr: number): boolean {
  return addr >= outer.first && addr <= outer.last;
}

/** An address pool: `base` cut into subnets of prefix length `size` (dockerd's --default-address-pool). */
export interface AddressPool {
  base: string;
  size: number;
}

/** Docker's default address pools: 172.17–31.0.0/16 (each one /16), then 192.168.0.0/16 cut into /20s. */
export function defaultPools(): AddressPool[] {
  const out: AddressPool[] = [];
  for (let b = 17; b <= 31; b++) out.push({ base: `172.${b}.0.0/16`, size: 16 });
  out.push({ base: '192.168.0.0/16', size: 20 });
  return out;
}

/** Check pools before use: IPv4 bases, size between the base's prefix and 30. */
export function checkPools(pools: readonly AddressPool[]): AddressPool[] {
  return pools.map((p) => {
    const c = parseCidr(p.base);
    if (!Number.isInteger(p.size) || p.size < c.prefix || p.size > 30)
      throw invalidParameter(`invalid address pool ${p.base} size ${p.size}: want a size between ${c.prefix} and 30`);
    return { base: networkOf(c), size: p.size };
  });
}

/** Every subnet of the pools, in order (lazily: a /8 cut into /24s is 65536 of them). */
export function* poolSubnets(pools: readonly AddressPool[]): Generator<string> {
  for (const p of pools) {
    const c = parseCidr(p.base);
    const step = 2 ** (32 - p.size);
    for (let a = c.first; a + step - 1 <= c.last; a += step) yield `${fmtAddr(a)}/${p.size}`;
  }
}

/** The first subnet of the pools overlapping none of `taken` (host routes, addresses, other networks). */
export function pickSubnet(pools: readonly AddressPool[], taken: readonly string[]): string | undefined {
  const t = taken.map(parseCidr).sort((a, b) => a.first - b.first);
  for (const s of poolSubnets(pools)) {
    const cc = parseCidr(s);
    if (!t.some((x) => overlaps(cc, x))) return s;
  }
  return undefined;
}
