// `run` / `create` flags → the exact POST /containers/create body docker's CLI 28 sends.
// Two steps, both pure: parseContainerArgs() checks every flag, -p and --expose included (no I/O),
// buildCreateBody() adds what needs the client's environment and files. Flags berth does not
// support are refused by name, never ignored.
import { isIP } from 'node:net';
import { parseExposeSpecs, parsePublishSpecs } from '../../drivers/network/ports/spec.js';
import { UsageError } from '../command.js';
import { parseFlags, type FlagSpec } from '../flags.js';
import { kvToMap, parseKeyValueFile, resolveEnv, validateLabel, type Lookup } from './kv.js';
import { parseResourceFlags, resourceFlags, type ResourceFields } from './resources.js';
import { absoluteMountSource, parseMountFlag, parseVolumeSpec, tmpfsFlags, volumeFlags, type MountFlag } from './mounts.js';

export const containerFlags = {
  attach: { type: 'list', short: 'a' },
  env: { type: 'list', short: 'e' },
  'env-file': { type: 'list' },
  entrypoint: { type: 'string' },
  hostname: { type: 'string', short: 'h' },
  domainname: { type: 'string' },
  interactive: { type: 'bool', short: 'i' },
  tty: { type: 'bool', short: 't' },
  label: { type: 'list', short: 'l' },
  'label-file': { type: 'list' },
  restart: { type: 'string' },
  'stop-signal': { type: 'string' },
  'stop-timeout': { type: 'string' },
  user: { type: 'string', short: 'u' },
  workdir: { type: 'string', short: 'w' },
  rm: { type: 'bool' },
  init: { type: 'bool' },
  name: { type: 'string' },
  pull: { type: 'string' },
  quiet: { type: 'bool', short: 'q' },
  // network
  'add-host': { type: 'list' },
  dns: { type: 'list' },
  'dns-option': { type: 'list', aliases: ['dns-opt'] },
  'dns-search': { type: 'list' },
  expose: { type: 'list' },
  ip: { type: 'string' },
  ip6: { type: 'string' },
  link: { type: 'list' },
  'mac-address': { type: 'string' },
  publish: { type: 'list', short: 'p' },
  'publish-all': { type: 'bool', short: 'P' },
  network: { type: 'list', aliases: ['net'] },
  'network-alias': { type: 'list', aliases: ['net-alias'] },
  // mounts (client/opts/mounts.ts)
  volume: { type: 'list', short: 'v' },
  mount: { type: 'list' },
  tmpfs: { type: 'list' },
  // resource limits (client/opts/resources.ts)
  ...resourceFlags,
} as const satisfies FlagSpec;

export const runOnlyFlags = {
  detach: { type: 'bool', short: 'd' },
  'sig-proxy': { type: 'bool' },
  'detach-keys': { type: 'string' },
} as const satisfies FlagSpec;

/** docker run/create flags berth refuses ("berth: --privileged is not supported"). */
const unsupported = {
  'volumes-from': { type: 'list' },
  'volume-driver': { type: 'string' },
  privileged: { type: 'bool' },
  'cap-add': { type: 'list' },
  'cap-drop': { type: 'list' },
  device: { type: 'list' },
  'device-cgroup-rule': { type: 'list' },
  gpus: { type: 'string' },
  'security-opt': { type: 'list' },
  userns: { type: 'string' },
  cgroupns: { type: 'string' },
  'cgroup-parent': { type: 'string' },
  pid: { type: 'string' },
  ipc: { type: 'string' },
  uts: { type: 'string' },
  'memory-swappiness': { type: 'string' },
  'kernel-memory': { type: 'string' },
  'cpu-rt-period': { type: 'string' },
  'cpu-rt-runtime': { type: 'string' },
  'blkio-weight': { type: 'string' },
  'blkio-weight-device': { type: 'list' },
  'device-read-bps': { type: 'list' },
  'device-write-bps': { type: 'list' },
  'device-read-iops': { type: 'list' },
  'device-write-iops': { type: 'list' },
  ulimit: { type: 'list' },
  sysctl: { type: 'list' },
  'shm-size': { type: 'string' },
  'read-only': { type: 'bool' },
  'group-add': { type: 'list' },
  'oom-score-adj': { type: 'string' },
  'log-driver': { type: 'string' },
  'log-opt': { type: 'list' },
  'storage-opt': { type: 'list' },
  runtime: { type: 'string' },
  isolation: { type: 'string' },
  'health-cmd': { type: 'string' },
  'health-interval': { type: 'string' },
  'health-retries': { type: 'string' },
  'health-timeout': { type: 'string' },
  'health-start-period': { type: 'string' },
  'health-start-interval': { type: 'string' },
  'no-healthcheck': { type: 'bool' },
  cidfile: { type: 'string' },
  platform: { type: 'string' },
  'link-local-ip': { type: 'list' },
  annotation: { type: 'list' },
  'use-api-socket': { type: 'bool' },
} as const satisfies FlagSpec;

