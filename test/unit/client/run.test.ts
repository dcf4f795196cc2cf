// berth run / create / start through runCli with a recording fake daemon: docker's order of calls,
// demuxed output, exit codes, the pull-on-404 flow, refusals before any request.
import { describe, expect, it, vi } from 'vitest';
import { runCli } from '../../../client/main.js';
import { ApiError } from '../../../client/api.js';
import { frame } from '../../../client/attach.js';
import { deferred, FakeConn, fakeApi, recIo, type Reply, type Req } from './fake.js';

const ID = 'c0ffee'.padEnd(64, '0');

/** A daemon that runs one container: output after start, exit code `code`. */
function daemon(opts: { code?: number; out?: Buffer[]; tty?: boolean; startError?: ApiError; createError?: ApiError } = {}) {
  const started = deferred();
  const conn = new FakeConn(opts.out ?? [frame(1, 'hello\n'), frame(2, 'oops\n')], started.promise);
  const route = (r: Req): Reply | undefined => {
    const k = `${r.method} ${r.path}`;
    if (k === 'POST /containers/create') return opts.createError ? { error: opts.createError } : { status: 201, body: { Id: ID, Warnings: [] } };
    if (k === `POST /containers/${ID}/attach`) return { upgrade: conn, tty: opts.tty ?? false };
    if (k === `POST /containers/${ID}/wait`) return { stream: [JSON.stringify({ StatusCode: opts.code ?? 0 }) + '\n'], gate: started.promise };
    if (k === `POST /containers/${ID}/start`) {
      if (opts.startError) return { error: opts.startError };
      started.resolve();
      return { status: 204 };
    }
    if (k === `POST /containers/${ID}/resize`) return { status: 200 };
    if (k === `POST /containers/${ID}/kill`) return { status: 204 };
    return undefined;
  };
  const api = fakeApi(route);
  return { api, conn, started, mk: () => api };
}

