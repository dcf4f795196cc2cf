// berth rename OLD NEW.
import { ApiError } from '../../api.js';
import { defineCommand, UsageError } from '../../command.js';
import { parseFlags } from '../../flags.js';
import { daemonErrorText, seg } from './shared.js';

export default defineCommand({
  usage: 'rename CONTAINER NEW_NAME\n\nRename a container',
  parse(argv) {
    const { args } = parseFlags(argv, {});
    if (args.length !== 2) throw new UsageError('"rename" requires exactly 2 arguments.');
    const [from, to] = args.map((s) => s.trim()) as [string, string];
    if (!from || !to) throw new UsageError('Error: Neither old nor new names may be empty');
    return { from, to };
  },
  async run(api, o, io) {
    try {
      await api.call('POST', `/containers/${seg(o.from)}/rename`, { query: { name: o.to } });
    } catch (e) {
      if (!(e instanceof ApiError)) throw e;
      io.err(`${daemonErrorText(e)}\nError: failed to rename container named ${o.from}\n`);
      return 1;
    }
    return 0;
  },
});
