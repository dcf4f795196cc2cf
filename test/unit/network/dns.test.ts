// The embedded DNS: the message codec, and the resolver inside the bridge driver against the fake
// kernel and fake DNS sockets — names, aliases scoped to their network, PTR, AAAA, forwarding to
// --dns or the host's resolvers, internal networks, a port 53 already taken; TCP forwarding, the
// retry over TCP of a truncated UDP answer, answers fitted to the client's UDP limit; and the real
// sockets (askTcp, serve) on 127.0.0.1.
import { createServer as createTcpServer, type Server as TcpServer, type Socket as TcpSocket } from 'node:net';
import { createSocket } from 'node:dgram';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { realDnsNet } from '../../../drivers/sys/dns.js';
import { EmbeddedDns } from '../../../drivers/network/dns/resolver.js';
import { silentLog } from '../../../drivers/log.js';
import { makeBridgeDriver } from '../../../drivers/network/bridge/index.js';
import { fakeSys } from '../../../drivers/sys/fakes/index.js';
import { TYPE, RCODE, parseQuery, response, reverseAddress, withId, formErr, fit, truncated, udpLimit } from '../../../drivers/network/dns/message.js';
import type { Endpoint, NetworkRecord, NetworkSpec } from '../../../drivers/types.js';
import { createBuiltin, engineWith, hex, makeCtx, memRecords } from './helpers.js';

/** A query as a stub resolver sends it (RD set, one question, an EDNS OPT record as glibc adds,
 *  announcing `edns` bytes; none with edns 0). */
function query(name: string, type: number, id = 0x1234, edns = 0x1000): Buffer {
  const labels = name.split('.').flatMap((l) => [Buffer.from([l.length]), Buffer.from(l)]);
  const h = Buffer.alloc(12);
  h.writeUInt16BE(id, 0);
  h.writeUInt16BE(0x0100, 2);
  h.writeUInt16BE(1, 4);
  h.writeUInt16BE(edns ? 1 : 0, 10);
  const tail = Buffer.alloc(4);
  tail.writeUInt16BE(type, 0);
  tail.writeUInt16BE(1, 2);
  const opt = Buffer.from([0, 0, 41, edns >> 8, edns & 0xff, 0, 0, 0, 0, 0, 0]);
  return Buffer.concat([h, ...labels, Buffer.from([0]), tail, edns ? opt : Buffer.alloc(0)]);
}

/** Read a response: id, rcode, TC, the answers' data as text, the additional count. Every answer
 *  must be whole (a cut record throws). */