export interface NetworkAttachment {
  target: string;
  aliases?: string[];
  ipv4?: string;
  ipv6?: string;
  mac?: string;
  driverOpts?: Record<string, string>;
}

export interface ContainerArgs {
  mode: 'run' | 'create';
  image: string;
  cmd: string[];
  name?: string;
  detach: boolean;
  sigProxy: boolean;
  detachKeys?: string;
  pull: 'missing' | 'always' | 'never';
  quiet: boolean;
  rm: boolean;
  attach: string[];
  interactive: boolean;
  tty: boolean;
  init?: boolean;
  env: string[];
  envFiles: string[];
  labels: string[];
  labelFiles: string[];
  entrypoint?: string;
  hostname: string;
  domainname: string;
  user: string;
  workdir: string;
  restart: { Name: string; MaximumRetryCount: number };
  stopSignal: string;
  stopTimeout?: number;
  /** -p, parsed by the daemon's own parser (drivers/network/ports/spec.ts). */
  portBindings: Record<string, { HostIp: string; HostPort: string }[]>;
  /** Ports from -p and --expose. */
  exposedPorts: Record<string, object>;
  publishAll: boolean;
  networks: NetworkAttachment[];
  aliases: string[];
  ip?: string;
  ip6?: string;
  mac?: string;
  dns: string[];
  dnsSearch: string[];
  dnsOptions: string[];
  addHost: string[];
  links: string[];
  /** NetworkingConfig.EndpointsConfig, from --network, --ip, --network-alias, --link, --mac-address. */
  endpoints: Record<string, EndpointSettings>;
  /** -m, --cpus, --pids-limit …: the HostConfig fields as docker sends them. */
  resources: ResourceFields;
  /** -v values as given (checked; sorted into Binds and Volumes by buildCreateBody). */
  volumes: string[];
  /** --mount, parsed (a relative `.` source is made absolute by buildCreateBody). */
  mounts: MountFlag[];
  /** --tmpfs: destination → options. */
  tmpfs: Record<string, string>;
}

const NON_USER_DEFINED = new Set(['default', 'bridge', 'host', 'none']);

/** docker's NetworkMode.IsUserDefined. */
export function isUserDefinedNetwork(mode: string): boolean {
  return !NON_USER_DEFINED.has(mode) && !mode.startsWith('container:');
}

