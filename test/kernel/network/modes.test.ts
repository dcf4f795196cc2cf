// host, none and container modes on the kernel: each reaches what it should and nothing more.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { ChildProcess } from 'node:child_process';
import { isRoot, skipReason, uniquePrefix } from '../../helpers/prefix.js';
import { makeHost, type TestHost } from '../../helpers/netns.js';
import { inNetns, must, run, spawnInNetns } from '../../helpers/sh.js';
import { registerPid, unregisterPid } from '../../helpers/daemon.js';
import { startDriverHost, type DriverHost } from '../../helpers/driver-host.js';
import type { Endpoint, NetworkRecord } from '../../../drivers/types.js';

const CONTAINER_NET: NetworkRecord = {
  id: 'c0'.repeat(32),
  name: 'container',
  driver: 'container',
  created: new Date(0).toISOString(),
  internal: false,
  ipv6: false,
  builtin: true,
  ipam: [],
  options: {},
  labels: {},
};
const p80 = [{ containerPort: 80, proto: 'tcp' as const, hostIp: '', hostPort: 8080, hostPortEnd: 8080 }];
const nsOf = (ep: Endpoint) => (ep.netns as { name: string }).name;

describe.skipIf(!isRoot)(`host, none and container modes on the kernel ${skipReason}`, () => {
  const prefix = uniquePrefix();
  let host: TestHost;
  let dh: DriverHost;
  let nets: Record<string, NetworkRecord>;
  let www: string;
  const procs: ChildProcess[] = [];
  /** Named netns of this suite (the list is machine-wide: other suites run at the same time). */
  const netnsNames = async () =>
    (JSON.parse((await must(['ip', '-json', 'netns', 'list'])) || '[]') as { name: string }[]).map((n) => n.name).filter((n) => n.startsWith(prefix));
  const kernel = async () => ({
    links: (JSON.parse(await must(['ip', '-n', host.name, '-json', 'link', 'show'])) as { ifname: string }[]).map((l) => l.ifname).sort(),
    rules: (await must(['nsenter', `--net=/run/netns/${host.name}`, '--', 'iptables-save'])).split('\n').filter((l) => l.startsWith('-A')).sort(),
  });

  beforeAll(async () => {
    host = await makeHost(prefix);
    www = mkdtempSync(join(tmpdir(), `berth-test-${prefix}-www-`));
    writeFileSync(join(www, 'index.html'), 'shared\n');
    dh = await startDriverHost({ netns: host.name, prefix, bridge: `${prefix}br`, pool: 0 });
    nets = Object.fromEntries((await dh.init()).map((n) => [n.name, n]));
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

  it('host: the daemon netns; -p ignored; nothing made', async () => {
    const k0 = await kernel();
    const ns0 = await netnsNames();
    const { endpoint, ports } = await dh.start(nets.host!, { requests: p80 });
    expect(endpoint.netns).toEqual({ kind: 'host' });
    expect(ports).toEqual([]);
    expect(await kernel()).toEqual(k0);
    expect(await netnsNames()).toEqual(ns0);
    await dh.stop(nets.host!, endpoint);
    expect((await dh.records()).endpoints.some((e) => e.id === endpoint.id)).toBe(false);
  });

  it('none: a netns with lo only, up; the bridge and the host are out of reach', async () => {
    const { endpoint } = await dh.start(nets.none!, { requests: p80 });
    const ns = nsOf(endpoint);
    const links = JSON.parse(await must(['ip', '-n', ns, '-json', 'link', 'show'])) as { ifname: string; flags: string[] }[];
    expect(links.map((l) => l.ifname)).toEqual(['lo']);
    expect(links[0]!.flags).toContain('UP');
    expect((await inNetns(ns, ['busybox', 'ping', '-c1', '-W1', '127.0.0.1'])).code).toBe(0);
    expect((await inNetns(ns, ['curl', '-s', '-m', '1', 'http://172.17.0.1/'])).code).not.toBe(0);
    await dh.stop(nets.none!, endpoint);
    expect(await netnsNames()).not.toContain(ns);
  });

  it("container: shares a running container's netns (its services on 127.0.0.1); refuses -p, --ip, a stopped target", async () => {
    const { endpoint: target } = await dh.start(nets.bridge!);
    const proc = spawnInNetns(nsOf(target), ['busybox', 'httpd', '-f', '-p', '127.0.0.1:80', '-h', www]);
    registerPid(proc.pid!);
    procs.push(proc);
    const joinable = { id: target.container.id, name: 'target', running: true, netns: target.netns };
    const { endpoint } = await dh.start(CONTAINER_NET, { request: { joinContainer: joinable } });
    expect(endpoint.netns).toEqual({ kind: 'join', path: `/run/netns/${nsOf(target)}`, containerId: target.container.id });
    const path = (endpoint.netns as { path: string }).path;
    let out = '';
    for (let i = 0; i < 100 && out !== 'shared\n'; i++)
      out = (await run(['nsenter', `--net=${path}`, '--', 'curl', '-s', '--noproxy', '*', '-m', '1', 'http://127.0.0.1:80/'])).stdout;
    expect(out).toBe('shared\n');
    // the joined netns sees exactly the target's interfaces
    const links = JSON.parse(await must(['nsenter', `--net=${path}`, '--', 'ip', '-json', 'addr', 'show', 'eth0'])) as { addr_info: { local: string }[] }[];
    expect(links[0]!.addr_info.map((a) => a.local)).toContain(target.ipv4!.split('/')[0]);
    const bad = async (o: Parameters<DriverHost['start']>[1]) => ((await dh.start(CONTAINER_NET, o).catch((e: unknown) => e)) as { code: string; message: string });
    expect(await bad({ request: { joinContainer: joinable }, requests: p80 })).toMatchObject({
      code: 'invalid_parameter',
      message: 'conflicting options: port publishing and the container type network mode',
    });
    expect((await bad({ request: { joinContainer: joinable, ipv4: '172.17.0.50' } })).code).toBe('invalid_parameter');
    expect(await bad({ request: { joinContainer: { ...joinable, running: false, netns: undefined, id: randomBytes(32).toString('hex'), name: 'gone' } } })).toMatchObject({
      code: 'conflict',
      message: 'cannot join network of a non running container: gone',
    });
    await dh.stop(CONTAINER_NET, endpoint);
    expect(await netnsNames()).toContain(nsOf(target)); // joining owns nothing
    proc.kill('SIGKILL');
    await dh.stop(nets.bridge!, target);
  });
});
