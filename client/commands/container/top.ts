// berth top: GET /containers/{id}/top, the process table the daemon reports.
import { defineCommand, UsageError } from '../../command.js';
import { parseFlags } from '../../flags.js';
import { tabwrite } from './render.js';
import { seg } from './shared.js';

export default defineCommand({
  usage: 'top CONTAINER [ps OPTIONS]\n\nDisplay the running processes of a container',
  parse(argv) {
    const { args } = parseFlags(argv, {}, { interspersed: false });
    if (args.length < 1) throw new UsageError('"top" requires at least 1 argument.');
    return { container: args[0]!, psArgs: args.slice(1).join(' ') };
  },
  async run(api, o, io) {
    const { body } = await api.call<{ Titles: string[]; Processes: string[][] | null }>('GET', `/containers/${seg(o.container)}/top`, {
      query: { ps_args: o.psArgs || undefined },
    });
    io.out(tabwrite([body.Titles.join('\t'), ...(body.Processes ?? []).map((p) => p.join('\t'))], 20));
    return 0;
  },
});
