// The HTTP API: a fastify instance in Docker Engine API shape, with no container logic of its own.
// It strips the version prefix, validates bodies by schema before any handler runs, maps every
// error to a status in ONE place (errors.ts) and puts Docker's headers on every response.
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { Daemon } from '../daemon.js';
import { toHttpError } from './errors.js';
import { API_VERSION, splitVersion, versionError } from './version.js';
import { systemRoutes } from './routes/system.js';
import { imageRoutes } from './routes/images.js';
import { networkRoutes } from './routes/networks.js';
import { checkRoutes } from './routes/check.js';
import { containerRoutes } from './routes/containers.js';
import { execRoutes } from './routes/exec.js';
import { statsRoutes } from './routes/stats.js';
import { volumeRoutes } from './routes/volumes.js';
import { unsupportedRoutes } from './routes/unsupported.js';
import { archiveRoutes } from './routes/archive.js';
import { commitRoutes } from './routes/commit.js';
import { isUpgraded, upgradeBodyStream } from './upgrade-body.js';

export const BODY_LIMIT = 4 * 1024 * 1024;

declare module 'fastify' {
  interface FastifyRequest {
    /** The API version the client asked for in the path, or the daemon's own. */
    apiVersion: string;
  }
}

const VERSION_KEY = Symbol('berth.apiVersion');
type VersionedRaw = { [VERSION_KEY]?: string };

export interface AppOptions {
  /** Log each request at debug level. */
  logRequests?: boolean;
}

export async function buildApp(daemon: Daemon, _opts: AppOptions = {}): Promise<FastifyInstance> {
  const app = Fastify({
    logger: false,
    bodyLimit: BODY_LIMIT,
    return503OnClosing: true,
    // Docker clients use both /v1.51/x and /x. Route on the bare path; remember the version.
    rewriteUrl(req) {
      const { url, version } = splitVersion(req.url ?? '/');
      if (version) (req as VersionedRaw)[VERSION_KEY] = version;
      return url;
    },
    // No coercion: a body that says 7 where a string belongs is a bad request, not "7".
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false, useDefaults: true, allErrors: false } },
    // A URL fastify cannot route (bad percent-encoding, a too long parameter): Docker's error shape and headers.
    frameworkErrors(err, _req, reply) {
      reply.raw.writeHead(400, { 'Content-Type': 'application/json', ...dockerHeaders() });
      reply.raw.end(JSON.stringify({ message: err.message }));
    },
  });

  app.decorateRequest('apiVersion', '');
  app.addHook('onRequest', async (req) => {
    const v = (req.raw as VersionedRaw)[VERSION_KEY];
    if (v) {
      const err = versionError(v);
      if (err) throw Object.assign(new Error(err), { statusCode: 400, code: 'BERTH_API_VERSION' });
    }
    req.apiVersion = v ?? API_VERSION;
  });

  // An upgraded request's body is still in its socket (node gives no body stream): parsers read it there.
  app.addHook('preParsing', async (req, _reply, payload) => (isUpgraded(req.raw) ? upgradeBodyStream(req.raw, BODY_LIMIT) : payload));

  // JSON bodies may be empty (docker sends Content-Type: application/json on bodiless POSTs).
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_req, body, done) => {
    const text = String(body);
    if (text.trim() === '') return done(null, undefined);
    try {
      done(null, JSON.parse(text));
    } catch (e) {
      done(Object.assign(new Error(`invalid JSON: ${(e as Error).message}`), { statusCode: 400 }), undefined);
    }
  });
  // Anything else (tar archives for load/import, plain text) stays an unread stream on request.raw.
  app.addContentTypeParser('*', (_req, _payload, done) => done(null, undefined));

  app.addHook('onSend', async (_req, reply, payload) => {
    setDockerHeaders(reply);
    return payload;
  });

  app.setErrorHandler((err, _req, reply) => {
    const { status, message } = toHttpError(err);
    if (status >= 500) daemon.log.error({ err }, 'request failed');
    if (status === 304) return reply.code(304).send();
    // Exactly "application/json": docker's client reads the message only then (no charset).
    return reply.code(status).header('content-type', 'application/json').send(Buffer.from(JSON.stringify({ message })));
  });
  app.setNotFoundHandler((_req, reply) => {
    reply.code(404).header('content-type', 'application/json').send(Buffer.from(JSON.stringify({ message: 'page not found' })));
  });

  await app.register(systemRoutes(daemon));
  await app.register(imageRoutes(daemon));
  await app.register(networkRoutes(daemon));
  await app.register(checkRoutes(daemon));
  await app.register(containerRoutes(daemon));
  await app.register(execRoutes(daemon));
  await app.register(statsRoutes(daemon));
  await app.register(volumeRoutes());
  await app.register(archiveRoutes(daemon));
  await app.register(commitRoutes(daemon));
  await app.register(unsupportedRoutes());
  return app;
}

/** Docker's headers, on every response (including hijacked and streamed ones). */
export function dockerHeaders(): Record<string, string> {
  return {
    'Api-Version': API_VERSION,
    'Docker-Experimental': 'false',
    Ostype: 'linux',
    Server: `Berth/${VERSION} (linux)`,
  };
}

export function setDockerHeaders(reply: FastifyReply): void {
  for (const [k, v] of Object.entries(dockerHeaders())) reply.header(k, v);
}

export const VERSION = '0.1.0';

export type { FastifyInstance, FastifyReply, FastifyRequest };
