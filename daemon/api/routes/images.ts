// /images endpoints in Docker Engine API shape: list, inspect, history, import (create?fromSrc),
// load, save (get), tag, remove, prune. Image names may hold slashes, so /images/<name>/<verb> is
// routed by a wildcard and split here. Bodies of import and load are tar streams read from the
// raw request. All logic is in daemon/images/service.ts.
import type { FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import type { Daemon } from '../../daemon.js';
import { invalidParameter, notFound, notImplemented } from '../../../drivers/errors.js';
import { parseFilters } from '../../events.js';
import { toInspect, toSummary } from '../../images/wire.js';

type Query = Record<string, string | string[] | undefined>;

function list(v: string | string[] | undefined): string[] {
  if (v === undefined) return [];
  return Array.isArray(v) ? v : [v];
}

function one(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v.at(-1) : v;
}

function bool(v: string | string[] | undefined): boolean {
  const s = one(v);
  return s !== undefined && ['1', 'true', 'True', 'yes'].includes(s);
}

function filtersOf(q: Query): Record<string, string[]> {
  try {
    return parseFilters(one(q.filters));
  } catch (e) {
    throw invalidParameter(`invalid filters: ${(e as Error).message}`);
  }
}

/** "/images/<name>/<verb>": the name (which may hold slashes) and the verb. */
function splitNameVerb(wild: string, verbs: string[]): { name: string; verb: string | undefined } {
  const w = wild.includes('%') ? decodeURIComponent(wild) : wild;
  for (const v of verbs) if (w.endsWith(`/${v}`)) return { name: w.slice(0, -(v.length + 1)), verb: v };
  return { name: w, verb: undefined };
}

/** A JSON-lines answer typed exactly "application/json" (docker's CLI renders it as progress only
 *  then; fastify would add a charset to a string body). */
function jsonStream(reply: FastifyReply, messages: object[]): FastifyReply {
  return reply.header('Content-Type', 'application/json').send(Buffer.from(messages.map((m) => JSON.stringify(m) + '\n').join('')));
}

export function imageRoutes(d: Daemon): FastifyPluginAsync {
  const images = d.images;
  return async (app: FastifyInstance) => {
    // Tar bodies stay unread streams here. Docker's client labels a body without a type
    // text/plain (docker import), which fastify would otherwise read into a string.
    app.removeContentTypeParser('text/plain');
    app.addContentTypeParser('text/plain', (_req, _payload, done) => done(null, undefined));
    app.get('/images/json', async (req) => {
      const q = req.query as Query;
      const filters = filtersOf(q);
      for (const f of list(q.filter)) (filters.reference ??= []).push(f); // API < 1.41's `filter`
      return images.filter(filters).map((r) => toSummary(r, req.apiVersion));
    });

    app.get('/images/get', async (req, reply) => {
      const names = list((req.query as Query).names);
      const tar = await images.save(names);
      return reply.type('application/x-tar').send(tar);
    });

    app.post('/images/create', async (req, reply) => {
      const q = req.query as Query;
      const fromSrc = one(q.fromSrc);
      if (one(q.fromImage)) throw notImplemented('pulling images from a registry is not supported yet: use `berth load` or `berth import`');
      if (fromSrc === undefined) throw invalidParameter('fromSrc or fromImage is required');
      if (fromSrc !== '-') throw notImplemented('importing from a URL is not supported: download it and import the file');
      const rec = await images.importImage(req.raw, {
        repo: one(q.repo) || undefined,
        tag: one(q.tag) || undefined,
        changes: list(q.changes),
        message: one(q.message) || undefined,
        source: '-',
      });
      return jsonStream(reply, [{ status: `sha256:${rec.id}` }]);
    });

    app.post('/images/load', async (req, reply) => {
      // `quiet` only hides progress, which berth does not send: the "Loaded image" lines stay.
      const lines = await images.load(req.raw);
      return jsonStream(reply, lines.map((l) => ({ stream: `${l}\n` })));
    });

    app.post('/images/prune', async (req) => images.prune(filtersOf(req.query as Query)));

    app.get('/images/search', async () => {
      throw notImplemented('searching a registry is not supported');
    });

    app.get('/images/*', async (req: FastifyRequest, reply) => {
      const { name, verb } = splitNameVerb((req.params as { '*': string })['*'], ['json', 'get', 'history']);
      if (verb === undefined) throw notFound('page not found');
      const img = images.resolve(name);
      if (verb === 'json') {
        const cfg = await images.configBlob(img).catch(() => undefined);
        return toInspect(img, images.driver, {
          ...(cfg?.author ? { author: cfg.author } : {}),
          ...(cfg?.docker_version ? { dockerVersion: cfg.docker_version } : {}),
          ...(cfg?.variant ? { variant: cfg.variant } : {}),
        });
      }
      if (verb === 'get') return reply.type('application/x-tar').send(await images.save([name]));
      const cfg = await images.configBlob(img);
      const hist = (cfg.history ?? []).map((h) => ({
        Id: '<missing>',
        Created: h.created ? Math.floor(Date.parse(h.created) / 1000) : 0,
        CreatedBy: h.created_by ?? '',
        Tags: null as string[] | null,
        Size: 0,
        Comment: h.comment ?? '',
      }));
      const top = hist.at(-1);
      if (top) {
        top.Id = `sha256:${img.id}`;
        top.Tags = img.repoTags.length ? img.repoTags : null;
        top.Size = img.size;
      }
      return hist.reverse();
    });

    app.post('/images/*', async (req, reply) => {
      const { name, verb } = splitNameVerb((req.params as { '*': string })['*'], ['tag', 'push']);
      if (verb === 'push') throw notImplemented('pushing images to a registry is not supported yet');
      if (verb !== 'tag') throw notFound('page not found');
      const q = req.query as Query;
      await images.tag(name, one(q.repo) ?? '', one(q.tag) || undefined);
      return reply.code(201).send();
    });

    app.delete('/images/*', async (req) => {
      const { name } = splitNameVerb((req.params as { '*': string })['*'], []);
      const q = req.query as Query;
      return images.remove(name, { force: bool(q.force), prune: !bool(q.noprune) });
    });
  };
}

