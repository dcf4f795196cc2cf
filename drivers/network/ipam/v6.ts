// IPv6 addresses of a dual-stack network, pure: CIDR parsing (on ip-address), the ULA pool a
// network without an IPv6 subnet gets its /64 from (as Docker 27+: a /48 of fd00::/8 chosen from a
// seed, cut into /64s), and an allocator handing out addresses in turn, never the subnet-router
// anycast address (the subnet's first) or the gateway.
import { createHash } from 'node:crypto';
import { Address6 } from 'ip-address';
import { conflict, forbidden, invalidParameter } from '../../errors.js';

export interface Cidr6 {
  addr: bigint;
  prefix: number;
  first: bigint;
  last: bigint;
}

export const isV6 = (s: string): boolean => s.includes(':');

export function parseAddr6(s: string): bigint {
  if (!/^[0-9a-fA-F:.]+$/.test(s) || !s.includes(':') || !Address6.isValid(s)) throw invalidParameter(`invalid IPv6 address: ${s}`);
  return new Address6(s).bigInt();
}

export function parseCidr6(s: string): Cidr6 {
  const m = /^([0-9a-fA-F:.]+)\/(\d{1,3})$/.exec(s);
  if (!m || !Address6.isValid(s) || Number(m[2]) > 128) throw invalidParameter(`invalid CIDR address: ${s}`);
  const a = new Address6(s);
  return { addr: a.bigInt(), prefix: Number(m[2]), first: a.startAddress().bigInt(), last: a.endAddress().bigInt() };
}

export function fmtAddr6(n: bigint): string {
  return Address6.fromBigInt(n).correctForm();
}

export const networkOf6 = (c: Cidr6): string => `${fmtAddr6(c.first)}/${c.prefix}`;

export const overlaps6 = (a: Cidr6, b: Cidr6): boolean => a.first <= b.last && b.first <= a.last;

/** A /48 of the ULA range fd00::/8 chosen by `seed` (stable for one daemon), cut into /64s. */
export function* ulaSubnets(seed: string): Generator<string> {
  const h = createHash('sha256').update(seed).digest();
  let base = 0xfdn << 120n;
  for (let i = 0; i < 5; i++) base |= BigInt(h[i]!) << BigInt(112 - 8 * i);
  for (let i = 0n; i < 65536n; i++) yield `${fmtAddr6(base | (i << 64n))}/64`;
}

export class Ipam6 {
  readonly subnet: Cidr6;
  readonly range: Cidr6;
  readonly gateway: bigint;
  readonly #used = new Set<bigint>();
  #cursor: bigint;

  constructor(subnet: string, gateway: string, ipRange?: string) {
    this.subnet = parseCidr6(subnet);
    if (this.subnet.prefix > 126) throw invalidParameter(`subnet ${subnet} is too small: want a prefix of 126 or less`);
    this.gateway = parseAddr6(gateway);
    if (this.gateway < this.subnet.first || this.gateway > this.subnet.last || this.gateway === this.subnet.first)
      throw invalidParameter(`gateway ${gateway} is not a host address of subnet ${subnet}`);
    this.range = ipRange ? parseCidr6(ipRange) : this.subnet;
    if (this.range.first < this.subnet.first || this.range.last > this.subnet.last)
      throw invalidParameter(`ip-range ${ipRange} is not inside subnet ${subnet}`);
    this.#cursor = this.range.first;
  }

  get prefix(): number {
    return this.subnet.prefix;
  }

  #usable(n: bigint): boolean {
    return n !== this.subnet.first && n !== this.gateway && n >= this.subnet.first && n <= this.subnet.last;
  }

  reserve(ip: string): void {
    const n = parseAddr6(ip);
    if (!this.#usable(n)) throw invalidParameter(`address ${ip} is not a host address of subnet ${networkOf6(this.subnet)}`);
    if (this.#used.has(n)) throw forbidden('Address already in use');
    this.#used.add(n);
  }

  has(ip: string): boolean {
    return this.#used.has(parseAddr6(ip));
  }

  /** The next free address after the last one given (a /64 never runs out in practice: the scan is
   *  bounded to 65536 tries). */
  allocate(): string {
    const { first, last } = this.range;
    const count = last - first + 1n;
    const tries = count < 65536n ? count : 65536n;
    for (let i = 0n; i < tries; i++) {
      const n = first + ((this.#cursor - first + i) % count);
      if (!this.#usable(n) || this.#used.has(n)) continue;
      this.#used.add(n);
      this.#cursor = n + 1n > last ? first : n + 1n;
      return fmtAddr6(n);
    }
    throw conflict(`no available IPv6 addresses on this network's address pools: ${networkOf6(this.subnet)}`);
  }

  release(ip: string): void {
    try {
      this.#used.delete(parseAddr6(ip));
    } catch {
      /* not an address: nothing to release */
    }
  }
}
