// Rule plans as exact text: golden files under golden/ (UPDATE_GOLDEN=1 rewrites them), the
// iptables rule engine against the stateful fake, and the shared firewall-backend contract.
import { describe, expect, it } from 'vitest';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CHAINS, globalRules, linkRules, networkRules, portRules } from '../../../drivers/network/firewall/plan.js';
import { canonical, parseSave, renderRestore } from '../../../drivers/network/firewall/render-iptables.js';
import { iptablesBackend, ruleEngine } from '../../../drivers/network/firewall/iptables.js';
import { FakeIptables, FakeNft } from '../../../drivers/sys/fakes/index.js';
import { nftablesBackend } from '../../../drivers/network/firewall/nftables.js';
import { silentLog } from '../../../drivers/log.js';
import { firewallContract } from './firewall-contract.js';

const GOLDEN = join(import.meta.dirname, 'golden');
function golden(name: string, text: string): void {
  const p = join(GOLDEN, name);
  if (process.env.UPDATE_GOLDEN) writeFileSync(p, text);
  expect(text).toBe(readFileSync(p, 'utf8'));
}

const G = 'berth:000000000000';
const NET = 'berth:aaaaaaaaaaaa';
const EP = 'berth:bbbbbbbbbbbb';
const net = { bridge: 'berth0', subnet: '172.17.0.0/16', icc: true, masquerade: true, internal: false };
const ports = [
  { containerPort: 80, proto: 'tcp' as const, hostIp: '0.0.0.0', hostPort: 8080 },
  { containerPort: 80, proto: 'tcp' as const, hostIp: '127.0.0.1', hostPort: 8081 },
  { containerPort: 53, proto: 'udp' as const, hostIp: '', hostPort: 5353 },
];

describe('rule plans (golden)', () => {
  it('daemon + default bridge network', () => {
    golden('bridge-network.txt', renderRestore({ chains: CHAINS, add: [...globalRules(G), ...networkRules(net, NET)] }));
  });
  it('icc=false, no masquerade, internal', () => {
    golden('bridge-network-icc-false.txt', renderRestore({ add: networkRules({ ...net, icc: false, masquerade: false }, NET) }));
    golden('bridge-network-internal.txt', renderRestore({ add: networkRules({ ...net, internal: true }, NET) }));
  });
  it('published ports: add and delete', () => {
    const rules = portRules('berth0', '172.17.0.2/16', ports, EP);
    golden('endpoint-ports-add.txt', renderRestore({ add: rules }));
    golden('endpoint-ports-del.txt', renderRestore({ del: rules }));
    expect(rules.filter((r) => r.table === 'nat' && r.chain === 'BERTH')).toHaveLength(3);
  });
  it('IPv6: a dual-stack network and its published ports (ip6tables)', () => {
    const six = [
      { containerPort: 80, proto: 'tcp' as const, hostIp: '::', hostPort: 8080 },
      { containerPort: 80, proto: 'tcp' as const, hostIp: '0.0.0.0', hostPort: 8080 },
      { containerPort: 80, proto: 'tcp' as const, hostIp: '::1', hostPort: 8081 },
    ];
    const rules = [...networkRules({ ...net, bridge: 'br-x', subnet: 'fd00:0:0:1::/64' }, NET), ...portRules('br-x', 'FD00:0:0:1::2/64', six, EP)];
    golden('ipv6-network-ports.txt', renderRestore({ add: rules }));
    expect(portRules('br-x', '172.18.0.2/16', six, EP).filter((r) => r.chain === 'BERTH' && r.table === 'nat')).toHaveLength(1);
  });
  it('links', () => {
    golden('link.txt', renderRestore({ add: linkRules('berth0', '172.17.0.3', '172.17.0.2/16', [{ port: 80, proto: 'tcp' }, { port: 53, proto: 'udp' }], EP) }));
  });
  it('the canonical line round-trips through iptables-save parsing', () => {
    const r = portRules('berth0', '172.17.0.2', ports, EP)[0]!;
    const saved = parseSave(`*nat\n:BERTH - [0:0]\n${canonical(r)}\nCOMMIT\n`);
    expect(saved.rules[0]).toEqual({ table: 'nat', chain: 'BERTH', line: canonical(r), comment: EP });
  });
});

