// User-defined bridges against the fake kernel: subnets from Docker's pools or
// --default-address-pool, options (bridge name, icc, MTU, internal), isolation rules, the default
// route on the gateway endpoint (set_gateway), dual-stack addresses and ports, removal refused
// while endpoints exist.
import { describe, expect, it } from 'vitest';
import { makeBridgeDriver } from '../../../drivers/network/bridge/index.js';
import { fakeSys } from '../../../drivers/sys/fakes/index.js';
import { BerthError } from '../../../drivers/errors.js';
import type { NetworkRecord, NetworkSpec } from '../../../drivers/types.js';
import { dnsNames, gatewayOf, pinnedRequests } from '../../../daemon/networks/gateway.js';
import { createBuiltin, engineWith, hex, makeCtx, memRecords } from './helpers.js';

const err = async (p: Promise<unknown>) => {
  const e = await p.then(() => undefined, (x: unknown) => x);
  expect(e).toBeInstanceOf(BerthError);
  return [(e as BerthError).code, (e as Error).message];
};

async function setup(over: Parameters<typeof makeCtx>[2] = {}) {
  const fake = fakeSys();
  const records = memRecords();
  const ctx = makeCtx(fake, records, over);
  const driver = makeBridgeDriver(ctx, { poolSize: 0, removeDelayMs: 1 });
  const engine = engineWith(driver);
  const dflt = await createBuiltin(engine, driver, records);
  const create = async (spec: Partial<NetworkSpec> & { name: string }): Promise<NetworkRecord> => {
    const rec = await engine.run('create_network', 'bridge', { id: hex(), spec: { driver: 'bridge', ...spec } });
    await records.put('network', rec);
    return rec;
  };
  const attach = (net: NetworkRecord, request = {}) =>
    engine.job('start', (job) => engine.run('allocate_interface', 'bridge', { network: net, container: { id: hex(), name: 'c' }, endpointId: hex(), request }, job));
  return { fake, records, driver, engine, dflt, create, attach };
}

