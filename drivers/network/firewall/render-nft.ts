// The nftables ruleset berth wants, pure: one `inet` table named after berth's prefix, with a fixed
// skeleton (base chains, sets and maps), a few rules per network (isolation, internal, icc,
// masquerade) and, per endpoint, only map and set elements: published ports are elements of the
// `ports4`/`ports6` maps (one hash lookup per packet however many ports are published), hairpin and
// `--link` pairs elements of sets. Also: reading `nft -j list table` back into the same text forms,
// so wanted and present compare as strings.
import type { PortBinding } from '../../types.js';
import { fmtAddr6, isV6, parseAddr6 } from '../ipam/v6.js';
import type { FwEndpoint, FwNetwork, FwState } from './backend.js';

export interface NftChain {
  name: string;
  /** Base chain definition, or undefined for a regular chain. */
  def?: string;
}

export interface NftSet {
  name: string;
  /** `type …;` (a map has `key : data`). */
  def: string;
  map: boolean;
}

export interface NftRule {
  chain: string;
  /** The rule in nft syntax, without its comment. */
  text: string;
  /** Unique per rule: `<owner tag>:<purpose>`. */
  comment: string;
}

export interface NftElement {
  set: string;
  /** The key as nft prints it (`tcp . 8080`, `"br-x"`). */
  key: string;
  /** For maps: the data (`172.18.0.2 . 80`). */
  value?: string;
  /** The owner's tag. */
  owner: string;
}

export const CHAINS: readonly NftChain[] = [
  { name: 'prerouting', def: 'type nat hook prerouting priority dstnat; policy accept;' },
  { name: 'output', def: 'type nat hook output priority -100; policy accept;' },
  { name: 'postrouting', def: 'type nat hook postrouting priority srcnat; policy accept;' },
  { name: 'forward', def: 'type filter hook forward priority filter; policy accept;' },
  { name: 'ports' },
];

const P = 'inet_proto . inet_service';
export const SETS: readonly NftSet[] = [
  { name: 'bridges', def: 'type ifname;', map: false },
  { name: 'ports4', def: `type ${P} : ipv4_addr . inet_service;`, map: true },
  { name: 'ports4a', def: `type ipv4_addr . ${P} : ipv4_addr . inet_service;`, map: true },
  { name: 'ports6', def: `type ${P} : ipv6_addr . inet_service;`, map: true },
  { name: 'ports6a', def: `type ipv6_addr . ${P} : ipv6_addr . inet_service;`, map: true },
  { name: 'hairpin4', def: 'type ipv4_addr . ipv4_addr . inet_proto . inet_service;', map: false },
  { name: 'hairpin6', def: 'type ipv6_addr . ipv6_addr . inet_proto . inet_service;', map: false },
  { name: 'links4', def: 'type ipv4_addr . ipv4_addr . inet_proto . inet_service;', map: false },
];

/** The daemon-wide rules: local destinations to the port maps, hairpin masquerade, and in forward:
 *  established and DNATed traffic (published ports) accepted before the per-network drops. */
export function globalNftRules(tag: string): NftRule[] {
  const c = (purpose: string) => `${tag}:${purpose}`;
  const tuple = 'meta l4proto . th dport';
  return [
    { chain: 'prerouting', text: 'fib daddr type local jump ports', comment: c('pre') },
    { chain: 'output', text: 'fib daddr type local jump ports', comment: c('out') },
    { chain: 'ports', text: `dnat ip to ip daddr . ${tuple} map @ports4a`, comment: c('p4a') },
    { chain: 'ports', text: `dnat ip to ${tuple} map @ports4`, comment: c('p4') },
    { chain: 'ports', text: `dnat ip6 to ip6 daddr . ${tuple} map @ports6a`, comment: c('p6a') },
    { chain: 'ports', text: `dnat ip6 to ${tuple} map @ports6`, comment: c('p6') },
    { chain: 'postrouting', text: `ip saddr . ip daddr . ${tuple} @hairpin4 masquerade`, comment: c('hp4') },
    { chain: 'postrouting', text: `ip6 saddr . ip6 daddr . ${tuple} @hairpin6 masquerade`, comment: c('hp6') },
    { chain: 'forward', text: 'ct state established,related accept', comment: c('est') },
    { chain: 'forward', text: 'ct status dnat accept', comment: c('dnat') },
    { chain: 'forward', text: `ip saddr . ip daddr . ${tuple} @links4 accept`, comment: c('links') },
  ];
}

