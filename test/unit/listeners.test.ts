// berthd's listeners without root: -H parsing, the exposure rule, planning against a fake host
// (systemd fds, socket dirs, ports, TLS files), then real servers on loopback and a temp dir: plain
// and TLS requests, refused TLS clients and their log lines, hijacked connections on every kind.
import { createServer, type Server } from 'node:net';
import { mkdtempSync, rmSync, statSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  checkExposure,
  decodeProcAddress,
  describeTlsRefusal,
  inspectFd,
  isLoopback,
  looksLikePlainHttp,
  openListeners,
  parseHost,
  planListeners,
  PLAIN_HTTP_ON_TLS,
  type Handler,
  type ListenerSettings,
  type ListenPlan,
  type PlanHost,
} from '../../daemon/listeners.js';
import { loadConfig, type Config } from '../../daemon/config.js';
import { tcpApi, unixApi, connectApi, type Api, ApiError, ConnectError } from '../../client/api.js';
import type { Log } from '../../drivers/log.js';
import { hasOpenssl, makePki, type Pki } from './listeners-certs.js';

const withOpenssl = await hasOpenssl();
if (!withOpenssl) console.log('skipping TLS listener tests: no openssl on PATH to make certificates');

interface Line {
  level: string;
  obj: Record<string, unknown>;
  msg: string;
}

function recLog(): { log: Log; lines: Line[] } {
  const lines: Line[] = [];
  const fn =
    (level: string) =>
    (a: object | string, b?: string): void =>
      void lines.push(typeof a === 'string' ? { level, obj: {}, msg: a } : { level, obj: a as Record<string, unknown>, msg: b ?? '' });
  const log: Log = { trace: fn('trace'), debug: fn('debug'), info: fn('info'), warn: fn('warn'), error: fn('error'), child: () => log };
  return { log, lines };
}

const base: ListenerSettings = {
  hosts: [],
  execRoot: '/run/berth',
  tls: false,
  tlsVerify: false,
  tlsCaCert: '/etc/berth/ca.pem',
  tlsCert: '/etc/berth/cert.pem',
  tlsKey: '/etc/berth/key.pem',
  insecureTcpListener: false,
};

describe('parseHost', () => {
  it.each([
    ['unix:///run/berth/berth.sock', { kind: 'unix', path: '/run/berth/berth.sock' }],
    ['tcp://127.0.0.1:2376', { kind: 'tcp', address: '127.0.0.1', port: 2376 }],
    ['tcp://0.0.0.0:2375/', { kind: 'tcp', address: '0.0.0.0', port: 2375 }],
    ['tcp://[::1]:2376', { kind: 'tcp', address: '::1', port: 2376 }],
    ['tcp://localhost:80', { kind: 'tcp', address: '127.0.0.1', port: 80 }],
    ['tcp://127.0.0.1', { kind: 'tcp', address: '127.0.0.1', port: 2375 }],
    ['fd://', { kind: 'fd', fd: 'all' }],
    ['fd://4', { kind: 'fd', fd: 4 }],
  ])('%s', (url, want) => {
    expect(parseHost(url)).toMatchObject({ url, ...want });
  });

  it('defaults the port to 2376 with TLS, as dockerd', () => {
    expect(parseHost('tcp://127.0.0.1', true)).toMatchObject({ port: 2376 });
  });

  it.each([
    ['tcp://', /an address is required/],
    ['tcp://:2376', /an address is required/],
    ['udp://x', /unsupported scheme "udp"/],
    ['http://127.0.0.1:80', /unsupported scheme "http"/],
    ['127.0.0.1:2376', /want unix:\/\/\/absolute\/path, tcp:\/\/ADDR:PORT, fd:\/\/ or fd:\/\/N/],
    ['unix://relative.sock', /absolute/],
    ['tcp://example.com:2376', /must be an IP address/],
    ['tcp://127.0.0.1:70000', /port must be 0-65535/],
    ['tcp://127.0.0.1:', /empty port/],
    ['tcp://127.0.0.1:2376/v1', /no path/],
    ['fd://2', /N >= 3/],
    ['fd://x', /N >= 3/],
  ])('refuses %s', (url, msg) => {
    expect(() => parseHost(url)).toThrow(msg);
    expect(() => parseHost(url)).toThrow(`invalid host "${url}"`);
  });
});

