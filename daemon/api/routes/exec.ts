// /containers/{id}/exec and /exec/{id}/{start,resize,json} in Docker Engine API shape. Start hijacks
// the connection (101 when the client asked to upgrade) and pumps the process's stdio: frames without
// a TTY, raw bytes with one; with a TTY the detach keys (default ctrl-p ctrl-q) end the stream and
// leave the process running. The exit code is read back through GET /exec/{id}/json.
import type { Socket } from 'node:net';
import { PassThrough } from 'node:stream';
import type { FastifyInstance, FastifyPluginAsync, FastifyRequest } from 'fastify';
import type { Daemon } from '../../daemon.js';
import { invalidParameter } from '../../../drivers/errors.js';
import { DEFAULT_DETACH_KEYS, EscapeScanner, parseDetachKeys } from '../../../client/attach.js';
import { ExecService, type ExecCreateBody, type ExecInstance, type ExecStartBody } from '../../containers/exec.js';
import { frame, hijackHead, MULTIPLEXED, RAW } from '../stream.js';

const idParams = { type: 'object', required: ['id'], properties: { id: { type: 'string', minLength: 1 } } } as const;
const createSchema = {
  params: idParams,
  body: {
    type: ['object', 'null'],
    properties: {
      AttachStdin: { type: 'boolean' },
      AttachStdout: { type: 'boolean' },
      AttachStderr: { type: 'boolean' },
      DetachKeys: { type: 'string' },
      Tty: { type: 'boolean' },
      ConsoleSize: { type: ['array', 'null'], items: { type: 'integer' } },
      Env: { type: ['array', 'null'], items: { type: 'string' } },
      Cmd: { type: ['array', 'null'], items: { type: 'string' } },
      Privileged: { type: 'boolean' },
      User: { type: 'string' },
      WorkingDir: { type: 'string' },
    },
  },
} as const;
const startSchema = {
  params: idParams,
  body: {
    type: ['object', 'null'],
    properties: {
      Detach: { type: 'boolean' },
      Tty: { type: 'boolean' },
      ConsoleSize: { type: ['array', 'null'], items: { type: 'integer' } },
    },
  },
} as const;

export function execRoutes(d: Daemon): FastifyPluginAsync {
  return async (app: FastifyInstance) => {
    const execs = new ExecService(d);
    app.addHook('onClose', async () => execs.close());
    const id = (req: FastifyRequest) => (req.params as { id: string }).id;

    app.post('/containers/:id/exec', { schema: createSchema }, async (req, reply) => {
      const r = execs.create(id(req), req.body as ExecCreateBody | undefined);
      reply.code(201);
      return r;
    });

    app.get('/exec/:id/json', { schema: { params: idParams } }, async (req) => execs.inspect(id(req)));

    app.post('/exec/:id/resize', { schema: { params: idParams } }, async (req, reply) => {
      const q = req.query as { h?: string; w?: string };
      const h = Number(q.h ?? 0);
      const w = Number(q.w ?? 0);
      if (!Number.isInteger(h) || !Number.isInteger(w)) throw invalidParameter(`invalid terminal size: h=${q.h} w=${q.w}`);
      await execs.resize(id(req), h, w);
      reply.code(200);
      return '';
    });

    app.post('/exec/:id/start', { schema: startSchema }, async (req, reply) => {
      const body = (req.body ?? {}) as ExecStartBody;
      const x = execs.claim(id(req), body);
      if (body.Detach) {
        await execs.run(x);
        reply.code(200);
        return '';
      }
      const upgrade = /upgrade/i.test(String(req.headers.connection ?? '')) || Boolean(req.headers.upgrade);
      reply.hijack();
      await pump(d, execs, x, req.raw.socket, upgrade);
    });
  };
}

/** The attached exec: headers, then output out and input in until the process ends or a side leaves. */
async function pump(d: Daemon, execs: ExecService, x: ExecInstance, socket: Socket, upgrade: boolean): Promise<void> {
  const tty = x.tty;
  // An upgraded socket has no listener of node's left: a client gone mid-write (EPIPE) must not crash berthd.
  socket.on('error', () => socket.destroy());
  hijackHead(socket, upgrade, tty ? RAW : MULTIPLEXED);
  const send = (stream: 'stdout' | 'stderr', chunk: Buffer) => {
    if (!socket.destroyed && socket.writable) socket.write(tty ? chunk : frame(stream, chunk));
  };

  // stdin: the client's bytes after the head, through the detach-key scanner when there is a TTY
  let stdin: PassThrough | undefined;
  let detach: () => void = () => {};
  if (x.attachStdin) {
    const pass = new PassThrough();
    stdin = pass;
    const scanner = tty ? new EscapeScanner(x.detachKeys ? parseDetachKeys(x.detachKeys) : DEFAULT_DETACH_KEYS) : undefined;
    socket.on('data', (chunk: Buffer) => {
      const r = scanner ? scanner.push(chunk) : { forward: chunk, detached: false };
      if (r.forward.length && !pass.write(r.forward)) {
        socket.pause();
        pass.once('drain', () => socket.resume());
      }
      if (r.detached) detach();
    });
    socket.on('end', () => pass.end());
  }
  socket.resume(); // flowing again after the body was read off it; without stdin only the close matters

  let ended = false;
  let resolveOutputEnd!: () => void;
  const outputEnd = new Promise<void>((r) => (resolveOutputEnd = r));
  let run: Awaited<ReturnType<ExecService['run']>> | undefined;
  const closeClient = () => run?.close();
  socket.on('close', () => {
    ended = true;
    closeClient();
    resolveOutputEnd();
  });
  d.streams.add(closeClient);
  detach = () => {
    run?.close();
    if (!socket.destroyed) socket.end();
  };
  try {
    run = await execs.run(x, {
      ...(stdin ? { stdin } : {}),
      onOutput: (stream, chunk) => {
        if ((stream === 'stdout' && !x.attachStdout) || (stream === 'stderr' && !x.attachStderr)) return;
        send(stream, chunk);
      },
      onEnd: () => resolveOutputEnd(),
    });
    if (ended) run.close();
  } catch (err) {
    // After the 101 the error can only go down the stream (as dockerd: on stdout, then the end).
    send('stdout', Buffer.from(`${(err as Error).message}\r\n`));
    if (!socket.destroyed) socket.end();
    d.streams.delete(closeClient);
    return;
  }
  await outputEnd;
  // The output is drained: the exit code is recorded before the client, who reads it next, hears the end.
  if (!ended) await Promise.race([run.exited, new Promise((r) => setTimeout(r, 5_000).unref())]);
  d.streams.delete(closeClient);
  if (!socket.destroyed) socket.end();
}
