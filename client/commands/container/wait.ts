// berth wait: block until each container stops, print its exit code.
import { ApiError } from '../../api.js';
import { defineCommand, UsageError } from '../../command.js';
import { parseFlags } from '../../flags.js';
import { daemonErrorText, seg, type WaitResult } from './shared.js';

export default defineCommand({
  usage: 'wait CONTAINER [CONTAINER...]\n\nBlock until one or more containers stop, then print their exit codes',
  parse(argv) {
    const { args } = parseFlags(argv, {});
    if (!args.length) throw new UsageError('"wait" requires at least 1 argument.');
    return { containers: args };
  },
  async run(api, o, io) {
    let code = 0;
    for (const c of o.containers) {
      try {
        const { body } = await api.call<WaitResult>('POST', `/containers/${seg(c)}/wait`);
        if (body.Error?.Message) throw new ApiError(500, body.Error.Message);
        io.out(`${body.StatusCode}\n`);
      } catch (e) {
        if (!(e instanceof ApiError)) throw e;
        io.err(`${daemonErrorText(e)}\n`);
        code = 1;
      }
    }
    return code;
  },
});
