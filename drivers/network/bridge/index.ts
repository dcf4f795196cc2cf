// The bridge driver: Docker's default network "bridge" (device ctx.config.bridge, berth0 by default)
// and user-defined bridges. Every function takes the NetworkRecord; nothing assumes one bridge.
// Owns: the bridge device, its address, route_localnet, the IPAM of each network, the host-wide
// port allocator, sandboxes (netns + veth), and the firewall rules tagged with the network's and the
// endpoints' ids. Records are written before the kernel is touched; restore() makes the kernel
// match them. See README.md.
import { randomBytes } from 'node:crypto';
import type { DriverContext, NetworkDriver } from '../../driver.js';
import type { Job } from '../../handlers.js';
import { conflict, invalidParameter, notFound, wrap } from '../../errors.js';
import { safeId } from '../../names.js';
import type { Endpoint, LinkRecord, NetworkRecord, NetworkSpec, PortBinding, ReconcileReport } from '../../types.js';
import { Ipam, macFromIp } from '../ipam/allocator.js';
import { defaultPools, fmtAddr, networkOf, parseAddr, parseCidr, pickSubnet } from '../ipam/pool.js';
import { PortAllocator, parsePortRange } from '../ports/allocator.js';
import type { FirewallBackend } from '../firewall/backend.js';
import { iptablesBackend } from '../firewall/iptables.js';
import { endpointRules, globalRules, linkRules, networkRules, portRules, type Rule } from '../firewall/plan.js';
import { bridgeLines, configLines, ifname, macAddr, sandboxLines } from './plan.js';
import { SandboxPool, type Sandbox } from './pool.js';

export const OPT = {
  name: 'com.docker.network.bridge.name',
  defaultBridge: 'com.docker.network.bridge.default_bridge',
  icc: 'com.docker.network.bridge.enable_icc',
  masquerade: 'com.docker.network.bridge.enable_ip_masquerade',
  mtu: 'com.docker.network.driver.mtu',
} as const;

/** Owner id of the daemon-wide jumps from the built-in chains (not a network's, not an endpoint's). */
export const GLOBAL_OWNER = '0'.repeat(12);
const RUN_NETNS = '/run/netns';

interface Net {
  rec: NetworkRecord;
  bridge: string;
  subnet: string;
  gateway: string;
  prefix: number;
  icc: boolean;
  masquerade: boolean;
  ipam: Ipam;
  pool: SandboxPool;
  tag: string;
}

interface IpAddrJson {
  ifindex: number;
  ifname: string;
  flags?: string[];
  master?: string;
  operstate?: string;
  address?: string;
  linkinfo?: { info_kind?: string; info_slave_kind?: string; info_slave_data?: { hairpin?: boolean } };
  addr_info?: { family: string; local: string; prefixlen: number }[];
}

export interface BridgeDriverOptions {
  /** Ready sandboxes kept per network (default 2; 0: none). */
  poolSize?: number;
  /** A firewall backend other than iptables (tests, nftables later). */
  firewall?: FirewallBackend;
  /** Milliseconds queued rule removals wait (default 50). */
  removeDelayMs?: number;
}

const boolOpt = (v: string | undefined, dflt: boolean, key: string): boolean => {
  if (v === undefined || v === '') return dflt;
  if (['true', '1'].includes(v.toLowerCase())) return true;
  if (['false', '0'].includes(v.toLowerCase())) return false;
  throw invalidParameter(`invalid value "${v}" for option ${key}: want true or false`);
};

