// The bridge driver on the real kernel, inside a throwaway netns playing the host (FORWARD policy
// DROP, as on a host with Docker), with a second netns playing another machine. A busybox httpd
// started in a container's netns stands in for the container. Everything is checked with `ip -json`,
// `iptables-save`, `ss` and real traffic, not with berth's own code.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { isRoot, skipReason, uniquePrefix } from '../../helpers/prefix.js';
import { makeHost, type TestHost } from '../../helpers/netns.js';
import { inNetns, must, run, spawnInNetns } from '../../helpers/sh.js';
import { registerPid, unregisterPid } from '../../helpers/daemon.js';
import { startDriverHost, type DriverHost } from '../../helpers/driver-host.js';
import { parsePublishSpecs, portBindingRequests } from '../../../drivers/network/ports/spec.js';
import type { Endpoint, NetworkRecord, PortBindingRequest } from '../../../drivers/types.js';

const p = (hostPort: number, containerPort = 80, o: Partial<PortBindingRequest> = {}): PortBindingRequest => ({
  containerPort,
  proto: 'tcp',
  hostIp: '',
  hostPort,
  hostPortEnd: hostPort,
  ...o,
});
const nsOf = (ep: Endpoint) => (ep.netns as { name: string }).name;
const tagOf = (prefix: string, id: string) => `${prefix}:${id.slice(0, 12)}`;

