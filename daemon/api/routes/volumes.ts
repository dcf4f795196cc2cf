// /volumes as a dockerd with no volumes answers: berth has none yet. Listing and pruning are
// empty, a named volume is not found (so `docker inspect NAME` goes on to its next object type),
// creating one is refused with a clear message.
import type { FastifyInstance, FastifyPluginAsync, FastifyRequest } from 'fastify';
import { notFound, notImplemented } from '../../../drivers/errors.js';

export function volumeRoutes(): FastifyPluginAsync {
  return async (app: FastifyInstance) => {
    const name = (req: FastifyRequest) => (req.params as { name: string }).name;
    app.get('/volumes', async () => ({ Volumes: [], Warnings: null }));
    app.post('/volumes/create', async () => {
      throw notImplemented('berth does not support volumes yet');
    });
    app.post('/volumes/prune', async () => ({ VolumesDeleted: null, SpaceReclaimed: 0 }));
    app.get('/volumes/:name', async (req) => {
      throw notFound(`get ${name(req)}: no such volume`);
    });
    app.put('/volumes/:name', async (req) => {
      throw notFound(`get ${name(req)}: no such volume`);
    });
    app.delete('/volumes/:name', async (req) => {
      throw notFound(`get ${name(req)}: no such volume`);
    });
  };
}
