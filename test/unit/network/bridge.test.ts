// The bridge driver against the fake kernel: what it makes, how many programs a start costs, that
// release leaves nothing, that a failure at any kernel call is undone whole, and restore.
import { describe, expect, it } from 'vitest';
import { makeBridgeDriver } from '../../../drivers/network/bridge/index.js';
import { failNth, fakeSys, type FakeSys } from '../../../drivers/sys/fakes/index.js';
import { BerthError } from '../../../drivers/errors.js';
import type { Endpoint, NetworkRecord, PortBindingRequest } from '../../../drivers/types.js';
import type { Sys } from '../../../drivers/sys/index.js';
import { createBuiltin, engineWith, hex, makeCtx, memRecords } from './helpers.js';

const req = (hostPort: number, containerPort = 80, proto: 'tcp' | 'udp' = 'tcp'): PortBindingRequest => ({
  containerPort,
  proto,
  hostIp: '',
  hostPort,
  hostPortEnd: hostPort,
});
const ctr = () => ({ id: hex(), name: 'c' });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function setup(o: { poolSize?: number; icc?: boolean; sys?: Sys; fake?: FakeSys } = {}) {
  const fake = o.fake ?? fakeSys();
  const records = memRecords();
  const ctx = makeCtx(o.sys ?? fake, records, { icc: o.icc ?? true });
  const driver = makeBridgeDriver(ctx, { poolSize: o.poolSize ?? 0, removeDelayMs: 1 });
  const engine = engineWith(driver);
  const net = await createBuiltin(engine, driver, records);
  return { fake, records, ctx, driver, engine, net };
}

async function start(s: Awaited<ReturnType<typeof setup>>, requests: PortBindingRequest[] = [], ipv4?: string) {
  return s.engine.job('container-start', async (job) => {
    const ep = await s.engine.run('allocate_interface', 'bridge', { network: s.net, container: ctr(), endpointId: hex(), request: ipv4 ? { ipv4 } : {} }, job);
    const ports = await s.engine.run('allocate_port', 'bridge', { network: s.net, endpoint: ep, requests }, job);
    return { ep, ports };
  });
}

async function stop(s: Awaited<ReturnType<typeof setup>>, ep: Endpoint) {
  await s.engine.run('release_port', 'bridge', { network: s.net, endpoint: ep });
  await s.engine.run('release_interface', 'bridge', { network: s.net, endpoint: ep });
}

const err = async (p: Promise<unknown>) => {
  const e = await p.then(() => undefined, (x: unknown) => x);
  expect(e).toBeInstanceOf(BerthError);
  return [(e as BerthError).code, (e as Error).message];
};

describe('bridge driver: create_network', () => {
  it('the default network: bridge with 172.17.0.1/16, sysctls, base rules, Docker options', async () => {
    const { fake, net } = await setup();
    expect(net.ipam).toEqual([{ subnet: '172.17.0.0/16', gateway: '172.17.0.1' }]);
    expect(net.options).toMatchObject({ 'com.docker.network.bridge.name': 'bt0', 'com.docker.network.bridge.default_bridge': 'true' });
    const br = fake.ip.links().find((l) => l.name === 'bt0')!;
    expect(br).toMatchObject({ kind: 'bridge', up: true, addrs: ['172.17.0.1/16'] });
    expect(fake.sysctl.values.get('net.ipv4.ip_forward')).toBe('1');
    expect(fake.sysctl.values.get('net.ipv4.conf.bt0.route_localnet')).toBe('1');
    const rules = fake.iptables.dump();
    expect(rules).toContain('nat -A BERTH-POSTROUTING -s 172.17.0.0/16 ! -o bt0 -m comment --comment "bt:' + net.id.slice(0, 12) + '" -j MASQUERADE');
    expect(rules.every((r) => /--comment "bt:[0-9a-f]{12}"/.test(r))).toBe(true);
  });

  it('skips 172.17.0.0/16 when a host route overlaps it; honours --bip and --fixed-cidr', async () => {
    const fake = fakeSys();
    fake.ip.ns.get('')!.routes.push('172.17.5.0/24 via 10.0.0.1');
    const s = await setup({ fake });
    expect(s.net.ipam[0]!.subnet).toBe('172.18.0.0/16');

    const records = memRecords();
    const d = makeBridgeDriver(makeCtx(fakeSys(), records, { bip: '10.66.0.1/24', fixedCidr: '10.66.0.128/25' }), { poolSize: 0 });
    const n = await createBuiltin(engineWith(d), d, records);
    expect(n.ipam).toEqual([{ subnet: '10.66.0.0/24', gateway: '10.66.0.1', ipRange: '10.66.0.128/25' }]);
  });

  it('refuses bad options before touching anything', async () => {
    const fake = fakeSys();
    const d = makeBridgeDriver(makeCtx(fake), { poolSize: 0 });
    const e = engineWith(d);
    expect((await err(e.run('create_network', 'bridge', { id: hex(), spec: { name: 'x', driver: 'bridge', options: { 'com.docker.network.bridge.name': 'bad/name' } } })))[0]).toBe('invalid_parameter');
    expect((await err(e.run('create_network', 'bridge', { id: hex(), spec: { name: 'x', driver: 'bridge', options: { 'com.docker.network.bridge.enable_icc': 'maybe' } } })))[0]).toBe('invalid_parameter');
    expect(fake.iptables.restores).toHaveLength(0);
    expect(fake.ip.links().map((l) => l.name)).toEqual(['lo']);
  });
});