/** A network's rules: isolation from the other bridges (or, internal, nothing in or out), icc,
 *  masquerade out of other interfaces, local sources (127.0.0.1) masqueraded into the bridge. */
export function networkNftRules(n: FwNetwork): NftRule[] {
  const br = `"${n.bridge}"`;
  const c = (purpose: string) => `${n.tag}:${purpose}`;
  const out: NftRule[] = [];
  if (n.internal) {
    out.push({ chain: 'forward', text: `iifname ${br} oifname != ${br} drop`, comment: c('int-out') });
    out.push({ chain: 'forward', text: `iifname != ${br} oifname ${br} drop`, comment: c('int-in') });
  } else out.push({ chain: 'forward', text: `iifname ${br} oifname @bridges oifname != ${br} drop`, comment: c('iso') });
  if (!n.icc) out.push({ chain: 'forward', text: `iifname ${br} oifname ${br} drop`, comment: c('icc') });
  if (n.masquerade && !n.internal) {
    if (n.subnet4) out.push({ chain: 'postrouting', text: `ip saddr ${n.subnet4} oifname != ${br} masquerade`, comment: c('masq4') });
    if (n.subnet6) out.push({ chain: 'postrouting', text: `ip6 saddr ${n.subnet6} oifname != ${br} masquerade`, comment: c('masq6') });
  }
  out.push({ chain: 'postrouting', text: `oifname ${br} fib saddr type local masquerade`, comment: c('local') });
  return out;
}

const bare = (cidr: string) => {
  const a = cidr.split('/')[0]!;
  return isV6(a) ? fmtAddr6(parseAddr6(a)) : a;
};
const wildcard = (ip: string) => ip === '' || ip === '0.0.0.0' || ip === '::';

/** An endpoint's elements: its published ports (in the map of their family, address-specific or
 *  not), the hairpin pairs, and its links (icc=false networks only). */
export function endpointElements(n: FwNetwork, ep: Pick<FwEndpoint, 'tag' | 'ipv4' | 'ipv6' | 'ports' | 'links'>): NftElement[] {
  const out: NftElement[] = [];
  const seen = new Set<string>();
  const push = (e: NftElement) => {
    const k = `${e.set} ${e.key}`;
    if (!seen.has(k)) {
      seen.add(k);
      out.push(e);
    }
  };
  for (const b of ep.ports as PortBinding[]) {
    const six = isV6(b.hostIp);
    const addr = six ? ep.ipv6 : ep.ipv4;
    if (!addr) continue;
    const ip = bare(addr);
    const fam = six ? '6' : '4';
    const key = wildcard(b.hostIp) ? `${b.proto} . ${b.hostPort}` : `${bare(b.hostIp)} . ${b.proto} . ${b.hostPort}`;
    push({ set: `ports${fam}${wildcard(b.hostIp) ? '' : 'a'}`, key, value: `${ip} . ${b.containerPort}`, owner: ep.tag });
    push({ set: `hairpin${fam}`, key: `${ip} . ${ip} . ${b.proto} . ${b.containerPort}`, owner: ep.tag });
  }
  if (!n.icc)
    for (const l of ep.links) for (const p of l.ports) push({ set: 'links4', key: `${bare(l.fromIp)} . ${bare(l.toIp)} . ${p.proto} . ${p.port}`, owner: ep.tag });
  return out;
}

export interface NftWant {
  rules: NftRule[];
  elements: NftElement[];
}

/** Everything berth wants for a state: the global rules and the bridges set only while a network
 *  exists. */
export function nftWant(state: FwState): NftWant {
  if (state.networks.length === 0) return { rules: [], elements: [] };
  const rules = [...globalNftRules(state.globalTag), ...state.networks.flatMap(networkNftRules)];
  const elements: NftElement[] = state.networks.map((n) => ({ set: 'bridges', key: `"${n.bridge}"`, owner: n.tag }));
  const byId = new Map(state.networks.map((n) => [n.id, n]));
  for (const ep of state.endpoints) {
    const n = byId.get(ep.networkId);
    if (n) elements.push(...endpointElements(n, ep));
  }
  return { rules, elements };
}

