#!/usr/bin/env node
// berth: global flags, then docker-like dispatch (`berth ps`, `berth container ls`, `berth system
// jobs`) to a command loaded on demand, run against the daemon's API; errors become docker's
// messages and exit codes.
import { existsSync, realpathSync } from 'node:fs';
import { homedir } from 'node:os';
import { pathToFileURL } from 'node:url';
import { ApiError, ConnectError, connectApi, DEFAULT_HOST, resolveTarget, type Api, type Target } from './api.js';
import type { Command, Io } from './command.js';
import { UsageError } from './command.js';
import { EXIT } from './exit-codes.js';
import { FlagError, parseFlags } from './flags.js';

type Loader = () => Promise<{ default: Command<unknown> }>;

/** Every command, by the words that name it. Aliases point at the same module. */
export const commands: Record<string, Loader> = {
  version: () => import('./commands/system/version.js'),
  info: () => import('./commands/system/info.js'),
  'system info': () => import('./commands/system/info.js'),
  events: () => import('./commands/system/events.js'),
  'system events': () => import('./commands/system/events.js'),
  'system jobs': () => import('./commands/system/jobs.js'),
  'system check': () => import('./commands/system/check.js'),
  run: () => import('./commands/container/run.js'),
  'container run': () => import('./commands/container/run.js'),
  create: () => import('./commands/container/create.js'),
  'container create': () => import('./commands/container/create.js'),
  start: () => import('./commands/container/start.js'),
  'container start': () => import('./commands/container/start.js'),
  stop: () => import('./commands/container/stop.js'),
  'container stop': () => import('./commands/container/stop.js'),
  kill: () => import('./commands/container/kill.js'),
  'container kill': () => import('./commands/container/kill.js'),
  pause: () => import('./commands/container/pause.js'),
  'container pause': () => import('./commands/container/pause.js'),
  unpause: () => import('./commands/container/pause.js').then((m) => ({ default: m.unpause })),
  'container unpause': () => import('./commands/container/pause.js').then((m) => ({ default: m.unpause })),
  restart: () => import('./commands/container/restart.js'),
  'container restart': () => import('./commands/container/restart.js'),
  wait: () => import('./commands/container/wait.js'),
  'container wait': () => import('./commands/container/wait.js'),
  rm: () => import('./commands/container/rm.js'),
  'container rm': () => import('./commands/container/rm.js'),
  'container remove': () => import('./commands/container/rm.js'),
  ps: () => import('./commands/container/ps.js'),
  'container ls': () => import('./commands/container/ps.js'),
  'container list': () => import('./commands/container/ps.js'),
  'container ps': () => import('./commands/container/ps.js'),
  inspect: () => import('./commands/container/inspect.js'),
  'container inspect': () => import('./commands/container/container-inspect.js'),
  logs: () => import('./commands/container/logs.js'),
  'container logs': () => import('./commands/container/logs.js'),
  port: () => import('./commands/container/port.js'),
  'container port': () => import('./commands/container/port.js'),
  attach: () => import('./commands/container/attach.js'),
  'container attach': () => import('./commands/container/attach.js'),
  exec: () => import('./commands/container/exec.js'),
  'container exec': () => import('./commands/container/exec.js'),
  rename: () => import('./commands/container/rename.js'),
  'container rename': () => import('./commands/container/rename.js'),
  top: () => import('./commands/container/top.js'),
  'container top': () => import('./commands/container/top.js'),
  export: () => import('./commands/container/export.js'),
  'container export': () => import('./commands/container/export.js'),
  diff: () => import('./commands/container/diff.js'),
  'container diff': () => import('./commands/container/diff.js'),
  commit: () => import('./commands/container/commit.js'),
  'container commit': () => import('./commands/container/commit.js'),
  cp: () => import('./commands/container/cp.js'),
  'container cp': () => import('./commands/container/cp.js'),
  'container prune': () => import('./commands/container/prune.js'),
  images: () => import('./commands/image/ls.js'),
  'image ls': () => import('./commands/image/ls.js'),
  'image list': () => import('./commands/image/ls.js'),
  'image inspect': () => import('./commands/image/inspect.js'),
  rmi: () => import('./commands/image/rm.js'),
  'image rm': () => import('./commands/image/rm.js'),
  'image remove': () => import('./commands/image/rm.js'),
  tag: () => import('./commands/image/tag.js'),
  'image tag': () => import('./commands/image/tag.js'),
  import: () => import('./commands/image/import.js'),
  'image import': () => import('./commands/image/import.js'),
  load: () => import('./commands/image/load.js'),
  'image load': () => import('./commands/image/load.js'),
  save: () => import('./commands/image/save.js'),
  'image save': () => import('./commands/image/save.js'),
  'image prune': () => import('./commands/image/prune.js'),
  pull: () => import('./commands/image/pull.js'),
  'image pull': () => import('./commands/image/pull.js'),
  push: () => import('./commands/image/push.js'),
  'image push': () => import('./commands/image/push.js'),
  login: () => import('./commands/image/login.js'),
  logout: () => import('./commands/image/logout.js'),
  'network ls': () => import('./commands/network/ls.js'),
  'network list': () => import('./commands/network/ls.js'),
  'network inspect': () => import('./commands/network/inspect.js'),
  'network create': () => import('./commands/network/create.js'),
  'network rm': () => import('./commands/network/rm.js'),
  'network remove': () => import('./commands/network/rm.js'),
  'network prune': () => import('./commands/network/prune.js'),
  'network connect': () => import('./commands/network/connect.js'),
  'network disconnect': () => import('./commands/network/disconnect.js'),
};

