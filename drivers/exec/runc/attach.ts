// A client of conmon's attach socket. conmon sends each read of the container's output as one packet,
// its first byte naming the pipe (2 stdout, 3 stderr; with a TTY everything is 2), and writes what
// it receives to the container's stdin. A half-close (our end) closes the container's stdin when
// conmon runs without --leave-stdin-open (StdinOnce). conmon closes the socket after the container
// exited and its output was drained.
import type { AttachOptions, AttachSession } from '../../driver.js';
import { BerthError, conflict, wrap } from '../../errors.js';
import type { ExecHost, Seqpacket } from './host.js';
import { BUNDLE_FILES } from './conmon.js';

const STDOUT_PIPE = 2;
const STDERR_PIPE = 3;
/** conmon reads at most 32 KiB - 1 per packet; stay below. */
const MAX_PACKET = 32 * 1024 - 2;

export async function attachTo(host: ExecHost, bundleDir: string, opts: AttachOptions): Promise<AttachSession> {
  let sock: Seqpacket;
  try {
    sock = await host.connectSeqpacket(bundleDir, BUNDLE_FILES.attach);
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    if (/no such file|connection refused|ENOENT|ECONNREFUSED/i.test(msg))
      throw conflict('You cannot attach to a stopped container, start it first', e);
    if (e instanceof BerthError) throw e;
    throw wrap(e, 'attach');
  }

  let resolveEnded!: () => void;
  const ended = new Promise<void>((r) => (resolveEnded = r));
  let done = false;
  const stdin = opts.stdin;
  const onStdinData = (chunk: Buffer | string) => {
    const b = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    if (done) return;
    for (let off = 0; off < b.length; off += MAX_PACKET) sock.write(Buffer.from(b.subarray(off, off + MAX_PACKET)));
  };
  const onStdinEnd = () => {
    if (!done) sock.end();
  };
  const finish = () => {
    if (done) return;
    done = true;
    stdin?.removeListener('data', onStdinData);
    stdin?.removeListener('end', onStdinEnd);
    try {
      opts.onEnd?.();
    } finally {
      resolveEnded();
    }
  };

  sock.on('data', (b: Buffer) => {
    if (b.length < 1) return;
    const data = b.subarray(1);
    if (b[0] === STDOUT_PIPE) opts.onOutput('stdout', data);
    else if (b[0] === STDERR_PIPE) opts.onOutput('stderr', data);
  });
  sock.on('end', () => {
    finish();
    sock.destroy();
  });
  sock.on('close', finish);
  sock.on('error', () => {
    finish();
    sock.destroy();
  });
  if (stdin) {
    stdin.on('data', onStdinData);
    stdin.on('end', onStdinEnd);
  }
  return {
    close() {
      sock.destroy();
      finish();
    },
    ended,
  };
}
