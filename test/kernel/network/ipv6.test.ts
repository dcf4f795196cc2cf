// Dual-stack networks on the real kernel: addresses on the bridge and in the container (no DAD
// wait), the container reachable over IPv6 on its network and from the host, `-p 8080:80` published
// on IPv4 and IPv6 with one host port (ip6tables DNAT, a v6-only held socket), reached from another
// machine over both families; ip6tables-save shows exactly berth's rules; release leaves nothing.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { isRoot, skipReason, uniquePrefix } from '../../helpers/prefix.js';
import { makeHost, type TestHost } from '../../helpers/netns.js';
import { inNetns, must, spawnInNetns } from '../../helpers/sh.js';
import { registerPid, unregisterPid } from '../../helpers/daemon.js';
import { startDriverHost, type DriverHost } from '../../helpers/driver-host.js';
import type { Endpoint, NetworkRecord } from '../../../drivers/types.js';

const nsOf = (ep: Endpoint) => (ep.netns as { name: string }).name;

for (const backend of ['iptables', 'nftables'] as const)
describe.skipIf(!isRoot)(`dual-stack networks on the kernel (${backend}) ${skipReason}`, () => {
  const prefix = uniquePrefix();
  let host: TestHost;
  let peer: Awaited<ReturnType<TestHost['addPeer']>>;
  let dh: DriverHost;
  let www: string;
  let net: NetworkRecord;
  let web: Endpoint;
  let cli: Endpoint;
  const procs: ChildProcess[] = [];
  const HOST6 = 'fd99:0:0:4::1';
  const PEER6 = 'fd99:0:0:4::2';

  const get = async (ns: string, url: string, six = false) => {
    const r = await inNetns(ns, ['curl', '-s', ...(six ? ['-6'] : []), '-g', '--noproxy', '*', '-m', '2', url]);
    return r.code === 0 ? r.stdout : '';
  };
  /** berth's IPv6 firewall objects of an endpoint as the kernel shows them. */
  const objects6 = async (ep: Endpoint) =>
    backend === 'iptables'
      ? (await must(['nsenter', `--net=/run/netns/${host.name}`, '--', 'ip6tables-save'])).split('\n').filter((l) => l.includes(`"${prefix}:${ep.id.slice(0, 12)}"`))
      : (await must(['nsenter', `--net=/run/netns/${host.name}`, '--', 'nft', 'list', 'table', 'inet', prefix])).split(/[\n,]/).filter((l) => l.includes(ep.ipv6!.split('/')[0]!));

  beforeAll(async () => {
    host = await makeHost(prefix);
    peer = await host.addPeer('peer', 4);
    // IPv6 on the link between the host and the other machine
    const hv = `${prefix}h4`.slice(0, 15);
    await must(['ip', '-n', host.name, 'addr', 'add', `${HOST6}/64`, 'dev', hv, 'nodad']);
    await must(['ip', '-n', peer.name, 'addr', 'add', `${PEER6}/64`, 'dev', 'eth0', 'nodad']);
    await must(['ip', '-n', peer.name, '-6', 'route', 'add', 'default', 'via', HOST6]);
    if (backend === 'iptables') await must(['nsenter', `--net=/run/netns/${host.name}`, '--', 'ip6tables', '-P', 'FORWARD', 'DROP']);
    www = mkdtempSync(join(tmpdir(), `berth-test-${prefix}-www-`));
    writeFileSync(join(www, 'index.html'), 'six\n');
    dh = await startDriverHost({ netns: host.name, prefix, bridge: `${prefix}b0`, pool: 0, firewall: backend });
    await dh.init();
    net = await dh.create({ name: 'v6', driver: 'bridge', ipv6: true, ipam: [{ subnet: 'fd00:77::/64' }] });
    web = (await dh.start(net, { name: 'web', requests: [{ containerPort: 80, proto: 'tcp', hostIp: '', hostPort: 8086, hostPortEnd: 8086 }] })).endpoint;
    cli = (await dh.start(net, { name: 'cli' })).endpoint;
    const proc = spawnInNetns(nsOf(web), ['busybox', 'httpd', '-f', '-p', '[::]:80', '-h', www]);
    registerPid(proc.pid!);
    procs.push(proc);
    for (let i = 0; i < 500 && (await get(nsOf(web), 'http://127.0.0.1/')) === ''; i++) await new Promise((r) => setTimeout(r, 10));
  });
  afterAll(async () => {
    for (const p of procs) {
      p.kill('SIGKILL');
      unregisterPid(p.pid!);
    }
    await dh?.close();
    await host?.destroy();
    if (www) rmSync(www, { recursive: true, force: true });
  });

  it('addresses on the bridge and in the container, an IPv6 default route', async () => {
    expect(web.ipv6).toBe('fd00:77::2/64');
    expect(web.gateway6).toBe('fd00:77::1');
    const a = JSON.parse((await inNetns(nsOf(web), ['ip', '-json', '-6', 'addr', 'show', 'dev', 'eth0'])).stdout)[0];
    expect(a.addr_info.map((x: { local: string; tentative?: boolean }) => [x.local, !!x.tentative])).toEqual([['fd00:77::2', false]]);
    const r = JSON.parse((await inNetns(nsOf(web), ['ip', '-json', '-6', 'route', 'show', 'default'])).stdout);
    expect(r[0]).toMatchObject({ gateway: 'fd00:77::1', dev: 'eth0' });
  });

  it('the container answers over IPv6 on its network and from the host', async () => {
    expect(await get(nsOf(cli), 'http://[fd00:77::2]/', true)).toBe('six\n');
    expect(await get(host.name, 'http://[fd00:77::2]/', true)).toBe('six\n');
  });

  it('-p 8086:80 answers on IPv4 and IPv6 with one host port, from another machine', async () => {
    const ports = (await dh.records()).endpoints.find((e) => e.id === web.id)!.ports;
    expect(ports.map((p) => `${p.hostIp}:${p.hostPort}`)).toEqual(['0.0.0.0:8086', ':::8086']);
    expect(await get(peer.name, `http://${peer.hostIp}:8086/`)).toBe('six\n');
    expect(await get(peer.name, `http://[${HOST6}]:8086/`, true)).toBe('six\n');
    // the container reaches the outside over IPv6, masqueraded
    const out = spawnInNetns(peer.name, ['busybox', 'httpd', '-f', '-p', '[::]:81', '-h', www]);
    registerPid(out.pid!);
    procs.push(out);
    let got = '';
    for (let i = 0; i < 50 && got === ''; i++) got = await get(nsOf(cli), `http://[${PEER6}]:81/`, true);
    expect(got).toBe('six\n');
    const ss = (await must(['nsenter', `--net=/run/netns/${host.name}`, '--', 'ss', '-ltnH'])).split('\n');
    expect(ss.some((l) => /\s\[::\]:8086\s/.test(l))).toBe(true);
    expect(ss.some((l) => /\s0\.0\.0\.0:8086\s/.test(l))).toBe(true);
  });

  it("the kernel shows exactly berth's IPv6 objects (a restore re-makes nothing); release leaves none", async () => {
    const r = await dh.restore();
    expect(r.bridge!.recreated.filter((x) => x.startsWith('rule'))).toEqual([]);
    expect(r.bridge!.removed.filter((x) => x.startsWith('rule'))).toEqual([]);
    // iptables: DNAT, hairpin, accept; nftables: the ports6 element and the hairpin6 element
    expect(await objects6(web)).toHaveLength(backend === 'iptables' ? 3 : 2);
    await dh.stop(net, web);
    await dh.settle();
    expect(await objects6(web)).toEqual([]);
  });
});
