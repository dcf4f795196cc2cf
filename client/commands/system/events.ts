import { defineCommand, UsageError } from '../../command.js';
import { parseFlags } from '../../flags.js';
import { compileFormat } from '../../format.js';
import { filtersParam } from '../../opts/filters.js';

interface Ev {
  Type: string;
  Action: string;
  Actor: { ID: string; Attributes: Record<string, string> };
  time: number;
  timeNano: number;
}

/** docker's default line: 2024-01-02T03:04:05.123456789Z container start <id> (k=v, …) */
export function eventLine(e: Ev): string {
  const iso = new Date(Math.floor(e.timeNano / 1e6)).toISOString().replace(/\.\d+Z$/, '');
  const frac = String(e.timeNano % 1e9).padStart(9, '0');
  const attrs = Object.entries(e.Actor.Attributes)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, v]) => `${k}=${v}`)
    .join(', ');
  return `${iso}.${frac}Z ${e.Type} ${e.Action} ${e.Actor.ID}${attrs ? ` (${attrs})` : ''}`;
}

export default defineCommand({
  usage:
    'events [OPTIONS]\n\nGet real time events from the server\n\n  -f, --filter filter   Filter output based on conditions provided\n      --format string   Format output using a Go template\n      --since string    Show all events created since timestamp\n      --until string    Stream events until this timestamp',
  parse(argv) {
    const { flags, args } = parseFlags(argv, {
      filter: { type: 'list', short: 'f' },
      format: { type: 'string' },
      since: { type: 'string' },
      until: { type: 'string' },
    });
    if (args.length) throw new UsageError(`"events" accepts no arguments`);
    return { filters: flags.filter ?? [], format: flags.format, since: flags.since, until: flags.until };
  },
  async run(api, opts, io) {
    const res = await api.stream('GET', '/events', {
      query: { since: opts.since, until: opts.until, filters: filtersParam(opts.filters) },
    });
    const tpl = opts.format ? compileFormat(opts.format) : undefined;
    io.onInterrupt?.(() => res.destroy());
    let buf = '';
    for await (const chunk of res) {
      buf += chunk.toString();
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl).trim();
        buf = buf.slice(nl + 1);
        if (!line) continue;
        const e = JSON.parse(line) as Ev;
        io.out((tpl ? tpl.row(e) : eventLine(e)) + '\n');
      }
    }
    return 0;
  },
});
