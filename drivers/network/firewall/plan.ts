// iptables rules as data, pure: what berth wants in the kernel for the daemon (global jumps), for a
// bridge network (NAT, forwarding, isolation, icc) and for an endpoint (published ports, hairpin,
// links), for IPv4 (iptables) and IPv6 (ip6tables). The iptables backend turns them into
// transactions. `match` and `target` are written in iptables-save's canonical order (-s -d -i -o -p,
// then -m …) so that a rule rendered here compares equal, as a string, with the line iptables-save
// prints for it.
import type { LinkRecord, PortBinding, PortProto, Proto } from '../../types.js';
import { fmtAddr6, isV6, parseAddr6 } from '../ipam/v6.js';
import type { FwState } from './backend.js';

export type Table = 'filter' | 'nat';
export type Family = 4 | 6;

export interface Rule {
  table: Table;
  chain: string;
  /** Matches, canonical order, without the comment. '' for none. */
  match: string;
  /** `-j` and its options, e.g. `DNAT --to-destination 172.17.0.2:80`. */
  target: string;
  /** The comment: names.ruleTag(owner id). */
  tag: string;
  /** Insert at the top of the chain instead of appending (the jumps from FORWARD). */
  first?: boolean;
  /** What this rule stands on (a host port, a container address): a pending removal that shares a
   *  key with a rule being added is done in the same transaction, before the add. */
  keys?: string[];
  /** A rule read back from the kernel in a shape berth does not render: its exact saved line. */
  raw?: string;
}

export interface Chain {
  table: Table;
  name: string;
}

/** Chain names, all BERTH…: the nat chain of published ports (jumped from PREROUTING and OUTPUT for
 *  local destinations), nat post-routing, the filter chain of published-port and link accepts, the
 *  filter chain reached from FORWARD, and the operators' chain evaluated first in FORWARD. */
export const CHAIN = {
  nat: 'BERTH',
  natPost: 'BERTH-POSTROUTING',
  ports: 'BERTH',
  forward: 'BERTH-FORWARD',
  user: 'BERTH-USER',
  isolation: 'BERTH-ISOLATION',
} as const;

export const CHAINS: readonly Chain[] = [
  { table: 'nat', name: CHAIN.nat },
  { table: 'nat', name: CHAIN.natPost },
  { table: 'filter', name: CHAIN.ports },
  { table: 'filter', name: CHAIN.forward },
  { table: 'filter', name: CHAIN.user },
  { table: 'filter', name: CHAIN.isolation },
];

/** Jumps from the built-in chains into berth's: the only rules berth puts in chains it did not make.
 *  FORWARD's two are inserted at the top, BERTH-USER first. */
export function globalRules(tag: string): Rule[] {
  return [
    { table: 'nat', chain: 'PREROUTING', match: '-m addrtype --dst-type LOCAL', target: CHAIN.nat, tag },
    { table: 'nat', chain: 'OUTPUT', match: '-m addrtype --dst-type LOCAL', target: CHAIN.nat, tag },
    { table: 'nat', chain: 'POSTROUTING', match: '', target: CHAIN.natPost, tag },
    { table: 'filter', chain: 'FORWARD', match: '', target: CHAIN.forward, tag, first: true },
    { table: 'filter', chain: 'FORWARD', match: '', target: CHAIN.user, tag, first: true },
  ];
}

export interface NetworkFw {
  bridge: string;
  subnet: string; // network CIDR of the family, e.g. 172.17.0.0/16 or fd00::/64
  icc: boolean;
  masquerade: boolean;
  internal: boolean;
}

/**
 * A bridge network's own rules: masquerade out of other interfaces, local sources (127.0.0.1 via
 * route_localnet) masqueraded into the bridge, conntrack accept, the jump to published ports and
 * links, isolation from the other bridges (traffic to another berth bridge is dropped unless DNAT
 * sent it there: published ports stay reachable from every network), outbound accept (internal:
 * drop both ways), and icc.
 */
export function networkRules(n: NetworkFw, tag: string): Rule[] {
  const br = n.bridge;
  const nat: Rule[] = [];
  if (n.masquerade && !n.internal)
    nat.push({ table: 'nat', chain: CHAIN.natPost, match: `-s ${n.subnet} ! -o ${br}`, target: 'MASQUERADE', tag });
  nat.push({ table: 'nat', chain: CHAIN.natPost, match: `-o ${br} -m addrtype --src-type LOCAL`, target: 'MASQUERADE', tag });
  const filter: Rule[] = [];
  if (!n.internal)
    filter.push({ table: 'filter', chain: CHAIN.forward, match: `-o ${br} -m conntrack --ctstate RELATED,ESTABLISHED`, target: 'ACCEPT', tag });
  filter.push({ table: 'filter', chain: CHAIN.forward, match: `-o ${br}`, target: CHAIN.ports, tag });
  if (n.internal) {
    filter.push({ table: 'filter', chain: CHAIN.forward, match: `-i ${br} ! -o ${br}`, target: 'DROP', tag });
    filter.push({ table: 'filter', chain: CHAIN.forward, match: `! -i ${br} -o ${br}`, target: 'DROP', tag });
  } else {
    filter.push({ table: 'filter', chain: CHAIN.forward, match: `-i ${br} ! -o ${br} -m conntrack ! --ctstate DNAT`, target: CHAIN.isolation, tag });
    filter.push({ table: 'filter', chain: CHAIN.forward, match: `-i ${br} ! -o ${br}`, target: 'ACCEPT', tag });
  }
  filter.push({ table: 'filter', chain: CHAIN.forward, match: `-i ${br} -o ${br}`, target: n.icc ? 'ACCEPT' : 'DROP', tag });
  // Every other bridge's isolation jump lands here: nothing may enter this bridge from another one.
  filter.push({ table: 'filter', chain: CHAIN.isolation, match: `-o ${br}`, target: 'DROP', tag });
  return [...nat, ...filter];
}

