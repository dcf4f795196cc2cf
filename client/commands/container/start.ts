// berth start: start containers; with -a/-i attach to one first (docker's order: inspect,
// attach, wait, start), stream its output and exit with its code.
import { defineCommand, UsageError } from '../../command.js';
import { EXIT } from '../../exit-codes.js';
import { parseFlags } from '../../flags.js';
import { parseDetachKeys, pumpHijacked } from '../../attach.js';
import { forEachName, monitorTtySize, seg, waitExitOrRemoved } from './shared.js';

interface Inspect {
  Id: string;
  Config: { Tty: boolean; OpenStdin: boolean };
  HostConfig?: { AutoRemove?: boolean };
}

export default defineCommand({
  usage:
    'start [OPTIONS] CONTAINER [CONTAINER...]\n\nStart one or more stopped containers\n\nOptions:\n  -a, --attach               Attach STDOUT/STDERR and forward signals\n      --detach-keys string   Override the key sequence for detaching a container\n  -i, --interactive          Attach container\'s STDIN',
  parse(argv) {
    const { flags, args } = parseFlags(argv, {
      attach: { type: 'bool', short: 'a' },
      interactive: { type: 'bool', short: 'i' },
      'detach-keys': { type: 'string' },
    });
    if (!args.length) throw new UsageError('"start" requires at least 1 argument.');
    const attach = flags.attach ?? false;
    const interactive = flags.interactive ?? false;
    if ((attach || interactive) && args.length > 1) throw new UsageError('you cannot start and attach multiple containers at once');
    let detachKeys: Buffer | undefined;
    if (flags['detach-keys'] !== undefined) {
      try {
        detachKeys = parseDetachKeys(flags['detach-keys']);
      } catch (e) {
        throw new UsageError(`invalid detach keys (${flags['detach-keys']}): ${(e as Error).message}`);
      }
    }
    return { containers: args, attach, interactive, detachKeys };
  },
  async run(api, o, io) {
    if (!o.attach && !o.interactive) {
      const code = await forEachName(o.containers, io, (c) => api.call('POST', `/containers/${seg(c)}/start`));
      if (code) io.err(`Error: failed to start containers: ${o.containers.join(', ')}\n`);
      return code;
    }
    const { body: c } = await api.call<Inspect>('GET', `/containers/${seg(o.containers[0]!)}/json`);
    const withStdin = o.interactive && c.Config.OpenStdin;
    const tty = c.Config.Tty;
    const conn = await api.upgrade('POST', `/containers/${seg(c.Id)}/attach`, {
      query: { stream: 1, stdin: withStdin ? 1 : undefined, stdout: 1, stderr: 1 },
    });
    let raw = false;
    if (tty && withStdin && io.terminal) {
      io.terminal.setRaw(true);
      raw = true;
    }
    let stopResize = () => {};
    try {
      const pump = pumpHijacked(
        { socket: conn.socket, head: conn.head, tty },
        { ...(withStdin ? { stdin: io.stdin } : {}), out: io.out, err: io.err, ...(o.detachKeys ? { detachKeys: o.detachKeys } : {}) },
      );
      const waiter = await waitExitOrRemoved(api, c.Id, c.HostConfig?.AutoRemove ?? false, io);
      if (!tty) io.onInterrupt?.(() => void api.call('POST', `/containers/${seg(c.Id)}/kill`, { query: { signal: 'SIGINT' } }).catch(() => {}));
      try {
        await api.call('POST', `/containers/${seg(c.Id)}/start`);
      } catch (e) {
        pump.close();
        if (c.HostConfig?.AutoRemove) await waiter.status;
        else waiter.abandon();
        throw e;
      }
      if (tty && io.stdoutIsTTY) stopResize = monitorTtySize(api, io, c.Id, false);
      const r = await pump.done;
      if (r.detached) {
        waiter.abandon();
        return EXIT.ok;
      }
      if (r.error) io.err(`${r.error}\n`);
      return await waiter.status;
    } finally {
      stopResize();
      if (raw) io.terminal?.setRaw(false);
    }
  },
});