describe('bridge driver: a container start', () => {
  it('from the pool: one ip execution for the interface, one iptables-restore for the ports', async () => {
    const s = await setup({ poolSize: 2 });
    await sleep(60); // the pool fills off the start path
    expect(s.fake.ip.netnsNames()).toHaveLength(2);
    s.fake.execs.length = 0;
    const { ep, ports } = await start(s, [req(8080), req(5353, 53, 'udp')]);
    expect(s.fake.execs).toEqual([['ip', 'batch'], ['iptables-restore']]);
    expect(ep).toMatchObject({ ipv4: '172.17.0.2/16', gateway: '172.17.0.1', mac: '02:42:ac:11:00:02', ifName: 'eth0', ownsNetns: true, driver: 'bridge' });
    expect(ep.netns).toMatchObject({ kind: 'new', path: `/run/netns/${(ep.netns as { name: string }).name}` });
    expect(s.ctx.names.ownsNetns((ep.netns as { name: string }).name)).toBe(true);
    expect(ports).toEqual([
      { containerPort: 80, proto: 'tcp', hostIp: '0.0.0.0', hostPort: 8080 },
      { containerPort: 53, proto: 'udp', hostIp: '0.0.0.0', hostPort: 5353 },
    ]);
    expect(s.records.get('endpoint', ep.id)!.ports).toEqual(ports);
    const inNs = s.fake.ip.links((ep.netns as { name: string }).name);
    expect(inNs.find((l) => l.name === 'eth0')).toMatchObject({ up: true, mac: '02:42:ac:11:00:02', addrs: ['172.17.0.2/16'] });
    expect(inNs.find((l) => l.name === 'lo')!.up).toBe(true);
    expect(s.fake.ip.ns.get((ep.netns as { name: string }).name)!.routes).toEqual(['default via 172.17.0.1']);
    expect(s.fake.ip.links().find((l) => l.name === ep.hostIfName)).toMatchObject({ master: 'bt0', up: true, hairpin: true, addrgenmode: 'none' });
    expect(inNs.find((l) => l.name === 'eth0')!.addrgenmode).toBe('none');
    expect(s.fake.ports.held).toEqual(new Set(['tcp/0.0.0.0/8080', 'udp/0.0.0.0/5353']));
    const tag = `"bt:${ep.id.slice(0, 12)}"`;
    expect(s.fake.iptables.dump().filter((l) => l.includes(tag))).toHaveLength(6); // 2 DNAT, 2 hairpin, 2 accept
    await sleep(60);
    expect(s.fake.ip.netnsNames()).toHaveLength(3); // refilled
    await s.driver.shutdown!();
  });

  it('without a ready sandbox: two ip executions; every address once; --ip honoured, taken → 403', async () => {
    const s = await setup();
    s.fake.execs.length = 0;
    const a = await start(s);
    expect(s.fake.execs).toEqual([['ip', 'batch'], ['ip', 'batch']]);
    const b = await start(s, [], '172.17.0.9');
    expect(b.ep.ipv4).toBe('172.17.0.9/16');
    expect((await start(s)).ep.ipv4).toBe('172.17.0.3/16');
    expect(a.ep.ipv4).toBe('172.17.0.2/16');
    const before = s.fake.ip.snapshot();
    expect(await err(start(s, [], '172.17.0.9'))).toEqual(['forbidden', 'Address already in use']);
    expect(await err(start(s, [], '172.17.0.1'))).toEqual(['invalid_parameter', 'address 172.17.0.1 is not a host address of subnet 172.17.0.0/16']);
    expect(s.fake.ip.snapshot()).toBe(before);
  });

  it('release leaves no link, netns, rule, address, port or record', async () => {
    const s = await setup();
    const ip0 = s.fake.ip.snapshot();
    const ipt0 = s.fake.iptables.dump();
    const rec0 = s.records.dump();
    const { ep } = await start(s, [req(8080), req(0, 81)]);
    await stop(s, ep);
    await s.driver.shutdown!(); // finishes queued removals
    expect(s.fake.ip.snapshot()).toBe(ip0);
    expect(s.fake.iptables.dump()).toEqual(ipt0);
    expect(s.records.dump()).toBe(rec0);
    expect(s.fake.ports.held.size).toBe(0);
    // idempotent
    await stop(s, ep);
    // the address and the port can be had again
    const again = await start(s, [req(8080)], '172.17.0.2');
    expect(again.ports[0]!.hostPort).toBe(8080);
  });

  it('a taken port: conflict with Docker message, the start is undone whole', async () => {
    const s = await setup();
    await start(s, [req(8080)]);
    const ip0 = s.fake.ip.snapshot();
    const ipt0 = s.fake.iptables.dump();
    const rec0 = s.records.dump();
    expect(await err(start(s, [req(9090), req(8080)]))).toEqual(['conflict', 'Bind for 0.0.0.0:8080 failed: port is already allocated']);
    s.fake.ports.busy.add('tcp/0.0.0.0/7070');
    expect((await err(start(s, [req(7070)])))[0]).toBe('conflict');
    expect(s.fake.ip.snapshot()).toBe(ip0);
    expect(s.fake.iptables.dump()).toEqual(ipt0);
    expect(s.records.dump()).toBe(rec0);
    expect([...s.fake.ports.held]).toEqual(['tcp/0.0.0.0/8080']);
  });

  it('an exhausted pool: conflict, nothing left', async () => {
    const fake = fakeSys();
    const records = memRecords();
    const d = makeBridgeDriver(makeCtx(fake, records), { poolSize: 0 });
    const engine = engineWith(d);
    const net: NetworkRecord = await engine.run('create_network', 'bridge', {
      id: hex(),
      spec: { name: 'tiny', driver: 'bridge', ipam: [{ subnet: '10.77.0.0/30' }] },
    });
    await records.put('network', net);
    const s = { fake, records, ctx: makeCtx(fake, records), driver: d, engine, net };
    expect((await start(s)).ep.ipv4).toBe('10.77.0.2/30');
    const snap = fake.ip.snapshot();
    expect(await err(start(s))).toEqual(['conflict', "no available IPv4 addresses on this network's address pools: 10.77.0.0/30"]);
    expect(fake.ip.snapshot()).toBe(snap);
  });
});

