// berth container prune: remove all stopped containers (asks first unless -f).
import { defineCommand, UsageError } from '../../command.js';
import { parseFlags } from '../../flags.js';
import { filtersParam, parseFilterArgs } from '../../opts/filters.js';
import { humanSize } from './render.js';
import { confirm } from './shared.js';

export default defineCommand({
  usage:
    'container prune [OPTIONS]\n\nRemove all stopped containers\n\nOptions:\n      --filter filter   Provide filter values (e.g. "until=<timestamp>")\n  -f, --force           Do not prompt for confirmation',
  parse(argv) {
    const { flags, args } = parseFlags(argv, { filter: { type: 'list' }, force: { type: 'bool', short: 'f' } });
    if (args.length) throw new UsageError('"container prune" accepts no arguments.');
    parseFilterArgs(flags.filter ?? []);
    return { filters: flags.filter ?? [], force: flags.force ?? false };
  },
  async run(api, o, io) {
    // A "no" cancels quietly with exit 0, as docker.
    if (!o.force && !(await confirm(io, 'WARNING! This will remove all stopped containers.\nAre you sure you want to continue?'))) return 0;
    const { body } = await api.call<{ ContainersDeleted: string[] | null; SpaceReclaimed: number }>('POST', '/containers/prune', {
      query: { filters: filtersParam(o.filters) },
    });
    const deleted = body.ContainersDeleted ?? [];
    if (deleted.length) io.out(`Deleted Containers:\n${deleted.map((id) => `${id}\n`).join('')}\n`);
    io.out(`Total reclaimed space: ${humanSize(deleted.length ? body.SpaceReclaimed ?? 0 : 0)}\n`);
    return 0;
  },
});
