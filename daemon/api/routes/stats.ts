// GET /containers/{id}/stats (one JSON document per second with stream=true; one primed document
// with stream=false; an unprimed one at once with one-shot=true) and GET /containers/{id}/top, in
// Docker's shapes. A container that is not running gives zeros, as dockerd.
import type { FastifyInstance, FastifyPluginAsync, FastifyRequest } from 'fastify';
import type { Daemon } from '../../daemon.js';
import { conflict, invalidParameter } from '../../../drivers/errors.js';
import type { ContainerRecord } from '../../containers/types.js';
import { emptySample, hostStatsEnv, sample, statsJson, type Sample, type StatsEnv } from '../../containers/stats.js';
import { checkPsArgs, hostTopEnv, top, type TopEnv } from '../../containers/top.js';
import { dockerHeaders } from '../app.js';

const idParams = { type: 'object', required: ['id'], properties: { id: { type: 'string', minLength: 1 } } } as const;

/** dockerd's collector interval. */
export const STATS_INTERVAL_MS = 1000;

export interface StatsRouteOptions {
  stats?: StatsEnv;
  top?: TopEnv;
  intervalMs?: number;
}

export function statsRoutes(d: Daemon, opts: StatsRouteOptions = {}): FastifyPluginAsync {
  const env = opts.stats ?? hostStatsEnv();
  const topEnv = opts.top ?? hostTopEnv(env.read);
  const interval = opts.intervalMs ?? STATS_INTERVAL_MS;
  const bool = (v: string | undefined, dflt: boolean, what: string): boolean => {
    if (v === undefined || v === '') return dflt;
    if (v === '1' || v === 'true' || v === 'True') return true;
    if (v === '0' || v === 'false' || v === 'False') return false;
    throw invalidParameter(`invalid value for ${what}: ${v}`);
  };
  const take = async (c: ContainerRecord | undefined): Promise<Sample> =>
    c && c.state.status === 'running' && c.state.pid > 0 ? sample(env, c.state.pid, c.netns?.kind !== 'host') : emptySample();

  return async (app: FastifyInstance) => {
    const id = (req: FastifyRequest) => (req.params as { id: string }).id;

    app.get('/containers/:id/stats', { schema: { params: idParams } }, async (req, reply) => {
      const q = req.query as { stream?: string; 'one-shot'?: string };
      const stream = bool(q.stream, true, 'stream');
      const oneShot = bool(q['one-shot'], false, 'one-shot');
      if (oneShot && stream) throw invalidParameter('cannot have stream=true and one-shot=true');
      const c0 = d.containers.get(id(req));
      const name = c0.name;
      const cid = c0.id;

      if (!stream) {
        if (c0.state.status !== 'running') return statsJson(name, cid, emptySample(), undefined);
        const first = await take(c0);
        if (oneShot) return statsJson(name, cid, first, undefined);
        await sleep(interval); // prime the CPU numbers with a second sample, as dockerd
        return statsJson(name, cid, await take(d.containers.find(cid)), first);
      }

      reply.hijack();
      const res = reply.raw;
      res.writeHead(200, { 'Content-Type': 'application/json', ...dockerHeaders() });
      res.flushHeaders();
      let stopped = false;
      let timer: NodeJS.Timeout | undefined;
      let wake: () => void = () => {};
      const stop = () => {
        stopped = true;
        if (timer) clearTimeout(timer);
        wake();
      };
      req.raw.socket.on('close', stop);
      d.streams.add(stop);
      try {
        let prev: Sample | undefined;
        while (!stopped) {
          const c = d.containers.find(cid);
          if (!c) break; // removed
          const cur = await take(c);
          const doc = c.state.status === 'running' ? statsJson(name, cid, cur, prev) : statsJson(c.name, cid, emptySample(), undefined);
          prev = c.state.status === 'running' ? cur : undefined;
          if (!res.write(JSON.stringify(doc) + '\n')) await new Promise<void>((r) => res.once('drain', () => r()));
          await new Promise<void>((r) => {
            wake = r;
            timer = setTimeout(r, interval);
          });
        }
      } catch (err) {
        if (!stopped) d.log.warn({ err, container: cid }, 'stats stream failed');
      } finally {
        d.streams.delete(stop);
        if (!res.writableEnded) res.end();
      }
    });

    app.get('/containers/:id/top', { schema: { params: idParams } }, async (req) => {
      const c = d.containers.get(id(req));
      checkPsArgs((req.query as { ps_args?: string }).ps_args);
      if (c.state.status !== 'running' || c.state.pid <= 0) throw conflict(`container ${c.id} is not running`);
      return top(topEnv, c.state.pid);
    });
  };
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
