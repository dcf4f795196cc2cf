// berth kill: send a signal (SIGKILL unless -s) to each container; prints each name.
import { defineCommand, UsageError } from '../../command.js';
import { parseFlags } from '../../flags.js';
import { forEachName, seg } from './shared.js';

export default defineCommand({
  usage: 'kill [OPTIONS] CONTAINER [CONTAINER...]\n\nKill one or more running containers\n\nOptions:\n  -s, --signal string   Signal to send to the container',
  parse(argv) {
    const { flags, args } = parseFlags(argv, { signal: { type: 'string', short: 's' } });
    if (!args.length) throw new UsageError('"kill" requires at least 1 argument.');
    return { containers: args, signal: flags.signal };
  },
  run: (api, o, io) =>
    forEachName(o.containers, io, (c) => api.call('POST', `/containers/${seg(c)}/kill`, { query: { signal: o.signal || undefined } })),
});