describe('bridge driver: a second network', () => {
  it("adds an interface to the container's netns (2 ip executions), no default route; release removes only it", async () => {
    const s = await setup();
    const first = (await start(s)).ep;
    const net2: NetworkRecord = await s.engine.run('create_network', 'bridge', {
      id: hex(),
      spec: { name: 'user1', driver: 'bridge', options: { 'com.docker.network.bridge.name': 'bt1' } },
    });
    await s.records.put('network', net2);
    expect(net2.ipam[0]!.subnet).toBe('172.18.0.0/16'); // 172.17/16 is the default network's
    s.fake.execs.length = 0;
    const ep2 = await s.engine.run('allocate_interface', 'bridge', {
      network: net2,
      container: first.container,
      endpointId: hex(),
      request: { netns: first.netns, ifName: 'eth1' },
    });
    expect(s.fake.execs).toEqual([['ip', 'batch'], ['ip', 'batch']]);
    expect(ep2).toMatchObject({ ownsNetns: false, ifName: 'eth1', ipv4: '172.18.0.2/16', netns: first.netns, hostIfName: s.ctx.names.hostVeth(ep2.id) });
    const ns = (first.netns as { name: string }).name;
    expect(s.fake.ip.links(ns).map((l) => l.name).sort()).toEqual(['eth0', 'eth1', 'lo']);
    expect(s.fake.ip.ns.get(ns)!.routes).toEqual(['default via 172.17.0.1']);
    expect(s.fake.ip.links().find((l) => l.name === ep2.hostIfName)!.master).toBe('bt1');
    await s.engine.run('release_interface', 'bridge', { network: net2, endpoint: ep2 });
    expect(s.fake.ip.links(ns).map((l) => l.name).sort()).toEqual(['eth0', 'lo']);
    expect(s.fake.ip.links().some((l) => l.name === ep2.hostIfName)).toBe(false);
    await s.engine.run('delete_network', 'bridge', { network: net2 });
    expect(s.fake.ip.links().some((l) => l.name === 'bt1')).toBe(false);
    expect(s.fake.iptables.dump().some((l) => l.includes(net2.id.slice(0, 12)))).toBe(false);
  });
});

