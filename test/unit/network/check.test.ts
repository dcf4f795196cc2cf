// System check and the flush watcher against the fake kernel: drift reported exactly (a deleted
// veth and a deleted rule are two items, nothing derived), repaired, then clean; extra objects;
// the DNS responder; the watcher repairing an outside flush and ignoring berth's own writes; the
// `berth system check` command's output and exit codes.
import { describe, expect, it } from 'vitest';
import { makeBridgeDriver } from '../../../drivers/network/bridge/index.js';
import { fakeSys } from '../../../drivers/sys/fakes/index.js';
import { FlushWatcher } from '../../../drivers/network/firewall/watch.js';
import { silentLog } from '../../../drivers/log.js';
import type { NetworkRecord, PortBindingRequest } from '../../../drivers/types.js';
import checkCommand from '../../../client/commands/system/check.js';
import { fakeApi, recIo } from '../client/fake.js';
import { createBuiltin, engineWith, hex, makeCtx, memRecords } from './helpers.js';

const p80 = (hostPort: number): PortBindingRequest => ({ containerPort: 80, proto: 'tcp', hostIp: '', hostPort, hostPortEnd: hostPort });

async function setup() {
  const fake = fakeSys();
  const records = memRecords();
  const driver = makeBridgeDriver(makeCtx(fake, records), { poolSize: 0, removeDelayMs: 1 });
  const engine = engineWith(driver);
  const dflt = await createBuiltin(engine, driver, records);
  const start = (net: NetworkRecord, requests: PortBindingRequest[] = []) =>
    engine.job('start', async (job) => {
      const ep = await engine.run('allocate_interface', 'bridge', { network: net, container: { id: hex(), name: 'web' }, endpointId: hex(), request: {} }, job);
      await engine.run('allocate_port', 'bridge', { network: net, endpoint: ep, requests }, job);
      return records.get('endpoint', ep.id)!;
    });
  return { fake, records, driver, engine, dflt, start };
}

describe('system check (bridge driver, fake kernel)', () => {
  it('a deleted veth and a deleted DNAT rule: exactly two items; repair puts both back; then clean', async () => {
    const s = await setup();
    const ep = await s.start(s.dflt, [p80(8080), p80(8081)]);
    expect(await s.driver.check!({ repair: false })).toEqual([]);
    const ns = (ep.netns as { name: string }).name;
    await s.fake.ip.batch([`link del ${ep.hostIfName}`]);
    const dnat = (await s.fake.iptables.save('nat')).split('\n').find((l) => l.includes('--dport 8080'))!;
    s.fake.iptables.tamper('nat', 'BERTH', dnat.slice('-A BERTH '.length));
    const before = s.fake.iptables.dump();
    const drift = await s.driver.check!({ repair: false });
    expect(drift).toEqual([
      { kind: 'link', state: 'missing', what: `veth ${ep.hostIfName} (eth0 in ${ns}) on bt0`, network: 'bridge', endpoint: ep.id, container: 'web' },
      { kind: 'rule', state: 'missing', what: `ip nat ${dnat}`, network: 'bridge', endpoint: ep.id, container: 'web' },
    ]);
    expect(s.fake.iptables.dump()).toEqual(before); // a check changes nothing
    const fixed = await s.driver.check!({ repair: true });
    expect(fixed.map((i) => i.error)).toEqual([undefined, undefined]);
    expect(fixed.map((i) => [i.kind, i.repaired])).toEqual([
      ['link', true],
      ['rule', true],
    ]);
    expect(s.fake.iptables.dump()).toContain(`nat ${dnat}`);
    const eth0 = s.fake.ip.links(ns).find((l) => l.name === 'eth0')!;
    expect(eth0).toMatchObject({ up: true, mac: ep.mac, addrs: [ep.ipv4] });
    expect(s.fake.ip.links().find((l) => l.name === ep.hostIfName)).toMatchObject({ master: 'bt0', up: true, hairpin: true });
    expect(s.fake.ip.ns.get(ns)!.routes).toEqual(['default via 172.17.0.1']);
    expect(await s.driver.check!({ repair: false })).toEqual([]);
  });

  it('extra objects, a lost address and route, a DNS responder down: reported and repaired', async () => {
    const s = await setup();
    s.fake.dns.busy.add('172.18.0.1');
    const n = await s.engine.run('create_network', 'bridge', { id: hex(), spec: { name: 'u', driver: 'bridge' } });
    await s.records.put('network', n);
    const ep = await s.start(n);
    const ns = (ep.netns as { name: string }).name;
    await s.fake.ip.batch(['netns add bt-aaaaaaaaaaaa', 'addr del 172.18.0.1/16 dev br-' + n.id.slice(0, 12)]);
    await s.fake.ip.batch(['addr del 172.18.0.2/16 dev eth0', 'route del default via 172.18.0.1 dev eth0'], { netns: ns });
    await s.fake.iptables.restore('*nat\n-A BERTH -p tcp -m tcp --dport 9999 -m comment --comment "bt:dddddddddddd" -j DNAT --to-destination 172.17.0.50:80\nCOMMIT\n');
    const drift = await s.driver.check!({ repair: false });
    expect(drift.map((i) => `${i.kind} ${i.state}`).sort()).toEqual(['address missing', 'address missing', 'dns missing', 'netns extra', 'route missing', 'rule extra']);
    s.fake.dns.busy.clear();
    const fixed = await s.driver.check!({ repair: true });
    expect(fixed.every((i) => i.repaired)).toBe(true);
    expect(await s.driver.check!({ repair: false })).toEqual([]);
    expect(s.fake.dns.servers.has('172.18.0.1:53')).toBe(true);
    expect(s.fake.ip.netnsNames()).not.toContain('bt-aaaaaaaaaaaa');
  });

  it('a netns that is gone cannot be repaired by the network driver: it says so', async () => {
    const s = await setup();
    const ep = await s.start(s.dflt);
    await s.fake.ip.batch([`netns del ${(ep.netns as { name: string }).name}`]);
    const fixed = await s.driver.check!({ repair: true });
    expect(fixed).toEqual([expect.objectContaining({ kind: 'netns', state: 'missing', repaired: false })]);
  });
});

