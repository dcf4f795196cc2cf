// stop, kill, restart, rm, wait, rename, top, prune, logs, exec, attach against a recording fake
// daemon: the requests docker sends (recorded from docker 28.2.2) and docker's output.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { runCli } from '../../../client/main.js';
import { ApiError } from '../../../client/api.js';
import { frame } from '../../../client/attach.js';
import { deferred, FakeConn, fakeApi, recIo } from './fake.js';

const ID = 'c1'.padEnd(64, 'f');

describe('stop / kill / restart / rm / wait', () => {
  const ok = () =>
    fakeApi((r) => {
      if (r.path.startsWith('/containers/bad')) return { error: new ApiError(404, 'No such container: bad') };
      if (r.path.endsWith('/wait')) return { body: { StatusCode: r.path.includes('c2') ? 137 : 0 } };
      return { status: 204 };
    });

  it('stop -t -s sends docker\'s query and prints each name', async () => {
    const api = ok();
    const io = recIo();
    expect(await runCli(['stop', '-t', '5', '-s', 'SIGKILL', 'c1', 'c2'], io, () => api)).toBe(0);
    expect(api.requests.map((r) => [r.method, r.path, r.query])).toEqual([
      ['POST', '/containers/c1/stop', { signal: 'SIGKILL', t: '5' }],
      ['POST', '/containers/c2/stop', { signal: 'SIGKILL', t: '5' }],
    ]);
    expect(io.outText).toBe('c1\nc2\n');
  });

  it('stop without -t leaves the timeout to the daemon; a failure is reported, exit 1', async () => {
    const api = ok();
    const io = recIo();
    expect(await runCli(['stop', 'c1', 'bad', 'c3'], io, () => api)).toBe(1);
    expect(api.requests[0]!.query).toEqual({});
    expect(io.outText).toBe('c1\nc3\n');
    expect(io.errText).toBe('Error response from daemon: No such container: bad\n');
  });

  it('stop refuses a non-numeric timeout', async () => {
    const io = recIo();
    expect(await runCli(['stop', '-t', 'soon', 'c1'], io, () => ok())).toBe(125);
  });

  it('kill -s and restart -t', async () => {
    const api = ok();
    await runCli(['kill', '-s', 'HUP', 'c1'], recIo(), () => api);
    await runCli(['kill', 'c1'], recIo(), () => api);
    await runCli(['restart', '-t', '3', 'c1'], recIo(), () => api);
    expect(api.requests.map((r) => [r.path, r.query])).toEqual([
      ['/containers/c1/kill', { signal: 'HUP' }],
      ['/containers/c1/kill', {}],
      ['/containers/c1/restart', { t: '3' }],
    ]);
  });

  it('rm -f -v sends force and v; with -f a missing container is printed but not a failure', async () => {
    const api = ok();
    const io = recIo();
    expect(await runCli(['rm', '-f', '-v', 'c1', 'bad'], io, () => api)).toBe(0);
    expect(api.requests.map((r) => [r.method, r.path, r.query])).toEqual([
      ['DELETE', '/containers/c1', { force: '1', v: '1' }],
      ['DELETE', '/containers/bad', { force: '1', v: '1' }],
    ]);
    expect(io.outText).toBe('c1\n');
    expect(io.errText).toBe('Error response from daemon: No such container: bad\n');
    const io2 = recIo();
    expect(await runCli(['rm', 'bad'], io2, () => ok())).toBe(1);
  });

  it('wait prints each exit code', async () => {
    const api = ok();
    const io = recIo();
    expect(await runCli(['wait', 'c1', 'c2'], io, () => api)).toBe(0);
    expect(io.outText).toBe('0\n137\n');
    expect(api.requests[0]!.query).toEqual({});
  });

  it('rename sends ?name=', async () => {
    const api = ok();
    expect(await runCli(['rename', 'a', 'b'], recIo(), () => api)).toBe(0);
    expect(api.requests[0]).toMatchObject({ method: 'POST', path: '/containers/a/rename', query: { name: 'b' } });
  });

  it('container prune -f prints what went and the space', async () => {
    const api = fakeApi(() => ({ body: { ContainersDeleted: ['aaa', 'bbb'], SpaceReclaimed: 1500 } }));
    const io = recIo();
    expect(await runCli(['container', 'prune', '-f'], io, () => api)).toBe(0);
    expect(io.outText).toBe('Deleted Containers:\naaa\nbbb\n\nTotal reclaimed space: 1.5kB\n');
  });

  it('top shows the process table', async () => {
    const api = fakeApi(() => ({ body: { Titles: ['UID', 'PID', 'CMD'], Processes: [['root', '4242', 'httpd -f']] } }));
    const io = recIo();
    expect(await runCli(['top', 'web', 'aux'], io, () => api)).toBe(0);
    expect(api.requests[0]!.query).toEqual({ ps_args: 'aux' });
    expect(io.outText).toBe('UID                 PID                 CMD\nroot                4242                httpd -f\n');
  });
});

