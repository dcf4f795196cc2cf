// Ready-made sandboxes for one bridge network: a netns with `eth0` whose peer is on the bridge in
// hairpin mode. They are made off the start path (after a start, and at daemon start), so that
// allocate_interface costs one `ip` execution: the configuring batch inside the netns. They carry
// berth's names but no record: a crash leaves them to restore()'s sweep; shutdown removes them.
import { randomBytes } from 'node:crypto';
import type { Ip } from '../../sys/ip.js';
import type { Names } from '../../names.js';
import type { Log } from '../../log.js';
import { sandboxLines } from './plan.js';
import { later } from '../../later.js';

export interface Sandbox {
  netns: string;
  hostIf: string;
  /** Name of the container end inside the netns. */
  ifName: string;
}

export interface PoolOptions {
  ip: Ip;
  names: Names;
  bridge: string;
  /** The network's MTU, for both ends of each veth (default: the kernel's 1500). */
  mtu?: number;
  log: Log;
  /** Entries kept ready (0 disables the pool: every start makes its sandbox). */
  size: number;
  /** Milliseconds after a take before refilling (keeps the refill off the rest of a start). */
  refillDelayMs?: number;
}

export class SandboxPool {
  readonly #o: PoolOptions;
  #ready: Sandbox[] = [];
  #filling: Promise<void> | undefined;
  #timer: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(o: PoolOptions) {
    this.#o = o;
  }

  /** Sandboxes ready now, and the pool's size (the operator's view: `network inspect`). */
  get state(): { ready: number; size: number; filling: boolean } {
    return { ready: this.#ready.length, size: this.#o.size, filling: !!this.#filling || !!this.#timer };
  }

  /** Names of the netns and links the pool holds now (restore must not sweep them). */
  held(): Set<string> {
    return new Set(this.#ready.flatMap((s) => [s.netns, s.hostIf]));
  }

  newSandbox(): Sandbox {
    return {
      netns: this.#o.names.netns(randomBytes(32).toString('hex')),
      hostIf: this.#o.names.hostVeth(randomBytes(32).toString('hex')),
      ifName: 'eth0',
    };
  }

  /** A ready sandbox, or undefined if none is ready. The caller owns it from now on. */
  take(): Sandbox | undefined {
    const s = this.#ready.shift();
    this.schedule();
    return s;
  }

  /** Make one sandbox now (the pool was empty): one `ip -batch` in the daemon's netns. */
  async make(): Promise<Sandbox> {
    const s = this.newSandbox();
    await this.#o.ip.batch(sandboxLines({ netns: s.netns, hostIf: s.hostIf, bridge: this.#o.bridge, ifName: s.ifName, newNetns: true, mtu: this.#o.mtu }));
    return s;
  }

  /** Refill soon (debounced). */
  schedule(): void {
    if (this.#closed || this.#o.size === 0 || this.#timer) return;
    this.#timer = later(() => {
      this.#timer = undefined;
      void this.fill();
    }, this.#o.refillDelayMs ?? 30);
    this.#timer.unref();
  }

  /** Bring the pool to its size, all missing entries in one `ip -batch`. */
  fill(): Promise<void> {
    if (!this.#filling) {
      // set before the refill can end: one that has nothing to do ends at once, and must not leave
      // its settled promise here (every later fill would return it and never refill)
      const p = this.#refill().finally(() => {
        if (this.#filling === p) this.#filling = undefined;
      });
      this.#filling = p;
    }
    return this.#filling;
  }

  async #refill(): Promise<void> {
    const want = this.#o.size - this.#ready.length;
    if (this.#closed || want <= 0) return;
    const made = Array.from({ length: want }, () => this.newSandbox());
    const lines = made.flatMap((s) => sandboxLines({ netns: s.netns, hostIf: s.hostIf, bridge: this.#o.bridge, ifName: s.ifName, newNetns: true, mtu: this.#o.mtu }));
    try {
      await this.#o.ip.batch(lines);
    } catch (err) {
      this.#o.log.warn({ err }, 'sandbox pool refill failed; starts make their own');
      await this.#o.ip.batch(made.map((s) => `netns del ${s.netns}`), { force: true }).catch(() => {});
      return;
    }
    if (this.#closed) {
      await this.#o.ip.batch(made.map((s) => `netns del ${s.netns}`), { force: true }).catch(() => {});
      return;
    }
    this.#ready.push(...made);
  }

  /** Stop refilling and remove the ready sandboxes (network removal, daemon stop). */
  async close(): Promise<void> {
    this.#closed = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.#filling;
    const rest = this.#ready;
    this.#ready = [];
    if (rest.length) await this.#o.ip.batch(rest.map((s) => `netns del ${s.netns}`), { force: true }).catch(() => {});
  }
}
