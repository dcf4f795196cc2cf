// A fake of the DNS sockets: servers registered by address, queries delivered by `query` (as a
// container would send them, over UDP or TCP), upstream servers played by functions (told which
// transport they were asked over), and the host's resolvers set
// by the test. Binding an address twice, or one not on the fake host, fails as the kernel would.
import type { DnsHandler, DnsNet, DnsServerHandle } from '../dns.js';

export class FakeDnsNet implements DnsNet {
  readonly servers = new Map<string, DnsHandler>();
  /** Upstream servers by "ip:port": they answer asked messages (undefined: never answer). */
  readonly upstreams = new Map<string, (msg: Buffer, tcp: boolean) => Buffer | undefined>();
  /** The host's /etc/resolv.conf nameservers. */
  resolvers: string[] = ['192.0.2.53'];
  /** Addresses a bind must fail on (EADDRINUSE): another program holds port 53 there. */
  readonly busy = new Set<string>();
  /** Every upstream asked, in order: "ip:port" over UDP, "ip:port/tcp" over TCP. */
  readonly asked: string[] = [];

  async serve(ip: string, port: number, handler: DnsHandler): Promise<DnsServerHandle> {
    const key = `${ip}:${port}`;
    if (this.servers.has(key) || this.busy.has(ip)) throw Object.assign(new Error(`bind EADDRINUSE ${key}`), { code: 'EADDRINUSE' });
    this.servers.set(key, handler);
    return { close: async () => void (this.servers.get(key) === handler && this.servers.delete(key)) };
  }

  async ask(server: string, port: number, msg: Buffer, timeoutMs: number): Promise<Buffer> {
    this.asked.push(`${server}:${port}`);
    const answer = this.upstreams.get(`${server}:${port}`)?.(msg, false);
    if (!answer) throw Object.assign(new Error(`no answer from ${server} in ${timeoutMs} ms`), { code: 'ETIMEDOUT' });
    return answer;
  }

  async askTcp(server: string, port: number, msg: Buffer, timeoutMs: number): Promise<Buffer> {
    this.asked.push(`${server}:${port}/tcp`);
    const answer = this.upstreams.get(`${server}:${port}`)?.(msg, true);
    if (!answer) throw Object.assign(new Error(`no answer from ${server} over TCP in ${timeoutMs} ms`), { code: 'ETIMEDOUT' });
    if (answer.length > 0xffff) throw new RangeError(`a DNS message of ${answer.length} bytes cannot go over TCP`);
    return answer;
  }

  async hostResolvers(): Promise<string[]> {
    return [...this.resolvers];
  }

  /** Send a query to the server on ip:53 as `from` would (over UDP, or TCP); resolves with its answer. */
  async query(ip: string, msg: Buffer, from: string, port = 53, tcp = false): Promise<Buffer | undefined> {
    const h = this.servers.get(`${ip}:${port}`);
    if (!h) throw new Error(`nothing serves DNS on ${ip}:${port}`);
    return h(msg, { address: from, port: 40000, tcp });
  }
}