describe('user-defined bridges: create', () => {
  it("take the next free subnet of Docker's pools, a bridge br-<id>, isolation from the other bridges", async () => {
    const s = await setup();
    const a = await s.create({ name: 'a' });
    const b = await s.create({ name: 'b' });
    expect(a.ipam).toEqual([{ subnet: '172.18.0.0/16', gateway: '172.18.0.1' }]);
    expect(b.ipam).toEqual([{ subnet: '172.19.0.0/16', gateway: '172.19.0.1' }]);
    const br = `br-${a.id.slice(0, 12)}`;
    expect(a.options['com.docker.network.bridge.name']).toBe(br);
    expect(s.fake.ip.links().find((l) => l.name === br)).toMatchObject({ kind: 'bridge', up: true, addrs: ['172.18.0.1/16'] });
    const tag = `"bt:${a.id.slice(0, 12)}"`;
    expect(s.fake.iptables.dump()).toEqual(
      expect.arrayContaining([
        `filter -A BERTH-FORWARD -i ${br} ! -o ${br} -m conntrack ! --ctstate DNAT -m comment --comment ${tag} -j BERTH-ISOLATION`,
        `filter -A BERTH-ISOLATION -o ${br} -m comment --comment ${tag} -j DROP`,
        `nat -A BERTH-POSTROUTING -s 172.18.0.0/16 ! -o ${br} -m comment --comment ${tag} -j MASQUERADE`,
      ]),
    );
    // every bridge's isolation rule is there: the default one's too
    expect(s.fake.iptables.dump().filter((l) => l.startsWith('filter -A BERTH-ISOLATION'))).toHaveLength(3);
  });

  it('--subnet/--gateway/--ip-range honoured; an overlap is 403 as Docker; a host route is skipped by the pools', async () => {
    const s = await setup();
    s.fake.ip.ns.get('')!.routes.push('172.18.0.0/16 via 10.0.0.1');
    const auto = await s.create({ name: 'auto' });
    expect(auto.ipam[0]!.subnet).toBe('172.19.0.0/16');
    const n = await s.create({ name: 'n', ipam: [{ subnet: '10.50.0.0/16', gateway: '10.50.0.254', ipRange: '10.50.7.0/24' }] });
    expect(n.ipam).toEqual([{ subnet: '10.50.0.0/16', gateway: '10.50.0.254', ipRange: '10.50.7.0/24' }]);
    const ep = await s.attach(n);
    expect(ep.ipv4).toBe('10.50.7.0/16');
    const before = s.fake.ip.snapshot();
    const rules = s.fake.iptables.dump();
    expect(await err(s.create({ name: 'o', ipam: [{ subnet: '10.50.3.0/24' }] }))).toEqual([
      'forbidden',
      'invalid pool request: Pool overlaps with other one on this address space',
    ]);
    expect((await err(s.create({ name: 'g', ipam: [{ subnet: '10.60.0.0/16', gateway: '10.61.0.1' }] })))[0]).toBe('invalid_parameter');
    expect((await err(s.create({ name: 'r', ipam: [{ gateway: '10.70.0.1' }] })))[1]).toBe('a gateway or an ip-range needs a subnet');
    expect(s.fake.ip.snapshot()).toBe(before);
    expect(s.fake.iptables.dump()).toEqual(rules);
  });

  it('--default-address-pool replaces the defaults; exhausted pools are refused with Docker\'s message', async () => {
    const s = await setup({ defaultAddressPools: [{ base: '10.123.0.0/23', size: 24 }] });
    expect(s.dflt.ipam[0]!.subnet).toBe('10.123.0.0/24');
    expect((await s.create({ name: 'a' })).ipam[0]!.subnet).toBe('10.123.1.0/24');
    expect(await err(s.create({ name: 'b' }))).toEqual(['invalid_parameter', 'all predefined address pools have been fully subnetted']);
  });

  it('-o bridge name, enable_icc=false, mtu: on the bridge and on both ends of every veth', async () => {
    const s = await setup();
    const n = await s.create({ name: 'm', options: { 'com.docker.network.bridge.name': 'bt-m', 'com.docker.network.bridge.enable_icc': 'false', 'com.docker.network.driver.mtu': '1400' } });
    expect(s.fake.ip.links().find((l) => l.name === 'bt-m')).toMatchObject({ kind: 'bridge', mtu: 1400 });
    expect(s.fake.iptables.dump()).toContain(`filter -A BERTH-FORWARD -i bt-m -o bt-m -m comment --comment "bt:${n.id.slice(0, 12)}" -j DROP`);
    expect(s.fake.sysctl.values.get('net.bridge.bridge-nf-call-iptables')).toBe('1');
    await s.attach(n);
    expect(s.fake.ip.calls.some((c) => / link add bv[0-9a-f]{11} mtu 1400 master bt-m type veth peer name eth0 mtu 1400 netns /.test(c))).toBe(true);
    expect((await err(s.create({ name: 'x', options: { 'com.docker.network.driver.mtu': '20' } })))[0]).toBe('invalid_parameter');
    expect((await err(s.create({ name: 'y', options: { 'com.docker.network.bridge.name': 'bt-m' } })))[0]).toBe('conflict');
  });

  it('--internal: no masquerade, traffic in and out of the bridge dropped, no default route in the container', async () => {
    const s = await setup();
    const n = await s.create({ name: 'i', internal: true });
    const br = `br-${n.id.slice(0, 12)}`;
    const mine = s.fake.iptables.dump().filter((l) => l.includes(`bt:${n.id.slice(0, 12)}`));
    expect(mine.some((l) => l.includes('-s 172.18.0.0/16') && l.includes('MASQUERADE'))).toBe(false);
    expect(mine).toEqual(
      expect.arrayContaining([
        expect.stringContaining(`BERTH-FORWARD -i ${br} ! -o ${br} -m comment`),
        expect.stringContaining(`BERTH-FORWARD ! -i ${br} -o ${br} -m comment`),
      ]),
    );
    const ep = await s.attach(n);
    expect(ep.isGateway).toBe(false);
    expect(s.fake.ip.ns.get((ep.netns as { name: string }).name)!.routes).toEqual([]);
  });

  it('removal with an endpoint: 403 as Docker; without: bridge and rules gone', async () => {
    const s = await setup();
    const n = await s.create({ name: 'r' });
    const ep = await s.attach(n);
    expect(await err(s.engine.run('delete_network', 'bridge', { network: n }))).toEqual([
      'forbidden',
      `error while removing network: network r id ${n.id} has active endpoints`,
    ]);
    await s.engine.run('release_interface', 'bridge', { network: n, endpoint: ep });
    await s.engine.run('delete_network', 'bridge', { network: n });
    await s.records.delete('network', n.id);
    expect(s.fake.ip.links().some((l) => l.name === `br-${n.id.slice(0, 12)}`)).toBe(false);
    expect(s.fake.iptables.dump().some((l) => l.includes(n.id.slice(0, 12)))).toBe(false);
  });
});

