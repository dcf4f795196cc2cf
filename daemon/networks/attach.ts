// A container's networks while it runs: every network it is configured for attached in its one
// netns (the NetworkMode network as eth0, then the others of NetworkingConfig as eth1, eth2, …), the
// default route and the published ports on the gateway endpoint (Docker's rules, gateway.ts), and
// `network connect`/`disconnect` of a running container (an interface more or less, without a
// restart; the gateway and the ports move when Docker's order says so). Steps run as parts of the
// caller's engine job, so a failure unwinds what was made.
import { randomBytes } from 'node:crypto';
import type { Daemon } from '../daemon.js';
import { forbidden, invalidParameter } from '../../drivers/errors.js';
import type { Job } from '../../drivers/handlers.js';
import type { Endpoint, EndpointRequest, NetworkRecord } from '../../drivers/types.js';
import { portBindingRequests } from '../../drivers/network/ports/spec.js';
import { bindingsOf } from '../containers/create.js';
import type { ContainerRecord, EndpointSettingsWire } from '../containers/types.js';
import { dnsNames, gatewayOf, pinnedRequests, type GatewayCandidate } from './gateway.js';

/** What the API sends for an endpoint (Docker 28's EndpointSettings, the part berth reads). */
export type EndpointConfig = EndpointSettingsWire & { GwPriority?: number };

const routable = (n: NetworkRecord) => !['host', 'none', 'container'].includes(n.driver);

function candidate(n: NetworkRecord, cfg: EndpointConfig | undefined): GatewayCandidate {
  return { networkId: n.id, name: n.name, internal: n.internal, ipv6: n.ipv6, priority: cfg?.GwPriority ?? 0, routable: routable(n) };
}

/** The settings recorded for a network, under its name or its id. */
export function settingsFor(c: ContainerRecord, n: NetworkRecord): EndpointConfig | undefined {
  return (c.endpointsConfig[n.name] ?? c.endpointsConfig[n.id]) as EndpointConfig | undefined;
}

function requestFor(c: ContainerRecord, hostname: string, n: NetworkRecord, cfg: EndpointConfig | undefined, index: number, gateway: boolean): EndpointRequest {
  const aliases = cfg?.Aliases ?? [];
  const mac = (index === 0 ? c.config.MacAddress : undefined) || cfg?.MacAddress;
  return {
    ifName: `eth${index}`,
    ...(cfg?.IPAMConfig?.IPv4Address ? { ipv4: cfg.IPAMConfig.IPv4Address } : {}),
    ...(cfg?.IPAMConfig?.IPv6Address ? { ipv6: cfg.IPAMConfig.IPv6Address } : {}),
    ...(mac ? { mac } : {}),
    aliases,
    ...(routable(n) ? { dnsNames: dnsNames({ id: c.id, name: c.name, hostname }, aliases), dnsServers: c.hostConfig.Dns ?? [], gateway } : {}),
  };
}

/** Docker's checks of a network a container joins besides its first (connect, or a second
 *  EndpointsConfig entry). */
function checkJoin(mode: string, primary: NetworkRecord | undefined, n: NetworkRecord): void {
  if (n.driver === 'host' && mode !== 'host') throw invalidParameter('cannot connect container to host network - container must be created in host network mode');
  if (mode === 'host' || mode.startsWith('container:') || primary?.driver === 'host')
    throw invalidParameter('container sharing network namespace with another container or host cannot be connected to any other network');
  if (n.driver === 'none' || primary?.driver === 'none')
    throw invalidParameter('container cannot be connected to multiple networks with one of the networks in private (none) mode');
}