describe('logs', () => {
  afterEach(() => void vi.useRealTimers());

  it('inspects for the TTY, then demuxes frames to stdout and stderr', async () => {
    const api = fakeApi((r) => {
      if (r.path === '/containers/web/json') return { body: { Id: ID, Config: { Tty: false } } };
      if (r.path === `/containers/${ID}/logs`) return { stream: [frame(1, 'a\n'), Buffer.concat([frame(2, 'b\n'), frame(1, 'c\n')])] };
      return undefined;
    });
    const io = recIo();
    expect(await runCli(['logs', 'web'], io, () => api)).toBe(0);
    expect(io.outText).toBe('a\nc\n');
    expect(io.errText).toBe('b\n');
    expect(api.requests[1]!.query).toEqual({ stdout: '1', stderr: '1', tail: 'all' });
  });

  it('-f --tail -t --since --until: docker\'s query, relative times as Unix seconds', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(1_700_000_000_000);
    const api = fakeApi((r) => (r.path.endsWith('/json') ? { body: { Id: ID, Config: { Tty: true } } } : { stream: ['raw\x01\x00 bytes'] }));
    const io = recIo();
    expect(await runCli(['logs', '-f', '--tail', '5', '-t', '--since', '10m', '--until', '2023-11-14T22:13:20Z', 'web'], io, () => api)).toBe(0);
    expect(api.requests[1]!.query).toEqual({
      stdout: '1',
      stderr: '1',
      follow: '1',
      tail: '5',
      timestamps: '1',
      since: String(1_700_000_000 - 600),
      until: '1700000000.000000000',
    });
    expect(io.outText).toBe('raw\x01\x00 bytes');
  });

  it('refuses a --since that is no time', async () => {
    const api = fakeApi(() => undefined);
    const io = recIo();
    expect(await runCli(['logs', '--since', 'yesterday', 'web'], io, () => api)).toBe(125);
    expect(io.errText).toContain('failed to parse value as time or duration: "yesterday"');
    expect(api.requests).toEqual([]);
  });
});

