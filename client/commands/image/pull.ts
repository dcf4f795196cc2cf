// berth pull [-a] [--platform P] [-q] NAME[:TAG|@DIGEST]: POST /images/create?fromImage=&tag= with
// the stored credentials (X-Registry-Auth), the progress drawn as docker draws it (per-layer lines
// on a terminal, plain lines otherwise), then the full reference, as docker prints it.
import type { Api } from '../../api.js';
import type { Io } from '../../command.js';
import { defineCommand, UsageError } from '../../command.js';
import { parseFlags } from '../../flags.js';
import { parseImageRef, pullQuery } from '../../opts/image-ref.js';
import { registryAuthHeader } from './credentials.js';
import { ProgressRenderer } from './progress.js';

export interface PullOptions {
  image: string;
  allTags: boolean;
  platform?: string;
  quiet: boolean;
}

/** Pull `image` through the daemon, drawing its progress with `write` (nothing when quiet). */
export async function pull(api: Api, io: Io, image: string, o: { allTags?: boolean; platform?: string; quiet?: boolean; write: (s: string) => void }): Promise<void> {
  const q = pullQuery(image);
  const res = await api.stream('POST', '/images/create', {
    query: { fromImage: q.fromImage, tag: o.allTags ? undefined : q.tag, platform: o.platform },
    headers: registryAuthHeader(io.env, image),
  });
  const tty = io.stdoutIsTTY && io.terminal !== undefined;
  const r = new ProgressRenderer({ write: o.quiet ? () => {} : o.write, tty, columns: io.terminal?.size().cols ?? 80 });
  await r.render(res);
}

export default defineCommand({
  usage:
    'pull [OPTIONS] NAME[:TAG|@DIGEST]\n\nDownload an image from a registry\n\nOptions:\n  -a, --all-tags        Download all tagged images in the repository\n      --platform string Set platform if server is multi-platform capable\n  -q, --quiet           Suppress verbose output',
  parse(argv): PullOptions {
    const { flags, args } = parseFlags(argv, {
      'all-tags': { type: 'bool', short: 'a' },
      platform: { type: 'string' },
      quiet: { type: 'bool', short: 'q' },
      'disable-content-trust': { type: 'bool' },
    });
    if (args.length !== 1) throw new UsageError('"pull" requires exactly 1 argument.');
    const image = args[0]!;
    const r = parseImageRef(image);
    if (flags['all-tags'] && (r.tag !== undefined || r.digest !== undefined)) throw new UsageError('tag can\'t be used with --all-tags/-a');
    return { image, allTags: flags['all-tags'] ?? false, ...(flags.platform ? { platform: flags.platform } : {}), quiet: flags.quiet ?? false };
  },
  async run(api, o, io) {
    const r = parseImageRef(o.image);
    if (!o.allTags && r.tag === undefined && r.digest === undefined && !o.quiet) io.out('Using default tag: latest\n');
    await pull(api, io, o.image, { allTags: o.allTags, ...(o.platform ? { platform: o.platform } : {}), quiet: o.quiet, write: io.out });
    const full = o.allTags ? r.repository : `${r.repository}${r.digest ? `@${r.digest}` : `:${r.tag ?? 'latest'}`}`;
    io.out(`${full}\n`);
    return 0;
  },
});
