// The host-wide port allocator: one per daemon, shared by every bridge network. It decides which
// host port each published port gets and holds a bound socket for each tcp/udp one while it is
// published (through the PortHolder of drivers/sys, faked in unit tests). A wildcard reservation
// ('' = 0.0.0.0; '::' for IPv6) conflicts with the same port and proto on any address of its
// family; the families do not conflict (IPv6 sockets are bound v6-only). On a dual-stack network a
// request without a host address is published on both wildcards with the same port, as Docker
// does. Nothing is persisted here: the endpoint records say what is published, and restore()
// re-reserves from them.
import { conflict, invalidParameter, systemError } from '../../errors.js';
import type { PortBinding, PortBindingRequest, Proto } from '../../types.js';
import type { HeldPort, PortHolder } from '../../sys/ports.js';

interface Reservation {
  owner: string;
  proto: Proto;
  hostIp: string; // '' = every IPv4 address, '::' every IPv6 one
  hostPort: number;
  held: HeldPort | undefined;
}

export const wildcard = (ip: string): string => (ip === '0.0.0.0' ? '' : ip);
const shown = (ip: string) => (ip === '' ? '0.0.0.0' : ip);
const v6 = (ip: string) => ip.includes(':');
const isWild = (ip: string) => ip === '' || ip === '::';

export interface AllocateOptions {
  /** The network is dual-stack: a request without a host address is published on 0.0.0.0 and ::
   *  with the same port, and IPv6 host addresses are allowed. */
  dualStack?: boolean;
}

export class PortAllocator {
  readonly #holder: PortHolder;
  readonly #range: () => Promise<[number, number]>;
  /** proto/port → reservations on that port (a few at most: different addresses). */
  readonly #byPort = new Map<string, Reservation[]>();
  readonly #cursor = new Map<Proto, number>();

  /** `ephemeralRange` reads /proc/sys/net/ipv4/ip_local_port_range (asked at each use). */
  constructor(holder: PortHolder, ephemeralRange: () => Promise<[number, number]>) {
    this.#holder = holder;
    this.#range = ephemeralRange;
  }

