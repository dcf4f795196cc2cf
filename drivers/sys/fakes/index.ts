// Fakes of the host for unit tests: a Sys whose ip, iptables, sysctl and port holder are stateful
// models, and a wrapper that makes the Nth kernel call fail (to prove that every step is undone).
import type { Sys } from '../index.js';
import type { Exec } from '../exec.js';
import { CommandError } from '../exec.js';
import type { Sysctl } from '../sysctl.js';
import type { HeldPort, PortHolder } from '../ports.js';
import { FakeIp } from './ip.js';
import { FakeIptables } from './iptables.js';
import { FakeDnsNet } from './dns.js';
import { FakeNft } from './nft.js';

export { FakeIp, FakeIptables, FakeDnsNet, FakeNft };

export class FakeSysctl implements Sysctl {
  readonly values = new Map<string, string>([
    ['net.ipv4.ip_forward', '0'],
    ['net.ipv4.ip_local_port_range', '32768\t60999'],
  ]);
  async get(key: string): Promise<string> {
    const v = this.values.get(key);
    if (v === undefined) throw Object.assign(new Error(`ENOENT: no such sysctl ${key}`), { code: 'ENOENT' });
    return v;
  }
  async set(key: string, value: string): Promise<void> {
    this.values.set(key, value);
  }
}

/** Ports as the kernel sees binds: held by berth, or busy (a host process). */
export class FakePortHolder implements PortHolder {
  readonly held = new Set<string>();
  /** `proto/ip/port` ('0.0.0.0' for a wildcard bind) that a host process holds. */
  readonly busy = new Set<string>();

  #conflicts(proto: string, ip: string, port: number): boolean {
    for (const k of [...this.held, ...this.busy]) {
      const [p, i, n] = k.split('/');
      if (p !== proto || Number(n) !== port) continue;
      if (i!.includes(':') !== ip.includes(':')) continue; // IPv6 binds are v6-only
      if (i === ip || i === '0.0.0.0' || ip === '0.0.0.0' || i === '::' || ip === '::') return true;
    }
    return false;
  }

  async hold(proto: 'tcp' | 'udp', ip: string, port: number): Promise<HeldPort> {
    const addr = ip === '' ? '0.0.0.0' : ip;
    if (this.#conflicts(proto, addr, port)) throw Object.assign(new Error(`listen EADDRINUSE: address already in use ${addr}:${port}`), { code: 'EADDRINUSE' });
    const key = `${proto}/${addr}/${port}`;
    this.held.add(key);
    return { close: async () => void this.held.delete(key) };
  }
}

export interface FakeSys extends Sys {
  readonly ip: FakeIp;
  readonly iptables: FakeIptables;
  readonly sysctl: FakeSysctl;
  readonly ports: FakePortHolder;
  readonly dns: FakeDnsNet;
  readonly nft: FakeNft;
  /** Programs "run", in order (ip and iptables calls as argv). */
  readonly execs: string[][];
}

export function fakeSys(): FakeSys {
  const execs: string[][] = [];
  const ip = new FakeIp();
  const iptables = new FakeIptables();
  const nft = new FakeNft();
  iptables.onCommit = (_text, family) => nft.emitOwn([], family === 6 ? 'ip6tables-resto' : 'iptables-restor');
  const exec: Exec = {
    async run(argv) {
      execs.push([...argv]);
      throw new CommandError(argv, 127, `fake exec: ${argv[0]} is not modelled`);
    },
    ran: (pid) => nft.ran.has(pid),
  };
  const countedIp = new Proxy(ip, {
    get(t, k, r) {
      const v = Reflect.get(t, k, r);
      if (k === 'batch' || k === 'json')
        return (...a: unknown[]) => {
          execs.push(['ip', String(k)]);
          return (v as (...x: unknown[]) => unknown).apply(t, a);
        };
      return typeof v === 'function' ? v.bind(t) : v;
    },
  });
  const countedIpt = new Proxy(iptables, {
    get(t, k, r) {
      const v = Reflect.get(t, k, r);
      if (k === 'restore' || k === 'save')
        return (...a: unknown[]) => {
          execs.push([`iptables-${String(k)}`]);
          return (v as (...x: unknown[]) => unknown).apply(t, a);
        };
      return typeof v === 'function' ? v.bind(t) : v;
    },
  });
  return { exec, ip: countedIp, iptables: countedIpt, sysctl: new FakeSysctl(), ports: new FakePortHolder(), dns: new FakeDnsNet(), nft, execs };
}

/**
 * A Sys that fails its Nth kernel call (ip batch/json, iptables restore/save, a port bind, a sysctl
 * write), counting from 1, and passes every other through. `calls()` says how many were made.
 */
export function failNth(sys: Sys, n: number): Sys & { calls(): number; arm(n: number): void } {
  let count = 0;
  const gate = <A extends unknown[], R>(what: string, fn: (...a: A) => Promise<R>) =>
    (...a: A): Promise<R> => {
      if (++count === n) return Promise.reject(new CommandError([what], 1, `injected failure of call ${n} (${what})`));
      return fn(...a);
    };
  return {
    exec: sys.exec,
    ip: { batch: gate('ip-batch', sys.ip.batch.bind(sys.ip)), json: gate('ip-json', sys.ip.json.bind(sys.ip)) as Sys['ip']['json'] },
    iptables: { restore: gate('iptables-restore', sys.iptables.restore.bind(sys.iptables)), save: gate('iptables-save', sys.iptables.save.bind(sys.iptables)) },
    sysctl: { get: sys.sysctl.get.bind(sys.sysctl), set: gate('sysctl', sys.sysctl.set.bind(sys.sysctl)) },
    ports: {
      hold: (proto, ip, port) => {
        if (++count === n) return Promise.reject(Object.assign(new Error('injected EACCES'), { code: 'EPERM' }));
        return sys.ports.hold(proto, ip, port);
      },
    },
    dns: sys.dns,
    nft: sys.nft,
    calls: () => count,
    /** Count again from zero and fail the nth call from now (Infinity: never). */
    arm(next: number) {
      count = 0;
      n = next;
    },
  };
}
