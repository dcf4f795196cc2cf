// A fake of the DNS sockets: servers registered by address, queries delivered by `query` (as a
// container would send them), upstream servers played by functions, and the host's resolvers set
// by the test. Binding an address twice, or one not on the fake host, fails as the kernel would.
import type { DnsHandler, DnsNet, DnsServerHandle } from '../dns.js';

export class FakeDnsNet implements DnsNet {
  readonly servers = new Map<string, DnsHandler>();
  /** Upstream servers by "ip:port": they answer asked messages (undefined: never answer). */
  readonly upstreams = new Map<string, (msg: Buffer) => Buffer | undefined>();
  /** The host's /etc/resolv.conf nameservers. */
  resolvers: string[] = ['192.0.2.53'];
  /** Addresses a bind must fail on (EADDRINUSE): another program holds port 53 there. */
  readonly busy = new Set<string>();
  /** Every upstream asked, "ip:port", in order. */
  readonly asked: string[] = [];

  async serve(ip: string, port: number, handler: DnsHandler): Promise<DnsServerHandle> {
    const key = `${ip}:${port}`;
    if (this.servers.has(key) || this.busy.has(ip)) throw Object.assign(new Error(`bind EADDRINUSE ${key}`), { code: 'EADDRINUSE' });
    this.servers.set(key, handler);
    return { close: async () => void (this.servers.get(key) === handler && this.servers.delete(key)) };
  }

  async ask(server: string, port: number, msg: Buffer, timeoutMs: number): Promise<Buffer> {
    this.asked.push(`${server}:${port}`);
    const answer = this.upstreams.get(`${server}:${port}`)?.(msg);
    if (!answer) throw Object.assign(new Error(`no answer from ${server} in ${timeoutMs} ms`), { code: 'ETIMEDOUT' });
    return answer;
  }

  async hostResolvers(): Promise<string[]> {
    return [...this.resolvers];
  }

  /** Send a query to the server on ip:53 as `from` would; resolves with its answer. */
  async query(ip: string, msg: Buffer, from: string, port = 53): Promise<Buffer | undefined> {
    const h = this.servers.get(`${ip}:${port}`);
    if (!h) throw new Error(`nothing serves DNS on ${ip}:${port}`);
    return h(msg, { address: from, port: 40000, tcp: false });
  }
}
