// Drift on the real kernel: a berth rule (the DNAT of a published port) and a veth deleted by hand;
// the check reports exactly those two, changes nothing, --repair restores them and traffic flows
// again, and the next check is clean. Also: leftovers berth owns but no record wants. The drivers
// run in a driver host (no flush watcher there, so the check sees the damage as it was made).
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
describe.skipIf(!isRoot)(`drift: system check and repair on the kernel (${backend}) ${skipReason}`, () => {
  const prefix = uniquePrefix();
  let host: TestHost;
  let peer: Awaited<ReturnType<TestHost['addPeer']>>;
  let dh: DriverHost;
  let www: string;
  let net: NetworkRecord;
  let web: Endpoint;
  const procs: ChildProcess[] = [];
  const inHost = (argv: string[]) => must(['nsenter', `--net=/run/netns/${host.name}`, '--', ...argv]);
  const get = async (url: string) => {
    const r = await inNetns(peer.name, ['curl', '-s', '--noproxy', '*', '-m', '2', url]);
    return r.code === 0 ? r.stdout : '';
  };

  beforeAll(async () => {
    host = await makeHost(prefix);
    peer = await host.addPeer('peer', 5);
    www = mkdtempSync(join(tmpdir(), `berth-test-${prefix}-www-`));
    writeFileSync(join(www, 'index.html'), 'drift\n');
    dh = await startDriverHost({ netns: host.name, prefix, bridge: `${prefix}b0`, pool: 0, firewall: backend });
    await dh.init();
    net = await dh.create({ name: 'd', driver: 'bridge' });
    web = (await dh.start(net, { name: 'web', requests: [{ containerPort: 80, proto: 'tcp', hostIp: '', hostPort: 8087, hostPortEnd: 8087 }] })).endpoint;
    const proc = spawnInNetns(nsOf(web), ['busybox', 'httpd', '-f', '-p', '80', '-h', www]);
    registerPid(proc.pid!);
    procs.push(proc);
    for (let i = 0; i < 100 && (await get(`http://${peer.hostIp}:8087/`)) === ''; i++) await new Promise((r) => setTimeout(r, 20));
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

  it('clean at first', async () => {
    expect(await get(`http://${peer.hostIp}:8087/`)).toBe('drift\n');
    expect(await dh.check(false)).toEqual([]);
  });

  it('a rule and a veth deleted by hand: exactly those two; --repair puts them back; traffic flows again', async () => {
    // the DNAT of the published port: an iptables rule, or the nftables map element
    let gone: string;
    if (backend === 'iptables') {
      const dnat = (await inHost(['iptables-save', '-t', 'nat'])).split('\n').find((l) => l.startsWith('-A BERTH ') && l.includes('--dport 8087'))!;
      await inHost(['iptables', '-t', 'nat', ...dnat.replace(/^-A /, '-D ').match(/"[^"]*"|\S+/g)!.map((w) => w.replace(/^"(.*)"$/, '$1'))]);
      gone = `ip nat ${dnat}`;
    } else {
      await inHost(['nft', 'delete', 'element', 'inet', prefix, 'ports4', '{ tcp . 8087 }']);
      gone = `inet ${prefix} map ports4 element tcp . 8087 : ${web.ipv4!.split('/')[0]} . 80 (${prefix}:${web.id.slice(0, 12)})`;
    }
    await inHost(['ip', 'link', 'del', web.hostIfName!]);
    expect(await get(`http://${peer.hostIp}:8087/`)).toBe('');
    const drift = await dh.check(false);
    expect(drift.map((d) => [d.kind, d.state])).toEqual([
      ['link', 'missing'],
      ['rule', 'missing'],
    ]);
    expect(drift[0]!.what).toContain(web.hostIfName!);
    expect(drift[1]!.what).toBe(gone);
    expect(drift.every((d) => d.endpoint === web.id && d.container === 'web')).toBe(true);
    expect((await dh.check(false)).length).toBe(2); // a check changes nothing
    const fixed = await dh.check(true);
    expect(fixed.map((d) => [d.kind, d.repaired, d.error])).toEqual([
      ['link', true, undefined],
      ['rule', true, undefined],
    ]);
    expect(await get(`http://${peer.hostIp}:8087/`)).toBe('drift\n');
    const eth0 = JSON.parse((await inNetns(nsOf(web), ['ip', '-json', 'addr', 'show', 'dev', 'eth0'])).stdout)[0];
    expect(eth0.address).toBe(web.mac);
    expect(await dh.check(false)).toEqual([]);
  });

  it("berth's leftovers no record wants are extra, and removed by --repair; others' are not touched", async () => {
    await must(['ip', 'netns', 'add', `${prefix}-0123456789ab`]);
    if (backend === 'iptables') {
      await inHost(['iptables', '-t', 'nat', '-A', 'BERTH', '-p', 'tcp', '--dport', '9999', '-m', 'comment', '--comment', `${prefix}:dddddddddddd`, '-j', 'DNAT', '--to-destination', '172.17.0.99:80']);
      await inHost(['iptables', '-t', 'nat', '-A', 'BERTH', '-p', 'tcp', '--dport', '9998', '-j', 'DNAT', '--to-destination', '172.17.0.98:80']);
    } else {
      await inHost(['nft', 'add', 'element', 'inet', prefix, 'ports4', '{ tcp . 9999 : 172.17.0.99 . 80 }']);
      await inHost(['nft', 'add', 'table', 'inet', 'other']);
      await inHost(['nft', 'add', 'chain', 'inet', 'other', 'c']);
      await inHost(['nft', 'add', 'rule', 'inet', 'other', 'c', 'tcp', 'dport', '9998', 'accept']);
    }
    const drift = await dh.check(false);
    expect(drift.map((d) => `${d.kind} ${d.state}`).sort()).toEqual(['netns extra', 'rule extra']);
    expect((await dh.check(true)).every((d) => d.repaired)).toBe(true);
    expect(await dh.check(false)).toEqual([]);
    const others = backend === 'iptables' ? await inHost(['iptables-save', '-t', 'nat']) : await inHost(['nft', 'list', 'table', 'inet', 'other']);
    expect(others).toContain('9998'); // not berth's
  });
});
