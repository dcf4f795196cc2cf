// berth ps: GET /containers/json, shown as docker 28 shows it (table, -q, --format with docker's
// placeholders, the PORTS column grouping ranges, relative CREATED times).
import { defineCommand, UsageError } from '../../command.js';
import { parseFlags } from '../../flags.js';
import { filtersParam, parseFilterArgs } from '../../opts/filters.js';
import {
  displayablePorts,
  ellipsis,
  goQuote,
  goTimeString,
  humanDuration,
  humanSize,
  renderList,
  truncateId,
  type PortSummary,
} from './render.js';

export interface ContainerSummary {
  Id: string;
  Names?: string[] | null;
  Image: string;
  ImageID?: string;
  Command: string;
  Created: number;
  Ports?: PortSummary[] | null;
  SizeRw?: number;
  SizeRootFs?: number;
  Labels?: Record<string, string> | null;
  State: string;
  Status: string;
  NetworkSettings?: { Networks?: Record<string, unknown> | null } | null;
  Mounts?: { Name?: string; Source?: string; Driver?: string }[] | null;
}

export const CONTAINER_HEADERS: Record<string, string> = {
  ID: 'CONTAINER ID',
  Names: 'NAMES',
  Image: 'IMAGE',
  Command: 'COMMAND',
  CreatedAt: 'CREATED AT',
  RunningFor: 'CREATED',
  Ports: 'PORTS',
  State: 'STATE',
  Status: 'STATUS',
  Size: 'SIZE',
  Labels: 'LABELS',
  Mounts: 'MOUNTS',
  LocalVolumes: 'LOCAL VOLUMES',
  Networks: 'NETWORKS',
};

const DEFAULT_TABLE = 'table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}';

/** One container as docker's template context shows it (every field a string). */
export function containerRow(c: ContainerSummary, trunc: boolean, now: number): Record<string, string> {
  const names = (c.Names ?? []).map((n) => n.replace(/^\//, ''));
  let image = c.Image || '<no image>';
  if (c.Image && trunc) {
    if (c.ImageID && truncateId(c.ImageID) === truncateId(c.Image)) image = truncateId(c.Image);
    else image = c.Image.replace(/@sha256:[0-9a-f]+$/, '').replace(/^docker\.io\/(library\/)?/, '');
  }
  const labels = Object.entries(c.Labels ?? {})
    .map(([k, v]) => `${k}=${v}`)
    .sort();
  const size = humanSize(c.SizeRw ?? 0, 3) + ((c.SizeRootFs ?? 0) > 0 ? ` (virtual ${humanSize(c.SizeRootFs!, 3)})` : '');
  return {
    ID: trunc ? truncateId(c.Id) : c.Id,
    Names: trunc ? (names.find((n) => !n.includes('/')) ?? '') : names.join(','),
    Image: image,
    Command: goQuote(trunc ? ellipsis(c.Command, 20) : c.Command),
    CreatedAt: goTimeString(c.Created),
    RunningFor: `${humanDuration(now - c.Created * 1000)} ago`,
    Ports: displayablePorts(c.Ports ?? []),
    State: c.State,
    Status: c.Status,
    Size: size,
    Labels: labels.join(','),
    Mounts: (c.Mounts ?? []).map((m) => (trunc ? ellipsis(m.Name || m.Source || '', 15) : m.Name || m.Source || '')).join(','),
    LocalVolumes: String((c.Mounts ?? []).filter((m) => m.Driver === 'local').length),
    Networks: Object.keys(c.NetworkSettings?.Networks ?? {}).join(','),
  };
}

export default defineCommand({
  usage:
    'ps [OPTIONS]\n\nList containers\n\nOptions:\n  -a, --all             Show all containers (default shows just running)\n  -f, --filter filter   Filter output based on conditions provided (status, name, label, id, ancestor, network, publish, expose, exited)\n      --format string   Format output using a custom template: \'table\', \'table TEMPLATE\', \'json\' or a Go template\n  -n, --last int        Show n last created containers (includes all states) (default -1)\n  -l, --latest          Show the latest created container (includes all states)\n      --no-trunc        Don\'t truncate output\n  -q, --quiet           Only display container IDs\n  -s, --size            Display total file sizes',
  parse(argv) {
    const { flags, args } = parseFlags(argv, {
      all: { type: 'bool', short: 'a' },
      filter: { type: 'list', short: 'f' },
      format: { type: 'string' },
      last: { type: 'string', short: 'n' },
      latest: { type: 'bool', short: 'l' },
      'no-trunc': { type: 'bool' },
      quiet: { type: 'bool', short: 'q' },
      size: { type: 'bool', short: 's' },
    });
    if (args.length) throw new UsageError(`"ps" accepts no arguments.`);
    let last = -1;
    if (flags.last !== undefined) {
      if (!/^[+-]?\d+$/.test(flags.last))
        throw new UsageError(`invalid argument "${flags.last}" for "-n, --last" flag: strconv.ParseInt: parsing "${flags.last}": invalid syntax`);
      last = Number(flags.last);
    }
    if (flags.latest && last === -1) last = 1;
    const filters = flags.filter ?? [];
    parseFilterArgs(filters);
    const format = flags.format ?? '';
    return {
      all: flags.all ?? false,
      filters,
      format,
      last,
      noTrunc: flags['no-trunc'] ?? false,
      quiet: flags.quiet ?? false,
      size: (flags.size ?? false) || (!flags.quiet && format.includes('.Size')),
    };
  },
  async run(api, o, io) {
    const { body } = await api.call<ContainerSummary[]>('GET', '/containers/json', {
      query: {
        all: o.all ? 1 : undefined,
        limit: o.last > 0 ? o.last : undefined,
        size: o.size ? 1 : undefined,
        filters: filtersParam(o.filters),
      },
    });
    const now = Date.now();
    const rows = body.map((c) => containerRow(c, !o.noTrunc, now));
    if (o.quiet && o.format !== '' && o.format !== 'table') io.err('WARNING: Ignoring custom format, because both --format and --quiet are set.\n');
    renderList(
      rows,
      {
        format: o.quiet ? '{{.ID}}' : o.format,
        defaultTable: DEFAULT_TABLE + (o.size ? '\t{{.Size}}' : ''),
        headers: CONTAINER_HEADERS,
      },
      io.out,
    );
    return 0;
  },
});
