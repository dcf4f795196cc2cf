// The embedded DNS of user-defined networks: one resolver in berthd, serving UDP and TCP port 53 on
// the gateway addresses of each user-defined network (the container's resolv.conf points at its
// network's gateway). A query is answered from the endpoint records at the time it arrives: the
// querier (found by its address on the network the query came in by) sees the names of every
// container that shares a network with it — container name, aliases (scoped to their network),
// short id, hostname (Endpoint.dnsNames) — as A/AAAA, and reverse names as PTR
// (`<name>.<network>`). Other names go to the querier's `--dns` servers or the host's resolvers,
// unless all its networks are internal (no way out: SERVFAIL); a server that answers SERVFAIL or
// REFUSED is passed over for the next (its answer is given when none does better). A query that
// came over TCP goes on over TCP; one over UDP goes over UDP, and once more over TCP when the
// upstream's answer is truncated (TC). An answer to a UDP client fits its limit (512 bytes or its
// EDNS0 size): whole records as many as fit, TC set when some were left out, so the client asks
// again over TCP.
import { randomInt } from 'node:crypto';
import type { RecordStore } from '../../driver.js';
import type { Log } from '../../log.js';
import type { DnsNet, DnsServerHandle } from '../../sys/dns.js';
import type { Endpoint } from '../../types.js';
import { DnsFormatError, RCODE, TCP_MAX, TYPE, fit, formErr, parseQuery, response, reverseAddress, truncated, udpLimit, withId, type Rdata } from './message.js';

export interface DnsNetwork {
  id: string;
  name: string;
  internal: boolean;
  /** The addresses to serve on: the network's gateway(s). */
  addresses: string[];
}

export interface DnsStatus {
  addresses: string[];
  /** Addresses actually served. */
  serving: string[];
  errors: string[];
}

export interface DnsCounters {
  answered: number;
  forwarded: number;
  failed: number;
}

const bare = (cidr: string | undefined) => cidr?.split('/')[0];

export class EmbeddedDns {
  readonly #dns: DnsNet;
  readonly #records: RecordStore;
  readonly #log: Log;
  readonly #port: number;
  readonly #upstreamTimeoutMs: number;
  readonly #upstreamPort: number;
  readonly #nets = new Map<string, { net: DnsNetwork; handles: DnsServerHandle[]; serving: string[]; errors: string[] }>();
  readonly counters: DnsCounters = { answered: 0, forwarded: 0, failed: 0 };

  /** port: where to serve (53); upstreamPort: where upstream servers listen (53; tests pick others). */
  constructor(o: { dns: DnsNet; records: RecordStore; log: Log; port?: number; upstreamTimeoutMs?: number; upstreamPort?: number }) {
    this.#dns = o.dns;
    this.#records = o.records;
    this.#log = o.log;
    this.#port = o.port ?? 53;
    this.#upstreamTimeoutMs = o.upstreamTimeoutMs ?? 2000;
    this.#upstreamPort = o.upstreamPort ?? 53;
  }

