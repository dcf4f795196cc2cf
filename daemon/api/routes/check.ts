// berth's own endpoint for `berth system check`: GET reports the drift between the records and the
// kernel; POST with repair=1 fixes it and reports what it fixed.
import type { FastifyInstance, FastifyPluginAsync } from 'fastify';
import type { Daemon } from '../../daemon.js';
import { systemCheck } from '../../check.js';

export function checkRoutes(d: Daemon): FastifyPluginAsync {
  return async (app: FastifyInstance) => {
    app.get('/berth/check', async () => systemCheck(d, { repair: false }));
    app.post(
      '/berth/check',
      { schema: { querystring: { type: 'object', properties: { repair: { type: 'string', enum: ['0', '1', 'true', 'false'] } } } } },
      async (req) => {
        const q = req.query as { repair?: string };
        return systemCheck(d, { repair: q.repair === '1' || q.repair === 'true' });
      },
    );
  };
}
