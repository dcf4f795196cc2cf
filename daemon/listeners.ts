// berthd's listeners. `-H` values become specs (unix:///path, tcp://ADDR:PORT, fd://, fd://N); the
// plan checks everything before the pidfile is taken (socket directories, ports free, systemd's
// sockets, certificate files, key against cert); then every listener is opened as a node:http or
// node:https server handing requests — and hijacked `Connection: Upgrade` connections — to the
// same handler. TLS applies to TCP listeners (tcp:// and TCP sockets from systemd); unix sockets
// are guarded by their file mode and group. Operators' view: contrib/systemd/README.md.
import { chmodSync, chownSync, existsSync, readFileSync, readlinkSync, statSync, unlinkSync } from 'node:fs';
import { createServer as createHttpServer, ServerResponse, type IncomingMessage, type Server } from 'node:http';
import { BlockList, connect, createServer as createNetServer, isIP, type Socket } from 'node:net';
import { dirname } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { BerthError, conflict, invalidParameter } from '../drivers/errors.js';
import type { Log } from '../drivers/log.js';

export const DEFAULT_TCP_PORT = 2375;
export const DEFAULT_TLS_PORT = 2376;
/** A TLS client must finish its handshake (and a new connection send its first byte) within this. */
export const HANDSHAKE_TIMEOUT_MS = 10_000;
/** The flag that allows a TCP listener without client certificates on a non-loopback address. */
export const INSECURE_FLAG = '--insecure-tcp-listener';
/** What berthd answers a plain HTTP request on a TLS port (Go's wording, which docker users know). */
export const PLAIN_HTTP_ON_TLS = 'Client sent an HTTP request to an HTTPS server.';

export type HostSpec =
  | { kind: 'unix'; url: string; path: string }
  | { kind: 'tcp'; url: string; address: string; port: number }
  | { kind: 'fd'; url: string; fd: number | 'all' };

const SYNTAX = 'want unix:///absolute/path, tcp://ADDR:PORT, fd:// or fd://N';

/** Parse one -H value; throws invalid_parameter with the reason. `tls` picks tcp's default port. */
export function parseHost(url: string, tls = false): HostSpec {
  const bad = (why: string) => invalidParameter(`invalid host "${url}": ${why}`);
  const m = /^([a-z]+):\/\/(.*)$/.exec(url);
  if (!m) throw bad(SYNTAX);
  const [, scheme, rest = ''] = m;
  switch (scheme) {
    case 'unix':
      if (!rest.startsWith('/')) throw bad('want unix:///absolute/path');
      if (rest.includes('\0')) throw bad('NUL in the path');
      return { kind: 'unix', url, path: rest };
    case 'tcp': {
      if (rest === '') throw bad('want tcp://ADDR:PORT (an address is required)');
      const hm = /^\[([0-9A-Fa-f:.]+)\](?::(\d*))?\/?$/.exec(rest) ?? /^([^:/[\]]*)(?::(\d*))?\/?$/.exec(rest);
      if (!hm) throw bad('want tcp://ADDR:PORT (no path; IPv6 in brackets: tcp://[::1]:2376)');
      let address = hm[1] ?? '';
      if (address === '') throw bad('want tcp://ADDR:PORT (an address is required: 127.0.0.1, 0.0.0.0, ::)');
      if (address === 'localhost') address = '127.0.0.1';
      if (!isIP(address)) throw bad('ADDR must be an IP address (or localhost)');
      if (hm[2] === '') throw bad('empty port');
      const port = hm[2] === undefined ? (tls ? DEFAULT_TLS_PORT : DEFAULT_TCP_PORT) : Number(hm[2]);
      if (!Number.isInteger(port) || port < 0 || port > 65535) throw bad('port must be 0-65535');
      return { kind: 'tcp', url, address, port };
    }
    case 'fd': {
      if (rest === '' || rest === '*') return { kind: 'fd', url, fd: 'all' };
      if (!/^\d+$/.test(rest) || Number(rest) < 3 || Number(rest) > 65535) throw bad('want fd:// (every socket from systemd) or fd://N with N >= 3');
      return { kind: 'fd', url, fd: Number(rest) };
    }
    default:
      throw bad(`unsupported scheme "${scheme}": ${SYNTAX}`);
  }
}