/** docker's ParseRestartPolicy plus the daemon's ValidateRestartPolicy, with their messages. */
export function parseRestartPolicy(policy: string): { Name: string; MaximumRetryCount: number } {
  if (policy === '') return { Name: '', MaximumRetryCount: 0 };
  const colon = policy.indexOf(':');
  const name = colon >= 0 ? policy.slice(0, colon) : policy;
  const count = colon >= 0 ? policy.slice(colon + 1) : '';
  if (colon >= 0 && name === '') throw new UsageError('invalid restart policy format: no policy provided before colon');
  let n = 0;
  if (count !== '') {
    if (!/^[+-]?\d+$/.test(count)) throw new UsageError('invalid restart policy format: maximum retry count must be an integer');
    n = Number(count);
  }
  switch (name) {
    case 'no':
    case 'always':
    case 'unless-stopped':
      if (n !== 0)
        throw new UsageError(
          `invalid restart policy: maximum retry count can only be used with 'on-failure'${n < 0 ? ' and cannot be negative' : ''}`,
        );
      break;
    case 'on-failure':
      if (n < 0) throw new UsageError('invalid restart policy: maximum retry count cannot be negative');
      break;
    default:
      throw new UsageError(
        `invalid restart policy: unknown policy '${name}'; use one of 'no', 'always', 'on-failure', or 'unless-stopped'`,
      );
  }
  return { Name: name, MaximumRetryCount: n };
}

/** Go's net.ParseMAC shapes: 6, 8 or 20 bytes as xx:xx…, xx-xx… or xxxx.xxxx…. */
export function isMac(s: string): boolean {
  const t = s.trim();
  const bytes = (n: number) => n === 6 || n === 8 || n === 20;
  if (/^[0-9a-f]{2}([:-][0-9a-f]{2})+$/i.test(t)) {
    const sep = t[2];
    return t.split(sep!).length === t.split(/[:-]/).length && bytes(t.split(sep!).length);
  }
  if (/^[0-9a-f]{4}(\.[0-9a-f]{4})+$/i.test(t)) return bytes(t.split('.').length * 2);
  return false;
}

function ipFlag(flag: string, v: string | undefined, family: 4 | 6): string | undefined {
  if (v === undefined) return undefined;
  const t = v.trim();
  if (isIP(t) !== family)
    throw new UsageError(`invalid argument "${v}" for "--${flag}" flag: invalid string being converted to IP${family === 6 ? 'v6' : 'v4'} address: ${v}`);
  return t;
}

function validateLink(v: string): string {
  if (v === '') throw new UsageError('invalid argument "" for "--link" flag: empty string specified for links');
  if (v.split(':').length > 2) throw new UsageError(`invalid argument "${v}" for "--link" flag: bad format for links: ${v}`);
  return v;
}

/** --network: a name, or docker's long form `name=n,alias=a,ip=…,ip6=…,mac-address=…,driver-opt=k=v`. */
export function parseNetworkFlag(value: string): NetworkAttachment {
  if (!/\w+=\w+(,\w+=\w+)*/.test(value)) return { target: value };
  const att: NetworkAttachment = { target: '', aliases: [] };
  for (const field of value.split(',')) {
    const eq = field.indexOf('=');
    const key = eq > 0 ? field.slice(0, eq).trim().toLowerCase() : '';
    if (!key) throw new UsageError(`invalid argument "${value}" for "--network" flag: invalid field ${field}`);
    const val = field.slice(eq + 1).trim();
    switch (key) {
      case 'name':
        att.target = val;
        break;
      case 'alias':
        att.aliases!.push(val);
        break;
      case 'ip':
        att.ipv4 = ipFlag('network', val, 4);
        break;
      case 'ip6':
        att.ipv6 = ipFlag('network', val, 6);
        break;
      case 'mac-address':
        att.mac = val;
        break;
      case 'driver-opt': {
        const i = val.indexOf('=');
        if (i <= 0) throw new UsageError(`invalid argument "${value}" for "--network" flag: invalid key value pair format in driver options`);
        (att.driverOpts ??= {})[val.slice(0, i).trim().toLowerCase()] = val.slice(i + 1).trim();
        break;
      }
      default:
        throw new UsageError(`invalid argument "${value}" for "--network" flag: invalid field key ${key}`);
    }
  }
  if (!att.target) throw new UsageError(`invalid argument "${value}" for "--network" flag: network name/id is not specified`);
  return att;
}

function toInt(flag: string, v: string): number {
  if (!/^[+-]?\d+$/.test(v)) throw new UsageError(`invalid argument "${v}" for "--${flag}" flag: strconv.ParseInt: parsing "${v}": invalid syntax`);
  return Number(v);
}

