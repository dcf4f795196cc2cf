// Exec instances through the API with a fake exec driver: create/start/inspect/resize, the 101
// upgrade with a JSON body read off the socket, frames and raw TTY bytes, stdin, detach keys, the
// exit code recorded before the stream ends, Docker's errors (404, 409, 400) and events.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createServer, request, ServerResponse, type Server } from 'node:http';
import type { Socket } from 'node:net';
import { join } from 'node:path';
import { buildApp, type FastifyInstance } from '../../../daemon/api/app.js';
import type { Daemon } from '../../../daemon/daemon.js';
import type { BerthEvent } from '../../../daemon/events.js';
import type { AttachOptions, ExecDriver, ExecSession } from '../../../drivers/driver.js';
import type { ProcessSpec } from '../../../drivers/handlers.js';
import { invalidParameter } from '../../../drivers/errors.js';
import type { ContainerRecord } from '../../../daemon/containers/types.js';
import type { Endpoint, NetworkRecord } from '../../../drivers/types.js';
import { execEnv, MAX_FINISHED_PER_CONTAINER, replaceOrAppendEnv } from '../../../daemon/containers/exec.js';
import { unitDaemon } from '../../helpers/unit-daemon.js';

const CID = 'c'.repeat(64);

interface FakeProc {
  containerId: string;
  execId: string;
  process: ProcessSpec;
  io: AttachOptions | undefined;
  resizes: [number, number][];
  closed: boolean;
  stdin: Buffer[];
  stdinEnded: boolean;
  exit(code: number): void;
}

/** An exec driver whose exec() runs scripted processes: `echo ARGS`, `fail-notfound`, `wait`. */
function fakeExecDriver(procs: FakeProc[]): ExecDriver {
  const no = async () => {
    throw new Error('not in this test');
  };
  return {
    kind: 'exec',
    name: 'fake',
    handlers: { exec_create: no, exec_start: no, exec_state: no, exec_kill: no, exec_stop: no, exec_delete: no },
    restore: async () => ({ recreated: [], removed: [] }),
    onExit: () => () => {},
    adopt: async () => ({ states: {}, removed: [] }),
    logs: () => (async function* () {})(),
    attach: no,
    resize: async () => {},
    async exec(containerId, _bundleDir, execId, process, io): Promise<ExecSession> {
      if (process.args[0] === 'fail-notfound')
        throw invalidParameter('OCI runtime exec failed: exec: "fail-notfound": executable file not found in $PATH');
      let resolveExit!: (n: number) => void;
      const exitCode = new Promise<number>((r) => (resolveExit = r));
      const p: FakeProc = {
        containerId,
        execId,
        process,
        io,
        resizes: [],
        closed: false,
        stdin: [],
        stdinEnded: false,
        exit: (code) => {
          io?.onEnd?.();
          resolveExit(code);
        },
      };
      procs.push(p);
      io?.stdin?.on('data', (c: Buffer) => {
        p.stdin.push(Buffer.from(c));
        if (process.args[0] === 'cat') io.onOutput('stdout', Buffer.from(c));
      });
      io?.stdin?.on('end', () => {
        p.stdinEnded = true;
        if (process.args[0] === 'cat') setTimeout(() => p.exit(0), 5);
      });
      if (process.args[0] === 'echo') {
        setTimeout(() => {
          io?.onOutput('stdout', Buffer.from(process.args.slice(1).join(' ') + '\n'));
          io?.onOutput('stderr', Buffer.from('to-stderr\n'));
          // the exit code arrives a little after the output ends (conmon's sync pipe)
          io?.onEnd?.();
          setTimeout(() => resolveExit(Number(process.env.find((e) => e.startsWith('CODE='))?.slice(5) ?? 0)), 30);
        }, 5);
      }
      return {
        pid: 4242,
        exitCode,
        resize: async (h, w) => {
          p.resizes.push([h, w]);
        },
        close: () => {
          p.closed = true;
        },
      };
    },
  };
}

