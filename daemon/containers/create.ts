// POST /containers/create → a ContainerRecord, validated before anything is written. Pure except
// for the lookups passed in. Options berth does not implement are refused when set, never ignored.
import { invalidParameter, notFound, conflict } from '../../drivers/errors.js';
import { portBindingRequests } from '../../drivers/network/ports/spec.js';
import { normalizeMountWire, parseMounts } from './mounts.js';
import { availableParallelism } from 'node:os';
import { RESOURCE_KEYS, hostCpus, validateResources, type HostCpus } from './resources.js';
import type { ContainerConfig, ContainerRecord, EndpointSettingsWire, HostConfig, RestartPolicy } from './types.js';

export interface CreateBody extends Partial<Omit<ContainerConfig, 'Labels'>> {
  Image?: string;
  Labels?: Record<string, string> | null;
  Volumes?: Record<string, object> | null;
  HostConfig?: (Partial<HostConfig> & Record<string, unknown>) | null;
  NetworkingConfig?: { EndpointsConfig?: Record<string, EndpointSettingsWire> | null } | null;
  [k: string]: unknown;
}

export interface ImageLike {
  id: string;
  config: {
    Env?: string[];
    Cmd?: string[];
    Entrypoint?: string[];
    WorkingDir?: string;
    User?: string;
    ExposedPorts?: Record<string, object>;
    Labels?: Record<string, string>;
    StopSignal?: string;
  };
}

export interface CreateLookups {
  image(ref: string): ImageLike; // throws notFound
  containerByName(name: string): { id: string; name: string } | undefined;
  /** A container by name or id, for --link and --net container:. */
  container(ref: string): { id: string; name: string; running: boolean } | undefined;
  network(ref: string): { id: string; name: string; driver: string } | undefined;
  /** Whether a host path exists (following symlinks): a `--mount` bind source must. */
  pathExists(path: string): boolean;
  /** The host's CPUs and memory nodes, for --cpus and --cpuset-* (absent: every CPU node reports). */
  hostCpus?(): HostCpus;
  randomName(): string;
  newId(): string;
  now(): string;
}