/** Check endpoint settings as Docker does before anything is made. */
export function checkEndpointConfig(n: NetworkRecord, cfg: EndpointConfig): void {
  const ip4 = cfg.IPAMConfig?.IPv4Address;
  const ip6 = cfg.IPAMConfig?.IPv6Address;
  if (n.builtin && (ip4 || ip6)) throw invalidParameter('invalid endpoint settings:\nuser-specified IP address is supported on user-defined networks only');
  if (n.builtin && cfg.Aliases?.length) throw invalidParameter('invalid endpoint settings:\nnetwork-scoped aliases are only supported for user-defined networks');
  if (ip4 && !/^\d{1,3}(\.\d{1,3}){3}$/.test(ip4)) throw invalidParameter(`invalid endpoint settings:\ninvalid IPv4 address: ${ip4}`);
  if (ip6 && !/^[0-9a-fA-F:.]+$/.test(ip6)) throw invalidParameter(`invalid endpoint settings:\ninvalid IPv6 address: ${ip6}`);
  if (cfg.GwPriority !== undefined && !Number.isInteger(cfg.GwPriority)) throw invalidParameter('invalid endpoint settings:\ninvalid GwPriority');
  if (cfg.Links?.length) throw invalidParameter('berth does not support links on user-defined networks (--link with network connect)');
  const linkLocal = (cfg.IPAMConfig as { LinkLocalIPs?: string[] | null } | null | undefined)?.LinkLocalIPs;
  if (linkLocal?.length) throw invalidParameter('berth does not support link-local addresses (--link-local-ip)');
}

/**
 * At start: attach every network of the container in one netns, the default route on the gateway
 * endpoint, the published ports there. Records c.netns and c.endpoints as it goes.
 */
export async function attachAll(
  d: Daemon,
  c: ContainerRecord,
  hostname: string,
  job: Job,
  opts: { deferPorts?: boolean } = {},
): Promise<{ network: NetworkRecord; endpoint: Endpoint; publish?: () => Promise<void> }> {
  const mode = c.hostConfig.NetworkMode === '' || c.hostConfig.NetworkMode === 'default' ? 'bridge' : c.hostConfig.NetworkMode;
  const modeNet = d.networks.get(mode);
  const extras: NetworkRecord[] = [];
  for (const key of Object.keys(c.endpointsConfig)) {
    const n = d.networks.get(key);
    if (n.id === modeNet.id || extras.some((x) => x.id === n.id)) continue;
    checkJoin(mode, modeNet, n);
    extras.push(n);
  }
  // Disconnected from its NetworkMode network: the first of the others makes the netns; with none
  // left, the none network does (lo only), as dockerd's sandbox without endpoints.
  const primary = !c.modeDisconnected ? modeNet : (extras.shift() ?? d.networks.get('none'));
  const all = [primary, ...extras];
  const gw = gatewayOf(all.map((n) => candidate(n, settingsFor(c, n))));
  const container = { id: c.id, name: c.name };

  const ep = await d.networks.run(
    'allocate_interface',
    primary,
    { container, endpointId: randomBytes(32).toString('hex'), request: requestFor(c, hostname, primary, settingsFor(c, primary), 0, primary.id === gw) },
    job,
  );
  c.netns = ep.netns;
  c.endpoints = { [primary.id]: ep.id };
  await d.store.put('container', c);
  const eps = new Map<string, Endpoint>([[primary.id, ep]]);
  for (const [i, n] of extras.entries()) {
    const x = await d.networks.run(
      'allocate_interface',
      n,
      { container, endpointId: randomBytes(32).toString('hex'), request: { ...requestFor(c, hostname, n, settingsFor(c, n), i + 1, n.id === gw), netns: ep.netns } },
      job,
    );
    c.endpoints[n.id] = x.id;
    eps.set(n.id, x);
    await d.store.put('container', c);
  }

  // Published ports live on the gateway endpoint; --net none warns that it drops them. With
  // deferPorts the caller publishes them itself (beside the runtime's create: they share nothing).
  const target = gw ?? (primary.driver === 'none' ? primary.id : undefined);
  let publish: (() => Promise<void>) | undefined;
  if (target) {
    const requests = portBindingRequests(bindingsOf(c.hostConfig.PortBindings), c.config.ExposedPorts, c.hostConfig.PublishAllPorts);
    const n = all.find((x) => x.id === target)!;
    if (requests.length > 0) publish = async () => void (await d.networks.run('allocate_port', n, { endpoint: d.store.get('endpoint', eps.get(target)!.id) ?? eps.get(target)!, requests }, job));
  }
  if (publish && !opts.deferPorts) {
    await publish();
    publish = undefined;
  }
  return { network: primary, endpoint: d.store.get('endpoint', ep.id) ?? ep, ...(publish ? { publish } : {}) };
}

