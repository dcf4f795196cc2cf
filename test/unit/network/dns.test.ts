// The embedded DNS: the message codec, and the resolver inside the bridge driver against the fake
// kernel and fake DNS sockets — names, aliases scoped to their network, PTR, AAAA, forwarding to
// --dns or the host's resolvers, internal networks, a port 53 already taken.
import { describe, expect, it } from 'vitest';
import { makeBridgeDriver } from '../../../drivers/network/bridge/index.js';
import { fakeSys } from '../../../drivers/sys/fakes/index.js';
import { TYPE, RCODE, parseQuery, response, reverseAddress, withId, formErr } from '../../../drivers/network/dns/message.js';
import type { Endpoint, NetworkRecord, NetworkSpec } from '../../../drivers/types.js';
import { createBuiltin, engineWith, hex, makeCtx, memRecords } from './helpers.js';

/** A query as a stub resolver sends it (RD set, one question, an EDNS OPT record as glibc adds). */
function query(name: string, type: number, id = 0x1234): Buffer {
  const labels = name.split('.').flatMap((l) => [Buffer.from([l.length]), Buffer.from(l)]);
  const h = Buffer.alloc(12);
  h.writeUInt16BE(id, 0);
  h.writeUInt16BE(0x0100, 2);
  h.writeUInt16BE(1, 4);
  h.writeUInt16BE(1, 10);
  const tail = Buffer.alloc(4);
  tail.writeUInt16BE(type, 0);
  tail.writeUInt16BE(1, 2);
  const opt = Buffer.from([0, 0, 41, 0x10, 0, 0, 0, 0, 0, 0, 0]);
  return Buffer.concat([h, ...labels, Buffer.from([0]), tail, opt]);
}

/** Read a response: id, rcode, and the answers' data as text. */
function decode(b: Buffer): { id: number; rcode: number; aa: boolean; answers: string[] } {
  const q = parseQuery(Buffer.concat([b.subarray(0, 2), Buffer.from([0, 0]), b.subarray(4)]));
  const n = b.readUInt16BE(6);
  const answers: string[] = [];
  let at = q.end;
  for (let i = 0; i < n; i++) {
    const type = b.readUInt16BE(at + 2);
    const len = b.readUInt16BE(at + 10);
    const data = b.subarray(at + 12, at + 12 + len);
    if (type === TYPE.A) answers.push([...data].join('.'));
    else if (type === TYPE.AAAA) answers.push(data.toString('hex'));
    else if (type === TYPE.PTR) {
      const labels: string[] = [];
      for (let j = 0; data[j]! > 0; j += data[j]! + 1) labels.push(data.subarray(j + 1, j + 1 + data[j]!).toString());
      answers.push(labels.join('.'));
    }
    at += 12 + len;
  }
  return { id: b.readUInt16BE(0), rcode: b.readUInt16BE(2) & 0xf, aa: !!(b.readUInt16BE(2) & 0x0400), answers };
}

describe('DNS messages', () => {
  it('reads a question (with EDNS after it) and answers with the question echoed', () => {
    const m = query('Web.Example', TYPE.A, 7);
    const q = parseQuery(m);
    expect(q).toMatchObject({ id: 7, rd: true, name: 'web.example', type: TYPE.A, class: 1 });
    const r = decode(response(m, q, RCODE.NOERROR, [{ type: TYPE.A, address: '10.1.2.3' }, { type: TYPE.A, address: '10.1.2.4' }]));
    expect(r).toEqual({ id: 7, rcode: 0, aa: true, answers: ['10.1.2.3', '10.1.2.4'] });
    expect(decode(response(m, q, RCODE.NOERROR, [{ type: TYPE.AAAA, address: 'fd00::2' }])).answers).toEqual(['fd000000000000000000000000000002']);
  });
  it('malformed queries: FORMERR; responses refused; pointers followed without loops', () => {
    expect(() => parseQuery(Buffer.from([1, 2, 3]))).toThrow();
    const resp = Buffer.from(query('a', TYPE.A));
    resp.writeUInt16BE(0x8100, 2);
    expect(() => parseQuery(resp)).toThrow();
    const loop = Buffer.concat([query('a', TYPE.A).subarray(0, 12), Buffer.from([0xc0, 12, 0, 1, 0, 1])]);
    expect(() => parseQuery(loop)).toThrow();
    expect(formErr(Buffer.from([0xab, 0xcd])).readUInt16BE(2) & 0xf).toBe(RCODE.FORMERR);
    expect(withId(query('a', TYPE.A, 1), 99).readUInt16BE(0)).toBe(99);
  });
  it('reverse names of both families', () => {
    expect(reverseAddress('4.3.2.1.in-addr.arpa')).toBe('1.2.3.4');
    expect(reverseAddress(`${'2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.d.f'}.ip6.arpa`)).toBe('fd00::2');
    expect(reverseAddress('example.com')).toBeUndefined();
  });
});

