// DNS sockets for the embedded resolver: serve queries on an address (UDP and TCP, port 53 of a
// network's gateway), ask an upstream server over UDP or TCP, and read the host's resolvers.
// Sockets live in the daemon's netns (the host's); containers reach them through their bridge.
import { createSocket, type Socket } from 'node:dgram';
import { connect, createServer, type Server } from 'node:net';
import { readFile } from 'node:fs/promises';

export interface DnsServerHandle {
  /** Stop serving; idempotent. */
  close(): Promise<void>;
}

/** Answers one query (undefined: no answer at all). `from` is the querier's address. */
export type DnsHandler = (msg: Buffer, from: { address: string; port: number; tcp: boolean }) => Promise<Buffer | undefined>;

export interface DnsNet {
  /** Serve on ip:port over UDP and TCP. Rejects with the bind error (EADDRINUSE, EADDRNOTAVAIL). */
  serve(ip: string, port: number, handler: DnsHandler): Promise<DnsServerHandle>;
  /** Send `msg` to server:port over UDP; resolve with the first answer carrying the same id;
   *  reject after timeoutMs. */
  ask(server: string, port: number, msg: Buffer, timeoutMs: number): Promise<Buffer>;
  /** Send `msg` to server:port over TCP (RFC 1035 4.2.2: a 2-byte length before each message), one
   *  query per connection; resolve with the answer if it carries the same id. timeoutMs covers
   *  connect and answer; the socket is destroyed whatever the outcome. */
  askTcp(server: string, port: number, msg: Buffer, timeoutMs: number): Promise<Buffer>;
  /** The host's resolvers: the nameserver lines of /etc/resolv.conf, read at each call. */
  hostResolvers(): Promise<string[]>;
}

export function realDnsNet(resolvConf = '/etc/resolv.conf'): DnsNet {
  return {
    async serve(ip, port, handler) {
      const six = ip.includes(':');
      const udp: Socket = createSocket({ type: six ? 'udp6' : 'udp4', reuseAddr: false, ...(six ? { ipv6Only: true } : {}) });
      await new Promise<void>((resolve, reject) => {
        udp.once('error', reject);
        udp.bind({ address: ip, port, exclusive: true }, () => {
          udp.removeListener('error', reject);
          resolve();
        });
      });
      udp.on('error', () => {});
      udp.on('message', (msg, rinfo) => {
        void handler(msg, { address: rinfo.address, port: rinfo.port, tcp: false }).then(
          (out) => out && udp.send(out, rinfo.port, rinfo.address),
          () => {},
        );
      });
      const tcp: Server = createServer((sock) => {
        let buf = Buffer.alloc(0);
        sock.setTimeout(10_000, () => sock.destroy());
        sock.on('error', () => {});
        sock.on('data', (chunk) => {
          buf = Buffer.concat([buf, chunk]);
          while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
            const len = buf.readUInt16BE(0);
            const msg = buf.subarray(2, 2 + len);
            buf = buf.subarray(2 + len);
            void handler(msg, { address: sock.remoteAddress ?? '', port: sock.remotePort ?? 0, tcp: true }).then(
              (out) => {
                if (!out || sock.destroyed) return;
                if (out.length > 0xffff) return void sock.destroy(); // cannot be framed
                const head = Buffer.alloc(2);
                head.writeUInt16BE(out.length, 0);
                sock.write(Buffer.concat([head, out]));
              },
              () => sock.destroy(),
            );
          }
        });
      });
      try {
        await new Promise<void>((resolve, reject) => {
          tcp.once('error', reject);
          tcp.listen({ host: ip, port, exclusive: true, ipv6Only: six }, () => {
            tcp.removeListener('error', reject);
            resolve();
          });
        });
      } catch (e) {
        udp.close();
        throw e;
      }
      tcp.on('error', () => {});
      let closed: Promise<void> | undefined;
      return {
        close: () =>
          (closed ??= new Promise<void>((resolve) => {
            udp.close();
            tcp.close(() => resolve());
          })),
      };
    },

    ask(server, port, msg, timeoutMs) {
      return new Promise((resolve, reject) => {
        const sock = createSocket(server.includes(':') ? 'udp6' : 'udp4');
        const id = msg.length >= 2 ? msg.readUInt16BE(0) : -1;
        const done = (f: () => void) => {
          clearTimeout(timer);
          sock.close();
          f();
        };
        const timer = setTimeout(() => done(() => reject(Object.assign(new Error(`no answer from ${server} in ${timeoutMs} ms`), { code: 'ETIMEDOUT' }))), timeoutMs);
        sock.on('error', (e) => done(() => reject(e)));
        sock.on('message', (answer) => {
          if (answer.length >= 2 && answer.readUInt16BE(0) === id) done(() => resolve(answer));
        });
        sock.send(msg, port, server);
      });
    },

    askTcp(server, port, msg, timeoutMs) {
      if (msg.length < 12 || msg.length > 0xffff) return Promise.reject(new RangeError(`a DNS message of ${msg.length} bytes cannot go over TCP`));
      return new Promise((resolve, reject) => {
        const id = msg.readUInt16BE(0);
        const sock = connect({ host: server, port, noDelay: true });
        let buf = Buffer.alloc(0);
        let settled = false;
        const done = (err: Error | undefined, answer?: Buffer) => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          sock.destroy();
          if (err) reject(err);
          else resolve(answer!);
        };
        const timer = setTimeout(
          () => done(Object.assign(new Error(`no answer from ${server} over TCP in ${timeoutMs} ms`), { code: 'ETIMEDOUT' })),
          timeoutMs,
        );
        sock.on('error', (e) => done(e));
        sock.on('close', () => done(Object.assign(new Error(`${server} closed the TCP connection before answering`), { code: 'ECONNRESET' })));
        sock.on('data', (chunk) => {
          buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
          if (buf.length < 2 || buf.length < 2 + buf.readUInt16BE(0)) return;
          const answer = Buffer.from(buf.subarray(2, 2 + buf.readUInt16BE(0)));
          if (answer.length >= 2 && answer.readUInt16BE(0) === id) done(undefined, answer);
          else done(Object.assign(new Error(`${server} answered over TCP with another id`), { code: 'EPROTO' }));
        });
        const head = Buffer.alloc(2);
        head.writeUInt16BE(msg.length, 0);
        sock.write(Buffer.concat([head, msg]));
      });
    },

    async hostResolvers() {
      const text = await readFile(resolvConf, 'utf8').catch(() => '');
      return text
        .split('\n')
        .map((l) => /^\s*nameserver\s+(\S+)/.exec(l)?.[1])
        .filter((x): x is string => !!x)
        .map((x) => x.replace(/%.*$/, ''));
    },
  };
}
