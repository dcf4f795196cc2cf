// GET /containers/{id}/changes (docker diff) and POST /commit (docker commit), as dockerd 28
// answers them. The logic is in daemon/images/commit.ts.
import type { FastifyInstance, FastifyPluginAsync } from 'fastify';
import type { Daemon } from '../../daemon.js';
import { commitContainer, containerChanges } from '../../images/commit.js';

type Query = Record<string, string | string[] | undefined>;
const one = (v: string | string[] | undefined) => (Array.isArray(v) ? v.at(-1) : v) || undefined;
const list = (v: string | string[] | undefined) => (v === undefined ? [] : Array.isArray(v) ? v : [v]);
const idParams = { type: 'object', required: ['id'], properties: { id: { type: 'string', minLength: 1 } } } as const;

export function commitRoutes(d: Daemon): FastifyPluginAsync {
  return async (app: FastifyInstance) => {
    app.get('/containers/:id/changes', { schema: { params: idParams } }, async (req) => containerChanges(d, (req.params as { id: string }).id));

    app.post('/commit', async (req, reply) => {
      const q = req.query as Query;
      const Id = await commitContainer(d, {
        container: one(q.container) ?? '',
        repo: one(q.repo),
        tag: one(q.tag),
        comment: one(q.comment),
        author: one(q.author),
        changes: list(q.changes),
        config: req.body,
      });
      return reply.code(201).send({ Id });
    });
  };
}