export function isLoopback(address: string): boolean {
  const family = isIP(address);
  if (family === 0) return false;
  const loop = new BlockList();
  loop.addSubnet('127.0.0.0', 8, 'ipv4');
  loop.addAddress('::1', 'ipv6');
  loop.addSubnet('::ffff:127.0.0.0', 104, 'ipv6');
  return loop.check(address, family === 4 ? 'ipv4' : 'ipv6');
}

/** The settings listeners need (Config has them all). */
export interface ListenerSettings {
  hosts: readonly string[];
  /** berthd makes this directory itself; any other socket directory must exist. */
  execRoot: string;
  /** --tls (or implied by --tlsverify): TCP listeners speak TLS. */
  tls: boolean;
  /** --tlsverify: clients must present a certificate signed by tlsCaCert. */
  tlsVerify: boolean;
  tlsCaCert: string;
  tlsCert: string;
  tlsKey: string;
  /** --insecure-tcp-listener: allow TCP without client verification on a non-loopback address. */
  insecureTcpListener: boolean;
}

/** Refuse a TCP listener anyone who reaches it could use, unless the operator said so. */
export function checkExposure(url: string, address: string, s: Pick<ListenerSettings, 'tls' | 'tlsVerify' | 'insecureTcpListener'>): void {
  if (isLoopback(address) || (s.tls && s.tlsVerify) || s.insecureTcpListener) return;
  const what = s.tls ? 'TLS without client verification' : 'plain TCP';
  throw invalidParameter(
    `refusing to serve the API over ${what} on ${url}: anyone who can reach ${address} would control this host. ` +
      `Use --tlsverify with --tlscacert, --tlscert and --tlskey, listen on 127.0.0.1, or pass ${INSECURE_FLAG} to accept the risk`,
  );
}

/** The pure part of the checks (flag parsing time): syntax and exposure of every -H value. */
export function validateHosts(s: Omit<ListenerSettings, 'execRoot'>): HostSpec[] {
  const specs = s.hosts.map((h) => parseHost(h, s.tls));
  for (const spec of specs) if (spec.kind === 'tcp') checkExposure(spec.url, spec.address, s);
  return specs;
}

export type PlannedListener =
  | { kind: 'unix'; url: string; path: string }
  | { kind: 'tcp'; url: string; address: string; port: number; tls: boolean }
  | { kind: 'fd'; url: string; fd: number; family: 'unix' | 'tcp'; /** path or address:port */ local: string; tls: boolean };

export interface TlsMaterial {
  cert: Buffer;
  key: Buffer;
  /** Present under --tlsverify. */
  ca?: Buffer;
  verify: boolean;
}

export interface ListenPlan {
  listeners: PlannedListener[];
  /** Loaded and checked when any listener speaks TLS. */
  tls?: TlsMaterial;
  /** Things worth a warning in the log (an expired server certificate, an insecure listener). */
  warnings: string[];
}

/** What planning reads from the host; the real one by default, a fake in unit tests. */
export interface PlanHost {
  pid: number;
  env: Readonly<Record<string, string | undefined>>;
  readFile(path: string): Buffer;
  /** kind of the path: 'dir', 'socket', 'other', or undefined when it does not exist. */
  stat(path: string): 'dir' | 'socket' | 'other' | undefined;
  /** readlink /proc/self/fd/N, undefined if the fd is not open. */
  fdTarget(fd: number): string | undefined;
  /** /proc/self/net/{unix,tcp,tcp6}. */
  procNet(name: 'unix' | 'tcp' | 'tcp6'): string;
  /** Bind and release address:port, to learn it is free before anything else is done. */
  probeTcp(address: string, port: number): Promise<void>;
}

