// The bridge driver: Docker's default network "bridge" (device ctx.config.bridge, berth0 by default)
// and user-defined bridges (`network create`), IPv4 or dual-stack. Every function takes the
// NetworkRecord; nothing assumes one bridge. Owns: the bridge devices and their addresses, the IPAM
// of each network, the host-wide port allocator, sandboxes (netns + veth), default routes, and the
// firewall objects tagged with the network's and the endpoints' ids (through the firewall seam).
// Records are written before the kernel is touched; restore() makes the kernel match them. See
// README.md.
import { randomBytes } from 'node:crypto';
import type { DriverContext, NetworkDriver } from '../../driver.js';
import { conflict, forbidden, invalidParameter, notFound } from '../../errors.js';
import { safeId } from '../../names.js';
import type { Endpoint, LinkRecord, NetworkRecord, PortBinding } from '../../types.js';
import { Ipam, macFromIp } from '../ipam/allocator.js';
import { parseAddr } from '../ipam/pool.js';
import { Ipam6, fmtAddr6, parseAddr6 } from '../ipam/v6.js';
import { PortAllocator, parsePortRange } from '../ports/allocator.js';
import type { FirewallBackend, FwEndpoint, FwNetwork, FwState } from '../firewall/backend.js';
import { iptablesBackend } from '../firewall/iptables.js';
import { nftablesBackend } from '../firewall/nftables.js';
import { configLines, ifname, macAddr, routeLines, sandboxLines } from './plan.js';
import { SandboxPool, type Sandbox } from './pool.js';
import { OPT, createOptions, fwNetwork, netView, type NetView } from './options.js';
import { bridgeKernel } from './kernel.js';
import { chooseSubnets } from './subnets.js';
import { bridgeRestore } from './restore.js';
import { bridgeCheck } from './check.js';
import { EmbeddedDns } from '../dns/resolver.js';
import { FlushWatcher } from '../firewall/watch.js';

export { OPT };

/** Owner id of the daemon-wide jumps from the built-in chains (not a network's, not an endpoint's). */
export const GLOBAL_OWNER = '0'.repeat(12);
const RUN_NETNS = '/run/netns';

/** A network as the driver holds it: the parsed record, its address allocators, its sandbox pool. */
export interface Net extends NetView {
  ipam: Ipam;
  ipam6: Ipam6 | undefined;
  pool: SandboxPool;
  fw: FwNetwork;
}

export interface BridgeDriverOptions {
  /** Ready sandboxes kept per network (default 2; 0: none). */
  poolSize?: number;
  /** A firewall backend other than the one the config names (tests). */
  firewall?: FirewallBackend;
  /** Milliseconds queued rule removals wait (default 50). */
  removeDelayMs?: number;
  /** Watch for outside changes to berth's firewall (nft monitor) and repair them (berthd: on). */
  watch?: boolean;
}

/** The driver's shared insides, for restore.ts (restore, check, inspect). */
export interface BridgeInternals {
  ctx: DriverContext;
  fw: FirewallBackend;
  ports: PortAllocator;
  nets: Map<string, Net>;
  globalTag: string;
  kernel: ReturnType<typeof bridgeKernel>;
  netOf(rec: NetworkRecord): Net;
  myEndpoints(networkId?: string): Endpoint[];
  fwState(extra?: Net): FwState;
  fwEndpoint(ep: Endpoint): FwEndpoint;
  /** Tags of endpoints whose records and kernel state are being changed right now. */
  inflight: Set<string>;
  dns: EmbeddedDns;
  watcher: FlushWatcher | undefined;
}

