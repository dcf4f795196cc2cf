// berth network ls: NETWORK ID, NAME, DRIVER, SCOPE, sorted by name as docker does.
import { defineCommand, UsageError } from '../../command.js';
import { parseFlags } from '../../flags.js';
import { filtersParam, parseFilterArgs } from '../../opts/filters.js';
import { naturalCompare, renderList, truncateId } from '../container/render.js';

export interface NetworkSummary {
  Id: string;
  Name: string;
  Driver: string;
  Scope: string;
  Created?: string;
  EnableIPv4?: boolean;
  EnableIPv6?: boolean;
  Internal?: boolean;
  Labels?: Record<string, string> | null;
}

/** Go's time.Time.String() of an RFC 3339 time as the daemon sent it: "2024-01-02 03:04:05.5 +0000 UTC". */
export function goTimeFromRfc3339(s: string | undefined): string {
  if (!s) return '0001-01-01 00:00:00 +0000 UTC';
  const m = /^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2}:\d{2})(\.\d+)?(Z|[+-]\d{2}:\d{2})$/.exec(s);
  if (!m) return s;
  const frac = (m[3] ?? '').replace(/0+$/, '');
  const zone = m[4] === 'Z' ? '+0000 UTC' : `${m[4]!.replace(':', '')} ${m[4]!.replace(':', '')}`;
  return `${m[1]} ${m[2]}${frac === '.' ? '' : frac} ${zone}`;
}

export function networkRow(n: NetworkSummary, trunc: boolean): Record<string, string> {
  return {
    ID: trunc ? truncateId(n.Id) : n.Id,
    Name: n.Name,
    Driver: n.Driver,
    Scope: n.Scope,
    IPv4: String(n.EnableIPv4 ?? true),
    IPv6: String(n.EnableIPv6 ?? false),
    Internal: String(n.Internal ?? false),
    Labels: Object.entries(n.Labels ?? {})
      .map(([k, v]) => `${k}=${v}`)
      .join(','),
    CreatedAt: goTimeFromRfc3339(n.Created),
  };
}

const HEADERS = {
  ID: 'NETWORK ID',
  Name: 'NAME',
  Driver: 'DRIVER',
  Scope: 'SCOPE',
  IPv4: 'IPV4',
  IPv6: 'IPV6',
  Internal: 'INTERNAL',
  Labels: 'LABELS',
  CreatedAt: 'CREATED AT',
};

export default defineCommand({
  usage:
    'network ls [OPTIONS]\n\nList networks\n\nOptions:\n  -f, --filter filter   Provide filter values (e.g. "driver=bridge")\n      --format string   Format output using a custom template: \'table\', \'table TEMPLATE\', \'json\' or a Go template\n      --no-trunc        Do not truncate the output\n  -q, --quiet           Only display network IDs',
  parse(argv) {
    const { flags, args } = parseFlags(argv, {
      filter: { type: 'list', short: 'f' },
      format: { type: 'string' },
      'no-trunc': { type: 'bool' },
      quiet: { type: 'bool', short: 'q' },
    });
    if (args.length) throw new UsageError('"network ls" accepts no arguments.');
    parseFilterArgs(flags.filter ?? []);
    return { filters: flags.filter ?? [], format: flags.format ?? '', noTrunc: flags['no-trunc'] ?? false, quiet: flags.quiet ?? false };
  },
  async run(api, o, io) {
    const { body } = await api.call<NetworkSummary[]>('GET', '/networks', { query: { filters: filtersParam(o.filters) } });
    const rows = [...body].sort((a, b) => naturalCompare(a.Name, b.Name)).map((n) => networkRow(n, !o.noTrunc));
    renderList(
      rows,
      { format: o.quiet && (o.format === '' || o.format === 'table') ? '{{.ID}}' : o.format, defaultTable: 'table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}', headers: HEADERS },
      io.out,
    );
    return 0;
  },
});
