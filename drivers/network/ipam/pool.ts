// Subnet math for IPv4, pure: parse and check CIDRs (on the ip-address package), overlaps, and the
// choice of a free subnet from Docker's default pools. Addresses are handled as uint32 numbers.
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

/** Docker's default address pools: 172.17–31.0.0/16, then 192.168.0.0/16 cut into /20s. */
export function defaultPools(): string[] {
  const out: string[] = [];
  for (let b = 17; b <= 31; b++) out.push(`172.${b}.0.0/16`);
  for (let c = 0; c < 256; c += 16) out.push(`192.168.${c}.0/20`);
  return out;
}

/** The first candidate overlapping none of `taken` (host routes, addresses, other networks). */
export function pickSubnet(candidates: readonly string[], taken: readonly string[]): string | undefined {
  const t = taken.map(parseCidr);
  return candidates.find((c) => {
    const cc = parseCidr(c);
    return !t.some((x) => overlaps(cc, x));
  });
}
