// `berth system check` for the bridge driver: the records against the kernel, one item per
// difference, named at the highest level that explains it (a veth pair gone is one item, not also
// its addresses and routes), and --repair: make the kernel match the records again. Reads: one
// `ip` of the daemon's netns, `ip netns list`, one `ip` per running endpoint's netns (two for a
// gateway endpoint), the firewall's read. Nothing of what is not berth's is looked at.
import type { DriftItem, Endpoint } from '../../types.js';
import type { BridgeInternals, Net } from './index.js';
import type { IpAddrJson, RouteJson } from './kernel.js';
import { configLines, routeLines, sandboxLines } from './plan.js';
import type { bridgeRestore } from './restore.js';

type Side = Pick<ReturnType<typeof bridgeRestore>, 'orphans' | 'networkUp' | 'networkDown'>;

export function bridgeCheck(b: BridgeInternals, side: Side) {
  const { ctx, fw, ports, kernel, dns } = b;
  const { sys, records, log } = ctx;

  async function check(opts: { repair: boolean }): Promise<DriftItem[]> {
    const items: DriftItem[] = [];
    /** Record an item; with repair, run its fix and mark it. */
    const found = async (item: DriftItem, fix?: () => Promise<void>): Promise<void> => {
      if (opts.repair) {
        if (!fix) item.repaired = false;
        else {
          try {
            await fix();
            item.repaired = true;
          } catch (err) {
            item.repaired = false;
            item.error = (err as Error).message;
            log.warn({ err, item }, 'repair failed');
          }
        }
      }
      items.push(item);
    };
    const netRecs = records.list('network').filter((r) => r.driver === 'bridge');
    const nameOf = new Map(netRecs.map((r) => [r.id, r.name]));
    const about = (ep: Endpoint) => ({ network: nameOf.get(ep.networkId) ?? ep.networkId, endpoint: ep.id, container: ep.container.name });
    let have = await kernel.links();

    // bridges and their addresses
    for (const rec of netRecs) {
      const n = b.netOf(rec);
      const dev = have.find((l) => l.ifname === n.bridge);
      const fix = async () => void (await kernel.ensureBridge(n));
      if (!dev) await found({ kind: 'link', state: 'missing', what: `bridge ${n.bridge}`, network: rec.name }, fix);
      else {
        if (!dev.flags?.includes('UP')) await found({ kind: 'link', state: 'wrong', what: `bridge ${n.bridge} is down`, network: rec.name }, fix);
        for (const a of kernel.bridgeAddrs(n))
          if (!kernel.hasAddr(dev, a)) await found({ kind: 'address', state: 'missing', what: `${a} on ${n.bridge}`, network: rec.name }, fix);
      }
    }
    if (opts.repair) have = await kernel.links();

    // sandboxes: netns, veth pairs, what is inside
    const nsList = await kernel.netnsList();
    for (const ep of b.myEndpoints()) {
      if (ep.netns.kind !== 'new' || !ep.hostIfName || !ep.ifName) continue;
      const rec = records.get('network', ep.networkId);
      if (!rec) continue;
      const n = b.netOf(rec);
      const netns = ep.netns.name;
      if (!nsList.includes(netns)) {
        // Only the netns that holds eth0 matters: a second network's check would say the same.
        if (ep.ownsNetns) await found({ kind: 'netns', state: 'missing', what: `netns ${netns} (restart the container: its network namespace is gone)`, ...about(ep) });
        continue;
      }
      const veth = have.find((l) => l.ifname === ep.hostIfName);
      if (!veth) {
        await found({ kind: 'link', state: 'missing', what: `veth ${ep.hostIfName} (${ep.ifName} in ${netns}) on ${n.bridge}`, ...about(ep) }, () => remakeVeth(n, ep));
        continue;
      }
      if (veth.master !== n.bridge || !veth.flags?.includes('UP'))
        await found({ kind: 'link', state: 'wrong', what: `veth ${ep.hostIfName}: ${veth.master !== n.bridge ? `on ${veth.master ?? 'no bridge'}, not ${n.bridge}` : 'down'}`, ...about(ep) }, () =>
          sys.ip.batch([`link set ${ep.hostIfName} master ${n.bridge}`, `link set dev ${ep.hostIfName} type bridge_slave hairpin on`, `link set ${ep.hostIfName} up`]),
        );
      const inside = (await kernel.links(netns).catch(() => [] as IpAddrJson[])).find((l) => l.ifname === ep.ifName);
      if (!inside) {
        await found({ kind: 'link', state: 'missing', what: `${ep.ifName} in ${netns}`, ...about(ep) });
        continue;
      }
      for (const cidr of [ep.ipv4, ep.ipv6].filter((x): x is string => !!x))
        if (!kernel.hasAddr(inside, cidr))
          await found({ kind: 'address', state: 'missing', what: `${cidr} on ${ep.ifName} in ${netns}`, ...about(ep) }, () =>
            sys.ip.batch([`addr add ${cidr} dev ${ep.ifName}${cidr.includes(':') ? ' nodad' : ''}`], { netns }),
          );
      if (ep.isGateway && ep.gateway) {
        const r4 = await sys.ip.json<RouteJson[]>(['route', 'show', 'default'], netns).catch(() => [] as RouteJson[]);
        if (!r4.some((r) => r.gateway === ep.gateway))
          await found({ kind: 'route', state: 'missing', what: `default via ${ep.gateway} dev ${ep.ifName} in ${netns}`, ...about(ep) }, () =>
            sys.ip.batch([`route replace default via ${ep.gateway} dev ${ep.ifName}`], { netns }),
          );
      }
    }

    // berth's leftovers no record owns
    const o = side.orphans(have, nsList);
    for (const x of o.netns) await found({ kind: 'netns', state: 'extra', what: `netns ${x}` }, () => sys.ip.batch([`netns del ${x}`]));
    for (const x of o.links) await found({ kind: 'link', state: 'extra', what: `veth ${x}` }, () => sys.ip.batch([`link del ${x}`]));

    // the firewall (endpoints being changed right now are left out)
    const busy = new Set(b.inflight);
    const scope = (tag: string) => !busy.has(tag);
    const fwr = await fw.sync(b.fwState(), { scope, dryRun: !opts.repair });
    const tagOwner = new Map(b.myEndpoints().map((e) => [ctx.names.ruleTag(e.id), e]));
    const ruleItem = (line: string, state: DriftItem['state']): DriftItem => {
      const owner = [...tagOwner].find(([t]) => line.includes(t))?.[1];
      return { kind: 'rule', state, what: line, ...(owner ? about(owner) : {}), ...(opts.repair ? { repaired: true } : {}) };
    };
    items.push(...fwr.missing.map((l) => ruleItem(l, 'missing')), ...fwr.extra.map((l) => ruleItem(l, 'extra')), ...fwr.reordered.map((l) => ruleItem(`${l} (out of order)`, 'wrong')));

    // host ports held for published ports
    const owners = new Set(b.myEndpoints().map((e) => e.id));
    for (const ep of b.myEndpoints()) {
      for (const p of ep.ports) {
        const st = ports.status(ep.id, p);
        if (st === 'held') continue;
        const what = `${p.hostIp.includes(':') ? `[${p.hostIp}]` : p.hostIp}:${p.hostPort}/${p.proto}${st === 'unheld' ? ' reserved but not held (a host process has it?)' : ''}`;
        await found({ kind: 'port', state: st === 'missing' ? 'missing' : 'wrong', what, ...about(ep) }, async () => {
          if (!(await ports.rehold(ep.id, p))) throw new Error('the port is taken by another process');
        });
      }
    }
    for (const owner of ports.owners())
      if (!owners.has(owner))
        await found({ kind: 'port', state: 'extra', what: ports.owned(owner).map((p) => `${p.hostIp}:${p.hostPort}/${p.proto}`).join(', ') }, () => ports.release(owner));

    // the embedded DNS of user-defined networks
    for (const rec of netRecs) {
      const n = b.netOf(rec);
      if (!n.dns) continue;
      const st = dns.status(rec.id);
      const missing = st ? st.addresses.filter((a) => !st.serving.includes(a)) : [n.v4.gateway];
      for (const a of missing)
        await found({ kind: 'dns', state: 'missing', what: `DNS on ${a}:53${st?.errors.length ? ` (${st.errors.join('; ')})` : ''}`, network: rec.name }, async () => {
          await side.networkDown(n);
          await side.networkUp(n);
          const now = dns.status(rec.id);
          if (!now || now.serving.length < now.addresses.length) throw new Error(now?.errors.join('; ') || 'not serving');
        });
    }
    return items;
  }

  /** Make a lost veth pair again into the endpoint's netns, configured as recorded. */
  async function remakeVeth(n: Net, ep: Endpoint): Promise<void> {
    const netns = (ep.netns as { name: string }).name;
    await sys.ip.batch(sandboxLines({ netns, hostIf: ep.hostIfName!, bridge: n.bridge, ifName: ep.ifName!, newNetns: false, mtu: n.mtu }));
    await sys.ip.batch(
      configLines({
        ifName: ep.ifName!,
        mac: ep.mac!,
        cidr: ep.ipv4!,
        gateway: ep.gateway!,
        ...(ep.ipv6 ? { cidr6: ep.ipv6, gateway6: ep.gateway6 } : {}),
        defaultRoute: false,
      }).filter((l) => l !== 'link set lo up'),
      { netns },
    );
    if (ep.isGateway) await sys.ip.batch(routeLines('replace', ep.ifName!, ep.gateway!, ep.ipv6 ? ep.gateway6 : undefined), { netns });
  }

  return { check };
}