function container(over: Partial<ContainerRecord> = {}): ContainerRecord {
  return {
    id: CID,
    name: 'box',
    created: new Date().toISOString(),
    image: 'busybox',
    imageId: 'i'.repeat(64),
    config: {
      Hostname: 'box', Domainname: '', User: '', AttachStdin: false, AttachStdout: true, AttachStderr: true, ExposedPorts: null,
      Tty: false, OpenStdin: false, StdinOnce: false, Env: ['PATH=/bin', 'FROM_IMAGE=1'], Cmd: ['sleep', '100'], Image: 'busybox',
      WorkingDir: '/srv', Entrypoint: null, Labels: { tier: 'x' },
    },
    hostConfig: {
      NetworkMode: 'bridge', PortBindings: null, PublishAllPorts: false, Links: null, RestartPolicy: { Name: '', MaximumRetryCount: 0 },
      AutoRemove: false, Dns: [], DnsOptions: [], DnsSearch: [], ExtraHosts: null, LogConfig: { Type: 'json-file', Config: {} },
    },
    endpointsConfig: {},
    state: { status: 'running', pid: 100, exitCode: 0, error: '', startedAt: new Date().toISOString(), finishedAt: '0001-01-01T00:00:00Z', oomKilled: false },
    restartCount: 0,
    manualStop: false,
    endpoints: {},
    path: 'sleep',
    args: ['100'],
    links: [],
    ...over,
  };
}

let d: Daemon;
let app: FastifyInstance;
let cleanup: () => void;
let procs: FakeProc[];
let events: BerthEvent[];
let server: Server;
let sock: string;

beforeEach(async () => {
  const u = await unitDaemon();
  d = u.d;
  cleanup = u.cleanup;
  procs = [];
  d.engine.install(fakeExecDriver(procs));
  await d.store.put('container', container());
  app = await buildApp(d);
  await app.ready();
  events = [];
  d.events.subscribe((e) => events.push(e));
  // the same upgrade routing as daemon/main.ts
  sock = join(u.dir, 'api.sock');
  server = createServer(app.routing);
  (server as Server & { httpAllowHalfOpen: boolean }).httpAllowHalfOpen = true;
  server.on('upgrade', (req, socket, head) => {
    if (head.length) socket.unshift(head);
    const res = new ServerResponse(req);
    res.assignSocket(socket as Socket);
    res.on('finish', () => socket.end());
    app.routing(req, res);
  });
  await new Promise<void>((r) => server.listen(sock, r));
});
afterEach(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
  await app.close();
  cleanup();
});

async function createExec(body: Record<string, unknown>, ref = 'box'): Promise<string> {
  const r = await app.inject({ method: 'POST', url: `/v1.51/containers/${ref}/exec`, payload: body });
  expect(r.statusCode, r.body).toBe(201);
  return r.json().Id as string;
}

interface Upgraded {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  socket: Socket;
  /** Everything the daemon sent until it closed the stream. */
  rest: Promise<Buffer>;
}

/** POST with Connection: Upgrade and a JSON body, as docker's client does. */
function upgrade(path: string, body: unknown): Promise<Upgraded | { status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const data = JSON.stringify(body);
    const req = request({
      socketPath: sock,
      path,
      method: 'POST',
      headers: { Connection: 'Upgrade', Upgrade: 'tcp', 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(data) },
    });
    req.on('upgrade', (res, socket, head) => {
      const chunks: Buffer[] = head.length ? [head] : [];
      const rest = new Promise<Buffer>((r) => {
        socket.on('data', (c: Buffer) => chunks.push(c));
        socket.on('end', () => r(Buffer.concat(chunks)));
        socket.on('close', () => r(Buffer.concat(chunks)));
      });
      resolve({ status: res.statusCode ?? 0, headers: res.headers, socket, rest });
    });
    req.on('response', (res) => {
      let b = '';
      res.on('data', (c) => (b += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: b }));
    });
    req.on('error', reject);
    req.end(data);
  });
}

/** Docker's 8-byte frame header, parsed. */
function demux(buf: Buffer): { stdout: string; stderr: string } {
  const out = { stdout: '', stderr: '' };
  for (let i = 0; i + 8 <= buf.length; ) {
    const n = buf.readUInt32BE(i + 4);
    const data = buf.subarray(i + 8, i + 8 + n).toString();
    if (buf[i] === 1) out.stdout += data;
    else if (buf[i] === 2) out.stderr += data;
    i += 8 + n;
  }
  return out;
}

