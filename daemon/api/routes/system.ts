// System endpoints: _ping, version, info, events, berth's job trace, and the swarm endpoints that
// answer as a dockerd that is not part of a swarm.
import os from 'node:os';
import type { FastifyInstance, FastifyPluginAsync } from 'fastify';
import type { Daemon } from '../../daemon.js';
import { invalidParameter, unavailable } from '../../../drivers/errors.js';
import { matchEvent, parseFilters, parseTimestamp, type BerthEvent } from '../../events.js';
import { API_VERSION, MIN_API_VERSION } from '../version.js';
import { dockerHeaders, VERSION } from '../app.js';

export function systemRoutes(d: Daemon): FastifyPluginAsync {
  return async (app: FastifyInstance) => {
    const ping = async (_req: unknown, reply: import('fastify').FastifyReply) => {
      reply
        .header('Cache-Control', 'no-cache, no-store, must-revalidate')
        .header('Pragma', 'no-cache')
        .header('Swarm', 'inactive')
        .header('Builder-Version', '')
        .type('text/plain; charset=utf-8');
      return 'OK';
    };
    app.get('/_ping', ping);

    app.get('/version', async () => versionInfo());

    app.get('/info', async () => d.info());

    app.get(
      '/berth/jobs',
      {
        schema: {
          querystring: {
            type: 'object',
            properties: { limit: { type: 'string', pattern: '^([1-9][0-9]?|[1-4][0-9]{2}|500)$' }, all: { type: 'string', enum: ['0', '1', 'true', 'false'] } },
          },
        },
      },
      async (req) => {
        const q = req.query as { limit?: string; all?: string };
        return d.engine.recent({ limit: Number(q.limit ?? 50), topLevel: !(q.all === '1' || q.all === 'true') });
      },
    );

    app.get('/events', async (req, reply) => {
      const q = req.query as { since?: string; until?: string; filters?: string };
      let filters: Record<string, string[]>;
      let since: number | undefined;
      let until: number | undefined;
      try {
        filters = parseFilters(q.filters);
        since = q.since ? parseTimestamp(q.since) : undefined;
        until = q.until ? parseTimestamp(q.until) : undefined;
      } catch (e) {
        throw invalidParameter((e as Error).message);
      }
      reply.hijack();
      const res = reply.raw;
      res.writeHead(200, { 'Content-Type': 'application/json', ...dockerHeaders() });
      const write = (e: BerthEvent) => {
        if (matchEvent(e, filters)) res.write(JSON.stringify(e) + '\n');
      };
      const nowNs = Date.now() * 1e6;
      if (since !== undefined) for (const e of d.events.since(since)) if (until === undefined || e.timeNano <= until) write(e);
      if (until !== undefined && until <= nowNs) {
        res.end();
        return;
      }
      const unsubscribe = d.events.subscribe((e) => {
        if (until !== undefined && e.timeNano > until) return finish();
        write(e);
      });
      const timer = until !== undefined ? setTimeout(finish, (until - nowNs) / 1e6) : undefined;
      const onClose = () => finish();
      d.streams.add(onClose);
      function finish() {
        unsubscribe();
        if (timer) clearTimeout(timer);
        d.streams.delete(onClose);
        if (!res.writableEnded) res.end();
      }
      req.raw.on('close', finish);
      res.flushHeaders();
    });

    // Answer as a dockerd outside a swarm: clients read 503 (and 406) as "no swarm".
    const noSwarm = async () => {
      throw unavailable('This node is not part of a swarm');
    };
    for (const p of ['/swarm', '/nodes', '/services', '/tasks', '/secrets', '/configs']) {
      app.all(p, noSwarm);
      app.all(`${p}/*`, noSwarm);
    }
  };

  function versionInfo() {
    const kernel = os.release();
    const arch = goArch(process.arch);
    return {
      Platform: { Name: 'Berth Engine' },
      Components: [
        {
          Name: 'Engine',
          Version: VERSION,
          Details: {
            ApiVersion: API_VERSION,
            MinAPIVersion: MIN_API_VERSION,
            Arch: arch,
            Os: 'linux',
            KernelVersion: kernel,
            GitCommit: d.gitCommit,
            GoVersion: `node ${process.version}`,
            Experimental: 'false',
          },
        },
      ],
      Version: VERSION,
      ApiVersion: API_VERSION,
      MinAPIVersion: MIN_API_VERSION,
      GitCommit: d.gitCommit,
      GoVersion: `node ${process.version}`,
      Os: 'linux',
      Arch: arch,
      KernelVersion: kernel,
      BuildTime: d.startedAt.toISOString(),
    };
  }
}

export function goArch(a: string): string {
  return ({ x64: 'amd64', arm64: 'arm64', arm: 'arm', ia32: '386', ppc64: 'ppc64le', s390x: 's390x' } as Record<string, string>)[a] ?? a;
}
