// What the bridge driver asks of iproute2, as `ip -batch` lines, pure. Names reaching these lines
// are validated before (ifname(), names.*): a batch line can hold nothing else.
import { invalidParameter } from '../../errors.js';

const IFNAME_RE = /^[A-Za-z0-9][A-Za-z0-9_-]{0,14}$/;

/** A link name we may put in a command: ≤15 characters, no dots (sysctl paths), no slashes. */
export function ifname(name: string, what = 'interface name'): string {
  if (!IFNAME_RE.test(name)) throw invalidParameter(`invalid ${what} "${name}": want [A-Za-z0-9][A-Za-z0-9_-]{0,14}`);
  return name;
}

export function macAddr(mac: string): string {
  if (!/^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$/.test(mac)) throw invalidParameter(`invalid MAC address: ${mac}`);
  if (parseInt(mac.slice(0, 2), 16) & 1) throw invalidParameter(`invalid MAC address: ${mac} is a multicast address`);
  return mac.toLowerCase();
}

/** Create the bridge with its address, up (daemon's netns). */
export function bridgeLines(bridge: string, gatewayCidr: string, opts: { create: boolean; addAddr: boolean; mtu?: number }): string[] {
  const out: string[] = [];
  if (opts.create) out.push(`link add ${bridge} type bridge${opts.mtu ? ` mtu ${opts.mtu}` : ''}`);
  if (opts.addAddr) out.push(`addr add ${gatewayCidr} dev ${bridge}`);
  out.push(`link set ${bridge} up`);
  return out;
}

/**
 * A sandbox, made off the start path (daemon's netns): a named netns holding the container end
 * `eth0` (down, no address yet) of a veth whose host end is on the bridge, up, in hairpin mode (so
 * a container reaches itself through a published port: with br_netfilter the DNATed frame is
 * bridged back out of the port it came in by).
 */
export function sandboxLines(s: { netns: string; hostIf: string; bridge: string; ifName: string; newNetns: boolean }): string[] {
  return [
    ...(s.newNetns ? [`netns add ${s.netns}`] : []),
    `link add ${s.hostIf} master ${s.bridge} type veth peer name ${s.ifName} netns ${s.netns}`,
    // No IPv6 link-local address (the network is IPv4): no DAD, router solicitations or MLD
    // reports flooded to every port of the bridge each time a container starts.
    `link set dev ${s.hostIf} addrgenmode none`,
    `link set dev ${s.hostIf} type bridge_slave hairpin on`,
    `link set ${s.hostIf} up`,
  ];
}

/** Inside the container's netns: no IPv6 link-local, the endpoint's MAC, address, up, lo up,
 *  default route. */
export function configLines(c: { ifName: string; rename?: string; mac: string; cidr: string; gateway: string; defaultRoute: boolean }): string[] {
  const dev = c.rename ?? c.ifName;
  return [
    ...(c.rename ? [`link set dev ${c.ifName} name ${c.rename}`] : []),
    `link set dev ${dev} addrgenmode none`,
    `link set dev ${dev} address ${c.mac}`,
    `addr add ${c.cidr} dev ${dev}`,
    `link set ${dev} up`,
    'link set lo up',
    ...(c.defaultRoute ? [`route add default via ${c.gateway} dev ${dev}`] : []),
  ];
}
