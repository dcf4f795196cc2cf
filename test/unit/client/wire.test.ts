// berth run -i over a real unix socket (a node http server in a temp dir playing the daemon): the
// HTTP 101 upgrade, multiplexed frames, stdin half-close with the output still flowing after it,
// the wait answered with headers first and its body at exit. No root, no kernel.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../../client/main.js';
import { frame } from '../../../client/attach.js';
import { recIo } from './fake.js';

const ID = 'fe'.repeat(32);

describe('run -i against a real HTTP server on a unix socket', () => {
  let dir: string;
  let server: Server;
  let sock: string;
  const seen: string[] = [];
  let exit: ((code: number) => void) | undefined;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'berth-cli-wire-'));
    sock = join(dir, 'd.sock');
    server = createServer((req: IncomingMessage, res: ServerResponse) => {
      seen.push(`${req.method} ${req.url}`);
      const json = (code: number, body: unknown) => {
        res.writeHead(code, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify(body));
      };
      req.resume();
      if (req.url!.startsWith('/containers/create')) return json(201, { Id: ID, Warnings: [] });
      if (req.url!.includes('/wait')) {
        // as berthd and dockerd: headers now (the wait is registered), the body at exit
        res.writeHead(200, { 'Content-Type': 'application/json' });
        res.flushHeaders();
        exit = (code) => res.end(JSON.stringify({ StatusCode: code }) + '\n');
        return;
      }
      if (req.url!.includes('/start')) {
        res.writeHead(204);
        return res.end();
      }
      json(404, { message: 'page not found' });
    });
    server.on('upgrade', (req: IncomingMessage, socket: Duplex) => {
      seen.push(`UPGRADE ${req.method} ${req.url} ${req.headers.upgrade}`);
      socket.write('HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.multiplexed-stream\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n');
      // a `cat` that upper-cases: echoes stdin as stdout frames, and a last word after stdin ends
      socket.on('data', (c: Buffer) => socket.write(frame(1, c.toString().toUpperCase())));
      socket.on('end', () => {
        setTimeout(() => {
          socket.write(frame(2, 'bye\n'));
          socket.end();
          exit?.(5);
        }, 20);
      });
    });
    await new Promise<void>((r) => server.listen(sock, r));
  });

  afterAll(async () => {
    await new Promise<void>((r) => server.close(() => r()));
    rmSync(dir, { recursive: true, force: true });
  });

  it('streams both ways and exits with the code from the wait', async () => {
    const io = recIo();
    io.stdin.end('hello\n');
    const code = await runCli(['-H', `unix://${sock}`, 'run', '-i', '--rm', 'busybox', 'cat'], io);
    expect(code).toBe(5);
    expect(io.outText).toBe('HELLO\n');
    expect(io.errText).toBe('bye\n');
    expect(seen).toEqual([
      'POST /containers/create',
      `UPGRADE POST /containers/${ID}/attach?stream=1&stdin=1&stdout=1&stderr=1 tcp`,
      `POST /containers/${ID}/wait?condition=removed`,
      `POST /containers/${ID}/start`,
    ]);
  });
});