const protoMatch = (p: Proto, port: number) => `-p ${p} -m ${p} --dport ${port}`;
/** An address without its prefix, in the form iptables-save prints (IPv6 compressed, lowercase). */
const bare = (cidr: string) => {
  const a = cidr.split('/')[0]!;
  return isV6(a) ? fmtAddr6(parseAddr6(a)) : a;
};
const host = (ip: string) => `${ip}/${isV6(ip) ? 128 : 32}`;
const hostPort = (ip: string, port: number) => (isV6(ip) ? `[${ip}]:${port}` : `${ip}:${port}`);

/** A binding's family: '' and 0.0.0.0 are IPv4's wildcard, '::' IPv6's. */
export const bindingFamily = (b: Pick<PortBinding, 'hostIp'>): Family => (isV6(b.hostIp) ? 6 : 4);
const wildcardIp = (ip: string) => ip === '' || ip === '0.0.0.0' || ip === '::';

/** One endpoint's published ports of one family (the address's): DNAT (no `! -i bridge`: no
 *  userland proxy, so hairpin and other containers go through DNAT too), the FORWARD accept of
 *  DNATed traffic to the container port, and the MASQUERADE that lets the container reach itself
 *  through the host address. Bindings of the other family are skipped. */
export function portRules(bridge: string, addr: string, ports: readonly PortBinding[], tag: string): Rule[] {
  const ip = bare(addr);
  const family: Family = isV6(ip) ? 6 : 4;
  const dnat: Rule[] = [];
  const accept: Rule[] = [];
  const hairpin: Rule[] = [];
  const seen = new Set<string>();
  for (const b of ports) {
    if (bindingFamily(b) !== family) continue;
    const dst = wildcardIp(b.hostIp) ? '' : `-d ${host(bare(b.hostIp))} `;
    dnat.push({
      table: 'nat',
      chain: CHAIN.nat,
      match: `${dst}${protoMatch(b.proto, b.hostPort)}`,
      target: `DNAT --to-destination ${hostPort(ip, b.containerPort)}`,
      tag,
      keys: [`hp:${b.proto}:${b.hostPort}`],
    });
    const k = `${b.proto}/${b.containerPort}`;
    if (seen.has(k)) continue; // two host ports to one container port: one accept, one masquerade
    seen.add(k);
    accept.push({
      table: 'filter',
      chain: CHAIN.ports,
      match: `-d ${host(ip)} -o ${bridge} ${protoMatch(b.proto, b.containerPort)} -m conntrack --ctstate DNAT`,
      target: 'ACCEPT',
      tag,
      keys: [`ip:${ip}`],
    });
    hairpin.push({
      table: 'nat',
      chain: CHAIN.natPost,
      match: `-s ${host(ip)} -d ${host(ip)} ${protoMatch(b.proto, b.containerPort)}`,
      target: 'MASQUERADE',
      tag,
      keys: [`ip:${ip}`],
    });
  }
  return [...dnat, ...hairpin, ...accept];
}

/** Legacy --link with icc=false: the linking container may open the linked ports of the other. */
export function linkRules(bridge: string, fromIp: string, toIp: string, ports: readonly PortProto[], tag: string): Rule[] {
  const from = bare(fromIp);
  const to = bare(toIp);
  return ports.map((p) => ({
    table: 'filter' as const,
    chain: CHAIN.ports,
    match: `-s ${host(from)} -d ${host(to)} -i ${bridge} -o ${bridge} ${protoMatch(p.proto, p.port)}`,
    target: 'ACCEPT',
    tag,
    keys: [`ip:${from}`],
  }));
}

/** Every rule an endpoint owns in one family: its ports and (IPv4) its links. */
export function endpointRules(
  bridge: string,
  ep: { ipv4?: string; ipv6?: string; ports: readonly PortBinding[]; links: readonly LinkRecord[] },
  tag: string,
  family: Family = 4,
): Rule[] {
  if (family === 6) return ep.ipv6 ? portRules(bridge, ep.ipv6, ep.ports, tag) : [];
  if (!ep.ipv4) return [];
  return [...portRules(bridge, ep.ipv4, ep.ports, tag), ...ep.links.flatMap((l) => linkRules(bridge, l.fromIp, l.toIp, l.ports, tag))];
}

/** Everything berth wants in one family for a whole firewall state (restore, repair, check). IPv6
 *  holds rules only when some network is dual-stack. Links count only on icc=false networks. */
export function stateRules(state: FwState, family: Family): Rule[] {
  const nets = state.networks.filter((n) => (family === 4 ? n.subnet4 : n.subnet6));
  if (nets.length === 0) return [];
  const out = globalRules(state.globalTag);
  const byId = new Map(nets.map((n) => [n.id, n]));
  for (const n of nets) out.push(...networkRules({ bridge: n.bridge, subnet: (family === 4 ? n.subnet4 : n.subnet6)!, icc: n.icc, masquerade: n.masquerade, internal: n.internal }, n.tag));
  for (const ep of state.endpoints) {
    const n = byId.get(ep.networkId);
    if (n) out.push(...endpointRules(n.bridge, { ...ep, links: n.icc ? [] : ep.links }, ep.tag, family));
  }
  return out;
}
