// berth images / image ls: docker's table (REPOSITORY TAG IMAGE ID CREATED SIZE), one row per tag,
// -q ids, -a, --digests, --no-trunc, --filter, --format, and an optional REPOSITORY[:TAG] argument.
import { defineCommand, UsageError } from '../../command.js';
import { parseFlags } from '../../flags.js';
import { compileFormat } from '../../format.js';
import { parseFilterArgs } from '../../opts/filters.js';
import { humanDuration, humanSize, truncateId } from '../container/render.js';

export interface ImageSummary {
  Id: string;
  RepoTags: string[] | null;
  RepoDigests: string[] | null;
  Created: number;
  Size: number;
  SharedSize?: number;
  Containers?: number;
  Labels?: Record<string, string> | null;
}

export interface Row {
  ID: string;
  Repository: string;
  Tag: string;
  Digest: string;
  CreatedSince: string;
  CreatedAt: string;
  Size: string;
  Containers: string;
  SharedSize: string;
  UniqueSize: string;
  VirtualSize: string;
}

export interface Options {
  all: boolean;
  quiet: boolean;
  noTrunc: boolean;
  digests: boolean;
  filters: Record<string, string[]>;
  format?: string;
}

const HEADERS: Record<string, string> = {
  ID: 'IMAGE ID',
  Repository: 'REPOSITORY',
  Tag: 'TAG',
  Digest: 'DIGEST',
  CreatedSince: 'CREATED',
  CreatedAt: 'CREATED AT',
  Size: 'SIZE',
  Containers: 'CONTAINERS',
  SharedSize: 'SHARED SIZE',
  UniqueSize: 'UNIQUE SIZE',
  VirtualSize: 'SIZE',
};

/** Go's time.Time.String() of a unix time, in UTC: "2024-01-02 03:04:05 +0000 UTC". */
function goTime(sec: number): string {
  return new Date(sec * 1000).toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' +0000 UTC');
}

const split = (ref: string, sep: string): [string, string] => {
  const i = ref.lastIndexOf(sep);
  return i > ref.lastIndexOf('/') && i > 0 ? [ref.slice(0, i), ref.slice(i + 1)] : [ref, '<none>'];
};

/** One row per repo:tag (docker's image list context), or one "<none>" row. */
export function rows(list: ImageSummary[], o: Pick<Options, 'noTrunc'>, now = Date.now()): Row[] {
  const out: Row[] = [];
  for (const i of list) {
    const base = {
      ID: o.noTrunc ? i.Id : truncateId(i.Id),
      CreatedSince: `${humanDuration(now - i.Created * 1000)} ago`,
      CreatedAt: goTime(i.Created),
      Size: humanSize(i.Size, 3),
      Containers: i.Containers === undefined || i.Containers < 0 ? 'N/A' : String(i.Containers),
      SharedSize: i.SharedSize === undefined || i.SharedSize < 0 ? 'N/A' : humanSize(i.SharedSize, 3),
      UniqueSize: i.SharedSize === undefined || i.SharedSize < 0 ? 'N/A' : humanSize(i.Size - i.SharedSize, 3),
      VirtualSize: humanSize(i.Size, 3),
    };
    const tags = i.RepoTags ?? [];
    const digests = i.RepoDigests ?? [];
    const digestOf = (repo: string) => digests.find((d) => d.startsWith(`${repo}@`))?.split('@')[1] ?? '<none>';
    if (tags.length) {
      for (const t of tags) {
        const [repo, tag] = split(t, ':');
        out.push({ ...base, Repository: repo, Tag: tag, Digest: digestOf(repo) });
      }
    } else if (digests.length) {
      for (const d of digests) {
        const [repo, digest] = split(d, '@');
        out.push({ ...base, Repository: repo, Tag: '<none>', Digest: digest });
      }
    } else out.push({ ...base, Repository: '<none>', Tag: '<none>', Digest: '<none>' });
  }
  return out;
}

export function render(list: ImageSummary[], o: Options, now = Date.now()): string {
  if (o.quiet) {
    const ids = [...new Set(list.map((i) => (o.noTrunc ? i.Id : truncateId(i.Id))))];
    return ids.map((id) => `${id}\n`).join('');
  }
  const r = rows(list, o, now);
  const format =
    o.format && o.format !== 'table'
      ? o.format
      : `table {{.Repository}}\t{{.Tag}}${o.digests ? '\t{{.Digest}}' : ''}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}`;
  const tpl = compileFormat(format, HEADERS);
  if (!tpl.table) return r.map((x) => tpl.row(x) + '\n').join('');
  return table([tpl.header, ...r.map((x) => tpl.row(x))]);
}

/** docker's table writer: Go tabwriter with minwidth 10, padding 3, spaces. */
export function table(lines: string[]): string {
  const rows = lines.map((l) => l.split('\t'));
  const widths: number[] = [];
  for (const r of rows) r.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, c.length + 3, 10)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('').trimEnd() + '\n').join('');
}

export default defineCommand<Options>({
  usage:
    'images [OPTIONS] [REPOSITORY[:TAG]]\n\nList images\n\nOptions:\n  -a, --all             Show all images (default hides intermediate images)\n      --digests         Show digests\n  -f, --filter filter   Filter output based on conditions provided\n      --format string   Format output using a custom template\n      --no-trunc        Don\'t truncate output\n  -q, --quiet           Only show image IDs',
  parse(argv) {
    const { flags, args } = parseFlags(argv, {
      all: { type: 'bool', short: 'a' },
      quiet: { type: 'bool', short: 'q' },
      'no-trunc': { type: 'bool' },
      digests: { type: 'bool' },
      filter: { type: 'list', short: 'f' },
      format: { type: 'string' },
      tree: { type: 'bool' },
    });
    if (args.length > 1) throw new UsageError('"images" requires at most 1 argument.');
    const filters = parseFilterArgs(flags.filter ?? []);
    if (args[0]) (filters.reference ??= []).push(args[0]);
    return {
      all: flags.all ?? false,
      quiet: flags.quiet ?? false,
      noTrunc: flags['no-trunc'] ?? false,
      digests: flags.digests ?? false,
      filters,
      ...(flags.format ? { format: flags.format } : {}),
    };
  },
  async run(api, o, io) {
    const { body } = await api.call<ImageSummary[]>('GET', '/images/json', {
      query: { all: o.all ? 1 : undefined, filters: Object.keys(o.filters).length ? JSON.stringify(o.filters) : undefined },
    });
    io.out(render(body, o));
    return 0;
  },
});