describe('several networks in one netns: the gateway endpoint', () => {
  it('a second interface without a route; set_gateway moves the default route between them', async () => {
    const s = await setup();
    const n = await s.create({ name: 'n2' });
    const first = await s.attach(s.dflt);
    const ns = (first.netns as { name: string }).name;
    const second = await s.attach(n, { netns: first.netns, ifName: 'eth1', gateway: false });
    expect(s.fake.ip.ns.get(ns)!.routes).toEqual(['default via 172.17.0.1']);
    expect(s.fake.ip.links(ns).map((l) => l.name).sort()).toEqual(['eth0', 'eth1', 'lo']);
    await s.engine.run('set_gateway', 'bridge', { network: s.dflt, endpoint: first, gateway: false });
    const moved = await s.engine.run('set_gateway', 'bridge', { network: n, endpoint: second, gateway: true });
    expect(moved.isGateway).toBe(true);
    expect(s.records.get('endpoint', second.id)!.isGateway).toBe(true);
    expect(s.records.get('endpoint', first.id)!.isGateway).toBe(false);
    expect(s.fake.ip.ns.get(ns)!.routes).toEqual(['default via 172.18.0.1']);
    // idempotent, and a route already gone is fine
    await s.engine.run('set_gateway', 'bridge', { network: n, endpoint: moved, gateway: true });
    await s.engine.run('set_gateway', 'bridge', { network: s.dflt, endpoint: first, gateway: false });
    expect(s.fake.ip.ns.get(ns)!.routes).toEqual(['default via 172.18.0.1']);
    // release of the second interface: only its veth goes
    await s.engine.run('release_interface', 'bridge', { network: n, endpoint: second });
    expect(s.fake.ip.links(ns).map((l) => l.name).sort()).toEqual(['eth0', 'lo']);
  });
});

