// The exec driver against the real runc and conmon: a busybox rootfs in a temp dir named with the run
// prefix, containers in the host's netns (or a throwaway one), cgroups named with a per-file prefix.
// Everything made is removed in afterAll, even after a failure (containers by `exec_delete`, and
// the global teardown kills registered pids).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, symlinkSync, copyFileSync, writeFileSync, readdirSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { isRoot, skipReason, uniquePrefix } from '../../helpers/prefix.js';
import { testDir, registerPid } from '../../helpers/daemon.js';
import { must, run } from '../../helpers/sh.js';
import type { DriverContext, ExecDriver, LogEntry } from '../../../drivers/driver.js';
import type { ContainerSpec, Job, ProcessSpec } from '../../../drivers/handlers.js';
import { UndoStack } from '../../../drivers/undo.js';
import { silentLog } from '../../../drivers/log.js';
import { makeNames } from '../../../drivers/names.js';
import { realSys } from '../../../drivers/sys/index.js';
import { isBerthError } from '../../../drivers/errors.js';
import runcDriver from '../../../drivers/exec/runc/index.js';

const job = (): Job => ({ id: 'test', name: 'test', log: silentLog, signal: new AbortController().signal, undo: new UndoStack() });
const newId = () => randomBytes(32).toString('hex');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** busybox with an applet symlink each, a passwd and group of our own. */
function makeRootfs(dir: string, applets: string[]): void {
  for (const d of ['bin', 'etc', 'proc', 'sys', 'dev', 'tmp', 'root']) mkdirSync(join(dir, d), { recursive: true });
  chmodSync(join(dir, 'tmp'), 0o1777);
  copyFileSync('/bin/busybox', join(dir, 'bin/busybox'));
  for (const a of applets) if (a !== 'busybox' && !existsSync(join(dir, 'bin', a))) symlinkSync('busybox', join(dir, 'bin', a));
  writeFileSync(join(dir, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n');
  writeFileSync(join(dir, 'etc/group'), 'root:x:0:\nwheel:x:10:root\nnogroup:x:65534:\n');
}

describe.skipIf(!isRoot)(`exec/runc on the real runc and conmon${skipReason ? ` (${skipReason})` : ''}`, () => {
  const prefix = uniquePrefix();
  let dir: string;
  let rootfs: string;
  let driver: ExecDriver;
  let ctx: DriverContext;
  const made = new Set<string>();
  const exits: { id: string; code: number; at: string }[] = [];

  const spec = (id: string, process: Partial<ProcessSpec>, extra: Partial<ContainerSpec> = {}): ContainerSpec => {
    const files = join(dir, 'files', id.slice(0, 12));
    mkdirSync(files, { recursive: true });
    writeFileSync(join(files, 'hosts'), '127.0.0.1 localhost\n');
    writeFileSync(join(files, 'resolv.conf'), 'nameserver 127.0.0.1\n');
    writeFileSync(join(files, 'hostname'), 'box\n');
    return {
      container: { id, name: `c-${id.slice(0, 6)}` },
      hostname: 'box',
      rootfs,
      netnsPath: undefined,
      process: { args: ['true'], env: ['PATH=/bin'], cwd: '/', user: '', tty: false, openStdin: false, ...process },
      files: { hosts: join(files, 'hosts'), resolvConf: join(files, 'resolv.conf'), hostname: join(files, 'hostname') },
      stopSignal: 'SIGTERM',
      bundleDir: join(dir, 'run', 'containers', id),
      logPath: join(dir, 'logs', `${id}.log`),
      ...extra,
    };
  };
  const bundle = (id: string) => join(dir, 'run', 'containers', id);

  async function create(s: ContainerSpec): Promise<number> {
    made.add(s.container.id);
    const j = job();
    try {
      const st = await driver.handlers.exec_create({ spec: s }, j);
      expect(st.status).toBe('created');
      const cpid = Number(readFileSync(join(s.bundleDir, 'conmon.pid'), 'utf8'));
      registerPid(cpid);
      return st.pid;
    } catch (e) {
      await j.undo.unwind();
      throw e;
    }
  }
  const start = (id: string) => driver.handlers.exec_start({ containerId: id, bundleDir: bundle(id) }, job());
  const state = (id: string) => driver.handlers.exec_state({ containerId: id, bundleDir: bundle(id) }, job());
  const del = (id: string) => driver.handlers.exec_delete({ containerId: id, bundleDir: bundle(id) }, job());
  const exitOf = async (id: string, ms = 10_000) => {
    const t0 = Date.now();
    while (Date.now() - t0 < ms) {
      const e = exits.find((x) => x.id === id);
      if (e) return e;
      await sleep(10);
    }
    throw new Error(`no exit reported for ${id}`);
  };
  async function collect(it: AsyncIterable<LogEntry>): Promise<LogEntry[]> {
    const out: LogEntry[] = [];
    for await (const e of it) out.push(e);
    return out;
  }

  beforeAll(async () => {
    const applets = (await must(['/bin/busybox', '--list'])).split('\n').filter(Boolean);
    dir = testDir('exec');
    rootfs = join(dir, 'rootfs');
    makeRootfs(rootfs, applets);
    mkdirSync(join(dir, 'logs'));
    ctx = {
      sys: realSys(),
      records: undefined as never,
      config: {
        dataRoot: join(dir, 'data'),
        execRoot: join(dir, 'run'),
        bridge: 'unused0',
        icc: true,
        ipForward: false,
        runtime: 'runc',
        storageDriver: 'vfs',
      },
      names: makeNames(prefix),
      log: silentLog,
    };
    driver = await runcDriver(ctx);
    driver.onExit((id, code, at) => exits.push({ id, code, at }));
  });

  afterAll(async () => {
    for (const id of made) await del(id).catch(() => {});
    await driver?.shutdown?.();
    await run(['ip', 'netns', 'del', `${prefix}-n`]);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('runs `echo hi; exit 3`: the log has the output, onExit and exec_state have the code', async () => {
    const id = newId();
    const s = spec(id, { args: ['sh', '-c', 'echo hi; echo oops >&2; exit 3'] });
    await create(s);
    expect((await state(id)).status).toBe('created');
    await start(id);
    const e = await exitOf(id);
    expect(e.code).toBe(3);
    expect(Date.parse(e.at)).toBeGreaterThan(Date.now() - 60_000);
    const st = await state(id);
    expect(st).toMatchObject({ status: 'stopped', exitCode: 3, finishedAt: e.at });
    const raw = readFileSync(s.logPath, 'utf8');
    expect(raw).toMatch(/^\S+ stdout F hi$/m);
    expect(raw).toMatch(/^\S+ stderr F oops$/m);
    const entries = await collect(driver.logs(id, s.logPath, {}));
    expect(entries.map((x) => [x.stream, x.line.toString()])).toEqual([
      ['stdout', 'hi\n'],
      ['stderr', 'oops\n'],
    ]);
    expect((await collect(driver.logs(id, s.logPath, { tail: 1 }))).map((x) => x.line.toString())).toEqual(['oops\n']);
    expect((await collect(driver.logs(id, s.logPath, { stderr: false }))).map((x) => x.line.toString())).toEqual(['hi\n']);
    await del(id);
  });

  it('kill TERM reaches a process that handles it (exit 143); exec_state reports it running before', async () => {
    const id = newId();
    // PID 1 of a pid namespace gets only the signals it has a handler for, as in Docker
    await create(spec(id, { args: ['sh', '-c', 'trap "exit 143" TERM; sleep 1000 & wait'] }));
    await start(id);
    const st = await state(id);
    expect(st.status).toBe('running');
    expect(existsSync(`/proc/${st.pid}`)).toBe(true);
    await sleep(100); // let sh install its trap
    await driver.handlers.exec_kill({ containerId: id, bundleDir: bundle(id), signal: 'TERM' }, job());
    expect((await exitOf(id)).code).toBe(143);
    await expect(driver.handlers.exec_kill({ containerId: id, bundleDir: bundle(id), signal: 'TERM' }, job())).rejects.toSatisfy((e) =>
      isBerthError(e, 'conflict'),
    );
    await del(id);
  });

  it('stop: a process ignoring TERM is killed after the timeout (137)', async () => {
    const id = newId();
    await create(spec(id, { args: ['sleep', '1000'] }));
    await start(id);
    const t0 = Date.now();
    const st = await driver.handlers.exec_stop({ containerId: id, bundleDir: bundle(id), signal: 'SIGTERM', timeoutSeconds: 1 }, job());
    expect(Date.now() - t0).toBeGreaterThanOrEqual(900);
    expect(st).toMatchObject({ status: 'stopped', exitCode: 137 });
    expect((await exitOf(id)).code).toBe(137);
    await del(id);
  });

  it('the container survives a new driver instance (a daemon restart) and can be killed from it', async () => {
    const id = newId();
    const gone = newId(); // exits while "berthd" is down
    await create(spec(id, { args: ['sleep', '1000'] }));
    await start(id);
    await create(spec(gone, { args: ['sleep', '1000'] }));
    await start(gone);
    const pid = (await state(id)).pid;
    await driver.shutdown?.();

    // while no driver runs: `gone` is killed
    const gpid = (await state(gone)).pid;
    process.kill(gpid, 'SIGKILL');
    const leftover = newId(); // runtime state no record owns: adopt removes it
    await create(spec(leftover, { args: ['sleep', '1000'] }));

    driver = await runcDriver(ctx);
    driver.onExit((i, code, at) => exits.push({ id: i, code, at }));
    const rep = await driver.adopt([id, gone]);
    expect(rep.states[id]).toMatchObject({ status: 'running', pid });
    expect(rep.states[gone]).toMatchObject({ status: 'stopped', exitCode: 137 });
    expect(rep.removed).toEqual([leftover]);
    expect(existsSync(bundle(leftover))).toBe(false);
    expect(existsSync(join(dir, 'run', 'runc', leftover))).toBe(false);
    made.delete(leftover);

    await driver.handlers.exec_kill({ containerId: id, bundleDir: bundle(id), signal: 'KILL' }, job());
    expect((await exitOf(id)).code).toBe(137);
    await del(id);
    await del(gone);
  });

  it('with a TTY: output through attach before start, stdin to cat, resize', async () => {
    const id = newId();
    await create(spec(id, { args: ['sh', '-c', 'stty size; read x; stty size; exec cat'], tty: true, openStdin: true, stdinOnce: true, consoleSize: { height: 33, width: 77 } }));
    let out = '';
    const stdin = new PassThrough();
    let ended = false;
    const session = await driver.attach(id, bundle(id), {
      stdin,
      onOutput: (stream, chunk) => {
        expect(stream).toBe('stdout');
        out += chunk.toString();
      },
      onEnd: () => (ended = true),
    });
    await start(id);
    await waitFor(() => out.includes('33 77')); // the size from the start (consoleSize)
    await driver.resize(id, bundle(id), 40, 100);
    stdin.write('go\n');
    await waitFor(() => out.includes('40 100'));
    stdin.write('hello tty\n');
    await waitFor(() => out.split('hello tty').length >= 3); // the echo of the tty and cat's copy
    stdin.write('\x04'); // EOF on the terminal: cat ends
    await session.ended;
    expect(ended).toBe(true);
    expect((await exitOf(id)).code).toBe(0);
    // the log has the terminal's output too, as stdout
    const entries = await collect(driver.logs(id, spec(id, {}).logPath, {}));
    expect(entries.every((e) => e.stream === 'stdout')).toBe(true);
    expect(Buffer.concat(entries.map((e) => e.line)).toString()).toContain('40 100');
    await del(id);
  });

  it('without a TTY: stdin to cat, stdout and stderr apart; stdin end closes the container stdin (StdinOnce)', async () => {
    const id = newId();
    await create(spec(id, { args: ['sh', '-c', 'echo to-err >&2; cat'], openStdin: true, stdinOnce: true }));
    const got: [string, string][] = [];
    const session = await driver.attach(id, bundle(id), {
      stdin: Readable.from([Buffer.from('abc\n'), Buffer.from('def\n')]),
      onOutput: (stream, chunk) => got.push([stream, chunk.toString()]),
    });
    await start(id);
    await session.ended;
    expect((await exitOf(id)).code).toBe(0);
    expect(got.filter(([s]) => s === 'stdout').map(([, t]) => t).join('')).toBe('abc\ndef\n');
    expect(got.filter(([s]) => s === 'stderr').map(([, t]) => t).join('')).toBe('to-err\n');
    await del(id);
  });

  it('logs follow: entries as they come, the end when the container exits', async () => {
    const id = newId();
    const s = spec(id, { args: ['sh', '-c', 'echo a; sleep 0.3; printf b; sleep 0.2; echo c'] });
    await create(s);
    await start(id);
    const entries = await collect(driver.logs(id, s.logPath, { follow: true }));
    expect(entries.map((e) => [e.line.toString(), e.partial])).toEqual([
      ['a\n', false],
      ['b', true],
      ['c\n', false],
    ]);
    await del(id);
  });

  it('user, env, cwd, hostname and the bind-mounted files; a netns by path', async () => {
    const id = newId();
    await must(['ip', 'netns', 'add', `${prefix}-n`]);
    const s = spec(
      id,
      { args: ['sh', '-c', 'id; echo "$HOME $FOO"; pwd; hostname; cat /etc/resolv.conf; ls /sys/class/net'], env: ['PATH=/bin', 'FOO=bar'], cwd: '/tmp', user: 'nobody' },
      { netnsPath: `/run/netns/${prefix}-n` },
    );
    await create(s);
    await start(id);
    expect((await exitOf(id)).code).toBe(0);
    const text = Buffer.concat((await collect(driver.logs(id, s.logPath, {}))).map((e) => e.line)).toString();
    expect(text).toContain('uid=65534(nobody) gid=65534(nogroup)');
    expect(text).toContain('/nonexistent bar');
    expect(text).toContain('/tmp\nbox\nnameserver 127.0.0.1\nlo\n');
    await del(id);
  });

  it('a command that does not exist: invalid_parameter with the runtime message, nothing left behind', async () => {
    const id = newId();
    const s = spec(id, { args: ['no-such-command'] });
    const err = await create(s).then(
      () => undefined,
      (e: unknown) => e,
    );
    // runc 1.1 finds out at create (it looks the command up before waiting for start)
    expect(isBerthError(err, 'invalid_parameter')).toBe(true);
    expect((err as Error).message).toMatch(/executable file not found/);
    expect(existsSync(bundle(id))).toBe(false);
    expect(existsSync(join(dir, 'run', 'runc', id))).toBe(false);
    expect(existsSync(join(dir, 'run', 'exec', 'meta', `${id}.json`))).toBe(false);
    made.delete(id);
  });

  it('exec (docker exec): output of both streams, the exit code, -d, a missing command, a stopped container', async () => {
    const id = newId();
    await create(spec(id, { args: ['sleep', '1000'] }));
    await start(id);
    const sessions = join(dir, 'run', 'exec', 'sessions');
    const got: [string, string][] = [];
    const s1 = await driver.exec(id, bundle(id), newId(), { args: ['sh', '-c', 'echo out; echo err >&2; exit 7'], env: ['PATH=/bin'], cwd: '/tmp', user: 'nobody', tty: false, openStdin: false }, {
      onOutput: (stream, chunk) => got.push([stream, chunk.toString()]),
    });
    expect(s1.pid).toBeGreaterThan(0);
    expect(await s1.exitCode).toBe(7);
    expect(got.filter(([s]) => s === 'stdout').map(([, t]) => t).join('')).toBe('out\n');
    expect(got.filter(([s]) => s === 'stderr').map(([, t]) => t).join('')).toBe('err\n');
    // detached: no stdio; its effect is visible to the next one
    const s2 = await driver.exec(id, bundle(id), newId(), { args: ['sh', '-c', 'id -u > /tmp/who'], env: [], cwd: '/', user: 'nobody', tty: false, openStdin: false });
    expect(await s2.exitCode).toBe(0);
    let out = '';
    const s3 = await driver.exec(id, bundle(id), newId(), { args: ['cat', '/tmp/who'], env: [], cwd: '/', user: '', tty: false, openStdin: false }, {
      onOutput: (_s, c) => (out += c.toString()),
    });
    expect(await s3.exitCode).toBe(0);
    expect(out).toBe('65534\n');
    const err = await driver
      .exec(id, bundle(id), newId(), { args: ['no-such-command'], env: [], cwd: '/', user: '', tty: false, openStdin: false }, { onOutput: () => {} })
      .catch((e: unknown) => e);
    expect(isBerthError(err, 'invalid_parameter')).toBe(true);
    expect((err as Error).message).toMatch(/executable file not found/);
    await waitFor(() => readdirSync(sessions).length === 0);
    // the container's own exit is not disturbed by the sessions
    expect(exits.find((e) => e.id === id)).toBeUndefined();
    expect((await state(id)).status).toBe('running');
    await del(id);
    const stopped = await driver.exec(id, bundle(id), newId(), { args: ['true'], env: [], cwd: '/', user: '', tty: false, openStdin: false }).catch((e: unknown) => e);
    expect(isBerthError(stopped, 'conflict')).toBe(true);
  });

  it('exec -it: a TTY, stdin, resize', async () => {
    const id = newId();
    await create(spec(id, { args: ['sleep', '1000'] }));
    await start(id);
    let out = '';
    const stdin = new PassThrough();
    const s = await driver.exec(id, bundle(id), newId(), { args: ['sh', '-c', 'read x; stty size; exec cat'], env: [], cwd: '/', user: '', tty: true, openStdin: true }, {
      stdin,
      onOutput: (stream, c) => {
        expect(stream).toBe('stdout');
        out += c.toString();
      },
    });
    await s.resize(33, 77);
    stdin.write('go\n');
    await waitFor(() => out.includes('33 77'));
    stdin.write('ping\n');
    await waitFor(() => out.split('ping').length >= 3);
    stdin.write('\x04');
    expect(await s.exitCode).toBe(0);
    await del(id);
  });

  it('after delete: no process, no runtime state, no cgroup, no bundle, no exit file', async () => {
    const id = newId();
    await create(spec(id, { args: ['sleep', '1000'] }));
    const st = await start(id);
    const cgroups = readdirSync('/sys/fs/cgroup').map((h) => join('/sys/fs/cgroup', h, `${prefix}-${id}`));
    expect(cgroups.filter((p) => existsSync(p)).length).toBeGreaterThan(0);
    const conmonPid = Number(readFileSync(join(bundle(id), 'conmon.pid'), 'utf8'));
    const out = await del(id);
    expect(out).toMatchObject({ status: 'stopped', exitCode: 137 });
    expect(existsSync(`/proc/${st.pid}`)).toBe(false);
    await waitFor(() => !existsSync(`/proc/${conmonPid}`) || readFileSync(`/proc/${conmonPid}/stat`, 'utf8').includes(') Z'));
    expect(existsSync(join(dir, 'run', 'runc', id))).toBe(false);
    expect((await must(['runc', '--root', join(dir, 'run', 'runc'), 'list', '-q'])).split('\n')).not.toContain(id);
    expect(cgroups.filter((p) => existsSync(p))).toEqual([]);
    expect(existsSync(bundle(id))).toBe(false);
    expect(existsSync(join(dir, 'run', 'exec', 'exits', id))).toBe(false);
    expect((await state(id)).status).toBe('unknown');
    made.delete(id);
  });
});

async function waitFor(cond: () => boolean, ms = 10_000): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > ms) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}