export function realPlanHost(): PlanHost {
  return {
    pid: process.pid,
    env: process.env,
    readFile: (p) => readFileSync(p),
    stat(p) {
      try {
        const st = statSync(p);
        return st.isDirectory() ? 'dir' : st.isSocket() ? 'socket' : 'other';
      } catch {
        return undefined;
      }
    },
    fdTarget(fd) {
      try {
        return readlinkSync(`/proc/self/fd/${fd}`);
      } catch {
        return undefined;
      }
    },
    procNet: (name) => readFileSync(`/proc/self/net/${name}`, 'utf8'),
    probeTcp: (address, port) =>
      new Promise((resolve, reject) => {
        const s = createNetServer();
        s.once('error', reject);
        s.listen({ host: address, port, exclusive: true }, () => s.close(() => resolve()));
      }),
  };
}

/** Check every listener and load the TLS material; changes nothing. */
export async function planListeners(s: ListenerSettings, host: PlanHost = realPlanHost()): Promise<ListenPlan> {
  const specs = validateHosts(s);
  const listeners: PlannedListener[] = [];
  const warnings: string[] = [];
  const seen = new Set<string>();
  const once = (key: string, url: string) => {
    if (seen.has(key)) throw invalidParameter(`invalid host "${url}": listed twice`);
    seen.add(key);
  };
  for (const spec of specs) {
    if (spec.kind === 'unix') {
      once(`unix:${spec.path}`, spec.url);
      const dir = dirname(spec.path);
      if (dir !== s.execRoot && host.stat(dir) !== 'dir') throw invalidParameter(`cannot listen on ${spec.url}: directory ${dir} does not exist`);
      const kind = host.stat(spec.path);
      if (kind !== undefined && kind !== 'socket') throw invalidParameter(`cannot listen on ${spec.url}: ${spec.path} exists and is not a socket`);
      listeners.push(spec);
    } else if (spec.kind === 'tcp') {
      if (spec.port !== 0) once(`tcp:${spec.address}:${spec.port}`, spec.url);
      if (spec.port !== 0) await host.probeTcp(spec.address, spec.port).catch((e) => {
        throw listenError(spec.url, e);
      });
      listeners.push({ ...spec, tls: s.tls });
      if (s.insecureTcpListener && !isLoopback(spec.address) && !(s.tls && s.tlsVerify)) warnings.push(`${spec.url} serves the API without client verification (${INSECURE_FLAG})`);
    } else {
      for (const fd of systemdFds(spec, host)) {
        once(`fd:${fd}`, spec.url);
        const sock = inspectFd(fd, host);
        const url = `fd://${fd}`;
        if (sock.family === 'tcp') {
          checkExposure(`${url} (${sock.local})`, sock.address, s);
          if (s.insecureTcpListener && !isLoopback(sock.address) && !(s.tls && s.tlsVerify)) warnings.push(`${url} (${sock.local}) serves the API without client verification (${INSECURE_FLAG})`);
        }
        listeners.push({ kind: 'fd', url, fd, family: sock.family, local: sock.local, tls: s.tls && sock.family === 'tcp' });
      }
    }
  }
  const plan: ListenPlan = { listeners, warnings };
  if (listeners.some((l) => l.kind !== 'unix' && l.tls)) plan.tls = await loadTls(s, host, warnings);
  return plan;
}

function listenError(url: string, e: unknown): BerthError {
  const code = (e as NodeJS.ErrnoException).code;
  const why =
    code === 'EADDRINUSE' ? 'the address is already in use'
    : code === 'EADDRNOTAVAIL' ? 'the address is not one of this host\'s'
    : code === 'EACCES' ? 'permission denied'
    : (e as Error).message;
  return code === 'EADDRINUSE' ? conflict(`cannot listen on ${url}: ${why}`, e) : invalidParameter(`cannot listen on ${url}: ${why}`, e);
}

/** The fds an fd:// host names, after checking systemd passed them to this very process. */
function systemdFds(spec: Extract<HostSpec, { kind: 'fd' }>, host: PlanHost): number[] {
  const pid = host.env.LISTEN_PID;
  const n = Number(host.env.LISTEN_FDS ?? '0');
  if (pid === undefined || Number(pid) !== host.pid || !Number.isInteger(n) || n < 1)
    throw invalidParameter(
      `cannot listen on ${spec.url}: no sockets were passed by systemd (LISTEN_FDS/LISTEN_PID for this process, pid ${host.pid}); start berthd through berthd.socket or use unix:// or tcp://`,
    );
  const all = Array.from({ length: n }, (_, i) => 3 + i);
  if (spec.fd === 'all') return all;
  if (!all.includes(spec.fd)) throw invalidParameter(`cannot listen on ${spec.url}: systemd passed fds 3-${2 + n}, not ${spec.fd}`);
  return [spec.fd];
}