  /** True if `hostIp:hostPort/proto` would conflict with a reservation (same family, and one of
   *  them a wildcard or both the same address). */
  taken(proto: Proto, hostIp: string, hostPort: number): boolean {
    const ip = wildcard(hostIp);
    return (this.#byPort.get(`${proto}/${hostPort}`) ?? []).some((r) => v6(r.hostIp) === v6(ip) && (isWild(r.hostIp) || isWild(ip) || r.hostIp === ip));
  }

  /** The owner's reservation of a binding, and whether its socket is held (system check). */
  status(owner: string, b: PortBinding): 'held' | 'unheld' | 'missing' {
    const ip = wildcard(b.hostIp);
    const r = (this.#byPort.get(`${b.proto}/${b.hostPort}`) ?? []).find((x) => x.owner === owner && x.hostIp === ip);
    if (!r) return 'missing';
    return r.held || r.proto === 'sctp' ? 'held' : 'unheld';
  }

  /** Owners holding reservations (system check: those no record names are extra). */
  owners(): Set<string> {
    return new Set([...this.#byPort.values()].flatMap((l) => l.map((r) => r.owner)));
  }

  /** Every reservation of an owner, as bindings. */
  owned(owner: string): PortBinding[] {
    const out: PortBinding[] = [];
    for (const list of this.#byPort.values())
      for (const r of list) if (r.owner === owner) out.push({ containerPort: 0, proto: r.proto, hostIp: shown(r.hostIp), hostPort: r.hostPort });
    return out;
  }

  /**
   * Reserve a host port for each request, all or nothing, in order. A specific port that is taken
   * (by berth or by a host process) is a conflict with Docker's message; a range or an ephemeral
   * request takes the next free port. Returns one binding per request.
   */
  async allocate(owner: string, requests: readonly PortBindingRequest[], opts: AllocateOptions = {}): Promise<PortBinding[]> {
    for (const r of requests) validateRequest(r, !!opts.dualStack);
    const done: Reservation[] = [];
    try {
      const out: PortBinding[] = [];
      for (const req of requests) {
        const res = await this.#one(owner, req, !!opts.dualStack && req.hostIp === '');
        done.push(...res);
        for (const x of res) out.push({ containerPort: req.containerPort, proto: req.proto, hostIp: shown(x.hostIp), hostPort: x.hostPort });
      }
      return out;
    } catch (e) {
      for (const r of done.reverse()) await this.#drop(r);
      throw e;
    }
  }

  /** One request: its reservation, or (both) the IPv4 and IPv6 wildcards on one port. */
  async #one(owner: string, req: PortBindingRequest, both: boolean): Promise<Reservation[]> {
    const ips = both ? ['', '::'] : [wildcard(req.hostIp)];
    const tryAll = async (port: number): Promise<Reservation[] | 'busy'> => {
      if (ips.some((ip) => this.taken(req.proto, ip, port))) return 'busy';
      const got: Reservation[] = [];
      for (const ip of ips) {
        const r = await this.#try(owner, req.proto, ip, port);
        if (r === 'busy') {
          for (const g of got) await this.#drop(g);
          return 'busy';
        }
        got.push(r);
      }
      return got;
    };
    const ip = ips[0]!;
    if (req.hostPort !== 0 && req.hostPortEnd <= req.hostPort) {
      const r = await tryAll(req.hostPort);
      if (r === 'busy') throw allocated(ip, req.hostPort);
      return r;
    }
    const [lo, hi] = req.hostPort === 0 ? await this.#range() : [req.hostPort, req.hostPortEnd];
    const ephemeral = req.hostPort === 0;
    const count = hi - lo + 1;
    const start = ephemeral ? Math.min(Math.max(this.#cursor.get(req.proto) ?? lo, lo), hi) : lo;
    for (let i = 0; i < count; i++) {
      const port = lo + ((start - lo + i) % count);
      const r = await tryAll(port);
      if (r === 'busy') continue;
      if (ephemeral) this.#cursor.set(req.proto, port + 1 > hi ? lo : port + 1);
      return r;
    }
    throw conflict(
      ephemeral ? 'all ports are allocated' : `Bind for ${shown(ip)}:${req.hostPort}-${req.hostPortEnd} failed: all ports of the range are allocated`,
    );
  }

  /** Record, then bind (tcp/udp); 'busy' if a host process holds the port. The reservation is
   *  made before the bind is awaited, so concurrent allocations never pick the same port. */
  async #try(owner: string, proto: Proto, ip: string, port: number): Promise<Reservation | 'busy'> {
    const r: Reservation = { owner, proto, hostIp: ip, hostPort: port, held: undefined };
    const key = `${proto}/${port}`;
    this.#byPort.set(key, [...(this.#byPort.get(key) ?? []), r]);
    if (proto === 'sctp') return r;
    try {
      r.held = await this.#holder.hold(proto, ip, port);
      return r;
    } catch (e) {
      await this.#drop(r);
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'EADDRINUSE' || code === 'EACCES') return 'busy';
      if (code === 'EADDRNOTAVAIL') throw invalidParameter(`listen ${proto}${v6(ip) ? 6 : 4} ${v6(ip) ? `[${ip}]` : shown(ip)}:${port}: bind: cannot assign requested address`, e);
      throw systemError(`bind ${proto} ${shown(ip)}:${port}: ${(e as Error).message}`, e);
    }
  }

  async #drop(r: Reservation): Promise<void> {
    const key = `${r.proto}/${r.hostPort}`;
    const rest = (this.#byPort.get(key) ?? []).filter((x) => x !== r);
    if (rest.length) this.#byPort.set(key, rest);
    else this.#byPort.delete(key);
    await r.held?.close();
  }

  /**
   * Reserve recorded bindings again (daemon start), holding their sockets. A port a host process
   * took meanwhile cannot be held: it is reported and the reservation kept without a socket.
   */
  async adopt(owner: string, bindings: readonly PortBinding[]): Promise<string[]> {
    const problems: string[] = [];
    for (const b of bindings) {
      const ip = wildcard(b.hostIp);
      if ((this.#byPort.get(`${b.proto}/${b.hostPort}`) ?? []).some((r) => r.owner === owner && r.hostIp === ip)) continue;
      if (this.taken(b.proto, ip, b.hostPort)) {
        problems.push(`${shown(ip)}:${b.hostPort}/${b.proto} is reserved twice in the records`);
        continue;
      }
      const r = await this.#try(owner, b.proto, ip, b.hostPort).catch((e: Error) => e);
      if (r === 'busy' || r instanceof Error) {
        problems.push(`${shown(ip)}:${b.hostPort}/${b.proto}: a host process holds it`);
        const key = `${b.proto}/${b.hostPort}`;
        this.#byPort.set(key, [...(this.#byPort.get(key) ?? []), { owner, proto: b.proto, hostIp: ip, hostPort: b.hostPort, held: undefined }]);
      }
    }
    return problems;
  }

  /** Bind again the socket of a reservation that has none (system check --repair); true if held. */
  async rehold(owner: string, b: PortBinding): Promise<boolean> {
    const ip = wildcard(b.hostIp);
    const r = (this.#byPort.get(`${b.proto}/${b.hostPort}`) ?? []).find((x) => x.owner === owner && x.hostIp === ip);
    if (!r) return (await this.adopt(owner, [b])).length === 0;
    if (r.held || r.proto === 'sctp') return true;
    try {
      r.held = await this.#holder.hold(r.proto as 'tcp' | 'udp', ip, r.hostPort);
      return true;
    } catch {
      return false;
    }
  }

  /** Give back the owner's reservations (all, or those matching `bindings`); idempotent. */
  async release(owner: string, bindings?: readonly PortBinding[]): Promise<void> {
    for (const list of [...this.#byPort.values()])
      for (const r of list) {
        if (r.owner !== owner) continue;
        if (bindings && !bindings.some((b) => b.proto === r.proto && b.hostPort === r.hostPort && wildcard(b.hostIp) === r.hostIp)) continue;
        await this.#drop(r);
      }
  }

  /** Close every socket (daemon stop). */
  async closeAll(): Promise<void> {
    for (const list of [...this.#byPort.values()]) for (const r of list) await this.#drop(r);
  }
}

function allocated(ip: string, port: number) {
  return conflict(`Bind for ${v6(ip) ? `[${ip}]` : shown(ip)}:${port} failed: port is already allocated`);
}

function validateRequest(r: PortBindingRequest, dualStack: boolean): void {
  const ok = (n: number) => Number.isInteger(n) && n >= 0 && n <= 65535;
  if (!ok(r.containerPort) || r.containerPort === 0) throw invalidParameter(`invalid containerPort: ${r.containerPort}`);
  if (!ok(r.hostPort) || !ok(r.hostPortEnd)) throw invalidParameter(`invalid hostPort: ${r.hostPort}`);
  if (r.hostPortEnd !== 0 && r.hostPortEnd < r.hostPort) throw invalidParameter(`invalid hostPort: ${r.hostPort}-${r.hostPortEnd}`);
  if (!['tcp', 'udp', 'sctp'].includes(r.proto)) throw invalidParameter(`invalid proto: ${r.proto}`);
  if (r.hostIp !== '' && !/^\d{1,3}(\.\d{1,3}){3}$/.test(r.hostIp)) {
    if (!v6(r.hostIp) || !/^[0-9a-fA-F:.]+$/.test(r.hostIp)) throw invalidParameter(`invalid IP address: ${r.hostIp}`);
    if (!dualStack) throw invalidParameter(`publishing on IPv6 address ${r.hostIp} needs an IPv6 network (network create --ipv6)`);
  }
}

/** "32768\t60999" → [32768, 60999]. */
export function parsePortRange(text: string): [number, number] {
  const m = /^\s*(\d+)\s+(\d+)\s*$/.exec(text);
  if (!m) throw systemError(`cannot read ip_local_port_range: "${text}"`);
  return [Number(m[1]), Number(m[2])];
}