/** The container's endpoints, by network, as recorded now. */
function endpointsOf(d: Daemon, c: ContainerRecord): { network: NetworkRecord; endpoint: Endpoint }[] {
  return Object.entries(c.endpoints).flatMap(([netId, epId]) => {
    const network = d.store.get('network', netId);
    const endpoint = d.store.get('endpoint', epId);
    return network && endpoint ? [{ network, endpoint }] : [];
  });
}

/**
 * Move the default route and the published ports to the endpoint Docker's order picks now (after a
 * connect or a disconnect). `released`: ports of a gateway endpoint that was just released, to be
 * published again with the same host ports.
 */
async function regateway(d: Daemon, c: ContainerRecord, job: Job, released: Endpoint['ports'] = []): Promise<void> {
  const eps = endpointsOf(d, c);
  const want = gatewayOf(eps.map((e) => candidate(e.network, settingsFor(c, e.network))));
  const old = eps.find((e) => e.endpoint.isGateway);
  if (old?.network.id === want && released.length === 0) return;
  let carried = released;
  if (old && old.network.id !== want) {
    if (old.endpoint.ports.length) {
      carried = old.endpoint.ports;
      await d.networks.run('release_port', old.network, { endpoint: old.endpoint }, job);
    }
    await d.networks.run('set_gateway', old.network, { endpoint: d.store.get('endpoint', old.endpoint.id) ?? old.endpoint, gateway: false }, job);
  }
  const neu = eps.find((e) => e.network.id === want);
  if (!neu || (old && old.network.id === want)) return;
  const ep = await d.networks.run('set_gateway', neu.network, { endpoint: neu.endpoint, gateway: true }, job);
  const original = portBindingRequests(bindingsOf(c.hostConfig.PortBindings), c.config.ExposedPorts, c.hostConfig.PublishAllPorts);
  if (original.length === 0) return;
  const pinned = carried.length ? pinnedRequests(carried) : original;
  try {
    await d.networks.run('allocate_port', neu.network, { endpoint: ep, requests: pinned }, job);
  } catch (err) {
    if (pinned === original) throw err;
    job.log.warn({ err }, 'the published ports could not keep their host ports on the new gateway network');
    await d.networks.run('allocate_port', neu.network, { endpoint: d.store.get('endpoint', ep.id) ?? ep, requests: original }, job);
  }
}

/** `network connect` checks that need no lock: the container's mode and the settings. */
export function checkConnect(c: ContainerRecord, primary: NetworkRecord | undefined, n: NetworkRecord, cfg: EndpointConfig): void {
  const mode = c.hostConfig.NetworkMode === '' || c.hostConfig.NetworkMode === 'default' ? 'bridge' : c.hostConfig.NetworkMode;
  if (!(primary && primary.id === n.id)) checkJoin(mode, primary, n);
  checkEndpointConfig(n, cfg);
}

/** Is the container configured for (or attached to) the network? */
export function isConnected(c: ContainerRecord, primary: NetworkRecord | undefined, n: NetworkRecord): boolean {
  return (primary?.id === n.id && !c.modeDisconnected) || !!c.endpoints[n.id] || settingsFor(c, n) !== undefined;
}

/** A new endpoint of a running container on `n`, kept in its record (both undone if the job fails). */
async function addEndpoint(d: Daemon, c: ContainerRecord, n: NetworkRecord, request: EndpointRequest, job: Job): Promise<Endpoint> {
  const ep = await d.networks.run('allocate_interface', n, { container: { id: c.id, name: c.name }, endpointId: randomBytes(32).toString('hex'), request }, job);
  c.endpoints[n.id] = ep.id;
  await d.store.put('container', c);
  job.undo.push('forget the endpoint in the container record', async () => {
    delete c.endpoints[n.id];
    await d.store.put('container', c);
  });
  return ep;
}