interface FdSocket {
  family: 'unix' | 'tcp';
  local: string;
  address: string;
}

/** What kind of listening socket fd N is, read from /proc (no syscall on the fd itself). */
export function inspectFd(fd: number, host: PlanHost): FdSocket {
  const target = host.fdTarget(fd);
  if (target === undefined) throw invalidParameter(`cannot listen on fd://${fd}: fd ${fd} is not open`);
  const m = /^socket:\[(\d+)\]$/.exec(target);
  if (!m) throw invalidParameter(`cannot listen on fd://${fd}: fd ${fd} is not a socket (${target})`);
  const inode = m[1]!;
  for (const line of host.procNet('unix').split('\n').slice(1)) {
    // Num RefCount Protocol Flags Type St Inode Path
    const f = line.trim().split(/\s+/);
    if (f[6] !== inode) continue;
    const listening = (Number.parseInt(f[3] ?? '0', 16) & 0x10000) !== 0;
    if (f[4] !== '0001' || !listening) throw invalidParameter(`cannot listen on fd://${fd}: not a listening stream socket`);
    const path = f[7] ?? '(unnamed)';
    return { family: 'unix', local: path, address: '' };
  }
  for (const name of ['tcp', 'tcp6'] as const) {
    for (const line of host.procNet(name).split('\n').slice(1)) {
      // sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
      const f = line.trim().split(/\s+/);
      if (f[9] !== inode) continue;
      if (f[3] !== '0A') throw invalidParameter(`cannot listen on fd://${fd}: the TCP socket is not listening`);
      const { address, port } = decodeProcAddress(f[1] ?? '');
      return { family: 'tcp', local: address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`, address };
    }
  }
  throw invalidParameter(`cannot listen on fd://${fd}: not a unix or TCP stream socket`);
}

/** /proc/net/tcp{,6} local_address: host-order 32-bit words in hex, then the port in hex. */
export function decodeProcAddress(s: string): { address: string; port: number } {
  const [hex = '', portHex = '0'] = s.split(':');
  const port = Number.parseInt(portHex, 16);
  const words = hex.match(/.{8}/g) ?? [];
  const bytes = words.flatMap((w) => [6, 4, 2, 0].map((i) => Number.parseInt(w.slice(i, i + 2), 16)));
  if (bytes.length === 4) return { address: bytes.join('.'), port };
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((bytes[i]! << 8) | bytes[i + 1]!).toString(16));
  // compress the longest run of zero groups, as an address is usually written
  let best = { at: -1, len: 0 };
  for (let i = 0; i < 8; ) {
    let j = i;
    while (j < 8 && groups[j] === '0') j++;
    if (j - i > best.len && j - i > 1) best = { at: i, len: j - i };
    i = j === i ? i + 1 : j;
  }
  const address = best.at < 0 ? groups.join(':') : `${groups.slice(0, best.at).join(':')}::${groups.slice(best.at + best.len).join(':')}`;
  return { address, port };
}

function readPem(flag: string, path: string, host: PlanHost): Buffer {
  try {
    return host.readFile(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : code === 'EISDIR' ? 'it is a directory' : (e as Error).message;
    throw invalidParameter(`cannot read ${flag} ${path}: ${why}`, e);
  }
}

/** Read the certificate, key and CA, and check they make a server context (key matching cert). */
async function loadTls(s: ListenerSettings, host: PlanHost, warnings: string[]): Promise<TlsMaterial> {
  const { X509Certificate, createPrivateKey } = await import('node:crypto');
  const { createSecureContext } = await import('node:tls');
  const cert = readPem('--tlscert', s.tlsCert, host);
  const key = readPem('--tlskey', s.tlsKey, host);
  const ca = s.tlsVerify ? readPem('--tlscacert', s.tlsCaCert, host) : undefined;
  let x509: InstanceType<typeof X509Certificate>;
  try {
    x509 = new X509Certificate(cert);
  } catch (e) {
    throw invalidParameter(`--tlscert ${s.tlsCert} holds no PEM certificate`, e);
  }
  let privateKey: ReturnType<typeof createPrivateKey>;
  try {
    privateKey = createPrivateKey(key);
  } catch (e) {
    throw invalidParameter(`--tlskey ${s.tlsKey} holds no usable private key (PEM, not encrypted)`, e);
  }
  if (!x509.checkPrivateKey(privateKey)) throw invalidParameter(`--tlskey ${s.tlsKey} does not match the certificate in --tlscert ${s.tlsCert}`);
  if (ca) {
    try {
      new X509Certificate(ca);
    } catch (e) {
      throw invalidParameter(`--tlscacert ${s.tlsCaCert} holds no PEM certificate`, e);
    }
  }
  try {
    createSecureContext({ cert, key, ...(ca ? { ca } : {}), minVersion: 'TLSv1.2' });
  } catch (e) {
    throw invalidParameter(`cannot use --tlscert ${s.tlsCert} and --tlskey ${s.tlsKey}: ${(e as Error).message}`, e);
  }
  const now = Date.now();
  if (Date.parse(x509.validTo) < now) warnings.push(`the server certificate ${s.tlsCert} expired on ${x509.validTo}: clients will refuse it`);
  else if (Date.parse(x509.validFrom) > now) warnings.push(`the server certificate ${s.tlsCert} is not valid before ${x509.validFrom}`);
  return { cert, key, ...(ca ? { ca } : {}), verify: s.tlsVerify };
}

/** After the pidfile is ours: remove socket files nobody listens on; refuse live ones. */
export async function clearStaleSockets(plan: ListenPlan): Promise<void> {
  for (const l of plan.listeners) {
    if (l.kind !== 'unix' || !existsSync(l.path)) continue;
    if (!statSync(l.path).isSocket()) throw invalidParameter(`${l.path} exists and is not a socket`);
    const live = await new Promise<boolean>((resolve) => {
      const c = connect(l.path);
      c.once('connect', () => {
        c.destroy();
        resolve(true);
      });
      c.once('error', () => resolve(false));
    });
    if (live) throw conflict(`another daemon is listening on ${l.path}`);
    unlinkSync(l.path);
  }
}

export type Handler = (req: IncomingMessage, res: ServerResponse) => void;

export interface Listeners {
  /** What is being served, with real ports: unix:///run/berth/berth.sock, tcp://127.0.0.1:2376 (tls), fd://3 (…). */
  readonly urls: string[];
  /** Unix socket files berthd made (not systemd's). */
  readonly socketFiles: string[];
  /** Stop accepting and close idle connections; resolves once every connection is gone. */
  close(): Promise<void>;
  /** Close the connections still busy (after the jobs are drained). */
  closeAllConnections(): void;
  /** Remove the socket files berthd made. */
  removeSocketFiles(): void;
}

export interface OpenOptions {
  log: Log;
  /** Group owning the unix sockets berthd makes (--group). */
  gid?: number;
  /** Where LISTEN_* are removed once systemd's sockets are taken (process.env). */
  env?: Record<string, string | undefined>;
}

/** Open every planned listener; on a failure, close what was opened and throw. */
export async function openListeners(plan: ListenPlan, handler: Handler, opts: OpenOptions): Promise<Listeners> {
  const { log } = opts;
  const servers: Server[] = [];
  const urls: string[] = [];
  const socketFiles: string[] = [];
  // Every accepted connection, hijacked and mid-handshake ones too (node:http tracks only its own).
  const connections = new Set<Socket>();
  const https = plan.tls && plan.listeners.some((l) => l.kind !== 'unix' && l.tls) ? await import('node:https') : undefined;
  try {
    for (const l of plan.listeners) {
      const tls = l.kind !== 'unix' && l.tls;
      const server = tls ? tlsServer(https!, plan.tls!, l.url, handler, log) : createHttpServer(handler);
      configure(server, handler, connections);
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        const done = () => {
          server.off('error', reject);
          resolve();
        };
        if (l.kind === 'unix') server.listen(l.path, done);
        else if (l.kind === 'tcp') server.listen({ host: l.address, port: l.port, exclusive: true }, done);
        else server.listen({ fd: l.fd }, done);
      }).catch((e) => {
        throw listenError(l.url, e);
      });
      servers.push(server);
      server.on('error', (err) => log.error({ err, listener: l.url }, 'listener error'));
      if (l.kind === 'unix') {
        socketFiles.push(l.path);
        chmodSync(l.path, 0o660);
        if (opts.gid !== undefined) chownSync(l.path, 0, opts.gid);
        urls.push(l.url);
      } else if (l.kind === 'tcp') {
        const a = server.address() as import('node:net').AddressInfo;
        const words = tlsWords(l.tls, plan.tls);
        urls.push(`tcp://${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}${words.length ? ` (${words.join(' ')})` : ''}`);
      } else urls.push(`${l.url} (${[l.family, l.local, ...tlsWords(l.tls, plan.tls)].join(' ')})`);
    }
  } catch (e) {
    for (const s of servers) s.close();
    for (const p of socketFiles) rmFile(p);
    throw e;
  }
  if (opts.env && plan.listeners.some((l) => l.kind === 'fd')) for (const k of ['LISTEN_PID', 'LISTEN_FDS', 'LISTEN_FDNAMES']) delete opts.env[k];
  for (const w of plan.warnings) log.warn(w);
  return {
    urls,
    socketFiles,
    close() {
      const closed = servers.map((s) => new Promise<void>((r) => s.close(() => r())));
      for (const s of servers) s.closeIdleConnections();
      return Promise.all(closed).then(() => undefined);
    },
    closeAllConnections() {
      for (const s of servers) s.closeAllConnections();
      for (const c of connections) c.destroy();
    },
    removeSocketFiles() {
      for (const p of socketFiles) rmFile(p);
    },
  };
}

function tlsWords(tls: boolean, m: TlsMaterial | undefined): string[] {
  return tls ? (m?.verify ? ['tls', 'verify'] : ['tls']) : [];
}

function rmFile(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    /* already gone */
  }
}

