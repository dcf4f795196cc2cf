// /containers in Docker Engine API shape. No container logic here: parse, call the service, shape.
import type { FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import type { Daemon } from '../../daemon.js';
import { invalidParameter } from '../../../drivers/errors.js';
import { parseFilters } from '../../events.js';
import type { CreateBody } from '../../containers/create.js';
import { listItem, inspect, wireStatus, type WireContext } from '../../containers/wire.js';
import type { ContainerRecord } from '../../containers/types.js';
import type { WaitCondition } from '../../containers/service.js';
import { dockerHeaders } from '../app.js';
import { frame, hijackHead, MULTIPLEXED, RAW } from '../stream.js';
import { parseTimestamp } from '../../events.js';
import { matchLabels } from '../../networks/service.js';

const idParams = { type: 'object', required: ['id'], properties: { id: { type: 'string', minLength: 1 } } } as const;
const createSchema = {
  querystring: { type: 'object', properties: { name: { type: 'string' }, platform: { type: 'string' } } },
  body: {
    type: 'object',
    required: ['Image'],
    properties: {
      Image: { type: 'string', minLength: 1 },
      Cmd: { type: ['array', 'null'], items: { type: 'string' } },
      Entrypoint: { type: ['array', 'null'], items: { type: 'string' } },
      Env: { type: ['array', 'null'], items: { type: 'string' } },
      Hostname: { type: 'string' },
      User: { type: 'string' },
      WorkingDir: { type: 'string' },
      Tty: { type: 'boolean' },
      OpenStdin: { type: 'boolean' },
      Labels: { type: ['object', 'null'], additionalProperties: { type: 'string' } },
      ExposedPorts: { type: ['object', 'null'] },
      StopSignal: { type: 'string' },
      StopTimeout: { type: ['integer', 'null'] },
      HostConfig: {
        type: ['object', 'null'],
        properties: {
          NetworkMode: { type: 'string' },
          PortBindings: {
            type: ['object', 'null'],
            additionalProperties: {
              type: ['array', 'null'],
              items: { type: 'object', properties: { HostIp: { type: 'string' }, HostPort: { type: 'string' } } },
            },
          },
          PublishAllPorts: { type: 'boolean' },
          Links: { type: ['array', 'null'], items: { type: 'string' } },
          AutoRemove: { type: 'boolean' },
          RestartPolicy: {
            type: ['object', 'null'],
            properties: { Name: { type: 'string' }, MaximumRetryCount: { type: 'integer' } },
          },
          Dns: { type: ['array', 'null'], items: { type: 'string' } },
          DnsSearch: { type: ['array', 'null'], items: { type: 'string' } },
          DnsOptions: { type: ['array', 'null'], items: { type: 'string' } },
          ExtraHosts: { type: ['array', 'null'], items: { type: 'string' } },
          Binds: { type: ['array', 'null'], items: { type: 'string' } },
          Mounts: { type: ['array', 'null'], items: { type: 'object' } },
          Tmpfs: { type: ['object', 'null'], additionalProperties: { type: 'string' } },
        },
      },
      NetworkingConfig: { type: ['object', 'null'] },
    },
  },
} as const;

export function containerRoutes(d: Daemon): FastifyPluginAsync {
  const ctx = (): WireContext => ({
    endpoint: (id) => d.store.get('endpoint', id),
    network: (ref) => d.networks.find(ref),
    dir: (id) => d.containers.dir(id),
    logPath: (id) => d.containers.logPath(id),
    storageDriver: d.config.storageDriver,
    now: Date.now(),
    execIds: (id) => d.containers.execIds(id),
  });
  const id = (req: FastifyRequest) => (req.params as { id: string }).id;
  const int = (v: unknown, what: string): number | undefined => {
    if (v === undefined || v === '') return undefined;
    const n = Number(v);
    if (!Number.isInteger(n)) throw invalidParameter(`invalid ${what}: ${String(v)}`);
    return n;
  };

  return async (app: FastifyInstance) => {
    app.post('/containers/create', { schema: createSchema }, async (req, reply) => {
      const q = req.query as { name?: string };
      const r = await d.containers.create(q.name, req.body as CreateBody);
      reply.code(201);
      return r;
    });

    app.get('/containers/json', async (req) => {
      const q = req.query as { all?: string; limit?: string; filters?: string; size?: string };
      let filters: Record<string, string[]>;
      try {
        filters = parseFilters(q.filters);
      } catch (e) {
        throw invalidParameter(`invalid filters: ${(e as Error).message}`);
      }
      const all = q.all === '1' || q.all === 'true';
      const limit = int(q.limit, 'limit') ?? -1;
      let list = d.containers
        .list()
        .filter((c) => all || limit > 0 || c.state.status === 'running' || (filters.status?.length ?? 0) > 0)
        .filter((c) => matchContainer(c, filters, d))
        .sort((a, b) => Date.parse(b.created) - Date.parse(a.created));
      if (limit > 0) list = list.slice(0, limit);
      const w = ctx();
      return list.map((c) => listItem(c, w));
    });

    app.get('/containers/:id/json', { schema: { params: idParams } }, async (req) => inspect(d.containers.get(id(req)), ctx()));

    app.post('/containers/:id/start', { schema: { params: idParams } }, async (req, reply) => {
      await d.containers.start(id(req));
      reply.code(204);
    });

    app.post('/containers/:id/stop', { schema: { params: idParams } }, async (req, reply) => {
      const q = req.query as { t?: string; signal?: string };
      const t = int(q.t, 'timeout');
      await d.containers.stop(id(req), { ...(t !== undefined ? { timeout: t } : {}), ...(q.signal ? { signal: q.signal } : {}) });
      reply.code(204);
    });

    app.post('/containers/:id/restart', { schema: { params: idParams } }, async (req, reply) => {
      await d.containers.restart(id(req), int((req.query as { t?: string }).t, 'timeout'));
      reply.code(204);
    });

    app.post('/containers/:id/kill', { schema: { params: idParams } }, async (req, reply) => {
      await d.containers.kill(id(req), (req.query as { signal?: string }).signal || 'SIGKILL');
      reply.code(204);
    });

    app.post('/containers/:id/pause', { schema: { params: idParams } }, async (req, reply) => {
      await d.containers.pause(id(req));
      reply.code(204);
    });

    app.post('/containers/:id/unpause', { schema: { params: idParams } }, async (req, reply) => {
      await d.containers.unpause(id(req));
      reply.code(204);
    });

    app.post('/containers/:id/rename', { schema: { params: idParams } }, async (req, reply) => {
      const name = (req.query as { name?: string }).name;
      if (!name) throw invalidParameter('name is required');
      await d.containers.rename(id(req), name);
      reply.code(204);
    });

    // Wait: answer the headers at once (the client knows the wait is registered), the body when done.
    app.post('/containers/:id/wait', { schema: { params: idParams } }, async (req, reply) => {
      const condition = ((req.query as { condition?: string }).condition || 'not-running') as WaitCondition;
      const abort = new AbortController();
      const result = d.containers.wait(id(req), condition, abort.signal);
      reply.hijack();
      const res = reply.raw;
      res.writeHead(200, { 'Content-Type': 'application/json', ...dockerHeaders() });
      res.flushHeaders();
      req.raw.socket.on('close', () => abort.abort());
      const r = await result;
      if (!res.writableEnded) res.end(JSON.stringify(r) + '\n');
    });

    app.delete('/containers/:id', { schema: { params: idParams } }, async (req, reply) => {
      const q = req.query as { force?: string; v?: string; link?: string };
      if (q.link === '1' || q.link === 'true') throw invalidParameter('berth does not support removing legacy links (link=1)');
      await d.containers.remove(id(req), { force: q.force === '1' || q.force === 'true' });
      reply.code(204);
    });

    app.get('/containers/:id/logs', { schema: { params: idParams } }, async (req, reply) => {
      const q = req.query as Record<string, string | undefined>;
      const on = (k: string) => q[k] === '1' || q[k] === 'true';
      if (!on('stdout') && !on('stderr')) throw invalidParameter('Bad parameters: you must choose at least one stream');
      const c = d.containers.get(id(req));
      let sinceNs: bigint | undefined;
      let untilNs: bigint | undefined;
      try {
        if (q.since && q.since !== '0') sinceNs = BigInt(Math.round(parseTimestamp(q.since)));
        if (q.until && q.until !== '0') untilNs = BigInt(Math.round(parseTimestamp(q.until)));
      } catch (e) {
        throw invalidParameter((e as Error).message);
      }
      const tail = q.tail === undefined || q.tail === 'all' || q.tail === '' ? undefined : int(q.tail, 'tail');
      const abort = new AbortController();
      const entries = d.containers.logs(c.id, {
        follow: on('follow') && c.state.status === 'running',
        ...(tail !== undefined && tail >= 0 ? { tail } : {}),
        ...(sinceNs !== undefined ? { sinceNs } : {}),
        ...(untilNs !== undefined ? { untilNs } : {}),
        stdout: on('stdout'),
        stderr: on('stderr'),
        signal: abort.signal,
      });
      reply.hijack();
      const res = reply.raw;
      const tty = c.config.Tty;
      res.writeHead(200, { 'Content-Type': tty ? RAW : MULTIPLEXED, ...dockerHeaders() });
      res.flushHeaders();
      const close = () => abort.abort();
      req.raw.socket.on('close', close);
      d.streams.add(close);
      try {
        for await (const e of entries) {
          const data = on('timestamps') ? Buffer.concat([Buffer.from(e.time + ' '), e.line]) : e.line;
          if (!res.write(tty ? data : frame(e.stream, data))) await new Promise((r) => res.once('drain', r));
        }
      } catch (err) {
        if (!abort.signal.aborted) d.log.warn({ err }, 'log stream failed');
      } finally {
        d.streams.delete(close);
        if (!res.writableEnded) res.end();
      }
    });

    // Attach: hijack the connection (101 when asked to upgrade) and pump stdio both ways.
    app.post('/containers/:id/attach', { schema: { params: idParams } }, async (req, reply) => {
      const q = req.query as Record<string, string | undefined>;
      const on = (k: string) => q[k] === '1' || q[k] === 'true';
      const c = d.containers.get(id(req));
      const tty = c.config.Tty;
      const wantStdin = on('stdin') && c.config.OpenStdin;
      const upgrade = /upgrade/i.test(String(req.headers.connection ?? '')) || Boolean(req.headers.upgrade);
      reply.hijack();
      const socket = req.raw.socket;
      // An upgraded socket has no listener of node's left: a client gone mid-write (EPIPE) must not crash berthd.
      socket.on('error', () => socket.destroy());
      hijackHead(socket, upgrade, tty ? RAW : MULTIPLEXED);
      if (on('logs')) {
        for await (const e of d.containers.logs(c.id, { stdout: on('stdout'), stderr: on('stderr') })) socket.write(tty ? e.line : frame(e.stream, e.line));
      }
      if (!on('stream')) {
        socket.end();
        return;
      }
      const session = await d.containers.attach(c.id, {
        ...(wantStdin ? { stdin: socket } : {}),
        onOutput: (stream, chunk) => {
          if ((stream === 'stdout' && !on('stdout')) || (stream === 'stderr' && !on('stderr'))) return;
          if (!socket.destroyed) socket.write(tty ? chunk : frame(stream, chunk));
        },
        onEnd: () => {
          if (!socket.destroyed) socket.end();
        },
      });
      const close = () => session.close();
      d.streams.add(close);
      socket.on('close', close);
      await session.ended;
      d.streams.delete(close);
    });

    app.post('/containers/:id/resize', { schema: { params: idParams } }, async (req, reply) => {
      const q = req.query as { h?: string; w?: string };
      const h = int(q.h, 'height') ?? 0;
      const w = int(q.w, 'width') ?? 0;
      await d.containers.resize(id(req), h, w);
      reply.code(200);
      return '';
    });

    app.post('/containers/prune', async (req) => {
      let filters: Record<string, string[]>;
      try {
        filters = parseFilters((req.query as { filters?: string }).filters);
      } catch (e) {
        throw invalidParameter(`invalid filters: ${(e as Error).message}`);
      }
      const deleted: string[] = [];
      for (const c of d.containers.list()) {
        if (c.state.status === 'running' || c.state.status === 'restarting') continue;
        if (!matchLabels(c.config.Labels, filters.label ?? [])) continue;
        await d.containers.remove(c.id, { force: false });
        deleted.push(c.id);
      }
      return { ContainersDeleted: deleted, SpaceReclaimed: 0 };
    });
  };
}

function matchContainer(c: ContainerRecord, f: Record<string, string[]>, d: Daemon): boolean {
  const any = (key: string, pred: (v: string) => boolean) => !f[key]?.length || f[key]!.some(pred);
  const ports = Object.values(c.endpoints).flatMap((e) => d.store.get('endpoint', e)?.ports ?? []);
  return (
    any('id', (v) => c.id.startsWith(v)) &&
    any('name', (v) => new RegExp(v).test(c.name)) &&
    any('status', (v) => wireStatus(c) === v) &&
    any('ancestor', (v) => c.image === v || c.imageId.startsWith(v.replace(/^sha256:/, '')) || c.image === `${v}:latest`) &&
    any('exited', (v) => c.state.status === 'exited' && String(c.state.exitCode) === v) &&
    any('network', (v) => {
      const n = d.networks.find(v);
      return Boolean(n && c.endpoints[n.id]);
    }) &&
    any('publish', (v) => {
      const [p, proto = 'tcp'] = v.split('/');
      return ports.some((b) => String(b.hostPort) === p && b.proto === proto);
    }) &&
    any('expose', (v) => Object.keys(c.config.ExposedPorts ?? {}).includes(v.includes('/') ? v : `${v}/tcp`)) &&
    matchLabels(c.config.Labels, f.label ?? [])
  );
}

export type { FastifyReply };