  /** Serve a network (idempotent: a network served already is left as it is). A bind that fails is
   *  logged and shown by status(): the network works, without names. */
  async start(net: DnsNetwork): Promise<void> {
    if (this.#nets.has(net.id)) return;
    const entry = { net, handles: [] as DnsServerHandle[], serving: [] as string[], errors: [] as string[] };
    this.#nets.set(net.id, entry);
    for (const a of net.addresses) {
      try {
        entry.handles.push(await this.#dns.serve(a, this.#port, (msg, from) => this.#answer(net.id, msg, from.address, from.tcp)));
        entry.serving.push(a);
      } catch (err) {
        entry.errors.push(`${a}:${this.#port}: ${(err as Error).message}`);
        this.#log.warn({ err, network: net.name, address: a }, 'embedded DNS cannot listen: containers on this network will not resolve names');
      }
    }
  }

  async stop(networkId: string): Promise<void> {
    const e = this.#nets.get(networkId);
    if (!e) return;
    this.#nets.delete(networkId);
    for (const h of e.handles) await h.close();
  }

  async stopAll(): Promise<void> {
    for (const id of [...this.#nets.keys()]) await this.stop(id);
  }

  status(networkId: string): DnsStatus | undefined {
    const e = this.#nets.get(networkId);
    return e && { addresses: e.net.addresses, serving: e.serving, errors: e.errors };
  }

  /** The names an endpoint answers to. */
  static names(ep: Endpoint): string[] {
    return (ep.dnsNames ?? [ep.container.name, ...ep.aliases]).map((n) => n.toLowerCase());
  }

  async #answer(networkId: string, msg: Buffer, from: string, tcp: boolean): Promise<Buffer | undefined> {
    let q;
    try {
      q = parseQuery(msg);
    } catch (e) {
      if (e instanceof DnsFormatError) return formErr(msg);
      throw e;
    }
    if (q.opcode !== 0) return response(msg, q, RCODE.NOTIMP);
    const limit = tcp ? TCP_MAX : udpLimit(msg, q);
    const endpoints = this.#records.list('endpoint');
    const client = endpoints.find((e) => e.networkId === networkId && (bare(e.ipv4) === from || bare(e.ipv6) === from));
    // The networks whose names the querier sees: every served network its container is on.
    const scope = new Set(
      client ? endpoints.filter((e) => e.container.id === client.container.id && this.#nets.has(e.networkId)).map((e) => e.networkId) : [networkId],
    );
    const visible = endpoints.filter((e) => scope.has(e.networkId));

    const rev = q.type === TYPE.PTR ? reverseAddress(q.name) : undefined;
    if (rev !== undefined) {
      const ep = visible.find((e) => bare(e.ipv4) === rev || bare(e.ipv6) === rev);
      if (ep) {
        const netName = this.#nets.get(ep.networkId)?.net.name ?? '';
        const first = EmbeddedDns.names(ep)[0] ?? ep.container.name;
        this.counters.answered++;
        return fit(response(msg, q, RCODE.NOERROR, [{ type: TYPE.PTR, name: `${first}.${netName}` }]), limit);
      }
    } else {
      const matches = visible.filter((e) => EmbeddedDns.names(e).includes(q.name));
      if (matches.length) {
        const answers: Rdata[] = [];
        const seen = new Set<string>();
        for (const e of matches) {
          const a = q.type === TYPE.A ? bare(e.ipv4) : q.type === TYPE.AAAA ? bare(e.ipv6) : undefined;
          if (a && !seen.has(a)) {
            seen.add(a);
            answers.push(q.type === TYPE.A ? { type: TYPE.A, address: a } : { type: TYPE.AAAA, address: a });
          }
        }
        this.counters.answered++;
        return fit(response(msg, q, RCODE.NOERROR, answers), limit); // a known name without this type: NODATA
      }
    }

    // Not ours: forward, unless every network of the querier is internal.
    const external = [...scope].some((id) => this.#nets.get(id)?.net.internal === false);
    if (!external) {
      this.counters.failed++;
      return response(msg, q, RCODE.SERVFAIL);
    }
    const ours = new Set([...this.#nets.values()].flatMap((e) => e.net.addresses));
    const upstreams = (client?.dnsServers?.length ? client.dnsServers : await this.#dns.hostResolvers()).filter((s) => !ours.has(s));
    const ask = (server: string, overTcp: boolean) => {
      const out = withId(msg, randomInt(0, 0x10000)); // the upstream sees our id, the client its own
      const port = this.#upstreamPort;
      return overTcp ? this.#dns.askTcp(server, port, out, this.#upstreamTimeoutMs) : this.#dns.ask(server, port, out, this.#upstreamTimeoutMs);
    };
    /** A SERVFAIL or REFUSED answer: the next server is asked, and this one given if none does better. */
    let refused: Buffer | undefined;
    for (const server of upstreams) {
      try {
        let answer = await ask(server, tcp);
        if (!tcp && truncated(answer)) {
          // Too big for UDP upstream: get it whole over TCP, then hand the client what fits.
          try {
            answer = await ask(server, true);
          } catch (err) {
            this.#log.debug({ err, server, name: q.name }, 'DNS upstream truncated its UDP answer and did not answer over TCP; passing the truncated one on');
          }
        }
        const rcode = answer.length >= 4 ? answer[3]! & 0x0f : RCODE.SERVFAIL;
        if (rcode === RCODE.SERVFAIL || rcode === RCODE.REFUSED) {
          // (as Docker's resolver: another server may know better)
          refused ??= answer;
          this.#log.debug({ server, name: q.name, rcode }, 'DNS upstream failed or refused the query; asking the next');
          continue;
        }
        this.counters.forwarded++;
        return fit(withId(answer, q.id), limit);
      } catch (err) {
        this.#log.debug({ err, server, name: q.name, tcp }, 'DNS upstream did not answer');
      }
    }
    if (refused) {
      this.counters.forwarded++;
      return fit(withId(refused, q.id), limit);
    }
    this.counters.failed++;
    return response(msg, q, RCODE.SERVFAIL);
  }
}