/** What every listener shares: keep-alive, half-open hijacks, upgrades routed through the handler. */
function configure(server: Server, handler: Handler, connections: Set<Socket>): void {
  server.prependListener('connection', (raw: Socket) => {
    connections.add(raw);
    raw.once('close', () => connections.delete(raw));
  });
  server.keepAliveTimeout = 60_000;
  // Clients half-close hijacked connections (docker attach without stdin): keep our side open.
  (server as Server & { httpAllowHalfOpen: boolean }).httpAllowHalfOpen = true;
  // `Connection: Upgrade` (attach, exec start): node hands us the socket with its HTTP parser
  // detached; route it through the handler like any request, which then hijacks it.
  server.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => {
    // A client's end (attach without stdin) must leave our side open. node:http's sockets allow it
    // already; a TLS socket is told here, not at accept (a client leaving mid-handshake must close).
    socket.allowHalfOpen = true;
    if (head.length) socket.unshift(head);
    const res = new ServerResponse(req);
    res.assignSocket(socket);
    res.on('finish', () => socket.end()); // a plain answer (an error): the connection ends with it
    handler(req, res);
  });
}

/**
 * An https server: TLS 1.2 at least; under --tlsverify a client certificate signed by the CA is
 * required (node's own check refuses the others before any request is read). Every refused client
 * is logged with the reason, and plain HTTP on the port gets Go's 400 answer instead of silence.
 */