describe.skipIf(!isRoot)(`bridge driver on the kernel ${skipReason}`, () => {
  const prefix = uniquePrefix();
  const bridge = `${prefix}br`;
  let host: TestHost;
  let peer: Awaited<ReturnType<TestHost['addPeer']>>;
  let dh: DriverHost;
  let net: NetworkRecord;
  let www: string;
  const procs: ChildProcess[] = [];

  /** busybox httpd on :80 in a container's netns; resolves once it answers there. */
  async function httpd(ep: Endpoint): Promise<ChildProcess> {
    const proc = spawnInNetns(nsOf(ep), ['busybox', 'httpd', '-f', '-p', '80', '-h', www]);
    registerPid(proc.pid!);
    procs.push(proc);
    for (let i = 0; i < 200; i++) {
      const r = await inNetns(nsOf(ep), ['curl', '-sf', '--noproxy', '*', '-m', '1', 'http://127.0.0.1:80/']);
      if (r.code === 0) return proc;
      await new Promise((res) => setTimeout(res, 10));
    }
    throw new Error('httpd did not start');
  }
  async function kill(proc: ChildProcess): Promise<void> {
    if (proc.exitCode === null && proc.signalCode === null) {
      const gone = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGKILL');
      await gone;
    }
    unregisterPid(proc.pid!);
  }
  const curl = (ns: string, url: string) => inNetns(ns, ['curl', '-s', '--noproxy', '*', '-m', '3', url]);
  const save = async () =>
    (await must(['nsenter', `--net=/run/netns/${host.name}`, '--', 'iptables-save']))
      .split('\n')
      .filter((l) => !l.startsWith('#'))
      .join('\n');
  const hostLinks = async () => JSON.parse(await must(['ip', '-n', host.name, '-json', 'link', 'show'])) as { ifname: string; master?: string }[];
  /** Named netns of this suite (the list is machine-wide: other suites run at the same time). */
  const netnsNames = async () =>
    (JSON.parse((await must(['ip', '-json', 'netns', 'list'])) || '[]') as { name: string }[]).map((n) => n.name).filter((n) => n.startsWith(prefix));
  const listening = async () => (await must(['nsenter', `--net=/run/netns/${host.name}`, '--', 'ss', '-ltnuH'])).trim();

  /** What the kernel holds of an endpoint, read with ip/iptables/ss. */
  async function traces(ep: Endpoint) {
    const tag = tagOf(prefix, ep.id);
    return {
      netns: (await netnsNames()).includes(nsOf(ep)),
      veth: (await hostLinks()).some((l) => l.ifname === ep.hostIfName),
      rules: (await save()).split('\n').filter((l) => l.includes(`"${tag}"`)),
    };
  }

  beforeAll(async () => {
    host = await makeHost(prefix);
    peer = await host.addPeer('peer', 1);
    await must(['nsenter', `--net=/run/netns/${host.name}`, '--', 'iptables', '-P', 'FORWARD', 'DROP']);
    www = mkdtempSync(join(tmpdir(), `berth-test-${prefix}-www-`));
    writeFileSync(join(www, 'index.html'), 'hello from the container\n');
    dh = await startDriverHost({ netns: host.name, prefix, bridge });
    const nets = await dh.init();
    net = nets.find((n) => n.name === 'bridge')!;
  });

  afterAll(async () => {
    for (const proc of procs) await kill(proc);
    await dh?.close();
    await host?.destroy();
    if (www) rmSync(www, { recursive: true, force: true });
  });

  it('made the bridge with its address, route_localnet, ip_forward and the base rules', async () => {
    expect(net.ipam[0]).toEqual({ subnet: '172.17.0.0/16', gateway: '172.17.0.1' });
    const addr = JSON.parse(await must(['ip', '-n', host.name, '-json', 'addr', 'show', 'dev', bridge]));
    expect(addr[0].addr_info.map((a: { local: string; prefixlen: number }) => `${a.local}/${a.prefixlen}`)).toContain('172.17.0.1/16');
    expect((await inNetns(host.name, ['cat', `/proc/sys/net/ipv4/conf/${bridge}/route_localnet`])).stdout.trim()).toBe('1');
    expect((await inNetns(host.name, ['cat', '/proc/sys/net/ipv4/ip_forward'])).stdout.trim()).toBe('1');
    const s = await save();
    expect(s).toContain(`-A FORWARD -m comment --comment "${prefix}:000000000000" -j BERTH-USER`);
    expect(s).toContain(`-A BERTH-POSTROUTING -s 172.17.0.0/16 ! -o ${bridge} -m comment --comment "${tagOf(prefix, net.id)}" -j MASQUERADE`);
    const fwd = s.split('\n').filter((l) => l.startsWith('-A FORWARD'));
    expect(fwd[0]).toContain('-j BERTH-USER');
    expect(fwd[1]).toContain('-j BERTH-FORWARD');
  });

  it('a published port answers from 127.0.0.1, the host address, another machine, another container and the container itself', async () => {
    const reqs = portBindingRequests(parsePublishSpecs(['8080:80']).portBindings, null, false);
    const { endpoint: ep, ports } = await dh.start(net, { requests: reqs });
    expect(ports).toEqual([{ containerPort: 80, proto: 'tcp', hostIp: '0.0.0.0', hostPort: 8080 }]);
    const proc = await httpd(ep);
    const { endpoint: other } = await dh.start(net);
    const body = 'hello from the container\n';
    expect((await curl(host.name, 'http://127.0.0.1:8080/')).stdout).toBe(body);
    expect((await curl(host.name, `http://${peer.hostIp}:8080/`)).stdout).toBe(body);
    expect((await curl(peer.name, `http://${peer.hostIp}:8080/`)).stdout).toBe(body);
    expect((await curl(nsOf(other), `http://${peer.hostIp}:8080/`)).stdout).toBe(body);
    expect((await curl(nsOf(ep), `http://${peer.hostIp}:8080/`)).stdout).toBe(body); // hairpin
    // the container reaches the other machine (masquerade out of the host)
    const peerSrv = spawnInNetns(peer.name, ['busybox', 'httpd', '-f', '-p', '8000', '-h', www]);
    registerPid(peerSrv.pid!);
    procs.push(peerSrv);
    let out = '';
    for (let i = 0; i < 100 && out !== body; i++) out = (await curl(nsOf(ep), `http://${peer.ip}:8000/`)).stdout;
    expect(out).toBe(body);
    // berthd holds the port: a host process cannot take it
    expect(await listening()).toMatch(/0\.0\.0\.0:8080/);
    await kill(proc);
    await dh.stop(net, ep);
    await dh.stop(net, other);
  });

  it('after release: no link, netns, rule, address, port or record remains', async () => {
    const { endpoint: ep } = await dh.start(net, { requests: [p(8081), p(0, 81), p(5353, 53, { proto: 'udp' })] });
    const before = await traces(ep);
    expect(before).toMatchObject({ netns: true, veth: true });
    expect(before.rules).toHaveLength(9);
    await dh.stop(net, ep);
    await dh.settle();
    expect(await traces(ep)).toEqual({ netns: false, veth: false, rules: [] });
    expect(await listening()).not.toMatch(/:8081|:5353/);
    expect((await dh.records()).endpoints.find((e) => e.id === ep.id)).toBeUndefined();
    // the address and the port can be had again at once
    const again = await dh.start(net, { request: { ipv4: ep.ipv4!.split('/')[0]! }, requests: [p(8081)] });
    expect(again.endpoint.ipv4).toBe(ep.ipv4);
    await dh.stop(net, again.endpoint);
    await dh.settle();
  });

  it('bad input: a clear error and nothing left behind', async () => {
    const busy = spawnInNetns(host.name, ['busybox', 'nc', '-l', '-p', '7070']);
    registerPid(busy.pid!);
    procs.push(busy);
    const { endpoint: holder } = await dh.start(net, { requests: [p(9090)] });
    for (let i = 0; i < 500 && !/:7070/.test(await listening()); i++) await new Promise((r) => setTimeout(r, 10));
    const kernel0 = { save: await save(), links: (await hostLinks()).map((l) => l.ifname).sort(), ns: (await netnsNames()).sort(), ls: await listening() };
    const records0 = (await dh.records()).endpoints.length;
    const cases: [PortBindingRequest[], string, RegExp][] = [
      [[p(70000)], 'invalid_parameter', /^invalid hostPort: 70000$/],
      [[p(80, 80, { proto: 'foo' as 'tcp' })], 'invalid_parameter', /^invalid proto: foo$/],
      [[p(80, 80, { hostIp: '1.2.3' })], 'invalid_parameter', /^invalid IP address: 1\.2\.3$/],
      [[p(8082), p(9090)], 'conflict', /^Bind for 0\.0\.0\.0:9090 failed: port is already allocated$/],
      [[p(7070)], 'conflict', /^Bind for 0\.0\.0\.0:7070 failed: port is already allocated$/],
    ];
    for (const [requests, code, msg] of cases) {
      const e = (await dh.start(net, { requests }).catch((x: unknown) => x)) as { code: string; message: string };
      expect(e.code).toBe(code);
      expect(e.message).toMatch(msg);
    }
    expect(() => parsePublishSpecs(['70000:80'])).toThrow('invalid hostPort: 70000');
    expect(() => parsePublishSpecs(['80:80/foo'])).toThrow('invalid proto: foo');
    expect(() => parsePublishSpecs(['1.2.3:80:80'])).toThrow('invalid IP address: 1.2.3');
    await dh.settle();
    await dh.poolReady(net); // the pool refills the sandbox a failed start took
    const pool = async () => (await netnsNames()).filter((n) => !kernel0.ns.includes(n));
    // what is new is only the pool's refill (a netns and a veth with no record); nothing else changed
    expect((await save())).toBe(kernel0.save);
    expect(await listening()).toBe(kernel0.ls);
    expect((await dh.records()).endpoints.length).toBe(records0);
    const newNs = await pool();
    const records = (await dh.records()).endpoints;
    for (const n of newNs) expect(records.some((e) => nsOf(e) === n)).toBe(false);
    expect(newNs.length).toBeLessThanOrEqual(5);
    await kill(busy);
    await dh.stop(net, holder);
  });

  it('an exhausted pool and an address in use: 409, nothing left', async () => {
    const [tiny] = [
      await dh.run('create_network', 'bridge', {
        id: 'ab'.repeat(32),
        spec: { name: 'tiny', driver: 'bridge', ipam: [{ subnet: '10.123.0.0/30' }], options: { 'com.docker.network.bridge.name': `${prefix}t` } },
      }),
    ];
    const a = await dh.start(tiny!);
    expect(a.endpoint.ipv4).toBe('10.123.0.2/30');
    const ns0 = (await netnsNames()).length;
    const e = (await dh.start(tiny!).catch((x: unknown) => x)) as { code: string; message: string };
    expect(e).toMatchObject({ code: 'conflict', message: "no available IPv4 addresses on this network's address pools: 10.123.0.0/30" });
    const e2 = (await dh.start(net, { request: { ipv4: '172.17.0.1' } }).catch((x: unknown) => x)) as { code: string };
    expect(e2.code).toBe('invalid_parameter');
    expect((await netnsNames()).length).toBeLessThanOrEqual(ns0 + 2); // pool refills only
    await dh.stop(tiny!, a.endpoint);
    await dh.run('delete_network', 'bridge', { network: tiny! });
    expect((await hostLinks()).some((l) => l.ifname === `${prefix}t`)).toBe(false);
    await dh.settle();
    expect(await save()).not.toContain(tagOf(prefix, tiny!.id));
  });

  it('restart: restore re-creates lost rules, re-holds ports, removes leftovers no record owns', async () => {
    const { endpoint: ep } = await dh.start(net, { requests: [p(8085)] });
    const tag = tagOf(prefix, ep.id);
    const lines = (await save()).split('\n').filter((l) => l.includes(`"${tag}"`));
    const dnat = lines.find((l) => l.includes('-j DNAT'))!;
    await must(['nsenter', `--net=/run/netns/${host.name}`, '--', 'iptables-restore', '--noflush'], { input: `*nat\n-D${dnat.slice(2)}\nCOMMIT\n` });
    const orphan = `${prefix}-${'e'.repeat(12)}`;
    await must(['ip', 'netns', 'add', orphan]);
    await must(['nsenter', `--net=/run/netns/${host.name}`, '--', 'iptables-restore', '--noflush'], {
      input: `*nat\n-A BERTH -p tcp -m tcp --dport 9999 -m comment --comment "${prefix}:dddddddddddd" -j DNAT --to-destination 172.17.9.9:80\nCOMMIT\n`,
    });
    const reports = await dh.restart();
    expect(reports.bridge!.recreated).toContain(`rule ip nat ${dnat}`);
    expect(reports.bridge!.removed).toEqual(expect.arrayContaining([`netns ${orphan}`, expect.stringContaining('dddddddddddd')]));
    expect((await save()).split('\n').filter((l) => l.includes(`"${tag}"`)).sort()).toEqual(lines.sort());
    expect(await netnsNames()).not.toContain(orphan);
    expect(await listening()).toMatch(/0\.0\.0\.0:8085/);
    const proc = await httpd(ep);
    expect((await curl(host.name, 'http://127.0.0.1:8085/')).stdout).toBe('hello from the container\n');
    await kill(proc);
    // a second restore finds nothing to do
    expect(await dh.restore()).toMatchObject({ bridge: { recreated: [], removed: [] } });
    const view = (await dh.inspect(net)) as { bridge: { name: string; addresses: string[] }; endpoints: { id: string; hostVeth: { master: string }; rules: string[] }[] };
    expect(view.bridge.name).toBe(bridge);
    expect(view.bridge.addresses).toContain('172.17.0.1/16');
    const mine = view.endpoints.find((x) => x.id === ep.id)!;
    expect(mine.hostVeth.master).toBe(bridge);
    expect(mine.rules).toHaveLength(3);
    await dh.stop(net, ep);
  });

  it('a start costs one ip and one iptables-restore execution', async () => {
    await dh.poolReady(net);
    const { endpoint: ep } = await dh.start(net, { requests: [p(8090)] });
    const jobs = await dh.recent(20);
    const start = jobs.filter((j) => j.name === 'container-start').at(-1)!;
    expect(start.execs).toEqual({ ip: 1, 'iptables-restore': 1 });
    await dh.stop(net, ep);
  });
});