describe('bridge driver: a failure at any kernel call is undone', () => {
  it.each([0, 2])('pool size %i: for every N, failing the Nth call leaves the kernel, records and ports as before', async (poolSize) => {
    let n = 1;
    for (; n < 40; n++) {
      const fake = fakeSys();
      const f = failNth(fake, Infinity);
      const s = await setup({ sys: f, fake, poolSize });
      await s.engine.run('allocate_interface', 'bridge', { network: s.net, container: ctr(), endpointId: hex(), request: {} }); // one that stays
      await sleep(poolSize ? 60 : 0);
      const ip0 = fake.ip.snapshot();
      const ipt0 = fake.iptables.dump();
      const rec0 = s.records.dump();
      const held0 = [...fake.ports.held];
      f.arm(n);
      const r = await start(s, [req(8080), req(5353, 53, 'udp'), req(0, 90)]).then(
        () => 'ok',
        (e: unknown) => e,
      );
      const calls = f.calls();
      f.arm(Infinity);
      if (r === 'ok') {
        expect(calls).toBeLessThan(n);
        break;
      }
      expect(r).toBeInstanceOf(Error);
      await s.driver.shutdown!(); // finishes queued removals, removes the pool's ready sandboxes
      expect(fake.ip.snapshot()).not.toContain('172.17.0.3');
      const eps = s.records.list('endpoint');
      expect(fake.ip.netnsNames().sort()).toEqual(eps.map((e) => (e.netns as { name: string }).name).sort());
      expect(fake.ip.links().filter((l) => l.kind === 'veth').map((l) => l.name).sort()).toEqual(eps.map((e) => e.hostIfName).sort());
      expect(fake.iptables.dump()).toEqual(ipt0);
      expect(s.records.dump()).toBe(rec0);
      expect([...fake.ports.held]).toEqual(held0);
      if (!poolSize) expect(fake.ip.snapshot()).toBe(ip0);
    }
    expect(n).toBeGreaterThan(2); // the loop did fail some calls before the clean run
  });
});

