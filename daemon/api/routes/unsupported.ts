// Docker endpoints berth does not implement, answered 501 with a message naming the docker command,
// so that `docker update` says what is missing instead of "page not found" (unknown paths stay 404).
// A route that gets implemented moves out of this table.
import type { FastifyInstance, FastifyPluginAsync, HTTPMethods } from 'fastify';
import { notImplemented } from '../../../drivers/errors.js';

export const UNSUPPORTED: [HTTPMethods[], string, string][] = [
  [['POST'], '/containers/:id/update', 'changing the resources of a container (docker update)'],
  [['POST'], '/build', 'building images (docker build)'],
  [['POST'], '/build/prune', 'a build cache (docker builder prune)'],
  [['GET'], '/system/df', 'disk usage reports (docker system df)'],
];

export function unsupportedRoutes(): FastifyPluginAsync {
  return async (app: FastifyInstance) => {
    for (const [methods, url, what] of UNSUPPORTED) {
      app.route({
        method: methods,
        url,
        handler: async () => {
          throw notImplemented(`berth does not support ${what}`);
        },
      });
    }
  };
}
