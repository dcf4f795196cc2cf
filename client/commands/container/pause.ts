// berth pause / berth unpause: freeze or thaw every process of each container; prints each name.
import { defineCommand, UsageError } from '../../command.js';
import { parseFlags } from '../../flags.js';
import { forEachName, seg } from './shared.js';

function freezeCommand(verb: 'pause' | 'unpause', what: string) {
  return defineCommand({
    usage: `${verb} CONTAINER [CONTAINER...]\n\n${what}`,
    parse(argv) {
      const { args } = parseFlags(argv, {});
      if (!args.length) throw new UsageError(`"${verb}" requires at least 1 argument.`);
      return { containers: args };
    },
    run: (api, o, io) => forEachName(o.containers, io, (c) => api.call('POST', `/containers/${seg(c)}/${verb}`)),
  });
}

export const pause = freezeCommand('pause', 'Pause all processes within one or more containers');
export const unpause = freezeCommand('unpause', 'Unpause all processes within one or more containers');
export default pause;
