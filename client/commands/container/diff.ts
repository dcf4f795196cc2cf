// berth diff CONTAINER: the container's filesystem changes against its image, one per line as
// docker prints them: "C /etc", "A /etc/x", "D /tmp/y" (GET /containers/{id}/changes).
import { defineCommand, UsageError } from '../../command.js';
import { parseFlags } from '../../flags.js';
import { seg } from './shared.js';

const KIND = ['C', 'A', 'D'];

export default defineCommand({
  usage: "diff CONTAINER\n\nInspect changes to files or directories on a container's filesystem",
  parse(argv) {
    const { args } = parseFlags(argv, {});
    if (args.length !== 1) throw new UsageError('"diff" requires exactly 1 argument.');
    return { container: args[0]! };
  },
  async run(api, o, io) {
    const { body } = await api.call<{ Path: string; Kind: number }[] | null>('GET', `/containers/${seg(o.container)}/changes`);
    const lines = (body ?? []).map((c) => `${KIND[c.Kind] ?? '?'} ${c.Path}\n`);
    if (lines.length) io.out(lines.join(''));
    return 0;
  },
});
