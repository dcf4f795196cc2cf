// The shared driver test kit: one suite run against every network driver in the registry.
// create → allocate → release → delete leaves no link, rule, netns or record tagged for the network
// or the endpoint; a bad request changes nothing. A driver added to the registry without a fixture
// here fails the suite: add one.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isRoot, skipReason, uniquePrefix } from '../../helpers/prefix.js';
import { makeHost, type TestHost } from '../../helpers/netns.js';
import { must } from '../../helpers/sh.js';
import { startDriverHost, type DriverHost } from '../../helpers/driver-host.js';
import { builtinDrivers } from '../../../drivers/registry.js';
import type { EndpointRequest, NetworkRecord, NetworkSpec } from '../../../drivers/types.js';
import { randomBytes } from 'node:crypto';

const networkDrivers = Object.keys(builtinDrivers)
  .filter((k) => k.startsWith('network/'))
  .map((k) => k.slice('network/'.length));
const hex = () => randomBytes(32).toString('hex');

interface Fixture {
  /** A network to test with: made by create_network from `spec`, or given (`record`). */
  spec?: (prefix: string) => NetworkSpec;
  record?: NetworkRecord;
  /** A valid request (may need the driver host, e.g. a container to join). */
  request: (dh: DriverHost, target: NetworkRecord) => Promise<EndpointRequest>;
  /** A request the driver must refuse. */
  bad: EndpointRequest;
}

const fixtures: Record<string, Fixture> = {
  bridge: {
    spec: (prefix) => ({ name: 'contract', driver: 'bridge', options: { 'com.docker.network.bridge.name': `${prefix}k` } }),
    request: async () => ({}),
    bad: { ipv4: '1.2.3' },
  },
  host: { spec: () => ({ name: 'contract-host', driver: 'host' }), request: async () => ({}), bad: { ipv4: '10.1.1.1' } },
  none: { spec: () => ({ name: 'contract-none', driver: 'none' }), request: async () => ({}), bad: { ipv4: '10.1.1.1' } },
  container: {
    record: { id: 'c1'.repeat(32), name: 'container', driver: 'container', created: '', internal: false, ipv6: false, builtin: true, ipam: [], options: {}, labels: {} },
    async request(dh, target) {
      const { endpoint } = await dh.start(target);
      return { joinContainer: { id: endpoint.container.id, name: 't', running: true, netns: endpoint.netns } };
    },
    bad: { joinContainer: { id: 'ab'.repeat(32), name: 'stopped', running: false, netns: undefined } },
  },
};

describe.skipIf(!isRoot)(`network driver contract on the kernel ${skipReason}`, () => {
  const prefix = uniquePrefix();
  let host: TestHost;
  let dh: DriverHost;
  let target: NetworkRecord;

  beforeAll(async () => {
    host = await makeHost(prefix);
    dh = await startDriverHost({ netns: host.name, prefix, bridge: `${prefix}br`, pool: 1 });
    // where the container driver's targets live
    target = await dh.run('create_network', 'none', { id: hex(), spec: { name: 'contract-target', driver: 'none' } });
  });
  afterAll(async () => {
    await dh?.close();
    await host?.destroy();
  });

  it('every network driver in the registry has a fixture', () => {
    expect(networkDrivers.filter((d) => !fixtures[d])).toEqual([]);
  });

  /** What the kernel and the store hold that carries one of `ids` (tags, names). */
  async function traces(ids: string[]) {
    const short = ids.map((i) => i.slice(0, 12));
    const rules = (await must(['nsenter', `--net=/run/netns/${host.name}`, '--', 'iptables-save'])).split('\n').filter((l) => short.some((s) => l.includes(`${prefix}:${s}`)));
    const links = (JSON.parse(await must(['ip', '-n', host.name, '-json', 'link', 'show'])) as { ifname: string }[]).map((l) => l.ifname);
    const netns = (JSON.parse((await must(['ip', '-json', 'netns', 'list'])) || '[]') as { name: string }[]).map((n) => n.name);
    const recs = await dh.records();
    return { rules, links, netns, endpoints: recs.endpoints.filter((e) => ids.includes(e.id) || ids.includes(e.networkId)).map((e) => e.id) };
  }

  for (const name of networkDrivers) {
    it(`${name}: create → allocate → release → delete leaves nothing; a bad request changes nothing`, async () => {
      const fx = fixtures[name];
      if (!fx) throw new Error(`no contract fixture for network driver "${name}"`);
      const before = await traces([]);
      const net = fx.record ?? (await dh.run('create_network', name, { id: hex(), spec: fx.spec!(prefix) }));
      await dh.poolReady(net); // let a sandbox pool fill (it is the driver's to remove)
      const request = await fx.request(dh, target);
      const mid = await traces([net.id]);

      const bad = await dh.start(net, { request: fx.bad }).catch((e: unknown) => e);
      expect(bad).toBeInstanceOf(Error);
      expect(['invalid_parameter', 'conflict', 'not_found']).toContain((bad as { code: string }).code);
      await dh.settle();
      const afterBad = await traces([net.id]);
      expect(afterBad.rules).toEqual(mid.rules);
      expect(afterBad.endpoints).toEqual(mid.endpoints);

      const { endpoint } = await dh.start(net, { request });
      const live = await traces([net.id, endpoint.id]);
      expect(live.endpoints).toContain(endpoint.id);
      await dh.stop(net, endpoint);
      if (!fx.record) await dh.run('delete_network', name, { network: net });
      await dh.settle();
      const after = await traces([net.id, endpoint.id]);
      expect(after.rules).toEqual([]);
      expect(after.endpoints).toEqual([]);
      if (endpoint.hostIfName) expect(after.links).not.toContain(endpoint.hostIfName);
      if (endpoint.ownsNetns && endpoint.netns.kind === 'new') expect(after.netns).not.toContain(endpoint.netns.name);
      // nothing of the network's either: no new link or netns compared with before it existed
      expect(after.links.filter((l) => !before.links.includes(l))).toEqual([]);
      const ours = (n: string[]) => n.filter((x) => x.startsWith(`${prefix}-`) && x !== host.name);
      const targetNs = name === 'container' ? [(request.joinContainer!.netns as { name: string }).name] : [];
      expect(ours(after.netns).filter((n) => !ours(before.netns).includes(n) && !targetNs.includes(n))).toEqual([]);
    });
  }
});