describe('exposure', () => {
  it('knows loopback addresses', () => {
    for (const a of ['127.0.0.1', '127.9.9.9', '::1', '::ffff:127.0.0.1']) expect(isLoopback(a), a).toBe(true);
    for (const a of ['0.0.0.0', '::', '10.0.0.1', '128.0.0.1', '::2', 'localhost']) expect(isLoopback(a), a).toBe(false);
  });

  it('refuses plain TCP and unverified TLS off loopback, naming the flag; allows them when told', () => {
    expect(() => checkExposure('tcp://0.0.0.0:2375', '0.0.0.0', base)).toThrow(/over plain TCP on tcp:\/\/0.0.0.0:2375.*--insecure-tcp-listener/);
    expect(() => checkExposure('tcp://0.0.0.0:2376', '0.0.0.0', { ...base, tls: true })).toThrow(/TLS without client verification/);
    expect(() => checkExposure('tcp://0.0.0.0:2376', '0.0.0.0', { ...base, tls: true, tlsVerify: true })).not.toThrow();
    expect(() => checkExposure('tcp://0.0.0.0:2375', '0.0.0.0', { ...base, insecureTcpListener: true })).not.toThrow();
    expect(() => checkExposure('tcp://127.0.0.1:2375', '127.0.0.1', base)).not.toThrow();
  });
});

describe('berthd TLS flags', () => {
  const cfg = (argv: string[]) => loadConfig(argv) as Config;

  it('defaults to no TLS and files under /etc/berth', () => {
    expect(cfg([])).toMatchObject({
      tls: false,
      tlsVerify: false,
      tlsCaCert: '/etc/berth/ca.pem',
      tlsCert: '/etc/berth/cert.pem',
      tlsKey: '/etc/berth/key.pem',
      insecureTcpListener: false,
    });
  });

  it('--tlsverify implies --tls; takes the files; --tlsverify=false keeps TLS off', () => {
    const c = cfg(['-H', 'tcp://0.0.0.0:2376', '--tlsverify', '--tlscacert', '/c/ca.pem', '--tlscert=/c/s.pem', '--tlskey', '/c/s.key']);
    expect(c).toMatchObject({ hosts: ['tcp://0.0.0.0:2376'], tls: true, tlsVerify: true, tlsCaCert: '/c/ca.pem', tlsCert: '/c/s.pem', tlsKey: '/c/s.key' });
    expect(cfg(['--tls'])).toMatchObject({ tls: true, tlsVerify: false });
    expect(cfg(['--tlsverify=false'])).toMatchObject({ tls: false, tlsVerify: false });
  });

  it('reads the same keys from the config file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'berth-unit-tlscfg-'));
    try {
      const f = join(dir, 'daemon.json');
      writeFileSync(f, JSON.stringify({ hosts: ['tcp://0.0.0.0:2376'], tlsverify: true, tlscert: '/x/cert.pem', 'insecure-tcp-listener': false }));
      expect(cfg(['--config-file', f])).toMatchObject({ tls: true, tlsVerify: true, tlsCert: '/x/cert.pem' });
      writeFileSync(f, JSON.stringify({ hosts: ['tcp://0.0.0.0:2375'], 'insecure-tcp-listener': true }));
      expect(cfg(['--config-file', f])).toMatchObject({ insecureTcpListener: true, tls: false });
    } finally {
      rmSync(dir, { recursive: true });
    }
  });

  it('refuses bad hosts and exposed plain TCP at flag time', () => {
    expect(() => cfg(['-H', 'tcp://'])).toThrow(/invalid host "tcp:\/\/"/);
    expect(() => cfg(['-H', 'udp://x'])).toThrow(/invalid host "udp:\/\/x"/);
    expect(() => cfg(['-H', 'tcp://0.0.0.0:2375'])).toThrow(/--insecure-tcp-listener/);
    expect(cfg(['-H', 'tcp://0.0.0.0:2375', '--insecure-tcp-listener']).insecureTcpListener).toBe(true);
  });
});

