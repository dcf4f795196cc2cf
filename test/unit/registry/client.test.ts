// The registry client against an in-process registry on 127.0.0.1: plain HTTP after the TLS
// attempt, Bearer and Basic auth, redirects to another origin, error wording, login.
import { afterEach, describe, expect, it } from 'vitest';
import { createServer } from 'node:net';
import { RegistryClient } from '../../../daemon/images/registry/client.js';
import { MEDIA } from '../../../daemon/images/registry/manifest.js';
import { isBerthError } from '../../../drivers/errors.js';
import { FakeRegistry, sha } from './fake-registry.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function registry(opts: ConstructorParameters<typeof FakeRegistry>[0] = {}): Promise<{ reg: FakeRegistry; client: RegistryClient }> {
  const reg = await new FakeRegistry(opts).start();
  const client = new RegistryClient({ insecure: [], mirrors: [], userAgent: 'berth-test' });
  cleanups.push(() => reg.stop(), () => client.close());
  return { reg, client };
}

/** An image "x" with one blob and a manifest tagged "1". */
function seed(reg: FakeRegistry, repo = 'x'): { manifest: Buffer; digest: string; blob: Buffer; blobDigest: string } {
  const blob = Buffer.from('layer bytes '.repeat(100));
  const blobDigest = reg.addBlob(repo, blob);
  const config = Buffer.from('{"rootfs":{"type":"layers","diff_ids":[]}}');
  const configDigest = reg.addBlob(repo, config);
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MEDIA.dockerManifest,
      config: { mediaType: MEDIA.dockerConfig, digest: configDigest, size: config.length },
      layers: [{ mediaType: MEDIA.dockerLayerGzip, digest: blobDigest, size: blob.length }],
    }),
  );
  const digest = reg.addManifest(repo, '1', manifest, MEDIA.dockerManifest);
  return { manifest, digest, blob, blobDigest };
}

async function readAll(s: AsyncIterable<unknown>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of s) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

async function rejection(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected a rejection');
}