describe('berth run (attached)', () => {
  it('creates, attaches, waits, starts — in that order — demuxes the frames and exits with the code', async () => {
    const d = daemon({ code: 3 });
    const io = recIo();
    const code = await runCli(['run', '--rm', '--name', 'web', 'busybox', 'sh', '-c', 'echo hello; echo oops >&2; exit 3'], io, d.mk);
    expect(code).toBe(3);
    expect(io.outText).toBe('hello\n');
    expect(io.errText).toBe('oops\n');
    expect(d.api.lines()).toEqual([
      'POST /containers/create',
      `POST /containers/${ID}/attach`,
      `POST /containers/${ID}/wait`,
      `POST /containers/${ID}/start`,
    ]);
    const [create, attach, wait] = d.api.requests;
    expect(create!.query).toEqual({ name: 'web' });
    expect(attach!.kind).toBe('upgrade');
    expect(attach!.query).toEqual({ stream: '1', stdout: '1', stderr: '1' });
    expect(wait!.query).toEqual({ condition: 'removed' });
    expect((create!.body as { HostConfig: { AutoRemove: boolean } }).HostConfig.AutoRemove).toBe(true);
  });

  it('waits for next-exit without --rm', async () => {
    const d = daemon();
    expect(await runCli(['run', 'busybox', 'true'], recIo(), d.mk)).toBe(0);
    expect(d.api.requests.find((r) => r.path.endsWith('/wait'))!.query).toEqual({ condition: 'next-exit' });
  });

  it('reassembles frames split across chunks, and characters split across frames', async () => {
    const all = Buffer.concat([frame(1, Buffer.from('h€')), frame(1, Buffer.from('llo\n')), frame(2, 'e\n')]);
    // cut inside a header, inside a body, and inside the 3-byte €
    const parts = [all.subarray(0, 3), all.subarray(3, 10), all.subarray(10, 11), all.subarray(11)];
    const d = daemon({ out: parts });
    const io = recIo();
    expect(await runCli(['run', 'busybox'], io, d.mk)).toBe(0);
    expect(io.outText).toBe('h€llo\n');
    expect(io.errText).toBe('e\n');
  });

  it('passes raw bytes through with a TTY (no demuxing)', async () => {
    const raw = Buffer.concat([Buffer.from([1, 0, 0, 0]), Buffer.from('plain\r\n')]);
    const d = daemon({ out: [raw], tty: true });
    const io = recIo();
    expect(await runCli(['run', '-t', 'busybox'], io, d.mk)).toBe(0);
    expect(io.outText).toBe(raw.toString());
  });

  it('forwards stdin with -i and half-closes the connection at its end', async () => {
    const d = daemon();
    const io = recIo();
    io.stdin.end('typed input\n');
    expect(await runCli(['run', '-i', 'busybox', 'cat'], io, d.mk)).toBe(0);
    expect(d.api.requests[1]!.query).toEqual({ stream: '1', stdin: '1', stdout: '1', stderr: '1' });
    expect(d.conn.input).toBe('typed input\n');
    expect(d.conn.halfClosed).toBe(true);
  });

  it('with -it on a terminal: raw mode on then off, TTY resized, ctrl-p ctrl-q detaches', async () => {
    const d = daemon({ tty: true, out: [] });
    const io = recIo({ tty: true, size: { rows: 24, cols: 80 } });
    const run = runCli(['run', '-it', 'busybox', 'sh'], io, d.mk);
    await d.started.promise;
    io.stdin.write('ls\r');
    io.stdin.write(Buffer.from([0x10]));
    io.stdin.write(Buffer.from([0x11]));
    expect(await run).toBe(0);
    expect(io.rawModes).toEqual([true, false]);
    expect(d.conn.input).toBe('ls\r');
    const resize = d.api.requests.find((r) => r.path.endsWith('/resize'))!;
    expect(resize.query).toEqual({ h: '24', w: '80' });
    expect((d.api.requests[0]!.body as { HostConfig: { ConsoleSize: number[] } }).HostConfig.ConsoleSize).toEqual([24, 80]);
  });

  it('refuses -it when stdin is not a terminal, before creating anything', async () => {
    const d = daemon();
    const io = recIo();
    expect(await runCli(['run', '-it', 'busybox', 'sh'], io, d.mk)).toBe(1);
    expect(io.errText).toBe('the input device is not a TTY\n');
    expect(d.api.requests).toEqual([]);
  });

  it('forwards Ctrl-C to the container (sig-proxy)', async () => {
    const d = daemon();
    const io = recIo();
    const run = runCli(['run', 'busybox', 'sleep', '9'], io, d.mk);
    await d.started.promise;
    io.interrupt!();
    await run;
    const kill = d.api.requests.find((r) => r.path.endsWith('/kill'))!;
    expect(kill.query).toEqual({ signal: 'SIGINT' });
  });

  it('takes -h as --hostname, not as help', async () => {
    const d = daemon();
    expect(await runCli(['run', '-h', 'myhost', 'busybox'], recIo(), d.mk)).toBe(0);
    expect((d.api.requests[0]!.body as { Hostname: string }).Hostname).toBe('myhost');
  });
});

describe('berth run -d', () => {
  it('creates and starts, prints the full id, no attach and no wait', async () => {
    const d = daemon();
    const io = recIo();
    expect(await runCli(['run', '-d', '-p', '8080:80', 'busybox', 'httpd', '-f'], io, d.mk)).toBe(0);
    expect(io.outText).toBe(`${ID}\n`);
    expect(d.api.lines()).toEqual(['POST /containers/create', `POST /containers/${ID}/start`]);
    const body = d.api.requests[0]!.body as { HostConfig: { PortBindings: unknown }; ExposedPorts: unknown; AttachStdout: boolean };
    expect(body.HostConfig.PortBindings).toEqual({ '80/tcp': [{ HostIp: '', HostPort: '8080' }] });
    expect(body.ExposedPorts).toEqual({ '80/tcp': {} });
    expect(body.AttachStdout).toBe(false);
  });

  it('with --rm registers a wait for the removal before start', async () => {
    const d = daemon();
    const io = recIo();
    expect(await runCli(['run', '-d', '--rm', 'busybox'], io, d.mk)).toBe(0);
    expect(d.api.lines()).toEqual(['POST /containers/create', `POST /containers/${ID}/wait`, `POST /containers/${ID}/start`]);
    expect(io.outText).toBe(`${ID}\n`);
  });
});