export { DEFAULT_HOST };

const globalFlags = {
  host: { type: 'list', short: 'H' },
  debug: { type: 'bool', short: 'D' },
  'log-level': { type: 'string', short: 'l' },
  config: { type: 'string' },
  tls: { type: 'bool' },
  tlsverify: { type: 'bool' },
  tlscacert: { type: 'string' },
  tlscert: { type: 'string' },
  tlskey: { type: 'string' },
  help: { type: 'bool', short: 'h' },
  version: { type: 'bool', short: 'v' },
} as const;

function usage(): string {
  const names = [...new Set(Object.keys(commands))].sort();
  return `Usage:  berth [OPTIONS] COMMAND\n\nA container engine that speaks the Docker Engine API.\n\nGlobal options:\n  -H, --host string   Daemon socket to connect to: unix:///path or tcp://HOST:PORT (default ${DEFAULT_HOST};\n                      env BERTH_HOST, DOCKER_HOST)\n      --tls           Use TLS; implied by --tlsverify\n      --tlsverify     Use TLS and verify the daemon (env BERTH_TLS_VERIFY, DOCKER_TLS_VERIFY)\n      --tlscacert string  Trust certs signed only by this CA (default ~/.berth/ca.pem; env BERTH_CERT_PATH, DOCKER_CERT_PATH)\n      --tlscert string    Path to TLS certificate file (default ~/.berth/cert.pem)\n      --tlskey string     Path to TLS key file (default ~/.berth/key.pem)\n  -D, --debug         Enable debug mode\n  -v, --version       Print version information and quit\n\nCommands:\n${names.map((n) => `  ${n}`).join('\n')}\n\nRun 'berth COMMAND --help' for more information on a command.\n`;
}

/** Resolve argv to a command: two words first (`system jobs`), then one. */
export function resolveCommand(args: string[]): { key: string; rest: string[] } | undefined {
  const two = args.slice(0, 2).join(' ');
  if (args.length >= 2 && commands[two]) return { key: two, rest: args.slice(2) };
  if (args[0] && commands[args[0]]) return { key: args[0], rest: args.slice(1) };
  return undefined;
}

/** Builds the Api for a host; `tls` is set when TLS is on (tcp:// hosts use it). */
export type MakeApi = (host: string, tls?: Target['tls']) => Api;

const defaultMakeApi: MakeApi = (host, tls) => connectApi(tls ? { host, tls } : { host });

