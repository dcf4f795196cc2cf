// berth system check [--repair]: the drift between berthd's records and the kernel (berth's
// firewall rules, links, netns, addresses, routes, held ports, DNS responders), one line each;
// --repair fixes it. Exits 0 when nothing is (left) wrong, 1 otherwise, so scripts can use it.
import { defineCommand, UsageError } from '../../command.js';
import { parseFlags } from '../../flags.js';
import { columns, compileFormat } from '../../format.js';

interface DriftItem {
  kind: string;
  state: string;
  what: string;
  network?: string;
  container?: string;
  repaired?: boolean;
  error?: string;
}

interface CheckReport {
  drift: DriftItem[];
  repair: boolean;
  durationMs: number;
}

export default defineCommand({
  usage:
    'system check [OPTIONS]\n\nCompare what berthd recorded with what the kernel holds, and show the drift\n\nOptions:\n      --repair          Make the kernel match the records again\n      --format string   Format output using a Go template (json: the report as JSON)\n  -q, --quiet           Print nothing; the exit code says whether anything is wrong',
  parse(argv) {
    const { flags, args } = parseFlags(argv, { repair: { type: 'bool' }, format: { type: 'string' }, quiet: { type: 'bool', short: 'q' } });
    if (args.length) throw new UsageError('"system check" accepts no arguments');
    return { repair: flags.repair ?? false, format: flags.format, quiet: flags.quiet ?? false };
  },
  async run(api, o, io) {
    const { body } = o.repair
      ? await api.call<CheckReport>('POST', '/berth/check', { query: { repair: '1' } })
      : await api.call<CheckReport>('GET', '/berth/check');
    const left = body.drift.filter((d) => !d.repaired);
    const code = left.length ? 1 : 0;
    if (o.quiet) return code;
    if (o.format === 'json') {
      io.out(JSON.stringify(body) + '\n');
      return code;
    }
    if (o.format) {
      const t = compileFormat(o.format);
      for (const d of body.drift) io.out(t.row(d) + '\n');
      return code;
    }
    if (body.drift.length === 0) {
      io.out('no drift: the kernel matches the records\n');
      return 0;
    }
    const rows = [`KIND\tSTATE\tNETWORK\tCONTAINER\t${o.repair ? 'REPAIRED\t' : ''}WHAT`];
    for (const d of body.drift)
      rows.push(
        `${d.kind}\t${d.state}\t${d.network ?? '-'}\t${d.container ?? '-'}\t${o.repair ? `${d.repaired ? 'yes' : `no${d.error ? ` (${d.error})` : ''}`}\t` : ''}${d.what}`,
      );
    io.out(columns(rows));
    if (o.repair) io.out(`${body.drift.length - left.length} of ${body.drift.length} repaired\n`);
    else io.out(`${body.drift.length} difference${body.drift.length === 1 ? '' : 's'}; berth system check --repair fixes them\n`);
    return code;
  },
});
