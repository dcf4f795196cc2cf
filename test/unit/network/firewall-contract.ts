// One suite for every firewall backend (the seam of firewall/backend.ts), run against its stateful
// fake: what a backend must do whatever it programs. Assertions go through the backend's own
// read-back (list, sync reports) and through a kernel dump the fake provides.
import { expect, it } from 'vitest';
import type { FirewallBackend, FwEndpoint, FwNetwork, FwState } from '../../../drivers/network/firewall/backend.js';

export interface BackendUnderTest {
  fw: FirewallBackend;
  /** Everything in the fake kernel, one string per rule or element (to compare before/after). */
  dump(): Promise<string[]>;
  /** Remove one of berth's objects as an administrator would (the DNAT of a published port). */
  tamperPort(hostPort: number): Promise<void>;
  /** Flush every chain berth made (an administrator's `iptables -F` / firewalld reload). */
  flushAll(): Promise<void>;
  /** Transactions applied so far. */
  transactions(): number;
}

const G = 'bt:000000000000';
export const NET1: FwNetwork = { id: 'a'.repeat(64), tag: 'bt:aaaaaaaaaaaa', bridge: 'bt0', subnet4: '172.17.0.0/16', icc: true, masquerade: true, internal: false };
export const NET2: FwNetwork = { id: 'c'.repeat(64), tag: 'bt:cccccccccccc', bridge: 'br-cccccccccccc', subnet4: '172.18.0.0/16', subnet6: 'fd00:1::/64', icc: false, masquerade: true, internal: false };
export const EP1: FwEndpoint = {
  id: 'b'.repeat(64),
  tag: 'bt:bbbbbbbbbbbb',
  networkId: NET1.id,
  ipv4: '172.17.0.2/16',
  ports: [
    { containerPort: 80, proto: 'tcp', hostIp: '0.0.0.0', hostPort: 8080 },
    { containerPort: 53, proto: 'udp', hostIp: '127.0.0.1', hostPort: 5353 },
  ],
  links: [],
};
export const EP2: FwEndpoint = {
  id: 'd'.repeat(64),
  tag: 'bt:dddddddddddd',
  networkId: NET2.id,
  ipv4: '172.18.0.2/16',
  ipv6: 'fd00:1::2/64',
  ports: [
    { containerPort: 80, proto: 'tcp', hostIp: '0.0.0.0', hostPort: 9090 },
    { containerPort: 80, proto: 'tcp', hostIp: '::', hostPort: 9090 },
  ],
  links: [{ toEndpointId: 'e'.repeat(64), toIp: '172.18.0.3', fromIp: '172.18.0.2', ports: [{ port: 5432, proto: 'tcp' }] }],
};
const state = (networks: FwNetwork[], endpoints: FwEndpoint[]): FwState => ({ globalTag: G, networks, endpoints });
const clean = { missing: [], extra: [], reordered: [] };