describe('embedded DNS in the bridge driver', () => {
  async function setup() {
    const fake = fakeSys();
    fake.dns.upstreams.set('192.0.2.53:53', (m) => response(m, parseQuery(m), RCODE.NOERROR, [{ type: TYPE.A, address: '203.0.113.7' }]));
    fake.dns.upstreams.set('198.51.100.1:53', (m) => response(m, parseQuery(m), RCODE.NOERROR, [{ type: TYPE.A, address: '203.0.113.99' }]));
    const records = memRecords();
    const driver = makeBridgeDriver(makeCtx(fake, records), { poolSize: 0, removeDelayMs: 1 });
    const engine = engineWith(driver);
    const dflt = await createBuiltin(engine, driver, records);
    const create = async (spec: Partial<NetworkSpec> & { name: string }): Promise<NetworkRecord> => {
      const rec = await engine.run('create_network', 'bridge', { id: hex(), spec: { driver: 'bridge', ...spec } });
      await records.put('network', rec);
      return rec;
    };
    const attach = (net: NetworkRecord, name: string, request: Record<string, unknown> = {}) => {
      const cid = (request.cid as string | undefined) ?? hex();
      return engine.run('allocate_interface', 'bridge', {
        network: net,
        container: { id: cid, name },
        endpointId: hex(),
        request: { dnsNames: [name, ...((request.aliases as string[]) ?? []), cid.slice(0, 12)], ...request },
      });
    };
    const ask = async (net: NetworkRecord, from: Endpoint, name: string, type: number = TYPE.A) =>
      decode((await fake.dns.query(net.ipam[0]!.gateway, query(name, type), from.ipv4!.split('/')[0]!))!);
    return { fake, records, driver, engine, dflt, create, attach, ask };
  }

  it('answers container names, aliases and short ids on the network; the default bridge has no DNS', async () => {
    const s = await setup();
    const n = await s.create({ name: 'app' });
    expect([...s.fake.dns.servers.keys()]).toEqual(['172.18.0.1:53']);
    const web = await s.attach(n, 'web', { aliases: ['www'] });
    const cli = await s.attach(n, 'cli');
    expect(web.resolver).toBe('172.18.0.1');
    expect((await s.attach(s.dflt, 'old')).resolver).toBeUndefined();
    expect(await s.ask(n, cli, 'web')).toMatchObject({ rcode: 0, answers: ['172.18.0.2'] });
    expect((await s.ask(n, cli, 'WWW')).answers).toEqual(['172.18.0.2']);
    expect((await s.ask(n, cli, web.container.id.slice(0, 12))).answers).toEqual(['172.18.0.2']);
    expect(await s.ask(n, web, 'cli')).toMatchObject({ rcode: 0, answers: ['172.18.0.3'] });
    // known name, no IPv6 address: NODATA, not forwarded
    expect(await s.ask(n, cli, 'web', TYPE.AAAA)).toMatchObject({ rcode: 0, answers: [] });
    expect(s.fake.dns.asked).toEqual([]);
    // PTR: <name>.<network>
    expect((await s.ask(n, cli, '2.0.18.172.in-addr.arpa', TYPE.PTR)).answers).toEqual(['web.app']);
  });

  it('aliases are scoped to their network; a container on two networks sees both', async () => {
    const s = await setup();
    const a = await s.create({ name: 'a' });
    const b = await s.create({ name: 'b' });
    const cidDb = hex();
    const dbOnB = await s.attach(b, 'db', { aliases: ['pg'], cid: cidDb });
    const onlyA = await s.attach(a, 'x');
    const cidY = hex();
    const yOnA = await s.attach(a, 'y', { cid: cidY });
    await s.attach(b, 'y', { cid: cidY, netns: yOnA.netns, ifName: 'eth1', gateway: false });
    // x (only on a) does not see db (only on b): forwarded, and the upstream's answer comes back
    expect((await s.ask(a, onlyA, 'pg')).answers).toEqual(['203.0.113.7']);
    // y is on a and b: sees db and its alias, by b's address
    expect((await s.ask(a, yOnA, 'pg')).answers).toEqual([dbOnB.ipv4!.split('/')[0]]);
    expect((await s.ask(a, yOnA, 'db')).answers).toEqual(['172.19.0.2']);
  });

  it("forwards other names to the container's --dns servers, else the host's; internal networks do not forward", async () => {
    const s = await setup();
    const n = await s.create({ name: 'n' });
    const plain = await s.attach(n, 'plain');
    const own = await s.attach(n, 'own', { dnsServers: ['198.51.100.1'] });
    const r = decode((await s.fake.dns.query('172.18.0.1', query('example.com', TYPE.A, 0xbeef), '172.18.0.2'))!);
    expect(r).toMatchObject({ id: 0xbeef, answers: ['203.0.113.7'] }); // the client's id, not ours
    expect((await s.ask(n, own, 'example.com')).answers).toEqual(['203.0.113.99']);
    expect(s.fake.dns.asked).toEqual(['192.0.2.53:53', '198.51.100.1:53']);
    s.fake.dns.resolvers = ['192.0.2.1']; // an upstream that never answers
    expect((await s.ask(n, plain, 'example.org')).rcode).toBe(RCODE.SERVFAIL);
    const i = await s.create({ name: 'i', internal: true });
    const inner = await s.attach(i, 'inner');
    await s.attach(i, 'peer2');
    expect((await s.ask(i, inner, 'peer2')).answers).toEqual(['172.19.0.3']);
    const asked = s.fake.dns.asked.length;
    expect((await s.ask(i, inner, 'example.com')).rcode).toBe(RCODE.SERVFAIL);
    expect(s.fake.dns.asked.length).toBe(asked);
  });

  it('dual-stack: AAAA and ip6.arpa; served on both gateways', async () => {
    const s = await setup();
    const n = await s.create({ name: 'six', ipv6: true, ipam: [{ subnet: 'fd00:5::/64' }] });
    expect([...s.fake.dns.servers.keys()].sort()).toEqual(['172.18.0.1:53', 'fd00:5::1:53']);
    const web = await s.attach(n, 'web');
    const cli = await s.attach(n, 'cli');
    expect((await s.ask(n, cli, 'web', TYPE.AAAA)).answers).toEqual(['fd000005000000000000000000000002']);
    const r = decode((await s.fake.dns.query('fd00:5::1', query('web', TYPE.A), 'fd00:5::3'))!);
    expect(r.answers).toEqual([web.ipv4!.split('/')[0]]);
  });

  it('a port 53 taken by another program: the network works, the DNS says why it is down; removal stops serving', async () => {
    const s = await setup();
    s.fake.dns.busy.add('172.18.0.1');
    const n = await s.create({ name: 'busy' });
    const view = (await s.driver.inspect!(n, [])) as { dns: { serving: string[]; errors: string[] } };
    expect(view.dns.serving).toEqual([]);
    expect(view.dns.errors[0]).toContain('EADDRINUSE');
    const ok = await s.create({ name: 'ok' });
    expect(s.fake.dns.servers.has('172.19.0.1:53')).toBe(true);
    await s.engine.run('delete_network', 'bridge', { network: ok });
    expect(s.fake.dns.servers.has('172.19.0.1:53')).toBe(false);
  });
});
