// Container records in Docker's wire shapes: the /containers/json list item and the inspect body.
// Pure: records and endpoints in, JSON out.
import type { Endpoint, NetworkRecord } from '../../drivers/types.js';
import { networkModeOf } from './create.js';
import type { ContainerRecord } from './types.js';
import { mountsWire } from './mounts.js';
import { ZERO_RESOURCES } from './resources.js';

export interface WireContext {
  endpoint(id: string): Endpoint | undefined;
  network(ref: string): NetworkRecord | undefined;
  dir(id: string): string;
  logPath(id: string): string;
  storageDriver: string;
  now: number;
  /** The container's exec instances that have not ended (ExecIDs); none when absent. */
  execIds?(containerId: string): string[];
}

/** Docker's units.HumanDuration. */
export function humanDuration(ms: number): string {
  const s = Math.floor(ms / 1000);
  if (s < 1) return 'Less than a second';
  if (s === 1) return '1 second';
  if (s < 60) return `${s} seconds`;
  const m = Math.floor(s / 60);
  if (m === 1) return 'About a minute';
  if (m < 60) return `${m} minutes`;
  const h = Math.round(s / 3600);
  if (h === 1) return 'About an hour';
  if (h < 48) return `${h} hours`;
  if (h < 24 * 7 * 2) return `${Math.floor(h / 24)} days`;
  if (h < 24 * 30 * 2) return `${Math.floor(h / 24 / 7)} weeks`;
  if (h < 24 * 365 * 2) return `${Math.floor(h / 24 / 30)} months`;
  return `${Math.floor(h / 24 / 365)} years`;
}

/** The status Docker shows (inspect's State.Status, ps's State, the `status` filter): a paused
 *  container is `paused`, though the record keeps it `running` (State.Running stays true). */
export function wireStatus(c: ContainerRecord): string {
  return c.state.status === 'running' && c.state.paused ? 'paused' : c.state.status;
}

export function statusText(c: ContainerRecord, now: number): string {
  const st = c.state;
  switch (st.status) {
    case 'running':
      return `Up ${humanDuration(now - Date.parse(st.startedAt))}${st.paused ? ' (Paused)' : ''}`;
    case 'restarting':
      return `Restarting (${st.exitCode}) ${humanDuration(now - Date.parse(st.finishedAt))} ago`;
    case 'removing':
      return 'Removal In Progress';
    case 'dead':
      return 'Dead';
    case 'exited':
      return `Exited (${st.exitCode}) ${humanDuration(now - Date.parse(st.finishedAt))} ago`;
    default:
      return 'Created';
  }
}

function endpoints(c: ContainerRecord, ctx: WireContext): Endpoint[] {
  return Object.values(c.endpoints)
    .map((id) => ctx.endpoint(id))
    .filter((e): e is Endpoint => Boolean(e));
}

/** NetworkSettings.Ports: every exposed or published port; null where nothing is published. */
export function portMap(c: ContainerRecord, eps: Endpoint[]): Record<string, { HostIp: string; HostPort: string }[] | null> {
  const out: Record<string, { HostIp: string; HostPort: string }[] | null> = {};
  if (c.state.status !== 'running') return out;
  for (const k of Object.keys(c.config.ExposedPorts ?? {})) out[k.includes('/') ? k : `${k}/tcp`] = null;
  for (const ep of eps)
    for (const p of ep.ports) {
      const k = `${p.containerPort}/${p.proto}`;
      (out[k] ??= []).push({ HostIp: p.hostIp || '0.0.0.0', HostPort: String(p.hostPort) });
    }
  return out;
}

function networksOf(c: ContainerRecord, ctx: WireContext): Record<string, unknown> {
  const mode = networkModeOf(c.hostConfig);
  if (mode.startsWith('container:')) return {};
  const out: Record<string, unknown> = {};
  const names = new Set([...(c.modeDisconnected ? [] : [mode]), ...Object.keys(c.endpointsConfig)]);
  for (const ref of names) {
    const net = ctx.network(ref);
    if (!net) continue;
    const ep = c.endpoints[net.id] ? ctx.endpoint(c.endpoints[net.id]!) : undefined;
    const cfg = c.endpointsConfig[ref] ?? c.endpointsConfig[net.name] ?? {};
    const [ip = '', prefix = '0'] = (ep?.ipv4 ?? '').split('/');
    out[net.name] = {
      IPAMConfig: cfg.IPAMConfig ?? null,
      Links: c.links.length && net.name === 'bridge' ? c.links.map((l) => `${l.containerId}:${l.alias}`) : null,
      Aliases: cfg.Aliases ?? null,
      MacAddress: ep?.mac ?? '',
      DriverOpts: null,
      GwPriority: 0,
      NetworkID: net.id,
      EndpointID: ep?.id ?? '',
      Gateway: ep?.gateway ?? '',
      IPAddress: ip,
      IPPrefixLen: Number(prefix),
      IPv6Gateway: ep?.gateway6 ?? '',
      GlobalIPv6Address: (ep?.ipv6 ?? '').split('/')[0] ?? '',
      GlobalIPv6PrefixLen: ep?.ipv6 ? Number(ep.ipv6.split('/')[1]) : 0,
      DNSNames: null,
    };
  }
  return out;
}