/** Parse and check `run`/`create` arguments; nothing here reads a file or the environment. */
export function parseContainerArgs(argv: string[], mode: 'run' | 'create'): ContainerArgs {
  const spec = mode === 'run' ? { ...containerFlags, ...runOnlyFlags, ...unsupported } : { ...containerFlags, ...unsupported };
  const { flags: f0, args } = parseFlags(argv, spec, { interspersed: false });
  const f = f0 as Record<string, string | string[] | boolean | undefined>;
  for (const name of Object.keys(unsupported)) {
    if (f[name] !== undefined) throw new UsageError(`--${name} is not supported`);
  }
  const str = (k: string) => f[k] as string | undefined;
  const list = (k: string) => (f[k] as string[] | undefined) ?? [];
  const bool = (k: string) => f[k] as boolean | undefined;

  const image = args[0];
  if (!image) throw new UsageError(`"${mode}" requires at least 1 argument.\nUsage:  berth ${mode} [OPTIONS] IMAGE [COMMAND] [ARG...]`);

  const mac = str('mac-address');
  if (mac !== undefined && mac !== '' && !isMac(mac)) throw new UsageError(`${mac} is not a valid mac address`);

  const attach = list('attach').map((a) => {
    const s = a.toLowerCase();
    if (!['stdin', 'stdout', 'stderr'].includes(s))
      throw new UsageError(`invalid argument "${a}" for "-a, --attach" flag: valid streams are STDIN, STDOUT and STDERR`);
    return s;
  });
  const detach = bool('detach') ?? false;
  if (detach && attach.length) throw new UsageError('conflicting options: cannot specify both --attach and --detach');

  const pull = str('pull') ?? 'missing';
  if (pull !== 'missing' && pull !== 'always' && pull !== 'never')
    throw new UsageError(`invalid pull option: '${pull}': must be one of "always", "missing" or "never"`);

  const restart = parseRestartPolicy(str('restart') ?? 'no');
  const rm = bool('rm') ?? false;
  if (rm && restart.Name !== 'no' && restart.Name !== '') throw new UsageError('conflicting options: cannot specify both --restart and --rm');

  const dns = list('dns').map((d) => {
    const t = d.trim();
    if (!isIP(t)) throw new UsageError(`invalid argument "${d}" for "--dns" flag: IP address is not correctly formatted: ${d}`);
    return t.toLowerCase();
  });
  for (const h of list('add-host')) {
    const i = h.indexOf(':') >= 0 ? h.indexOf(':') : h.indexOf('=');
    if (i <= 0 || h.slice(i + 1) === '') throw new UsageError(`invalid argument "${h}" for "--add-host" flag: bad format for add-host: "${h}"`);
  }

  const networks = list('network').map(parseNetworkFlag);
  const seen = new Set<string>();
  for (const n of networks) {
    if (seen.has(n.target)) throw new UsageError(`network "${n.target}" is specified multiple times`);
    seen.add(n.target);
  }
  if (networks.some((n) => isUserDefinedNetwork(n.target)) && networks.some((n) => !isUserDefinedNetwork(n.target)))
    throw new UsageError('conflicting options: cannot attach both user-defined and non-user-defined network-modes');

  let published: ReturnType<typeof parsePublishSpecs>;
  let exposed: Record<string, object>;
  try {
    published = parsePublishSpecs(list('publish'));
    exposed = parseExposeSpecs(list('expose'));
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const exposedPorts: Record<string, object> = {};
  for (const k of [...Object.keys(published.exposedPorts), ...Object.keys(exposed)]) exposedPorts[k] = {};

  const volumes = list('volume');
  for (const v of volumes) parseVolumeSpec(v);
  const mounts = list('mount').map(parseMountFlag);

  const stopTimeout = str('stop-timeout');
  const entrypoint = str('entrypoint');
  const a: Omit<ContainerArgs, 'endpoints'> = {
    mode,
    image,
    cmd: args.slice(1),
    ...(str('name') !== undefined ? { name: str('name') } : {}),
    detach,
    sigProxy: bool('sig-proxy') ?? true,
    ...(str('detach-keys') !== undefined ? { detachKeys: str('detach-keys') } : {}),
    pull,
    quiet: bool('quiet') ?? false,
    rm,
    attach,
    interactive: bool('interactive') ?? false,
    tty: bool('tty') ?? false,
    ...(bool('init') !== undefined ? { init: bool('init') } : {}),
    env: list('env'),
    envFiles: list('env-file'),
    labels: list('label').map(validateLabel),
    labelFiles: list('label-file'),
    ...(entrypoint !== undefined ? { entrypoint } : {}),
    hostname: str('hostname') ?? '',
    domainname: str('domainname') ?? '',
    user: str('user') ?? '',
    workdir: str('workdir') ?? '',
    restart,
    stopSignal: str('stop-signal') ?? '',
    ...(stopTimeout !== undefined ? { stopTimeout: toInt('stop-timeout', stopTimeout) } : {}),
    portBindings: published.portBindings,
    exposedPorts,
    publishAll: bool('publish-all') ?? false,
    networks,
    aliases: list('network-alias'),
    ...(str('ip') !== undefined ? { ip: ipFlag('ip', str('ip'), 4) } : {}),
    ...(str('ip6') !== undefined ? { ip6: ipFlag('ip6', str('ip6'), 6) } : {}),
    ...(mac ? { mac } : {}),
    dns,
    dnsSearch: list('dns-search'),
    dnsOptions: list('dns-option'),
    addHost: list('add-host'),
    links: list('link').map(validateLink),
    volumes,
    mounts,
    tmpfs: tmpfsFlags(list('tmpfs')),
    resources: parseResourceFlags(f),
  };
  return { ...a, endpoints: endpointsConfig(a) };
}

export type EndpointSettings = ReturnType<typeof endpointSettings>;

/** Docker's EndpointSettings with every field, as its CLI marshals it. */
/** Docker's EndpointSettings as the docker CLI sends it (run/create and network connect). */
export function endpointSettings(e: {
  ipam?: Record<string, unknown>;
  links?: string[];
  aliases?: string[];
  mac?: string;
  driverOpts?: Record<string, string>;
  gwPriority?: number;
}) {
  return {
    IPAMConfig: e.ipam ?? null,
    Links: e.links ?? null,
    Aliases: e.aliases ?? null,
    MacAddress: e.mac ?? '',
    DriverOpts: e.driverOpts ?? null,
    GwPriority: e.gwPriority ?? 0,
    NetworkID: '',
    EndpointID: '',
    Gateway: '',
    IPAddress: '',
    IPPrefixLen: 0,
    IPv6Gateway: '',
    GlobalIPv6Address: '',
    GlobalIPv6PrefixLen: 0,
    DNSNames: null,
  };
}

/** docker's parseNetworkOpts: the endpoints to send; --ip/--network-alias/--link/--mac-address apply to the first network. */
function endpointsConfig(a: Omit<ContainerArgs, 'endpoints'>): Record<string, EndpointSettings> {
  const nets: NetworkAttachment[] = a.networks.length ? a.networks.map((n) => ({ ...n })) : [{ target: 'default' }];
  const first = nets[0]!;
  if (first.aliases?.length && a.aliases.length)
    throw new UsageError('conflicting options: cannot specify both --network-alias and per-network alias');
  if (first.ipv4 && a.ip) throw new UsageError('conflicting options: cannot specify both --ip and per-network IPv4 address');
  if (first.ipv6 && a.ip6) throw new UsageError('conflicting options: cannot specify both --ip6 and per-network IPv6 address');
  if (first.mac && a.mac) throw new UsageError('conflicting options: cannot specify both --mac-address and per-network MAC address');
  let links: string[] | undefined;
  if (a.aliases.length) first.aliases = [...a.aliases];
  if (isUserDefinedNetwork(first.target) && a.links.length) links = [...a.links];
  if (a.ip) first.ipv4 = a.ip;
  if (a.ip6) first.ipv6 = a.ip6;
  if (a.mac) first.mac = a.mac;

  const out: Record<string, EndpointSettings> = {};
  nets.forEach((n, i) => {
    if (!n.target.trim()) throw new UsageError('no name set for network');
    if (!isUserDefinedNetwork(n.target) && n.aliases?.length)
      throw new UsageError('network-scoped aliases are only supported for user-defined networks');
    if (n.mac && !isMac(n.mac)) throw new UsageError(`${n.mac} is not a valid mac address`);
    const ipam: Record<string, string> = {};
    if (n.ipv4) ipam.IPv4Address = n.ipv4;
    if (n.ipv6) ipam.IPv6Address = n.ipv6;
    const epLinks = i === 0 ? links : undefined;
    const hasIpam = Object.keys(ipam).length > 0;
    const zero = n.aliases === undefined && !epLinks && !hasIpam && !n.mac && !n.driverOpts;
    // A lone --network without endpoint options sends no endpoint (docker's backward-compatible form).
    if (a.networks.length === 1 && zero) return;
    out[n.target] = endpointSettings({
      ...(hasIpam ? { ipam } : {}),
      ...(epLinks ? { links: epLinks } : {}),
      ...(n.aliases ? { aliases: n.aliases } : {}),
      ...(n.mac ? { mac: n.mac } : {}),
      ...(n.driverOpts ? { driverOpts: n.driverOpts } : {}),
    });
  });
  return out;
}

export interface BuildContext {
  /** The client's environment, for -e KEY and env-file lines without a value. */
  env: Lookup;
  /** Reads --env-file / --label-file; throws like fs.readFileSync. */
  readFile(path: string): string;
  /** [rows, cols] of the client's terminal, [0, 0] when there is none. */
  consoleSize: [number, number];
  /** The client's working directory: a `-v ./dir:/x` source is made absolute against it. */
  cwd?: string;
}

export interface CreateRequest {
  name?: string;
  body: Record<string, unknown> & {
    Image: string;
    Tty: boolean;
    AttachStdin: boolean;
    AttachStdout: boolean;
    AttachStderr: boolean;
    OpenStdin: boolean;
    HostConfig: Record<string, unknown> & { AutoRemove: boolean };
  };
}

function readKv(files: string[], ctx: BuildContext, lookup: Lookup | undefined, what: string): string[] {
  const out: string[] = [];
  for (const f of files) {
    let text: string;
    try {
      text = ctx.readFile(f);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      const why = code === 'ENOENT' ? 'no such file or directory' : code === 'EACCES' ? 'permission denied' : (e as Error).message;
      throw new UsageError(`${what}: open ${f}: ${why}`);
    }
    try {
      out.push(...parseKeyValueFile(f, text, lookup));
    } catch (e) {
      throw new UsageError(`${what}: ${(e as Error).message}`);
    }
  }
  return out;
}

/** The create request: `?name=` and the body, exactly as docker 28's CLI would send it. */
export function buildCreateBody(a: ContainerArgs, ctx: BuildContext): CreateRequest {
  const env = [...readKv(a.envFiles, ctx, ctx.env, '--env-file'), ...a.env.map((e) => resolveEnv(e, ctx.env))];
  const labels = [...readKv(a.labelFiles, ctx, undefined, '--label-file'), ...a.labels];

  let attachStdin = a.attach.includes('stdin') || a.interactive;
  let attachStdout = a.attach.length === 0 || a.attach.includes('stdout');
  let attachStderr = a.attach.length === 0 || a.attach.includes('stderr');
  let stdinOnce = a.interactive && attachStdin;
  if (a.mode === 'run' && a.detach) attachStdin = attachStdout = attachStderr = stdinOnce = false;

  const cwd = ctx.cwd ?? '/';
  const vols = volumeFlags(a.volumes, cwd);
  const hostConfig: CreateRequest['body']['HostConfig'] = {
    Binds: vols.binds.length ? vols.binds : null,
    ContainerIDFile: '',
    LogConfig: { Type: '', Config: {} },
    NetworkMode: a.networks[0]?.target ?? 'default',
    PortBindings: a.portBindings,
    RestartPolicy: a.restart,
    AutoRemove: a.rm,
    VolumeDriver: '',
    VolumesFrom: null,
    ConsoleSize: ctx.consoleSize,
    CapAdd: null,
    CapDrop: null,
    CgroupnsMode: '',
    Dns: a.dns,
    DnsOptions: a.dnsOptions,
    DnsSearch: a.dnsSearch,
    ExtraHosts: a.addHost.length ? a.addHost : null,
    GroupAdd: null,
    IpcMode: '',
    Cgroup: '',
    Links: a.links.length ? a.links : null,
    OomScoreAdj: 0,
    PidMode: '',
    Privileged: false,
    PublishAllPorts: a.publishAll,
    ReadonlyRootfs: false,
    SecurityOpt: null,
    ...(Object.keys(a.tmpfs).length ? { Tmpfs: a.tmpfs } : {}),
    UTSMode: '',
    UsernsMode: '',
    ShmSize: 0,
    Isolation: '',
    CpuShares: a.resources.CpuShares,
    Memory: a.resources.Memory,
    NanoCpus: a.resources.NanoCpus,
    CgroupParent: '',
    BlkioWeight: 0,
    BlkioWeightDevice: [],
    BlkioDeviceReadBps: [],
    BlkioDeviceWriteBps: [],
    BlkioDeviceReadIOps: [],
    BlkioDeviceWriteIOps: [],
    CpuPeriod: a.resources.CpuPeriod,
    CpuQuota: a.resources.CpuQuota,
    CpuRealtimePeriod: 0,
    CpuRealtimeRuntime: 0,
    CpusetCpus: a.resources.CpusetCpus,
    CpusetMems: a.resources.CpusetMems,
    Devices: [],
    DeviceCgroupRules: null,
    DeviceRequests: null,
    MemoryReservation: a.resources.MemoryReservation,
    MemorySwap: a.resources.MemorySwap,
    MemorySwappiness: -1,
    OomKillDisable: a.resources.OomKillDisable,
    PidsLimit: a.resources.PidsLimit,
    Ulimits: [],
    CpuCount: 0,
    CpuPercent: 0,
    IOMaximumIOps: 0,
    IOMaximumBandwidth: 0,
    ...(a.mounts.length ? { Mounts: a.mounts.map((m) => absoluteMountSource(m, cwd)) } : {}),
    MaskedPaths: null,
    ReadonlyPaths: null,
    ...(a.init !== undefined ? { Init: a.init } : {}),
  };

  const body: CreateRequest['body'] = {
    Hostname: a.hostname,
    Domainname: a.domainname,
    User: a.user,
    AttachStdin: attachStdin,
    AttachStdout: attachStdout,
    AttachStderr: attachStderr,
    ...(Object.keys(a.exposedPorts).length ? { ExposedPorts: a.exposedPorts } : {}),
    Tty: a.tty,
    OpenStdin: a.interactive,
    StdinOnce: stdinOnce,
    Env: env.length ? env : null,
    Cmd: a.cmd.length ? a.cmd : null,
    Image: a.image,
    Volumes: vols.volumes,
    WorkingDir: a.workdir,
    Entrypoint: a.entrypoint === undefined ? null : [a.entrypoint],
    OnBuild: null,
    Labels: kvToMap(labels),
    ...(a.stopSignal ? { StopSignal: a.stopSignal } : {}),
    ...(a.stopTimeout !== undefined ? { StopTimeout: a.stopTimeout } : {}),
    HostConfig: hostConfig,
    NetworkingConfig: { EndpointsConfig: a.endpoints },
  };
  return { ...(a.name !== undefined ? { name: a.name } : {}), body };
}
