// A bridge network's options and its record as the driver sees it, pure: Docker's `-o` keys
// checked before anything is made, and a NetworkRecord parsed into the view every handler uses.
import { invalidParameter } from '../../errors.js';
import type { NetworkRecord, NetworkSpec } from '../../types.js';
import { networkOf, parseCidr } from '../ipam/pool.js';
import { isV6, networkOf6, parseCidr6 } from '../ipam/v6.js';
import type { FwNetwork } from '../firewall/backend.js';
import { ifname } from './plan.js';

export const OPT = {
  name: 'com.docker.network.bridge.name',
  defaultBridge: 'com.docker.network.bridge.default_bridge',
  icc: 'com.docker.network.bridge.enable_icc',
  masquerade: 'com.docker.network.bridge.enable_ip_masquerade',
  mtu: 'com.docker.network.driver.mtu',
} as const;

export function boolOpt(v: string | undefined, dflt: boolean, key: string): boolean {
  if (v === undefined || v === '') return dflt;
  if (['true', '1'].includes(v.toLowerCase())) return true;
  if (['false', '0'].includes(v.toLowerCase())) return false;
  throw invalidParameter(`invalid value "${v}" for option ${key}: want true or false`);
}

/** The MTU option: 68 (IPv4's minimum) to 65535; undefined when unset. */
export function mtuOpt(v: string | undefined): number | undefined {
  if (v === undefined || v === '') return undefined;
  const n = /^\d{1,5}$/.test(v) ? Number(v) : NaN;
  if (!(n >= 68 && n <= 65535)) throw invalidParameter(`invalid MTU "${v}": want a number from 68 to 65535`);
  return n;
}

export interface CreateOptions {
  options: Record<string, string>;
  bridge: string;
  isDefault: boolean;
  /** The asked-for pools of each family (at most one each). */
  want4: NonNullable<NetworkSpec['ipam']>[number];
  want6: NonNullable<NetworkSpec['ipam']>[number] | undefined;
}

/** Check a create request's options and pools; nothing is touched. */
export function createOptions(spec: NetworkSpec, id: string, defaultBridge: string): CreateOptions {
  const options = { ...(spec.options ?? {}) };
  const isDefault = options[OPT.defaultBridge] === 'true';
  const bridge = ifname(options[OPT.name] ?? (isDefault ? defaultBridge : `br-${id.slice(0, 12)}`), 'bridge name');
  options[OPT.name] = bridge;
  for (const k of [OPT.icc, OPT.masquerade, OPT.defaultBridge]) boolOpt(options[k], true, k);
  mtuOpt(options[OPT.mtu]);
  const pools = spec.ipam ?? [];
  for (const p of pools) {
    if (!p.subnet && (p.gateway || p.ipRange)) throw invalidParameter('a gateway or an ip-range needs a subnet');
  }
  const v4 = pools.filter((p) => p.subnet && !isV6(p.subnet));
  const v6 = pools.filter((p) => p.subnet && isV6(p.subnet));
  if (v4.length > 1 || v6.length > 1) throw invalidParameter('berth supports one IPv4 and one IPv6 subnet per network');
  if (v6.length && !spec.ipv6) throw invalidParameter('an IPv6 subnet needs an IPv6 network: add --ipv6');
  for (const p of v4) {
    parseCidr(p.subnet!);
    if (p.gateway && isV6(p.gateway)) throw invalidParameter(`gateway ${p.gateway} is not an IPv4 address of subnet ${p.subnet}`);
  }
  for (const p of v6) {
    parseCidr6(p.subnet!);
    if (p.gateway && !isV6(p.gateway)) throw invalidParameter(`gateway ${p.gateway} is not an IPv6 address of subnet ${p.subnet}`);
  }
  return { options, bridge, isDefault, want4: v4[0] ?? {}, want6: spec.ipv6 ? (v6[0] ?? {}) : undefined };
}

/** A network's record parsed: what the kernel and the firewall are made from. */
export interface NetView {
  rec: NetworkRecord;
  bridge: string;
  isDefault: boolean;
  v4: { subnet: string; gateway: string; prefix: number; ipRange?: string };
  v6: { subnet: string; gateway: string; prefix: number; ipRange?: string } | undefined;
  icc: boolean;
  masquerade: boolean;
  mtu: number | undefined;
  tag: string;
  /** Embedded DNS: user-defined networks only (Docker's default bridge has none). */
  dns: boolean;
}

export function netView(rec: NetworkRecord, defaultBridge: string, tag: string): NetView {
  if (rec.driver !== 'bridge') throw invalidParameter(`network ${rec.name} is not a bridge network`);
  const p4 = rec.ipam.find((p) => !isV6(p.subnet));
  if (!p4) throw invalidParameter(`network ${rec.name} has no IPv4 pool`);
  const p6 = rec.ipv6 ? rec.ipam.find((p) => isV6(p.subnet)) : undefined;
  const c4 = parseCidr(p4.subnet);
  const c6 = p6 ? parseCidr6(p6.subnet) : undefined;
  const isDefault = rec.options[OPT.defaultBridge] === 'true';
  return {
    rec,
    bridge: ifname(rec.options[OPT.name] ?? defaultBridge, 'bridge name'),
    isDefault,
    v4: { subnet: networkOf(c4), gateway: p4.gateway, prefix: c4.prefix, ...(p4.ipRange ? { ipRange: p4.ipRange } : {}) },
    v6: p6 && c6 ? { subnet: networkOf6(c6), gateway: p6.gateway, prefix: c6.prefix, ...(p6.ipRange ? { ipRange: p6.ipRange } : {}) } : undefined,
    icc: boolOpt(rec.options[OPT.icc], true, OPT.icc),
    masquerade: boolOpt(rec.options[OPT.masquerade], true, OPT.masquerade),
    mtu: mtuOpt(rec.options[OPT.mtu]),
    tag,
    dns: !isDefault,
  };
}

export function fwNetwork(n: NetView): FwNetwork {
  return {
    id: n.rec.id,
    tag: n.tag,
    bridge: n.bridge,
    subnet4: n.v4.subnet,
    ...(n.v6 ? { subnet6: n.v6.subnet } : {}),
    icc: n.icc,
    masquerade: n.masquerade,
    internal: n.rec.internal,
  };
}
