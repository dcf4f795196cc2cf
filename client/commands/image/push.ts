// berth push [-a] [-q] NAME[:TAG]: POST /images/{name}/push?tag= with the stored credentials
// (X-Registry-Auth), the progress drawn as docker draws it. Without a tag and without -a, the tag
// is "latest" (as docker 20.10+).
import { defineCommand, UsageError } from '../../command.js';
import { parseFlags } from '../../flags.js';
import { parseImageRef } from '../../opts/image-ref.js';
import { seg } from '../container/shared.js';
import { registryAuthHeader } from './credentials.js';
import { ProgressRenderer } from './progress.js';

export interface PushOptions {
  image: string;
  allTags: boolean;
  quiet: boolean;
}

/** "docker.io/library/busybox" → "busybox"; "docker.io/foo/bar" → "foo/bar"; others as they are. */
function familiar(repository: string): string {
  return repository.replace(/^docker\.io\/(library\/(?=[^/]+$))?/, '');
}

export default defineCommand({
  usage:
    'push [OPTIONS] NAME[:TAG]\n\nUpload an image to a registry\n\nOptions:\n  -a, --all-tags   Push all tags of an image to the repository\n  -q, --quiet      Suppress verbose output',
  parse(argv): PushOptions {
    const { flags, args } = parseFlags(argv, {
      'all-tags': { type: 'bool', short: 'a' },
      quiet: { type: 'bool', short: 'q' },
      'disable-content-trust': { type: 'bool' },
      platform: { type: 'string' },
    });
    if (args.length !== 1) throw new UsageError('"push" requires exactly 1 argument.');
    const image = args[0]!;
    const r = parseImageRef(image);
    if (r.digest !== undefined) throw new UsageError('cannot push a digest reference');
    if (flags['all-tags'] && r.tag !== undefined) throw new UsageError('tag can\'t be used with --all-tags/-a');
    return { image, allTags: flags['all-tags'] ?? false, quiet: flags.quiet ?? false };
  },
  async run(api, o, io) {
    const r = parseImageRef(o.image);
    const tag = o.allTags ? undefined : (r.tag ?? 'latest');
    if (!o.allTags && r.tag === undefined && !o.quiet) io.out('Using default tag: latest\n');
    const res = await api.stream('POST', `/images/${seg(familiar(r.repository))}/push`, {
      query: { tag },
      headers: registryAuthHeader(io.env, o.image),
    });
    const tty = io.stdoutIsTTY && io.terminal !== undefined;
    const renderer = new ProgressRenderer({ write: o.quiet ? () => {} : io.out, tty, columns: io.terminal?.size().cols ?? 80 });
    await renderer.render(res);
    if (o.quiet) io.out(`${r.repository}${tag ? `:${tag}` : ''}\n`);
    return 0;
  },
});
