// Where a registry host is reached: Docker Hub (docker.io) through its mirrors first, then
// registry-1.docker.io; any other host as itself. HTTPS always comes first; plain HTTP (and HTTPS
// without certificate checks) only for loopback hosts and those named by --insecure-registry
// (host[:port] or a CIDR holding the host's IP). Pure: validated options in, endpoint lists out.
import { Address4, Address6 } from 'ip-address';
import { invalidParameter } from '../../../drivers/errors.js';
import { DEFAULT_DOMAIN } from '../reference.js';

/** One way to reach a registry. */
export interface Endpoint {
  /** "https://registry-1.docker.io", "http://127.0.0.1:5000", "https://mirror.example/prefix". */
  base: string;
  /** The registry's name as references spell it ("docker.io", "localhost:5000"). */
  registry: string;
  /** A mirror of Docker Hub: any failure there falls back to the next endpoint. */
  mirror: boolean;
  /** Skip certificate checks (HTTPS to an insecure registry). */
  skipVerify: boolean;
}

export interface EndpointOptions {
  /** --insecure-registry values: "host[:port]" or a CIDR. */
  insecure: readonly string[];
  /** --registry-mirror values: "https://host[:port][/path]" (Docker Hub mirrors). */
  mirrors: readonly string[];
}

export const HUB_HOST = 'registry-1.docker.io';
/** The key docker's config.json (and berth's) stores Docker Hub's credentials under. */
export const HUB_AUTH_KEY = 'https://index.docker.io/v1/';

interface Cidr {
  v6: boolean;
  addr: Address4 | Address6;
}

/** Validated registry options; throws invalid_parameter naming the bad value. */
export class Endpoints {
  readonly #insecureHosts = new Set<string>();
  readonly #insecureNets: Cidr[] = [];
  readonly #mirrors: string[];

  constructor(opts: EndpointOptions) {
    for (const raw of opts.insecure) {
      const v = raw.trim();
      if (v.includes('://')) throw invalidParameter(`insecure registry ${v} should not contain '://'`);
      if (v.includes('/')) {
        this.#insecureNets.push(parseCidr(v));
        continue;
      }
      if (!/^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+)(:\d{1,5})?$/.test(v)) throw invalidParameter(`invalid insecure registry "${v}": want host[:port] or a CIDR`);
      this.#insecureHosts.add(v.toLowerCase());
    }
    this.#mirrors = opts.mirrors.map(validateMirror);
    for (const m of this.#mirrors) {
      const u = new URL(m);
      if (u.protocol === 'http:' && !this.isInsecure(u.host))
        throw invalidParameter(`mirror ${m} is plain HTTP: name its host with --insecure-registry too`);
    }
  }

  get mirrors(): readonly string[] {
    return this.#mirrors;
  }

  /** Plain HTTP (and unchecked TLS) allowed for `registry` ("host[:port]")? */
  isInsecure(registry: string): boolean {
    const r = registry.toLowerCase();
    const { host } = splitHostPort(r);
    if (this.#insecureHosts.has(r) || this.#insecureHosts.has(host)) return true;
    if (isLoopback(host)) return true;
    const ip = parseIp(host);
    if (ip) for (const net of this.#insecureNets) if (net.v6 === ip.v6 && ip.addr.isInSubnet(net.addr as never)) return true;
    return false;
  }

  /** The endpoints to try for a registry, in order. */
  forRegistry(registry: string): Endpoint[] {
    if (registry === DEFAULT_DOMAIN) {
      return [
        ...this.#mirrors.map((m) => ({ base: m, registry, mirror: true, skipVerify: this.isInsecure(new URL(m).host) })),
        { base: `https://${HUB_HOST}`, registry, mirror: false, skipVerify: false },
      ];
    }
    if (!this.isInsecure(registry)) return [{ base: `https://${registry}`, registry, mirror: false, skipVerify: false }];
    return [
      { base: `https://${registry}`, registry, mirror: false, skipVerify: true },
      { base: `http://${registry}`, registry, mirror: false, skipVerify: true },
    ];
  }
}

/** "localhost:5000" → {host: "localhost", port: "5000"}; "[::1]:5000" → {host: "::1", …}. */
export function splitHostPort(hp: string): { host: string; port?: string } {
  const v6 = /^\[([^\]]+)\](?::(\d+))?$/.exec(hp);
  if (v6) return { host: v6[1]!, ...(v6[2] ? { port: v6[2] } : {}) };
  const i = hp.lastIndexOf(':');
  if (i > 0 && !hp.slice(0, i).includes(':')) return { host: hp.slice(0, i), port: hp.slice(i + 1) };
  return { host: hp };
}

export function isLoopback(host: string): boolean {
  const h = host.toLowerCase();
  if (h === 'localhost' || h.endsWith('.localhost')) return true;
  if (Address4.isValid(h)) return h.split('.')[0] === '127';
  if (Address6.isValid(h)) return new Address6(h).isLoopback();
  return false;
}

function parseIp(h: string): { v6: boolean; addr: Address4 | Address6 } | undefined {
  if (Address4.isValid(h)) return { v6: false, addr: new Address4(h) };
  if (Address6.isValid(h)) return { v6: true, addr: new Address6(h) };
  return undefined;
}

function parseCidr(v: string): Cidr {
  if (Address4.isValid(v) && /\/\d+$/.test(v)) return { v6: false, addr: new Address4(v) };
  if (Address6.isValid(v) && /\/\d+$/.test(v)) return { v6: true, addr: new Address6(v) };
  throw invalidParameter(`invalid insecure registry CIDR "${v}"`);
}

function validateMirror(raw: string): string {
  let u: URL;
  try {
    u = new URL(raw.trim());
  } catch {
    throw invalidParameter(`invalid mirror "${raw}": want https://host[:port][/path]`);
  }
  if (u.protocol !== 'https:' && u.protocol !== 'http:') throw invalidParameter(`invalid mirror "${raw}": unsupported scheme ${u.protocol}`);
  if (u.username || u.password || u.search || u.hash) throw invalidParameter(`invalid mirror "${raw}": no credentials, query or fragment allowed`);
  return u.href.replace(/\/+$/, '');
}
