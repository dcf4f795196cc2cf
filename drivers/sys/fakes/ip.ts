// A stateful fake of iproute2 for unit tests: named netns holding links (bridge, veth pairs, lo),
// addresses and default routes, changed by the `ip -batch` lines the drivers write and read back
// with the `ip -json` queries they make. Like the real `ip -batch`, lines run in order and the first
// failing one stops the batch (what ran before it stays done) unless `force` is set.
import type { Ip } from '../ip.js';
import { netnsArgs } from '../ip.js';
import { CommandError } from '../exec.js';

export interface FakeLink {
  name: string;
  kind: 'bridge' | 'veth' | 'loopback';
  up: boolean;
  master?: string;
  mac: string;
  addrs: string[];
  hairpin?: boolean;
  addrgenmode?: string;
  mtu: number;
  /** The other end of a veth: netns ('' = the daemon's) and name. */
  peer?: { ns: string; name: string };
}

export interface FakeNetns {
  links: Map<string, FakeLink>;
  routes: string[];
  /** The device of each route added with `dev` (it goes when the device goes, as in the kernel). */
  routeDev?: Map<string, string>;
}

const ROOT = '';

export class FakeIp implements Ip {
  readonly ns = new Map<string, FakeNetns>();
  /** Every batch line and query, as `[ns] line`, for assertions. */
  readonly calls: string[] = [];
  #mac = 0;

  constructor() {
    this.ns.set(ROOT, FakeIp.#newNs());
  }

  static #newNs(): FakeNetns {
    return { links: new Map([['lo', { name: 'lo', kind: 'loopback', up: false, mac: '00:00:00:00:00:00', addrs: [], mtu: 65536 }]]), routes: [] };
  }

