// berth login [-u USER] [-p PASS | --password-stdin] [SERVER]: the daemon checks the credentials
// with the registry (POST /auth), then they are stored in the client config (credentials.ts) as
// docker stores them. Without -u/-p the user is asked on the terminal (the password unechoed).
import type { Io } from '../../command.js';
import { defineCommand, UsageError } from '../../command.js';
import { parseFlags } from '../../flags.js';
import { configPath, HUB_KEY, readConfig, serverKey, writeConfig } from './credentials.js';

export interface LoginOptions {
  server?: string;
  username?: string;
  password?: string;
  passwordStdin: boolean;
}

/** Read one line from the user; `hidden` turns echo off (raw mode) and echoes nothing. What
 *  follows the line in the same chunk is put back for the next read; stdin is left paused. */
export async function prompt(io: Io, question: string, hidden: boolean): Promise<string> {
  io.out(question);
  const raw = hidden && io.terminal !== undefined;
  if (raw) io.terminal!.setRaw(true);
  const stdin = io.stdin as NodeJS.ReadableStream & { unshift?(b: Buffer): void };
  try {
    return await new Promise<string>((resolve, reject) => {
      let line = '';
      const done = (err: Error | undefined, rest?: string) => {
        stdin.removeListener('data', onData);
        stdin.removeListener('end', onEnd);
        stdin.pause();
        if (rest) stdin.unshift?.(Buffer.from(rest));
        if (err) reject(err);
        else resolve(line);
      };
      const onData = (chunk: Buffer | string) => {
        const s = chunk.toString();
        for (let i = 0; i < s.length; i++) {
          const ch = s[i]!;
          if (ch === '\r' || ch === '\n') return done(undefined, s.slice(s[i + 1] === '\n' && ch === '\r' ? i + 2 : i + 1));
          if (ch === '\u0003' || ch === '\u0004') return done(new UsageError('login cancelled'));
          if (ch === '\u007f' || ch === '\b') line = line.slice(0, -1);
          else line += ch;
        }
      };
      const onEnd = () => done(undefined);
      stdin.on('data', onData);
      stdin.on('end', onEnd);
      stdin.resume();
    });
  } finally {
    if (raw) {
      io.terminal!.setRaw(false);
      io.out('\n');
    }
  }
}

async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  let s = '';
  for await (const c of stream as AsyncIterable<Buffer | string>) s += c.toString();
  return s;
}

export default defineCommand({
  usage:
    'login [OPTIONS] [SERVER]\n\nAuthenticate to a registry.\nDefaults to Docker Hub if no server is specified.\n\nOptions:\n  -p, --password string   Password\n      --password-stdin    Take the password from stdin\n  -u, --username string   Username',
  parse(argv): LoginOptions {
    const { flags, args } = parseFlags(argv, {
      username: { type: 'string', short: 'u' },
      password: { type: 'string', short: 'p' },
      'password-stdin': { type: 'bool' },
    });
    if (args.length > 1) throw new UsageError('"login" requires at most 1 argument.');
    if (flags['password-stdin'] && flags.password !== undefined) throw new UsageError('--password and --password-stdin are mutually exclusive');
    if (flags['password-stdin'] && !flags.username) throw new UsageError('Must provide --username with --password-stdin');
    return {
      ...(args[0] ? { server: args[0] } : {}),
      ...(flags.username !== undefined ? { username: flags.username } : {}),
      ...(flags.password !== undefined ? { password: flags.password } : {}),
      passwordStdin: flags['password-stdin'] ?? false,
    };
  },
  async run(api, o, io) {
    const key = serverKey(o.server);
    let { username, password } = o;
    if (password !== undefined) io.err('WARNING! Using --password via the CLI is insecure. Use --password-stdin.\n');
    if (o.passwordStdin) password = (await readAll(io.stdin)).replace(/\r?\n$/, '');
    if ((username === undefined || password === undefined) && !io.stdinIsTTY)
      throw new UsageError('Cannot perform an interactive login from a non TTY device');
    if (username === undefined) username = (await prompt(io, 'Username: ', false)).trim();
    if (!username) throw new UsageError('Username is required');
    if (password === undefined) password = await prompt(io, 'Password: ', true);
    if (!password) throw new UsageError('Password is required');
    const { body } = await api.call<{ Status?: string; IdentityToken?: string }>('POST', '/auth', {
      body: { username, password, serveraddress: key === HUB_KEY ? HUB_KEY : key },
    });
    const path = configPath(io.env);
    const cfg = readConfig(path);
    const auths = (cfg.auths ??= {});
    auths[key] = body?.IdentityToken
      ? { auth: Buffer.from(`${username}:`).toString('base64'), identitytoken: body.IdentityToken }
      : { auth: Buffer.from(`${username}:${password}`).toString('base64') };
    writeConfig(path, cfg);
    io.out(`${body?.Status || 'Login Succeeded'}\n`);
    return 0;
  },
});
