// The bridge driver's reads and small writes of the daemon's netns: links and addresses as `ip
// -json` shows them, the bridge device (addresses, up, sysctls), and idempotent removal of a
// sandbox (netns or veth). Names reaching commands were validated by options.ts/plan.ts/names.ts.
import type { DriverContext } from '../../driver.js';
import { conflict, wrap } from '../../errors.js';
import type { Endpoint } from '../../types.js';
import type { NetView } from './options.js';
import { bridgeLines } from './plan.js';

export interface IpAddrJson {
  ifindex: number;
  ifname: string;
  flags?: string[];
  master?: string;
  operstate?: string;
  address?: string;
  mtu?: number;
  linkinfo?: { info_kind?: string; info_slave_kind?: string; info_slave_data?: { hairpin?: boolean } };
  addr_info?: { family: string; local: string; prefixlen: number }[];
}

export interface RouteJson {
  dst: string;
  gateway?: string;
  dev?: string;
}

export type BridgeKernel = ReturnType<typeof bridgeKernel>;

export function bridgeKernel(ctx: DriverContext) {
  const { sys, config, log } = ctx;

  /** Every link with its addresses, in one execution. */
  const links = (netns?: string): Promise<IpAddrJson[]> => sys.ip.json<IpAddrJson[]>(['-d', 'addr', 'show'], netns);

  const netnsList = async (): Promise<string[]> => (await sys.ip.json<{ name: string }[]>(['netns', 'list'])).map((n) => n.name);

  /** The addresses a bridge must carry: the IPv4 gateway, and the IPv6 one on dual-stack networks. */
  const bridgeAddrs = (n: NetView): string[] => [`${n.v4.gateway}/${n.v4.prefix}`, ...(n.v6 ? [`${n.v6.gateway}/${n.v6.prefix}`] : [])];

  const hasAddr = (dev: IpAddrJson | undefined, cidr: string): boolean => {
    const [ip, prefix] = cidr.split('/');
    return !!dev?.addr_info?.some((a) => a.local === ip && a.prefixlen === Number(prefix));
  };

  /**
   * The bridge device with its addresses, up; forwarding and route_localnet (127.0.0.1 reaches
   * published ports); IPv6 on the bridge for dual-stack networks (enabled before its address is
   * added); br_netfilter for icc=false. Reads the links once unless given. Returns what it made.
   */
  async function ensureBridge(n: NetView, have?: IpAddrJson[]): Promise<{ created: boolean; addedAddrs: string[] }> {
    const all = have ?? (await links());
    const dev = all.find((l) => l.ifname === n.bridge);
    if (dev && dev.linkinfo?.info_kind !== undefined && dev.linkinfo.info_kind !== 'bridge')
      throw conflict(`device ${n.bridge} exists and is not a bridge (${dev.linkinfo.info_kind})`);
    const created = !dev;
    const want = bridgeAddrs(n);
    const missing = want.filter((a) => !hasAddr(dev, a));
    const missing4 = missing.filter((a) => !a.includes(':'));
    const missing6 = missing.filter((a) => a.includes(':'));
    const up = !!dev?.flags?.includes('UP');
    if (created || missing4.length || !up) await sys.ip.batch(bridgeLines(n.bridge, missing4, { create: created, mtu: n.mtu }));
    if (n.v6) {
      await sys.sysctl.set(`net.ipv6.conf.${n.bridge}.disable_ipv6`, '0');
      if (missing6.length) await sys.ip.batch(missing6.map((a) => `addr add ${a} dev ${n.bridge} nodad`));
      if (config.ipForward) await sys.sysctl.set('net.ipv6.conf.all.forwarding', '1');
    }
    if (config.ipForward) await sys.sysctl.set('net.ipv4.ip_forward', '1');
    await sys.sysctl.set(`net.ipv4.conf.${n.bridge}.route_localnet`, '1');
    if (!n.icc) {
      await sys.sysctl.set('net.bridge.bridge-nf-call-iptables', '1').catch((err) => {
        log.warn({ err }, 'icc=false needs br_netfilter (net.bridge.bridge-nf-call-iptables): traffic between containers is not filtered');
      });
      if (n.v6) await sys.sysctl.set('net.bridge.bridge-nf-call-ip6tables', '1').catch(() => {});
    }
    return { created, addedAddrs: missing };
  }

  async function netnsExists(name: string): Promise<boolean> {
    return (await netnsList()).includes(name);
  }

  async function linkExists(name: string): Promise<boolean> {
    return (await links()).some((l) => l.ifname === name);
  }

  /** Delete an endpoint's netns (if it made it) and its host veth; "already gone" is success. The
   *  veth goes first, in the same batch: a deleted netns destroys its devices only later (the
   *  kernel's netns clean-up work runs apart), and a released endpoint leaves no link behind. */
  async function removeSandbox(ep: Pick<Endpoint, 'netns' | 'hostIfName' | 'ownsNetns'>): Promise<void> {
    if (ep.ownsNetns && ep.netns.kind === 'new') {
      const name = ep.netns.name;
      const h = ep.hostIfName;
      await sys.ip.batch([...(h ? [`link del ${h}`] : []), `netns del ${name}`], { force: true }).catch(async (e) => {
        if (await netnsExists(name)) throw wrap(e, `delete netns ${name}`);
        if (h && (await linkExists(h))) throw wrap(e, `delete link ${h}`);
      });
    } else if (ep.hostIfName) {
      const h = ep.hostIfName;
      await sys.ip.batch([`link del ${h}`]).catch(async (e) => {
        if (await linkExists(h)) throw wrap(e, `delete link ${h}`);
      });
    }
  }

  async function deleteBridge(name: string): Promise<void> {
    await sys.ip.batch([`link del ${name}`]).catch(async (e) => {
      if (await linkExists(name)) throw wrap(e, `delete bridge ${name}`);
    });
  }

  return { links, netnsList, bridgeAddrs, hasAddr, ensureBridge, netnsExists, linkExists, removeSandbox, deleteBridge };
}
