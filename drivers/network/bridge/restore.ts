// The bridge driver facing the kernel as a whole: restore() at daemon start (make the kernel match
// the records: bridges, addresses, firewall, held ports; sweep berth's leftovers), the operator's
// view (inspect: what is there, read back from the kernel), and per-network services started and
// stopped with the network.
import type { Endpoint, NetworkRecord, ReconcileReport } from '../../types.js';
import type { BridgeInternals, Net } from './index.js';
import type { IpAddrJson } from './kernel.js';

export function bridgeRestore(b: BridgeInternals) {
  const { ctx, fw, ports, nets, globalTag, kernel, dns, watcher } = b;
  const { sys, names, records, log } = ctx;

  /** Only names of the form names.netns(id) (`<prefix>-<12 hex>`): never `<prefix>-host` or a
   *  name someone else chose with our prefix. */
  const ownSandboxNetns = (x: string) => names.ownsNetns(x) && /-[0-9a-f]{12}$/.test(x) && x.length === names.prefix.length + 13;

  const bridgeNets = () => records.list('network').filter((r) => r.driver === 'bridge');

  /** berth's netns and host veths that no record owns (and no pool holds). */
  function orphans(have: IpAddrJson[], nsList: string[]): { netns: string[]; links: string[] } {
    const endpoints = records.list('endpoint');
    const pooled = new Set([...nets.values()].flatMap((n) => [...n.pool.held()]));
    const usedNetns = new Set(endpoints.flatMap((e) => (e.netns.kind === 'new' ? [e.netns.name] : [])));
    const usedLinks = new Set(endpoints.flatMap((e) => (e.hostIfName ? [e.hostIfName] : [])));
    return {
      netns: nsList.filter((x) => ownSandboxNetns(x) && !usedNetns.has(x) && !pooled.has(x)),
      links: have
        .filter((l) => names.ownsLink(l.ifname) && l.linkinfo?.info_kind === 'veth' && !usedLinks.has(l.ifname) && !pooled.has(l.ifname))
        .map((l) => l.ifname),
    };
  }

  async function restore(): Promise<ReconcileReport> {
    const report: ReconcileReport = { recreated: [], removed: [] };
    let have = await kernel.links();
    for (const rec of bridgeNets()) {
      const n = b.netOf(rec);
      const r = await kernel.ensureBridge(n, have);
      if (r.created) report.recreated.push(`bridge ${n.bridge}`);
      else for (const a of r.addedAddrs) report.recreated.push(`address ${a} on ${n.bridge}`);
      for (const ep of b.myEndpoints(rec.id)) {
        const problems = await ports.adopt(ep.id, ep.ports);
        for (const p of problems) report.recreated.push(`port ${p} (endpoint ${ep.id.slice(0, 12)})`);
      }
    }
    const fwr = await fw.sync(b.fwState());
    report.recreated.push(...fwr.missing.map((l) => `rule ${l}`), ...fwr.reordered.map((l) => `rule ${l} (re-made in order)`));
    report.removed.push(...fwr.extra.map((l) => `rule ${l}`));

    // Sandboxes no record owns: berth's netns and host veths (the pools' are made after this).
    const nsList = await kernel.netnsList();
    const o = orphans(have, nsList);
    if (o.netns.length) {
      await sys.ip.batch(o.netns.map((x) => `netns del ${x}`), { force: true }).catch((err) => log.warn({ err }, 'orphan netns removal'));
      report.removed.push(...o.netns.map((x) => `netns ${x}`));
      have = await kernel.links();
    }
    const delLinks = orphans(have, nsList).links;
    if (delLinks.length) {
      await sys.ip.batch(delLinks.map((x) => `link del ${x}`), { force: true }).catch((err) => log.warn({ err }, 'orphan veth removal'));
      report.removed.push(...delLinks.map((x) => `link ${x}`));
    }
    for (const ep of b.myEndpoints()) {
      if (ep.netns.kind === 'new' && !nsList.includes(ep.netns.name))
        report.removed.push(`endpoint ${ep.id.slice(0, 12)}: netns ${ep.netns.name} is gone (the container is not running)`);
    }
    for (const rec of bridgeNets()) await networkUp(b.netOf(rec));
    for (const n of nets.values()) n.pool.schedule();
    await watcher?.start();
    return report;
  }

  /** Per-network services: the embedded DNS of user-defined networks, on the gateway addresses. */
  async function networkUp(n: Net): Promise<void> {
    if (!n.dns) return;
    await dns.start({ id: n.rec.id, name: n.rec.name, internal: n.rec.internal, addresses: [n.v4.gateway, ...(n.v6 ? [n.v6.gateway] : [])] });
  }

  async function networkDown(n: Net): Promise<void> {
    await dns.stop(n.rec.id);
  }

  async function inspect(network: NetworkRecord, endpoints: Endpoint[]): Promise<Record<string, unknown>> {
    const n = b.netOf(network);
    const all = await kernel.links();
    const rules = await fw.list();
    const dev = all.find((l) => l.ifname === n.bridge);
    const tagOf = (id: string) => names.ruleTag(id);
    const inside = async (ep: Endpoint): Promise<IpAddrJson | undefined> => {
      if (ep.netns.kind !== 'new' || !ep.ifName) return undefined;
      const l = await kernel.links(ep.netns.name).catch(() => [] as IpAddrJson[]);
      return l.find((x) => x.ifname === ep.ifName);
    };
    return {
      firewall: fw.name,
      watcher: b.watcher ? { mode: b.watcher.mode, repairs: b.watcher.repairs } : null,
      sandboxPool: n.pool.state,
      bridge: {
        name: n.bridge,
        exists: !!dev,
        up: !!dev?.flags?.includes('UP'),
        mtu: dev?.mtu ?? null,
        addresses: (dev?.addr_info ?? []).filter((a) => !a.local.startsWith('fe80')).map((a) => `${a.local}/${a.prefixlen}`),
        subnet: n.v4.subnet,
        gateway: n.v4.gateway,
        ...(n.v4.ipRange ? { ipRange: n.v4.ipRange } : {}),
        ...(n.v6 ? { subnet6: n.v6.subnet, gateway6: n.v6.gateway } : {}),
        icc: n.icc,
        masquerade: n.masquerade,
        internal: network.internal,
      },
      dns: n.dns ? (dns.status(network.id) ?? { addresses: [], serving: [], errors: ['not started'] }) : null,
      rules: rules.filter((r) => r.tag === n.tag || r.tag === globalTag).map((r) => `${r.family} ${r.table} ${r.line}`),
      endpoints: await Promise.all(
        endpoints.map(async (ep) => {
          const veth = ep.hostIfName ? all.find((l) => l.ifname === ep.hostIfName) : undefined;
          const cont = await inside(ep);
          return {
            id: ep.id,
            container: ep.container,
            netns: ep.netns,
            hostVeth: ep.hostIfName ? { name: ep.hostIfName, exists: !!veth, master: veth?.master ?? null, hairpin: veth?.linkinfo?.info_slave_data?.hairpin ?? null } : null,
            interface: ep.ifName
              ? {
                  name: ep.ifName,
                  exists: !!cont,
                  mac: cont?.address ?? null,
                  addresses: (cont?.addr_info ?? []).map((a) => `${a.local}/${a.prefixlen}`),
                }
              : null,
            ipv4: ep.ipv4,
            ...(ep.ipv6 ? { ipv6: ep.ipv6 } : {}),
            mac: ep.mac,
            gateway: !!ep.isGateway,
            aliases: ep.aliases,
            ...(ep.dnsNames ? { dnsNames: ep.dnsNames } : {}),
            ...(ep.resolver ? { resolver: ep.resolver } : {}),
            ports: ep.ports,
            links: ep.links,
            rules: rules.filter((r) => r.tag === tagOf(ep.id)).map((r) => `${r.family} ${r.table} ${r.line}`),
          };
        }),
      ),
    };
  }

  async function shutdown(): Promise<void> {
    watcher?.stop();
    await dns.stopAll();
  }

  return { restore, inspect, networkUp, networkDown, shutdown, orphans, ownSandboxNetns };
}
