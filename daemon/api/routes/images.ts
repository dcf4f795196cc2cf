// /images endpoints in Docker Engine API shape: list, inspect, history, import (create?fromSrc),
// pull (create?fromImage), push, load, save (get), tag, remove, prune, and POST /auth. Image names
// may hold slashes, so /images/<name>/<verb> is routed by a wildcard and split here. Bodies of
// import and load are tar streams read from the raw request; pull and push answer with a stream of
// JSON progress messages. All logic is in daemon/images/service.ts.
import { PassThrough } from 'node:stream';
import type { FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import type { Daemon } from '../../daemon.js';
import { invalidParameter, notFound, notImplemented } from '../../../drivers/errors.js';
import { parseFilters } from '../../events.js';
import { matchingNames, toInspect, toSummary } from '../../images/wire.js';
import { decodeRegistryAuth } from '../../images/registry/auth.js';
import { errorMessage, type JsonMessage, type ProgressSink } from '../../images/registry/progress.js';
import { toHttpError } from '../errors.js';

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

/**
 * Answer with the JSON progress stream of `work`, as dockerd does: an error before the first
 * message is a plain HTTP error (status and {message}); after it, an {errorDetail} line ends the
 * stream. A client that goes away cancels the work.
 */
async function progressStream(req: FastifyRequest, reply: FastifyReply, work: (progress: ProgressSink, signal: AbortSignal) => Promise<unknown>): Promise<FastifyReply> {
  const ac = new AbortController();
  reply.raw.on('close', () => {
    if (!reply.raw.writableFinished) ac.abort(new Error('the client went away: cancelled'));
  });
  const out = new PassThrough();
  let opened: () => void = () => {};
  const first = new Promise<'open'>((r) => (opened = () => r('open')));
  const progress = (m: JsonMessage) => {
    opened();
    out.write(JSON.stringify(m) + '\n');
  };
  const task = work(progress, ac.signal);
  await Promise.race([first, task.then(() => 'done' as const)]);
  task.then(
    () => out.end(),
    (e: unknown) => {
      const { message } = toHttpError(e);
      req.log.debug({ err: e }, 'progress stream ended by an error');
      out.end(JSON.stringify(errorMessage(message)) + '\n');
    },
  );
  return reply.header('Content-Type', 'application/json').send(out);
}

function registryAuth(req: FastifyRequest) {
  const h = req.headers['x-registry-auth'];
  return decodeRegistryAuth(Array.isArray(h) ? h[0] : h);
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
      return images.filter(filters).map((r) => toSummary(matchingNames(r, filters.reference), req.apiVersion));
    });

    app.get('/images/get', async (req, reply) => {
      const names = list((req.query as Query).names);
      const tar = await images.save(names);
      return reply.type('application/x-tar').send(tar);
    });

    app.post('/images/create', async (req, reply) => {
      const q = req.query as Query;
      const fromSrc = one(q.fromSrc);
      const fromImage = one(q.fromImage);
      if (fromImage) {
        const creds = registryAuth(req);
        const tag = one(q.tag) || undefined;
        const platform = one(q.platform) || undefined;
        return progressStream(req, reply, (progress, signal) => images.pull(fromImage, { tag, platform, creds, signal, progress }));
      }
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

    // docker login: the daemon checks the credentials with the registry; the client keeps them.
    app.post('/auth', async (req, reply) => {
      const body = req.body;
      if (!body || typeof body !== 'object' || Array.isArray(body)) throw invalidParameter('the body must be a JSON object with username, password and serveraddress');
      const ac = new AbortController();
      reply.raw.on('close', () => {
        if (!reply.raw.writableFinished) ac.abort(new Error('the client went away'));
      });
      return images.login(body as Record<string, unknown>, ac.signal);
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
      const q = req.query as Query;
      if (verb === 'push') {
        const creds = registryAuth(req);
        const tag = one(q.tag) || undefined;
        return progressStream(req, reply, (progress, signal) => images.push(name, { tag, creds, signal, progress }));
      }
      if (verb !== 'tag') throw notFound('page not found');
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