  #nextMac(): string {
    const n = ++this.#mac;
    return `aa:00:00:00:${((n >> 8) & 0xff).toString(16).padStart(2, '0')}:${(n & 0xff).toString(16).padStart(2, '0')}`;
  }

  /** Links of a netns ('' = the daemon's). */
  links(ns = ROOT): FakeLink[] {
    return [...(this.ns.get(ns)?.links.values() ?? [])];
  }

  netnsNames(): string[] {
    return [...this.ns.keys()].filter((n) => n !== ROOT);
  }

  /** A deep copy of the whole state, to compare before/after. */
  snapshot(): string {
    const out: Record<string, unknown> = {};
    for (const [k, v] of [...this.ns.entries()].sort(([a], [b]) => a.localeCompare(b)))
      out[k || '(daemon)'] = {
        links: [...v.links.values()].sort((a, b) => a.name.localeCompare(b.name)).map((l) => ({ ...l, mac: undefined })),
        routes: [...v.routes].sort(),
      };
    return JSON.stringify(out, null, 1);
  }

  async json<T>(args: readonly string[], netns?: string): Promise<T> {
    netnsArgs(netns);
    const ns = this.#get(netns ?? ROOT, ['ip', '-json', ...args]);
    this.calls.push(`[${netns ?? ''}] -json ${args.join(' ')}`);
    const a = args.filter((x) => x !== '-d');
    if (a[0] === 'netns' && a[1] === 'list') return this.netnsNames().map((name) => ({ name })) as T;
    if (a[0] === 'route' || (a[0] === '-6' && a[1] === 'route')) {
      const six = a[0] === '-6';
      return ns.routes
        .map((r) => r.split(' '))
        .filter((w) => (w[0] === '::/0' || w[0]!.includes(':')) === six)
        .map((w) => ({ dst: w[0] === '::/0' ? 'default' : w[0], gateway: w[2] })) as T;
    }
    if (a[0] === 'addr' || a[0] === 'link') {
      let i = 0;
      return [...ns.links.values()].map((l) => ({
        ifindex: ++i,
        ifname: l.name,
        flags: l.up ? ['UP'] : [],
        ...(l.master ? { master: l.master } : {}),
        address: l.mac,
        mtu: l.mtu,
        linkinfo: {
          ...(l.kind !== 'loopback' ? { info_kind: l.kind } : {}),
          ...(l.master ? { info_slave_kind: 'bridge', info_slave_data: { hairpin: !!l.hairpin } } : {}),
        },
        addr_info: l.addrs.map((c) => ({ family: c.includes(':') ? 'inet6' : 'inet', local: c.split('/')[0], prefixlen: Number(c.split('/')[1]) })),
      })) as T;
    }
    throw new CommandError(['ip', '-json', ...args], 1, `fake ip: unsupported query ${args.join(' ')}`);
  }

  async batch(lines: readonly string[], opts: { netns?: string; force?: boolean } = {}): Promise<void> {
    netnsArgs(opts.netns);
    const nsName = opts.netns ?? ROOT;
    const errors: string[] = [];
    for (const line of lines) {
      this.calls.push(`[${nsName}] ${line}`);
      try {
        this.#line(nsName, line.trim().split(/\s+/));
      } catch (e) {
        errors.push(`${(e as Error).message}\nCommand failed -:${lines.indexOf(line) + 1}`);
        if (!opts.force) break;
      }
    }
    if (errors.length) throw new CommandError(['ip', '-batch', '-'], 1, errors.join('\n'));
  }

  #get(name: string, _ctx?: unknown): FakeNetns {
    const ns = this.ns.get(name);
    if (!ns) throw new Error(`Cannot open network namespace "${name}": No such file or directory`);
    return ns;
  }

  #link(ns: FakeNetns, name: string): FakeLink {
    const l = ns.links.get(name);
    if (!l) throw new Error(`Cannot find device "${name}"`);
    return l;
  }

  #dropRoutes(ns: FakeNetns | undefined, dev: string): void {
    if (!ns?.routeDev) return;
    ns.routes = ns.routes.filter((r) => ns.routeDev!.get(r) !== dev);
  }

  #removeLink(nsName: string, name: string): void {
    const ns = this.ns.get(nsName);
    const l = ns?.links.get(name);
    if (!ns || !l) return;
    ns.links.delete(name);
    this.#dropRoutes(ns, name);
    if (l.peer) {
      this.ns.get(l.peer.ns)?.links.delete(l.peer.name);
      this.#dropRoutes(this.ns.get(l.peer.ns), l.peer.name);
    }
    if (l.kind === 'bridge') for (const x of ns.links.values()) if (x.master === name) delete x.master;
  }

  #line(nsName: string, w: string[]): void {
    const ns = this.#get(nsName);
    const [obj, verb] = w;
    const arg = (k: string) => {
      const i = w.indexOf(k);
      return i >= 0 ? w[i + 1] : undefined;
    };
    if (obj === 'netns' && verb === 'add') {
      const n = w[2]!;
      if (this.ns.has(n)) throw new Error(`Cannot create namespace file "/run/netns/${n}": File exists`);
      this.ns.set(n, FakeIp.#newNs());
      return;
    }
    if (obj === 'netns' && verb === 'del') {
      const n = w[2]!;
      const gone = this.ns.get(n);
      if (!gone) throw new Error(`Cannot remove namespace file "/run/netns/${n}": No such file or directory`);
      for (const l of gone.links.values()) if (l.peer) this.ns.get(l.peer.ns)?.links.delete(l.peer.name);
      this.ns.delete(n);
      return;
    }
    if (obj === 'link' && verb === 'add') {
      const name = w[2]!;
      const type = arg('type');
      if (ns.links.has(name)) throw new Error('RTNETLINK answers: File exists');
      if (type === 'bridge') {
        // As ip(8): what follows `type bridge` are bridge options (mtu there is an error).
        if (w.indexOf('type') !== w.length - 2) throw new Error(`Garbage instead of arguments "${w[w.indexOf('type') + 2]}". Try "ip link help".`);
        ns.links.set(name, { name, kind: 'bridge', up: false, mac: this.#nextMac(), addrs: [], mtu: Number(arg('mtu') ?? 1500) });
        return;
      }
      if (type !== 'veth') throw new Error(`fake ip: unsupported link type ${type}`);
      const typeAt = w.indexOf('type');
      const before = w.slice(0, typeAt);
      const after = w.slice(typeAt);
      const peerName = after[after.indexOf('name') + 1]!;
      const nsi = after.indexOf('netns');
      const peerNs = nsi >= 0 ? after[nsi + 1]! : nsName;
      const mi = before.indexOf('master');
      const master = mi >= 0 ? before[mi + 1] : undefined;
      const ni = before.indexOf('netns');
      const hostNs = ni >= 0 ? before[ni + 1]! : nsName;
      const target = this.#get(peerNs);
      const home = this.#get(hostNs);
      if (target.links.has(peerName) || (peerNs === hostNs && peerName === name)) throw new Error('RTNETLINK answers: File exists');
      if (master) {
        const m = home.links.get(master);
        if (!m || m.kind !== 'bridge') throw new Error(`Device does not exist`);
      }
      home.links.set(name, { name, kind: 'veth', up: before.includes('up'), ...(master ? { master } : {}), mac: this.#nextMac(), addrs: [], mtu: 1500, peer: { ns: peerNs, name: peerName } });
      target.links.set(peerName, { name: peerName, kind: 'veth', up: false, mac: this.#nextMac(), addrs: [], mtu: 1500, peer: { ns: hostNs, name } });
      return;
    }
    if (obj === 'link' && verb === 'set') {
      const name = w[2] === 'dev' ? w[3]! : w[2]!;
      const l = this.#link(ns, name);
      if (arg('type') === 'bridge_slave') {
        if (!l.master) throw new Error('RTNETLINK answers: Operation not supported');
        l.hairpin = arg('hairpin') === 'on';
        return;
      }
      const agm = arg('addrgenmode');
      if (agm) {
        if (l.up) throw new Error('fake ip: set addrgenmode before the link is up');
        l.addrgenmode = agm;
        return;
      }
      if (w.includes('up')) l.up = true;
      if (w.includes('down')) l.up = false;
      const mac = arg('address');
      if (mac) l.mac = mac;
      const master = arg('master');
      if (master) l.master = master;
      const newName = arg('name');
      if (newName) {
        if (ns.links.has(newName)) throw new Error('RTNETLINK answers: File exists');
        ns.links.delete(name);
        l.name = newName;
        ns.links.set(newName, l);
        if (l.peer) {
          const p = this.ns.get(l.peer.ns)?.links.get(l.peer.name);
          if (p?.peer) p.peer.name = newName;
        }
      }
      return;
    }
    if (obj === 'link' && verb === 'del') {
      const name = w[2] === 'dev' ? w[3]! : w[2]!;
      this.#link(ns, name);
      this.#removeLink(nsName, name);
      return;
    }
    if (obj === 'addr' && verb === 'add') {
      const l = this.#link(ns, arg('dev')!);
      if (l.addrs.includes(w[2]!)) throw new Error('RTNETLINK answers: File exists');
      l.addrs.push(w[2]!);
      return;
    }
    if (obj === 'route' && (verb === 'add' || verb === 'replace' || verb === 'del')) {
      const dev = arg('dev');
      if (dev && verb !== 'del') {
        const l = this.#link(ns, dev);
        if (!l.up) throw new Error('RTNETLINK answers: Network is down');
      }
      // Stored as "<dst> via <gw>": "default via 172.17.0.1", "::/0 via fd00::1".
      const dst = w[2]!;
      const r = `${dst} via ${arg('via')}`;
      const same = (x: string) => x.split(' ')[0] === dst;
      if (verb === 'del') {
        const at = ns.routes.indexOf(r);
        if (at < 0) throw new Error('RTNETLINK answers: No such process');
        ns.routes.splice(at, 1);
        return;
      }
      if (verb === 'replace') ns.routes = ns.routes.filter((x) => !same(x));
      else if (ns.routes.some(same)) throw new Error('RTNETLINK answers: File exists');
      ns.routes.push(r);
      if (dev) (ns.routeDev ??= new Map()).set(r, dev);
      return;
    }
    if (obj === 'addr' && verb === 'del') {
      const l = this.#link(ns, arg('dev')!);
      const at = l.addrs.indexOf(w[2]!);
      if (at < 0) throw new Error('RTNETLINK answers: Cannot assign requested address');
      l.addrs.splice(at, 1);
      return;
    }
    throw new Error(`fake ip: unsupported command "${w.join(' ')}"`);
  }
}
