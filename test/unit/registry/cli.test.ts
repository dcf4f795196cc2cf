// berth pull / push / login / logout against a fake Api: the requests they send (query, the
// X-Registry-Auth header from the stored credentials), how progress is drawn (plain lines without a
// terminal, lines redrawn in place on one), and the config file login and logout keep.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Api, RequestOptions } from '../../../client/api.js';
import { ApiError } from '../../../client/api.js';
import pullCmd from '../../../client/commands/image/pull.js';
import pushCmd from '../../../client/commands/image/push.js';
import login from '../../../client/commands/image/login.js';
import logout from '../../../client/commands/image/logout.js';
import { configPath, registryAuthHeader, serverKey } from '../../../client/commands/image/credentials.js';
import { ProgressRenderer, progressText } from '../../../client/commands/image/progress.js';
import { fakeApi, recIo, type Route } from '../client/fake.js';
import { createContainer } from '../../../client/commands/container/shared.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'berth-unit-regcli-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** A fake Api that also records the headers of each request. */
function api(route: Route): ReturnType<typeof fakeApi> & { headers: (Record<string, string> | undefined)[] } {
  const inner = fakeApi(route);
  const headers: (Record<string, string> | undefined)[] = [];
  const call = inner.call.bind(inner);
  const stream = inner.stream.bind(inner);
  return Object.assign(inner, {
    headers,
    call: ((m: string, p: string, o?: RequestOptions) => (headers.push(o?.headers), call(m, p, o))) as Api['call'],
    stream: ((m: string, p: string, o?: RequestOptions) => (headers.push(o?.headers), stream(m, p, o))) as Api['stream'],
  });
}

const j = (o: object) => JSON.stringify(o) + '\n';
const PULL_STREAM = [
  j({ status: 'Pulling from bb', id: '1' }),
  j({ status: 'Pulling fs layer', progressDetail: {}, id: 'aaaaaaaaaaaa' }),
  j({ status: 'Downloading', progressDetail: { current: 1000, total: 2000 }, progress: '[=====>  ] 1kB/2kB', id: 'aaaaaaaaaaaa' }),
  j({ status: 'Download complete', progressDetail: {}, id: 'aaaaaaaaaaaa' }),
  j({ status: 'Pull complete', progressDetail: {}, id: 'aaaaaaaaaaaa' }),
  j({ status: 'Digest: sha256:' + 'd'.repeat(64) }),
  j({ status: 'Status: Downloaded newer image for localhost:5000/bb:1' }),
];

describe('berth pull', () => {
  it('sends fromImage and tag with the stored credentials, draws plain lines, prints the reference', async () => {
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ auths: { 'localhost:5000': { auth: Buffer.from('u:p').toString('base64') } } }));
    const a = api(() => ({ stream: PULL_STREAM }));
    const io = recIo({ env: { BERTH_CONFIG: dir } });
    expect(await pullCmd.run(a, pullCmd.parse(['localhost:5000/bb:1']), io)).toBe(0);
    expect(a.requests[0]).toMatchObject({ method: 'POST', path: '/images/create', query: { fromImage: 'localhost:5000/bb', tag: '1' } });
    const auth = JSON.parse(Buffer.from(a.headers[0]!['X-Registry-Auth']!, 'base64url').toString());
    expect(auth).toEqual({ serveraddress: 'localhost:5000', username: 'u', password: 'p' });
    expect(io.outText).toBe(
      [
        '1: Pulling from bb',
        'aaaaaaaaaaaa: Pulling fs layer',
        'aaaaaaaaaaaa: Download complete',
        'aaaaaaaaaaaa: Pull complete',
        `Digest: sha256:${'d'.repeat(64)}`,
        'Status: Downloaded newer image for localhost:5000/bb:1',
        'localhost:5000/bb:1',
        '',
      ].join('\n'),
    );
  });

  it('says "Using default tag", pulls by digest, -a drops the tag, -q prints only the reference', async () => {
    const a = api(() => ({ stream: PULL_STREAM }));
    let io = recIo();
    await pullCmd.run(a, pullCmd.parse(['busybox']), io);
    expect(io.outText.startsWith('Using default tag: latest\n')).toBe(true);
    expect(io.outText.endsWith('\ndocker.io/library/busybox:latest\n')).toBe(true);
    expect(a.headers[0]).toEqual({});
    const dg = `sha256:${'e'.repeat(64)}`;
    io = recIo();
    await pullCmd.run(a, pullCmd.parse(['-q', `busybox@${dg}`]), io);
    expect(a.requests[1]!.query).toEqual({ fromImage: 'docker.io/library/busybox', tag: dg });
    expect(io.outText).toBe(`docker.io/library/busybox@${dg}\n`);
    await pullCmd.run(a, pullCmd.parse(['-a', '--platform', 'linux/arm64', 'foo/bar']), recIo());
    expect(a.requests[2]!.query).toEqual({ fromImage: 'docker.io/foo/bar', platform: 'linux/arm64' });
    expect(() => pullCmd.parse(['-a', 'foo:1'])).toThrow("tag can't be used with --all-tags/-a");
    expect(() => pullCmd.parse([])).toThrow('"pull" requires exactly 1 argument.');
  });

  it('ends with the daemon\'s error from the stream', async () => {
    const a = api(() => ({ stream: [PULL_STREAM[0]!, j({ errorDetail: { message: 'blob x does not match' }, error: 'blob x does not match' })] }));
    await expect(pullCmd.run(a, pullCmd.parse(['-q', 'x:1']), recIo())).rejects.toEqual(new ApiError(500, 'blob x does not match'));
  });

  it('run of a missing image: "Unable to find image", the pull on stderr, then create again', async () => {
    let creates = 0;
    const a = api((r) => {
      if (r.path === '/containers/create') return ++creates === 1 ? { error: new ApiError(404, 'No such image: localhost:5000/bb:1') } : { body: { Id: 'c1', Warnings: [] } };
      if (r.path === '/images/create') return { stream: PULL_STREAM };
      return undefined;
    });
    const io = recIo();
    const id = await createContainer(a, { body: { Image: 'localhost:5000/bb:1' } } as never, io, { pull: 'missing', quiet: false });
    expect(id).toBe('c1');
    expect(a.lines()).toEqual(['POST /containers/create', 'POST /images/create', 'POST /containers/create']);
    expect(io.errText).toContain("Unable to find image 'localhost:5000/bb:1' locally\n1: Pulling from bb\n");
    expect(io.errText).toContain('Status: Downloaded newer image for localhost:5000/bb:1\n');
    expect(io.outText).toBe('');
  });
});

