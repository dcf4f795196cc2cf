// berth network prune: remove the networks no container uses (asks first unless -f).
import { defineCommand, UsageError } from '../../command.js';
import { parseFlags } from '../../flags.js';
import { filtersParam, parseFilterArgs } from '../../opts/filters.js';
import { confirm } from '../container/shared.js';

export default defineCommand({
  usage:
    'network prune [OPTIONS]\n\nRemove all unused networks\n\nOptions:\n      --filter filter   Provide filter values (e.g. "until=<timestamp>")\n  -f, --force           Do not prompt for confirmation',
  parse(argv) {
    const { flags, args } = parseFlags(argv, { filter: { type: 'list' }, force: { type: 'bool', short: 'f' } });
    if (args.length) throw new UsageError('"network prune" accepts no arguments.');
    parseFilterArgs(flags.filter ?? []);
    return { filters: flags.filter ?? [], force: flags.force ?? false };
  },
  async run(api, o, io) {
    const warning = 'WARNING! This will remove all custom networks not used by at least one container.\nAre you sure you want to continue?';
    // A "no" cancels quietly with exit 0, as docker.
    if (!o.force && !(await confirm(io, warning))) return 0;
    const { body } = await api.call<{ NetworksDeleted: string[] | null }>('POST', '/networks/prune', {
      query: { filters: filtersParam(o.filters) },
    });
    const deleted = body.NetworksDeleted ?? [];
    if (deleted.length) io.out(`Deleted Networks:\n${deleted.map((n) => `${n}\n`).join('')}\n`);
    return 0;
  },
});
