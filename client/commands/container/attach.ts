// berth attach: join a running container's stdio (docker's order: wait, inspect, attach).
import { ApiError } from '../../api.js';
import { defineCommand, UsageError } from '../../command.js';
import { parseFlags } from '../../flags.js';
import { parseDetachKeys, pumpHijacked } from '../../attach.js';
import { monitorTtySize, seg } from './shared.js';

interface Inspect {
  Id: string;
  Config: { Tty: boolean; OpenStdin: boolean };
  State: { Running: boolean; Paused?: boolean; Restarting?: boolean };
  HostConfig?: { AutoRemove?: boolean };
}

export default defineCommand({
  usage:
    'attach [OPTIONS] CONTAINER\n\nAttach local standard input, output, and error streams to a running container\n\nOptions:\n      --detach-keys string   Override the key sequence for detaching a container\n      --no-stdin             Do not attach STDIN\n      --sig-proxy            Proxy all received signals to the process (default true)',
  parse(argv) {
    const { flags, args } = parseFlags(argv, {
      'detach-keys': { type: 'string' },
      'no-stdin': { type: 'bool' },
      'sig-proxy': { type: 'bool' },
    });
    if (args.length !== 1) throw new UsageError('"attach" requires exactly 1 argument.');
    let detachKeys: Buffer | undefined;
    if (flags['detach-keys'] !== undefined) {
      try {
        detachKeys = parseDetachKeys(flags['detach-keys']);
      } catch (e) {
        throw new UsageError(`invalid detach keys (${flags['detach-keys']}): ${(e as Error).message}`);
      }
    }
    return { container: args[0]!, noStdin: flags['no-stdin'] ?? false, sigProxy: flags['sig-proxy'] ?? true, detachKeys };
  },
  async run(api, o, io) {
    // The wait goes first so that an exit during attach is not missed; its answer is the exit code.
    const wait = api
      .call<{ StatusCode: number; Error?: { Message?: string } | null }>('POST', `/containers/${seg(o.container)}/wait`)
      .then((r) => r.body.StatusCode)
      .catch((e: unknown) => (e instanceof ApiError ? e : new ApiError(500, String(e))));
    const { body: c } = await api.call<Inspect>('GET', `/containers/${seg(o.container)}/json`);
    if (!c.State.Running) throw new Error('You cannot attach to a stopped container, start it first');
    if (c.State.Paused) throw new Error('You cannot attach to a paused container, unpause it first');
    if (c.State.Restarting) throw new Error('You cannot attach to a restarting container, wait until it is running');
    const withStdin = !o.noStdin && c.Config.OpenStdin;
    const tty = c.Config.Tty;
    const conn = await api.upgrade('POST', `/containers/${seg(o.container)}/attach`, {
      query: { stream: 1, stdin: withStdin ? 1 : undefined, stdout: 1, stderr: 1 },
    });
    let raw = false;
    if (tty && withStdin && io.terminal) {
      io.terminal.setRaw(true);
      raw = true;
    }
    if (o.sigProxy && !tty)
      io.onInterrupt?.(() => void api.call('POST', `/containers/${seg(c.Id)}/kill`, { query: { signal: 'SIGINT' } }).catch(() => {}));
    const stopResize = tty && io.stdoutIsTTY ? monitorTtySize(api, io, c.Id, false) : () => {};
    try {
      const pump = pumpHijacked(
        { socket: conn.socket, head: conn.head, tty },
        { ...(withStdin ? { stdin: io.stdin } : {}), out: io.out, err: tty ? io.out : io.err, ...(o.detachKeys ? { detachKeys: o.detachKeys } : {}) },
      );
      const r = await pump.done;
      if (r.detached) return 0;
      if (r.error) io.err(`${r.error}\n`);
      const status = await wait;
      if (status instanceof ApiError) throw status;
      return status;
    } finally {
      stopResize();
      if (raw) io.terminal?.setRaw(false);
    }
  },
});