describe('/proc socket decoding', () => {
  it('decodes /proc/net/tcp and tcp6 local addresses', () => {
    expect(decodeProcAddress('0100007F:0948')).toEqual({ address: '127.0.0.1', port: 2376 });
    expect(decodeProcAddress('00000000:0947')).toEqual({ address: '0.0.0.0', port: 2375 });
    expect(decodeProcAddress('00000000000000000000000001000000:0948')).toEqual({ address: '::1', port: 2376 });
    expect(decodeProcAddress('00000000000000000000000000000000:0948')).toEqual({ address: '::', port: 2376 });
    const mapped = decodeProcAddress('0000000000000000FFFF00000100007F:0948');
    expect(isLoopback(mapped.address)).toBe(true);
  });
});

/** A fake host for planning: fds, /proc/net tables, files, directories. */
function fakeHost(over: Partial<PlanHost> & { files?: Record<string, string | Error>; dirs?: string[]; sockets?: string[]; fds?: Record<number, string> } = {}): PlanHost {
  const files = over.files ?? {};
  return {
    pid: 4242,
    env: {},
    readFile(p) {
      const f = files[p];
      if (f instanceof Error) throw f;
      if (f === undefined) throw Object.assign(new Error(`ENOENT: ${p}`), { code: 'ENOENT' });
      return Buffer.from(f);
    },
    stat: (p) => ((over.dirs ?? ['/run/berth', '/srv']).includes(p) ? 'dir' : (over.sockets ?? []).includes(p) ? 'socket' : p in files ? 'other' : undefined),
    fdTarget: (fd) => over.fds?.[fd],
    procNet: (name) =>
      ({
        unix: 'Num       RefCount Protocol Flags    Type St Inode Path\n0000: 00000002 00000000 00010000 0001 01 1001 /run/berth.sock\n0000: 00000002 00000000 00000000 0001 03 1002 /run/conn.sock\n0000: 00000002 00000000 00000000 0002 01 1005 /run/dgram.sock\n',
        tcp: '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n   0: 0100007F:0948 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1003 1 0\n   1: 00000000:0947 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1004 1 0\n   2: 0100007F:0949 0100007F:D431 01 00000000:00000000 00:00000000 00000000     0        0 1006 1 0\n',
        tcp6: '  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n',
      })[name],
    probeTcp: async () => {},
    ...over,
  };
}

