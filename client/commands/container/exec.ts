// berth exec: POST /containers/{id}/exec, then POST /exec/{id}/start (hijacked unless -d); the
// exit code comes from GET /exec/{id}/json, as docker.
import { defineCommand, UsageError } from '../../command.js';
import { EXIT } from '../../exit-codes.js';
import { parseFlags } from '../../flags.js';
import { readFileSync } from 'node:fs';
import { parseDetachKeys, pumpHijacked } from '../../attach.js';
import { parseKeyValueFile, resolveEnv } from '../../opts/kv.js';
import { monitorTtySize, seg } from './shared.js';

export default defineCommand({
  usage:
    'exec [OPTIONS] CONTAINER COMMAND [ARG...]\n\nExecute a command in a running container\n\nOptions:\n  -d, --detach               Detached mode: run command in the background\n      --detach-keys string   Override the key sequence for detaching a container\n  -e, --env list             Set environment variables\n      --env-file list        Read in a file of environment variables\n  -i, --interactive          Keep STDIN open even if not attached\n  -t, --tty                  Allocate a pseudo-TTY\n  -u, --user string          Username or UID (format: "<name|uid>[:<group|gid>]")\n  -w, --workdir string       Working directory inside the container',
  parse(argv) {
    const { flags, args } = parseFlags(
      argv,
      {
        detach: { type: 'bool', short: 'd' },
        'detach-keys': { type: 'string' },
        env: { type: 'list', short: 'e' },
        'env-file': { type: 'list' },
        interactive: { type: 'bool', short: 'i' },
        tty: { type: 'bool', short: 't' },
        user: { type: 'string', short: 'u' },
        workdir: { type: 'string', short: 'w' },
        privileged: { type: 'bool' },
      },
      { interspersed: false },
    );
    if (flags.privileged) throw new UsageError('--privileged is not supported');
    if (args.length < 2) throw new UsageError('"exec" requires at least 2 arguments.');
    let detachKeys: Buffer | undefined;
    if (flags['detach-keys'] !== undefined) {
      try {
        detachKeys = parseDetachKeys(flags['detach-keys']);
      } catch (e) {
        throw new UsageError(`invalid detach keys (${flags['detach-keys']}): ${(e as Error).message}`);
      }
    }
    return {
      container: args[0]!,
      cmd: args.slice(1),
      detach: flags.detach ?? false,
      detachKeys,
      detachKeysText: flags['detach-keys'] ?? '',
      env: flags.env ?? [],
      envFiles: flags['env-file'] ?? [],
      interactive: flags.interactive ?? false,
      tty: flags.tty ?? false,
      user: flags.user ?? '',
      workdir: flags.workdir ?? '',
    };
  },
  async run(api, o, io) {
    const lookup = (k: string) => io.env[k];
    const env: string[] = [];
    for (const f of o.envFiles) {
      let text: string;
      try {
        text = readFileSync(f, 'utf8');
      } catch (e) {
        throw new UsageError(`open ${f}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file or directory' : (e as Error).message}`);
      }
      env.push(...parseKeyValueFile(f, text, lookup));
    }
    env.push(...o.env.map((e) => resolveEnv(e, lookup)));
    const attachStdin = !o.detach && o.interactive;
    // docker inspects first so that "No such container" wins over the TTY check.
    await api.call('GET', `/containers/${seg(o.container)}/json`);
    if (!o.detach && attachStdin && o.tty && !io.stdinIsTTY) {
      io.err('the input device is not a TTY\n');
      return EXIT.failure;
    }
    const size = o.tty && io.stdoutIsTTY && io.terminal ? io.terminal.size() : undefined;
    const { body: created } = await api.call<{ Id: string }>('POST', `/containers/${seg(o.container)}/exec`, {
      body: {
        User: o.user,
        Privileged: false,
        Tty: o.tty,
        ...(size ? { ConsoleSize: [size.rows, size.cols] } : {}),
        AttachStdin: attachStdin,
        AttachStderr: !o.detach,
        AttachStdout: !o.detach,
        Detach: o.detach,
        DetachKeys: o.detachKeysText,
        Env: env.length ? env : null,
        WorkingDir: o.workdir,
        Cmd: o.cmd,
      },
    });
    const execId = created.Id;
    if (!execId) throw new Error('exec ID empty');
    if (o.detach) {
      await api.call('POST', `/exec/${seg(execId)}/start`, { body: { Detach: true, Tty: o.tty } });
      return EXIT.ok;
    }
    const conn = await api.upgrade('POST', `/exec/${seg(execId)}/start`, {
      body: { Detach: false, Tty: o.tty, ...(size ? { ConsoleSize: [size.rows, size.cols] } : {}) },
    });
    let raw = false;
    if (o.tty && attachStdin && io.terminal) {
      io.terminal.setRaw(true);
      raw = true;
    }
    const stopResize = o.tty && io.stdinIsTTY ? monitorTtySize(api, io, execId, true) : () => {};
    try {
      const pump = pumpHijacked(
        { socket: conn.socket, head: conn.head, tty: o.tty },
        { ...(attachStdin ? { stdin: io.stdin } : {}), out: io.out, err: o.tty ? io.out : io.err, ...(o.detachKeys ? { detachKeys: o.detachKeys } : {}) },
      );
      const r = await pump.done;
      if (r.detached) return EXIT.ok;
      if (r.error) io.err(`${r.error}\n`);
    } finally {
      stopResize();
      if (raw) io.terminal?.setRaw(false);
    }
    const { body: info } = await api.call<{ ExitCode: number | null; Running?: boolean }>('GET', `/exec/${seg(execId)}/json`);
    return info.ExitCode ?? 0;
  },
});
