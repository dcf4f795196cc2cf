// Networks: the records, name resolution, predefined networks, and create/remove through the
// engine. The service knows no driver by name: a driver lists its predefined networks.
import { createHash, randomBytes } from 'node:crypto';
import type { Daemon } from '../daemon.js';
import type { NetworkDriver } from '../../drivers/driver.js';
import { conflict, forbidden, invalidParameter, notFound } from '../../drivers/errors.js';
import type { Job } from '../../drivers/handlers.js';
import type { Endpoint, NetworkRecord, NetworkSpec } from '../../drivers/types.js';

/** The pseudo network of `--net container:<id>`: never listed, never removed. */
export const CONTAINER_MODE_NETWORK: NetworkRecord = Object.freeze({
  id: createHash('sha256').update('berth:container-mode').digest('hex'),
  name: 'container',
  driver: 'container',
  created: new Date(0).toISOString(),
  internal: false,
  ipv6: false,
  builtin: true,
  ipam: [],
  options: {},
  labels: {},
});

const NAME_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

export class NetworkService {
  readonly #d: Daemon;

  constructor(d: Daemon) {
    this.#d = d;
  }

  /** At start: make each driver's predefined networks that have no record yet. */
  async init(): Promise<void> {
    for (const name of this.#d.engine.drivers('network')) {
      const driver = this.#d.engine.driver('network', name) as NetworkDriver;
      for (const spec of driver.builtinNetworks) {
        if (this.#byName(spec.name)) continue;
        await this.#create(spec, { builtin: true });
      }
    }
  }

  list(): NetworkRecord[] {
    return this.#d.store.list('network');
  }

  /** Docker's lookup order: full id, exact name, unique id prefix. */
  get(ref: string): NetworkRecord {
    const n = this.find(ref);
    if (!n) throw notFound(`network ${ref} not found`);
    return n;
  }

  find(ref: string): NetworkRecord | undefined {
    const all = this.list();
    const byId = all.find((n) => n.id === ref);
    if (byId) return byId;
    const byName = this.#byName(ref);
    if (byName) return byName;
    if (/^[0-9a-f]+$/.test(ref)) {
      const matches = all.filter((n) => n.id.startsWith(ref));
      if (matches.length === 1) return matches[0];
      if (matches.length > 1) throw invalidParameter(`network ${ref} is ambiguous (${matches.length} matches found based on ID prefix)`);
    }
    return undefined;
  }

  #byName(name: string): NetworkRecord | undefined {
    return this.list().find((n) => n.name === name);
  }

  endpoints(networkId: string): Endpoint[] {
    return this.#d.store.list('endpoint').filter((e) => e.networkId === networkId);
  }

  async create(spec: NetworkSpec): Promise<NetworkRecord> {
    if (!NAME_RE.test(spec.name)) throw invalidParameter(`invalid network name "${spec.name}": want [a-zA-Z0-9][a-zA-Z0-9_.-]*`);
    const driver = spec.driver || 'bridge';
    const d = this.#d.engine.driver('network', driver) as NetworkDriver | undefined;
    if (!d || driver === 'container') throw notFound(`plugin "${driver}" not found`);
    if (['host', 'none'].includes(driver))
      throw forbidden(`only one instance of "${driver}" network is allowed`);
    return this.#create({ ...spec, driver }, { builtin: false });
  }

  async #create(spec: NetworkSpec, opts: { builtin: boolean }): Promise<NetworkRecord> {
    if (this.#byName(spec.name)) throw conflict(`network with name ${spec.name} already exists`);
    const id = randomBytes(32).toString('hex');
    return this.#d.engine.job('network-create', async (job) => {
      const rec = await this.#d.engine.run('create_network', spec.driver, { spec: { ...spec, builtin: opts.builtin }, id }, job);
      await this.#d.store.put('network', rec);
      job.undo.push('forget network record', () => this.#d.store.delete('network', rec.id));
      this.#d.events.publish('network', 'create', rec.id, { name: rec.name, type: rec.driver });
      return rec;
    });
  }

  async remove(ref: string): Promise<void> {
    const n = this.get(ref);
    if (n.builtin) throw forbidden(`${n.name} is a pre-defined network and cannot be removed`);
    if (this.endpoints(n.id).length > 0) throw forbidden(`error while removing network: network ${n.name} id ${n.id} has active endpoints`);
    await this.#d.engine.job('network-remove', async (job) => {
      await this.#d.engine.run('delete_network', n.driver, { network: n }, job);
      await this.#d.store.delete('network', n.id);
      this.#d.events.publish('network', 'destroy', n.id, { name: n.name, type: n.driver });
    });
  }

  /** Remove user-defined networks without endpoints; returns their names. */
  async prune(filters: Record<string, string[]> = {}): Promise<string[]> {
    const removed: string[] = [];
    for (const n of this.list()) {
      if (n.builtin || this.endpoints(n.id).length > 0) continue;
      if (!matchLabels(n.labels, filters.label ?? [])) continue;
      await this.remove(n.id);
      removed.push(n.name);
    }
    return removed;
  }

  /** The operator's view: what the driver made in the kernel for this network, read back. */
  async kernelView(n: NetworkRecord): Promise<Record<string, unknown> | undefined> {
    const driver = this.#d.engine.driver('network', n.driver) as NetworkDriver | undefined;
    if (!driver?.inspect) return undefined;
    return driver.inspect(n, this.endpoints(n.id));
  }

  /** Run a network handler as a step of a parent job (for the container service). */
  run<N extends 'allocate_interface' | 'release_interface' | 'allocate_port' | 'release_port' | 'set_gateway' | 'link' | 'unlink'>(
    name: N,
    network: NetworkRecord,
    input: Omit<import('../../drivers/handlers.js').HandlerIn<N>, 'network'>,
    parent?: Job,
  ): Promise<import('../../drivers/handlers.js').HandlerOut<N>> {
    return this.#d.engine.run(name, network.driver, { ...input, network } as import('../../drivers/handlers.js').HandlerIn<N>, parent);
  }
}

export function matchLabels(labels: Record<string, string>, wanted: string[]): boolean {
  return wanted.every((w) => {
    const [k, v] = w.split('=', 2) as [string, string | undefined];
    return k in labels && (v === undefined || labels[k] === v);
  });
}
