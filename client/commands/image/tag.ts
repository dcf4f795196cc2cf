// berth tag SOURCE TARGET: TARGET's tag (after the last ':' past the last '/') or "latest".
import { defineCommand, UsageError } from '../../command.js';
import { parseFlags } from '../../flags.js';
import { seg } from '../container/shared.js';

export function splitTarget(target: string): { repo: string; tag: string } {
  if (target.includes('@')) throw new UsageError(`refusing to create a tag with a digest reference`);
  const i = target.lastIndexOf(':');
  if (i > target.lastIndexOf('/')) return { repo: target.slice(0, i), tag: target.slice(i + 1) };
  return { repo: target, tag: 'latest' };
}

export default defineCommand({
  usage: 'tag SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]\n\nCreate a tag TARGET_IMAGE that refers to SOURCE_IMAGE',
  parse(argv) {
    const { args } = parseFlags(argv, {});
    if (args.length !== 2) throw new UsageError('"tag" requires exactly 2 arguments.');
    return { source: args[0]!, ...splitTarget(args[1]!) };
  },
  async run(api, o) {
    await api.call('POST', `/images/${seg(o.source)}/tag`, { query: { repo: o.repo, tag: o.tag } });
    return 0;
  },
});
