// Docker's port syntax, pure: `-p` and `--expose` as the docker CLI parses them (go-connections
// nat.ParsePortSpec), and HostConfig.PortBindings as any client sends it → validated requests.
// Imported by the CLI too: nothing here but drivers/errors.ts and drivers/types.ts.
import { invalidParameter } from '../../errors.js';
import type { PortBindingRequest, Proto } from '../../types.js';

const PROTOS: readonly Proto[] = ['tcp', 'udp', 'sctp'];

export interface PublishSpecs {
  exposedPorts: Record<string, {}>;
  portBindings: Record<string, { HostIp: string; HostPort: string }[]>;
}

/** A port or a range "a-b", each 0..65535, as Go's ParseUint(…, 10, 16); undefined if malformed. */
function parseRange(s: string): { start: number; end: number } | undefined {
  const parts = s.split('-');
  if (parts.length > 2 || s === '') return undefined;
  const nums = parts.map((p) => (/^\d{1,5}$/.test(p) ? Number(p) : NaN));
  const start = nums[0]!;
  const end = nums.length === 2 ? nums[1]! : start;
  if (!Number.isInteger(start) || !Number.isInteger(end) || start > 65535 || end > 65535 || end < start) return undefined;
  return { start, end };
}

/** Docker's splitParts: ip:hostPort:containerPort, the IP may itself hold colons ([::1]). */
function splitParts(raw: string): [string, string, string] {
  const parts = raw.split(':');
  const n = parts.length;
  const container = parts[n - 1]!;
  if (n === 1) return ['', '', container];
  if (n === 2) return ['', parts[0]!, container];
  return [parts.slice(0, n - 2).join(':'), parts[n - 2]!, container];
}

/** "80/udp" → ['udp', '80']; "80" and "80/" → tcp. */
function splitProto(raw: string): [string, string] {
  const i = raw.indexOf('/');
  if (i < 0) return ['tcp', raw];
  const port = raw.slice(0, i);
  const proto = raw.slice(i + 1);
  return [proto === '' ? 'tcp' : proto, port];
}

function checkProto(proto: string): Proto {
  const p = proto.toLowerCase();
  if (!(PROTOS as readonly string[]).includes(p)) throw invalidParameter(`invalid proto: ${proto}`);
  return p as Proto;
}

/** IPv4 dotted quad or an IPv6 address (Go's net.ParseIP accepts both). */
export function isIp(s: string): boolean {
  return isIpv4(s) || isIpv6(s);
}

export function isIpv4(s: string): boolean {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s);
  return !!m && m.slice(1).every((x) => Number(x) <= 255 && !(x.length > 1 && x.startsWith('0')));
}

function isIpv6(s: string): boolean {
  if (!s.includes(':') || !/^[0-9a-fA-F:.]+$/.test(s)) return false;
  let head = s;
  let groupsFromV4 = 0;
  const lastColon = s.lastIndexOf(':');
  const tail = s.slice(lastColon + 1);
  if (tail.includes('.')) {
    if (!isIpv4(tail)) return false;
    head = s.slice(0, lastColon + 1) + '0';
    groupsFromV4 = 1;
  }
  const dbl = head.split('::');
  if (dbl.length > 2) return false;
  const groups = (x: string) => (x === '' ? [] : x.split(':'));
  const all = dbl.flatMap(groups);
  if (!all.every((g) => /^[0-9a-fA-F]{1,4}$/.test(g))) return false;
  const count = all.length + groupsFromV4;
  return dbl.length === 2 ? count <= 7 : count === 8;
}

/**
 * Every `docker run -p` form: 8080:80, 127.0.0.1:8080:80, 127.0.0.1::80, 80, 8000-8010:80-90 (1:1,
 * one entry per port), 8000-8010:80 (HostPort "8000-8010": any one free port of it), /udp, /sctp,
 * [::1]:80:80. Errors carry Docker's messages.
 */