export function makeBridgeDriver(ctx: DriverContext, opts: BridgeDriverOptions = {}): NetworkDriver {
  const { sys, names, records, config, log } = ctx;
  const poolSize = opts.poolSize ?? 2;
  const inflight = new Set<string>();
  // The watcher hears every ruleset change and knows berth's own by the pid of the program that made
  // it. Its repair is a sync that leaves endpoints being changed alone.
  const useNft = config.firewallBackend === 'nftables';
  const watcher = opts.watch
    ? new FlushWatcher({
        nft: sys.nft,
        log,
        ours: (pid) => sys.exec.ran?.(pid) ?? false,
        tables: useNft ? [`inet ${names.prefix}`] : ['ip nat', 'ip filter', 'ip6 nat', 'ip6 filter'],
        repair: () => fw.sync(fwState(), { scope: (t) => !inflight.has(t) }),
      })
    : undefined;
  const { iptables, nft } = sys;
  const fw: FirewallBackend =
    opts.firewall ??
    (useNft
      ? nftablesBackend({ nft, table: names.prefix, log, removeDelayMs: opts.removeDelayMs })
      : iptablesBackend({ iptables, ours: (c) => names.ruleOwner(c) !== undefined, log, removeDelayMs: opts.removeDelayMs }));
  const ports = new PortAllocator(sys.ports, async () => parsePortRange(await sys.sysctl.get('net.ipv4.ip_local_port_range')));
  const nets = new Map<string, Net>();
  const globalTag = names.ruleTag(GLOBAL_OWNER);
  const defaultBridge = ifname(config.bridge, 'bridge name');
  const kernel = bridgeKernel(ctx);
  const dns = new EmbeddedDns({ dns: sys.dns, records, log });

  const myEndpoints = (networkId?: string) =>
    records.list('endpoint').filter((e) => e.driver === 'bridge' && (networkId === undefined || e.networkId === networkId));

  /** Parse a record into the driver's view; the IPAM starts from the endpoint records. */
  function netOf(rec: NetworkRecord): Net {
    const known = nets.get(rec.id);
    if (known) return known;
    const v = netView(rec, defaultBridge, names.ruleTag(rec.id));
    const n: Net = {
      ...v,
      ipam: new Ipam(v.v4.subnet, v.v4.gateway, v.v4.ipRange),
      ipam6: v.v6 ? new Ipam6(v.v6.subnet, v.v6.gateway, v.v6.ipRange) : undefined,
      pool: new SandboxPool({ ip: sys.ip, names, bridge: v.bridge, mtu: v.mtu, log, size: poolSize }),
      fw: fwNetwork(v),
    };
    for (const ep of myEndpoints(rec.id)) {
      try {
        if (ep.ipv4) n.ipam.reserve(ep.ipv4.split('/')[0]!);
        if (ep.ipv6 && n.ipam6) n.ipam6.reserve(ep.ipv6.split('/')[0]!);
      } catch (err) {
        log.warn({ err, endpoint: ep.id }, 'recorded address cannot be reserved');
      }
    }
    nets.set(rec.id, n);
    return n;
  }

  const fwEndpoint = (ep: Endpoint): FwEndpoint => ({
    id: ep.id,
    tag: names.ruleTag(ep.id),
    networkId: ep.networkId,
    ...(ep.ipv4 ? { ipv4: ep.ipv4 } : {}),
    ...(ep.ipv6 ? { ipv6: ep.ipv6 } : {}),
    ports: ep.ports,
    links: ep.links,
  });

  /** What the firewall must hold: every bridge network of the records (and `extra`, one being made). */
  function fwState(extra?: Net): FwState {
    const recs = records.list('network').filter((r) => r.driver === 'bridge' && r.id !== extra?.rec.id);
    const networks = [...recs.map((r) => netOf(r).fw), ...(extra ? [extra.fw] : [])];
    return { globalTag, networks, endpoints: myEndpoints().filter((e) => e.ports.length || e.links.length).map(fwEndpoint) };
  }

  function current(ep: Endpoint): Endpoint {
    return records.get('endpoint', ep.id) ?? ep;
  }

  /** Run a change to an endpoint's records and kernel state with its tag marked in flight (the
   *  flush watcher leaves it alone meanwhile). */
  async function changing<T>(epId: string, fn: () => Promise<T>): Promise<T> {
    const tag = names.ruleTag(epId);
    inflight.add(tag);
    try {
      return await fn();
    } finally {
      inflight.delete(tag);
    }
  }

  const internals: BridgeInternals = { ctx, fw, ports, nets, globalTag, kernel, netOf, myEndpoints, fwState, fwEndpoint, inflight, dns, watcher };
  const side = bridgeRestore(internals);
  const checker = bridgeCheck(internals, side);

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
        const o = createOptions(spec, id, defaultBridge);
        if (records.list('network').some((r) => r.driver === 'bridge' && r.options[OPT.name] === o.bridge))
          throw conflict(`bridge device ${o.bridge} is used by another network`);
        const ipam = await chooseSubnets(ctx, kernel, o);
        const rec: NetworkRecord = {
          id,
          name: spec.name,
          driver: 'bridge',
          created: new Date().toISOString(),
          internal: !!spec.internal,
          ipv6: !!spec.ipv6,
          builtin: !!spec.builtin,
          ipam,
          options: o.options,
          labels: spec.labels ?? {},
        };
        const n = netOf(rec);
        job.undo.push('forget network', () => void nets.delete(id));
        const made = await kernel.ensureBridge(n);
        if (made.created) job.undo.push(`delete bridge ${n.bridge}`, () => kernel.deleteBridge(n.bridge));
        const state = fwState(n);
        await fw.addNetwork(state, n.fw);
        job.undo.push('remove network rules', () => fw.removeNetwork(state, n.fw));
        await side.networkUp(n);
        job.undo.push('stop network services', () => side.networkDown(n));
        n.pool.schedule();
        return rec;
      },

      async delete_network({ network }, job) {
        const n = netOf(network);
        if (myEndpoints(network.id).length > 0) throw forbidden(`error while removing network: network ${network.name} id ${network.id} has active endpoints`);
        await n.pool.close();
        await side.networkDown(n);
        const state = fwState();
        nets.delete(network.id);
        await fw.removeNetwork(state, n.fw);
        if (!n.isDefault) await kernel.deleteBridge(n.bridge);
        job.log.debug({ network: network.id }, 'bridge network deleted');
      },

      async allocate_interface({ network, container, endpointId, request }, job) {
        safeId(endpointId);
        safeId(container.id);
        const n = netOf(network);
        if (records.get('endpoint', endpointId)) throw conflict(`endpoint ${endpointId} exists already`);
        if (request.joinContainer) throw invalidParameter('the bridge driver cannot join another container');
        if (request.adoptNetns) throw invalidParameter('the bridge driver cannot adopt a netns');
        const second = request.netns;
        if (second && second.kind !== 'new') throw invalidParameter('a bridge endpoint needs a netns of its own or one berth made');
        const ifName = ifname(request.ifName ?? (second ? 'eth1' : 'eth0'));
        if (request.mac) macAddr(request.mac);
        if (request.ipv4 !== undefined) parseAddr(request.ipv4);
        if (request.ipv6 !== undefined) {
          if (!n.ipam6) throw invalidParameter(`network ${network.name} has no IPv6 subnet: --ip6 needs a network created with --ipv6`);
          parseAddr6(request.ipv6);
        }
        if (second && (!second.name || !/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/.test(second.name))) throw invalidParameter(`invalid netns name "${second.name}"`);
        for (const s of request.dnsServers ?? []) if (!/^[0-9a-fA-F.:]+$/.test(s)) throw invalidParameter(`invalid DNS server address: ${s}`);

        return changing(endpointId, async () => {
          // Addresses first: the only steps that can fail on input (taken, exhausted).
          let ip: string;
          if (request.ipv4 !== undefined) {
            n.ipam.reserve(request.ipv4);
            ip = request.ipv4;
          } else ip = n.ipam.allocate();
          job.undo.push(`release ${ip}`, () => n.ipam.release(ip));
          let ip6: string | undefined;
          if (n.ipam6) {
            const i6 = n.ipam6;
            if (request.ipv6 !== undefined) {
              ip6 = fmtAddr6(parseAddr6(request.ipv6)); // recorded in the form the kernel prints
              i6.reserve(ip6);
            } else ip6 = i6.allocate();
            const got = ip6;
            job.undo.push(`release ${got}`, () => i6.release(got));
          }
          const mac = request.mac ? macAddr(request.mac) : macFromIp(ip);
          const isGateway = (request.gateway ?? !second) && !network.internal;

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
            ipv4: `${ip}/${n.v4.prefix}`,
            gateway: n.v4.gateway,
            mac,
            ...(ip6 && n.v6 ? { ipv6: `${ip6}/${n.v6.prefix}`, gateway6: n.v6.gateway } : {}),
            aliases: request.aliases ?? [],
            ...(request.dnsNames ? { dnsNames: request.dnsNames } : {}),
            ...(request.dnsServers?.length ? { dnsServers: request.dnsServers } : {}),
            isGateway,
            ...(n.dns ? { resolver: n.v4.gateway } : {}),
            ports: [],
            links: [],
          };
          await records.put('endpoint', ep); // intent, before the kernel
          job.undo.push('forget endpoint record', () => records.delete('endpoint', endpointId));

          job.undo.push(second ? `delete link ${sb.hostIf}` : `delete netns ${sb.netns}`, () => kernel.removeSandbox(ep));
          if (!fromPool)
            await sys.ip.batch(sandboxLines({ netns: sb.netns, hostIf: sb.hostIf, bridge: n.bridge, ifName: second ? ifName : sb.ifName, newNetns: !second, mtu: n.mtu }));
          await sys.ip.batch(
            configLines({
              ifName: second ? ifName : sb.ifName,
              ...(!second && ifName !== sb.ifName ? { rename: ifName } : {}),
              mac,
              cidr: ep.ipv4!,
              gateway: n.v4.gateway,
              ...(ep.ipv6 ? { cidr6: ep.ipv6, gateway6: ep.gateway6 } : {}),
              defaultRoute: isGateway,
            }),
            { netns: sb.netns },
          );
          return ep;
        });
      },

      async release_interface({ network, endpoint }, job) {
        const n = netOf(network);
        const ep = current(endpoint);
        // The record goes first: from here on restore() would finish the removal after a crash.
        await records.delete('endpoint', ep.id);
        await fw.removeEndpoint(n.fw, fwEndpoint(ep), { later: true });
        await ports.release(ep.id);
        await kernel.removeSandbox(ep);
        if (ep.ipv4) n.ipam.release(ep.ipv4.split('/')[0]!);
        if (ep.ipv6) n.ipam6?.release(ep.ipv6.split('/')[0]!);
        job.log.debug({ endpoint: ep.id }, 'bridge endpoint released');
      },

      async allocate_port({ network, endpoint, requests }, job) {
        const n = netOf(network);
        const ep = current(endpoint);
        if (!records.get('endpoint', ep.id)) throw notFound(`endpoint ${ep.id} not found`);
        if (!ep.ipv4) throw invalidParameter(`endpoint ${ep.id} has no IPv4 address`);
        if (requests.length === 0) return [];
        return changing(ep.id, async () => {
          const bindings = await ports.allocate(ep.id, requests, { dualStack: !!ep.ipv6 });
          job.undo.push('release host ports', () => ports.release(ep.id, bindings));
          const before = ep.ports;
          await records.put('endpoint', { ...ep, ports: [...before, ...bindings] });
          job.undo.push('restore endpoint ports', async () => {
            const now = records.get('endpoint', ep.id);
            if (now) await records.put('endpoint', { ...now, ports: before });
          });
          const part = { ...fwEndpoint(ep), ports: bindings, links: [] };
          await fw.addEndpoint(n.fw, part);
          job.undo.push('remove port rules', () => fw.removeEndpoint(n.fw, part));
          return bindings;
        });
      },

      async release_port({ network, endpoint }) {
        const n = netOf(network);
        const ep = current(endpoint);
        const bound: PortBinding[] = ep.ports;
        if (records.get('endpoint', ep.id) && bound.length) await records.put('endpoint', { ...ep, ports: [] });
        if (bound.length) await fw.removeEndpoint(n.fw, { ...fwEndpoint(ep), ports: bound, links: [] }, { later: true });
        await ports.release(ep.id);
      },

      async set_gateway({ network, endpoint, gateway }, job) {
        netOf(network);
        const ep = current(endpoint);
        if (!records.get('endpoint', ep.id)) throw notFound(`endpoint ${ep.id} not found`);
        const want = gateway && !network.internal;
        if (!!ep.isGateway === want || ep.netns.kind !== 'new' || !ep.ifName || !ep.gateway) return ep;
        const next = { ...ep, isGateway: want };
        await records.put('endpoint', next);
        job.undo.push('restore endpoint gateway', async () => {
          if (records.get('endpoint', ep.id)) await records.put('endpoint', ep);
        });
        const lines = routeLines(want ? 'replace' : 'del', ep.ifName, ep.gateway, ep.ipv6 ? ep.gateway6 : undefined);
        if (want) {
          await sys.ip.batch(lines, { netns: ep.netns.name });
          job.undo.push('remove default routes', () => sys.ip.batch(routeLines('del', ep.ifName!, ep.gateway!, ep.ipv6 ? ep.gateway6 : undefined), { netns: (ep.netns as { name: string }).name, force: true }).catch(() => {}));
        } else {
          // A route already gone is what we want: run every line, ignore "No such process".
          await sys.ip.batch(lines, { netns: ep.netns.name, force: true }).catch((e: Error) => {
            if (!/No such process/.test(e.message)) throw e;
          });
        }
        return next;
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
        await changing(a.id, async () => {
          await records.put('endpoint', { ...a, links: [...others, rec] });
          job.undo.push('restore endpoint links', async () => {
            const now = records.get('endpoint', a.id);
            if (now) await records.put('endpoint', { ...now, links: a.links });
          });
          if (n.icc) return; // everything between containers is allowed already
          const base = { ...fwEndpoint(a), ports: [] };
          if (old) await fw.removeEndpoint(n.fw, { ...base, links: [old] });
          await fw.addEndpoint(n.fw, { ...base, links: [rec] });
          job.undo.push('remove link rules', () => fw.removeEndpoint(n.fw, { ...base, links: [rec] }));
        });
      },

      async unlink({ network, from, to }) {
        const n = netOf(network);
        const a = current(from);
        const l = a.links.find((x) => x.toEndpointId === to.id);
        if (!l) return;
        if (records.get('endpoint', a.id)) await records.put('endpoint', { ...a, links: a.links.filter((x) => x !== l) });
        if (!n.icc) await fw.removeEndpoint(n.fw, { ...fwEndpoint(a), ports: [], links: [l] }, { later: true });
      },
    },

    restore: () => side.restore(),
    inspect: (network, endpoints) => side.inspect(network, endpoints),
    check: (o) => checker.check(o),

    async shutdown() {
      await side.shutdown();
      await fw.shutdown();
      await ports.closeAll();
      for (const n of nets.values()) await n.pool.close();
    },
  };
  return driver;
}

/** A random endpoint-like id (tests, benches). */
export const randomId = (): string => randomBytes(32).toString('hex');

export default function bridgeFactory(ctx: DriverContext): NetworkDriver {
  return makeBridgeDriver(ctx, { watch: true });
}