describe('berth run: errors and exit codes', () => {
  const badInput: [string[], string][] = [
    [['-p', '70000:80'], 'berth: invalid hostPort: 70000\n'],
    [['-p', '80:80/foo'], 'berth: invalid proto: foo\n'],
    [['-p', '1.2.3:80:80'], 'berth: invalid IP address: 1.2.3\n'],
    [['--restart', 'sometimes'], "berth: invalid restart policy: unknown policy 'sometimes'; use one of 'no', 'always', 'on-failure', or 'unless-stopped'\n"],
    [['--frobnicate'], 'berth: unknown flag: --frobnicate\n'],
    [['--privileged'], 'berth: --privileged is not supported\n'],
    [['-v', '/srv:/srv:ro:x'], 'berth: invalid spec: /srv:/srv:ro:x: too many colons\n'],
  ];
  for (const [flags, msg] of badInput) {
    it(`${flags.join(' ')} → exit 125, no request`, async () => {
      const d = daemon();
      const io = recIo();
      expect(await runCli(['run', ...flags, 'busybox'], io, d.mk)).toBe(125);
      expect(io.errText).toBe(`${msg}See 'berth run --help'.\n`);
      expect(d.api.requests).toEqual([]);
    });
  }

  it('a daemon error on create is exit 125', async () => {
    const d = daemon({ createError: new ApiError(409, 'Conflict. The container name "/web" is already in use') });
    const io = recIo();
    expect(await runCli(['run', '--name', 'web', 'busybox'], io, d.mk)).toBe(125);
    expect(io.errText).toBe('Error response from daemon: Conflict. The container name "/web" is already in use\n');
  });

  const startErrors: [string, number][] = [
    ['failed to create task: exec: "nosuch": executable file not found in $PATH', 127],
    ['exec: "/etc/passwd": permission denied', 126],
    ['cannot start: no IP left in the pool', 125],
  ];
  for (const [msg, code] of startErrors) {
    it(`start error "${msg}" → ${code}`, async () => {
      const d = daemon({ startError: new ApiError(400, msg) });
      const io = recIo();
      expect(await runCli(['run', 'busybox', 'nosuch'], io, d.mk)).toBe(code);
      expect(io.errText).toBe(`Error response from daemon: ${msg}\n`);
    });
  }

  it('--rm and a failed start: waits for the removal, but not forever', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    try {
      const d = daemon({ startError: new ApiError(400, 'exec: "nosuch": executable file not found in $PATH') });
      const io = recIo();
      const run = runCli(['run', '--rm', 'busybox', 'nosuch'], io, d.mk);
      let done = false;
      void run.then(() => (done = true));
      await vi.advanceTimersByTimeAsync(4000);
      expect(done).toBe(false); // still waiting for the daemon to remove it
      await vi.advanceTimersByTimeAsync(1500);
      expect(await run).toBe(127);
    } finally {
      vi.useRealTimers();
    }
  });

  it('on 404 "No such image": says so, pulls (where the daemon can), and creates again', async () => {
    let creates = 0;
    const api = fakeApi((r) => {
      if (r.path === '/containers/create')
        return creates++ === 0 ? { error: new ApiError(404, 'No such image: busybox:latest') } : { status: 201, body: { Id: ID, Warnings: ['w1'] } };
      if (r.path === '/images/create')
        return { stream: ['{"status":"Pulling from library/busybox","id":"latest"}\r\n{"status":"Pull complete","id":"abc"}\r\n', '{"status":"Status: Downloaded newer image for busybox:latest"}\r\n'] };
      if (r.path.endsWith('/start')) return { status: 204 };
      return undefined;
    });
    const io = recIo();
    expect(await runCli(['run', '-d', 'busybox'], io, () => api)).toBe(0);
    expect(api.lines()).toEqual(['POST /containers/create', 'POST /images/create', 'POST /containers/create', `POST /containers/${ID}/start`]);
    expect(api.requests[1]!.query).toEqual({ fromImage: 'docker.io/library/busybox', tag: 'latest' });
    expect(io.errText).toBe(
      "Unable to find image 'busybox:latest' locally\nlatest: Pulling from library/busybox\nabc: Pull complete\nStatus: Downloaded newer image for busybox:latest\nWARNING: w1\n",
    );
    expect(io.outText).toBe(`${ID}\n`);
  });

  it('on 404 "No such image" with no pull endpoint: the missing image is the error, exit 125', async () => {
    const api = fakeApi((r) => (r.path === '/containers/create' ? { error: new ApiError(404, 'No such image: localhost:5000/app:1') } : undefined));
    const io = recIo();
    expect(await runCli(['run', 'localhost:5000/app:1'], io, () => api)).toBe(125);
    expect(api.requests[1]!.query).toEqual({ fromImage: 'localhost:5000/app', tag: '1' });
    expect(io.errText).toBe(
      "Unable to find image 'localhost:5000/app:1' locally\nError response from daemon: No such image: localhost:5000/app:1\n",
    );
  });

  it('--pull never does not pull', async () => {
    const api = fakeApi((r) => (r.path === '/containers/create' ? { error: new ApiError(404, 'No such image: busybox:latest') } : undefined));
    const io = recIo();
    expect(await runCli(['run', '--pull', 'never', 'busybox'], io, () => api)).toBe(125);
    expect(api.lines()).toEqual(['POST /containers/create']);
  });
});

