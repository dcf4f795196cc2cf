// The files berthd writes for each container and the exec driver bind-mounts: /etc/hosts,
// /etc/resolv.conf, /etc/hostname. Pure: content from inputs.

export interface HostsEntry {
  ip: string;
  names: string[];
}

export function hostsFile(opts: { hostname: string; ip?: string; entries?: HostsEntry[]; extraHosts?: string[] }): string {
  const lines = [
    '127.0.0.1\tlocalhost',
    '::1\tlocalhost ip6-localhost ip6-loopback',
    'fe00::0\tip6-localnet',
    'ff00::0\tip6-mcastprefix',
    'ff02::1\tip6-allnodes',
    'ff02::2\tip6-allrouters',
  ];
  for (const h of opts.extraHosts ?? []) {
    const [name, ip] = splitExtraHost(h);
    lines.push(`${ip}\t${name}`);
  }
  for (const e of opts.entries ?? []) lines.push(`${e.ip}\t${e.names.join(' ')}`);
  if (opts.ip) lines.push(`${opts.ip}\t${opts.hostname}`);
  return lines.join('\n') + '\n';
}

/** `--add-host name:ip` (docker also takes name=ip). */
export function splitExtraHost(h: string): [string, string] {
  const m = /^([^:=]+)[:=](.+)$/.exec(h);
  if (!m) throw new Error(`invalid extra host "${h}": want name:ip`);
  return [m[1]!, m[2]!.replace(/^\[(.*)\]$/, '$1')];
}

const FALLBACK_DNS = ['8.8.8.8', '8.8.4.4'];

/**
 * resolv.conf for a container, as Docker makes it: the host's file, without nameservers on
 * loopback (unreachable from a container's own netns) — Google's if none are left — unless the
 * container shares the host's netns; `--dns`, `--dns-search`, `--dns-option` replace their parts.
 */
export function resolvConf(host: string, opts: { hostNetwork: boolean; dns?: string[]; search?: string[]; options?: string[] }): string {
  const lines = host.split('\n');
  let ns = lines.filter((l) => /^\s*nameserver\s/.test(l)).map((l) => l.trim().split(/\s+/)[1]!);
  let search = lines.filter((l) => /^\s*(search|domain)\s/.test(l)).flatMap((l) => l.trim().split(/\s+/).slice(1));
  let options = lines.filter((l) => /^\s*options\s/.test(l)).flatMap((l) => l.trim().split(/\s+/).slice(1));
  if (!opts.hostNetwork) {
    ns = ns.filter((n) => !n.startsWith('127.') && n !== '::1');
    if (ns.length === 0) ns = FALLBACK_DNS;
  }
  if (opts.dns?.length) ns = opts.dns;
  if (opts.search?.length) search = opts.search.filter((s) => s !== '.');
  if (opts.options?.length) options = opts.options;
  return [
    ...(search.length ? [`search ${search.join(' ')}`] : []),
    ...ns.map((n) => `nameserver ${n}`),
    ...(options.length ? [`options ${options.join(' ')}`] : []),
  ].join('\n') + '\n';
}