describe('iptables rule engine (fake kernel)', () => {
  const setup = (delay = 5) => {
    const ipt = new FakeIptables();
    const fw = ruleEngine({ iptables: ipt, ours: (c) => c.startsWith('berth:'), log: silentLog, removeDelayMs: delay }, 4);
    return { ipt, fw };
  };
  const base = [...globalRules(G), ...networkRules(net, NET)];

  it('sync makes chains and rules once; a second sync changes nothing', async () => {
    const { ipt, fw } = setup();
    const r1 = await fw.sync(base, () => true);
    expect(r1.missing.length).toBe(CHAINS.length + base.length);
    const dump = ipt.dump();
    expect((await ipt.save('filter')).split('\n').filter((l) => l.startsWith('-A FORWARD'))).toEqual([
      `-A FORWARD -m comment --comment "${G}" -j BERTH-USER`,
      `-A FORWARD -m comment --comment "${G}" -j BERTH-FORWARD`,
    ]);
    const n = ipt.restores.length;
    expect(await fw.sync(base, () => true)).toEqual({ missing: [], extra: [], reordered: [] });
    expect(ipt.restores.length).toBe(n);
    expect(ipt.dump()).toEqual(dump);
  });

  it('sync never touches rules it does not own and never re-declares an existing chain', async () => {
    const { ipt, fw } = setup();
    await fw.sync(base, () => true);
    ipt.foreign('filter', '-A FORWARD -j ACCEPT');
    ipt.foreign('filter', '-A BERTH-USER -s 10.0.0.0/8 -j DROP');
    await fw.sync([], () => true);
    expect(ipt.dump()).toEqual(['filter -A BERTH-USER -s 10.0.0.0/8 -j DROP', 'filter -A FORWARD -j ACCEPT']);
    expect(ipt.restores.at(-1)).not.toMatch(/^:/m);
  });

  it('sync puts the FORWARD jumps back on top when another program inserted before them', async () => {
    const { ipt, fw } = setup();
    await fw.sync(base, () => true);
    await ipt.restore('*filter\n-I FORWARD 1 -j DROP\nCOMMIT\n');
    const r = await fw.sync(base, () => true);
    expect(r.reordered).toHaveLength(2);
    const fwd = (await ipt.save('filter')).split('\n').filter((l) => l.startsWith('-A FORWARD'));
    expect(fwd).toEqual([
      `-A FORWARD -m comment --comment "${G}" -j BERTH-USER`,
      `-A FORWARD -m comment --comment "${G}" -j BERTH-FORWARD`,
      '-A FORWARD -j DROP',
    ]);
  });

  it('sync re-makes a group whose order broke (icc DROP before the jump to published ports)', async () => {
    const { ipt, fw } = setup();
    await fw.sync(base, () => true);
    const jump = networkRules(net, NET).find((r) => r.target === 'BERTH' && r.table === 'filter')!;
    await ipt.restore(renderRestore({ del: [jump] }));
    await ipt.restore(renderRestore({ add: [jump] })); // now last, after icc
    const r = await fw.sync(base, () => true);
    expect(r.missing).toEqual([]);
    expect(r.reordered.length).toBeGreaterThan(0);
    const chain = (await ipt.save('filter')).split('\n').filter((l) => l.startsWith('-A BERTH-FORWARD'));
    expect(chain).toEqual(networkRules(net, NET).filter((r) => r.chain === 'BERTH-FORWARD').map(canonical));
  });

  it('queued removals go in one transaction later; an add sharing a key takes them along first', async () => {
    const { ipt, fw } = setup(10_000);
    await fw.sync(base, () => true);
    const a = portRules('berth0', '172.17.0.2', [ports[0]!], 'berth:111111111111');
    const b = portRules('berth0', '172.17.0.3', [{ ...ports[2]! }], 'berth:222222222222');
    await fw.add([...a, ...b]);
    const before = ipt.restores.length;
    await fw.remove(a, { later: true });
    await fw.remove(b, { later: true });
    expect(ipt.restores.length).toBe(before); // nothing yet
    const c = portRules('berth0', '172.17.0.4', [ports[0]!], 'berth:333333333333'); // same host port 8080 as a
    await fw.add(c);
    expect(ipt.restores.length).toBe(before + 1);
    const text = ipt.restores.at(-1)!;
    expect(text.indexOf('-D BERTH -p tcp -m tcp --dport 8080')).toBeLessThan(text.indexOf('-A BERTH -p tcp -m tcp --dport 8080'));
    expect(text).not.toContain('172.17.0.3'); // b waits
    await fw.flush();
    expect(ipt.dump().some((l) => l.includes('222222222222'))).toBe(false);
    expect(ipt.dump().filter((l) => l.includes('333333333333'))).toHaveLength(c.length);
  });

  it('removal is idempotent: rules already gone are skipped', async () => {
    const { ipt, fw } = setup();
    await fw.sync(base, () => true);
    const a = portRules('berth0', '172.17.0.2', ports, EP);
    await fw.add(a);
    await ipt.restore(renderRestore({ del: [a[0]!] }));
    await fw.remove(a);
    await fw.remove(a);
    expect(ipt.dump().some((l) => l.includes(EP))).toBe(false);
  });
});