describe('planListeners (fake host)', () => {
  const fds = { 3: 'socket:[1001]', 4: 'socket:[1003]', 5: 'socket:[1004]', 6: 'socket:[1002]', 7: '/dev/null', 8: 'socket:[1005]', 9: 'socket:[1006]', 10: 'socket:[9999]' };
  const systemd = (n: number) => ({ LISTEN_PID: '4242', LISTEN_FDS: String(n) });

  it('takes every socket systemd passed for fd:// and one for fd://N', async () => {
    const plan = await planListeners({ ...base, hosts: ['fd://'] }, fakeHost({ env: systemd(2), fds }));
    expect(plan.listeners).toEqual([
      { kind: 'fd', url: 'fd://3', fd: 3, family: 'unix', local: '/run/berth.sock', tls: false },
      { kind: 'fd', url: 'fd://4', fd: 4, family: 'tcp', local: '127.0.0.1:2376', tls: false },
    ]);
    const one = await planListeners({ ...base, hosts: ['fd://4'] }, fakeHost({ env: systemd(2), fds }));
    expect(one.listeners.map((l) => l.url)).toEqual(['fd://4']);
  });

  it('refuses fd:// when the sockets are not for this process or out of range', async () => {
    await expect(planListeners({ ...base, hosts: ['fd://'] }, fakeHost({ fds }))).rejects.toThrow(/no sockets were passed by systemd/);
    await expect(planListeners({ ...base, hosts: ['fd://'] }, fakeHost({ env: { LISTEN_PID: '1', LISTEN_FDS: '1' }, fds }))).rejects.toThrow(/no sockets were passed/);
    await expect(planListeners({ ...base, hosts: ['fd://5'] }, fakeHost({ env: systemd(2), fds }))).rejects.toThrow(/systemd passed fds 3-4, not 5/);
    await expect(planListeners({ ...base, hosts: ['fd://3', 'fd://'] }, fakeHost({ env: systemd(1), fds }))).rejects.toThrow(/listed twice/);
  });

  it.each([
    [7, /fd 7 is not a socket \(\/dev\/null\)/],
    [6, /not a listening stream socket/],
    [8, /not a listening stream socket/],
    [9, /TCP socket is not listening/],
    [10, /not a unix or TCP stream socket/],
    [11, /fd 11 is not open/],
  ])('refuses fd %i', (fd, msg) => {
    expect(() => inspectFd(fd, fakeHost({ fds }))).toThrow(msg);
  });

  it('applies the exposure rule to TCP sockets from systemd', async () => {
    await expect(planListeners({ ...base, hosts: ['fd://5'] }, fakeHost({ env: systemd(3), fds }))).rejects.toThrow(/fd:\/\/5 \(0.0.0.0:2375\).*--insecure-tcp-listener/);
    const plan = await planListeners({ ...base, hosts: ['fd://5'], insecureTcpListener: true }, fakeHost({ env: systemd(3), fds }));
    expect(plan.warnings).toEqual([expect.stringContaining('without client verification')]);
  });

  it('checks unix socket directories and paths, and duplicates', async () => {
    await expect(planListeners({ ...base, hosts: ['unix:///nope/b.sock'] }, fakeHost())).rejects.toThrow('cannot listen on unix:///nope/b.sock: directory /nope does not exist');
    await expect(planListeners({ ...base, hosts: ['unix:///srv/b.sock'] }, fakeHost({ files: { '/srv/b.sock': 'x' } }))).rejects.toThrow(/exists and is not a socket/);
    await expect(planListeners({ ...base, hosts: ['unix:///srv/b.sock', 'unix:///srv/b.sock'] }, fakeHost())).rejects.toThrow(/listed twice/);
    // the exec root is berthd's to make
    const plan = await planListeners({ ...base, execRoot: '/new/run', hosts: ['unix:///new/run/b.sock', 'unix:///srv/b.sock'] }, fakeHost({ sockets: ['/srv/b.sock'] }));
    expect(plan.listeners).toHaveLength(2);
    expect(plan.tls).toBeUndefined();
  });

  it('reports a TCP port in use or an address not on this host before anything else', async () => {
    const inUse = fakeHost({ probeTcp: async () => Promise.reject(Object.assign(new Error('x'), { code: 'EADDRINUSE' })) });
    await expect(planListeners({ ...base, hosts: ['tcp://127.0.0.1:2375'] }, inUse)).rejects.toThrow('cannot listen on tcp://127.0.0.1:2375: the address is already in use');
    const notHere = fakeHost({ probeTcp: async () => Promise.reject(Object.assign(new Error('x'), { code: 'EADDRNOTAVAIL' })) });
    await expect(planListeners({ ...base, hosts: ['tcp://127.0.0.2:2375'] }, notHere)).rejects.toThrow(/not one of this host's/);
    await expect(planListeners({ ...base, hosts: ['tcp://127.0.0.1:1', 'tcp://127.0.0.1:1'] }, fakeHost())).rejects.toThrow(/listed twice/);
  });
});

describe.skipIf(!withOpenssl)('TLS material', () => {
  let dir: string;
  let pki: Pki;
  let pem: Record<string, string>;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'berth-unit-pki-'));
    pki = await makePki(dir);
    pem = Object.fromEntries(Object.entries(pki).filter(([k]) => k !== 'dir').map(([, p]) => [p, readFileSync(p, 'utf8')]));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const tlsHosts = (over: Partial<ListenerSettings> = {}): ListenerSettings => ({
    ...base,
    hosts: ['tcp://127.0.0.1:2376'],
    tls: true,
    tlsVerify: true,
    tlsCaCert: pki.ca,
    tlsCert: pki.serverCert,
    tlsKey: pki.serverKey,
    ...over,
  });

  it('loads cert, key and CA for a TLS listener', async () => {
    const plan = await planListeners(tlsHosts(), fakeHost({ files: pem }));
    expect(plan.tls?.verify).toBe(true);
    expect(plan.tls?.ca?.toString()).toBe(pem[pki.ca]);
    expect(plan.listeners[0]).toMatchObject({ kind: 'tcp', tls: true });
    expect(plan.warnings).toEqual([]);
  });

  it('does not read the CA without --tlsverify, nor anything without a TCP listener', async () => {
    const noCa = { ...pem };
    delete noCa[pki.ca];
    expect((await planListeners(tlsHosts({ tlsVerify: false }), fakeHost({ files: noCa }))).tls?.ca).toBeUndefined();
    expect((await planListeners(tlsHosts({ hosts: ['unix:///srv/b.sock'] }), fakeHost({ files: {} }))).tls).toBeUndefined();
  });

  it.each([
    ['a missing certificate', { tlsCert: '/nope/cert.pem' }, 'cannot read --tlscert /nope/cert.pem: no such file'],
    ['a missing key', { tlsKey: '/nope/key.pem' }, 'cannot read --tlskey /nope/key.pem: no such file'],
    ['a missing CA', { tlsCaCert: '/nope/ca.pem' }, 'cannot read --tlscacert /nope/ca.pem: no such file'],
    ['an unreadable key', { tlsKey: '/locked/key.pem' }, 'cannot read --tlskey /locked/key.pem: permission denied'],
    ['a key that does not match', { tlsKey: 'STRAY' }, 'does not match the certificate in --tlscert'],
    ['a certificate that is no PEM', { tlsCert: '/junk.pem' }, 'holds no PEM certificate'],
    ['a CA that is no PEM', { tlsCaCert: '/junk.pem' }, '--tlscacert /junk.pem holds no PEM certificate'],
    ['a key that is no PEM', { tlsKey: '/junk.pem' }, 'holds no usable private key'],
  ])('refuses %s', async (_what, over, msg) => {
    const files = { ...pem, '/locked/key.pem': Object.assign(new Error('EACCES'), { code: 'EACCES' }), '/junk.pem': 'not a pem\n' };
    const o = { ...over } as Partial<ListenerSettings>;
    if (o.tlsKey === 'STRAY') o.tlsKey = pki.strayKey;
    await expect(planListeners(tlsHosts(o), fakeHost({ files }))).rejects.toThrow(msg);
  });

  it('warns about an expired server certificate', async () => {
    const plan = await planListeners(tlsHosts({ tlsCert: pki.expiredServerCert }), fakeHost({ files: pem }));
    expect(plan.warnings).toEqual([expect.stringMatching(/expired on/)]);
  });
});

