// /containers/{id}/archive (docker cp): HEAD stats a path, GET streams it as a tar, PUT extracts a
// tar into a directory; /containers/{id}/export (docker export) streams the root filesystem. The
// stat travels in X-Docker-Container-Path-Stat (base64 JSON), as dockerd's.
import { pipeline } from 'node:stream/promises';
import type { FastifyInstance, FastifyPluginAsync, FastifyRequest } from 'fastify';
import type { Daemon } from '../../daemon.js';
import { invalidParameter } from '../../../drivers/errors.js';
import { ContainerArchive, statHeader } from '../../containers/archive.js';
import { dockerHeaders } from '../app.js';

const STAT_HEADER = 'X-Docker-Container-Path-Stat';
const idParams = { type: 'object', required: ['id'], properties: { id: { type: 'string', minLength: 1 } } } as const;

export function archiveRoutes(d: Daemon): FastifyPluginAsync {
  const archive = new ContainerArchive(d);
  const args = (req: FastifyRequest) => {
    const q = req.query as { path?: string };
    if (!q.path) throw invalidParameter('bad parameter: path cannot be empty');
    return { id: (req.params as { id: string }).id, path: q.path, q: req.query as Record<string, string | undefined> };
  };
  const on = (v: string | undefined) => v === '1' || v === 'true';

  return async (app: FastifyInstance) => {
    // The tar stays an unread stream on request.raw, whatever the type (docker cp sends text/plain).
    app.removeContentTypeParser('text/plain');
    app.addContentTypeParser('text/plain', (_req, _payload, done) => done(null, undefined));
    app.head('/containers/:id/archive', { schema: { params: idParams } }, async (req, reply) => {
      const { id, path } = args(req);
      const stat = await archive.stat(id, path);
      reply.header(STAT_HEADER, statHeader(stat)).code(200).send();
    });

    app.get('/containers/:id/archive', { schema: { params: idParams }, exposeHeadRoute: false }, async (req, reply) => {
      const { id, path } = args(req);
      await archive.get(id, path, async (stat, tar) => {
        reply.hijack();
        const res = reply.raw;
        res.writeHead(200, { 'Content-Type': 'application/x-tar', [STAT_HEADER]: statHeader(stat), ...dockerHeaders() });
        try {
          await pipeline(tar, res);
        } catch (err) {
          // the headers are out: a broken tar is all the client can be told
          if (!res.destroyed) res.destroy();
          d.log.warn({ err, id, path }, 'archive stream failed');
        }
      });
    });

    app.get('/containers/:id/export', { schema: { params: idParams } }, async (req, reply) => {
      const id = (req.params as { id: string }).id;
      await archive.export(id, async (tar) => {
        reply.hijack();
        const res = reply.raw;
        res.writeHead(200, { 'Content-Type': 'application/x-tar', ...dockerHeaders() });
        try {
          await pipeline(tar, res);
        } catch (err) {
          if (!res.destroyed) res.destroy();
          d.log.warn({ err, id }, 'export stream failed');
        }
      });
    });

    app.put('/containers/:id/archive', { schema: { params: idParams } }, async (req, reply) => {
      const { id, path, q } = args(req);
      await archive.put(id, path, req.raw, { noOverwriteDirNonDir: on(q.noOverwriteDirNonDir), copyUIDGID: on(q.copyUIDGID) });
      reply.code(200).send();
    });
  };
}
