// The CLI's side of the remote API: which daemon and how (flags, BERTH_* then DOCKER_* variables,
// docker's default-file rules), files read before any request, and runCli handing TLS settings on.
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { connectApi, parseTcpHost, resolveTarget, type Api, type Target } from '../../client/api.js';
import { runCli } from '../../client/main.js';
import type { Io } from '../../client/command.js';

const none = () => false;
const all = () => true;

describe('resolveTarget', () => {
  it('takes -H, then BERTH_HOST, then DOCKER_HOST, then the default socket', () => {
    const env = { BERTH_HOST: 'tcp://b:1', DOCKER_HOST: 'tcp://d:2' };
    expect(resolveTarget({ host: ['unix:///a.sock', 'tcp://h:3'] }, env, '/home/u', none).host).toBe('tcp://h:3');
    expect(resolveTarget({}, env, '/home/u', none).host).toBe('tcp://b:1');
    expect(resolveTarget({}, { DOCKER_HOST: 'tcp://d:2', BERTH_HOST: '' }, '/home/u', none).host).toBe('tcp://d:2');
    expect(resolveTarget({}, {}, '/home/u', none)).toEqual({ host: 'unix:///run/berth/berth.sock' });
  });

  it('is plain without --tls, --tlsverify or a TLS_VERIFY variable', () => {
    expect(resolveTarget({ host: ['tcp://h:2376'] }, { DOCKER_CERT_PATH: '/c' }, '/home/u', all).tls).toBeUndefined();
  });

  it('--tlsverify: CA required, default client files from ~/.berth when they exist', () => {
    expect(resolveTarget({ tlsverify: true }, {}, '/home/u', all).tls).toEqual({
      verify: true,
      caFile: '/home/u/.berth/ca.pem',
      certFile: '/home/u/.berth/cert.pem',
      keyFile: '/home/u/.berth/key.pem',
    });
    expect(resolveTarget({ tlsverify: true }, {}, '/home/u', none).tls).toEqual({ verify: true, caFile: '/home/u/.berth/ca.pem' });
  });

  it('--tls alone: TLS without checking the daemon, no CA', () => {
    expect(resolveTarget({ tls: true }, {}, '/home/u', none).tls).toEqual({ verify: false });
  });

  it('--tlsverify=false still turns TLS on, as docker', () => {
    expect(resolveTarget({ tlsverify: false }, {}, '/home/u', none).tls).toEqual({ verify: false });
  });

  it('honours BERTH_TLS_VERIFY / BERTH_CERT_PATH before DOCKER_TLS_VERIFY / DOCKER_CERT_PATH, and --config', () => {
    expect(resolveTarget({}, { BERTH_TLS_VERIFY: '1', BERTH_CERT_PATH: '/b', DOCKER_CERT_PATH: '/d' }, '/home/u', all).tls).toMatchObject({ verify: true, caFile: '/b/ca.pem', certFile: '/b/cert.pem' });
    expect(resolveTarget({}, { DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: '/d' }, '/home/u', all).tls).toMatchObject({ verify: true, caFile: '/d/ca.pem', keyFile: '/d/key.pem' });
    expect(resolveTarget({ tlsverify: true, config: '/cfg' }, {}, '/home/u', none).tls).toMatchObject({ caFile: '/cfg/ca.pem' });
    expect(resolveTarget({}, { DOCKER_TLS_VERIFY: '' }, '/home/u', all).tls).toBeUndefined();
  });

  it('flags name files that must exist; they win over the cert path', () => {
    expect(resolveTarget({ tlsverify: true, tlscacert: '/x/ca', tlscert: '/x/c', tlskey: '/x/k' }, { BERTH_CERT_PATH: '/b' }, '/home/u', none).tls).toEqual({
      verify: true,
      caFile: '/x/ca',
      certFile: '/x/c',
      keyFile: '/x/k',
    });
  });
});

