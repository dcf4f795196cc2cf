// Bad requests get a clear error with the right status and change nothing.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { buildApp, BODY_LIMIT } from '../../../daemon/api/app.js';
import { unitDaemon } from '../../helpers/unit-daemon.js';
import type { Daemon } from '../../../daemon/daemon.js';

let app: FastifyInstance;
let d: Daemon;
let cleanup: () => void;

beforeAll(async () => {
  ({ d, cleanup } = await unitDaemon());
  app = await buildApp(d);
});
afterAll(async () => {
  await app.close();
  cleanup();
});

const post = (url: string, payload: string, headers: Record<string, string> = { 'content-type': 'application/json' }) =>
  app.inject({ method: 'POST', url, payload, headers });

describe('bad bodies', () => {
  it('answers malformed JSON with 400 and a message, and makes nothing', async () => {
    const r = await post('/v1.51/networks/create', '{"Name": "n1",');
    expect(r.statusCode).toBe(400);
    expect(r.headers['content-type']).toBe('application/json');
    expect(r.json().message).toMatch(/invalid JSON/);
    expect(d.store.list('network')).toEqual([]);
    expect(d.engine.recent()).toEqual([]);
  });

  it('answers a body that breaks the schema with 400 before any handler runs', async () => {
    for (const body of [{}, { Name: 7 }, { Name: 'n1', Internal: 'yes' }, { Name: 'n1', IPAM: { Config: [{ Subnet: 5 }] } }]) {
      const r = await post('/networks/create', JSON.stringify(body));
      expect(r.statusCode, JSON.stringify(body)).toBe(400);
      expect(typeof r.json().message).toBe('string');
    }
    const c = await post('/containers/create', JSON.stringify({ Image: 'busybox', Cmd: 'not-an-array' }));
    expect(c.statusCode).toBe(400);
    expect(d.store.list('network')).toEqual([]);
    expect(d.store.list('container')).toEqual([]);
    expect(d.engine.recent()).toEqual([]);
  });

  it('refuses an oversized body with 413', async () => {
    const big = JSON.stringify({ Name: 'n1', Labels: { x: 'y'.repeat(BODY_LIMIT) } });
    const r = await post('/networks/create', big);
    expect(r.statusCode).toBe(413);
    expect(r.json()).toEqual({ message: 'request body is too large' });
    expect(d.store.list('network')).toEqual([]);
  });

  it('answers a missing object with 404 in JSON', async () => {
    for (const url of ['/containers/nope/json', '/networks/nope', '/images/nope/json']) {
      const r = await app.inject({ url });
      expect(r.statusCode, url).toBe(404);
      expect(r.headers['content-type']).toBe('application/json');
    }
    expect((await app.inject({ url: '/containers/nope/json' })).json()).toEqual({ message: 'No such container: nope' });
  });
});
