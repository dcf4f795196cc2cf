import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { runCli } from '../../../client/main.js';
import { ApiError, ConnectError, type Api } from '../../../client/api.js';
import type { Io } from '../../../client/command.js';

function recIo(): Io & { outText: string; errText: string } {
  const io = {
    outText: '',
    errText: '',
    out(s: string) {
      io.outText += s;
    },
    err(s: string) {
      io.errText += s;
    },
    stdin: new PassThrough(),
    stdinIsTTY: false,
    stdoutIsTTY: false,
    env: {},
  };
  return io;
}

function fakeApi(handler: (method: string, path: string) => unknown): (host: string) => Api {
  return (host) => ({
    host,
    async call<T>(method: string, path: string) {
      return { status: 200, body: handler(method, path) as T };
    },
    async stream() {
      throw new Error('not used');
    },
    async upgrade() {
      throw new Error('not used');
    },
  });
}

const versionBody = {
  Version: '0.1.0', ApiVersion: '1.51', MinAPIVersion: '1.24', GitCommit: 'abc', GoVersion: 'node v20',
  Os: 'linux', Arch: 'amd64', KernelVersion: '6.1', BuildTime: 'now', Platform: { Name: 'Berth Engine' },
};

describe('berth CLI dispatch', () => {
  it('runs `version` against the host from -H, then BERTH_HOST, then the default', async () => {
    const hosts: string[] = [];
    const mk = (h: string) => {
      hosts.push(h);
      return fakeApi(() => versionBody)(h);
    };
    const io = recIo();
    expect(await runCli(['-H', 'unix:///x.sock', 'version'], io, mk)).toBe(0);
    expect(io.outText).toContain('API version:      1.51 (minimum version 1.24)');
    await runCli(['version'], { ...recIo(), env: { BERTH_HOST: 'unix:///env.sock' } }, mk);
    await runCli(['version'], recIo(), mk);
    expect(hosts).toEqual(['unix:///x.sock', 'unix:///env.sock', 'unix:///run/berth/berth.sock']);
  });

  it('resolves two-word commands (system jobs) and aliases (system info)', async () => {
    const paths: string[] = [];
    const mk = fakeApi((_m, p) => {
      paths.push(p);
      return p === '/berth/jobs' ? [] : { Containers: 0, Plugins: {}, Swarm: {} };
    });
    expect(await runCli(['system', 'jobs'], recIo(), mk)).toBe(0);
    expect(await runCli(['system', 'info'], recIo(), mk)).toBe(0);
    expect(paths).toEqual(['/berth/jobs', '/info']);
  });

  it('exits 125 on a flag error without calling the daemon', async () => {
    let called = false;
    const io = recIo();
    const code = await runCli(['version', '--bogus'], io, fakeApi(() => ((called = true), versionBody)));
    expect(code).toBe(125);
    expect(called).toBe(false);
    expect(io.errText).toContain('unknown flag: --bogus');
  });

  it("prints the daemon's error as docker does and exits 1", async () => {
    const io = recIo();
    const mk = (h: string): Api => ({
      ...fakeApi(() => null)(h),
      call: async () => {
        throw new ApiError(500, 'boom');
      },
    });
    expect(await runCli(['info'], io, mk)).toBe(1);
    expect(io.errText).toBe('Error response from daemon: boom\n');
  });

  it('says when the daemon is unreachable', async () => {
    const io = recIo();
    const mk = (h: string): Api => ({
      ...fakeApi(() => null)(h),
      call: async () => {
        throw new ConnectError(h, new Error('ENOENT'));
      },
    });
    expect(await runCli(['info'], io, mk)).toBe(1);
    expect(io.errText).toMatch(/^Cannot connect to the berth daemon at unix:\/\/\/run\/berth\/berth.sock/);
  });

  it('refuses an unknown command', async () => {
    const io = recIo();
    expect(await runCli(['frobnicate'], io, fakeApi(() => null))).toBe(1);
    expect(io.errText).toContain("'frobnicate' is not a berth command");
  });

  it('prints a command usage for --help', async () => {
    const io = recIo();
    expect(await runCli(['system', 'jobs', '--help'], io, fakeApi(() => null))).toBe(0);
    expect(io.outText).toMatch(/^Usage:  berth system jobs/);
  });
});