describe('flush watcher', () => {
  it("repairs after an outside delete in berth's tables; ignores berth's own writes (by pid) and other tables", async () => {
    const fake = fakeSys();
    let repairs = 0;
    const w = new FlushWatcher({
      nft: fake.nft,
      log: silentLog,
      tables: ['ip nat', 'ip filter'],
      ours: (pid) => fake.exec.ran!(pid),
      debounceMs: 5,
      repair: async () => {
        repairs++;
        return { missing: [], extra: [], reordered: [] };
      },
    });
    const settle = async () => {
      await new Promise((r) => setTimeout(r, 30));
      await w.idle();
    };
    await w.start();
    expect(w.mode).toBe('nft monitor');
    // berth's own transactions: one iptables-restore commits a generation per table
    fake.nft.emitOwn(['delete rule ip nat BERTH handle 7'], 'iptables-restor');
    fake.nft.emitOwn(['delete rule ip filter BERTH-FORWARD handle 3'], 'iptables-restor');
    await settle();
    expect(repairs).toBe(0);
    // another program's tables
    fake.nft.emit(['delete rule inet firewalld filter_INPUT handle 3'], 'nft');
    await settle();
    expect(repairs).toBe(0);
    // an administrator's flush of berth's chain: one repair for a burst of deletes
    fake.nft.emit(['delete rule ip nat BERTH handle 8', 'delete rule ip nat BERTH handle 9']);
    fake.nft.emit(['delete rule ip filter BERTH-FORWARD handle 4']);
    await settle();
    expect(repairs).toBe(1);
    fake.nft.emit(['flush ruleset'], 'firewall-cmd');
    await settle();
    expect(repairs).toBe(2);
    // an outside flush right after berth's own writes (even ones that made no generation) is still
    // the administrator's: berth's write count says nothing of whose generation comes next
    await fake.iptables.restore('*nat\nCOMMIT\n').catch(() => {});
    fake.nft.emit(['delete chain ip nat BERTH-POSTROUTING']);
    await settle();
    expect(repairs).toBe(3);
    w.stop();
    expect(fake.nft.monitors).toBe(0);
  });

  it('the bridge driver repairs a flushed chain by itself', async () => {
    const fake = fakeSys();
    const records = memRecords();
    const driver = makeBridgeDriver(makeCtx(fake, records), { poolSize: 0, removeDelayMs: 1, watch: true });
    const engine = engineWith(driver);
    await createBuiltin(engine, driver, records);
    await driver.restore();
    const before = fake.iptables.dump();
    fake.iptables.tamper('filter', 'BERTH-FORWARD');
    fake.nft.emit(['delete rule ip filter BERTH-FORWARD handle 1', 'delete rule ip filter BERTH-FORWARD handle 2']);
    for (let i = 0; i < 100 && fake.iptables.dump().length !== before.length; i++) await new Promise((r) => setTimeout(r, 10));
    expect(fake.iptables.dump()).toEqual(before);
    const view = (await driver.inspect!(records.list('network')[0]!, [])) as { watcher: { mode: string; repairs: number } };
    expect(view.watcher).toEqual({ mode: 'nft monitor', repairs: 1 });
    await driver.shutdown!();
  });
});

describe('berth system check (CLI)', () => {
  const item = { kind: 'rule', state: 'missing', what: 'ip nat -A BERTH … -j DNAT …', network: 'bridge', container: 'web' };
  it('no drift: says so, exit 0; drift: a table and exit 1; --repair posts and counts', async () => {
    let drift: object[] = [];
    const api = fakeApi((r) => ({ body: { drift: r.method === 'POST' ? drift.map((d) => ({ ...d, repaired: true })) : drift, repair: r.method === 'POST', durationMs: 3 } }));
    let io = recIo();
    expect(await checkCommand.run(api, checkCommand.parse([]), io)).toBe(0);
    expect(io.outText).toBe('no drift: the kernel matches the records\n');
    drift = [item];
    io = recIo();
    expect(await checkCommand.run(api, checkCommand.parse([]), io)).toBe(1);
    expect(io.outText).toBe('KIND   STATE     NETWORK   CONTAINER   WHAT\nrule   missing   bridge    web         ip nat -A BERTH … -j DNAT …\n1 difference; berth system check --repair fixes them\n');
    io = recIo();
    expect(await checkCommand.run(api, checkCommand.parse(['--repair']), io)).toBe(0);
    expect(api.lines().at(-1)).toBe('POST /berth/check');
    expect(api.requests.at(-1)!.query).toEqual({ repair: '1' });
    expect(io.outText).toContain('1 of 1 repaired');
    io = recIo();
    expect(await checkCommand.run(api, checkCommand.parse(['-q']), io)).toBe(1);
    expect(io.outText).toBe('');
    expect(() => checkCommand.parse(['x'])).toThrow('accepts no arguments');
  });
});
