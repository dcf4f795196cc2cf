// berthd's settings: flags, then a JSON config file with the same keys (flags win), then defaults.
// Everything is validated here, before anything is touched, into one frozen Config.
import { readFileSync } from 'node:fs';
import { FlagError, parseBool, parseFlags, type FlagSpec } from '../client/flags.js';
import { validateHosts } from './listeners.js';

export interface Config {
  hosts: string[];
  dataRoot: string;
  execRoot: string;
  pidfile: string;
  bridge: string;
  bip?: string;
  fixedCidr?: string;
  icc: boolean;
  ipForward: boolean;
  group?: string;
  logLevel: 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal';
  runtime: string;
  storageDriver: string;
  /** Prefix of every netns berth makes; tests use a per-run one. */
  namePrefix: string;
  insecureRegistries: string[];
  registryMirrors: string[];
  defaultAddressPools: { base: string; size: number }[];
  firewallBackend: 'iptables' | 'nftables';
  /** Seconds to wait for running jobs at shutdown. */
  shutdownTimeout: number;
  /** TCP listeners speak TLS (--tls, implied by --tlsverify). */
  tls: boolean;
  /** TCP clients must present a certificate signed by tlsCaCert (--tlsverify). */
  tlsVerify: boolean;
  tlsCaCert: string;
  tlsCert: string;
  tlsKey: string;
  /** Allow TCP without client verification on a non-loopback address (--insecure-tcp-listener). */
  insecureTcpListener: boolean;
}

export const daemonFlags = {
  host: { type: 'list', short: 'H' },
  'data-root': { type: 'string' },
  'exec-root': { type: 'string' },
  pidfile: { type: 'string', short: 'p' },
  bridge: { type: 'string', short: 'b' },
  bip: { type: 'string' },
  'fixed-cidr': { type: 'string' },
  icc: { type: 'string' },
  'ip-forward': { type: 'string' },
  group: { type: 'string', short: 'G' },
  'log-level': { type: 'string', short: 'l' },
  'config-file': { type: 'string' },
  runtime: { type: 'string' },
  'storage-driver': { type: 'string', short: 's' },
  'name-prefix': { type: 'string' },
  'insecure-registry': { type: 'list' },
  'registry-mirror': { type: 'list' },
  'default-address-pool': { type: 'list' },
  'firewall-backend': { type: 'string' },
  'shutdown-timeout': { type: 'string' },
  tls: { type: 'bool' },
  tlsverify: { type: 'bool' },
  tlscacert: { type: 'string' },
  tlscert: { type: 'string' },
  tlskey: { type: 'string' },
  'insecure-tcp-listener': { type: 'bool' },
  help: { type: 'bool', short: 'h' },
  version: { type: 'bool', short: 'v' },
} as const satisfies FlagSpec;

export const DEFAULT_SOCKET = 'unix:///run/berth/berth.sock';
/** berthd's config dir: the installed daemon.json and the default TLS files (dockerd's ~/.docker). */
export const CONFIG_DIR = '/etc/berth';
const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'] as const;

/** Config-file keys are the long flag names; list flags may be arrays (`"hosts"` as dockerd too). */
type FileConfig = Record<string, unknown>;

