// Unit-test kit for the network drivers: an in-memory record store, a driver context over a fake
// Sys, and an engine with the driver installed (so failures unwind the job's undo stack).
import type { DriverContext, DriverRecords, RecordStore, NetworkDriver } from '../../../drivers/driver.js';
import { makeNames } from '../../../drivers/names.js';
import { silentLog } from '../../../drivers/log.js';
import type { Sys } from '../../../drivers/sys/index.js';
import { Engine } from '../../../daemon/engine/engine.js';
import type { NetworkRecord } from '../../../drivers/types.js';
import { randomBytes } from 'node:crypto';

export function memRecords(): RecordStore & { dump(): string } {
  const m = new Map<string, Map<string, unknown>>();
  const kind = (k: string) => m.get(k) ?? m.set(k, new Map()).get(k)!;
  return {
    get: (k, id) => structuredClone(kind(k).get(id)) as never,
    list: (k) => [...kind(k).values()].map((v) => structuredClone(v)) as never,
    async put(k, r) {
      kind(k).set(r.id, structuredClone(r));
    },
    async delete(k, id) {
      kind(k).delete(id);
    },
    dump: () => JSON.stringify([...m].map(([k, v]) => [k, [...v.keys()].sort()])),
  };
}

export function makeCtx(sys: Sys, records: RecordStore = memRecords(), over: Partial<DriverContext['config']> = {}): DriverContext {
  return {
    sys,
    records,
    names: makeNames('bt'),
    log: silentLog,
    config: { dataRoot: '/nonexistent', execRoot: '/nonexistent', bridge: 'bt0', icc: true, ipForward: true, runtime: 'runc', storageDriver: 'vfs', ...over },
  };
}

export const hex = (): string => randomBytes(32).toString('hex');

export function engineWith(...drivers: NetworkDriver[]): Engine {
  const e = new Engine(silentLog);
  for (const d of drivers) e.install(d);
  return e;
}

/** Create a driver's first builtin network the way the daemon does, and keep the record. */
export async function createBuiltin(e: Engine, d: NetworkDriver, records: RecordStore): Promise<NetworkRecord> {
  const spec = d.builtinNetworks[0]!;
  const rec = await e.run('create_network', d.name, { spec, id: hex() });
  await records.put('network', rec);
  return rec;
}

export type { DriverRecords };
