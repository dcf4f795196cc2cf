// Container records (what the store keeps) and the Docker wire shapes the API accepts for create.
import type { NetnsRef } from '../../drivers/types.js';
import type { MountPoint, MountWire } from './mounts.js';
import type { ResourceConfig } from './resources.js';

/** Docker's container Config, the part berth uses (create body and inspect's .Config). */
export interface ContainerConfig {
  Hostname: string;
  Domainname: string;
  User: string;
  AttachStdin: boolean;
  AttachStdout: boolean;
  AttachStderr: boolean;
  ExposedPorts: Record<string, object> | null;
  Tty: boolean;
  OpenStdin: boolean;
  StdinOnce: boolean;
  Env: string[];
  Cmd: string[] | null;
  Image: string;
  WorkingDir: string;
  Entrypoint: string[] | null;
  Labels: Record<string, string>;
  StopSignal?: string;
  StopTimeout?: number;
  MacAddress?: string;
}

export interface RestartPolicy {
  Name: '' | 'no' | 'always' | 'unless-stopped' | 'on-failure';
  MaximumRetryCount: number;
}

export interface PortBindingWire {
  HostIp?: string;
  HostPort?: string;
}

/** Docker's HostConfig, the part berth implements. Anything else non-zero is refused at create.
 *  The resource limits (daemon/containers/resources.ts) are absent in records made before them. */
export interface HostConfig extends Partial<ResourceConfig> {
  NetworkMode: string;
  PortBindings: Record<string, PortBindingWire[] | null> | null;
  PublishAllPorts: boolean;
  Links: string[] | null;
  RestartPolicy: RestartPolicy;
  AutoRemove: boolean;
  Dns: string[] | null;
  DnsOptions: string[] | null;
  DnsSearch: string[] | null;
  ExtraHosts: string[] | null;
  ConsoleSize?: [number, number];
  LogConfig: { Type: string; Config: Record<string, string> };
  Runtime?: string;
  /** `-v` as sent (absent when none). */
  Binds?: string[];
  /** `--mount` as sent, Docker's fields only (absent when none). */
  Mounts?: MountWire[];
  /** `--tmpfs` as sent: destination → options (absent when none). */
  Tmpfs?: Record<string, string>;
}

export interface EndpointSettingsWire {
  IPAMConfig?: { IPv4Address?: string; IPv6Address?: string } | null;
  Links?: string[] | null;
  Aliases?: string[] | null;
  MacAddress?: string;
  NetworkID?: string;
}

export type ContainerStatus = 'created' | 'running' | 'paused' | 'restarting' | 'removing' | 'exited' | 'dead';

export interface ContainerState {
  status: ContainerStatus;
  pid: number;
  exitCode: number;
  error: string;
  startedAt: string;
  finishedAt: string;
  oomKilled: boolean;
  /** Running and frozen (`docker pause`); status stays `running`, as dockerd's State.Running.
   *  Absent in records made before pause: not paused. */
  paused?: boolean;
}

export interface ContainerRecord {
  id: string;
  /** Without the leading slash. */
  name: string;
  created: string;
  /** The image as the user named it, and its id. */
  image: string;
  imageId: string;
  config: ContainerConfig;
  hostConfig: HostConfig;
  /** Networks asked for at create (NetworkingConfig.EndpointsConfig), by network name or id. */
  endpointsConfig: Record<string, EndpointSettingsWire>;
  /** `network disconnect` took it off its NetworkMode network: it starts without it (only the
   *  networks of endpointsConfig; none at all: a netns with lo only), until a `network connect`
   *  of that network. */
  modeDisconnected?: boolean;
  state: ContainerState;
  restartCount: number;
  /** Stopped by a user (stop/kill): restart policies other than `always` leave it stopped. */
  manualStop: boolean;
  /** While running: network id → endpoint id, and the netns the container lives in. */
  endpoints: Record<string, string>;
  netns?: NetnsRef;
  /** Set while running: where its root filesystem is mounted. */
  rootfs?: string;
  /** Resolved process, kept so that inspect shows it. */
  path: string;
  args: string[];
  /** Links as given (`name:alias`), resolved to container ids at create. */
  links: { containerId: string; alias: string }[];
  /** Bind and tmpfs mounts, checked at create (absent: none; records older than mounts have none). */
  mounts?: MountPoint[];
}
