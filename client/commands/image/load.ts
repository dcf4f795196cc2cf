// berth load [-i FILE] [-q]: load images from a docker-archive or OCI-layout tar (plain or gzip),
// from the file or stdin. Prints "Loaded image: name:tag" per image.
import { createReadStream, statSync } from 'node:fs';
import { defineCommand, UsageError } from '../../command.js';
import { parseFlags } from '../../flags.js';
import { printMessages } from './messages.js';

export default defineCommand({
  usage:
    'load [OPTIONS]\n\nLoad an image from a tar archive or STDIN\n\nOptions:\n  -i, --input string   Read from tar archive file, instead of STDIN\n  -q, --quiet          Suppress the load output',
  parse(argv) {
    const { flags, args } = parseFlags(argv, {
      input: { type: 'string', short: 'i' },
      quiet: { type: 'bool', short: 'q' },
      platform: { type: 'list' },
    });
    if (args.length) throw new UsageError('"load" accepts no arguments.');
    return { ...(flags.input ? { input: flags.input } : {}), quiet: flags.quiet ?? false };
  },
  async run(api, o, io) {
    let stream: NodeJS.ReadableStream;
    if (o.input) {
      try {
        statSync(o.input);
      } catch {
        throw new UsageError(`open ${o.input}: no such file or directory`);
      }
      stream = createReadStream(o.input);
    } else {
      if (io.stdinIsTTY) throw new UsageError('requested load from stdin, but stdin is empty');
      stream = io.stdin;
    }
    const res = await api.stream('POST', '/images/load', { stream, contentType: 'application/x-tar', query: { quiet: o.quiet ? 1 : undefined } });
    await printMessages(res, io.out);
    return 0;
  },
});
