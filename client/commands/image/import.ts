// berth import FILE|- [REPOSITORY[:TAG]]: a rootfs tar (plain or gzip) becomes a one-layer image.
// -c/--change applies Dockerfile instructions (CMD, ENTRYPOINT, ENV, EXPOSE, WORKDIR, USER, LABEL,
// VOLUME, STOPSIGNAL), -m sets the commit message. Prints the new image's id.
import { createReadStream, statSync } from 'node:fs';
import { defineCommand, UsageError } from '../../command.js';
import { parseFlags } from '../../flags.js';
import { printMessages } from './messages.js';

export interface Options {
  source: string;
  repository?: string;
  changes: string[];
  message?: string;
  platform?: string;
}

/** The /images/create query; `changes` repeats, as docker's API wants. */
export function importPath(o: Options): string {
  const q = new URLSearchParams();
  q.set('fromSrc', /^https?:\/\//.test(o.source) ? o.source : '-');
  if (o.repository) q.set('repo', o.repository);
  if (o.message) q.set('message', o.message);
  if (o.platform) q.set('platform', o.platform.toLowerCase());
  for (const c of o.changes) q.append('changes', c);
  return `/images/create?${q.toString()}`;
}

export default defineCommand<Options>({
  usage:
    'import [OPTIONS] file|URL|- [REPOSITORY[:TAG]]\n\nImport the contents from a tarball to create a filesystem image\n\nOptions:\n  -c, --change list       Apply Dockerfile instruction to the created image\n  -m, --message string    Set commit message for imported image\n      --platform string   Set platform if server is multi-platform capable',
  parse(argv) {
    const { flags, args } = parseFlags(argv, {
      change: { type: 'list', short: 'c' },
      message: { type: 'string', short: 'm' },
      platform: { type: 'string' },
    });
    if (args.length < 1 || args.length > 2) throw new UsageError('"import" requires at least 1 and at most 2 arguments.');
    return {
      source: args[0]!,
      ...(args[1] ? { repository: args[1] } : {}),
      changes: flags.change ?? [],
      ...(flags.message ? { message: flags.message } : {}),
      ...(flags.platform ? { platform: flags.platform } : {}),
    };
  },
  async run(api, o, io) {
    let stream: NodeJS.ReadableStream | undefined;
    if (o.source === '-') stream = io.stdin;
    else if (!/^https?:\/\//.test(o.source)) {
      try {
        statSync(o.source);
      } catch {
        throw new UsageError(`open ${o.source}: no such file or directory`);
      }
      stream = createReadStream(o.source);
      stream.on('error', () => {}); // reported through the request it feeds (client/api.ts)
    }
    const res = await api.stream('POST', importPath(o), stream ? { stream, contentType: 'application/x-tar' } : {});
    await printMessages(res, io.out);
    return 0;
  },
});
