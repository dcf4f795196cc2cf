// berth save [-o FILE] IMAGE...: one tar with the images as a docker-archive and an OCI layout.
// Without -o it goes to stdout, but never to a terminal.
import { defineCommand, UsageError } from '../../command.js';
import { parseFlags } from '../../flags.js';
import { writeArchive } from './messages.js';

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
    await writeArchive(res, o.output, io);
    return 0;
  },
});