describe('progress drawing', () => {
  it('redraws each layer\'s line in place on a terminal', () => {
    let out = '';
    const r = new ProgressRenderer({ write: (s) => (out += s), tty: true, columns: 80 });
    for (const l of PULL_STREAM) r.show(JSON.parse(l));
    expect(out).toBe(
      '1: Pulling from bb\n' +
        '\n\x1b[1A\x1b[2K\raaaaaaaaaaaa: Pulling fs layer \r\x1b[1B' +
        '\x1b[1A\x1b[2K\raaaaaaaaaaaa: Downloading      1kB/2kB\r\x1b[1B' +
        '\x1b[1A\x1b[2K\raaaaaaaaaaaa: Download complete \r\x1b[1B' +
        '\x1b[1A\x1b[2K\raaaaaaaaaaaa: Pull complete \r\x1b[1B' +
        `Digest: sha256:${'d'.repeat(64)}\n` +
        'Status: Downloaded newer image for localhost:5000/bb:1\n',
    );
  });

  it('draws docker\'s bar on a wide terminal and collects aux messages', () => {
    expect(progressText({ current: 1_000_000, total: 4_000_000 }, 120)).toBe(`[============>${' '.repeat(38)}]      1MB/4MB`);
    expect(progressText({ current: 1_000_000, total: 4_000_000 }, 80)).toBe('     1MB/4MB');
    expect(progressText({ current: 2_217_000 }, 80)).toBe(' 2.217MB');
    expect(progressText({}, 80)).toBe('');
    const r = new ProgressRenderer({ write: () => {}, tty: false });
    r.show({ progressDetail: {}, aux: { Tag: '1', Digest: 'sha256:x', Size: 5 } });
    expect(r.aux).toEqual([{ Tag: '1', Digest: 'sha256:x', Size: 5 }]);
  });
});