export const elementKey = (e: Pick<NftElement, 'set' | 'key'>) => `${e.set} ${e.key}`;
export const elementText = (e: Pick<NftElement, 'key' | 'value'>) => (e.value === undefined ? e.key : `${e.key} : ${e.value}`);

/** One transaction for `nft -f -`. */
export function renderNft(table: string, t: { skeleton?: boolean; flush?: string[]; delRules?: { chain: string; handle: number }[]; addRules?: NftRule[]; delElements?: NftElement[]; addElements?: NftElement[] }): string {
  const T = `inet ${table}`;
  const lines: string[] = [];
  if (t.skeleton) {
    lines.push(`add table ${T}`);
    for (const c of CHAINS) lines.push(c.def ? `add chain ${T} ${c.name} { ${c.def} }` : `add chain ${T} ${c.name}`);
    for (const s of SETS) lines.push(`add ${s.map ? 'map' : 'set'} ${T} ${s.name} { ${s.def} }`);
  }
  for (const c of t.flush ?? []) lines.push(`flush chain ${T} ${c}`);
  for (const r of t.delRules ?? []) lines.push(`delete rule ${T} ${r.chain} handle ${r.handle}`);
  for (const e of t.delElements ?? []) lines.push(`delete element ${T} ${e.set} { ${e.key} }`);
  for (const r of t.addRules ?? []) lines.push(`add rule ${T} ${r.chain} ${r.text} comment "${r.comment}"`);
  for (const e of t.addElements ?? []) lines.push(`add element ${T} ${e.set} { ${elementText(e)} }`);
  return lines.length ? lines.join('\n') + '\n' : '';
}

// ---- reading `nft -j list table inet <name>` -------------------------------------------

type JsonAtom = string | number | { concat: JsonAtom[] } | { prefix: { addr: string; len: number } } | { range: JsonAtom[] };

function atom(a: JsonAtom, inIfnameSet: boolean): string {
  if (typeof a === 'number') return String(a);
  if (typeof a === 'string') {
    if (inIfnameSet) return `"${a}"`;
    return isV6(a) ? fmtAddr6(parseAddr6(a)) : a;
  }
  if ('concat' in a) return a.concat.map((x) => atom(x, false)).join(' . ');
  if ('prefix' in a) return `${a.prefix.addr}/${a.prefix.len}`;
  return a.range.map((x) => atom(x, false)).join('-');
}

export interface NftHave {
  exists: boolean;
  chains: Set<string>;
  sets: Set<string>;
  /** Rules per chain, in order. */
  rules: Map<string, { handle: number; comment: string | undefined }[]>;
  /** Elements by elementKey, with their text. */
  elements: Map<string, { set: string; key: string; value?: string }>;
}

/** Parse the JSON listing of berth's table (an empty listing: the table does not exist). */
export function parseNftJson(json: unknown): NftHave {
  const have: NftHave = { exists: false, chains: new Set(), sets: new Set(), rules: new Map(), elements: new Map() };
  const items = ((json as { nftables?: Record<string, unknown>[] })?.nftables ?? []) as Record<string, Record<string, unknown>>[];
  for (const it of items) {
    if (it.table) have.exists = true;
    if (it.chain) have.chains.add(it.chain.name as string);
    const s = it.set ?? it.map;
    if (s) {
      const name = s.name as string;
      have.sets.add(name);
      const ifname = s.type === 'ifname';
      for (const e of (s.elem as unknown[]) ?? []) {
        // map elements are [key, data]; set elements the key; an element with options is {elem: {val}}
        const unwrap = (x: unknown): JsonAtom => ((x as { elem?: { val: JsonAtom } }).elem ? (x as { elem: { val: JsonAtom } }).elem.val : (x as JsonAtom));
        if (it.map && Array.isArray(e)) {
          const key = atom(unwrap(e[0]), ifname);
          have.elements.set(`${name} ${key}`, { set: name, key, value: atom(unwrap(e[1]), false) });
        } else {
          const key = atom(unwrap(e), ifname);
          have.elements.set(`${name} ${key}`, { set: name, key });
        }
      }
    }
    if (it.rule) {
      const chain = it.rule.chain as string;
      const list = have.rules.get(chain) ?? [];
      list.push({ handle: it.rule.handle as number, comment: it.rule.comment as string | undefined });
      have.rules.set(chain, list);
    }
  }
  return have;
}
