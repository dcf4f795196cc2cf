// berth port: the published ports of a container, as `docker port` prints them.
import { defineCommand, UsageError } from '../../command.js';
import { parseFlags } from '../../flags.js';
import { joinHostPort, naturalCompare } from './render.js';
import { seg } from './shared.js';

type PortMap = Record<string, { HostIp: string; HostPort: string }[] | null>;

export default defineCommand({
  usage: 'port CONTAINER [PRIVATE_PORT[/PROTO]]\n\nList port mappings or a specific mapping for the container',
  parse(argv) {
    const { args } = parseFlags(argv, {});
    if (args.length < 1 || args.length > 2) throw new UsageError('"port" requires at least 1 and at most 2 arguments.');
    return { container: args[0]!, port: args[1] };
  },
  async run(api, o, io) {
    const { body: c } = await api.call<{ NetworkSettings?: { Ports?: PortMap | null } | null }>(
      'GET',
      `/containers/${seg(o.container)}/json`,
    );
    const ports: PortMap = c.NetworkSettings?.Ports ?? {};
    const out: string[] = [];
    if (o.port !== undefined) {
      const [port = '', proto = 'tcp'] = o.port.split('/');
      if (!/^\d+$/.test(port) || Number(port) > 65535) {
        io.err(`Error: invalid port (${port}): strconv.ParseUint: parsing "${port}": invalid syntax\n`);
        return 1;
      }
      const fronts = ports[`${port}/${proto || 'tcp'}`];
      if (!fronts?.length) {
        io.err(`Error: No public port '${o.port}' published for ${o.container}\n`);
        return 1;
      }
      for (const f of fronts) out.push(joinHostPort(f.HostIp, f.HostPort));
    } else {
      for (const [from, fronts] of Object.entries(ports)) for (const f of fronts ?? []) out.push(`${from} -> ${joinHostPort(f.HostIp, f.HostPort)}`);
    }
    out.sort(naturalCompare);
    if (out.length) io.out(`${out.join('\n')}\n`);
    return 0;
  },
});