export async function runCli(argv: string[], io: Io, makeApi: MakeApi = defaultMakeApi): Promise<number> {
  let parsed;
  try {
    parsed = parseFlags(argv, globalFlags, { interspersed: false });
  } catch (e) {
    io.err(`berth: ${(e as Error).message}\nSee 'berth --help'.\n`);
    return EXIT.daemon;
  }
  const { flags, args } = parsed;
  if (flags.version && args.length === 0) {
    io.out('berth version 0.1.0, API 1.51\n');
    return EXIT.ok;
  }
  if (flags.help || args.length === 0) {
    (args.length === 0 && !flags.help ? io.err : io.out)(usage());
    return args.length === 0 && !flags.help ? EXIT.failure : EXIT.ok;
  }
  const found = resolveCommand(args);
  if (!found) {
    io.err(`berth: '${args.join(' ')}' is not a berth command.\nSee 'berth --help'\n`);
    return EXIT.failure;
  }
  const cmd = (await commands[found.key]!()).default;
  // --help first, or anywhere for commands that do not pass arguments on to a container command.
  const passesArgs = ['run', 'create', 'exec', 'container run', 'container create', 'container exec'].includes(found.key);
  // run/create take -h as --hostname, as docker.
  const hIsHostname = ['run', 'create', 'container run', 'container create'].includes(found.key);
  if (found.rest[0] === '--help' || (found.rest[0] === '-h' && !hIsHostname) || (!passesArgs && found.rest.includes('--help'))) {
    io.out(`Usage:  berth ${cmd.usage}\n`);
    return EXIT.ok;
  }
  let opts: unknown;
  try {
    opts = cmd.parse(found.rest);
  } catch (e) {
    if (e instanceof FlagError || e instanceof UsageError) {
      io.err(`berth: ${e.message}\nSee 'berth ${found.key} --help'.\n`);
      return EXIT.daemon;
    }
    throw e;
  }
  let api: Api;
  try {
    const target = resolveTarget(flags, io.env, homedir(), existsSync);
    api = makeApi(target.host, target.tls);
  } catch (e) {
    io.err(`berth: ${(e as Error).message}\n`);
    return EXIT.daemon;
  }
  try {
    return await cmd.run(api, opts, io);
  } catch (e) {
    if (e instanceof ApiError) {
      io.err(`Error response from daemon: ${e.message}\n`);
      return cmd.daemonErrorCode ?? EXIT.failure;
    }
    if (e instanceof ConnectError) {
      io.err(`${e.message}\n`);
      return EXIT.failure;
    }
    if (e instanceof UsageError) {
      io.err(`berth: ${e.message}\nSee 'berth ${found.key} --help'.\n`);
      return EXIT.daemon;
    }
    io.err(`berth: ${(e as Error).message}\n`);
    return EXIT.failure;
  }
}

export function processIo(): Io {
  return {
    out: (s) => void process.stdout.write(s),
    err: (s) => void process.stderr.write(s),
    stdin: process.stdin,
    stdinIsTTY: Boolean(process.stdin.isTTY),
    stdoutIsTTY: Boolean(process.stdout.isTTY),
    env: process.env,
    onInterrupt(fn) {
      process.once('SIGINT', fn);
    },
    terminal:
      process.stdout.isTTY || process.stdin.isTTY
        ? {
            size: () =>
              process.stdout.isTTY ? { rows: process.stdout.rows ?? 0, cols: process.stdout.columns ?? 0 } : { rows: 0, cols: 0 },
            setRaw(raw) {
              if (process.stdin.isTTY) process.stdin.setRawMode(raw);
            },
            onResize(fn) {
              process.stdout.on('resize', fn);
              return () => void process.stdout.off('resize', fn);
            },
          }
        : undefined,
  };
}

if (process.argv[1] && import.meta.url === pathToFileURL(realpathSync(process.argv[1])).href) {
  process.stdout.on('error', () => process.exit(0)); // a closed pipe (berth ps | head)
  runCli(process.argv.slice(2), processIo()).then(
    (code) => process.stdout.write('', () => process.exit(code)),
    (err) => {
      process.stderr.write(`berth: ${err?.stack ?? err}\n`);
      process.exit(EXIT.failure);
    },
  );
}
