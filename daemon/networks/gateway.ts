// Docker's rules for a container on several networks, pure: which endpoint carries the default
// route (libnetwork's Endpoint.Less: higher gw-priority first, then non-internal, then dual-stack
// before single-stack, then network name), the DNS names of an endpoint (buildEndpointDNSNames),
// and the published ports pinned to the host ports they had (so they keep them when the gateway
// moves to another network).
import type { PortBinding, PortBindingRequest } from '../../drivers/types.js';

export interface GatewayCandidate {
  networkId: string;
  name: string;
  internal: boolean;
  ipv6: boolean;
  /** EndpointSettings.GwPriority (default 0). */
  priority: number;
  /** host/none/container networks never carry a route. */
  routable: boolean;
}

/** The network whose endpoint is the container's gateway, or undefined (only internal ones). */
export function gatewayOf(cands: readonly GatewayCandidate[]): string | undefined {
  const ok = cands.filter((c) => c.routable && !c.internal);
  const sorted = [...ok].sort((a, b) => {
    if (a.priority !== b.priority) return b.priority - a.priority;
    if (a.ipv6 !== b.ipv6) return a.ipv6 ? -1 : 1;
    return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
  });
  return sorted[0]?.networkId;
}

/** Docker's DNSNames: the container's name, its aliases on the network, its short id, its
 *  hostname; no duplicates, in that order (the first one answers reverse lookups). */
export function dnsNames(c: { id: string; name: string; hostname: string }, aliases: readonly string[]): string[] {
  return [...new Set([c.name, ...aliases, c.id.slice(0, 12), c.hostname].filter((x) => x !== ''))];
}

/** Requests that publish the same ports again (on another endpoint): wildcard bindings of both
 *  families fold into one request, as the user wrote it. */
export function pinnedRequests(bindings: readonly PortBinding[]): PortBindingRequest[] {
  const out = new Map<string, PortBindingRequest>();
  for (const b of bindings) {
    const hostIp = b.hostIp === '0.0.0.0' || b.hostIp === '::' ? '' : b.hostIp;
    const k = `${b.containerPort}/${b.proto}/${hostIp}/${b.hostPort}`;
    if (!out.has(k)) out.set(k, { containerPort: b.containerPort, proto: b.proto, hostIp, hostPort: b.hostPort, hostPortEnd: b.hostPort });
  }
  return [...out.values()];
}