describe('exec create', () => {
  it('returns an id, merges the container env, defaults the working dir, and publishes exec_create', async () => {
    const id = await createExec({ Cmd: ['echo', 'hi'], Env: ['FROM_IMAGE=2', 'NEW=1'], AttachStdout: true });
    expect(id).toMatch(/^[0-9a-f]{64}$/);
    const r = await app.inject({ url: `/exec/${id}/json` });
    expect(r.statusCode).toBe(200);
    expect(r.json()).toMatchObject({
      ID: id,
      Running: false,
      ExitCode: null,
      ContainerID: CID,
      OpenStdout: true,
      OpenStdin: false,
      ProcessConfig: { entrypoint: 'echo', arguments: ['hi'], tty: false, privileged: false },
      Pid: 0,
    });
    expect(r.headers['api-version']).toBe('1.51');
    expect(events.map((e) => e.Action)).toEqual(['exec_create: echo hi']);
    expect(events[0]!.Actor.Attributes).toMatchObject({ execID: id, name: 'box', image: 'busybox', tier: 'x' });
  });

  it.each([
    [{ Cmd: [] }, 400, 'No exec command specified'],
    [{}, 400, 'No exec command specified'],
    [{ Cmd: ['true'], Privileged: true }, 400, 'berth does not support privileged exec (--privileged)'],
    [{ Cmd: ['true'], WorkingDir: 'rel' }, 400, "the working directory 'rel' is invalid, it needs to be an absolute path"],
    [{ Cmd: ['true'], DetachKeys: 'ctrl-1' }, 400, 'Invalid detach keys (ctrl-1) provided'],
    [{ Cmd: ['true'], Env: ['=x'] }, 400, 'invalid environment variable: =x'],
    [{ Cmd: ['true'], ConsoleSize: [1, 2, 3] }, 400, 'invalid ConsoleSize: [1,2,3]'],
    [{ Cmd: 'true' }, 400, undefined],
  ])('refuses %j with %i', async (body, status, message) => {
    const r = await app.inject({ method: 'POST', url: '/containers/box/exec', payload: body });
    expect(r.statusCode).toBe(status);
    if (message) expect(r.json()).toEqual({ message });
    expect(events).toEqual([]);
  });

  it('404 for a missing container, 409 for a stopped one', async () => {
    const r = await app.inject({ method: 'POST', url: '/containers/nosuch/exec', payload: { Cmd: ['true'] } });
    expect(r.statusCode).toBe(404);
    expect(r.json()).toEqual({ message: 'No such container: nosuch' });
    await d.store.put('container', container({ id: 'd'.repeat(64), name: 'stopped', state: { ...container().state, status: 'exited', pid: 0 } }));
    const s = await app.inject({ method: 'POST', url: '/containers/stopped/exec', payload: { Cmd: ['true'] } });
    expect(s.statusCode).toBe(409);
    expect(s.json()).toEqual({ message: `container ${'d'.repeat(64)} is not running` });
  });
});