describe('iptables backend: the firewall contract', () => {
  firewallContract(() => {
    const ipt = new FakeIptables();
    const fw = iptablesBackend({ iptables: ipt, ours: (c) => c.startsWith('bt:'), log: silentLog, removeDelayMs: 10_000 });
    return {
      fw,
      dump: async () => [...ipt.dump(4).map((l) => `4 ${l}`), ...ipt.dump(6).map((l) => `6 ${l}`)],
      async tamperPort(port) {
        const line = (await ipt.save('nat')).split('\n').find((l) => l.startsWith('-A BERTH ') && l.includes(`--dport ${port} `))!;
        ipt.tamper('nat', 'BERTH', line.slice('-A BERTH '.length));
      },
      async flushAll() {
        for (const f of [4, 6] as const)
          for (const c of ipt.chains(f)) {
            const [table, chain] = c.split(' ') as [string, string];
            if (chain.startsWith('BERTH')) ipt.tamper(table, chain, undefined, f);
          }
      },
      transactions: () => ipt.restores.length + ipt.restores6.length,
    };
  });
});

describe('nftables backend: the firewall contract', () => {
  firewallContract(() => {
    const nft = new FakeNft();
    const fw = nftablesBackend({ nft, table: 'bt', log: silentLog, removeDelayMs: 10_000 });
    return {
      fw,
      dump: async () => nft.dump('bt'),
      async tamperPort(port) {
        const key = [...nft.tables.get('bt')!.sets.get('ports4')!.elements.keys()].find((k) => k.endsWith(` . ${port}`))!;
        nft.tamper('bt', { deleteElement: { set: 'ports4', key } });
      },
      async flushAll() {
        for (const c of ['prerouting', 'output', 'postrouting', 'forward', 'ports']) nft.tamper('bt', { flushChain: c });
      },
      transactions: () => nft.applied.length,
    };
  });
});

describe('nftables rendering', () => {
  it('a published port is one map element; a container change is one transaction of elements only', async () => {
    const nft = new FakeNft();
    const fw = nftablesBackend({ nft, table: 'bt', log: silentLog });
    const n = { id: 'a'.repeat(64), tag: 'bt:aaaaaaaaaaaa', bridge: 'bt0', subnet4: '172.17.0.0/16', icc: true, masquerade: true, internal: false };
    await fw.sync({ globalTag: G.replace('berth', 'bt'), networks: [n], endpoints: [] });
    const rules = nft.dump('bt').filter((l) => l.startsWith('rule')).length;
    const before = nft.applied.length;
    const ep = { id: 'b'.repeat(64), tag: 'bt:bbbbbbbbbbbb', networkId: n.id, ipv4: '172.17.0.2/16', ports: ports.map((p) => ({ ...p })), links: [] };
    await fw.addEndpoint(n, ep);
    expect(nft.applied.length).toBe(before + 1);
    expect(nft.applied.at(-1)).toBe(
      [
        'add element inet bt ports4 { tcp . 8080 : 172.17.0.2 . 80 }',
        'add element inet bt hairpin4 { 172.17.0.2 . 172.17.0.2 . tcp . 80 }',
        'add element inet bt ports4a { 127.0.0.1 . tcp . 8081 : 172.17.0.2 . 80 }',
        'add element inet bt ports4 { udp . 5353 : 172.17.0.2 . 53 }',
        'add element inet bt hairpin4 { 172.17.0.2 . 172.17.0.2 . udp . 53 }',
        '',
      ].join('\n'),
    );
    expect(nft.dump('bt').filter((l) => l.startsWith('rule')).length).toBe(rules); // no rule per port
    golden('nft-ruleset.txt', nft.applied[0]!);
  });
});
