// berth network create: docker's body (IPAM config grouped per subnet, checked as docker's CLI
// checks it) → POST /networks/create; prints the id.
import { BlockList, isIP } from 'node:net';
import { defineCommand, UsageError } from '../../command.js';
import { parseFlags } from '../../flags.js';
import { kvToMap, validateLabel } from '../../opts/kv.js';

interface IpamConfig {
  Subnet: string;
  IPRange?: string;
  Gateway?: string;
  AuxiliaryAddresses?: Record<string, string>;
}

/** Go's net.ParseCIDR, enough to check and to test containment; throws docker's message. */
function parseCidr(s: string): { addr: string; prefix: number; family: 'ipv4' | 'ipv6' } {
  const slash = s.indexOf('/');
  const addr = slash >= 0 ? s.slice(0, slash) : '';
  const bits = slash >= 0 ? s.slice(slash + 1) : '';
  const fam = isIP(addr);
  const max = fam === 4 ? 32 : 128;
  if (!fam || !/^\d{1,3}$/.test(bits) || Number(bits) > max) throw new UsageError(`invalid CIDR address: ${s}`);
  return { addr, prefix: Number(bits), family: fam === 4 ? 'ipv4' : 'ipv6' };
}

/** docker's subnetMatches: is `data` (an address, or the address part of a CIDR) inside `subnet`? */
function subnetMatches(subnet: string, data: string): boolean {
  let s: ReturnType<typeof parseCidr>;
  try {
    s = parseCidr(subnet);
  } catch (e) {
    throw new UsageError(`invalid subnet: ${(e as Error).message}`);
  }
  const ip = data.includes('/') ? parseCidr(data).addr : data;
  const fam = isIP(ip);
  if (!fam) return false;
  const bl = new BlockList();
  bl.addSubnet(s.addr, s.prefix, s.family);
  return bl.check(ip, fam === 4 ? 'ipv4' : 'ipv6');
}

/** docker's createIPAMConfig: each --ip-range, --gateway and --aux-address placed in its subnet. */
export function ipamConfig(subnets: string[], ranges: string[], gateways: string[], aux: Record<string, string>): IpamConfig[] {
  if (subnets.length < ranges.length || subnets.length < gateways.length)
    throw new UsageError('every ip-range or gateway must have a corresponding subnet');
  const data = new Map<string, IpamConfig>();
  for (const s of subnets) {
    subnetMatches(s, parseCidr(s).addr); // checks the subnet
    for (const k of data.keys())
      if (subnetMatches(s, k) || subnetMatches(k, s)) throw new UsageError('multiple overlapping subnet configuration is not supported');
    data.set(s, { Subnet: s });
  }
  for (const r of ranges) {
    parseCidr(r);
    const s = subnets.find((x) => subnetMatches(x, r));
    if (!s) throw new UsageError(`no matching subnet for range ${r}`);
    const d = data.get(s)!;
    if (d.IPRange) throw new UsageError(`cannot configure multiple ranges (${r}, ${d.IPRange}) on the same subnet (${s})`);
    d.IPRange = r;
  }
  for (const g of gateways) {
    const s = subnets.find((x) => subnetMatches(x, g));
    if (!s) throw new UsageError(`no matching subnet for gateway ${g}`);
    const d = data.get(s)!;
    if (d.Gateway) throw new UsageError(`cannot configure multiple gateways (${g}, ${d.Gateway}) for the same subnet (${s})`);
    d.Gateway = g;
  }
  for (const [k, a] of Object.entries(aux)) {
    const s = subnets.find((x) => subnetMatches(x, a));
    if (!s) throw new UsageError(`no matching subnet for aux-address ${a}`);
    (data.get(s)!.AuxiliaryAddresses ??= {})[k] = a;
  }
  return [...data.values()];
}

/** pflag's StringSlice: repeatable, and each value may hold several, comma-separated. */
const slice = (v: string[] | undefined) => (v ?? []).flatMap((x) => x.split(',')).filter((x) => x !== '');

function mapOpt(flag: string, values: string[] | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const v of values ?? []) {
    const eq = v.indexOf('=');
    if (eq < 0) out[v] = '';
    else out[v.slice(0, eq)] = v.slice(eq + 1);
    if (eq === 0) throw new UsageError(`invalid argument "${v}" for "--${flag}" flag: empty key`);
  }
  return out;
}

export default defineCommand({
  usage:
    'network create [OPTIONS] NETWORK\n\nCreate a network\n\nOptions:\n      --attachable           Enable manual container attachment\n      --aux-address map      Auxiliary IPv4 or IPv6 addresses used by Network driver\n  -d, --driver string        Driver to manage the Network (default "bridge")\n      --gateway strings      IPv4 or IPv6 Gateway for the master subnet\n      --internal             Restrict external access to the network\n      --ip-range strings     Allocate container ip from a sub-range\n      --ipv4                 Enable or disable IPv4 address assignment (default true)\n      --ipv6                 Enable or disable IPv6 address assignment\n      --label list           Set metadata on a network\n  -o, --opt map              Set driver specific options\n      --subnet strings       Subnet in CIDR format that represents a network segment',
  parse(argv) {
    const { flags, args } = parseFlags(argv, {
      driver: { type: 'string', short: 'd' },
      opt: { type: 'list', short: 'o' },
      label: { type: 'list' },
      internal: { type: 'bool' },
      ipv4: { type: 'bool' },
      ipv6: { type: 'bool' },
      attachable: { type: 'bool' },
      ingress: { type: 'bool' },
      scope: { type: 'string' },
      'config-only': { type: 'bool' },
      'config-from': { type: 'string' },
      'ipam-driver': { type: 'string' },
      subnet: { type: 'list' },
      'ip-range': { type: 'list' },
      gateway: { type: 'list' },
      'aux-address': { type: 'list' },
      'ipam-opt': { type: 'list' },
    });
    if (args.length !== 1) throw new UsageError('"network create" requires exactly 1 argument.');
    const config = ipamConfig(slice(flags.subnet), slice(flags['ip-range']), slice(flags.gateway), mapOpt('aux-address', flags['aux-address']));
    const body = {
      Driver: flags.driver ?? 'bridge',
      Scope: flags.scope ?? '',
      ...(flags.ipv4 !== undefined ? { EnableIPv4: flags.ipv4 } : {}),
      ...(flags.ipv6 !== undefined ? { EnableIPv6: flags.ipv6 } : {}),
      IPAM: { Driver: flags['ipam-driver'] ?? 'default', Options: mapOpt('ipam-opt', flags['ipam-opt']), Config: config },
      Internal: flags.internal ?? false,
      Attachable: flags.attachable ?? false,
      Ingress: flags.ingress ?? false,
      ConfigOnly: flags['config-only'] ?? false,
      ConfigFrom: flags['config-from'] ? { Network: flags['config-from'] } : null,
      Options: mapOpt('opt', flags.opt),
      Labels: kvToMap((flags.label ?? []).map(validateLabel)),
      Name: args[0]!,
    };
    return { body };
  },
  async run(api, o, io) {
    const { body } = await api.call<{ Id: string; Warning?: string }>('POST', '/networks/create', { body: o.body });
    if (body.Warning) io.err(`WARNING: ${body.Warning}\n`);
    io.out(`${body.Id}\n`);
    return 0;
  },
});