describe('exec start', () => {
  it('upgrades (101), frames stdout and stderr, and has the exit code recorded before the stream ends', async () => {
    const id = await createExec({ Cmd: ['echo', 'hello', 'world'], Env: ['CODE=3'], AttachStdout: true, AttachStderr: true });
    const u = (await upgrade(`/v1.50/exec/${id}/start`, { Detach: false, Tty: false })) as Upgraded;
    expect(u.status).toBe(101);
    expect(u.headers['content-type']).toBe('application/vnd.docker.multiplexed-stream');
    expect(u.headers['api-version']).toBe('1.51');
    expect(u.headers['ostype']).toBe('linux');
    expect(u.headers['server']).toMatch(/^Berth\//);
    const out = demux(await u.rest);
    expect(out).toEqual({ stdout: 'hello world\n', stderr: 'to-stderr\n' });
    // the stream ended only after the exit code was known: the very next inspect has it
    const r = await app.inject({ url: `/exec/${id}/json` });
    expect(r.json()).toMatchObject({ Running: false, ExitCode: 3, Pid: 0 });
    expect(procs[0]!.process).toMatchObject({ args: ['echo', 'hello', 'world'], cwd: '/srv', user: '0', tty: false, openStdin: false });
    // dockerd's order: PATH (the container's replaces the default in place), HOSTNAME, the container's Env, the exec's
    expect(procs[0]!.process.env).toEqual(['PATH=/bin', 'HOSTNAME=box', 'FROM_IMAGE=1', 'CODE=3']);
    expect(events.map((e) => e.Action)).toEqual(['exec_create: echo hello world', 'exec_start: echo hello world', 'exec_die']);
    expect(events[2]!.Actor.Attributes).toMatchObject({ execID: id, exitCode: '3' });
  });

  it('drops the streams the client did not attach', async () => {
    const id = await createExec({ Cmd: ['echo', 'x'], AttachStdout: false, AttachStderr: true });
    const u = (await upgrade(`/exec/${id}/start`, {})) as Upgraded;
    expect(demux(await u.rest)).toEqual({ stdout: '', stderr: 'to-stderr\n' });
  });

  it('pumps stdin (the bytes after the body stay stdin) and closes it on the client half-close', async () => {
    const id = await createExec({ Cmd: ['cat'], AttachStdin: true, AttachStdout: true });
    const u = (await upgrade(`/exec/${id}/start`, { Detach: false })) as Upgraded;
    u.socket.write('line one\n');
    u.socket.end('line two\n');
    expect(demux(await u.rest).stdout).toBe('line one\nline two\n');
    expect(procs[0]!.process.openStdin).toBe(true);
    expect(procs[0]!.stdinEnded).toBe(true);
    expect((await app.inject({ url: `/exec/${id}/json` })).json()).toMatchObject({ ExitCode: 0, Running: false });
  });

  it('with a TTY: raw bytes, the console size from start, resize, and the detach keys leave the process running', async () => {
    const id = await createExec({ Cmd: ['cat'], AttachStdin: true, AttachStdout: true, Tty: true, ConsoleSize: [10, 20], DetachKeys: 'ctrl-x,q' });
    const u = (await upgrade(`/exec/${id}/start`, { Detach: false, Tty: true, ConsoleSize: [45, 123] })) as Upgraded;
    expect(u.headers['content-type']).toBe('application/vnd.docker.raw-stream');
    u.socket.write('abc');
    await new Promise((r) => setTimeout(r, 20));
    const rz = await app.inject({ method: 'POST', url: `/exec/${id}/resize?h=50&w=160` });
    expect(rz.statusCode).toBe(200);
    expect((await app.inject({ url: `/exec/${id}/json` })).json()).toMatchObject({ Running: true, Pid: 4242, ExitCode: null });
    u.socket.write(Buffer.from([0x18, 0x71])); // ctrl-x q
    const raw = (await u.rest).toString();
    expect(raw).toBe('abc');
    expect(procs[0]!.process.consoleSize).toEqual({ height: 45, width: 123 });
    expect(procs[0]!.resizes).toEqual([[50, 160]]);
    expect(procs[0]!.closed).toBe(true);
    expect(procs[0]!.stdin.map(String).join('')).toBe('abc');
    expect((await app.inject({ url: `/exec/${id}/json` })).json().Running).toBe(true);
    procs[0]!.exit(0);
  });

  it('refuses a second start (409) and a missing instance (404), in JSON with headers', async () => {
    const id = await createExec({ Cmd: ['cat'], AttachStdin: true });
    const u = (await upgrade(`/exec/${id}/start`, {})) as Upgraded;
    expect(u.status).toBe(101);
    const again = (await upgrade(`/exec/${id}/start`, {})) as { status: number; body: string };
    expect(again.status).toBe(409);
    expect(JSON.parse(again.body)).toEqual({ message: `Error: Exec command ${id} is already running` });
    u.socket.end();
    await u.rest;
    const after = await app.inject({ method: 'POST', url: `/exec/${id}/start`, payload: { Detach: true } });
    expect(after.statusCode).toBe(409);
    expect(after.json()).toEqual({ message: `Error: Exec command ${id} has already run` });
    const missing = await app.inject({ method: 'POST', url: '/exec/nosuch/start', payload: { Detach: true } });
    expect(missing.statusCode).toBe(404);
    expect(missing.json()).toEqual({ message: 'No such exec instance: nosuch' });
    expect(missing.headers['ostype']).toBe('linux');
    for (const url of ['/exec/nosuch/json']) expect((await app.inject({ url })).statusCode).toBe(404);
    expect((await app.inject({ method: 'POST', url: '/exec/nosuch/resize?h=1&w=1' })).statusCode).toBe(404);
  });

  it('a command that cannot start: the error goes down the stream and the exit code is 127', async () => {
    const id = await createExec({ Cmd: ['fail-notfound'], AttachStdout: true });
    const u = (await upgrade(`/exec/${id}/start`, {})) as Upgraded;
    expect(u.status).toBe(101);
    expect(demux(await u.rest).stdout).toMatch(/executable file not found in \$PATH\r\n$/);
    expect((await app.inject({ url: `/exec/${id}/json` })).json()).toMatchObject({ Running: false, ExitCode: 127 });
  });

  it('Detach: 200 at once, the process runs without stdio, the exit code comes later', async () => {
    const id = await createExec({ Cmd: ['sleep', '1'] });
    const r = await app.inject({ method: 'POST', url: `/exec/${id}/start`, payload: { Detach: true, Tty: false } });
    expect(r.statusCode).toBe(200);
    expect(procs[0]!.io).toBeUndefined();
    expect((await app.inject({ url: `/exec/${id}/json` })).json()).toMatchObject({ Running: true, Pid: 4242 });
    procs[0]!.exit(5);
    await new Promise((res) => setTimeout(res, 10));
    expect((await app.inject({ url: `/exec/${id}/json` })).json()).toMatchObject({ Running: false, ExitCode: 5 });
  });

  it('a resize before the process runs waits for it; one after it ended is harmless', async () => {
    const id = await createExec({ Cmd: ['cat'], AttachStdin: true, Tty: true });
    const early = app.inject({ method: 'POST', url: `/exec/${id}/resize?h=7&w=9` });
    await new Promise((r) => setTimeout(r, 20));
    const u = (await upgrade(`/exec/${id}/start`, { Tty: true })) as Upgraded;
    expect((await early).statusCode).toBe(200);
    expect(procs[0]!.resizes).toEqual([[7, 9]]);
    u.socket.end();
    await u.rest;
    expect((await app.inject({ method: 'POST', url: `/exec/${id}/resize?h=1&w=1` })).statusCode).toBe(200);
    expect(procs[0]!.resizes).toEqual([[7, 9]]);
    expect((await app.inject({ method: 'POST', url: `/exec/${id}/resize?h=x&w=1` })).statusCode).toBe(400);
  });

  it('forgets the instances of a removed container, and keeps a bounded number of finished ones', async () => {
    const ids: string[] = [];
    for (let i = 0; i < MAX_FINISHED_PER_CONTAINER + 3; i++) {
      const id = await createExec({ Cmd: ['sleep', '0'] });
      ids.push(id);
      await app.inject({ method: 'POST', url: `/exec/${id}/start`, payload: { Detach: true } });
      procs[i]!.exit(0);
    }
    await new Promise((r) => setTimeout(r, 10));
    expect((await app.inject({ url: `/exec/${ids[0]}/json` })).statusCode).toBe(404);
    expect((await app.inject({ url: `/exec/${ids.at(-1)}/json` })).statusCode).toBe(200);
    d.events.publish('container', 'destroy', CID, {});
    expect((await app.inject({ url: `/exec/${ids.at(-1)}/json` })).statusCode).toBe(404);
  });
});

describe('exec env (as dockerd builds it)', () => {
  it('PATH, HOSTNAME, TERM with a TTY, the link vars, then the container Env, then the exec Env', () => {
    const env = execEnv({
      hostname: 'h1',
      tty: true,
      links: ['DB_PORT=tcp://172.17.0.3:5432', 'DB_NAME=/web/db'],
      config: ['HOSTNAME=mine', 'A=1', 'DB_NAME=/over'],
      exec: ['A=2', 'B=3'],
    });
    expect(env).toEqual([
      'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
      'HOSTNAME=mine',
      'TERM=xterm',
      'DB_PORT=tcp://172.17.0.3:5432',
      'DB_NAME=/over',
      'A=2',
      'B=3',
    ]);
    expect(execEnv({ hostname: 'h1', tty: false, links: [], config: [], exec: [] })).toEqual([
      'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
      'HOSTNAME=h1',
    ]);
    expect(execEnv({ hostname: 'h', tty: true, links: [], config: ['TERM=dumb'], exec: [] })).toContain('TERM=dumb');
  });

  it('replaces in place, appends, and a bare NAME unsets (an unset one set again comes back in place)', () => {
    expect(replaceOrAppendEnv(['A=1', 'B=2', 'C=3'], ['B', 'D=4', 'B=5', 'A=0', 'NOPE'])).toEqual(['A=0', 'B=5', 'C=3', 'D=4']);
    expect(replaceOrAppendEnv(['A=1', 'B=2'], ['A', 'X=1', 'X=2'])).toEqual(['B=2', 'X=2']);
    const defaults = ['A=1'];
    replaceOrAppendEnv(defaults, ['A=2']);
    expect(defaults).toEqual(['A=1']); // not mutated
  });
});

describe('exec with legacy links', () => {
  const BRIDGE = 'b'.repeat(64);
  const DB = 'e'.repeat(64);
  const network: NetworkRecord = {
    id: BRIDGE, name: 'bridge', driver: 'bridge', created: new Date().toISOString(), internal: false, ipv6: false, builtin: true,
    ipam: [], options: {}, labels: {},
  };
  const endpoint = (id: string, containerId: string, name: string, ipv4: string): Endpoint => ({
    id, networkId: BRIDGE, container: { id: containerId, name }, driver: 'bridge', netns: { kind: 'host' }, ipv4, aliases: [], ports: [], links: [],
  });

  beforeEach(async () => {
    await d.store.put('network', network);
    await d.store.put('endpoint', endpoint('1'.repeat(64), DB, 'db', '172.17.0.3/16'));
    await d.store.put('endpoint', endpoint('2'.repeat(64), CID, 'box', '172.17.0.2/16'));
    await d.store.put('container', container({
      id: DB, name: 'db', endpoints: { [BRIDGE]: '1'.repeat(64) },
      config: { ...container().config, Hostname: 'dbhost', Env: ['PATH=/x', 'PGDATA=/data'], ExposedPorts: { '5432/tcp': {} } },
    }));
    await d.store.put('container', container({ endpoints: { [BRIDGE]: '2'.repeat(64) }, links: [{ containerId: DB, alias: 'pg' }] }));
  });

  it("gets the linked container's variables after HOSTNAME, with the TTY's TERM before them", async () => {
    const id = await createExec({ Cmd: ['env'], Tty: true, Env: ['PG_ENV_PGDATA=mine'] });
    await app.inject({ method: 'POST', url: `/exec/${id}/start`, payload: { Detach: true } });
    expect(procs[0]!.process.env).toEqual([
      'PATH=/bin',
      'HOSTNAME=box',
      'TERM=xterm',
      'PG_PORT=tcp://172.17.0.3:5432',
      'PG_PORT_5432_TCP=tcp://172.17.0.3:5432',
      'PG_PORT_5432_TCP_ADDR=172.17.0.3',
      'PG_PORT_5432_TCP_PORT=5432',
      'PG_PORT_5432_TCP_PROTO=tcp',
      'PG_NAME=/box/pg',
      'PG_ENV_PGDATA=mine',
      'FROM_IMAGE=1',
    ]);
    procs[0]!.exit(0);
  });

  it('refuses the exec while a linked container is not running (and leaves no instance)', async () => {
    const db = d.store.get('container', DB)!;
    await d.store.put('container', { ...db, state: { ...db.state, status: 'exited', pid: 0 }, endpoints: {} });
    const r = await app.inject({ method: 'POST', url: '/containers/box/exec', payload: { Cmd: ['env'] } });
    expect(r.statusCode).toBe(409);
    expect(r.json()).toEqual({ message: 'Cannot link to a non running container: /db AS /box/pg' });
    expect(events).toEqual([]);
    const ins = await app.inject({ url: '/containers/box/json' });
    expect(ins.statusCode, ins.body).toBe(200);
    expect(ins.json().ExecIDs).toBeNull();
  });

  it('leaves out a linked container removed since; no link variables off the default bridge', async () => {
    await d.store.delete('container', DB);
    const id = await createExec({ Cmd: ['env'] });
    await app.inject({ method: 'POST', url: `/exec/${id}/start`, payload: { Detach: true } });
    expect(procs[0]!.process.env).toEqual(['PATH=/bin', 'HOSTNAME=box', 'FROM_IMAGE=1']);
    procs[0]!.exit(0);
    // as dockerd: no endpoint on the default bridge, no link variables (and no check of the target)
    await d.store.put('container', container({ endpoints: {}, links: [{ containerId: DB, alias: 'pg' }] }));
    const id2 = await createExec({ Cmd: ['env'] });
    await app.inject({ method: 'POST', url: `/exec/${id2}/start`, payload: { Detach: true } });
    expect(procs[1]!.process.env).toEqual(['PATH=/bin', 'HOSTNAME=box', 'FROM_IMAGE=1']);
    procs[1]!.exit(0);
  });
});

describe('container inspect ExecIDs', () => {
  const execIds = async (ref = 'box') => (await app.inject({ url: `/containers/${ref}/json` })).json().ExecIDs as string[] | null;

  it('null without instances; lists the created and running ones in order; an ended one leaves the list but stays readable', async () => {
    expect(await execIds()).toBeNull();
    const a = await createExec({ Cmd: ['sleep', '9'] });
    const b = await createExec({ Cmd: ['sleep', '9'] });
    expect(await execIds()).toEqual([a, b]);
    await app.inject({ method: 'POST', url: `/exec/${a}/start`, payload: { Detach: true } });
    expect(await execIds()).toEqual([a, b]);
    procs[0]!.exit(0);
    await new Promise((r) => setTimeout(r, 10));
    expect(await execIds()).toEqual([b]);
    expect((await app.inject({ url: `/exec/${a}/json` })).json()).toMatchObject({ Running: false, ExitCode: 0 });
  });

  it('an exec that failed to start is not listed', async () => {
    const id = await createExec({ Cmd: ['fail-notfound'] });
    const r = await app.inject({ method: 'POST', url: `/exec/${id}/start`, payload: { Detach: true } });
    expect(r.statusCode).toBe(400);
    expect(await execIds()).toBeNull();
    expect((await app.inject({ url: `/exec/${id}/json` })).json()).toMatchObject({ ExitCode: 127 });
  });

  it("only the container's own; a container that stops forgets the instances that never started", async () => {
    await d.store.put('container', container({ id: 'f'.repeat(64), name: 'other' }));
    const mine = await createExec({ Cmd: ['true'] });
    const running = await createExec({ Cmd: ['sleep', '9'] });
    await app.inject({ method: 'POST', url: `/exec/${running}/start`, payload: { Detach: true } });
    const theirs = await createExec({ Cmd: ['true'] }, 'other');
    expect(await execIds()).toEqual([mine, running]);
    expect(await execIds('other')).toEqual([theirs]);
    d.events.publish('container', 'die', CID, {});
    expect((await app.inject({ url: `/exec/${mine}/json` })).statusCode).toBe(404);
    expect(await execIds()).toEqual([running]);
    procs[0]!.exit(137);
    await new Promise((r) => setTimeout(r, 10));
    expect(await execIds()).toBeNull();
    expect((await app.inject({ url: `/exec/${running}/json` })).json()).toMatchObject({ ExitCode: 137 });
    expect(await execIds('other')).toEqual([theirs]);
  });

  it('goes back to nothing when the exec service closes', async () => {
    await createExec({ Cmd: ['true'] });
    expect(d.containers.execIds(CID)).toHaveLength(1);
    await app.close();
    expect(d.containers.execIds(CID)).toEqual([]);
  });
});