describe('registry client', () => {
  it('falls back from HTTPS to plain HTTP on loopback, once per registry', async () => {
    const { reg, client } = await registry();
    const { digest } = seed(reg);
    const repo = client.repository({ domain: reg.host, path: 'x' }, { actions: ['pull'] });
    const m = await repo.manifest('1');
    expect(m.digest).toBe(digest);
    expect(m.parsed.kind).toBe('manifest');
    expect(repo.endpoint?.base).toBe(`http://${reg.host}`);
    expect(reg.garbage).toBe(1); // the TLS attempt
    await client.repository({ domain: reg.host, path: 'x' }, { actions: ['pull'] }).manifest('1');
    expect(reg.garbage).toBe(1); // remembered: straight to HTTP
  });

  it('verifies manifests: by digest and against Docker-Content-Digest', async () => {
    const { reg, client } = await registry();
    const { manifest, digest } = seed(reg);
    const repo = client.repository({ domain: reg.host, path: 'x' }, { actions: ['pull'] });
    expect((await repo.manifest(digest)).bytes.equals(manifest)).toBe(true);
    const other = `sha256:${'0'.repeat(64)}`;
    reg.manifests.get('x')!.set(other, { body: manifest, mediaType: MEDIA.dockerManifest });
    const e = await rejection(repo.manifest(other));
    expect(isBerthError(e, 'invalid_parameter')).toBe(true);
    expect(e.message).toBe(`manifest verification failed for digest ${other}: the registry sent content with digest ${digest}`);
  });

  it('says docker\'s words for a missing manifest and an unreachable registry', async () => {
    const { reg, client } = await registry();
    seed(reg);
    const e = await rejection(client.repository({ domain: reg.host, path: 'x' }, { actions: ['pull'] }).manifest('nope'));
    expect(isBerthError(e, 'not_found')).toBe(true);
    expect(e.message).toBe(`manifest for ${reg.host}/x:nope not found: manifest unknown: manifest unknown`);
    // a port nobody listens on
    const srv = createServer();
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    const port = (srv.address() as { port: number }).port;
    await new Promise<void>((r) => srv.close(() => r()));
    const down = await rejection(client.repository({ domain: `127.0.0.1:${port}`, path: 'x' }, { actions: ['pull'] }).manifest('1'));
    expect(isBerthError(down, 'system')).toBe(true);
    expect(down.message).toBe(`registry 127.0.0.1:${port} is unreachable: GET http://127.0.0.1:${port}/v2/x/manifests/1: connect ECONNREFUSED 127.0.0.1:${port}`);
  });

  it('gets a Bearer token with Basic credentials and the repository scope, then uses it', async () => {
    const { reg, client } = await registry({ auth: { kind: 'bearer', user: 'alice', pass: 'pw' } });
    seed(reg);
    const repo = client.repository({ domain: reg.host, path: 'x' }, { actions: ['pull'], creds: { username: 'alice', password: 'pw' } });
    await repo.manifest('1');
    const token = reg.log.find((l) => l.url.startsWith('/token'))!;
    const q = new URL(token.url, 'http://x').searchParams;
    expect(q.get('service')).toBe('fake-registry');
    expect(q.getAll('scope')).toEqual(['repository:x:pull']);
    expect(q.get('account')).toBe('alice');
    expect(token.authorization).toBe(`Basic ${Buffer.from('alice:pw').toString('base64')}`);
    const last = reg.log.at(-1)!;
    expect(last.url).toBe('/v2/x/manifests/1');
    expect(last.authorization).toMatch(/^Bearer [0-9a-f]{16}$/);
    // one token for the whole operation
    await repo.manifest('1');
    expect(reg.log.filter((l) => l.url.startsWith('/token'))).toHaveLength(1);
  });

  it('pulls anonymously with a pull-only token, and a push without credentials is refused', async () => {
    const { reg, client } = await registry({ auth: { kind: 'bearer', user: 'alice', pass: 'pw', anonymousPull: true } });
    seed(reg);
    await client.repository({ domain: reg.host, path: 'x' }, { actions: ['pull'] }).manifest('1');
    const e = await rejection(client.repository({ domain: reg.host, path: 'x' }, { actions: ['pull', 'push'] }).uploadBuffer(Buffer.from('x'), sha('x')));
    expect(isBerthError(e, 'forbidden')).toBe(true);
    expect(e.message).toContain('unauthorized: authentication required');
  });

  it('wrong credentials: the token server\'s refusal is the error', async () => {
    const { reg, client } = await registry({ auth: { kind: 'bearer', user: 'alice', pass: 'pw' } });
    seed(reg);
    const e = await rejection(client.repository({ domain: reg.host, path: 'x' }, { actions: ['pull'], creds: { username: 'alice', password: 'nope' } }).manifest('1'));
    expect(isBerthError(e, 'forbidden')).toBe(true);
    expect(e.message).toBe(`authentication with ${reg.host} failed: unauthorized: incorrect username or password`);
  });

  it('answers a Basic challenge with the credentials', async () => {
    const { reg, client } = await registry({ auth: { kind: 'basic', user: 'bob', pass: 'pw' } });
    seed(reg);
    await client.repository({ domain: reg.host, path: 'x' }, { actions: ['pull'], creds: { username: 'bob', password: 'pw' } }).manifest('1');
    expect(reg.log.at(-1)!.authorization).toBe(`Basic ${Buffer.from('bob:pw').toString('base64')}`);
    const e = await rejection(client.repository({ domain: reg.host, path: 'x' }, { actions: ['pull'] }).manifest('1'));
    expect(e.message).toBe(`pull access denied for ${reg.host}/x, repository does not exist or may require 'berth login': unauthorized: authentication required`);
  });

  it('follows a blob redirect to another origin without the Authorization header', async () => {
    const { reg, client } = await registry({ auth: { kind: 'bearer', user: 'alice', pass: 'pw' }, redirectBlobs: true });
    const { blob, blobDigest } = seed(reg);
    const repo = client.repository({ domain: reg.host, path: 'x' }, { actions: ['pull'], creds: { username: 'alice', password: 'pw' } });
    const { body, length } = await repo.blob(blobDigest);
    expect(length).toBe(blob.length);
    expect((await readAll(body)).equals(blob)).toBe(true);
    expect(reg.storageLog).toEqual([{ method: 'GET', url: `/${encodeURIComponent(blobDigest)}` }]);
  });

  it('uploads a stream (digest computed on the way), mounts across repositories, lists tags', async () => {
    const { reg, client } = await registry();
    seed(reg);
    const repo = client.repository({ domain: reg.host, path: 'y' }, { actions: ['pull', 'push'], mirrors: false });
    const { Readable } = await import('node:stream');
    const data = Buffer.from('z'.repeat(300_000));
    const seen: number[] = [];
    const up = await repo.uploadStream(Readable.from([data.subarray(0, 100_000), data.subarray(100_000)]), (n) => seen.push(n));
    expect(up).toEqual({ digest: sha(data), size: data.length });
    expect(seen.at(-1)).toBe(data.length);
    expect(reg.blobs.get(up.digest)!.equals(data)).toBe(true);
    expect(await repo.blobSize(up.digest)).toBe(data.length);
    expect(await repo.blobSize(sha('absent'))).toBeUndefined();
    const layer = [...reg.repoBlobs.get('x')!][0]!;
    expect(await repo.mount(layer, 'x')).toBe(true);
    expect(reg.repoBlobs.get('y')!.has(layer)).toBe(true);
    expect(await repo.mount(sha('absent'), 'x')).toBe(false);
    const m = Buffer.from('{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"x","digest":"' + up.digest + '","size":1},"layers":[]}');
    expect(await repo.putManifest('v1', m, MEDIA.ociManifest)).toBe(sha(m));
    expect(await repo.tags()).toEqual(['v1']);
  });

  it('logs in: good credentials pass, bad ones are refused in docker\'s words', async () => {
    const { reg, client } = await registry({ auth: { kind: 'bearer', user: 'alice', pass: 'pw' } });
    expect(await client.login(`http://${reg.host}/`, { username: 'alice', password: 'pw' })).toEqual({});
    const e = await rejection(client.login(reg.host, { username: 'alice', password: 'bad' }));
    expect(isBerthError(e, 'forbidden')).toBe(true);
    expect(e.message).toBe(`login to ${reg.host} failed: unauthorized: incorrect username or password`);
    const b = await registry({ auth: { kind: 'basic', user: 'bob', pass: 'pw' } });
    expect(await b.client.login(b.reg.host, { username: 'bob', password: 'pw' })).toEqual({});
    expect((await rejection(b.client.login(b.reg.host, { username: 'bob', password: 'x' }))).message).toBe(`login to ${b.reg.host} failed: unauthorized: incorrect username or password`);
  });

  it('pulls Docker Hub images through a mirror', async () => {
    const reg = await new FakeRegistry().start();
    const client = new RegistryClient({ insecure: [], mirrors: [`http://${'127.0.0.1'}:${reg.port}`], userAgent: 'berth-test' });
    cleanups.push(() => reg.stop(), () => client.close());
    const { digest } = seed(reg, 'library/busybox');
    const repo = client.repository({ domain: 'docker.io', path: 'library/busybox' }, { actions: ['pull'] });
    expect((await repo.manifest('1')).digest).toBe(digest);
    expect(repo.endpoint).toMatchObject({ base: `http://127.0.0.1:${reg.port}`, mirror: true });
    expect(reg.log.map((l) => l.url)).toEqual(['/v2/library/busybox/manifests/1']);
  });

  it('cancels a request when its signal aborts', async () => {
    const { reg, client } = await registry();
    seed(reg);
    const ac = new AbortController();
    ac.abort(new Error('the client went away'));
    const e = await rejection(client.repository({ domain: reg.host, path: 'x' }, { actions: ['pull'], signal: ac.signal }).manifest('1'));
    expect(e.message).toBe('the client went away');
  });
});
