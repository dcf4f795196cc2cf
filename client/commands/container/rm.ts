// berth rm: remove containers (-f kills a running one first); prints each name. With -f a missing
// container is reported but is not a failure, as docker.
import { ApiError } from '../../api.js';
import { defineCommand, UsageError } from '../../command.js';
import { parseFlags } from '../../flags.js';
import { forEachName, seg } from './shared.js';

export default defineCommand({
  usage:
    'rm [OPTIONS] CONTAINER [CONTAINER...]\n\nRemove one or more containers\n\nOptions:\n  -f, --force     Force the removal of a running container (uses SIGKILL)\n  -l, --link      Remove the specified link\n  -v, --volumes   Remove anonymous volumes associated with the container',
  parse(argv) {
    const { flags, args } = parseFlags(argv, {
      force: { type: 'bool', short: 'f' },
      link: { type: 'bool', short: 'l' },
      volumes: { type: 'bool', short: 'v' },
    });
    if (!args.length) throw new UsageError('"rm" requires at least 1 argument.');
    return { containers: args, force: flags.force ?? false, link: flags.link ?? false, volumes: flags.volumes ?? false };
  },
  run: (api, o, io) =>
    forEachName(
      o.containers,
      io,
      async (c) => {
        const name = c.replace(/^\/+|\/+$/g, '');
        if (!name) throw new Error('container name cannot be empty');
        await api.call('DELETE', `/containers/${seg(name)}`, {
          query: { force: o.force ? 1 : undefined, v: o.volumes ? 1 : undefined, link: o.link ? 1 : undefined },
        });
      },
      { ignore: (e) => o.force && e instanceof ApiError && e.status === 404 },
    ),
});
