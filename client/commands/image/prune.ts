// berth image prune [-a] [-f] [--filter]: remove dangling images (-a: every unused one).
import { defineCommand, UsageError } from '../../command.js';
import { parseFlags } from '../../flags.js';
import { parseFilterArgs } from '../../opts/filters.js';
import { humanSize } from '../container/render.js';
import { confirm } from '../container/shared.js';

export default defineCommand({
  usage:
    'image prune [OPTIONS]\n\nRemove unused images\n\nOptions:\n  -a, --all             Remove all unused images, not just dangling ones\n      --filter filter   Provide filter values (e.g. "until=<timestamp>")\n  -f, --force           Do not prompt for confirmation',
  parse(argv) {
    const { flags, args } = parseFlags(argv, { all: { type: 'bool', short: 'a' }, filter: { type: 'list' }, force: { type: 'bool', short: 'f' } });
    if (args.length) throw new UsageError('"image prune" accepts no arguments.');
    const filters = parseFilterArgs(flags.filter ?? []);
    if (flags.all) filters.dangling = ['false'];
    return { filters, all: flags.all ?? false, force: flags.force ?? false };
  },
  async run(api, o, io) {
    const warning = o.all
      ? 'WARNING! This will remove all images without at least one container associated to them.'
      : 'WARNING! This will remove all dangling images.';
    if (!o.force && !(await confirm(io, `${warning}\nAre you sure you want to continue?`))) return 0;
    const { body } = await api.call<{ ImagesDeleted: { Untagged?: string; Deleted?: string }[] | null; SpaceReclaimed: number }>('POST', '/images/prune', {
      query: { filters: JSON.stringify(o.filters) },
    });
    const items = body.ImagesDeleted ?? [];
    if (items.length) {
      io.out('Deleted Images:\n');
      for (const it of items) io.out(it.Untagged ? `untagged: ${it.Untagged}\n` : `deleted: ${it.Deleted}\n`);
      io.out('\n');
    }
    io.out(`Total reclaimed space: ${humanSize(body.SpaceReclaimed ?? 0)}\n`);
    return 0;
  },
});
