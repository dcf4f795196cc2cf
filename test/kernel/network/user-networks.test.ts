// User-defined bridges on the real kernel, shown by traffic: isolation between networks (a
// container cannot reach another network's containers, but can reach their published ports on the
// host address), icc=false, internal networks (no route out, nothing in from other networks), and a
// second interface in one netns with the default route moved by set_gateway. The drivers run in a
// driver host inside a throwaway netns playing the host (FORWARD policy DROP, as on a host with
// Docker); a busybox httpd in a netns stands in for each container; a peer netns plays another
// machine on the outside. Both firewall backends run the same suite.
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
const ipOf = (ep: Endpoint) => ep.ipv4!.split('/')[0]!;

for (const backend of ['iptables', 'nftables'] as const)
describe.skipIf(!isRoot)(`user-defined bridges on the kernel (${backend}) ${skipReason}`, () => {
  const prefix = uniquePrefix();
  let host: TestHost;
  let peer: Awaited<ReturnType<TestHost['addPeer']>>;
  let dh: DriverHost;
  let www: string;
  const procs: ChildProcess[] = [];
  const nets: Record<string, NetworkRecord> = {};
  const eps: Record<string, Endpoint> = {};

  async function serve(ns: string): Promise<void> {
    const proc = spawnInNetns(ns, ['busybox', 'httpd', '-f', '-p', '80', '-h', www]);
    registerPid(proc.pid!);
    procs.push(proc);
    for (let i = 0; i < 200; i++) {
      if ((await inNetns(ns, ['curl', '-sf', '--noproxy', '*', '-m', '1', 'http://127.0.0.1:80/'])).code === 0) return;
      await new Promise((r) => setTimeout(r, 10));
    }
    throw new Error(`httpd in ${ns} did not start`);
  }
  /** The page from `url`, or '' when it cannot be reached within a second. */
  const get = async (ns: string, url: string) => {
    const r = await inNetns(ns, ['curl', '-s', '--noproxy', '*', '-m', '1', url]);
    return r.code === 0 ? r.stdout : '';
  };
  /** berth's firewall as the kernel shows it (iptables-save, or nft's listing of berth's table). */
  const save = async () =>
    must(['nsenter', `--net=/run/netns/${host.name}`, '--', ...(backend === 'iptables' ? ['iptables-save'] : ['nft', 'list', 'table', 'inet', prefix])]);

  beforeAll(async () => {
    host = await makeHost(prefix);
    peer = await host.addPeer('peer', 3);
    // As on a host with Docker (iptables only: with nftables, berth's accepts cannot override
    // another table's drop, and its own drops are what is tested).
    if (backend === 'iptables') await must(['nsenter', `--net=/run/netns/${host.name}`, '--', 'iptables', '-P', 'FORWARD', 'DROP']);
    www = mkdtempSync(join(tmpdir(), `berth-test-${prefix}-www-`));
    writeFileSync(join(www, 'index.html'), 'hello\n');
    dh = await startDriverHost({ netns: host.name, prefix, bridge: `${prefix}b0`, pool: 0, firewall: backend });
    await dh.init();
    nets.a = await dh.create({ name: 'a', driver: 'bridge' });
    nets.b = await dh.create({ name: 'b', driver: 'bridge', options: { 'com.docker.network.bridge.name': `${prefix}-b` } });
    nets.c = await dh.create({ name: 'c', driver: 'bridge', options: { 'com.docker.network.bridge.enable_icc': 'false' } });
    nets.i = await dh.create({ name: 'i', driver: 'bridge', internal: true, ipam: [{ subnet: '10.77.0.0/24' }] });
    const start = async (name: string, net: NetworkRecord, hostPort?: number) => {
      const requests = hostPort ? [{ containerPort: 80, proto: 'tcp' as const, hostIp: '', hostPort, hostPortEnd: hostPort }] : [];
      eps[name] = (await dh.start(net, { name, requests })).endpoint;
      await serve(nsOf(eps[name]!));
    };
    await start('a1', nets.a);
    await start('a2', nets.a);
    await start('b1', nets.b, 8081);
    await start('c1', nets.c);
    await start('c2', nets.c, 8082);
    await start('i1', nets.i);
    await start('i2', nets.i);
    await serve(peer.name);
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

  it('subnets from the pools, one bridge each', () => {
    expect(nets.a!.ipam[0]!.subnet).toBe('172.18.0.0/16');
    expect(nets.b!.ipam[0]!.subnet).toBe('172.19.0.0/16');
    expect(nets.i!.ipam[0]).toEqual({ subnet: '10.77.0.0/24', gateway: '10.77.0.1' });
  });

  it('isolation: no traffic to another network, but its published port on the host address answers', async () => {
    const a1 = nsOf(eps.a1!);
    expect(await get(a1, `http://${ipOf(eps.a2!)}/`)).toBe('hello\n'); // same network
    expect(await get(a1, `http://${ipOf(eps.b1!)}/`)).toBe(''); // another network
    expect(await get(nsOf(eps.b1!), `http://${ipOf(eps.a1!)}/`)).toBe(''); // and back
    expect(await get(a1, `http://${peer.hostIp}:8081/`)).toBe('hello\n'); // b1's published port
    expect(await get(a1, `http://${peer.ip}/`)).toBe('hello\n'); // out to another machine
    expect(await get(peer.name, `http://${peer.hostIp}:8081/`)).toBe('hello\n');
  });

  it('icc=false: no traffic between the containers of the network, but the published port answers', async () => {
    const c1 = nsOf(eps.c1!);
    expect(await get(c1, `http://${ipOf(eps.c2!)}/`)).toBe('');
    expect(await get(c1, `http://${peer.hostIp}:8082/`)).toBe('hello\n');
    expect(await get(c1, `http://${peer.ip}/`)).toBe('hello\n');
  });

  it('internal: no route out, no masquerade, nothing from other networks; inside traffic flows', async () => {
    const i1 = nsOf(eps.i1!);
    expect(await get(i1, `http://${ipOf(eps.i2!)}/`)).toBe('hello\n');
    expect(await get(i1, `http://${peer.ip}/`)).toBe('');
    const route = await inNetns(i1, ['ip', 'route', 'show', 'default']);
    expect(route.stdout.trim()).toBe('');
    expect(await get(nsOf(eps.a1!), `http://${ipOf(eps.i1!)}/`)).toBe('');
    expect(await save()).not.toContain('10.77.0.0/24'); // no masquerade: the only rule that would name the subnet
  });

  it("the kernel shows exactly berth's rules: a restore finds nothing to add, remove or re-make", async () => {
    const r = await dh.restore();
    expect(r.bridge!.recreated.filter((x) => x.startsWith('rule'))).toEqual([]);
    expect(r.bridge!.removed.filter((x) => x.startsWith('rule'))).toEqual([]);
  });

  it('a second interface in the same netns; the default route moves with set_gateway', async () => {
    const x = (await dh.start(nets.a!, { name: 'x' })).endpoint;
    const ns = nsOf(x);
    expect(await get(ns, `http://${ipOf(eps.b1!)}/`)).toBe('');
    const second = (await dh.start(nets.b!, { name: 'x', request: { netns: x.netns, ifName: 'eth1', gateway: false } })).endpoint;
    expect(second.isGateway).toBe(false);
    expect(await get(ns, `http://${ipOf(eps.b1!)}/`)).toBe('hello\n');
    const routes = async () => JSON.parse((await inNetns(ns, ['ip', '-json', 'route', 'show', 'default'])).stdout) as { gateway: string; dev: string }[];
    expect(await routes()).toEqual([expect.objectContaining({ gateway: nets.a!.ipam[0]!.gateway, dev: 'eth0' })]);
    await dh.run('set_gateway', 'bridge', { network: nets.a!, endpoint: x, gateway: false });
    await dh.run('set_gateway', 'bridge', { network: nets.b!, endpoint: second, gateway: true });
    expect(await routes()).toEqual([expect.objectContaining({ gateway: nets.b!.ipam[0]!.gateway, dev: 'eth1' })]);
    expect(await get(ns, `http://${peer.ip}/`)).toBe('hello\n'); // out through b now
    await dh.stop(nets.b!, second);
    expect((await inNetns(ns, ['ip', '-json', 'link', 'show', 'eth1'])).code).not.toBe(0);
    expect(await get(ns, `http://${ipOf(eps.a2!)}/`)).toBe('hello\n'); // eth0 untouched
    await dh.stop(nets.a!, x);
  });
});
