// berth network disconnect [-f] NETWORK CONTAINER.
import { defineCommand, UsageError } from '../../command.js';
import { parseFlags } from '../../flags.js';
import { seg } from '../container/shared.js';

export default defineCommand({
  usage: 'network disconnect [OPTIONS] NETWORK CONTAINER\n\nDisconnect a container from a network\n\nOptions:\n  -f, --force   Force the container to disconnect from a network',
  parse(argv) {
    const { flags, args } = parseFlags(argv, { force: { type: 'bool', short: 'f' } });
    if (args.length !== 2) throw new UsageError('"network disconnect" requires exactly 2 arguments.');
    return { network: args[0]!, container: args[1]!, force: flags.force ?? false };
  },
  async run(api, o) {
    await api.call('POST', `/networks/${seg(o.network)}/disconnect`, { body: { Container: o.container, Force: o.force } });
    return 0;
  },
});
