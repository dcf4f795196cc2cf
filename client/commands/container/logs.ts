// berth logs: GET /containers/{id}/logs; frames demuxed to stdout/stderr (raw bytes when the
// container has a TTY). -f follows until the container stops or Ctrl-C.
import { defineCommand, UsageError } from '../../command.js';
import { parseFlags } from '../../flags.js';
import { OutputRouter } from '../../attach.js';
import { getTimestamp } from '../../opts/time.js';
import { seg } from './shared.js';

export default defineCommand({
  usage:
    'logs [OPTIONS] CONTAINER\n\nFetch the logs of a container\n\nOptions:\n      --details        Show extra details provided to logs\n  -f, --follow         Follow log output\n      --since string   Show logs since timestamp (e.g. "2013-01-02T13:23:37Z") or relative (e.g. "42m" for 42 minutes)\n  -n, --tail string    Number of lines to show from the end of the logs (default "all")\n  -t, --timestamps     Show timestamps\n      --until string   Show logs before a timestamp (e.g. "2013-01-02T13:23:37Z") or relative (e.g. "42m" for 42 minutes)',
  parse(argv) {
    const { flags, args } = parseFlags(argv, {
      details: { type: 'bool' },
      follow: { type: 'bool', short: 'f' },
      since: { type: 'string' },
      tail: { type: 'string', short: 'n' },
      timestamps: { type: 'bool', short: 't' },
      until: { type: 'string' },
    });
    if (args.length !== 1) throw new UsageError('"logs" requires exactly 1 argument.');
    return {
      container: args[0]!,
      details: flags.details ?? false,
      follow: flags.follow ?? false,
      since: flags.since,
      until: flags.until,
      tail: flags.tail ?? 'all',
      timestamps: flags.timestamps ?? false,
    };
  },
  async run(api, o, io) {
    const now = new Date();
    const since = o.since ? getTimestamp(o.since, now) : undefined;
    const until = o.until ? getTimestamp(o.until, now) : undefined;
    const { body: c } = await api.call<{ Id: string; Config: { Tty: boolean } }>('GET', `/containers/${seg(o.container)}/json`);
    const res = await api.stream('GET', `/containers/${seg(c.Id)}/logs`, {
      query: {
        stdout: 1,
        stderr: 1,
        since,
        until,
        timestamps: o.timestamps ? 1 : undefined,
        follow: o.follow ? 1 : undefined,
        tail: o.tail,
        details: o.details ? 1 : undefined,
      },
    });
    io.onInterrupt?.(() => res.destroy());
    const router = new OutputRouter(c.Config.Tty, io.out, io.err);
    try {
      for await (const chunk of res) router.write(chunk as Buffer);
    } catch (e) {
      if (!res.destroyed) throw e;
    }
    router.end();
    if (router.daemonError) {
      io.err(`Error: ${router.daemonError}\n`);
      return 1;
    }
    return 0;
  },
});
