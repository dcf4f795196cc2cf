// berth export [-o FILE] CONTAINER: the container's root filesystem as a tar (GET
// /containers/{id}/export). Without -o it goes to stdout, but never to a terminal (as docker).
import { createWriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import { defineCommand, UsageError } from '../../command.js';
import { parseFlags } from '../../flags.js';
import { binaryStdout } from '../image/messages.js';

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
    if (!o.output) {
      await pipeline(res, binaryStdout(io), { end: false });
      return 0;
    }
    // into a temp file next to the target, renamed when complete: no half-written archive
    const tmp = `${o.output}.tmp-${process.pid}`;
    try {
      await pipeline(res, createWriteStream(tmp, { mode: 0o600 }));
      await rename(tmp, o.output);
    } catch (e) {
      await rm(tmp, { force: true });
      throw e;
    }
    return 0;
  },
});