export function parsePublishSpecs(specs: string[]): PublishSpecs {
  const exposedPorts: Record<string, {}> = {};
  const portBindings: Record<string, { HostIp: string; HostPort: string }[]> = {};
  for (const raw of specs) {
    let [ip, hostPort, rest] = splitParts(raw);
    const [proto, containerPort] = splitProto(rest);
    if (ip.startsWith('[')) {
      if (!ip.endsWith(']')) throw invalidParameter(`invalid IP address ${ip}: missing ']' in address`);
      ip = ip.slice(1, -1);
    }
    if (ip !== '' && !isIp(ip)) throw invalidParameter(`invalid IP address: ${ip}`);
    if (containerPort === '') throw invalidParameter(`no port specified: ${raw}<empty>`);
    const cr = parseRange(containerPort);
    if (!cr || cr.start === 0) throw invalidParameter(`invalid containerPort: ${containerPort}`);
    let hr: { start: number; end: number } | undefined;
    if (hostPort !== '') {
      hr = parseRange(hostPort);
      if (!hr) throw invalidParameter(`invalid hostPort: ${hostPort}`);
      if (cr.end - cr.start !== hr.end - hr.start && cr.end !== cr.start)
        throw invalidParameter(`invalid ranges specified for container and host Ports: ${containerPort} and ${hostPort}`);
    }
    const p = checkProto(proto);
    for (let i = 0; i <= cr.end - cr.start; i++) {
      const key = `${cr.start + i}/${p}`;
      let hp = '';
      if (hr) hp = cr.start === cr.end && hr.start !== hr.end ? `${hr.start}-${hr.end}` : String(hr.start + i);
      exposedPorts[key] = {};
      (portBindings[key] ??= []).push({ HostIp: ip, HostPort: hp });
    }
  }
  return { exposedPorts, portBindings };
}

/** `docker run --expose`: 80, 80/udp, 8000-8010 (one key per port). */
export function parseExposeSpecs(specs: string[]): Record<string, {}> {
  const out: Record<string, {}> = {};
  for (const e of specs) {
    if (e.includes(':')) throw invalidParameter(`invalid port format for --expose: ${e}`);
    const [proto, port] = splitProto(e);
    const r = parseRange(port);
    if (!r) throw invalidParameter(`invalid range format for --expose: ${e}, error: invalid port "${port}"`);
    const p = checkProto(proto);
    for (let i = r.start; i <= r.end; i++) out[`${i}/${p}`] = {};
  }
  return out;
}

/** "80/tcp" or "80" → port and proto; Docker's message for a bad key. */
function parsePortKey(key: string): { port: number; proto: Proto } {
  const [proto, port] = splitProto(key);
  const r = parseRange(port);
  if (!r || r.start !== r.end || r.start === 0) throw invalidParameter(`invalid port specification: "${key}"`);
  return { port: r.start, proto: checkProto(proto) };
}

/**
 * HostConfig.PortBindings (+ ExposedPorts and PublishAllPorts) → validated requests, in key order.
 * HostPort "" or "0" = ephemeral; "8000-8010" = any one free port of the range. -P adds an ephemeral
 * request for each exposed port that has no binding.
 */
export function portBindingRequests(
  portBindings: Record<string, { HostIp?: string; HostPort?: string }[]> | undefined | null,
  exposedPorts: Record<string, {}> | undefined | null,
  publishAll: boolean,
): PortBindingRequest[] {
  const out: PortBindingRequest[] = [];
  const bound = new Set<string>();
  for (const [key, list] of Object.entries(portBindings ?? {})) {
    const { port, proto } = parsePortKey(key);
    if (list === null || list === undefined) continue;
    if (!Array.isArray(list)) throw invalidParameter(`invalid port binding for "${key}": want a list`);
    for (const b of list) {
      const hostIp = (b?.HostIp ?? '').trim();
      const hostPortRaw = (b?.HostPort ?? '').trim();
      let ip = hostIp;
      if (ip.startsWith('[') && ip.endsWith(']')) ip = ip.slice(1, -1);
      if (ip !== '' && !isIp(ip)) throw invalidParameter(`invalid IP address: ${hostIp}`);
      let start = 0;
      let end = 0;
      if (hostPortRaw !== '') {
        const r = parseRange(hostPortRaw);
        if (!r) throw invalidParameter(`invalid hostPort: ${hostPortRaw}`);
        start = r.start;
        end = r.end;
      }
      out.push({ containerPort: port, proto, hostIp: ip, hostPort: start, hostPortEnd: end });
      bound.add(`${port}/${proto}`);
    }
  }
  if (publishAll) {
    for (const key of Object.keys(exposedPorts ?? {})) {
      const { port, proto } = parsePortKey(key);
      if (bound.has(`${port}/${proto}`)) continue;
      bound.add(`${port}/${proto}`);
      out.push({ containerPort: port, proto, hostIp: '', hostPort: 0, hostPortEnd: 0 });
    }
  }
  return out;
}
