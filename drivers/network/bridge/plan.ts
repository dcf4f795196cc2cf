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

/** Create the bridge with its addresses, up (daemon's netns). IPv6 addresses skip duplicate
 *  address detection (nodad): usable at once, and the subnet is berth's alone. */
export function bridgeLines(bridge: string, addrs: readonly string[], opts: { create: boolean; mtu?: number }): string[] {
  const out: string[] = [];
  if (opts.create) out.push(`link add ${bridge}${opts.mtu ? ` mtu ${opts.mtu}` : ''} type bridge`);
  for (const a of addrs) out.push(`addr add ${a} dev ${bridge}${a.includes(':') ? ' nodad' : ''}`);
  out.push(`link set ${bridge} up`);
  return out;
}

/**
 * A sandbox, made off the start path (daemon's netns): a named netns holding the container end
 * `eth0` (down, no address yet) of a veth whose host end is on the bridge, up, in hairpin mode (so
 * a container reaches itself through a published port: with br_netfilter the DNATed frame is
 * bridged back out of the port it came in by).
 */
export function sandboxLines(s: { netns: string; hostIf: string; bridge: string; ifName: string; newNetns: boolean; mtu?: number }): string[] {
  const mtu = s.mtu ? ` mtu ${s.mtu}` : '';
  return [
    ...(s.newNetns ? [`netns add ${s.netns}`] : []),
    `link add ${s.hostIf}${mtu} master ${s.bridge} type veth peer name ${s.ifName}${mtu} netns ${s.netns}`,
    // No IPv6 link-local address (the network is IPv4): no DAD, router solicitations or MLD
    // reports flooded to every port of the bridge each time a container starts.
    `link set dev ${s.hostIf} addrgenmode none`,
    `link set dev ${s.hostIf} type bridge_slave hairpin on`,
    `link set ${s.hostIf} up`,
  ];
}

/** Inside the container's netns: no IPv6 link-local, the endpoint's MAC, addresses (IPv6 without
 *  duplicate address detection), up, lo up, default routes when this endpoint is the gateway. */
export function configLines(c: {
  ifName: string;
  rename?: string;
  mac: string;
  cidr: string;
  gateway: string;
  cidr6?: string;
  gateway6?: string;
  defaultRoute: boolean;
}): string[] {
  const dev = c.rename ?? c.ifName;
  return [
    ...(c.rename ? [`link set dev ${c.ifName} name ${c.rename}`] : []),
    `link set dev ${dev} addrgenmode none`,
    `link set dev ${dev} address ${c.mac}`,
    `addr add ${c.cidr} dev ${dev}`,
    ...(c.cidr6 ? [`addr add ${c.cidr6} dev ${dev} nodad`] : []),
    `link set ${dev} up`,
    'link set lo up',
    ...(c.defaultRoute ? routeLines('add', dev, c.gateway, c.cidr6 ? c.gateway6 : undefined) : []),
  ];
}

/** The default routes through a gateway endpoint: `add` at configuration, `replace` when the
 *  gateway moves here, `del` when it moves away. */
export function routeLines(verb: 'add' | 'replace' | 'del', dev: string, gateway: string, gateway6?: string): string[] {
  return [`route ${verb} default via ${gateway} dev ${dev}`, ...(gateway6 ? [`route ${verb} ::/0 via ${gateway6} dev ${dev}`] : [])];
}