describe('connectApi', () => {
  const files: Record<string, string> = { '/c/ca.pem': 'CA', '/c/cert.pem': 'CERT', '/c/key.pem': 'KEY' };
  const read = (p: string) => {
    if (!(p in files)) throw Object.assign(new Error('nope'), { code: 'ENOENT' });
    return Buffer.from(files[p]!);
  };

  it('reads the files before any request and names the missing one', () => {
    const t = (tls: Target['tls']): Target => ({ host: 'tcp://127.0.0.1:2376', ...(tls ? { tls } : {}) });
    expect(() => connectApi(t({ verify: true, caFile: '/c/none.pem' }), read)).toThrow('could not read CA certificate "/c/none.pem": no such file or directory');
    expect(() => connectApi(t({ verify: true, caFile: '/c/ca.pem', certFile: '/c/cert.pem', keyFile: '/c/none' }), read)).toThrow('could not read client key "/c/none"');
    expect(() => connectApi(t({ verify: true, caFile: '/c/ca.pem', certFile: '/c/cert.pem' }), read)).toThrow(/could not load X509 key pair: --tlscert \/c\/cert.pem has no --tlskey/);
    expect(connectApi(t({ verify: true, caFile: '/c/ca.pem', certFile: '/c/cert.pem', keyFile: '/c/key.pem' }), read).host).toBe('tcp://127.0.0.1:2376');
    expect(connectApi({ host: 'unix:///x.sock', tls: { verify: true, caFile: '/c/none' } }, read).host).toBe('unix:///x.sock'); // TLS is for tcp only
  });

  it('refuses other schemes', () => {
    expect(() => connectApi({ host: 'ssh://me@h' })).toThrow(/unsupported host "ssh:\/\/me@h"/);
  });

  it('parses tcp hosts with docker default ports', () => {
    expect(parseTcpHost('tcp://10.0.0.1', false)).toEqual({ hostname: '10.0.0.1', port: 2375 });
    expect(parseTcpHost('tcp://10.0.0.1', true)).toEqual({ hostname: '10.0.0.1', port: 2376 });
    expect(parseTcpHost('tcp://[::1]:9', true)).toEqual({ hostname: '::1', port: 9 });
    expect(parseTcpHost('tcp://daemon.example:2376/', true)).toEqual({ hostname: 'daemon.example', port: 2376 });
    expect(() => parseTcpHost('tcp://', true)).toThrow(/want tcp:\/\/HOST:PORT/);
    expect(() => parseTcpHost('tcp://h:0', true)).toThrow(/port must be 1-65535/);
  });
});

function recIo(env: Record<string, string> = {}): Io & { errText: string } {
  const io = {
    errText: '',
    out() {},
    err(s: string) {
      io.errText += s;
    },
    stdin: new PassThrough(),
    stdinIsTTY: false,
    stdoutIsTTY: false,
    env,
  };
  return io;
}

describe('runCli host and TLS selection', () => {
  const version = { Version: '0.1.0', ApiVersion: '1.51', MinAPIVersion: '1.24', Os: 'linux', Arch: 'amd64', Platform: { Name: 'Berth Engine' } };
  const recorder = () => {
    const got: { host: string; tls: Target['tls'] }[] = [];
    const mk = (host: string, tls?: Target['tls']): Api => {
      got.push({ host, tls });
      return {
        host,
        call: async <T,>() => ({ status: 200, body: version as T }),
        stream: async () => Promise.reject(new Error('unused')),
        upgrade: async () => Promise.reject(new Error('unused')),
      };
    };
    return { got, mk };
  };

  it('hands the TLS flags to the Api', async () => {
    const { got, mk } = recorder();
    const code = await runCli(['-H', 'tcp://10.0.0.1:2376', '--tlsverify', '--tlscacert', '/x/ca.pem', '--tlscert', '/x/c.pem', '--tlskey', '/x/k.pem', 'version'], recIo(), mk);
    expect(code).toBe(0);
    expect(got).toEqual([{ host: 'tcp://10.0.0.1:2376', tls: { verify: true, caFile: '/x/ca.pem', certFile: '/x/c.pem', keyFile: '/x/k.pem' } }]);
  });

  it('takes DOCKER_HOST and DOCKER_TLS_VERIFY from the environment', async () => {
    const { got, mk } = recorder();
    await runCli(['version'], recIo({ DOCKER_HOST: 'tcp://10.0.0.2:2376', DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: '/nonexistent-certs' }), mk);
    expect(got).toEqual([{ host: 'tcp://10.0.0.2:2376', tls: { verify: true, caFile: '/nonexistent-certs/ca.pem' } }]);
  });

  it('prints a missing certificate file as an error before any request (exit 125)', async () => {
    const io = recIo();
    const code = await runCli(['-H', 'tcp://127.0.0.1:1', '--tlsverify', '--tlscacert', '/nonexistent/ca.pem', 'version'], io);
    expect(code).toBe(125);
    expect(io.errText).toBe('berth: could not read CA certificate "/nonexistent/ca.pem": no such file or directory\n');
  });
});
