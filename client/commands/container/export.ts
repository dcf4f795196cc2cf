// berth export [-o FILE] CONTAINER: the container's root filesystem as a tar (GET
// /containers/{id}/export). Without -o it goes to stdout, but never to a terminal (as docker).
import { defineCommand, UsageError } from '../../command.js';
import { parseFlags } from '../../flags.js';
import { writeArchive } from '../image/messages.js';

export default defineCommand({
  usage:
    "export [OPTIONS] CONTAINER\n\nExport a container's filesystem as a tar archive\n\nOptions:\n  -o, --output string   Write to a file, instead of STDOUT",
  parse(argv) {
    const { flags, args } = parseFlags(argv, { output: { type: 'string', short: 'o' } });
    if (args.length !== 1) throw new UsageError('"export" requires exactly 1 argument.');
    return { container: args[0]!, ...(flags.output ? { output: flags.output } : {}) };
  },
  async run(api, o, io) {
    if (!o.output && io.stdoutIsTTY) throw new UsageError('cowardly refusing to save to a terminal. Use the -o flag or redirect');
    const res = await api.stream('GET', `/containers/${encodeURIComponent(o.container)}/export`);
    await writeArchive(res, o.output, io);
    return 0;
  },
});
