// Small pieces the host, none and container drivers share: network and endpoint records without devices,
// and the checks every allocate_interface makes before anything is written.
import type { DriverContext } from '../driver.js';
import type { Job } from '../handlers.js';
import { conflict } from '../errors.js';
import { safeId } from '../names.js';
import type { ContainerRef, Endpoint, NetnsRef, NetworkRecord, NetworkSpec } from '../types.js';

export function checkIds(container: ContainerRef, endpointId: string, ctx: DriverContext): void {
  safeId(endpointId);
  safeId(container.id);
  if (ctx.records.get('endpoint', endpointId)) throw conflict(`endpoint ${endpointId} exists already`);
}

/** Write an endpoint record with no interface (undone if the job fails). */
export async function putBareEndpoint(
  ctx: DriverContext,
  job: Job,
  e: { id: string; network: NetworkRecord; container: ContainerRef; driver: string; netns: NetnsRef; ownsNetns: boolean; aliases?: string[] },
): Promise<Endpoint> {
  const ep: Endpoint = {
    id: e.id,
    networkId: e.network.id,
    container: { id: e.container.id, name: e.container.name },
    driver: e.driver,
    netns: e.netns,
    ownsNetns: e.ownsNetns,
    aliases: e.aliases ?? [],
    ports: [],
    links: [],
  };
  await ctx.records.put('endpoint', ep);
  job.undo.push('forget endpoint record', () => ctx.records.delete('endpoint', e.id));
  return ep;
}

/** The record of a network with no device, addresses or rules (host, none): what create_network returns. */
export function bareNetwork(driver: string, spec: NetworkSpec, id: string): NetworkRecord {
  return {
    id,
    name: spec.name,
    driver,
    created: new Date().toISOString(),
    internal: false,
    ipv6: false,
    builtin: !!spec.builtin,
    ipam: [],
    options: spec.options ?? {},
    labels: spec.labels ?? {},
  };
}

export const emptyReport = () => ({ recreated: [] as string[], removed: [] as string[] });
