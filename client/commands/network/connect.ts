// berth network connect / disconnect: POST /networks/{id}/connect|disconnect with docker's body.
import { isIP } from 'node:net';
import { defineCommand, UsageError } from '../../command.js';
import { parseFlags } from '../../flags.js';
import { seg } from '../container/shared.js';
import { endpointSettings } from '../../opts/container.js';

function ipFlag(flag: string, v: string | undefined, family: 4 | 6): string | undefined {
  if (v === undefined || v === '') return undefined;
  if (isIP(v.trim()) !== family)
    throw new UsageError(`invalid argument "${v}" for "--${flag}" flag: invalid string being converted to IP${family === 6 ? 'v6' : 'v4'} address: ${v}`);
  return v.trim();
}

export default defineCommand({
  usage:
    'network connect [OPTIONS] NETWORK CONTAINER\n\nConnect a container to a network\n\nOptions:\n      --alias strings           Add network-scoped alias for the container\n      --driver-opt strings      driver options for the network\n      --ip string               IPv4 address (e.g., "172.30.100.104")\n      --ip6 string              IPv6 address (e.g., "2001:db8::33")\n      --link list               Add link to another container\n      --link-local-ip strings   Add a link-local address for the container',
  parse(argv) {
    const { flags, args } = parseFlags(argv, {
      alias: { type: 'list' },
      'driver-opt': { type: 'list' },
      ip: { type: 'string' },
      ip6: { type: 'string' },
      link: { type: 'list' },
      'link-local-ip': { type: 'list' },
      'gw-priority': { type: 'string' },
    });
    if (args.length !== 2) throw new UsageError('"network connect" requires exactly 2 arguments.');
    const ipv4 = ipFlag('ip', flags.ip, 4);
    const ipv6 = ipFlag('ip6', flags.ip6, 6);
    const linkLocal = (flags['link-local-ip'] ?? []).flatMap((x) => x.split(','));
    const driverOpts: Record<string, string> = {};
    for (const o of (flags['driver-opt'] ?? []).flatMap((x) => x.split(','))) {
      const eq = o.indexOf('=');
      driverOpts[eq >= 0 ? o.slice(0, eq) : o] = eq >= 0 ? o.slice(eq + 1) : '';
    }
    let gw = 0;
    if (flags['gw-priority'] !== undefined) {
      if (!/^[+-]?\d+$/.test(flags['gw-priority'])) throw new UsageError(`invalid argument "${flags['gw-priority']}" for "--gw-priority" flag`);
      gw = Number(flags['gw-priority']);
    }
    const links = flags.link ?? [];
    return {
      network: args[0]!,
      body: {
        Container: args[1]!,
        EndpointConfig: endpointSettings({
          ipam: {
            ...(ipv4 ? { IPv4Address: ipv4 } : {}),
            ...(ipv6 ? { IPv6Address: ipv6 } : {}),
            ...(linkLocal.length ? { LinkLocalIPs: linkLocal } : {}),
          },
          ...(links.length ? { links } : {}),
          aliases: (flags.alias ?? []).flatMap((x) => x.split(',')),
          driverOpts,
          gwPriority: gw,
        }),
      },
    };
  },
  async run(api, o) {
    await api.call('POST', `/networks/${seg(o.network)}/connect`, { body: o.body });
    return 0;
  },
});
