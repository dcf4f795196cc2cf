// Docker's stream framing: without a TTY, stdout and stderr share one connection as frames with
// an 8-byte header [stream, 0, 0, 0, size (uint32 big-endian)]; with a TTY the bytes go raw.
import type { Socket } from 'node:net';
import { dockerHeaders } from './app.js';

export const MULTIPLEXED = 'application/vnd.docker.multiplexed-stream';
export const RAW = 'application/vnd.docker.raw-stream';

export function frame(stream: 'stdin' | 'stdout' | 'stderr', data: Buffer): Buffer {
  const h = Buffer.alloc(8);
  h[0] = stream === 'stdin' ? 0 : stream === 'stdout' ? 1 : 2;
  h.writeUInt32BE(data.length, 4);
  return Buffer.concat([h, data]);
}

/** Answer a hijacked request: 101 when the client asked to upgrade, 200 otherwise (old clients). */
export function hijackHead(socket: Socket, upgrade: boolean, contentType: string): void {
  const head = upgrade
    ? ['HTTP/1.1 101 UPGRADED', `Content-Type: ${contentType}`, 'Connection: Upgrade', 'Upgrade: tcp']
    : ['HTTP/1.1 200 OK', `Content-Type: ${contentType}`];
  for (const [k, v] of Object.entries(dockerHeaders())) head.push(`${k}: ${v}`);
  socket.write(head.join('\r\n') + '\r\n\r\n');
}