function decode(b: Buffer): { id: number; rcode: number; aa: boolean; tc: boolean; answers: string[]; ar: number } {
  const q = parseQuery(Buffer.concat([b.subarray(0, 2), Buffer.from([0, 0]), b.subarray(4)]));
  const n = b.readUInt16BE(6);
  const answers: string[] = [];
  let at = q.end;
  for (let i = 0; i < n; i++) {
    const type = b.readUInt16BE(at + 2);
    const len = b.readUInt16BE(at + 10);
    if (at + 12 + len > b.length) throw new Error(`answer ${i} runs past the message`);
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
  const ar = b.readUInt16BE(10);
  if (b.readUInt16BE(8) === 0 && ar === 0 && at !== b.length) throw new Error(`${b.length - at} bytes after the answers`);
  return { id: b.readUInt16BE(0), rcode: b.readUInt16BE(2) & 0xf, aa: !!(b.readUInt16BE(2) & 0x0400), tc: truncated(b), answers, ar };
}

/** An upstream's answer to `m`: `n` A records 10.9.<i/256>.<i%256>, the query's OPT echoed when it
 *  had one (as a resolver does), flags as given (0x8180: RD RA; 0x8380 adds TC). */
function bigAnswer(m: Buffer, n: number, flags = 0x8180): Buffer {
  const q = parseQuery(m);
  const h = Buffer.from(m.subarray(0, 12));
  h.writeUInt16BE(flags, 2);
  h.writeUInt16BE(n, 6);
  h.writeUInt16BE(0, 8);
  const rrs = Array.from({ length: n }, (_, i) => Buffer.from([0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 10, 9, i >> 8, i & 0xff]));
  return Buffer.concat([h, m.subarray(12, q.end), ...rrs, m.subarray(q.end)]);
}
const addrs = (n: number, from = 0) => Array.from({ length: n }, (_, i) => `10.9.${(i + from) >> 8}.${(i + from) & 0xff}`);

describe('DNS messages', () => {
  it('reads a question (with EDNS after it) and answers with the question echoed', () => {
    const m = query('Web.Example', TYPE.A, 7);
    const q = parseQuery(m);
    expect(q).toMatchObject({ id: 7, rd: true, name: 'web.example', type: TYPE.A, class: 1 });
    const r = decode(response(m, q, RCODE.NOERROR, [{ type: TYPE.A, address: '10.1.2.3' }, { type: TYPE.A, address: '10.1.2.4' }]));
    expect(r).toEqual({ id: 7, rcode: 0, aa: true, tc: false, answers: ['10.1.2.3', '10.1.2.4'], ar: 0 });
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
  it('the UDP limit of a query: 512 bytes without EDNS, the size its OPT record announces (not below 512)', () => {
    const limit = (m: Buffer) => udpLimit(m, parseQuery(m));
    expect(limit(query('a.test', TYPE.A, 1, 0))).toBe(512);
    expect(limit(query('a.test', TYPE.A, 1, 1232))).toBe(1232);
    expect(limit(query('a.test', TYPE.A, 1, 100))).toBe(512);
    expect(limit(query('a.test', TYPE.A, 1, 0xffff))).toBe(0xffff);
  });
  it('fit: a message within the limit is itself; a longer one keeps the question, whole answers and the OPT, with TC', () => {
    const m = query('big.test', TYPE.A, 5, 1232); // question: 14 bytes; OPT: 11
    const full = bigAnswer(m, 100);
    expect(fit(full, 0xffff)).toBe(full);
    const cut = fit(full, 512);
    expect(cut.length).toBeLessThanOrEqual(512);
    expect(decode(cut)).toMatchObject({ id: 5, tc: true, ar: 1, answers: addrs(Math.floor((512 - 12 - 14 - 11) / 16)) });
    expect(cut.subarray(-11)).toEqual(m.subarray(-11)); // the OPT record, last
    // a query without EDNS: no OPT to keep, room for one record more
    const m0 = query('big.test', TYPE.A, 5, 0);
    expect(decode(fit(bigAnswer(m0, 100), 512))).toMatchObject({ tc: true, ar: 0, answers: addrs(30) });
    // authority records go; the OPT after them stays
    const withNs = bigAnswer(m, 100);
    withNs.writeUInt16BE(1, 8);
    const soa = Buffer.from([0xc0, 12, 0, 6, 0, 1, 0, 0, 0, 60, 0, 2, 0, 0]);
    const q = parseQuery(m);
    const nsMsg = Buffer.concat([withNs.subarray(0, q.end + 1600), soa, m.subarray(q.end)]);
    const nsCut = fit(nsMsg, 512);
    expect(nsCut.readUInt16BE(8)).toBe(0);
    expect(decode(nsCut)).toMatchObject({ tc: true, ar: 1, answers: addrs(29) });
    // a message its sender cut mid-record: the whole records before the cut
    expect(decode(fit(bigAnswer(m0, 100).subarray(0, 26 + 16 * 20 + 7), 300)).answers).toEqual(addrs(Math.floor((300 - 26) / 16)));
    expect(decode(fit(bigAnswer(m0, 100).subarray(0, 26 + 16 * 10 + 7), 190)).answers).toEqual(addrs(10));
    // nothing readable after the header: the bare header, TC set
    const junk = Buffer.concat([m0.subarray(0, 12), Buffer.alloc(600, 0x3f)]);
    const bare = fit(junk, 512);
    expect(bare).toHaveLength(12);
    expect(truncated(bare)).toBe(true);
    expect([bare.readUInt16BE(4), bare.readUInt16BE(6), bare.readUInt16BE(8), bare.readUInt16BE(10)]).toEqual([0, 0, 0, 0]);
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
    const ask = async (net: NetworkRecord, from: Endpoint, name: string, type: number = TYPE.A, o: { tcp?: boolean; edns?: number } = {}) => {
      const raw = (await fake.dns.query(net.ipam[0]!.gateway, query(name, type, 0x1234, o.edns ?? 0x1000), from.ipv4!.split('/')[0]!, 53, o.tcp))!;
      return { ...decode(raw), size: raw.length };
    };
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

  it('an upstream answering SERVFAIL or REFUSED is passed over for the next; its answer is given when none does better', async () => {
    const s = await setup();
    const n = await s.create({ name: 'n' });
    const c = await s.attach(n, 'c', { dnsServers: ['192.0.2.7', '192.0.2.8', '198.51.100.1'] });
    s.fake.dns.upstreams.set('192.0.2.7:53', (m) => response(m, parseQuery(m), RCODE.SERVFAIL));
    s.fake.dns.upstreams.set('192.0.2.8:53', (m) => response(m, parseQuery(m), RCODE.REFUSED));
    expect((await s.ask(n, c, 'example.com')).answers).toEqual(['203.0.113.99']);
    expect(s.fake.dns.asked).toEqual(['192.0.2.7:53', '192.0.2.8:53', '198.51.100.1:53']);
    // no server does better: the first failing answer goes to the client (an NXDOMAIN is an answer)
    s.fake.dns.upstreams.set('198.51.100.1:53', (m) => response(m, parseQuery(m), RCODE.REFUSED));
    expect((await s.ask(n, c, 'example.com')).rcode).toBe(RCODE.SERVFAIL);
    s.fake.dns.upstreams.set('192.0.2.7:53', (m) => response(m, parseQuery(m), RCODE.NXDOMAIN));
    s.fake.dns.asked.length = 0;
    expect((await s.ask(n, c, 'nowhere.example')).rcode).toBe(RCODE.NXDOMAIN);
    expect(s.fake.dns.asked).toEqual(['192.0.2.7:53']);
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

  it('TCP: a query over TCP goes upstream over TCP and comes back whole', async () => {
    const s = await setup();
    s.fake.dns.upstreams.set('192.0.2.53:53', (m, tcp) => (tcp ? bigAnswer(m, 300) : bigAnswer(m, 0, 0x8380)));
    const n = await s.create({ name: 'n' });
    const c = await s.attach(n, 'c');
    const r = await s.ask(n, c, 'big.test', TYPE.A, { tcp: true, edns: 0 });
    expect(r).toMatchObject({ id: 0x1234, tc: false, rcode: 0 });
    expect(r.answers).toEqual(addrs(300));
    expect(s.fake.dns.asked).toEqual(['192.0.2.53:53/tcp']);
    // no TCP at an upstream: the next one is asked (over TCP), then SERVFAIL
    s.fake.dns.resolvers = ['192.0.2.1', '192.0.2.53'];
    expect((await s.ask(n, c, 'big.test', TYPE.A, { tcp: true })).answers).toHaveLength(300);
    s.fake.dns.resolvers = ['192.0.2.1'];
    expect((await s.ask(n, c, 'big.test', TYPE.A, { tcp: true })).rcode).toBe(RCODE.SERVFAIL);
    expect(s.fake.dns.asked.slice(1)).toEqual(['192.0.2.1:53/tcp', '192.0.2.53:53/tcp', '192.0.2.1:53/tcp']);
  });

  it('UDP: a truncated upstream answer is asked again over TCP; the client gets what fits its limit, TC when cut', async () => {
    const s = await setup();
    // the upstream truncates over UDP to nothing (as many servers do) and answers whole over TCP
    s.fake.dns.upstreams.set('192.0.2.53:53', (m, tcp) => (tcp ? bigAnswer(m, 100) : bigAnswer(m, 0, 0x8380)));
    const n = await s.create({ name: 'n' });
    const c = await s.attach(n, 'c');
    // no EDNS: 512 bytes, whole records, TC (the client asks again over TCP)
    const small = await s.ask(n, c, 'big.test', TYPE.A, { edns: 0 });
    expect(small).toMatchObject({ tc: true, ar: 0, answers: addrs(30) });
    expect(small.size).toBeLessThanOrEqual(512);
    expect(s.fake.dns.asked).toEqual(['192.0.2.53:53', '192.0.2.53:53/tcp']);
    // EDNS 1232: 71 records fit; 4096: all of them, TC clear
    const mid = await s.ask(n, c, 'big.test', TYPE.A, { edns: 1232 });
    expect(mid).toMatchObject({ tc: true, ar: 1, answers: addrs(Math.floor((1232 - 12 - 14 - 11) / 16)) });
    expect(mid.size).toBeLessThanOrEqual(1232);
    expect(await s.ask(n, c, 'big.test', TYPE.A, { edns: 4096 })).toMatchObject({ tc: false, ar: 1, answers: addrs(100) });
    // an answer that is not truncated is not asked again
    s.fake.dns.asked.length = 0;
    s.fake.dns.upstreams.set('192.0.2.53:53', (m) => bigAnswer(m, 3));
    expect((await s.ask(n, c, 'small.test')).answers).toEqual(addrs(3));
    expect(s.fake.dns.asked).toEqual(['192.0.2.53:53']);
    // an upstream without EDNS that sends 1.6 KB over UDP anyway, untruncated: cut to fit, no TCP
    s.fake.dns.asked.length = 0;
    s.fake.dns.upstreams.set('192.0.2.53:53', (m, tcp) => (tcp ? undefined : bigAnswer(m, 100)));
    expect(await s.ask(n, c, 'big.test', TYPE.A, { edns: 0 })).toMatchObject({ tc: true, answers: addrs(30) });
    expect(s.fake.dns.asked).toEqual(['192.0.2.53:53']);
    // TC over UDP and no TCP: the truncated answer is passed on, as it came
    s.fake.dns.asked.length = 0;
    s.fake.dns.upstreams.set('192.0.2.53:53', (m, tcp) => (tcp ? undefined : bigAnswer(m, 5, 0x8380)));
    expect(await s.ask(n, c, 'big.test')).toMatchObject({ rcode: 0, tc: true, answers: addrs(5) });
    expect(s.fake.dns.asked).toEqual(['192.0.2.53:53', '192.0.2.53:53/tcp']);
  });

  it('its own answers fit the UDP limit too: forty containers under one alias', async () => {
    const s = await setup();
    const n = await s.create({ name: 'n', ipam: [{ subnet: '10.50.0.0/24' }] });
    const c = await s.attach(n, 'c');
    for (let i = 0; i < 40; i++) await s.attach(n, `w${i}`, { aliases: ['workers'] });
    const all = Array.from({ length: 40 }, (_, i) => `10.50.0.${i + 3}`);
    const udp = await s.ask(n, c, 'workers', TYPE.A, { edns: 0 });
    expect(udp.size).toBeLessThanOrEqual(512);
    expect(udp).toMatchObject({ rcode: 0, aa: true, tc: true, answers: all.slice(0, Math.floor((512 - 12 - 13) / 16)) });
    expect(await s.ask(n, c, 'workers', TYPE.A, { edns: 1232 })).toMatchObject({ tc: false, answers: all });
    expect(await s.ask(n, c, 'workers', TYPE.A, { tcp: true, edns: 0 })).toMatchObject({ tc: false, answers: all });
    expect(s.fake.dns.asked).toEqual([]);
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

describe('real DNS sockets on 127.0.0.1 (no root: ports the kernel picks)', () => {
  /** A TCP server on 127.0.0.1: `onQuery` gets each framed query; the sockets it saw close are counted. */
  async function tcpServer(onQuery: (msg: Buffer, sock: TcpSocket) => void) {
    const closed: number[] = [];
    let seen = 0;
    const server: TcpServer = createTcpServer((sock) => {
      const n = seen++;
      sock.on('error', () => {});
      sock.on('close', () => closed.push(n));
      let buf = Buffer.alloc(0);
      sock.on('data', (d) => {
        buf = Buffer.concat([buf, d]);
        if (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) onQuery(buf.subarray(2, 2 + buf.readUInt16BE(0)), sock);
      });
    });
    await new Promise<void>((res) => server.listen(0, '127.0.0.1', res));
    const port = (server.address() as { port: number }).port;
    const waitClosed = async (count: number) => {
      for (let i = 0; i < 100 && closed.length < count; i++) await new Promise((r) => setTimeout(r, 10));
      return closed.length;
    };
    return { port, waitClosed, close: () => new Promise<void>((res) => server.close(() => res())) };
  }
  const framed = (m: Buffer) => Buffer.concat([Buffer.from([m.length >> 8, m.length & 0xff]), m]);
  const net = realDnsNet('/nonexistent');

  it('askTcp: the query framed with its length, an answer in pieces put together, the socket closed after', async () => {
    const srv = await tcpServer((m, sock) => {
      const out = framed(bigAnswer(m, 200)); // 3.2 KB, written in three pieces, the length split
      sock.write(out.subarray(0, 1));
      setTimeout(() => sock.write(out.subarray(1, 1000)), 5);
      setTimeout(() => sock.write(out.subarray(1000)), 10);
    });
    try {
      const r = decode(await net.askTcp('127.0.0.1', srv.port, query('big.test', TYPE.A, 0x4242, 0), 2000));
      expect(r).toMatchObject({ id: 0x4242, tc: false });
      expect(r.answers).toEqual(addrs(200));
      expect(await srv.waitClosed(1)).toBe(1);
    } finally {
      await srv.close();
    }
  });

  it('askTcp fails cleanly: no answer (timeout covers it all), closed early, another id, refused, a message too big', async () => {
    const silent = await tcpServer(() => {});
    const early = await tcpServer((_m, sock) => sock.end());
    const liar = await tcpServer((m, sock) => sock.write(framed(withId(bigAnswer(m, 1), 1))));
    try {
      const t0 = Date.now();
      await expect(net.askTcp('127.0.0.1', silent.port, query('a.test', TYPE.A), 150)).rejects.toMatchObject({ code: 'ETIMEDOUT' });
      expect(Date.now() - t0).toBeLessThan(1000);
      expect(await silent.waitClosed(1)).toBe(1); // our end was destroyed
      await expect(net.askTcp('127.0.0.1', early.port, query('a.test', TYPE.A), 2000)).rejects.toMatchObject({ code: 'ECONNRESET' });
      await expect(net.askTcp('127.0.0.1', liar.port, query('a.test', TYPE.A, 7), 2000)).rejects.toMatchObject({ code: 'EPROTO' });
      expect(await liar.waitClosed(1)).toBe(1);
    } finally {
      await Promise.all([silent.close(), early.close(), liar.close()]);
    }
    const gone = await tcpServer(() => {});
    await gone.close();
    await expect(net.askTcp('127.0.0.1', gone.port, query('a.test', TYPE.A), 2000)).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    await expect(net.askTcp('127.0.0.1', 1, Buffer.alloc(0x10000), 2000)).rejects.toThrow(RangeError);
  });

  it('end to end on loopback: the resolver behind real sockets retries a truncated UDP answer over TCP and forwards TCP as TCP', async () => {
    // the upstream on 127.0.0.1: TC and no records over UDP, 100 records over TCP, on one port
    const seen: string[] = [];
    const tcp = await tcpServer((m, sock) => {
      seen.push('tcp');
      sock.write(framed(bigAnswer(m, 100)));
    });
    const udp = createSocket('udp4');
    udp.on('message', (m, r) => {
      seen.push('udp');
      udp.send(bigAnswer(m, 0, 0x8380), r.port, r.address);
    });
    await new Promise<void>((res) => udp.bind(tcp.port, '127.0.0.1', res));
    const dir = await mkdtemp(join(tmpdir(), 'berth-dns-'));
    await writeFile(join(dir, 'resolv.conf'), 'nameserver 127.0.0.1\n');
    const real = realDnsNet(join(dir, 'resolv.conf'));
    // the resolver serves on 127.0.0.2 (a free port found by a throwaway server), as on a gateway
    const probe = await tcpServer(() => {});
    await probe.close();
    const dns = new EmbeddedDns({ dns: real, records: memRecords(), log: silentLog, port: probe.port, upstreamPort: tcp.port });
    try {
      await dns.start({ id: 'n1', name: 'n1', internal: false, addresses: ['127.0.0.2'] });
      expect(dns.status('n1')).toMatchObject({ serving: ['127.0.0.2'], errors: [] });
      // a UDP client without EDNS: 30 whole records in 512 bytes, TC set
      const small = await real.ask('127.0.0.2', probe.port, query('big.test', TYPE.A, 0x5151, 0), 2000);
      expect(small.length).toBeLessThanOrEqual(512);
      expect(decode(small)).toMatchObject({ id: 0x5151, tc: true, answers: addrs(30) });
      expect(seen).toEqual(['udp', 'tcp']);
      // it asks again over TCP: all of them, upstream over TCP only
      const whole = await real.askTcp('127.0.0.2', probe.port, query('big.test', TYPE.A, 0x5252, 0), 2000);
      expect(decode(whole)).toMatchObject({ id: 0x5252, tc: false, answers: addrs(100) });
      expect(seen).toEqual(['udp', 'tcp', 'tcp']);
      expect(dns.counters).toEqual({ answered: 0, forwarded: 2, failed: 0 });
    } finally {
      await dns.stopAll();
      udp.close();
      await tcp.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