function tlsServer(https: typeof import('node:https'), m: TlsMaterial, url: string, handler: Handler, log: Log): Server {
  const server = https.createServer(
    {
      cert: m.cert,
      key: m.key,
      ...(m.ca ? { ca: m.ca } : {}),
      requestCert: m.verify,
      rejectUnauthorized: m.verify,
      minVersion: 'TLSv1.2',
      handshakeTimeout: HANDSHAKE_TIMEOUT_MS,
    },
    handler,
  );
  const peers = new WeakMap<Socket, string>();
  const peerOf = (tlsSocket: TLSSocket) => {
    // The TLS socket wraps the accepted one; its address is gone once the handshake failed.
    const raw = (tlsSocket as TLSSocket & { _parent?: Socket | null })._parent;
    return (raw && peers.get(raw)) ?? 'unknown';
  };
  // Look at the first bytes before TLS takes the connection: a TLS record starts with 0x16.
  const onTlsConnection = server.listeners('connection') as ((s: Socket) => void)[];
  server.removeAllListeners('connection');
  server.on('connection', (raw: Socket) => {
    peers.set(raw, `${raw.remoteAddress}:${raw.remotePort}`);
    raw.on('error', () => {}); // resets before the handshake: nothing to report
    raw.setTimeout(HANDSHAKE_TIMEOUT_MS, () => raw.destroy());
    raw.once('data', (first: Buffer) => {
      raw.pause();
      raw.setTimeout(0);
      if (looksLikePlainHttp(first)) {
        log.warn({ listener: url, remote: peers.get(raw), reason: 'plain HTTP on a TLS listener' }, 'refused a client');
        raw.resume(); // drain what it sends, then answer and close
        raw.end(`HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n${PLAIN_HTTP_ON_TLS}\n`);
        return;
      }
      raw.unshift(first);
      for (const l of onTlsConnection) l.call(server, raw);
    });
  });
  server.on('tlsClientError', (err: NodeJS.ErrnoException & { reason?: string }, tlsSocket: TLSSocket) => {
    const refusal = describeTlsRefusal(err, tlsSocket.authorizationError as unknown as string | undefined);
    if (refusal === undefined) log.debug({ listener: url, remote: peerOf(tlsSocket), err: err.message }, 'TLS client went away during the handshake');
    else log.warn({ listener: url, remote: peerOf(tlsSocket), reason: refusal, code: tlsSocket.authorizationError ?? err.code }, 'refused a TLS client');
  });
  return server as unknown as Server;
}

