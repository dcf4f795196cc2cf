// One network's IPv4 addresses, pure: hands out addresses from the subnet (or its ip-range) in
// turn, never the network address, the broadcast address or the gateway, never one twice. The
// in-memory state is rebuilt from the endpoint records at start (reserve), so nothing is persisted
// here. Addresses come serially after the last one given, as Docker's allocator does, so a released
// address is not handed out again at once.
import { conflict, forbidden, invalidParameter } from '../../errors.js';
import { contains, fmtAddr, parseAddr, parseCidr, type Cidr } from './pool.js';

export class Ipam {
  readonly subnet: Cidr;
  readonly range: Cidr;
  readonly gateway: number;
  readonly #used = new Set<number>();
  #cursor: number;

  constructor(subnet: string, gateway: string, ipRange?: string) {
    this.subnet = parseCidr(subnet);
    if (this.subnet.prefix > 30) throw invalidParameter(`subnet ${subnet} is too small: want a prefix of 30 or less`);
    this.gateway = parseAddr(gateway);
    if (!contains(this.subnet, this.gateway) || this.gateway === this.subnet.first || this.gateway === this.subnet.last)
      throw invalidParameter(`gateway ${gateway} is not a host address of subnet ${subnet}`);
    this.range = ipRange ? parseCidr(ipRange) : this.subnet;
    if (this.range.first < this.subnet.first || this.range.last > this.subnet.last)
      throw invalidParameter(`ip-range ${ipRange} is not inside subnet ${subnet}`);
    this.#cursor = this.range.first;
  }

  get prefix(): number {
    return this.subnet.prefix;
  }

  /** How many addresses are handed out. */
  get size(): number {
    return this.#used.size;
  }

  #usable(n: number): boolean {
    return n !== this.subnet.first && n !== this.subnet.last && n !== this.gateway;
  }

  /** Mark an address as used: a recorded endpoint's (restore) or one asked for with --ip. */
  reserve(ip: string): void {
    const n = parseAddr(ip);
    if (!contains(this.subnet, n) || !this.#usable(n)) throw invalidParameter(`address ${ip} is not a host address of subnet ${fmtAddr(this.subnet.first)}/${this.subnet.prefix}`);
    if (this.#used.has(n)) throw forbidden('Address already in use');
    this.#used.add(n);
  }

  has(ip: string): boolean {
    return this.#used.has(parseAddr(ip));
  }

  /** The next free address after the last one given; conflict when none is left. */
  allocate(): string {
    const { first, last } = this.range;
    const count = last - first + 1;
    for (let i = 0; i < count; i++) {
      const n = first + ((this.#cursor - first + i) % count);
      if (!this.#usable(n) || this.#used.has(n)) continue;
      this.#used.add(n);
      this.#cursor = n + 1 > last ? first : n + 1;
      return fmtAddr(n);
    }
    throw conflict(`no available IPv4 addresses on this network's address pools: ${fmtAddr(this.subnet.first)}/${this.subnet.prefix}`);
  }

  /** Give an address back; unknown addresses are ignored (idempotent). */
  release(ip: string): void {
    this.#used.delete(parseAddr(ip));
  }
}

/** Docker's MAC for an address: 02:42 followed by the four bytes of the IPv4 address. */
export function macFromIp(ip: string): string {
  const n = parseAddr(ip);
  const b = [24, 16, 8, 0].map((s) => ((n >>> s) & 0xff).toString(16).padStart(2, '0'));
  return `02:42:${b.join(':')}`;
}