describe('dual-stack networks', () => {
  it('--ipv6: a ULA /64 (or the one asked for), addresses on the bridge and the container, v6 route, -p on both families with one port', async () => {
    const s = await setup();
    const auto = await s.create({ name: 'v6auto', ipv6: true });
    expect(auto.ipv6).toBe(true);
    expect(auto.ipam[1]!.subnet).toMatch(/^fd[0-9a-f]{2}:[0-9a-f:]+::\/64$/);
    const n = await s.create({ name: 'v6', ipv6: true, ipam: [{ subnet: 'fd00:db8::/64' }] });
    expect(n.ipam).toEqual([
      { subnet: '172.19.0.0/16', gateway: '172.19.0.1' },
      { subnet: 'fd00:db8::/64', gateway: 'fd00:db8::1' },
    ]);
    const br = `br-${n.id.slice(0, 12)}`;
    expect(s.fake.ip.links().find((l) => l.name === br)!.addrs).toEqual(['172.19.0.1/16', 'fd00:db8::1/64']);
    expect(s.fake.sysctl.values.get(`net.ipv6.conf.${br}.disable_ipv6`)).toBe('0');
    expect(s.fake.sysctl.values.get('net.ipv6.conf.all.forwarding')).toBe('1');
    const ep = await s.attach(n);
    expect(ep).toMatchObject({ ipv4: '172.19.0.2/16', ipv6: 'fd00:db8::2/64', gateway6: 'fd00:db8::1' });
    const ns = (ep.netns as { name: string }).name;
    expect(s.fake.ip.links(ns).find((l) => l.name === 'eth0')!.addrs).toEqual(['172.19.0.2/16', 'fd00:db8::2/64']);
    expect(s.fake.ip.ns.get(ns)!.routes).toEqual(['default via 172.19.0.1', '::/0 via fd00:db8::1']);
    const ports = await s.engine.run('allocate_port', 'bridge', { network: n, endpoint: ep, requests: [{ containerPort: 80, proto: 'tcp', hostIp: '', hostPort: 0, hostPortEnd: 0 }] });
    expect(ports).toHaveLength(2);
    expect(ports.map((p) => p.hostIp)).toEqual(['0.0.0.0', '::']);
    expect(ports[0]!.hostPort).toBe(ports[1]!.hostPort);
    expect(s.fake.ports.held).toEqual(new Set([`tcp/0.0.0.0/${ports[0]!.hostPort}`, `tcp/::/${ports[0]!.hostPort}`]));
    const tag = `bt:${ep.id.slice(0, 12)}`;
    expect(s.fake.iptables.dump(6)).toContain(`nat -A BERTH -p tcp -m tcp --dport ${ports[0]!.hostPort} -m comment --comment "${tag}" -j DNAT --to-destination [fd00:db8::2]:80`);
    expect(s.fake.iptables.dump(4)).toContain(`nat -A BERTH -p tcp -m tcp --dport ${ports[0]!.hostPort} -m comment --comment "${tag}" -j DNAT --to-destination 172.19.0.2:80`);
    // --ip6 asked for; a v6 address on a v4-only network is refused; overlap refused
    expect((await s.attach(n, { ipv6: 'FD00:0DB8:0::99' })).ipv6).toBe('fd00:db8::99/64'); // recorded as the kernel prints it
    expect((await err(s.attach(s.dflt, { ipv6: 'fd00:db8::98' })))[0]).toBe('invalid_parameter');
    expect((await err(s.create({ name: 'o6', ipv6: true, ipam: [{ subnet: 'fd00:db8::/48' }] })))[0]).toBe('forbidden');
    // release: both families' rules go
    await s.engine.run('release_port', 'bridge', { network: n, endpoint: ep });
    await s.engine.run('release_interface', 'bridge', { network: n, endpoint: ep });
    await s.driver.shutdown!();
    expect(s.fake.iptables.dump(6).some((l) => l.includes(tag))).toBe(false);
    expect(s.fake.iptables.dump(4).some((l) => l.includes(tag))).toBe(false);
  });
});

describe("Docker's rules for several networks (pure)", () => {
  const c = (networkId: string, o: Partial<Parameters<typeof gatewayOf>[0][number]> = {}) => ({
    networkId,
    name: networkId,
    internal: false,
    ipv6: false,
    priority: 0,
    routable: true,
    ...o,
  });
  it('gateway: priority, then non-internal, then dual-stack, then the name', () => {
    expect(gatewayOf([c('zeta'), c('alpha')])).toBe('alpha');
    expect(gatewayOf([c('zeta', { ipv6: true }), c('alpha')])).toBe('zeta');
    expect(gatewayOf([c('zeta'), c('alpha', { internal: true })])).toBe('zeta');
    expect(gatewayOf([c('zeta', { priority: 5 }), c('alpha', { ipv6: true })])).toBe('zeta');
    expect(gatewayOf([c('only', { internal: true })])).toBeUndefined();
    expect(gatewayOf([c('none', { routable: false })])).toBeUndefined();
  });
  it('DNS names: name, aliases, short id, hostname, without duplicates', () => {
    const id = 'f'.repeat(64);
    expect(dnsNames({ id, name: 'web', hostname: 'ffffffffffff' }, ['www', 'web'])).toEqual(['web', 'www', 'ffffffffffff']);
    expect(dnsNames({ id, name: 'web', hostname: 'h1' }, [])).toEqual(['web', 'ffffffffffff', 'h1']);
  });
  it('pinned requests keep the host ports; both wildcards fold into one request', () => {
    expect(
      pinnedRequests([
        { containerPort: 80, proto: 'tcp', hostIp: '0.0.0.0', hostPort: 32768 },
        { containerPort: 80, proto: 'tcp', hostIp: '::', hostPort: 32768 },
        { containerPort: 53, proto: 'udp', hostIp: '127.0.0.1', hostPort: 5353 },
      ]),
    ).toEqual([
      { containerPort: 80, proto: 'tcp', hostIp: '', hostPort: 32768, hostPortEnd: 32768 },
      { containerPort: 53, proto: 'udp', hostIp: '127.0.0.1', hostPort: 5353, hostPortEnd: 5353 },
    ]);
  });
});