describe.skipIf(!isRoot)(`bridge icc=false and --link on the kernel ${skipReason}`, () => {
  const prefix = uniquePrefix();
  let host: TestHost;
  let dh: DriverHost;
  let net: NetworkRecord;
  let www: string;
  const procs: ChildProcess[] = [];

  beforeAll(async () => {
    host = await makeHost(prefix);
    www = mkdtempSync(join(tmpdir(), `berth-test-${prefix}-www-`));
    writeFileSync(join(www, 'index.html'), 'linked\n');
    dh = await startDriverHost({ netns: host.name, prefix, bridge: `${prefix}br`, icc: false });
    net = (await dh.init()).find((n) => n.name === 'bridge')!;
  });
  afterAll(async () => {
    for (const proc of procs) {
      proc.kill('SIGKILL');
      unregisterPid(proc.pid!);
    }
    await dh?.close();
    await host?.destroy();
    if (www) rmSync(www, { recursive: true, force: true });
  });

  it('containers cannot talk until linked; the link opens the linked port only', async () => {
    const { endpoint: web } = await dh.start(net, { name: 'web' });
    const { endpoint: cli } = await dh.start(net, { name: 'cli' });
    const webIp = web.ipv4!.split('/')[0]!;
    for (const port of ['80', '81']) {
      const proc = spawnInNetns(nsOf(web), ['busybox', 'httpd', '-f', '-p', port, '-h', www]);
      registerPid(proc.pid!);
      procs.push(proc);
    }
    const get = (port: number) => run(['nsenter', `--net=/run/netns/${nsOf(cli)}`, '--', 'curl', '-s', '--noproxy', '*', '-m', '1', `http://${webIp}:${port}/`]);
    for (let i = 0; i < 50; i++) {
      const r = await inNetns(nsOf(web), ['curl', '-sf', '-m', '1', 'http://127.0.0.1:81/']);
      if (r.code === 0) break;
    }
    expect((await get(80)).code).not.toBe(0);
    await dh.run('link', 'bridge', { network: net, from: cli, to: web, ports: [{ port: 80, proto: 'tcp' }] });
    expect((await get(80)).stdout).toBe('linked\n');
    expect((await get(81)).code).not.toBe(0);
    await dh.run('unlink', 'bridge', { network: net, from: cli, to: web });
    await dh.settle();
    expect((await get(80)).code).not.toBe(0);
    await dh.stop(net, cli);
    await dh.stop(net, web);
  });
});