describe('TLS refusal reasons', () => {
  it('names the reason an operator needs', () => {
    expect(describeTlsRefusal({ code: 'ECONNRESET', message: 'socket hang up' }, 'CERT_HAS_EXPIRED')).toBe('client certificate has expired');
    expect(describeTlsRefusal({ code: 'ECONNRESET', message: 'socket hang up' }, 'UNABLE_TO_VERIFY_LEAF_SIGNATURE')).toMatch(/not signed by the CA/);
    expect(describeTlsRefusal({ code: 'ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE', message: 'x' })).toBe('no client certificate');
    expect(describeTlsRefusal({ code: 'ERR_SSL_UNSUPPORTED_PROTOCOL', message: 'x' })).toMatch(/below 1.2/);
    expect(describeTlsRefusal({ code: 'ECONNRESET', message: 'socket hang up' }, null)).toBeUndefined();
    expect(describeTlsRefusal({ code: 'ERR_SSL_X', message: 'long', reason: 'tlsv1 alert unknown ca' })).toBe('tlsv1 alert unknown ca');
  });

  it('tells plain HTTP from a TLS ClientHello', () => {
    expect(looksLikePlainHttp(Buffer.from('GET /_ping HTTP/1.1\r\n'))).toBe(true);
    expect(looksLikePlainHttp(Buffer.from('HEAD /_ping HTTP/1.1\r\n'))).toBe(true);
    expect(looksLikePlainHttp(Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00]))).toBe(false);
  });
});

/** Answers /_ping with OK; a `Connection: Upgrade` request is hijacked and echoes until the client's end, then says bye. */
const handler: Handler = (req, res) => {
  if (req.headers.upgrade) {
    const sock = res.socket!;
    sock.write('HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.raw-stream\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n');
    sock.on('data', (d: Buffer) => sock.write(d));
    sock.on('end', () => sock.end('bye'));
    return;
  }
  res.setHeader('Content-Type', 'text/plain');
  res.end(req.url === '/_ping' ? 'OK' : 'other');
};