describe('bridge driver: links (icc=false)', () => {
  it('link adds ACCEPT rules for the linked ports, recorded; unlink removes them', async () => {
    const s = await setup({ icc: false });
    const a = (await start(s)).ep;
    const b = (await start(s)).ep;
    await s.engine.run('link', 'bridge', { network: s.net, from: a, to: b, ports: [{ port: 80, proto: 'tcp' }] });
    expect(s.records.get('endpoint', a.id)!.links).toEqual([{ toEndpointId: b.id, toIp: '172.17.0.3', fromIp: '172.17.0.2', ports: [{ port: 80, proto: 'tcp' }] }]);
    const line = `filter -A BERTH -s 172.17.0.2/32 -d 172.17.0.3/32 -i bt0 -o bt0 -p tcp -m tcp --dport 80 -m comment --comment "bt:${a.id.slice(0, 12)}" -j ACCEPT`;
    expect(s.fake.iptables.dump()).toContain(line);
    expect(s.fake.iptables.dump()).toContain(`filter -A BERTH-FORWARD -i bt0 -o bt0 -m comment --comment "bt:${s.net.id.slice(0, 12)}" -j DROP`);
    await s.engine.run('unlink', 'bridge', { network: s.net, from: a, to: b });
    await s.driver.shutdown!();
    expect(s.fake.iptables.dump()).not.toContain(line);
    expect(s.records.get('endpoint', a.id)!.links).toEqual([]);
  });
});

describe('bridge driver: restore', () => {
  it('after a restart: re-creates missing rules, re-holds ports, removes what no record owns', async () => {
    const s = await setup();
    const { ep } = await start(s, [req(8080)]);
    await s.driver.shutdown!(); // the daemon stops; kernel state stays
    const tag = `bt:${ep.id.slice(0, 12)}`;
    // damage: a lost DNAT rule, a leftover of a dead endpoint, an orphan netns and veth
    const dnat = s.fake.iptables.dump().find((l) => l.startsWith('nat ') && l.includes(tag) && l.includes('-j DNAT'))!;
    await s.fake.iptables.restore(`*nat\n-D${dnat.slice('nat -A'.length)}\nCOMMIT\n`);
    await s.fake.iptables.restore('*nat\n-A BERTH -p tcp -m tcp --dport 9999 -m comment --comment "bt:dddddddddddd" -j DNAT --to-destination 172.17.0.50:80\nCOMMIT\n');
    await s.fake.ip.batch(['netns add bt-eeeeeeeeeeee', 'link add bveeeeeeeeeee type veth peer name x', 'netns add other-ns']);
    const d2 = makeBridgeDriver(s.ctx, { poolSize: 0 });
    const report = await d2.restore();
    expect(report.recreated).toEqual([`rule ip nat ${dnat.slice(4)}`]);
    expect(report.removed).toEqual(
      expect.arrayContaining([expect.stringContaining('dddddddddddd'), 'netns bt-eeeeeeeeeeee', 'link bveeeeeeeeeee']),
    );
    expect(s.fake.iptables.dump()).toContain(dnat);
    expect(s.fake.iptables.dump().some((l) => l.includes('dddddddddddd'))).toBe(false);
    expect(s.fake.ip.netnsNames()).toContain('other-ns'); // not ours: untouched
    expect(s.fake.ip.netnsNames()).not.toContain('bt-eeeeeeeeeeee');
    expect([...s.fake.ports.held]).toEqual(['tcp/0.0.0.0/8080']);
    // a second restore has nothing to do
    expect(await d2.restore()).toEqual({ recreated: [], removed: [] });
    // the IPAM knows the recorded address
    const e2 = engineWith(d2);
    const next = await e2.run('allocate_interface', 'bridge', { network: s.net, container: ctr(), endpointId: hex(), request: {} });
    expect(next.ipv4).toBe('172.17.0.3/16');
    const inspect = await d2.inspect!(s.net, s.records.list('endpoint'));
    expect(inspect).toMatchObject({ bridge: { name: 'bt0', exists: true, addresses: ['172.17.0.1/16'] } });
    const eps = (inspect as { endpoints: { id: string; rules: string[]; hostVeth: { exists: boolean; master: string } }[] }).endpoints;
    expect(eps.find((x) => x.id === ep.id)!.rules).toHaveLength(3);
    expect(eps.find((x) => x.id === ep.id)!.hostVeth).toMatchObject({ exists: true, master: 'bt0' });
    await d2.shutdown!();
  });
});