export function makeBridgeDriver(ctx: DriverContext, opts: BridgeDriverOptions = {}): NetworkDriver {
  const { sys, names, records, config } = ctx;
  const log = ctx.log;
  const poolSize = opts.poolSize ?? 2;
  const fw: FirewallBackend =
    opts.firewall ??
    iptablesBackend({ iptables: sys.iptables, ours: (c) => names.ruleOwner(c) !== undefined, log, removeDelayMs: opts.removeDelayMs });
  const ports = new PortAllocator(sys.ports, async () => parsePortRange(await sys.sysctl.get('net.ipv4.ip_local_port_range')));
  const nets = new Map<string, Net>();
  const globalTag = names.ruleTag(GLOBAL_OWNER);
  const defaultBridge = ifname(config.bridge, 'bridge name');

  const myEndpoints = (networkId?: string) =>
    records.list('endpoint').filter((e) => e.driver === 'bridge' && (networkId === undefined || e.networkId === networkId));

  /** Parse a record into the driver's view; the IPAM starts from the endpoint records. */
  function netOf(rec: NetworkRecord): Net {
    const known = nets.get(rec.id);
    if (known) return known;
    if (rec.driver !== 'bridge') throw invalidParameter(`network ${rec.name} is not a bridge network`);
    const ipam4 = rec.ipam[0];
    if (!ipam4) throw invalidParameter(`network ${rec.name} has no IPv4 pool`);
    const c = parseCidr(ipam4.subnet);
    const bridge = ifname(rec.options[OPT.name] ?? defaultBridge, 'bridge name');
    const n: Net = {
      rec,
      bridge,
      subnet: networkOf(c),
      gateway: ipam4.gateway,
      prefix: c.prefix,
      icc: boolOpt(rec.options[OPT.icc], true, OPT.icc),
      masquerade: boolOpt(rec.options[OPT.masquerade], true, OPT.masquerade),
      ipam: new Ipam(ipam4.subnet, ipam4.gateway, ipam4.ipRange),
      pool: new SandboxPool({ ip: sys.ip, names, bridge, log, size: poolSize }),
      tag: names.ruleTag(rec.id),
    };
    for (const ep of myEndpoints(rec.id)) {
      if (!ep.ipv4) continue;
      try {
        n.ipam.reserve(ep.ipv4.split('/')[0]!);
      } catch (err) {
        log.warn({ err, endpoint: ep.id }, 'recorded address cannot be reserved');
      }
    }
    nets.set(rec.id, n);
    return n;
  }

  const netRules = (n: Net): Rule[] =>
    networkRules({ bridge: n.bridge, subnet: n.subnet, icc: n.icc, masquerade: n.masquerade, internal: n.rec.internal }, n.tag);
  const epRules = (n: Net, ep: Pick<Endpoint, 'id' | 'ipv4' | 'ports' | 'links'>): Rule[] =>
    endpointRules(n.bridge, { ipv4: ep.ipv4, ports: ep.ports, links: n.icc ? [] : ep.links }, names.ruleTag(ep.id));

  async function links(): Promise<IpAddrJson[]> {
    return sys.ip.json<IpAddrJson[]>(['-d', 'addr', 'show']);
  }

  /** Bridge device, address, up; sysctls. Reads the links once unless given. */
  async function ensureBridge(n: Net, have?: IpAddrJson[]): Promise<{ created: boolean; addedAddr: boolean }> {
    const all = have ?? (await links());
    const dev = all.find((l) => l.ifname === n.bridge);
    if (dev && dev.linkinfo?.info_kind !== undefined && dev.linkinfo.info_kind !== 'bridge')
      throw conflict(`device ${n.bridge} exists and is not a bridge (${dev.linkinfo.info_kind})`);
    const hasAddr = !!dev?.addr_info?.some((a) => a.family === 'inet' && a.local === n.gateway && a.prefixlen === n.prefix);
    const up = !!dev?.flags?.includes('UP');
    const created = !dev;
    if (created || !hasAddr || !up) {
      const mtu = n.rec.options[OPT.mtu] ? Number(n.rec.options[OPT.mtu]) : undefined;
      await sys.ip.batch(bridgeLines(n.bridge, `${n.gateway}/${n.prefix}`, { create: created, addAddr: !hasAddr, mtu }));
    }
    if (config.ipForward) await sys.sysctl.set('net.ipv4.ip_forward', '1');
    await sys.sysctl.set(`net.ipv4.conf.${n.bridge}.route_localnet`, '1');
    if (!n.icc) {
      await sys.sysctl.set('net.bridge.bridge-nf-call-iptables', '1').catch((err) => {
        log.warn({ err }, 'icc=false needs br_netfilter (net.bridge.bridge-nf-call-iptables): traffic between containers is not filtered');
      });
    }
    return { created, addedAddr: !hasAddr };
  }

  /** Choose subnet and gateway of a new network. */
  async function chooseIpam(spec: NetworkSpec, bridge: string, isDefault: boolean): Promise<{ subnet: string; gateway: string; ipRange?: string }> {
    const want = spec.ipam?.[0] ?? {};
    const devs = await links();
    const own = devs.find((l) => l.ifname === bridge)?.addr_info?.find((a) => a.family === 'inet');
    let subnet: string | undefined;
    let gateway: string | undefined;
    let ipRange = want.ipRange;
    if (want.subnet) {
      const c = parseCidr(want.subnet);
      subnet = networkOf(c);
      gateway = want.gateway ?? fmtAddr(c.first + 1);
    } else if (isDefault && config.bip) {
      const c = parseCidr(config.bip);
      subnet = networkOf(c);
      gateway = fmtAddr(c.addr);
    } else if (own) {
      const c = parseCidr(`${own.local}/${own.prefixlen}`);
      subnet = networkOf(c);
      gateway = own.local;
    } else {
      const routes = await sys.ip.json<{ dst: string }[]>(['route', 'show']);
      const taken = [
        ...devs.flatMap((l) => (l.addr_info ?? []).filter((a) => a.family === 'inet').map((a) => `${a.local}/${a.prefixlen}`)),
        ...routes.map((r) => r.dst).filter((d) => d && d !== 'default').map((d) => (d.includes('/') ? d : `${d}/32`)),
        ...records.list('network').flatMap((r) => r.ipam.map((p) => p.subnet)),
      ].filter((c) => /^\d+\.\d+\.\d+\.\d+\/\d+$/.test(c));
      subnet = pickSubnet(defaultPools(), taken);
      if (!subnet) throw invalidParameter('could not find an available, non-overlapping IPv4 address pool among the defaults to assign to the network');
      gateway = fmtAddr(parseCidr(subnet).first + 1);
    }
    if (isDefault && config.fixedCidr && !ipRange) ipRange = config.fixedCidr;
    if (want.gateway) gateway = want.gateway;
    for (const other of records.list('network')) {
      for (const p of other.ipam)
        if (p.subnet && subnetsOverlap(p.subnet, subnet)) throw conflict(`Pool overlaps with other one on this address space`);
    }
    new Ipam(subnet, gateway, ipRange); // validates the three together
    return { subnet, gateway: gateway!, ...(ipRange ? { ipRange: networkOf(parseCidr(ipRange)) } : {}) };
  }

  async function netnsExists(name: string): Promise<boolean> {
    const list = await sys.ip.json<{ name: string }[]>(['netns', 'list']);
    return list.some((n) => n.name === name);
  }

  async function linkExists(name: string): Promise<boolean> {
    return (await links()).some((l) => l.ifname === name);
  }

  /** Delete a netns or a link; "already gone" is success. */
  async function removeSandbox(ep: Pick<Endpoint, 'netns' | 'hostIfName' | 'ownsNetns'>): Promise<void> {
    if (ep.ownsNetns && ep.netns.kind === 'new') {
      const name = ep.netns.name;
      await sys.ip.batch([`netns del ${name}`]).catch(async (e) => {
        if (await netnsExists(name)) throw wrap(e, `delete netns ${name}`);
      });
    } else if (ep.hostIfName) {
      const h = ep.hostIfName;
      await sys.ip.batch([`link del ${h}`]).catch(async (e) => {
        if (await linkExists(h)) throw wrap(e, `delete link ${h}`);
      });
    }
  }

  /** Only names of the form names.netns(id) (`<prefix>-<12 hex>`): never `<prefix>-host` or a
   *  name someone else chose with our prefix. */
  const ownSandboxNetns = (x: string) => names.ownsNetns(x) && /-[0-9a-f]{12}$/.test(x) && x.length === names.prefix.length + 13;

  function current(ep: Endpoint): Endpoint {
    return records.get('endpoint', ep.id) ?? ep;
  }

  const driver: NetworkDriver = {
    kind: 'network',
    name: 'bridge',
    builtinNetworks: [
      {
        name: 'bridge',
        driver: 'bridge',
        builtin: true,
        options: {
          [OPT.name]: defaultBridge,
          [OPT.defaultBridge]: 'true',
          [OPT.icc]: String(config.icc),
          [OPT.masquerade]: 'true',
        },
      },
    ],

    handlers: {
      async create_network({ spec, id }, job) {
        safeId(id);
        if (spec.ipv6) throw invalidParameter('IPv6 networks are not supported yet');
        const options = { ...(spec.options ?? {}) };
        const isDefault = options[OPT.defaultBridge] === 'true';
        const bridge = ifname(options[OPT.name] ?? (isDefault ? defaultBridge : `br-${id.slice(0, 12)}`), 'bridge name');
        options[OPT.name] = bridge;
        for (const k of [OPT.icc, OPT.masquerade, OPT.defaultBridge]) boolOpt(options[k], true, k);
        if (options[OPT.mtu] && !/^\d{3,5}$/.test(options[OPT.mtu]!)) throw invalidParameter(`invalid MTU "${options[OPT.mtu]}"`);
        if (records.list('network').some((r) => r.driver === 'bridge' && r.options[OPT.name] === bridge))
          throw conflict(`bridge device ${bridge} is used by another network`);
        const ipam = await chooseIpam(spec, bridge, isDefault);
        const rec: NetworkRecord = {
          id,
          name: spec.name,
          driver: 'bridge',
          created: new Date().toISOString(),
          internal: !!spec.internal,
          ipv6: false,
          builtin: !!spec.builtin,
          ipam: [ipam],
          options,
          labels: spec.labels ?? {},
        };
        const n = netOf(rec);
        job.undo.push('forget network', () => void nets.delete(id));
        const made = await ensureBridge(n);
        if (made.created) job.undo.push(`delete bridge ${bridge}`, () => sys.ip.batch([`link del ${bridge}`]));
        const tags = new Set([globalTag, n.tag]);
        await fw.sync([...globalRules(globalTag), ...netRules(n)], (t) => tags.has(t));
        job.undo.push('remove network rules', async () => void (await fw.sync([], (t) => t === n.tag)));
        n.pool.schedule();
        return rec;
      },

      async delete_network({ network }, job) {
        const n = netOf(network);
        if (myEndpoints(network.id).length > 0) throw conflict(`network ${network.name} has active endpoints`);
        await n.pool.close();
        nets.delete(network.id);
        await fw.sync([], (t) => t === n.tag);
        const isDefault = network.options[OPT.defaultBridge] === 'true';
        if (!isDefault) {
          await sys.ip.batch([`link del ${n.bridge}`]).catch(async (e) => {
            if (await linkExists(n.bridge)) throw wrap(e, `delete bridge ${n.bridge}`);
          });
        }
        job.log.debug({ network: network.id }, 'bridge network deleted');
      },

      async allocate_interface({ network, container, endpointId, request }, job) {
        safeId(endpointId);
        safeId(container.id);
        const n = netOf(network);
        if (records.get('endpoint', endpointId)) throw conflict(`endpoint ${endpointId} exists already`);
        if (request.joinContainer) throw invalidParameter('the bridge driver cannot join another container');
        const second = request.netns;
        if (second && second.kind !== 'new') throw invalidParameter('a bridge endpoint needs a netns of its own or one berth made');
        const ifName = ifname(request.ifName ?? (second ? 'eth1' : 'eth0'));
        if (request.mac) macAddr(request.mac);
        if (request.ipv4 !== undefined) parseAddr(request.ipv4);
        if (second) {
          if (!second.name || !/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/.test(second.name)) throw invalidParameter(`invalid netns name "${second.name}"`);
        }

        // IP first: the only step that can fail on input (taken, exhausted).
        let ip: string;
        if (request.ipv4 !== undefined) {
          if (n.ipam.has(request.ipv4)) throw conflict(`Address already in use`);
          n.ipam.reserve(request.ipv4);
          ip = request.ipv4;
        } else ip = n.ipam.allocate();
        job.undo.push(`release ${ip}`, () => n.ipam.release(ip));
        const mac = request.mac ? macAddr(request.mac) : macFromIp(ip);

        let sb: Sandbox;
        let fromPool = false;
        if (second) sb = { netns: second.name, hostIf: names.hostVeth(endpointId), ifName };
        else {
          const ready = n.pool.take();
          fromPool = !!ready;
          sb = ready ?? n.pool.newSandbox();
        }
        const ep: Endpoint = {
          id: endpointId,
          networkId: network.id,
          container: { id: container.id, name: container.name },
          driver: 'bridge',
          netns: { kind: 'new', name: sb.netns, path: `${RUN_NETNS}/${sb.netns}` },
          ownsNetns: !second,
          ifName,
          hostIfName: sb.hostIf,
          ipv4: `${ip}/${n.prefix}`,
          gateway: n.gateway,
          mac,
          aliases: request.aliases ?? [],
          ports: [],
          links: [],
        };
        await records.put('endpoint', ep); // intent, before the kernel
        job.undo.push('forget endpoint record', () => records.delete('endpoint', endpointId));

        job.undo.push(second ? `delete link ${sb.hostIf}` : `delete netns ${sb.netns}`, () => removeSandbox(ep));
        if (!fromPool)
          await sys.ip.batch(sandboxLines({ netns: sb.netns, hostIf: sb.hostIf, bridge: n.bridge, ifName: second ? ifName : sb.ifName, newNetns: !second }));
        await sys.ip.batch(
          configLines({
            ifName: second ? ifName : sb.ifName,
            ...(!second && ifName !== sb.ifName ? { rename: ifName } : {}),
            mac,
            cidr: `${ip}/${n.prefix}`,
            gateway: n.gateway,
            defaultRoute: !second,
          }),
          { netns: sb.netns },
        );
        return ep;
      },

      async release_interface({ network, endpoint }, job) {
        const n = netOf(network);
        const ep = current(endpoint);
        // The record goes first: from here on restore() would finish the removal after a crash.
        await records.delete('endpoint', ep.id);
        const rules = epRules(n, ep);
        await fw.remove(rules, { later: true });
        await ports.release(ep.id);
        await removeSandbox(ep);
        if (ep.ipv4) n.ipam.release(ep.ipv4.split('/')[0]!);
        job.log.debug({ endpoint: ep.id }, 'bridge endpoint released');
      },

      async allocate_port({ network, endpoint, requests }, job) {
        const n = netOf(network);
        const ep = current(endpoint);
        if (!records.get('endpoint', ep.id)) throw notFound(`endpoint ${ep.id} not found`);
        if (!ep.ipv4) throw invalidParameter(`endpoint ${ep.id} has no IPv4 address`);
        if (requests.length === 0) return [];
        const bindings = await ports.allocate(ep.id, requests);
        job.undo.push('release host ports', () => ports.release(ep.id, bindings));
        const before = ep.ports;
        await records.put('endpoint', { ...ep, ports: [...before, ...bindings] });
        job.undo.push('restore endpoint ports', async () => {
          const now = records.get('endpoint', ep.id);
          if (now) await records.put('endpoint', { ...now, ports: before });
        });
        const rules = portRules(n.bridge, ep.ipv4, bindings, names.ruleTag(ep.id));
        await fw.add(rules);
        job.undo.push('remove port rules', () => fw.remove(rules));
        return bindings;
      },

      async release_port({ network, endpoint }) {
        const n = netOf(network);
        const ep = current(endpoint);
        const bound: PortBinding[] = ep.ports;
        if (records.get('endpoint', ep.id) && bound.length) await records.put('endpoint', { ...ep, ports: [] });
        if (ep.ipv4 && bound.length) await fw.remove(portRules(n.bridge, ep.ipv4, bound, names.ruleTag(ep.id)), { later: true });
        await ports.release(ep.id);
      },

      async link({ network, from, to, ports: linked }, job) {
        const n = netOf(network);
        const a = current(from);
        const b = current(to);
        if (!records.get('endpoint', a.id)) throw notFound(`endpoint ${a.id} not found`);
        if (a.networkId !== network.id || b.networkId !== network.id) throw invalidParameter('both endpoints of a link must be on the network');
        if (!a.ipv4 || !b.ipv4) throw invalidParameter('link: both endpoints need an IPv4 address');
        for (const p of linked)
          if (!Number.isInteger(p.port) || p.port < 1 || p.port > 65535 || !['tcp', 'udp', 'sctp'].includes(p.proto))
            throw invalidParameter(`invalid link port ${p.port}/${p.proto}`);
        const rec: LinkRecord = { toEndpointId: b.id, toIp: b.ipv4.split('/')[0]!, fromIp: a.ipv4.split('/')[0]!, ports: [...linked] };
        const others = a.links.filter((l) => l.toEndpointId !== b.id);
        const old = a.links.find((l) => l.toEndpointId === b.id);
        await records.put('endpoint', { ...a, links: [...others, rec] });
        job.undo.push('restore endpoint links', async () => {
          const now = records.get('endpoint', a.id);
          if (now) await records.put('endpoint', { ...now, links: a.links });
        });
        if (n.icc) return; // everything between containers is allowed already
        const tag = names.ruleTag(a.id);
        if (old) await fw.remove(linkRules(n.bridge, old.fromIp, old.toIp, old.ports, tag));
        const rules = linkRules(n.bridge, rec.fromIp, rec.toIp, rec.ports, tag);
        await fw.add(rules);
        job.undo.push('remove link rules', () => fw.remove(rules));
      },

      async unlink({ network, from, to }) {
        const n = netOf(network);
        const a = current(from);
        const l = a.links.find((x) => x.toEndpointId === to.id);
        if (!l) return;
        if (records.get('endpoint', a.id)) await records.put('endpoint', { ...a, links: a.links.filter((x) => x !== l) });
        if (!n.icc) await fw.remove(linkRules(n.bridge, l.fromIp, l.toIp, l.ports, names.ruleTag(a.id)), { later: true });
      },
    },

    async restore(): Promise<ReconcileReport> {
      const report: ReconcileReport = { recreated: [], removed: [] };
      const want: Rule[] = [];
      const bridgeNets = records.list('network').filter((r) => r.driver === 'bridge');
      let have = await links();
      const endpoints = records.list('endpoint');
      for (const rec of bridgeNets) {
        const n = netOf(rec);
        const r = await ensureBridge(n, have);
        if (r.created) report.recreated.push(`bridge ${n.bridge}`);
        else if (r.addedAddr) report.recreated.push(`address ${n.gateway}/${n.prefix} on ${n.bridge}`);
        want.push(...netRules(n));
        for (const ep of myEndpoints(rec.id)) {
          want.push(...epRules(n, ep));
          const problems = await ports.adopt(ep.id, ep.ports);
          for (const p of problems) report.recreated.push(`port ${p} (endpoint ${ep.id.slice(0, 12)})`);
        }
      }
      if (bridgeNets.length) want.unshift(...globalRules(globalTag));
      const fwr = await fw.sync(want, () => true);
      report.recreated.push(...fwr.added.map((l) => `rule ${l}`));
      report.removed.push(...fwr.removed.map((l) => `rule ${l}`));

      // Sandboxes no record owns: berth's netns and host veths (the pools' are made after this).
      const pooled = new Set([...nets.values()].flatMap((n) => [...n.pool.held()]));
      const usedNetns = new Set(endpoints.flatMap((e) => (e.netns.kind === 'new' ? [e.netns.name] : [])));
      const usedLinks = new Set(endpoints.flatMap((e) => (e.hostIfName ? [e.hostIfName] : [])));
      const nsList = await sys.ip.json<{ name: string }[]>(['netns', 'list']);
      const delNs = nsList.map((x) => x.name).filter((x) => ownSandboxNetns(x) && !usedNetns.has(x) && !pooled.has(x));
      if (delNs.length) {
        await sys.ip.batch(delNs.map((x) => `netns del ${x}`), { force: true }).catch((err) => log.warn({ err }, 'orphan netns removal'));
        report.removed.push(...delNs.map((x) => `netns ${x}`));
        have = await links();
      }
      const delLinks = have
        .filter((l) => names.ownsLink(l.ifname) && l.linkinfo?.info_kind === 'veth' && !usedLinks.has(l.ifname) && !pooled.has(l.ifname))
        .map((l) => l.ifname);
      if (delLinks.length) {
        await sys.ip.batch(delLinks.map((x) => `link del ${x}`), { force: true }).catch((err) => log.warn({ err }, 'orphan veth removal'));
        report.removed.push(...delLinks.map((x) => `link ${x}`));
      }
      for (const ep of endpoints.filter((e) => e.driver === 'bridge')) {
        if (ep.netns.kind === 'new' && !nsList.some((x) => x.name === (ep.netns as { name: string }).name))
          report.removed.push(`endpoint ${ep.id.slice(0, 12)}: netns ${ep.netns.name} is gone (the container is not running)`);
      }
      for (const n of nets.values()) n.pool.schedule();
      return report;
    },

    async inspect(network, endpoints) {
      const n = netOf(network);
      const all = await links();
      const rules = await fw.list();
      const dev = all.find((l) => l.ifname === n.bridge);
      const tagOf = (id: string) => names.ruleTag(id);
      return {
        bridge: {
          name: n.bridge,
          exists: !!dev,
          up: !!dev?.flags?.includes('UP'),
          addresses: (dev?.addr_info ?? []).map((a) => `${a.local}/${a.prefixlen}`),
          subnet: n.subnet,
          gateway: n.gateway,
          ...(n.rec.ipam[0]?.ipRange ? { ipRange: n.rec.ipam[0].ipRange } : {}),
          icc: n.icc,
          masquerade: n.masquerade,
        },
        rules: rules.filter((r) => r.tag === n.tag || r.tag === globalTag).map((r) => `${r.table} ${r.line}`),
        endpoints: endpoints.map((ep) => {
          const veth = ep.hostIfName ? all.find((l) => l.ifname === ep.hostIfName) : undefined;
          return {
            id: ep.id,
            container: ep.container,
            netns: ep.netns,
            hostVeth: ep.hostIfName ? { name: ep.hostIfName, exists: !!veth, master: veth?.master ?? null, hairpin: veth?.linkinfo?.info_slave_data?.hairpin ?? null } : null,
            ipv4: ep.ipv4,
            mac: ep.mac,
            ports: ep.ports,
            links: ep.links,
            rules: rules.filter((r) => r.tag === tagOf(ep.id)).map((r) => `${r.table} ${r.line}`),
          };
        }),
      };
    },

    async shutdown() {
      await fw.shutdown();
      await ports.closeAll();
      for (const n of nets.values()) await n.pool.close();
    },
  };
  return driver;
}

function subnetsOverlap(a: string, b: string): boolean {
  try {
    const x = parseCidr(a);
    const y = parseCidr(b);
    return x.first <= y.last && y.first <= x.last;
  } catch {
    return false;
  }
}

/** A random endpoint-like id (tests, benches). */
export const randomId = (): string => randomBytes(32).toString('hex');

export default function bridgeFactory(ctx: DriverContext): NetworkDriver {
  return makeBridgeDriver(ctx);
}