/** Connect a running container: one interface more in its netns (eth<first free>). */
export async function connectRunning(d: Daemon, c: ContainerRecord, hostname: string, n: NetworkRecord, cfg: EndpointConfig, job: Job): Promise<Endpoint> {
  if (!c.netns || c.netns.kind !== 'new') throw invalidParameter('container sharing network namespace with another container or host cannot be connected to any other network');
  const used = new Set(endpointsOf(d, c).map((e) => e.endpoint.ifName));
  let i = 0;
  while (used.has(`eth${i}`)) i++;
  const ep = await addEndpoint(d, c, n, { ...requestFor(c, hostname, n, cfg, i, false), netns: c.netns }, job);
  await regateway(d, c, job);
  return ep;
}

/** Disconnect a running container from a network: the interface goes; if it was the gateway, the
 *  next network in Docker's order takes the route and the ports. The netns stays: if this endpoint
 *  made it, another of the container's endpoints becomes its owner first (the one whose release
 *  deletes it), or, with none left, an endpoint of the none network adopts it (lo only). */
export async function disconnectRunning(d: Daemon, c: ContainerRecord, n: NetworkRecord, job: Job): Promise<void> {
  const epId = c.endpoints[n.id];
  const ep = epId ? d.store.get('endpoint', epId) : undefined;
  if (!ep) throw forbidden(`container ${c.id} is not connected to network ${n.name}`);
  if (ep.ownsNetns) await handOverNetns(d, c, ep, job);
  const ports = ep.isGateway ? ep.ports : [];
  for (const l of [...ep.links].reverse()) {
    const to = d.store.get('endpoint', l.toEndpointId);
    if (to) await d.networks.run('unlink', n, { from: d.store.get('endpoint', ep.id) ?? ep, to }, job);
  }
  if (ep.ports.length) await d.networks.run('release_port', n, { endpoint: d.store.get('endpoint', ep.id) ?? ep }, job);
  await d.networks.run('release_interface', n, { endpoint: d.store.get('endpoint', ep.id) ?? ep }, job);
  delete c.endpoints[n.id];
  await d.store.put('container', c);
  if (ep.isGateway) await regateway(d, c, job, ports);
}

/** Make another endpoint the owner of the container's netns before `ep` (its owner) is released.
 *  The new owner is written first: a crash in between leaves two owners (the second delete finds
 *  the netns gone, which is success), never none (a leaked netns). Undone if the job fails. */
async function handOverNetns(d: Daemon, c: ContainerRecord, ep: Endpoint, job: Job): Promise<void> {
  if (ep.netns.kind !== 'new') return;
  const next = endpointsOf(d, c).find((e) => e.endpoint.id !== ep.id && e.endpoint.netns.kind === 'new' && e.endpoint.netns.name === (ep.netns as { name: string }).name);
  if (next) {
    // endpoint records are the drivers'; ownsNetns is the one field the daemon hands over
    await d.store.put('endpoint', { ...next.endpoint, ownsNetns: true });
    job.undo.push('give the netns back to its first owner', async () => {
      const now = d.store.get('endpoint', next.endpoint.id);
      if (now) await d.store.put('endpoint', { ...now, ownsNetns: false });
    });
  } else {
    await addEndpoint(d, c, d.networks.get('none'), { netns: ep.netns, adoptNetns: true }, job);
  }
  await d.store.put('endpoint', { ...(d.store.get('endpoint', ep.id) ?? ep), ownsNetns: false });
  job.undo.push('the released endpoint owns the netns again', async () => {
    const now = d.store.get('endpoint', ep.id);
    if (now) await d.store.put('endpoint', { ...now, ownsNetns: true });
  });
}
