// berth run: docker's order of calls — POST /containers/create (pulling on "No such image"), then
// for an attached run POST /containers/{id}/attach (hijacked), POST /containers/{id}/wait
// (next-exit, or removed with --rm) before POST /containers/{id}/start; stream the output (demuxed
// without a TTY, raw with one) and exit with the container's code. -d prints the id instead.
import { ApiError, type Api } from '../../api.js';
import { defineCommand, UsageError } from '../../command.js';
import { EXIT, runErrorCode } from '../../exit-codes.js';
import { parseContainerArgs } from '../../opts/container.js';
import { parseDetachKeys, pumpHijacked } from '../../attach.js';
import { CONTAINER_OPTIONS, createRequest } from './create.js';
import { createContainer, monitorTtySize, seg, waitExitOrRemoved, type Waiter } from './shared.js';

const REMOVAL_WAIT_MS = 5000;

/** `p`, or undefined after `ms`; the timer never outlives the answer. */
async function settleWithin<T>(p: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p, new Promise<undefined>((r) => (timer = setTimeout(() => r(undefined), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

const RUN_OPTIONS = `
  -d, --detach                       Run container in background and print container ID
      --detach-keys string           Override the key sequence for detaching a container
      --sig-proxy                    Proxy received signals to the process (default true)`;

export default defineCommand({
  usage: `run [OPTIONS] IMAGE [COMMAND] [ARG...]\n\nCreate and run a new container from an image\n\nOptions:${RUN_OPTIONS}${CONTAINER_OPTIONS}`,
  daemonErrorCode: EXIT.daemon,
  parse: (argv) => parseContainerArgs(argv, 'run'),
  async run(api: Api, a, io) {
    let detachKeys: Buffer | undefined;
    if (a.detachKeys !== undefined) {
      try {
        detachKeys = parseDetachKeys(a.detachKeys);
      } catch (e) {
        throw new UsageError(`invalid detach keys (${a.detachKeys}): ${(e as Error).message}`);
      }
    }
    const req = createRequest(a, io);
    const cfg = req.body;
    if (!a.detach && cfg.AttachStdin && cfg.Tty && !io.stdinIsTTY) {
      io.err('the input device is not a TTY\n');
      return EXIT.failure;
    }
    const id = await createContainer(api, req, io, a);
    const attach = cfg.AttachStdin || cfg.AttachStdout || cfg.AttachStderr;

    let pump: ReturnType<typeof pumpHijacked> | undefined;
    let raw = false;
    const restore = () => {
      if (raw) io.terminal?.setRaw(false);
      raw = false;
    };
    let waiter: Waiter | undefined;
    let stopResize = () => {};
    try {
      // The attach and the wait go out together: both must be in place before the start.
      const [conn, waited] = await Promise.all([
        attach
          ? api.upgrade('POST', `/containers/${seg(id)}/attach`, {
              query: {
                stream: 1,
                stdin: cfg.AttachStdin ? 1 : undefined,
                stdout: cfg.AttachStdout ? 1 : undefined,
                stderr: cfg.AttachStderr ? 1 : undefined,
              },
            })
          : undefined,
        attach || a.rm ? waitExitOrRemoved(api, id, a.rm, io) : undefined,
      ]);
      waiter = waited;
      if (conn) {
        if (cfg.Tty && cfg.AttachStdin && io.terminal) {
          io.terminal.setRaw(true);
          raw = true;
        }
        pump = pumpHijacked(
          { socket: conn.socket, head: conn.head, tty: cfg.Tty },
          {
            ...(cfg.AttachStdin ? { stdin: io.stdin } : {}),
            ...(cfg.AttachStdout ? { out: io.out } : {}),
            ...(cfg.AttachStderr ? { err: cfg.Tty ? io.out : io.err } : {}),
            ...(detachKeys ? { detachKeys } : {}),
          },
        );
      }
      if (a.sigProxy && !cfg.Tty && attach)
        io.onInterrupt?.(() => void api.call('POST', `/containers/${seg(id)}/kill`, { query: { signal: 'SIGINT' } }).catch(() => {}));

      try {
        await api.call('POST', `/containers/${seg(id)}/start`);
      } catch (e) {
        pump?.close();
        restore();
        // docker waits for the daemon to remove an --rm container whose start failed; berth waits
        // too, but not forever (a daemon that keeps it must not hang the CLI).
        if (a.rm && waiter) await settleWithin(waiter.status, REMOVAL_WAIT_MS);
        waiter?.abandon();
        if (e instanceof ApiError) {
          io.err(`Error response from daemon: ${e.message}\n`);
          return runErrorCode(e.message);
        }
        throw e;
      }

      if (!attach || !pump) {
        waiter?.abandon();
        io.out(`${id}\n`);
        return EXIT.ok;
      }
      if (cfg.Tty && io.stdoutIsTTY) stopResize = monitorTtySize(api, io, id, false);

      const w = waiter!;
      const first = await Promise.race([
        pump.done.then((r) => ({ kind: 'stream' as const, r })),
        w.status.then((s) => ({ kind: 'status' as const, s })),
      ]);
      if (first.kind === 'stream') {
        restore();
        if (first.r.detached) {
          w.abandon();
          return EXIT.ok;
        }
        if (first.r.error) io.err(`${first.r.error}\n`);
        return await w.status;
      }
      // The container is gone; let the rest of its output drain (docker stops here only when
      // neither stdout nor stderr is attached).
      if (!cfg.AttachStdout && !cfg.AttachStderr) pump.close();
      await pump.done;
      return first.s;
    } finally {
      stopResize();
      restore();
    }
  },
});