describe('berth create and start', () => {
  it('create prints the id', async () => {
    const d = daemon();
    const io = recIo();
    expect(await runCli(['create', '--name', 'x', 'busybox'], io, d.mk)).toBe(0);
    expect(io.outText).toBe(`${ID}\n`);
    expect(d.api.lines()).toEqual(['POST /containers/create']);
  });

  it('start -a: inspect, attach, wait, start, then the container code', async () => {
    const started = deferred();
    const conn = new FakeConn([frame(1, 'out\n')], started.promise);
    const api = fakeApi((r) => {
      const k = `${r.method} ${r.path}`;
      if (k === 'GET /containers/web/json') return { body: { Id: ID, Config: { Tty: false, OpenStdin: false }, HostConfig: { AutoRemove: false } } };
      if (k === `POST /containers/${ID}/attach`) return { upgrade: conn };
      if (k === `POST /containers/${ID}/wait`) return { stream: ['{"StatusCode":7}'], gate: started.promise };
      if (k === `POST /containers/${ID}/start`) {
        started.resolve();
        return { status: 204 };
      }
      return undefined;
    });
    const io = recIo();
    expect(await runCli(['start', '-a', 'web'], io, () => api)).toBe(7);
    expect(io.outText).toBe('out\n');
    expect(api.lines()).toEqual(['GET /containers/web/json', `POST /containers/${ID}/attach`, `POST /containers/${ID}/wait`, `POST /containers/${ID}/start`]);
  });

  it('start of several prints each name and fails when one fails', async () => {
    const api = fakeApi((r) => (r.path === '/containers/b/start' ? { error: new ApiError(404, 'No such container: b') } : { status: 204 }));
    const io = recIo();
    expect(await runCli(['start', 'a', 'b', 'c'], io, () => api)).toBe(1);
    expect(io.outText).toBe('a\nc\n');
    expect(io.errText).toBe('Error response from daemon: No such container: b\nError: failed to start containers: a, b, c\n');
  });
});
