// Throwaway network namespaces: one playing "the host" (where berthd runs: its bridges, veths and
// iptables tables live and die with it) and others playing other machines, wired to the host by
// veth pairs. Everything carries the test's prefix and is removed in `destroy`, even after a failure.
import { must, run, inNetns, type Result } from './sh.js';

export interface TestNetns {
  name: string;
  exec(argv: string[], opts?: { input?: string; timeoutMs?: number }): Promise<Result>;
}

export interface TestHost extends TestNetns {
  prefix: string;
  /** Another "machine": a netns linked to the host by a veth, /30 addresses, default route via the host. */
  addPeer(suffix: string, subnetIndex: number): Promise<TestNetns & { ip: string; hostIp: string }>;
  destroy(): Promise<void>;
}

async function addNetns(name: string): Promise<TestNetns> {
  await must(['ip', 'netns', 'add', name]);
  await must(['ip', '-n', name, 'link', 'set', 'lo', 'up']);
  return { name, exec: (argv, opts) => inNetns(name, argv, opts) };
}

/** Make `<prefix>-host`. Peers are `<prefix>-<suffix>` on 10.199.<i>.0/30. */
export async function makeHost(prefix: string): Promise<TestHost> {
  const made: string[] = [];
  const host = await addNetns(`${prefix}-host`);
  made.push(host.name);
  return {
    ...host,
    prefix,
    async addPeer(suffix, i) {
      const peer = await addNetns(`${prefix}-${suffix}`);
      made.push(peer.name);
      const hostIp = `10.199.${i}.1`;
      const ip = `10.199.${i}.2`;
      const hv = `${prefix}h${i}`.slice(0, 15);
      await must(['ip', '-n', host.name, '-batch', '-'], {
        input: [
          `link add ${hv} type veth peer name eth0 netns ${peer.name}`,
          `addr add ${hostIp}/30 dev ${hv}`,
          `link set ${hv} up`,
        ].join('\n'),
      });
      await must(['ip', '-n', peer.name, '-batch', '-'], {
        input: [`addr add ${ip}/30 dev eth0`, 'link set eth0 up', `route add default via ${hostIp}`].join('\n'),
      });
      return { ...peer, ip, hostIp };
    },
    async destroy() {
      await sweepNetns(prefix);
    },
  };
}

/** Delete every netns whose name starts with `prefix` (ours: the prefix is per run). */
export async function sweepNetns(prefix: string): Promise<void> {
  const r = await run(['ip', '-json', 'netns', 'list']);
  const list = r.stdout.trim() ? (JSON.parse(r.stdout) as { name: string }[]) : [];
  for (const { name } of list) if (name.startsWith(prefix)) await run(['ip', 'netns', 'del', name]);
}