export function loadConfig(argv: readonly string[]): Config | { help: true } | { version: true } {
  const { flags, args } = parseFlags(argv, daemonFlags);
  if (flags.help) return { help: true };
  if (flags.version) return { version: true };
  if (args.length > 0) throw new FlagError(`berthd takes no arguments, got "${args[0]}"`);

  let file: FileConfig = {};
  if (flags['config-file']) {
    let text: string;
    try {
      text = readFileSync(flags['config-file'], 'utf8');
    } catch (e) {
      throw new FlagError(`cannot read config file ${flags['config-file']}: ${(e as Error).message}`);
    }
    try {
      file = JSON.parse(text) as FileConfig;
    } catch (e) {
      throw new FlagError(`config file ${flags['config-file']} is not valid JSON: ${(e as Error).message}`);
    }
    if (typeof file !== 'object' || file === null || Array.isArray(file)) throw new FlagError('config file must hold a JSON object');
    const known = new Set([...Object.keys(daemonFlags), 'hosts', 'insecure-registries', 'registry-mirrors', 'default-address-pools']);
    for (const k of Object.keys(file)) if (!known.has(k)) throw new FlagError(`unknown key "${k}" in config file`);
  }

  const str = (k: keyof typeof daemonFlags, fileKey: string = k): string | undefined => {
    const f = (flags as Record<string, unknown>)[k];
    if (typeof f === 'string') return f;
    const v = file[fileKey];
    if (v === undefined) return undefined;
    if (typeof v === 'string') return v;
    if (typeof v === 'boolean' || typeof v === 'number') return String(v);
    throw new FlagError(`config file key "${fileKey}" must be a string`);
  };
  const list = (k: keyof typeof daemonFlags, fileKey: string): string[] => {
    const f = (flags as Record<string, unknown>)[k];
    if (Array.isArray(f)) return f as string[];
    const v = file[fileKey] ?? file[k];
    if (v === undefined) return [];
    if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return v as string[];
    if (k === 'default-address-pool' && Array.isArray(v)) return v.map((p) => JSON.stringify(p));
    throw new FlagError(`config file key "${fileKey}" must be a list of strings`);
  };
  const bool = (k: keyof typeof daemonFlags, dflt: boolean) => {
    const f = (flags as Record<string, unknown>)[k];
    if (typeof f === 'boolean') return f;
    const v = str(k);
    return v === undefined ? dflt : parseBool(k, v);
  };

  const logLevel = (str('log-level') ?? 'info') as Config['logLevel'];
  if (!LOG_LEVELS.includes(logLevel)) throw new FlagError(`invalid log level "${logLevel}": want one of ${LOG_LEVELS.join(', ')}`);
  const firewallBackend = (str('firewall-backend') ?? 'iptables') as Config['firewallBackend'];
  if (firewallBackend !== 'iptables' && firewallBackend !== 'nftables')
    throw new FlagError(`invalid firewall backend "${firewallBackend}": want iptables or nftables`);
  const shutdownTimeout = Number(str('shutdown-timeout') ?? '15');
  if (!Number.isFinite(shutdownTimeout) || shutdownTimeout < 0) throw new FlagError('invalid --shutdown-timeout');
  const bridge = str('bridge') ?? 'berth0';
  if (!/^[A-Za-z0-9][A-Za-z0-9_-]{0,14}$/.test(bridge)) throw new FlagError(`invalid bridge name "${bridge}"`);

  const hosts = list('host', 'hosts');
  const tlsVerify = bool('tlsverify', false);
  const tlsSettings = {
    tls: tlsVerify || bool('tls', false),
    tlsVerify,
    tlsCaCert: str('tlscacert') ?? `${CONFIG_DIR}/ca.pem`,
    tlsCert: str('tlscert') ?? `${CONFIG_DIR}/cert.pem`,
    tlsKey: str('tlskey') ?? `${CONFIG_DIR}/key.pem`,
    insecureTcpListener: bool('insecure-tcp-listener', false),
  };
  try {
    validateHosts({ hosts, ...tlsSettings });
  } catch (e) {
    throw new FlagError((e as Error).message);
  }

  return Object.freeze({
    hosts: hosts.length > 0 ? hosts : [DEFAULT_SOCKET],
    dataRoot: str('data-root') ?? '/var/lib/berth',
    execRoot: str('exec-root') ?? '/run/berth',
    pidfile: str('pidfile') ?? '/run/berth/berthd.pid',
    bridge,
    ...optional('bip', str('bip')),
    ...optional('fixedCidr', str('fixed-cidr')),
    icc: bool('icc', true),
    ipForward: bool('ip-forward', true),
    ...optional('group', str('group')),
    logLevel,
    runtime: str('runtime') ?? 'runc',
    storageDriver: str('storage-driver') ?? 'overlay',
    namePrefix: str('name-prefix') ?? 'berth',
    insecureRegistries: list('insecure-registry', 'insecure-registries'),
    registryMirrors: list('registry-mirror', 'registry-mirrors'),
    defaultAddressPools: list('default-address-pool', 'default-address-pools').map(parsePool),
    firewallBackend,
    shutdownTimeout,
    ...tlsSettings,
  });
}

function optional<K extends string, V>(k: K, v: V | undefined): { [P in K]?: V } {
  return (v === undefined ? {} : { [k]: v }) as { [P in K]?: V };
}

/** `base=10.10.0.0/16,size=24` (dockerd's form) or a JSON object {"base":…,"size":…}. */
function parsePool(s: string): { base: string; size: number } {
  let base: string | undefined;
  let size: number | undefined;
  if (s.startsWith('{')) {
    const o = JSON.parse(s) as { base?: string; size?: number };
    base = o.base;
    size = o.size;
  } else {
    for (const part of s.split(',')) {
      const [k, v] = part.split('=');
      if (k === 'base') base = v;
      else if (k === 'size') size = Number(v);
      else throw new FlagError(`invalid default address pool "${s}": unknown key "${k}"`);
    }
  }
  if (!base || !/^\d+\.\d+\.\d+\.\d+\/\d+$/.test(base) || !size || size < 8 || size > 30)
    throw new FlagError(`invalid default address pool "${s}": want base=<cidr>,size=<prefix length>`);
  return { base, size };
}

/** A -H value berthd can listen on (see daemon/listeners.ts parseHost); throws a FlagError. */
export function validateHost(h: string, tls = false): void {
  try {
    validateHosts({ hosts: [h], tls, tlsVerify: tls, tlsCaCert: '', tlsCert: '', tlsKey: '', insecureTcpListener: true });
  } catch (e) {
    throw new FlagError((e as Error).message);
  }
}
