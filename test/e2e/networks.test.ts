// User-defined networks end to end: a real berthd in a throwaway netns playing the host, the berth
// and docker CLIs, real containers (runc, busybox). Network create options and errors, --ip,
// isolation and published ports by traffic, connect/disconnect of a running container (an
// interface more or less, without a restart; the default route and the published ports follow
// Docker's order), network rm refused while a container is attached, the embedded DNS, IPv6,
// berth system check and the flush watcher. The whole suite runs once per firewall backend.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isRoot, skipReason, uniquePrefix } from '../helpers/prefix.js';
import { makeHost, type TestHost } from '../helpers/netns.js';
import { startTestDaemon, testDir, type TestDaemon } from '../helpers/daemon.js';
import { busyboxTar } from '../helpers/images.js';
import { run } from '../helpers/sh.js';

const hasDocker = (await run(['docker', '--version'])).code === 0;

interface BerthEndpoint {
  id: string;
  container: { id: string; name: string };
  netns: { name: string };
  interface: { name: string; addresses: string[] } | null;
  gateway: boolean;
  ports: { hostIp: string; hostPort: number }[];
}

for (const backend of ['iptables', 'nftables'] as const)
describe.skipIf(!isRoot)(`networks end to end (--firewall-backend ${backend}) ${skipReason}`, () => {
  let host: TestHost;
  let peer: Awaited<ReturnType<TestHost['addPeer']>>;
  let d: TestDaemon;
  const prefix = uniquePrefix();

  const ok = async (args: string[]) => {
    const r = await d.cli(args);
    expect(r.code, `berth ${args.join(' ')}: ${r.stderr}`).toBe(0);
    return r.stdout.trim();
  };
  const endpoints = async (net: string): Promise<BerthEndpoint[]> => JSON.parse(await ok(['network', 'inspect', net, '-f', '{{json .Berth.endpoints}}']));
  const endpointOf = async (net: string, name: string) => (await endpoints(net)).find((e) => e.container.name === name);
  /** A throwaway client container on `net` fetching `url`: the page, or '' if unreachable. */
  const fetchFrom = async (net: string, url: string) => {
    // sh stays PID 1 (`; exit`), so timeout's signal reaches wget (PID 1 ignores SIGTERM).
    const r = await d.cli(['run', '--rm', '--network', net, 'busybox', 'sh', '-c', 'timeout 2 wget -qO- "$0"; exit $?', url]);
    return r.code === 0 ? r.stdout : '';
  };
  const curl = async (url: string) => {
    for (let i = 0; i < 30; i++) {
      const r = await host.exec(['curl', '-fsS', '--max-time', '2', url]);
      if (r.code === 0) return r.stdout;
      await new Promise((res) => setTimeout(res, 100));
    }
    return '';
  };
  const routes = async (netns: string) => JSON.parse((await run(['ip', '-n', netns, '-json', 'route', 'show', 'default'])).stdout) as { dev: string; gateway: string }[];

  beforeAll(async () => {
    host = await makeHost(prefix);
    peer = await host.addPeer('peer', 8);
    d = await startTestDaemon({ netns: host.name, namePrefix: prefix, args: ['--bridge', `${prefix}b0`, '--firewall-backend', backend] });
    const r = await d.cli(['import', await busyboxTar(testDir('img')), 'busybox:latest']);
    expect(r.code, r.stderr).toBe(0);
  });
  afterAll(async () => {
    await d?.teardown();
    await host?.destroy();
  });

  it('network create: options, Docker pools, overlap refused; ls and inspect show them', async () => {
    const id = await ok(['network', 'create', '--subnet', '10.88.0.0/24', '--gateway', '10.88.0.254', '--ip-range', '10.88.0.128/25', '-o', `com.docker.network.bridge.name=${prefix}-n1`, '-o', 'com.docker.network.driver.mtu=1400', 'n1']);
    expect(id).toMatch(/^[0-9a-f]{64}$/);
    await ok(['network', 'create', 'n2']);
    const n1 = JSON.parse(await ok(['network', 'inspect', 'n1']))[0];
    expect(n1.IPAM.Config).toEqual([{ Subnet: '10.88.0.0/24', Gateway: '10.88.0.254', IPRange: '10.88.0.128/25' }]);
    expect(n1.Berth.bridge).toMatchObject({ name: `${prefix}-n1`, exists: true, up: true, mtu: 1400, addresses: ['10.88.0.254/24'] });
    expect(JSON.parse(await ok(['network', 'inspect', 'n2']))[0].IPAM.Config[0].Subnet).toBe('172.18.0.0/16');
    const over = await d.cli(['network', 'create', '--subnet', '10.88.0.0/25', 'n3']);
    expect(over.code).toBe(1);
    expect(over.stderr).toContain('Pool overlaps with other one on this address space');
    expect(await ok(['network', 'ls', '--format', '{{.Name}}', '--filter', 'type=custom'])).toBe('n1\nn2');
  });

  it('--ip on a user network; isolation between networks; published ports reachable from every network', async () => {
    await ok(['run', '-d', '--name', 'web1', '--network', 'n1', '--ip', '10.88.0.10', '-p', '8091:80', 'busybox', 'httpd', '-f', '-p', '80', '-h', '/www']);
    const ep = await endpointOf('n1', 'web1');
    expect(ep?.interface?.addresses).toContain('10.88.0.10/24');
    expect(await fetchFrom('n1', 'http://10.88.0.10/')).toBe('hello from berth\n');
    expect(await fetchFrom('n2', 'http://10.88.0.10/')).toBe('');
    expect(await fetchFrom('n2', `http://${peer.hostIp}:8091/`)).toBe('hello from berth\n');
    expect(await curl(`http://${peer.hostIp}:8091/`)).toBe('hello from berth\n');
  });

  it('connect/disconnect a running container: an interface more or less, no restart', async () => {
    await ok(['run', '-d', '--name', 'web2', '--network', 'n2', 'busybox', 'httpd', '-f', '-p', '80', '-h', '/www']);
    const pid = JSON.parse(await ok(['inspect', 'web2']))[0].State.Pid;
    await ok(['network', 'connect', '--ip', '10.88.0.20', 'n1', 'web2']);
    const ep = await endpointOf('n1', 'web2');
    expect(ep?.interface).toMatchObject({ name: 'eth1', addresses: ['10.88.0.20/24'] });
    expect(ep?.gateway).toBe(true); // Docker's order: n1 sorts before n2
    expect((await endpointOf('n2', 'web2'))?.gateway).toBe(false);
    expect(await fetchFrom('n1', 'http://10.88.0.20/')).toBe('hello from berth\n');
    const c = JSON.parse(await ok(['inspect', 'web2']))[0];
    expect(c.State.Pid).toBe(pid);
    expect(Object.keys(c.NetworkSettings.Networks).sort()).toEqual(['n1', 'n2']);
    const again = await d.cli(['network', 'connect', 'n1', 'web2']);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('already exists in network n1');
    await ok(['network', 'disconnect', 'n1', 'web2']);
    expect(await endpointOf('n1', 'web2')).toBeUndefined();
    expect((await run(['ip', '-n', (await endpointOf('n2', 'web2'))!.netns.name, 'link', 'show', 'eth1'])).code).not.toBe(0);
    expect(await fetchFrom('n1', 'http://10.88.0.20/')).toBe('');
    expect(JSON.parse(await ok(['inspect', 'web2']))[0].State.Pid).toBe(pid);
    const not = await d.cli(['network', 'disconnect', 'n1', 'web2']);
    expect(not.code).toBe(1);
    expect(not.stderr).toContain('is not connected to');
  });

  it("the default route and the published ports follow Docker's order when networks come and go", async () => {
    await ok(['network', 'create', 'zeta']);
    await ok(['network', 'create', 'alpha']);
    await ok(['run', '-d', '--name', 'gw', '--network', 'zeta', '-p', '8092:80', 'busybox', 'httpd', '-f', '-p', '80', '-h', '/www']);
    const ns = (await endpointOf('zeta', 'gw'))!.netns.name;
    expect(await curl(`http://${peer.hostIp}:8092/`)).toBe('hello from berth\n');
    expect((await routes(ns)).map((r) => r.dev)).toEqual(['eth0']);
    await ok(['network', 'connect', 'alpha', 'gw']); // "alpha" < "zeta": alpha becomes the gateway
    expect((await routes(ns)).map((r) => r.dev)).toEqual(['eth1']);
    expect((await endpointOf('alpha', 'gw'))!.ports.map((p) => p.hostPort)).toEqual([8092]);
    expect((await endpointOf('zeta', 'gw'))!.ports).toEqual([]);
    expect(await curl(`http://${peer.hostIp}:8092/`)).toBe('hello from berth\n');
    expect(JSON.parse(await ok(['inspect', 'gw']))[0].NetworkSettings.Ports['80/tcp']).toEqual([{ HostIp: '0.0.0.0', HostPort: '8092' }]);
    await ok(['network', 'disconnect', 'alpha', 'gw']);
    expect((await routes(ns)).map((r) => r.dev)).toEqual(['eth0']);
    expect((await endpointOf('zeta', 'gw'))!.ports.map((p) => p.hostPort)).toEqual([8092]);
    expect(await curl(`http://${peer.hostIp}:8092/`)).toBe('hello from berth\n');
  });

  it('disconnect from the network a container was started on: another network keeps it (and its ports); the last one leaves lo only; nothing leaks', async () => {
    await ok(['network', 'create', 'side']);
    await ok(['run', '-d', '--name', 'mv', '-p', '8097:80', 'busybox', 'httpd', '-f', '-p', '80', '-h', '/www']);
    const { State: { Pid: pid }, HostConfig: { NetworkMode: mode } } = JSON.parse(await ok(['inspect', 'mv']))[0];
    const ns = (await endpointOf('bridge', 'mv'))!.netns.name;
    await ok(['network', 'connect', 'side', 'mv']);
    // off its NetworkMode network while it runs: eth0 goes, eth1 stays, the published port moves
    await ok(['network', 'disconnect', 'bridge', 'mv']);
    expect(await endpointOf('bridge', 'mv')).toBeUndefined();
    const links = async () => (JSON.parse((await run(['ip', '-n', ns, '-json', 'link', 'show'])).stdout) as { ifname: string }[]).map((l) => l.ifname).sort();
    expect(await links()).toEqual(['eth1', 'lo']);
    expect((await endpointOf('side', 'mv'))!.ports.map((p) => p.hostPort)).toEqual([8097]);
    expect(await curl(`http://${peer.hostIp}:8097/`)).toBe('hello from berth\n');
    let c = JSON.parse(await ok(['inspect', 'mv']))[0];
    expect(c.State.Pid).toBe(pid);
    expect(Object.keys(c.NetworkSettings.Networks)).toEqual(['side']);
    expect(c.HostConfig.NetworkMode).toBe(mode); // as dockerd: the mode stays, the network goes
    // the last one: the container keeps running in its netns, with lo only
    await ok(['network', 'disconnect', 'side', 'mv']);
    expect(await links()).toEqual(['lo']);
    c = JSON.parse(await ok(['inspect', 'mv']))[0];
    expect(c.State).toMatchObject({ Running: true, Pid: pid });
    expect(c.NetworkSettings.Networks).toEqual({});
    expect(await curl(`http://${peer.hostIp}:8097/`)).toBe('');
    // a kill -9 of berthd here: the restarted daemon keeps the container and its netns
    await d.kill9();
    await d.restart();
    c = JSON.parse(await ok(['inspect', 'mv']))[0];
    expect(c.State).toMatchObject({ Running: true, Pid: pid });
    expect(await links()).toEqual(['lo']);
    // and starts so: no network, lo only
    await ok(['restart', '-t', '0', 'mv']);
    c = JSON.parse(await ok(['inspect', 'mv']))[0];
    expect(c.NetworkSettings.Networks).toEqual({});
    const ns2 = (c.NetworkSettings.SandboxKey as string).replace('/run/netns/', '');
    expect(ns2).not.toBe('');
    expect((JSON.parse((await run(['ip', '-n', ns2, '-json', 'link', 'show'])).stdout) as { ifname: string }[]).map((l) => l.ifname)).toEqual(['lo']);
    // back on bridge while it runs: an interface again, its port published again; at the next start eth0
    await ok(['network', 'connect', 'bridge', 'mv']);
    expect(Object.keys(JSON.parse(await ok(['inspect', 'mv']))[0].NetworkSettings.Networks)).toEqual(['bridge']);
    expect(await curl(`http://${peer.hostIp}:8097/`)).toBe('hello from berth\n');
    await ok(['restart', '-t', '0', 'mv']);
    expect((await endpointOf('bridge', 'mv'))!.interface!.name).toBe('eth0');
    expect(await curl(`http://${peer.hostIp}:8097/`)).toBe('hello from berth\n');
    // a stopped container: off bridge, on side; it starts with side as eth0
    await ok(['stop', '-t', '0', 'mv']);
    await ok(['network', 'disconnect', 'bridge', 'mv']);
    await ok(['network', 'connect', 'side', 'mv']);
    await ok(['start', 'mv']);
    expect(await endpointOf('bridge', 'mv')).toBeUndefined();
    expect((await endpointOf('side', 'mv'))!.interface!.name).toBe('eth0');
    const last = (await endpointOf('side', 'mv'))!.netns.name;
    await ok(['rm', '-f', 'mv']);
    const left = (JSON.parse((await run(['ip', '-json', 'netns', 'list'])).stdout || '[]') as { name: string }[]).map((n) => n.name);
    for (const x of [ns, ns2, last]) expect(left).not.toContain(x);
    expect((await ok(['system', 'check', '-q'])).trim()).toBe('');
    await ok(['network', 'rm', 'side']);
    // a --net none container stays on none
    await ok(['run', '-d', '--name', 'nn', '--net', 'none', 'busybox', 'sleep', '60']);
    const r = await d.cli(['network', 'disconnect', 'none', 'nn']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('cannot disconnect a container from the none network it is created in');
    await ok(['rm', '-f', 'nn']);
  });

  it('a stopped container records the network and gets it at its next start', async () => {
    await ok(['create', '--name', 'later', '--network', 'n2', 'busybox', 'httpd', '-f', '-p', '80', '-h', '/www']);
    await ok(['network', 'connect', '--ip', '10.88.0.30', 'n1', 'later']);
    await ok(['start', 'later']);
    expect(await fetchFrom('n1', 'http://10.88.0.30/')).toBe('hello from berth\n');
    expect((await endpointOf('n1', 'later'))!.interface!.name).toBe('eth1');
  });

  it('network rm: 403 while a container is attached; predefined networks cannot be removed', async () => {
    const r = await d.cli(['network', 'rm', 'n1']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('has active endpoints');
    const b = await d.cli(['network', 'rm', 'bridge']);
    expect(b.stderr).toContain('bridge is a pre-defined network and cannot be removed');
    await ok(['rm', '-f', 'web1', 'web2', 'later', 'gw']);
    await ok(['network', 'rm', 'n1', 'alpha', 'zeta']);
    const links = JSON.parse((await host.exec(['ip', '-json', 'link', 'show'])).stdout) as { ifname: string }[];
    expect(links.some((l) => l.ifname === `${prefix}-n1`)).toBe(false);
  });

  it('embedded DNS: names, aliases and short ids on the network; not across networks; resolv.conf points at it', async () => {
    await ok(['network', 'create', 'dnsnet']);
    await ok(['network', 'create', 'othernet']);
    const id = await ok(['run', '-d', '--name', 'named', '--network', 'dnsnet', '--network-alias', 'www', 'busybox', 'httpd', '-f', '-p', '80', '-h', '/www']);
    expect(await fetchFrom('dnsnet', 'http://named/')).toBe('hello from berth\n');
    expect(await fetchFrom('dnsnet', 'http://www/')).toBe('hello from berth\n');
    expect(await fetchFrom('dnsnet', `http://${id.slice(0, 12)}/`)).toBe('hello from berth\n');
    expect(await fetchFrom('othernet', 'http://named/')).toBe('');
    const conf = await d.cli(['run', '--rm', '--network', 'dnsnet', 'busybox', 'cat', '/etc/resolv.conf']);
    const gw = JSON.parse(await ok(['network', 'inspect', 'dnsnet']))[0].IPAM.Config[0].Gateway;
    expect(conf.stdout).toContain(`nameserver ${gw}\n`);
    expect(conf.stdout).toContain('options ndots:0');
    const ns = await d.cli(['run', '--rm', '--network', 'dnsnet', 'busybox', 'nslookup', 'named']);
    expect(ns.stdout).toMatch(/Address:?\s+172\.\d+\.0\.2/);
    // a container connected later is found by the others at once
    await ok(['run', '-d', '--name', 'late', '--network', 'othernet', 'busybox', 'httpd', '-f', '-p', '80', '-h', '/www']);
    expect(await fetchFrom('dnsnet', 'http://late/')).toBe('');
    await ok(['network', 'connect', '--alias', 'latecomer', 'dnsnet', 'late']);
    expect(await fetchFrom('dnsnet', 'http://latecomer/')).toBe('hello from berth\n');
    // a rename while it runs: the new name answers at once, the old one no longer
    await ok(['rename', 'named', 'renamed']);
    expect(await fetchFrom('dnsnet', 'http://renamed/')).toBe('hello from berth\n');
    expect(await fetchFrom('dnsnet', 'http://named/')).toBe('');
    expect(await fetchFrom('dnsnet', 'http://www/')).toBe('hello from berth\n');
    expect((await endpointOf('dnsnet', 'renamed'))?.container.name).toBe('renamed');
    await ok(['rm', '-f', 'renamed', 'late']);
  });

  it('embedded DNS forwards other names to --dns servers (here a fake resolver on the host loopback)', async () => {
    const script = `
      const s = require('node:dgram').createSocket('udp4');
      s.on('message', (m, r) => {
        let i = 12; while (m[i]) i += m[i] + 1; const end = i + 5;
        const h = Buffer.from(m.subarray(0, 12)); h.writeUInt16BE(0x8180, 2); h.writeUInt16BE(1, 6); h.writeUInt16BE(0, 8); h.writeUInt16BE(0, 10);
        const type = m.readUInt16BE(i + 1);
        const ans = type === 1 ? Buffer.from([0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 203, 0, 113, 5]) : Buffer.alloc(0);
        if (type !== 1) h.writeUInt16BE(0, 6);
        s.send(Buffer.concat([h, m.subarray(12, end), ans]), r.port, r.address);
      });
      s.bind(53, '127.0.0.1', () => console.log('ready'));`;
    const { spawn } = await import('node:child_process');
    const fake = spawn('nsenter', [`--net=/run/netns/${host.name}`, '--', process.execPath, '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      await new Promise<void>((res) => fake.stdout!.once('data', () => res()));
      const r = await d.cli(['run', '--rm', '--network', 'dnsnet', '--dns', '127.0.0.1', 'busybox', 'nslookup', 'example.test']);
      expect(r.stdout).toContain('203.0.113.5');
    } finally {
      fake.kill('SIGKILL');
    }
  });

  it('embedded DNS: a big answer comes whole over TCP; over UDP what fits, after a TCP retry upstream (fake resolver on the host loopback)', async () => {
    // The upstream: over UDP a truncated answer without records (TC), over TCP 40 A records (none
    // for other types). It prints "udp"/"tcp" for each query; binding is retried while the
    // previous test's fake dies.
    const upstream = `
      const answer = (m, n, flags) => {
        let i = 12; while (m[i]) i += m[i] + 1; const end = i + 5;
        if (m.readUInt16BE(i + 1) !== 1) n = 0; // A records only
        const h = Buffer.from(m.subarray(0, 12)); h.writeUInt16BE(flags, 2); h.writeUInt16BE(n, 6); h.writeUInt16BE(0, 8); h.writeUInt16BE(0, 10);
        const rrs = []; for (let k = 1; k <= n; k++) rrs.push(Buffer.from([0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 203, 0, 113, k]));
        return Buffer.concat([h, m.subarray(12, end), ...rrs]);
      };
      const u = require('node:dgram').createSocket('udp4');
      u.on('message', (m, r) => { console.log('udp'); u.send(answer(m, 0, 0x8380), r.port, r.address); });
      const t = require('node:net').createServer((s) => {
        let b = Buffer.alloc(0);
        s.on('error', () => {});
        s.on('data', (d) => {
          b = Buffer.concat([b, d]);
          if (b.length < 2 || b.length < 2 + b.readUInt16BE(0)) return;
          console.log('tcp');
          const a = answer(b.subarray(2, 2 + b.readUInt16BE(0)), 40, 0x8180);
          s.end(Buffer.concat([Buffer.from([a.length >> 8, a.length & 255]), a]));
        });
      });
      const bind = (left) => {
        const retry = () => left > 0 ? setTimeout(() => bind(left - 1), 100) : process.exit(1);
        u.once('error', retry);
        u.bind(53, '127.0.0.1', () => {
          u.removeListener('error', retry);
          t.once('error', () => process.exit(1));
          t.listen(53, '127.0.0.1', () => console.log('ready'));
        });
      };
      bind(30);`;
    // A TCP query from a container's netns to its gateway: the answer's TC bit and record count.
    const client = `
      const [gw] = process.argv.slice(1);
      const name = Buffer.concat([...'big.test'.split('.').flatMap((l) => [Buffer.from([l.length]), Buffer.from(l)]), Buffer.from([0])]);
      const q = Buffer.concat([Buffer.from([0x77, 0x77, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0]), name, Buffer.from([0, 1, 0, 1])]);
      const s = require('node:net').connect(53, gw, () => s.write(Buffer.concat([Buffer.from([0, q.length]), q])));
      let b = Buffer.alloc(0);
      s.setTimeout(3000, () => process.exit(2));
      s.on('data', (d) => {
        b = Buffer.concat([b, d]);
        if (b.length < 2 || b.length < 2 + b.readUInt16BE(0)) return;
        const a = b.subarray(2);
        console.log(JSON.stringify({ id: a.readUInt16BE(0), tc: !!(a.readUInt16BE(2) & 0x200), answers: a.readUInt16BE(6), bytes: a.length }));
        s.destroy();
      });`;
    const { spawn } = await import('node:child_process');
    const fake = spawn('nsenter', [`--net=/run/netns/${host.name}`, '--', process.execPath, '-e', upstream], { stdio: ['ignore', 'pipe', 'inherit'] });
    const lines: string[] = [];
    try {
      await new Promise<void>((res, rej) => {
        fake.stdout!.on('data', (d: Buffer) => {
          lines.push(...d.toString().split('\n').filter(Boolean));
          if (lines.includes('ready')) res();
        });
        fake.once('exit', (code) => rej(new Error(`fake upstream exited (${code})`)));
      });
      // UDP (busybox nslookup): the UDP answer had no records, so every address shown came by TCP
      const r = await d.cli(['run', '--rm', '--network', 'dnsnet', '--dns', '127.0.0.1', 'busybox', 'nslookup', 'big.test']);
      const shown = r.stdout.match(/Address:?\s+203\.0\.113\.\d+/g) ?? [];
      expect(shown.length, r.stdout).toBeGreaterThan(0);
      expect(shown.length).toBeLessThanOrEqual(30); // 512 bytes: 12 header + 14 question + 30 × 16
      const asked = lines.filter((l) => l !== 'ready');
      expect(asked[0]).toBe('udp');
      expect(asked).toContain('tcp'); // the retry of the truncated answer
      // TCP from a container: forwarded over TCP, all 40 records
      lines.length = 0;
      await ok(['run', '-d', '--name', 'tcpdns', '--network', 'dnsnet', '--dns', '127.0.0.1', 'busybox', 'sleep', '60']);
      const ep = (await endpointOf('dnsnet', 'tcpdns'))!;
      const gw = JSON.parse(await ok(['network', 'inspect', 'dnsnet']))[0].IPAM.Config[0].Gateway;
      const q = await run(['nsenter', `--net=/run/netns/${ep.netns.name}`, '--', process.execPath, '-e', client, gw]);
      expect(q.code, q.stderr).toBe(0);
      expect(JSON.parse(q.stdout)).toEqual({ id: 0x7777, tc: false, answers: 40, bytes: 12 + 14 + 40 * 16 });
      expect(lines).toEqual(['tcp']);
    } finally {
      fake.kill('SIGKILL');
      await d.cli(['rm', '-f', 'tcpdns']);
    }
  });

  it('IPv6: a dual-stack network, -p on both families with one port, names answer AAAA', async () => {
    await ok(['network', 'create', '--ipv6', '--subnet', 'fd00:88::/64', 'v6net']);
    const n = JSON.parse(await ok(['network', 'inspect', 'v6net']))[0];
    expect(n.EnableIPv6).toBe(true);
    expect(n.IPAM.Config[0].Subnet).toMatch(/^172\.\d+\.0\.0\/16$/);
    expect(n.IPAM.Config[1]).toEqual({ Subnet: 'fd00:88::/64', Gateway: 'fd00:88::1' });
    await ok(['run', '-d', '--name', 'six', '--network', 'v6net', '-p', '8094:80', 'busybox', 'httpd', '-f', '-p', '[::]:80', '-h', '/www']);
    expect((await ok(['port', 'six'])).split('\n').sort()).toEqual(['80/tcp -> 0.0.0.0:8094', '80/tcp -> [::]:8094']);
    const c = JSON.parse(await ok(['inspect', 'six']))[0];
    expect(c.NetworkSettings.Networks.v6net.GlobalIPv6Address).toBe('fd00:88::2');
    expect(await curl(`http://${peer.hostIp}:8094/`)).toBe('hello from berth\n');
    const r = await host.exec(['curl', '-6', '-g', '-fsS', '--max-time', '2', 'http://[fd00:88::1]:8094/']);
    expect(r.stdout).toBe('hello from berth\n');
    expect(await fetchFrom('v6net', 'http://[fd00:88::2]/')).toBe('hello from berth\n');
    const ns = await d.cli(['run', '--rm', '--network', 'v6net', 'busybox', 'nslookup', '-type=AAAA', 'six']);
    expect(ns.stdout).toContain('fd00:88::2');
    await ok(['rm', '-f', 'six']);
  });

  it("an administrator's flush of berth's chains is repaired by the watcher (bench/firewall.mjs times it); system check then finds nothing", async () => {
    await ok(['run', '-d', '--name', 'fl', '-p', '8095:80', 'busybox', 'httpd', '-f', '-p', '80', '-h', '/www']);
    expect(await curl(`http://${peer.hostIp}:8095/`)).toBe('hello from berth\n');
    // berth's objects as the kernel shows them, and an administrator's flush of them
    const objects = async () =>
      backend === 'iptables'
        ? (await host.exec(['iptables-save'])).stdout.split('\n').filter((l) => /^-A BERTH(-FORWARD)? /.test(l)).sort()
        : (await host.exec(['nft', 'list', 'table', 'inet', prefix])).stdout.split('\n').map((l) => l.trim()).filter(Boolean).sort();
    const wanted = await objects();
    const t0 = Date.now();
    if (backend === 'iptables') {
      expect((await host.exec(['iptables', '-t', 'nat', '-F', 'BERTH'])).code).toBe(0);
      expect((await host.exec(['iptables', '-F', 'BERTH-FORWARD'])).code).toBe(0);
    } else {
      for (const c of ['ports', 'forward']) expect((await host.exec(['nft', 'flush', 'chain', 'inet', prefix, c])).code).toBe(0);
      expect((await host.exec(['nft', 'delete', 'element', 'inet', prefix, 'ports4', '{ tcp . 8095 }'])).code).toBe(0);
    }
    expect(await objects()).not.toEqual(wanted);
    let back = -1;
    while (Date.now() - t0 < 10_000) {
      const now = await objects();
      if (now.join('\n') === wanted.join('\n')) {
        back = Date.now() - t0;
        break;
      }
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(back).toBeGreaterThanOrEqual(0);
    console.log(`${backend}: flushed chains repaired in ${back} ms`);
    expect(await curl(`http://${peer.hostIp}:8095/`)).toBe('hello from berth\n');
    const r = await d.cli(['system', 'check']);
    expect(r.stdout, r.stderr).toBe('no drift: the kernel matches the records\n');
    expect(r.code).toBe(0);
  });

  it('berth system check: a veth deleted by hand is reported, --repair restores it, traffic flows again', async () => {
    const ep = (await endpoints('bridge')).find((e) => e.container.name === 'fl')!;
    const veth = (ep as unknown as { hostVeth: { name: string } }).hostVeth.name;
    expect((await host.exec(['ip', 'link', 'del', veth])).code).toBe(0);
    const r = await d.cli(['system', 'check']);
    expect(r.code).toBe(1);
    const lines = r.stdout.trim().split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[1]).toMatch(new RegExp(`^link\\s+missing\\s+bridge\\s+fl\\s+veth ${veth} \\(eth0 in \\S+\\) on ${prefix}b0$`));
    const fix = await d.cli(['system', 'check', '--repair']);
    expect(fix.code, fix.stdout + fix.stderr).toBe(0);
    expect(fix.stdout).toContain('1 of 1 repaired');
    expect(await curl(`http://${peer.hostIp}:8095/`)).toBe('hello from berth\n');
    expect((await d.cli(['system', 'check', '-q'])).code).toBe(0);
    await ok(['rm', '-f', 'fl']);
  });

  it.skipIf(!hasDocker)('the docker CLI: network create/connect/disconnect/rm against berthd', async () => {
    const cr = await d.docker(['network', 'create', '--internal', 'dk']);
    expect(cr.code, cr.stderr).toBe(0);
    const c = await d.docker(['run', '-d', '--name', 'dkc', '--network', 'n2', 'busybox', 'sleep', '60']);
    expect(c.code, c.stderr).toBe(0);
    const cn = await d.docker(['network', 'connect', '--alias', 'db', 'dk', 'dkc']);
    expect(cn.code, cn.stderr).toBe(0);
    const insp = JSON.parse((await d.docker(['inspect', 'dkc'])).stdout)[0];
    expect(Object.keys(insp.NetworkSettings.Networks).sort()).toEqual(['dk', 'n2']);
    const dc = await d.docker(['network', 'disconnect', 'dk', 'dkc']);
    expect(dc.code, dc.stderr).toBe(0);
    const rm = await d.docker(['rm', '-f', 'dkc']);
    expect(rm.code, rm.stderr).toBe(0);
    const nrm = await d.docker(['network', 'rm', 'dk', 'n2']);
    expect(nrm.code, nrm.stderr).toBe(0);
  });
});

describe.skipIf(!isRoot)(`berthd --default-address-pool ${skipReason}`, () => {
  let host: TestHost;
  let d: TestDaemon;
  const prefix = uniquePrefix();
  afterAll(async () => {
    await d?.cleanup();
    await host?.destroy();
  });
  it('the default bridge and new networks take their subnets from the pool', async () => {
    host = await makeHost(prefix);
    d = await startTestDaemon({ netns: host.name, namePrefix: prefix, args: ['--bridge', `${prefix}b0`, '--default-address-pool', 'base=10.123.0.0/16,size=24'] });
    const sub = async (n: string) => JSON.parse((await d.cli(['network', 'inspect', n])).stdout)[0].IPAM.Config[0].Subnet;
    expect(await sub('bridge')).toBe('10.123.0.0/24');
    expect((await d.cli(['network', 'create', 'p1'])).code).toBe(0);
    expect(await sub('p1')).toBe('10.123.1.0/24');
  });
});