/** Request methods docker's and other clients send; a TLS ClientHello never starts with a letter. */
export function looksLikePlainHttp(first: Buffer): boolean {
  return /^(GET|HEAD|POST|PUT|DELETE|PATCH|OPTIONS|CONNECT|TRACE) /.test(first.subarray(0, 8).toString('latin1'));
}

/** Why a TLS client was refused, in an operator's words; undefined when it merely hung up. */
export function describeTlsRefusal(
  err: { code?: string | undefined; message: string; reason?: string | undefined },
  authorizationError?: string | null,
): string | undefined {
  switch (authorizationError ?? undefined) {
    case undefined:
      break;
    case 'CERT_HAS_EXPIRED':
      return 'client certificate has expired';
    case 'CERT_NOT_YET_VALID':
      return 'client certificate is not yet valid';
    case 'UNABLE_TO_VERIFY_LEAF_SIGNATURE':
    case 'UNABLE_TO_GET_ISSUER_CERT':
    case 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY':
    case 'SELF_SIGNED_CERT_IN_CHAIN':
    case 'DEPTH_ZERO_SELF_SIGNED_CERT':
    case 'CERT_SIGNATURE_FAILURE':
      return `client certificate is not signed by the CA in --tlscacert (${authorizationError})`;
    case 'INVALID_PURPOSE':
      return 'client certificate is not meant for client authentication (extendedKeyUsage)';
    default:
      return `client certificate refused (${authorizationError})`;
  }
  switch (err.code) {
    case 'ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE':
      return 'no client certificate';
    case 'ERR_SSL_HTTP_REQUEST':
      return 'plain HTTP on a TLS listener';
    case 'ERR_SSL_UNSUPPORTED_PROTOCOL':
    case 'ERR_SSL_WRONG_VERSION_NUMBER':
      return 'TLS version below 1.2 or not TLS';
    case 'ERR_TLS_HANDSHAKE_TIMEOUT':
      return 'the TLS handshake timed out';
    case 'ECONNRESET':
    case 'EPIPE':
      return undefined;
    default:
      return err.reason ?? err.message;
  }
}
