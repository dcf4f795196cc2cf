// berth save [-o FILE] IMAGE...: one tar with the images as a docker-archive and an OCI layout.
// Without -o it goes to stdout, but never to a terminal.
import { createWriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import { defineCommand, UsageError } from '../../command.js';
import { parseFlags } from '../../flags.js';
import { binaryStdout } from './messages.js';

export function savePath(images: string[]): string {
  const q = new URLSearchParams();
  for (const i of images) q.append('names', i);
  return `/images/get?${q.toString()}`;
}

export default defineCommand({
  usage:
    'save [OPTIONS] IMAGE [IMAGE...]\n\nSave one or more images to a tar archive (streamed to STDOUT by default)\n\nOptions:\n  -o, --output string   Write to a file, instead of STDOUT',
  parse(argv) {
    const { flags, args } = parseFlags(argv, { output: { type: 'string', short: 'o' }, platform: { type: 'list' } });
    if (!args.length) throw new UsageError('"save" requires at least 1 argument.');
    return { images: args, ...(flags.output ? { output: flags.output } : {}) };
  },
  async run(api, o, io) {
    if (!o.output && io.stdoutIsTTY) throw new UsageError('cowardly refusing to save to a terminal. Use the -o flag or redirect');
    const res = await api.stream('GET', savePath(o.images));
    if (!o.output) {
      await pipeline(res, binaryStdout(io), { end: false });
      return 0;
    }
    // Into a temp file next to the target, renamed when complete: no half-written archive.
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
