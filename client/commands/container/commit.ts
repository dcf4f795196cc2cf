// berth commit [-a AUTHOR] [-m MSG] [-c CHANGE]... [-p] CONTAINER [REPO[:TAG]]: an image of the
// container's changes (POST /commit); prints its id "sha256:…". berthd does not pause the
// container (-p is accepted, as docker's default true).
import { defineCommand, UsageError } from '../../command.js';
import { parseFlags } from '../../flags.js';

export interface Options {
  container: string;
  repository?: string;
  author?: string;
  message?: string;
  changes: string[];
  pause: boolean;
}

/** The /commit query; `changes` repeats, as docker's API wants. */
export function commitPath(o: Options): string {
  const q = new URLSearchParams();
  q.set('container', o.container);
  if (o.repository) q.set('repo', o.repository);
  if (o.author) q.set('author', o.author);
  if (o.message) q.set('comment', o.message);
  q.set('pause', o.pause ? '1' : '0');
  for (const c of o.changes) q.append('changes', c);
  return `/commit?${q.toString()}`;
}

export default defineCommand<Options>({
  usage:
    "commit [OPTIONS] CONTAINER [REPOSITORY[:TAG]]\n\nCreate a new image from a container's changes\n\nOptions:\n  -a, --author string    Author (e.g., \"John Hannibal Smith <hannibal@a-team.com>\")\n  -c, --change list      Apply Dockerfile instruction to the created image\n  -m, --message string   Commit message\n  -p, --pause            Pause container during commit (default true; berthd does not pause)",
  parse(argv) {
    const { flags, args } = parseFlags(argv, {
      author: { type: 'string', short: 'a' },
      change: { type: 'list', short: 'c' },
      message: { type: 'string', short: 'm' },
      pause: { type: 'bool', short: 'p' },
    });
    if (args.length < 1 || args.length > 2) throw new UsageError('"commit" requires at least 1 and at most 2 arguments.');
    return {
      container: args[0]!,
      ...(args[1] ? { repository: args[1] } : {}),
      ...(flags.author ? { author: flags.author } : {}),
      ...(flags.message ? { message: flags.message } : {}),
      changes: flags.change ?? [],
      pause: flags.pause ?? true,
    };
  },
  async run(api, o, io) {
    const { body } = await api.call<{ Id: string }>('POST', commitPath(o));
    io.out(`${body.Id}\n`);
    return 0;
  },
});
