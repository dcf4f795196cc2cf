// Holding host ports: berthd keeps a bound socket for every published tcp/udp port while the
// endpoint lives, so no host process can take it (and a port a host process holds is refused: the
// bind fails). TCP sockets listen with a backlog of 1 and drop any connection at once: traffic to a
// published port is DNATed before it could reach them. SCTP has no socket in Node: not held.
import { createServer, type Server } from 'node:net';
import { createSocket, type Socket } from 'node:dgram';

export interface HeldPort {
  /** Close the socket; idempotent. */
  close(): Promise<void>;
}

export interface PortHolder {
  /**
   * Bind `ip:port` ('' or 0.0.0.0 = every IPv4 address; '::' every IPv6 address, v6-only, so that it
   * does not take the IPv4 port too). Rejects with the system error (err.code 'EADDRINUSE',
   * 'EADDRNOTAVAIL', …) when the kernel refuses.
   */
  hold(proto: 'tcp' | 'udp', ip: string, port: number): Promise<HeldPort>;
}

export function realPortHolder(): PortHolder {
  return {
    hold(proto, ip, port) {
      const host = ip === '' ? '0.0.0.0' : ip;
      return proto === 'tcp' ? holdTcp(host, port) : holdUdp(host, port);
    },
  };
}

function holdTcp(host: string, port: number): Promise<HeldPort> {
  return new Promise((resolve, reject) => {
    const srv: Server = createServer((s) => s.destroy());
    srv.once('error', reject);
    srv.listen({ host, port, exclusive: true, backlog: 1, ipv6Only: host.includes(':') }, () => {
      srv.removeListener('error', reject);
      srv.on('error', () => {});
      srv.unref();
      let closed: Promise<void> | undefined;
      resolve({ close: () => (closed ??= new Promise<void>((r) => srv.close(() => r()))) });
    });
  });
}

function holdUdp(host: string, port: number): Promise<HeldPort> {
  return new Promise((resolve, reject) => {
    const sock: Socket = host.includes(':') ? createSocket({ type: 'udp6', reuseAddr: false, ipv6Only: true }) : createSocket({ type: 'udp4', reuseAddr: false });
    sock.once('error', (e) => {
      try {
        sock.close();
      } catch {
        /* not bound */
      }
      reject(e);
    });
    sock.bind({ address: host, port, exclusive: true }, () => {
      sock.removeAllListeners('error');
      sock.on('error', () => {});
      sock.unref();
      let closed: Promise<void> | undefined;
      resolve({ close: () => (closed ??= new Promise<void>((r) => sock.close(() => r()))) });
    });
  });
}
