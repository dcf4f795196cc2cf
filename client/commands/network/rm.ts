// berth network rm: remove each network, print its name; -f makes a missing one no failure.
import { ApiError } from '../../api.js';
import { defineCommand, UsageError } from '../../command.js';
import { parseFlags } from '../../flags.js';
import { daemonErrorText, seg } from '../container/shared.js';

export default defineCommand({
  usage: 'network rm NETWORK [NETWORK...]\n\nRemove one or more networks\n\nOptions:\n  -f, --force   Do not error if the network does not exist',
  parse(argv) {
    const { flags, args } = parseFlags(argv, { force: { type: 'bool', short: 'f' } });
    if (!args.length) throw new UsageError('"network rm" requires at least 1 argument.');
    return { networks: args, force: flags.force ?? false };
  },
  async run(api, o, io) {
    let code = 0;
    for (const n of o.networks) {
      try {
        await api.call('DELETE', `/networks/${seg(n)}`);
        io.out(`${n}\n`);
      } catch (e) {
        if (!(e instanceof ApiError)) throw e;
        if (o.force && e.status === 404) continue;
        io.err(`${daemonErrorText(e)}\n`);
        code = 1;
      }
    }
    return code;
  },
});
