import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../../daemon/api/app.js';
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

describe('/_ping', () => {
  it.each(['GET', 'HEAD'] as const)('%s answers OK with Docker headers', async (method) => {
    const r = await app.inject({ method, url: '/_ping' });
    expect(r.statusCode).toBe(200);
    expect(r.headers['api-version']).toBe('1.51');
    expect(r.headers['ostype']).toBe('linux');
    expect(r.headers['server']).toMatch(/^Berth\/\S+ \(linux\)$/);
    if (method === 'GET') expect(r.body).toBe('OK');
  });
});

describe('API versions in the path', () => {
  it.each(['/v1.24/version', '/v1.41/version', '/v1.51/version', '/version'])('serves %s', async (url) => {
    const r = await app.inject({ url });
    expect(r.statusCode).toBe(200);
    expect(r.json()).toMatchObject({ ApiVersion: '1.51', MinAPIVersion: '1.24', Os: 'linux' });
  });

  it('refuses a newer version with docker wording', async () => {
    const r = await app.inject({ url: '/v1.52/_ping' });
    expect(r.statusCode).toBe(400);
    expect(r.json()).toEqual({ message: 'client version 1.52 is too new. Maximum supported API version is 1.51' });
    expect(r.headers['api-version']).toBe('1.51');
  });

  it('refuses an older one', async () => {
    const r = await app.inject({ url: '/v1.12/info' });
    expect(r.statusCode).toBe(400);
    expect(r.json().message).toMatch(/^client version 1.12 is too old. Minimum supported API version is 1.24/);
  });
});

describe('errors', () => {
  it('answers an unknown endpoint with 404 and a JSON message', async () => {
    const r = await app.inject({ url: '/v1.51/no/such/thing' });
    expect(r.statusCode).toBe(404);
    expect(r.json()).toEqual({ message: 'page not found' });
  });

  it('answers swarm endpoints as a dockerd outside a swarm (503)', async () => {
    for (const url of ['/swarm', '/v1.45/nodes', '/services?filters=%7B%7D', '/networks/x/../../tasks']) {
      const r = await app.inject({ url });
      expect([503, 404]).toContain(r.statusCode);
    }
    const r = await app.inject({ url: '/v1.45/swarm' });
    expect(r.statusCode).toBe(503);
    expect(r.json()).toEqual({ message: 'This node is not part of a swarm' });
  });
});

describe('/info and /version', () => {
  it('has the fields docker info reads', async () => {
    const r = await app.inject({ url: '/info' });
    const i = r.json();
    for (const k of ['ID', 'Containers', 'Images', 'Driver', 'KernelVersion', 'OSType', 'NCPU', 'MemTotal', 'ServerVersion', 'Swarm'])
      expect(i).toHaveProperty(k);
    expect(i.Swarm.LocalNodeState).toBe('inactive');
  });
});

describe('/events', () => {
  it('replays events since a time and ends at until, filtered', async () => {
    const t0 = Date.now() / 1000 - 1;
    d.events.publish('container', 'create', 'a'.repeat(64), { name: 'web', image: 'busybox' });
    d.events.publish('network', 'create', 'b'.repeat(64), { name: 'n1', type: 'bridge' });
    d.events.publish('container', 'start', 'a'.repeat(64), { name: 'web', image: 'busybox' });
    const until = Date.now() / 1000 + 0.2;
    const filters = encodeURIComponent(JSON.stringify({ type: ['container'], event: ['start'] }));
    const r = await app.inject({ url: `/events?since=${t0}&until=${until}&filters=${filters}` });
    expect(r.statusCode).toBe(200);
    const lines = r.body.trim().split('\n').map((l) => JSON.parse(l));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ Type: 'container', Action: 'start', Actor: { Attributes: { name: 'web' } }, status: 'start' });
  });

  it('refuses bad filters with 400', async () => {
    const r = await app.inject({ url: '/events?filters=%7Bnope' });
    expect(r.statusCode).toBe(400);
  });
});

describe('/berth/jobs', () => {
  it('lists recent jobs with name, duration and outcome', async () => {
    await d.engine.job('demo-job', async () => {});
    const r = await app.inject({ url: '/berth/jobs?limit=5' });
    expect(r.statusCode).toBe(200);
    expect(r.json().at(-1)).toMatchObject({ name: 'demo-job', outcome: 'ok' });
  });
  it('validates its query', async () => {
    const r = await app.inject({ url: '/berth/jobs?limit=0' });
    expect(r.statusCode).toBe(400);
  });
});