const NAME_RE = /^\/?[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;

/** HostConfig keys berth implements; every other key must hold its zero value. */
const SUPPORTED_HOST = new Set([
  'NetworkMode', 'PortBindings', 'PublishAllPorts', 'Links', 'RestartPolicy', 'AutoRemove',
  'Dns', 'DnsOptions', 'DnsSearch', 'ExtraHosts', 'ConsoleSize', 'LogConfig', 'Runtime',
  'Binds', 'Mounts', 'Tmpfs', ...RESOURCE_KEYS,
]);

function isZero(v: unknown): boolean {
  if (v === null || v === undefined || v === false || v === 0 || v === '' || v === -1) return true;
  if (Array.isArray(v)) return v.length === 0;
  if (typeof v === 'object') return Object.values(v as object).every(isZero);
  return false;
}

/** An unsupported option is set when it is not zero; its maps (Volumes, Tmpfs, Sysctls, StorageOpt)
 *  carry their meaning in their keys (`-v /data` is {"/data": {}}, `--tmpfs /x` is {"/x": ""}). */
function isUnset(v: unknown): boolean {
  if (v !== null && typeof v === 'object' && !Array.isArray(v)) return Object.keys(v).length === 0;
  return isZero(v);
}

const RESTART_NAMES = ['', 'no', 'always', 'unless-stopped', 'on-failure'];

export function validateRestartPolicy(p: Partial<RestartPolicy> | null | undefined): RestartPolicy {
  const name = (p?.Name ?? '') as RestartPolicy['Name'];
  const max = p?.MaximumRetryCount ?? 0;
  if (!RESTART_NAMES.includes(name)) throw invalidParameter(`invalid restart policy: unknown policy '${name}'; use one of 'no', 'always', 'on-failure', or 'unless-stopped'`);
  if (!Number.isInteger(max) || max < 0) throw invalidParameter('invalid restart policy: maximum retry count cannot be negative');
  if (max > 0 && name !== 'on-failure') throw invalidParameter(`invalid restart policy: maximum retry count can only be used with 'on-failure'`);
  return { Name: name, MaximumRetryCount: max };
}

/** NetworkMode as Docker normalises it: '' and 'default' mean the default bridge network. */
export function networkModeOf(hc: Partial<HostConfig> | null | undefined): string {
  const m = hc?.NetworkMode ?? '';
  return m === '' || m === 'default' ? 'bridge' : m;
}

export function buildContainer(nameParam: string | undefined, body: CreateBody, look: CreateLookups): ContainerRecord {
  if (!body || typeof body !== 'object') throw invalidParameter('config cannot be empty in order to create a container');
  // Keys Docker's Config does not have are ignored, as dockerd's JSON decoder does (dockerode sends
  // its options, `name` among them, in the body too). Of Docker's own keys berth reads all but the
  // build-only OnBuild, Shell and ArgsEscaped (no effect on a container, in Docker either) and
  // refuses Volumes, NetworkDisabled and Healthcheck below.
  if (!isUnset(body.Volumes)) throw invalidParameter(`berth does not support volumes yet (-v ${Object.keys(body.Volumes ?? {}).join(', ')})`);
  if (body.NetworkDisabled) throw invalidParameter('berth does not support NetworkDisabled; use --network none');
  if (!isZero(body.Healthcheck)) throw invalidParameter('berth does not support health checks yet');
  const hc = body.HostConfig ?? {};
  for (const [k, v] of Object.entries(hc)) {
    if (!SUPPORTED_HOST.has(k) && !isUnset(v)) throw invalidParameter(`berth does not support the host option ${k} (HostConfig.${k})`);
  }
  if (hc.LogConfig?.Type && hc.LogConfig.Type !== 'json-file') throw invalidParameter(`berth does not support the log driver "${hc.LogConfig.Type}"; it keeps json-file logs`);
  if (!isUnset(hc.LogConfig?.Config)) throw invalidParameter(`berth does not support log options (--log-opt ${Object.keys(hc.LogConfig?.Config ?? {}).join(', ')})`);
  // -v, --mount, --tmpfs: every one checked now (a --mount bind source must exist already)
  const mounts = parseMounts(hc, (p) => look.pathExists(p));
  // -m, --memory-swap, --cpus, --cpuset-cpus, --pids-limit …: dockerd's checks and defaults
  const resources = validateResources(hc, look.hostCpus?.() ?? hostCpus(availableParallelism(), undefined, undefined));

  // name
  let name: string;
  if (nameParam !== undefined && nameParam !== '') {
    if (!NAME_RE.test(nameParam)) throw invalidParameter(`Invalid container name (${nameParam}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`);
    name = nameParam.replace(/^\//, '');
    const other = look.containerByName(name);
    if (other)
      throw conflict(`Conflict. The container name "/${name}" is already in use by container "${other.id}". You have to remove (or rename) that container to be able to reuse that name.`);
  } else {
    do name = look.randomName();
    while (look.containerByName(name));
  }

  // image and the process
  if (!body.Image) throw invalidParameter('config cannot be empty in order to create a container (no image)');
  const image = look.image(body.Image);
  const ic = image.config;
  const entrypoint = body.Entrypoint !== undefined && body.Entrypoint !== null ? body.Entrypoint : (ic.Entrypoint ?? null);
  // As Docker: a new entrypoint drops the image's Cmd.
  const cmd = body.Cmd && body.Cmd.length ? body.Cmd : body.Entrypoint ? null : (ic.Cmd ?? null);
  const argv = [...(entrypoint ?? []), ...(cmd ?? [])].filter((a) => a !== '');
  if (argv.length === 0) throw invalidParameter('no command specified');
  const env = mergeEnv(ic.Env ?? [], body.Env ?? []);

  // networking
  const mode = networkModeOf(hc);
  const restart = validateRestartPolicy(hc.RestartPolicy);
  if (hc.AutoRemove && restart.Name !== '' && restart.Name !== 'no')
    throw invalidParameter(`can't create 'AutoRemove' container with restart policy`);
  const exposed: Record<string, object> = { ...(ic.ExposedPorts ?? {}), ...(body.ExposedPorts ?? {}) };
  const publishes = !isZero(hc.PortBindings) || hc.PublishAllPorts;
  if (mode.startsWith('container:')) {
    const ref = mode.slice('container:'.length);
    if (!ref) throw invalidParameter('invalid container format container:<name|id>');
    if (publishes) throw invalidParameter('conflicting options: port publishing and the container type network mode');
    if (body.Hostname) throw invalidParameter('conflicting options: hostname and the network mode');
    if (!isZero(hc.Dns)) throw invalidParameter('conflicting options: dns and the network mode');
    if (body.MacAddress) throw invalidParameter('conflicting options: mac-address and the network mode');
    if (!isZero(hc.ExtraHosts)) throw invalidParameter('conflicting options: custom host-to-IP mapping and the network mode');
    const target = look.container(ref);
    if (!target) throw notFound(`No such container: ${ref}`);
  } else if (!look.network(mode)) {
    throw notFound(`network ${mode} not found`);
  }
  // Validate PortBindings now (a bad one must fail create, not start).
  portBindingRequests(bindingsOf(hc.PortBindings), exposed, Boolean(hc.PublishAllPorts));

  const endpointsConfig: Record<string, EndpointSettingsWire> = {};
  for (const [k, v] of Object.entries(body.NetworkingConfig?.EndpointsConfig ?? {})) {
    const key = k === 'default' ? 'bridge' : k;
    if (!mode.startsWith('container:') && key !== mode && !look.network(key)) throw notFound(`network ${k} not found`);
    const ip = v?.IPAMConfig?.IPv4Address;
    if (ip && !/^\d{1,3}(\.\d{1,3}){3}$/.test(ip)) throw invalidParameter(`invalid IPv4 address: ${ip}`);
    endpointsConfig[key] = v ?? {};
  }
  const userIp = endpointsConfig[mode]?.IPAMConfig?.IPv4Address;
  if (userIp && mode === 'bridge') throw invalidParameter('user specified IP address is supported on user defined networks only');

  const links: ContainerRecord['links'] = [];
  for (const l of hc.Links ?? []) {
    const [target, alias = target] = l.replace(/^\//, '').split(':') as [string, string?];
    const c = look.container(target);
    if (!c) throw invalidParameter(`could not get container for ${target}`);
    if (mode !== 'bridge') throw invalidParameter('conflicting options: legacy links are only supported on the default bridge network');
    links.push({ containerId: c.id, alias: alias.replace(/^.*\//, '') });
  }

  const id = look.newId();
  const config: ContainerConfig = {
    Hostname: body.Hostname || (mode === 'host' ? '' : id.slice(0, 12)),
    Domainname: body.Domainname ?? '',
    User: body.User || ic.User || '',
    AttachStdin: Boolean(body.AttachStdin),
    AttachStdout: Boolean(body.AttachStdout),
    AttachStderr: Boolean(body.AttachStderr),
    ExposedPorts: Object.keys(exposed).length ? exposed : null,
    Tty: Boolean(body.Tty),
    OpenStdin: Boolean(body.OpenStdin),
    StdinOnce: Boolean(body.StdinOnce),
    Env: env,
    Cmd: cmd,
    Image: body.Image,
    WorkingDir: body.WorkingDir || ic.WorkingDir || '',
    Entrypoint: entrypoint,
    Labels: { ...(ic.Labels ?? {}), ...(body.Labels ?? {}) },
    ...(body.StopSignal || ic.StopSignal ? { StopSignal: body.StopSignal || ic.StopSignal } : {}),
    ...(typeof body.StopTimeout === 'number' ? { StopTimeout: body.StopTimeout } : {}),
    ...(body.MacAddress ? { MacAddress: body.MacAddress } : {}),
  };
  if (config.StopTimeout !== undefined && (config.StopTimeout < -1 || !Number.isInteger(config.StopTimeout)))
    throw invalidParameter('invalid stop timeout');
  const hostConfig: HostConfig = {
    NetworkMode: hc.NetworkMode || 'bridge',
    PortBindings: hc.PortBindings ?? null,
    PublishAllPorts: Boolean(hc.PublishAllPorts),
    Links: hc.Links ?? null,
    RestartPolicy: restart,
    AutoRemove: Boolean(hc.AutoRemove),
    Dns: hc.Dns ?? [],
    DnsOptions: hc.DnsOptions ?? [],
    DnsSearch: hc.DnsSearch ?? [],
    ExtraHosts: hc.ExtraHosts ?? null,
    ...(hc.ConsoleSize ? { ConsoleSize: hc.ConsoleSize } : {}),
    LogConfig: { Type: 'json-file', Config: {} },
    ...(hc.Binds?.length ? { Binds: [...hc.Binds] } : {}),
    ...(hc.Mounts?.length ? { Mounts: hc.Mounts.map(normalizeMountWire) } : {}),
    ...(hc.Tmpfs && Object.keys(hc.Tmpfs).length ? { Tmpfs: { ...hc.Tmpfs } } : {}),
    ...resources,
  };
  return {
    id,
    name,
    created: look.now(),
    image: body.Image,
    imageId: image.id,
    config,
    hostConfig,
    endpointsConfig,
    state: { status: 'created', pid: 0, exitCode: 0, error: '', startedAt: ZERO_TIME, finishedAt: ZERO_TIME, oomKilled: false },
    restartCount: 0,
    manualStop: false,
    endpoints: {},
    path: argv[0]!,
    args: argv.slice(1),
    links,
    ...(mounts.length ? { mounts } : {}),
  };
}

export const ZERO_TIME = '0001-01-01T00:00:00Z';

/** Image env, then the user's: a user variable replaces the image's of the same name. */
export function mergeEnv(image: string[], user: string[]): string[] {
  const out = new Map<string, string>();
  for (const kv of [...image, ...user]) {
    const eq = kv.indexOf('=');
    const k = eq < 0 ? kv : kv.slice(0, eq);
    if (k === '') throw invalidParameter(`invalid environment variable: ${kv}`);
    if (eq < 0) continue; // `-e NAME` without a value and not set in the client: dropped, as Docker
    out.set(k, kv);
  }
  return [...out.values()];
}

/** PortBindings as clients send them (a port may map to null) → the form the spec parser takes. */
export function bindingsOf(pb: HostConfig['PortBindings'] | undefined): Record<string, { HostIp?: string; HostPort?: string }[]> {
  const out: Record<string, { HostIp?: string; HostPort?: string }[]> = {};
  for (const [k, v] of Object.entries(pb ?? {})) if (v) out[k] = v;
  return out;
}
