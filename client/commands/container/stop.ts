// berth stop: the stop signal, then SIGKILL after -t seconds (the daemon's job); prints each name.
import { defineCommand, UsageError } from '../../command.js';
import { parseFlags } from '../../flags.js';
import { forEachName, seg } from './shared.js';

export function parseTimeout(v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  if (!/^[+-]?\d+$/.test(v)) throw new UsageError(`invalid argument "${v}" for "-t, --timeout" flag: strconv.ParseInt: parsing "${v}": invalid syntax`);
  return Number(v);
}

export function makeStop(verb: 'stop' | 'restart') {
  const title = verb === 'stop' ? 'Stop one or more running containers' : 'Restart one or more containers';
  return defineCommand({
    usage: `${verb} [OPTIONS] CONTAINER [CONTAINER...]\n\n${title}\n\nOptions:\n  -s, --signal string   Signal to send to the container\n  -t, --timeout int     Seconds to wait before killing the container`,
    parse(argv) {
      const { flags, args } = parseFlags(argv, {
        signal: { type: 'string', short: 's' },
        timeout: { type: 'string', short: 't', aliases: ['time'] },
      });
      if (!args.length) throw new UsageError(`"${verb}" requires at least 1 argument.`);
      return { containers: args, signal: flags.signal, timeout: parseTimeout(flags.timeout) };
    },
    run: (api, o, io) =>
      forEachName(o.containers, io, (c) =>
        api.call('POST', `/containers/${seg(c)}/${verb}`, { query: { signal: o.signal, t: o.timeout } }),
      ),
  });
}

export default makeStop('stop');