async function echo(api: Api): Promise<string> {
  const { socket, head, tty } = await api.upgrade('POST', '/containers/x/attach');
  expect(tty).toBe(true);
  const chunks: Buffer[] = [head];
  socket.on('data', (c: Buffer) => chunks.push(c));
  const ended = new Promise<void>((r) => socket.once('end', () => r()));
  socket.write('ping');
  await new Promise((r) => setTimeout(r, 30));
  socket.end(); // half-close, as docker attach without stdin
  await ended;
  socket.destroy();
  return Buffer.concat(chunks).toString();
}

describe.skipIf(!withOpenssl)('openListeners (loopback and a temp dir)', () => {
  let dir: string;
  let pki: Pki;
  let plan: ListenPlan;
  let lines: Line[];
  let listeners: Awaited<ReturnType<typeof openListeners>>;
  let plainPort: number;
  let tlsPort: number;
  const read = (p: string) => readFileSync(p);
  const clientTls = (cert: string, key = '') => ({ verify: true, ca: read(pki.ca), cert: read(cert), key: read(key || pki.clientKey) });

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'berth-unit-listen-'));
    pki = await makePki(dir);
    const rec = recLog();
    lines = rec.lines;
    plan = await planListeners({
      ...base,
      execRoot: dir,
      hosts: [`unix://${dir}/b.sock`, 'tcp://127.0.0.1:0', 'tcp://127.0.0.1:0'],
      tls: true,
      tlsVerify: true,
      tlsCaCert: pki.ca,
      tlsCert: pki.serverCert,
      tlsKey: pki.serverKey,
    });
    // the second TCP listener plain (as a loopback listener without --tls would be)
    plan.listeners[1] = { ...(plan.listeners[1] as Extract<ListenPlan['listeners'][number], { kind: 'tcp' }>), tls: false };
    listeners = await openListeners(plan, handler, { log: rec.log });
    plainPort = Number(/:(\d+)$/.exec(listeners.urls[1]!)![1]);
    tlsPort = Number(/:(\d+) \(tls verify\)$/.exec(listeners.urls[2]!)![1]);
  });
  afterAll(async () => {
    if (listeners) {
      const closed = listeners.close();
      listeners.closeAllConnections();
      await closed;
      listeners.removeSocketFiles();
    }
    rmSync(dir, { recursive: true, force: true });
  });

  it('reports what it serves, with the real ports', () => {
    expect(listeners.urls).toEqual([`unix://${dir}/b.sock`, `tcp://127.0.0.1:${plainPort}`, `tcp://127.0.0.1:${tlsPort} (tls verify)`]);
    expect(listeners.socketFiles).toEqual([`${dir}/b.sock`]);
    expect(statSync(`${dir}/b.sock`).mode & 0o777).toBe(0o660);
  });

  it('serves the unix socket, plain TCP and TLS with a client certificate', async () => {
    expect((await unixApi(`unix://${dir}/b.sock`).call('GET', '/_ping')).body).toBe('OK');
    expect((await tcpApi(`tcp://127.0.0.1:${plainPort}`).call('GET', '/_ping')).body).toBe('OK');
    const api = tcpApi(`tcp://127.0.0.1:${tlsPort}`, clientTls(pki.clientCert));
    expect((await api.call('GET', '/_ping')).body).toBe('OK');
    expect((await api.call('GET', '/version')).body).toBe('other'); // the same kept-alive connection
    // localhost is in the certificate too; the client checks the name it dialled
    const byName = connectApi({ host: `tcp://localhost:${tlsPort}`, tls: { verify: true, caFile: pki.ca, certFile: pki.clientCert, keyFile: pki.clientKey } });
    expect((await byName.call('GET', '/_ping')).body).toBe('OK');
  });

  it('hijacks upgraded connections on every kind of listener, half-close included', async () => {
    expect(await echo(unixApi(`unix://${dir}/b.sock`))).toBe('pingbye');
    expect(await echo(tcpApi(`tcp://127.0.0.1:${plainPort}`))).toBe('pingbye');
    expect(await echo(tcpApi(`tcp://127.0.0.1:${tlsPort}`, clientTls(pki.clientCert)))).toBe('pingbye');
  });

  const refusals = (): Line[] => lines.filter((l) => l.msg.startsWith('refused a'));

  it.each([
    ['no client certificate', () => ({ verify: true, ca: read(pki.ca) }), 'no client certificate'],
    ['a certificate from another CA', () => clientTls(pki.otherCaCert), 'client certificate is not signed by the CA in --tlscacert (UNABLE_TO_VERIFY_LEAF_SIGNATURE)'],
    ['an expired certificate', () => clientTls(pki.expiredCert), 'client certificate has expired'],
  ])('refuses %s and logs why', async (_what, tls, reason) => {
    const before = refusals().length;
    const err = await tcpApi(`tcp://127.0.0.1:${tlsPort}`, tls()).call('GET', '/_ping').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConnectError);
    expect((err as Error).message).toMatch(/error during connect: GET "https:\/\/127.0.0.1:\d+\/_ping": .*closed the TLS connection/);
    await new Promise((r) => setTimeout(r, 50));
    const got = refusals().slice(before);
    expect(got).toHaveLength(1);
    expect(got[0]).toMatchObject({ level: 'warn', obj: { reason, listener: `tcp://127.0.0.1:0`, remote: expect.stringMatching(/^127\.0\.0\.1:\d+$/) } });
  });

  it('answers plain HTTP on the TLS port as Go does, and logs it', async () => {
    const err = await tcpApi(`tcp://127.0.0.1:${tlsPort}`).call('GET', '/_ping').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect((err as ApiError).status).toBe(400);
    expect((err as ApiError).message).toBe(PLAIN_HTTP_ON_TLS);
    await new Promise((r) => setTimeout(r, 20));
    expect(refusals().at(-1)).toMatchObject({ obj: { reason: 'plain HTTP on a TLS listener' } });
  });

  it('refuses TLS below 1.2', async () => {
    const before = refusals().length;
    const err = await new Promise<Error>((resolve) => {
      const s = tlsConnect({ host: '127.0.0.1', port: tlsPort, maxVersion: 'TLSv1.1', minVersion: 'TLSv1', ciphers: 'DEFAULT:@SECLEVEL=0', rejectUnauthorized: false });
      s.once('error', resolve);
      s.once('secureConnect', () => resolve(new Error('connected')));
    });
    expect(err.message).not.toBe('connected');
    await new Promise((r) => setTimeout(r, 50));
    expect(refusals().slice(before)).toEqual([expect.objectContaining({ obj: expect.objectContaining({ reason: expect.stringMatching(/below 1.2|protocol/) }) })]);
  });

  it('a client that does not trust the server says so', async () => {
    const err = await tcpApi(`tcp://127.0.0.1:${tlsPort}`, { verify: true, ca: read(pki.otherCa), cert: read(pki.clientCert), key: read(pki.clientKey) })
      .call('GET', '/_ping')
      .catch((e: unknown) => e);
    expect((err as Error).message).toMatch(/certificate.*checking the daemon's certificate against --tlscacert/);
  });
  it('closes within a second once asked, with no connection of the tests above left behind', async () => {
    const closed = listeners.close();
    const t0 = Date.now();
    const r = await Promise.race([closed.then(() => 'closed'), new Promise((res) => setTimeout(() => res('open'), 1500))]);
    expect(r).toBe('closed');
    expect(Date.now() - t0).toBeLessThan(1000);
    listeners.removeSocketFiles();
    expect(existsSync(`${dir}/b.sock`)).toBe(false);
  });
});

describe.skipIf(!withOpenssl)('openListeners failures', () => {
  it('closes what it opened and removes its socket file when a later listener fails', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'berth-unit-listenfail-'));
    const blocker: Server = createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', () => r()));
    const port = (blocker.address() as import('node:net').AddressInfo).port;
    try {
      // planned while the port was free; taken before the listeners open
      const plan: ListenPlan = {
        listeners: [
          { kind: 'unix', url: `unix://${dir}/b.sock`, path: `${dir}/b.sock` },
          { kind: 'tcp', url: `tcp://127.0.0.1:${port}`, address: '127.0.0.1', port, tls: false },
        ],
        warnings: [],
      };
      await expect(openListeners(plan, handler, { log: recLog().log })).rejects.toThrow(`cannot listen on tcp://127.0.0.1:${port}: the address is already in use`);
      expect(existsSync(`${dir}/b.sock`)).toBe(false);
    } finally {
      blocker.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