describe('berth push', () => {
  it('posts to /images/{name}/push with the tag and credentials; "latest" by default; -a without a tag', async () => {
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ auths: { 'https://index.docker.io/v1/': { auth: Buffer.from('hub:pw').toString('base64') } } }));
    const a = api(() => ({ stream: [j({ status: 'The push refers to repository [docker.io/library/busybox]' }), j({ status: 'latest: digest: sha256:x size: 5' })] }));
    const io = recIo({ env: { BERTH_CONFIG: dir } });
    await pushCmd.run(a, pushCmd.parse(['busybox']), io);
    expect(a.requests[0]).toMatchObject({ method: 'POST', path: '/images/busybox/push', query: { tag: 'latest' } });
    expect(JSON.parse(Buffer.from(a.headers[0]!['X-Registry-Auth']!, 'base64url').toString())).toMatchObject({ username: 'hub', password: 'pw' });
    expect(io.outText).toBe('Using default tag: latest\nThe push refers to repository [docker.io/library/busybox]\nlatest: digest: sha256:x size: 5\n');
    await pushCmd.run(a, pushCmd.parse(['-a', 'localhost:5000/a/b']), recIo());
    expect(a.requests[1]).toMatchObject({ path: `/images/${encodeURIComponent('localhost:5000/a/b')}/push`, query: {} });
    expect(() => pushCmd.parse(['x@sha256:' + 'a'.repeat(64)])).toThrow('cannot push a digest reference');
  });
});

describe('berth login / logout', () => {
  it('checks with the daemon, stores base64 user:password (0600), logs out', async () => {
    const a = api(() => ({ body: { Status: 'Login Succeeded', IdentityToken: '' } }));
    const io = recIo({ env: { BERTH_CONFIG: dir } });
    io.stdin.end('s3cret\n');
    expect(await login.run(a, login.parse(['-u', 'alice', '--password-stdin', 'https://localhost:5000/']), io)).toBe(0);
    expect(a.requests[0]).toMatchObject({ method: 'POST', path: '/auth', body: { username: 'alice', password: 's3cret', serveraddress: 'localhost:5000' } });
    expect(io.outText).toBe('Login Succeeded\n');
    const path = configPath({ BERTH_CONFIG: dir });
    expect(JSON.parse(readFileSync(path, 'utf8'))).toEqual({ auths: { 'localhost:5000': { auth: Buffer.from('alice:s3cret').toString('base64') } } });
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(registryAuthHeader({ BERTH_CONFIG: dir }, 'localhost:5000/x:1')['X-Registry-Auth']).toBeDefined();
    expect(registryAuthHeader({ BERTH_CONFIG: dir }, 'busybox')).toEqual({});

    const out = recIo({ env: { BERTH_CONFIG: dir } });
    await logout.run(a, logout.parse(['localhost:5000']), out);
    expect(out.outText).toBe('Removing login credentials for localhost:5000\n');
    expect(JSON.parse(readFileSync(path, 'utf8'))).toEqual({ auths: {} });
    const again = recIo({ env: { BERTH_CONFIG: dir } });
    await logout.run(a, logout.parse([]), again);
    expect(again.outText).toBe('Not logged in to https://index.docker.io/v1/\n');
  });

  it('keeps an identity token instead of the password; warns about -p; refuses what docker refuses', async () => {
    const a = api(() => ({ body: { Status: 'Login Succeeded', IdentityToken: 'refresh-1' } }));
    const io = recIo({ env: { BERTH_CONFIG: dir } });
    await login.run(a, login.parse(['-u', 'bob', '-p', 'pw']), io);
    expect(io.errText).toBe('WARNING! Using --password via the CLI is insecure. Use --password-stdin.\n');
    expect(a.requests[0]!.body).toMatchObject({ serveraddress: 'https://index.docker.io/v1/' });
    expect(JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')).auths['https://index.docker.io/v1/']).toEqual({ auth: Buffer.from('bob:').toString('base64'), identitytoken: 'refresh-1' });
    expect(() => login.parse(['--password-stdin'])).toThrow('Must provide --username with --password-stdin');
    await expect(login.run(a, login.parse([]), recIo({ env: { BERTH_CONFIG: dir } }))).rejects.toThrow('Cannot perform an interactive login from a non TTY device');
  });

  it('asks for the username and the password (unechoed) on a terminal', async () => {
    const a = api(() => ({ body: { Status: 'Login Succeeded' } }));
    const io = recIo({ env: { BERTH_CONFIG: dir }, tty: true });
    io.stdin.write('carol\n');
    setTimeout(() => io.stdin.write('pw\r'), 10);
    await login.run(a, login.parse(['localhost:5000']), io);
    expect(io.outText).toBe('Username: Password: \nLogin Succeeded\n');
    expect(io.rawModes).toEqual([true, false]);
    expect(a.requests[0]!.body).toMatchObject({ username: 'carol', password: 'pw' });
  });

  it('keys Docker Hub names alike', () => {
    for (const s of [undefined, 'docker.io', 'index.docker.io', 'https://index.docker.io/v1/', 'registry-1.docker.io']) expect(serverKey(s)).toBe('https://index.docker.io/v1/');
    expect(serverKey('http://LOCALHOST:5000/v2/')).toBe('localhost:5000');
  });
});