export function firewallContract(make: () => BackendUnderTest): void {
  it('networks and endpoints added one by one equal a sync of the whole state; a second sync changes nothing', async () => {
    const a = make();
    await a.fw.addNetwork(state([NET1], []), NET1);
    await a.fw.addNetwork(state([NET1, NET2], []), NET2);
    await a.fw.addEndpoint(NET1, EP1);
    await a.fw.addEndpoint(NET2, EP2);
    const built = await a.dump();
    const full = state([NET1, NET2], [EP1, EP2]);
    const n = a.transactions();
    expect(await a.fw.sync(full)).toEqual(clean);
    expect(a.transactions()).toBe(n);
    const b = make();
    const r = await b.fw.sync(full);
    expect(r.missing.length).toBeGreaterThan(0);
    expect(await b.dump()).toEqual(built);
    expect(await b.fw.sync(full)).toEqual(clean);
  });

  it('list() names every object by its owner; an endpoint removed leaves nothing of its own', async () => {
    const a = make();
    await a.fw.sync(state([NET1, NET2], [EP1, EP2]));
    const owners = new Set((await a.fw.list()).map((r) => r.tag));
    expect(owners).toEqual(new Set([G, NET1.tag, NET2.tag, EP1.tag, EP2.tag]));
    await a.fw.removeEndpoint(NET2, EP2);
    await a.fw.removeEndpoint(NET2, EP2); // idempotent
    expect((await a.fw.list()).some((r) => r.tag === EP2.tag)).toBe(false);
    expect(await a.fw.sync(state([NET1, NET2], [EP1]))).toEqual(clean);
  });

  it('dual-stack: IPv6 objects only for dual-stack endpoints, both families of a binding', async () => {
    const a = make();
    await a.fw.sync(state([NET1, NET2], [EP1, EP2]));
    const mine = (await a.fw.list()).filter((r) => r.tag === EP2.tag).map((r) => r.line);
    expect(mine.some((l) => l.includes('fd00:1::2'))).toBe(true);
    expect(mine.some((l) => l.includes('172.18.0.2'))).toBe(true);
    expect((await a.fw.list()).filter((r) => r.tag === EP1.tag).some((l) => l.line.includes(':'.repeat(2)))).toBe(false);
  });

  it('check (dryRun) reports a deleted object and changes nothing; sync puts it back', async () => {
    const a = make();
    const full = state([NET1], [EP1]);
    await a.fw.sync(full);
    const before = await a.dump();
    await a.tamperPort(8080);
    const damaged = await a.dump();
    const r = await a.fw.sync(full, { dryRun: true });
    expect(r.missing).toHaveLength(1);
    expect(r.missing[0]).toContain('8080');
    expect(r.extra).toEqual([]);
    expect(await a.dump()).toEqual(damaged);
    await a.fw.sync(full);
    expect(await a.dump()).toEqual(before);
  });

  it('a flush of every berth chain is repaired whole by one sync', async () => {
    const a = make();
    const full = state([NET1, NET2], [EP1, EP2]);
    await a.fw.sync(full);
    const before = await a.dump();
    await a.flushAll();
    const r = await a.fw.sync(full);
    expect(r.missing.length).toBeGreaterThan(3);
    expect(await a.dump()).toEqual(before);
  });

  it("sync removes berth's objects no record wants, and leaves alone what its scope excludes", async () => {
    const a = make();
    await a.fw.sync(state([NET1, NET2], [EP1, EP2]));
    const r = await a.fw.sync(state([NET1, NET2], [EP1]), { scope: (t) => t !== EP2.tag });
    expect(r).toEqual(clean);
    expect((await a.fw.list()).some((x) => x.tag === EP2.tag)).toBe(true);
    const r2 = await a.fw.sync(state([NET1, NET2], [EP1]));
    expect(r2.extra.length).toBeGreaterThan(0);
    expect((await a.fw.list()).some((x) => x.tag === EP2.tag)).toBe(false);
  });

  it('removeNetwork takes its objects; the last network takes the daemon-wide ones', async () => {
    const a = make();
    await a.fw.sync(state([NET1, NET2], []));
    await a.fw.removeNetwork(state([NET1, NET2], []), NET2);
    expect(new Set((await a.fw.list()).map((r) => r.tag))).toEqual(new Set([G, NET1.tag]));
    await a.fw.removeNetwork(state([NET1], []), NET1);
    expect(await a.fw.list()).toEqual([]);
  });

  it('queued removals wait; an add on the same host port takes them along first; flush does the rest', async () => {
    const a = make();
    await a.fw.sync(state([NET1], [EP1]));
    const n = a.transactions();
    await a.fw.removeEndpoint(NET1, EP1, { later: true });
    expect(a.transactions()).toBe(n);
    expect((await a.fw.list()).some((r) => r.tag === EP1.tag)).toBe(true);
    const again = { ...EP1, id: 'f'.repeat(64), tag: 'bt:ffffffffffff', ipv4: '172.17.0.9/16', ports: [EP1.ports[0]!] };
    await a.fw.addEndpoint(NET1, again);
    expect(a.transactions()).toBe(n + 1);
    const lines = (await a.fw.list()).map((r) => r.line);
    expect(lines.some((l) => l.includes('172.17.0.9'))).toBe(true);
    expect(lines.filter((l) => l.includes('8080')).every((l) => !l.includes('172.17.0.2'))).toBe(true);
    await a.fw.flush();
    expect((await a.fw.list()).some((r) => r.tag === EP1.tag)).toBe(false);
  });
}
