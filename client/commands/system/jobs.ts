import { defineCommand, UsageError } from '../../command.js';
import { parseFlags } from '../../flags.js';
import { columns, compileFormat } from '../../format.js';

interface JobTrace {
  id: string;
  name: string;
  driver?: string;
  parent?: string;
  started: string;
  durationMs?: number;
  outcome: string;
  error?: string;
  execs: Record<string, number>;
}

export default defineCommand({
  usage:
    'system jobs [OPTIONS]\n\nList the jobs the engine ran recently (name, driver, duration, outcome, programs run)\n\n  -a, --all             Show the steps of each job too\n  -n, --last int        Show this many (default 50)\n      --format string   Format output using a Go template',
  parse(argv) {
    const { flags, args } = parseFlags(argv, {
      all: { type: 'bool', short: 'a' },
      last: { type: 'string', short: 'n' },
      format: { type: 'string' },
    });
    if (args.length) throw new UsageError(`"system jobs" accepts no arguments`);
    const last = flags.last === undefined ? 50 : Number(flags.last);
    if (!Number.isInteger(last) || last < 1 || last > 500) throw new UsageError('--last wants a number from 1 to 500');
    return { all: flags.all ?? false, last, format: flags.format };
  },
  async run(api, opts, io) {
    const { body } = await api.call<JobTrace[]>('GET', '/berth/jobs', { query: { limit: opts.last, all: opts.all || undefined } });
    if (opts.format) {
      const t = compileFormat(opts.format);
      for (const j of body) io.out(t.row(j) + '\n');
      return 0;
    }
    const lines = ['JOB\tNAME\tDRIVER\tSTARTED\tMS\tOUTCOME\tEXECS'];
    for (const j of body) {
      const execs = Object.entries(j.execs).map(([k, v]) => `${k}×${v}`).join(',') || '-';
      const name = j.parent ? `  ${j.name}` : j.name;
      const outcome = j.outcome === 'error' ? `error: ${j.error ?? ''}` : j.outcome;
      lines.push(`${j.id}\t${name}\t${j.driver ?? '-'}\t${j.started}\t${j.durationMs ?? '-'}\t${outcome}\t${execs}`);
    }
    io.out(columns(lines));
    return 0;
  },
});