describe('exec', () => {
  function execApi(exitCode: number, out: Buffer[] = [frame(1, 'ok\n')]) {
    const conn = new FakeConn(out);
    const api = fakeApi((r) => {
      const k = `${r.method} ${r.path}`;
      if (k === 'GET /containers/web/json') return { body: { Id: ID } };
      if (k === 'POST /containers/web/exec') return { status: 201, body: { Id: 'e1' } };
      if (k === 'POST /exec/e1/start') return r.kind === 'upgrade' ? { upgrade: conn } : { status: 200 };
      if (k === 'GET /exec/e1/json') return { body: { ExitCode: exitCode, Running: false } };
      return undefined;
    });
    return { api, conn };
  }

  it('inspect, create, start hijacked, exit code from exec inspect', async () => {
    const { api } = execApi(4);
    const io = recIo();
    expect(await runCli(['exec', 'web', 'ls', '-l'], io, () => api)).toBe(4);
    expect(io.outText).toBe('ok\n');
    expect(api.lines()).toEqual(['GET /containers/web/json', 'POST /containers/web/exec', 'POST /exec/e1/start', 'GET /exec/e1/json']);
    expect(api.requests[1]!.body).toEqual({
      User: '',
      Privileged: false,
      Tty: false,
      AttachStdin: false,
      AttachStderr: true,
      AttachStdout: true,
      Detach: false,
      DetachKeys: '',
      Env: null,
      WorkingDir: '',
      Cmd: ['ls', '-l'],
    });
    expect(api.requests[2]!.kind).toBe('upgrade');
    expect(api.requests[2]!.body).toEqual({ Detach: false, Tty: false });
  });

  it('-d -e -u -w: docker\'s body, a plain start, no attach', async () => {
    const { api } = execApi(0);
    expect(await runCli(['exec', '-d', '-e', 'A=1', '-u', 'root', '-w', '/tmp', 'web', 'sh'], recIo(), () => api)).toBe(0);
    expect(api.requests[1]!.body).toEqual({
      User: 'root',
      Privileged: false,
      Tty: false,
      AttachStdin: false,
      AttachStderr: false,
      AttachStdout: false,
      Detach: true,
      DetachKeys: '',
      Env: ['A=1'],
      WorkingDir: '/tmp',
      Cmd: ['sh'],
    });
    expect(api.requests[2]).toMatchObject({ kind: 'call', body: { Detach: true, Tty: false } });
    expect(api.lines()).toEqual(['GET /containers/web/json', 'POST /containers/web/exec', 'POST /exec/e1/start']);
  });

  it('-i forwards stdin and half-closes', async () => {
    const { api, conn } = execApi(0, []);
    const io = recIo();
    io.stdin.end('data');
    expect(await runCli(['exec', '-i', 'web', 'cat'], io, () => api)).toBe(0);
    expect(conn.input).toBe('data');
    expect(conn.halfClosed).toBe(true);
  });

  it('a missing container fails before anything is created', async () => {
    const api = fakeApi(() => ({ error: new ApiError(404, 'No such container: nope') }));
    const io = recIo();
    expect(await runCli(['exec', 'nope', 'ls'], io, () => api)).toBe(1);
    expect(io.errText).toBe('Error response from daemon: No such container: nope\n');
    expect(api.requests).toHaveLength(1);
  });
});

describe('attach', () => {
  it('waits, inspects, attaches; exits with the code the wait gives', async () => {
    const exited = deferred();
    const conn = new FakeConn([frame(1, 'line\n')], exited.promise);
    const api = fakeApi((r) => {
      if (r.path === '/containers/web/wait') return exited.promise.then(() => ({ body: { StatusCode: 2 } }));
      if (r.path === '/containers/web/json') return { body: { Id: ID, Config: { Tty: false, OpenStdin: false }, State: { Running: true } } };
      if (r.path === '/containers/web/attach') return { upgrade: conn };
      return undefined;
    });
    const io = recIo();
    const p = runCli(['attach', '--no-stdin', 'web'], io, () => api);
    setTimeout(() => exited.resolve(), 5);
    expect(await p).toBe(2);
    expect(io.outText).toBe('line\n');
    expect(api.lines()).toEqual(['POST /containers/web/wait', 'GET /containers/web/json', 'POST /containers/web/attach']);
    expect(api.requests[2]!.query).toEqual({ stream: '1', stdout: '1', stderr: '1' });
  });

  it('refuses a stopped container', async () => {
    const api = fakeApi((r) =>
      r.path.endsWith('/json') ? { body: { Id: ID, Config: { Tty: false, OpenStdin: false }, State: { Running: false } } } : { body: { StatusCode: 0 } },
    );
    const io = recIo();
    expect(await runCli(['attach', 'web'], io, () => api)).toBe(1);
    expect(io.errText).toBe('berth: You cannot attach to a stopped container, start it first\n');
  });
});
