// Choosing a new network's subnets: the one asked for (checked against the other networks), the
// default bridge's --bip/--fixed-cidr or the address its device already carries, or the first
// subnet of the address pools (Docker's defaults or --default-address-pool) that overlaps no host
// address, host route or other network. IPv6: the asked-for subnet, or the next /64 of a ULA /48
// chosen for this daemon. Reads the kernel; changes nothing.
import type { DriverContext } from '../../driver.js';
import { forbidden, invalidParameter } from '../../errors.js';
import type { IpamConfig } from '../../types.js';
import { Ipam } from '../ipam/allocator.js';
import { checkPools, defaultPools, fmtAddr, networkOf, overlaps, parseCidr, pickSubnet } from '../ipam/pool.js';
import { Ipam6, fmtAddr6, isV6, networkOf6, overlaps6, parseCidr6, ulaSubnets } from '../ipam/v6.js';
import type { BridgeKernel, RouteJson } from './kernel.js';
import type { CreateOptions } from './options.js';

const OVERLAP = 'invalid pool request: Pool overlaps with other one on this address space';

export async function chooseSubnets(ctx: DriverContext, k: BridgeKernel, o: CreateOptions): Promise<IpamConfig[]> {
  const { config, records, sys, names } = ctx;
  const others = records.list('network').flatMap((r) => r.ipam.map((p) => p.subnet)).filter(Boolean);
  const devs = await k.links();

  // IPv4
  const want = o.want4;
  const own = devs.find((l) => l.ifname === o.bridge)?.addr_info?.find((a) => a.family === 'inet');
  let subnet: string;
  let gateway: string | undefined;
  let ipRange = want.ipRange;
  if (want.subnet) {
    const c = parseCidr(want.subnet);
    subnet = networkOf(c);
    gateway = fmtAddr(c.first + 1);
  } else if (o.isDefault && config.bip) {
    const c = parseCidr(config.bip);
    subnet = networkOf(c);
    gateway = fmtAddr(c.addr);
  } else if (own) {
    const c = parseCidr(`${own.local}/${own.prefixlen}`);
    subnet = networkOf(c);
    gateway = own.local;
  } else {
    const routes = await sys.ip.json<RouteJson[]>(['route', 'show']);
    const taken = [
      ...devs.flatMap((l) => (l.addr_info ?? []).filter((a) => a.family === 'inet').map((a) => `${a.local}/${a.prefixlen}`)),
      ...routes.map((r) => r.dst).filter((d) => d && d !== 'default').map((d) => (d.includes('/') ? d : `${d}/32`)),
      ...others.filter((s) => !isV6(s)),
    ].filter((c) => /^\d+\.\d+\.\d+\.\d+\/\d+$/.test(c));
    const pools = config.defaultAddressPools?.length ? checkPools(config.defaultAddressPools) : defaultPools();
    const picked = pickSubnet(pools, taken);
    if (!picked) throw invalidParameter('all predefined address pools have been fully subnetted');
    subnet = picked;
    gateway = fmtAddr(parseCidr(subnet).first + 1);
  }
  if (o.isDefault && config.fixedCidr && !ipRange) ipRange = config.fixedCidr;
  if (want.gateway) gateway = want.gateway;
  const c4 = parseCidr(subnet);
  for (const s of others) if (!isV6(s) && overlaps(parseCidr(s), c4)) throw forbidden(OVERLAP);
  new Ipam(subnet, gateway!, ipRange); // validates the three together
  const out: IpamConfig[] = [{ subnet, gateway: gateway!, ...(ipRange ? { ipRange: networkOf(parseCidr(ipRange)) } : {}) }];

  // IPv6
  if (o.want6) {
    const w6 = o.want6;
    const others6 = others.filter(isV6).map(parseCidr6);
    let subnet6: string;
    if (w6.subnet) {
      subnet6 = networkOf6(parseCidr6(w6.subnet));
    } else {
      const routes6 = await sys.ip.json<RouteJson[]>(['-6', 'route', 'show']);
      const taken6 = [
        ...others6,
        ...devs.flatMap((l) => (l.addr_info ?? []).filter((a) => a.family === 'inet6' && !a.local.startsWith('fe80')).map((a) => parseCidr6(`${a.local}/${a.prefixlen}`))),
        ...routes6.map((r) => r.dst).filter((d) => d && d !== 'default' && isV6(d) && !d.startsWith('fe80')).map((d) => parseCidr6(d.includes('/') ? d : `${d}/128`)),
      ];
      let found: string | undefined;
      for (const s of ulaSubnets(`${names.prefix}:${config.dataRoot}`)) {
        const c = parseCidr6(s);
        if (!taken6.some((t) => overlaps6(c, t))) {
          found = s;
          break;
        }
      }
      if (!found) throw invalidParameter('all predefined address pools have been fully subnetted');
      subnet6 = found;
    }
    const c6 = parseCidr6(subnet6);
    for (const t of others6) if (overlaps6(c6, t)) throw forbidden(OVERLAP);
    const gateway6 = w6.gateway ?? fmtAddr6(c6.first + 1n);
    new Ipam6(subnet6, gateway6, w6.ipRange);
    out.push({ subnet: subnet6, gateway: gateway6, ...(w6.ipRange ? { ipRange: networkOf6(parseCidr6(w6.ipRange)) } : {}) });
  }
  return out;
}
