// Docker endpoints berth lacks answer 501 with a message naming the docker command; /volumes answers
// as a dockerd with no volumes (so `docker inspect NAME` moves on to its next object type).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../../daemon/api/app.js';
import { UNSUPPORTED } from '../../../daemon/api/routes/unsupported.js';
import { unitDaemon } from '../../helpers/unit-daemon.js';

let app: FastifyInstance;
let cleanup: () => void;

beforeAll(async () => {
  const u = await unitDaemon();
  cleanup = u.cleanup;
  app = await buildApp(u.d);
});
afterAll(async () => {
  await app.close();
  cleanup();
});

describe('unsupported Docker endpoints', () => {
  it.each(UNSUPPORTED.flatMap(([methods, url, what]) => methods.map((m) => [m, url.replace(':id', 'box'), what] as const)))('%s %s → 501 naming %s', async (method, url, what) => {
    const r = await app.inject({ method, url: `/v1.50${url}` });
    expect(r.statusCode).toBe(501);
    expect(r.headers['api-version']).toBe('1.51');
    if (method !== 'HEAD') expect(r.json()).toEqual({ message: `berth does not support ${what}` });
  });

  it('an unknown path stays a JSON 404', async () => {
    const r = await app.inject({ method: 'POST', url: '/containers/box/frobnicate' });
    expect(r.statusCode).toBe(404);
    expect(r.json()).toEqual({ message: 'page not found' });
  });
});

describe('/volumes', () => {
  it('lists none, finds none, refuses to create, prunes nothing', async () => {
    expect((await app.inject({ url: '/volumes' })).json()).toEqual({ Volumes: [], Warnings: null });
    const one = await app.inject({ url: '/volumes/data' });
    expect(one.statusCode).toBe(404);
    expect(one.json()).toEqual({ message: 'get data: no such volume' });
    expect((await app.inject({ method: 'DELETE', url: '/volumes/data' })).statusCode).toBe(404);
    const c = await app.inject({ method: 'POST', url: '/volumes/create', payload: { Name: 'v' } });
    expect(c.statusCode).toBe(501);
    expect(c.json()).toEqual({ message: 'berth does not support volumes yet' });
    expect((await app.inject({ method: 'POST', url: '/volumes/prune' })).json()).toEqual({ VolumesDeleted: null, SpaceReclaimed: 0 });
  });
});
