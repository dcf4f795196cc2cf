// berth rmi / image rm: remove images (untag by name; -f for an image with several names or one
// a stopped container uses). Prints docker's "Untagged: …" / "Deleted: …" lines; 1 if any failed.
import { defineCommand, UsageError } from '../../command.js';
import { parseFlags } from '../../flags.js';
import { daemonErrorText, seg } from '../container/shared.js';

type Item = { Untagged?: string; Deleted?: string };

export default defineCommand({
  usage:
    'rmi [OPTIONS] IMAGE [IMAGE...]\n\nRemove one or more images\n\nOptions:\n  -f, --force      Force removal of the image\n      --no-prune   Do not delete untagged parents',
  parse(argv) {
    const { flags, args } = parseFlags(argv, { force: { type: 'bool', short: 'f' }, 'no-prune': { type: 'bool' } });
    if (!args.length) throw new UsageError('"rmi" requires at least 1 argument.');
    return { images: args, force: flags.force ?? false, noPrune: flags['no-prune'] ?? false };
  },
  async run(api, o, io) {
    let code = 0;
    for (const img of o.images) {
      try {
        const { body } = await api.call<Item[]>('DELETE', `/images/${seg(img)}`, {
          query: { force: o.force ? 1 : undefined, noprune: o.noPrune ? 1 : undefined },
        });
        for (const it of body ?? []) {
          if (it.Untagged) io.out(`Untagged: ${it.Untagged}\n`);
          if (it.Deleted) io.out(`Deleted: ${it.Deleted}\n`);
        }
      } catch (e) {
        io.err(`${daemonErrorText(e)}\n`);
        code = 1;
      }
    }
    return code;
  },
});
