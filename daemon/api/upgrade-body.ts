// The body of an upgraded request (exec start, attach with a JSON body as dockerode sends it).
// node hands such a request over with its socket and no body stream: the Content-Length bytes that
// follow the head are still in the socket, ahead of what the client sends next (stdin). Read exactly
// those, leave the rest in the socket.
import type { IncomingMessage } from 'node:http';
import { Readable } from 'node:stream';

/** How long a client may take to send the body of an upgraded request. */
const BODY_TIMEOUT_MS = 10_000;

export function isUpgraded(req: IncomingMessage): boolean {
  return (req as IncomingMessage & { upgrade?: boolean }).upgrade === true;
}

const badRequest = (message: string) => Object.assign(new Error(message), { statusCode: 400 });

/** The body bytes of an upgraded request, read off its socket (at most `limit`). */
export function readUpgradeBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const te = String(req.headers['transfer-encoding'] ?? '');
  if (te && te !== 'identity') return Promise.reject(badRequest('an upgraded request needs a Content-Length body, not a chunked one'));
  const n = Number(req.headers['content-length'] ?? 0);
  if (!Number.isInteger(n) || n < 0) return Promise.reject(badRequest('invalid Content-Length'));
  if (n > limit) return Promise.reject(Object.assign(new Error('request body is too large'), { statusCode: 413, code: 'FST_ERR_CTP_BODY_TOO_LARGE' }));
  if (n === 0) return Promise.resolve(Buffer.alloc(0));
  const socket = req.socket;
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let got = 0;
    const cleanup = () => {
      clearTimeout(timer);
      socket.removeListener('readable', onReadable);
      socket.removeListener('end', onEnd);
      socket.removeListener('error', onEnd);
    };
    const onReadable = () => {
      let c: Buffer | null;
      while (got < n && (c = socket.read() as Buffer | null) !== null) {
        chunks.push(c);
        got += c.length;
      }
      if (got < n) return;
      cleanup();
      const all = Buffer.concat(chunks);
      if (all.length > n) socket.unshift(all.subarray(n));
      resolve(all.subarray(0, n));
    };
    const onEnd = () => {
      cleanup();
      reject(badRequest('the connection ended before the request body'));
    };
    const timer = setTimeout(() => {
      cleanup();
      reject(badRequest('timed out reading the request body'));
    }, BODY_TIMEOUT_MS);
    socket.on('readable', onReadable);
    socket.on('end', onEnd);
    socket.on('error', onEnd);
    onReadable();
  });
}

/** The body as a stream for fastify's parsers (read from the socket only when a parser reads it). */
export function upgradeBodyStream(req: IncomingMessage, limit: number): Readable {
  return Readable.from(
    (async function* () {
      const b = await readUpgradeBody(req, limit);
      if (b.length) yield b;
    })(),
  );
}