function command(c: ContainerRecord): string {
  return [c.path, ...c.args].map((a) => (/\s/.test(a) ? `"${a}"` : a)).join(' ');
}

/** An item of GET /containers/json. */
export function listItem(c: ContainerRecord, ctx: WireContext): Record<string, unknown> {
  const eps = endpoints(c, ctx);
  const ports: Record<string, unknown>[] = [];
  const pm = portMap(c, eps);
  for (const [k, binds] of Object.entries(pm)) {
    const [port, type] = k.split('/');
    if (!binds) ports.push({ PrivatePort: Number(port), Type: type });
    else for (const b of binds) ports.push({ IP: b.HostIp, PrivatePort: Number(port), PublicPort: Number(b.HostPort), Type: type });
  }
  return {
    Id: c.id,
    Names: [`/${c.name}`],
    Image: c.image,
    ImageID: `sha256:${c.imageId}`,
    Command: command(c),
    Created: Math.floor(Date.parse(c.created) / 1000),
    Ports: ports,
    Labels: c.config.Labels,
    State: wireStatus(c),
    Status: statusText(c, ctx.now),
    HostConfig: { NetworkMode: c.hostConfig.NetworkMode },
    NetworkSettings: { Networks: networksOf(c, ctx) },
    Mounts: mountsWire(c.mounts ?? []),
  };
}

/** GET /containers/{id}/json. */
export function inspect(c: ContainerRecord, ctx: WireContext): Record<string, unknown> {
  const eps = endpoints(c, ctx);
  const st = c.state;
  const dir = ctx.dir(c.id);
  const primary = eps[0];
  const [ip = '', prefix = '0'] = (primary?.ipv4 ?? '').split('/');
  const execIds = ctx.execIds?.(c.id) ?? [];
  return {
    Id: c.id,
    Created: c.created,
    Path: c.path,
    Args: c.args,
    State: {
      Status: wireStatus(c),
      Running: st.status === 'running',
      Paused: st.status === 'running' && Boolean(st.paused),
      Restarting: st.status === 'restarting',
      OOMKilled: st.oomKilled,
      Dead: st.status === 'dead',
      Pid: st.pid,
      ExitCode: st.exitCode,
      Error: st.error,
      StartedAt: st.startedAt,
      FinishedAt: st.finishedAt,
    },
    Image: `sha256:${c.imageId}`,
    ResolvConfPath: `${dir}/resolv.conf`,
    HostnamePath: `${dir}/hostname`,
    HostsPath: `${dir}/hosts`,
    LogPath: ctx.logPath(c.id),
    Name: `/${c.name}`,
    RestartCount: c.restartCount,
    Driver: ctx.storageDriver,
    Platform: 'linux',
    MountLabel: '',
    ProcessLabel: '',
    AppArmorProfile: '',
    ExecIDs: execIds.length ? execIds : null,
    HostConfig: { ...ZERO_RESOURCES, ...c.hostConfig, Binds: c.hostConfig.Binds ?? null, Privileged: false, PidMode: '', IpcMode: 'private', ShmSize: 67108864 },
    GraphDriver: { Name: ctx.storageDriver, Data: c.rootfs ? { MergedDir: c.rootfs } : null },
    Mounts: mountsWire(c.mounts ?? []),
    Config: c.config,
    NetworkSettings: {
      Bridge: '',
      SandboxID: c.netns?.kind === 'new' ? c.netns.name : '',
      SandboxKey: c.netns && c.netns.kind !== 'host' ? c.netns.path : '',
      Ports: portMap(c, eps),
      HairpinMode: false,
      LinkLocalIPv6Address: '',
      LinkLocalIPv6PrefixLen: 0,
      SecondaryIPAddresses: null,
      SecondaryIPv6Addresses: null,
      EndpointID: primary?.id ?? '',
      Gateway: primary?.gateway ?? '',
      GlobalIPv6Address: '',
      GlobalIPv6PrefixLen: 0,
      IPAddress: ip,
      IPPrefixLen: Number(prefix),
      IPv6Gateway: '',
      MacAddress: primary?.mac ?? '',
      Networks: networksOf(c, ctx),
    },
  };
}
