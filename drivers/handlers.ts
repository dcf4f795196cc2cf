// Every handler the engine can run, with its input and output: the engine's table of contents.
// `engine.run('allocate_port', 'bridge', input)` is checked against this map by the compiler.
import type {
  ContainerRef,
  Endpoint,
  EndpointRequest,
  NetworkRecord,
  NetworkSpec,
  PortBinding,
  PortBindingRequest,
  PortProto,
} from './types.js';
import type { UndoStack } from './undo.js';
import type { Log } from './log.js';

/** A layer as stored in the blob store, to be unpacked by an image driver. */
export interface LayerBlob {
  /** sha256 of the uncompressed tar (the image config's rootfs.diff_ids entry). */
  diffId: string;
  /** Path of the blob on disk (compressed or not). */
  path: string;
  compression: 'gzip' | 'zstd' | 'none';
}

/** A layer unpacked while it arrives (a pull): the driver unpacks `source` into a temp dir and keeps
 *  it only once `verified` resolves; when `verified` rejects (or `source` fails) nothing is kept. A
 *  driver that has the layer already returns without reading `source`. */
export interface LayerStream {
  /** sha256 of the uncompressed tar, as the image config says (checked by the caller). */
  diffId: string;
  /** The uncompressed tar. The caller hashes it; the driver does not. Not read when the driver
   *  uses `unpackInto`. */
  source: AsyncIterable<Uint8Array>;
  /** When given, the driver calls it instead of reading `source`: the caller unpacks the tar itself
   *  (the pull's layer worker, with drivers/image/layer/unpack.ts) into `dir`, an empty dir of the
   *  driver's, with the driver's options; it resolves once everything is written. */
  unpackInto?: ((dir: string, opts: { whiteouts: 'overlay' | 'keep'; chown: boolean }) => Promise<{ size: number; skipped: string[] }>) | undefined;
  /** Settles after `source` ends: resolves when both the blob digest and the diff id matched, with
   *  the layer's tar-split record when the caller made one (the driver keeps it with the layer, so
   *  the exact tar can be rebuilt: image_layer_tar) and no blob is kept. */
  verified: Promise<LayerVerified | void>;
}

export interface LayerVerified {
  /** The tar-split record (drivers/image/layer/tarsplit.ts) of exactly the bytes `source` gave. */
  tarSplit?: Buffer | undefined;
}

/** An unpacked layer's original tar, rebuilt from its files and its tar-split record. */
export interface LayerTar {
  size: number;
  /** The tar's bytes; the stream errors if they do not hash to the diff id. */
  open(): import('node:stream').Readable;
}

/** A container's filesystem change, as dockerd lists it (`docker diff`): the path in the
 *  container, 0 Modified, 1 Added, 2 Deleted. */
export interface Change {
  path: string;
  kind: 0 | 1 | 2;
}

export interface ProcessSpec {
  /** argv; args[0] is looked up in the container's PATH by the runtime. Not empty. */
  args: string[];
  /** "KEY=value" entries. The exec driver adds HOME (from the user's passwd entry) when absent. */
  env: string[];
  /** Absolute path in the container. */
  cwd: string;
  /** Docker's `-u`: "", "name", "uid", "name:group", "uid:gid"; names are resolved against the
   *  rootfs's /etc/passwd and /etc/group ("uid:gid" needs no lookup). "" = root. */
  user: string;
  tty: boolean;
  /** Keep a stdin pipe (Docker's OpenStdin, `-i`). */
  openStdin: boolean;
  /** Docker's StdinOnce: close the container's stdin when the first attached client detaches
   *  (`run -i` sets it; `run -d -i` does not). Default false. */
  stdinOnce?: boolean;
  /** The TTY's size from the start (Docker's HostConfig.ConsoleSize [height, width]), so a program
   *  that asks at once sees it; later changes go through resize. */
  consoleSize?: { height: number; width: number };
}

/** A bind mount or a tmpfs the user asked for. Bind: `source` is a clean absolute host path;
 *  `createSource` (a `-v` bind) makes a missing source a directory (0755) when the container is
 *  created, as dockerd does. Tmpfs: `options` are the mount's options, complete (dockerd's
 *  defaults merged with the user's: `noexec`, `size=1m`, …). */
export type UserMount =
  | {
      type: 'bind';
      source: string;
      destination: string;
      readonly: boolean;
      propagation: 'private' | 'rprivate' | 'shared' | 'rshared' | 'slave' | 'rslave';
      /** false: a plain bind (`bind-recursive=disabled`); default true (rbind). */
      recursive?: boolean;
      createSource?: boolean;
    }
  | { type: 'tmpfs'; destination: string; options: string[] };

/** A container's cgroup limits, in the OCI runtime spec's terms (bytes, microseconds). */
export interface ContainerResources {
  memory?: { limit?: number; swap?: number; reservation?: number; disableOOMKiller?: boolean };
  cpu?: { shares?: number; quota?: number; period?: number; cpus?: string; mems?: string };
  pids?: { limit: number };
}

export interface ContainerSpec {
  container: ContainerRef;
  hostname: string;
  rootfs: string;
  /** netns path to join; undefined = the host's (the daemon's) netns. */
  netnsPath: string | undefined;
  process: ProcessSpec;
  /** Files berthd writes and the exec driver bind-mounts: /etc/hosts, /etc/resolv.conf, /etc/hostname. */
  files: { hosts: string; resolvConf: string; hostname: string };
  /** The user's mounts (-v, --mount, --tmpfs), validated by the daemon; the driver orders them
   *  (parents first) and lets one replace its own mount of the same destination. */
  mounts?: UserMount[];
  stopSignal: string;
  /** cgroup limits (-m, --cpus, --pids-limit …), checked by the daemon (daemon/containers/resources.ts);
   *  absent: none. The OCI runtime spec's linux.resources fields of the same names. */
  resources?: ContainerResources;
  /** Where the runtime's per-container files go (bundle, pid file, exit file, attach socket). */
  bundleDir: string;
  logPath: string;
}

/** created: made, not started; running; stopped: exited (exitCode set); unknown: the runtime has
 *  no trace of it (never created, deleted, or lost in a reboot). */
export type ExecStatus = 'created' | 'running' | 'stopped' | 'unknown';

export interface ExecState {
  status: ExecStatus;
  /** Host pid of the container's init; 0 when stopped or unknown. */
  pid: number;
  /** Set when stopped: the code, 128+n for a signal n, 255 when the supervisor died too. */
  exitCode?: number;
  /** Set when stopped: RFC 3339 UTC. */
  finishedAt?: string;
  /** Set (true) when stopped and the kernel's OOM killer struck in the container's memory cgroup. */
  oomKilled?: boolean;
  /** Set (true) when running and frozen (`docker pause`). */
  paused?: boolean;
}

export interface HandlerTypes {
  // network
  create_network: { in: { spec: NetworkSpec; id: string }; out: NetworkRecord };
  delete_network: { in: { network: NetworkRecord }; out: void };
  allocate_interface: {
    in: { network: NetworkRecord; container: ContainerRef; endpointId: string; request: EndpointRequest };
    out: Endpoint;
  };
  release_interface: { in: { network: NetworkRecord; endpoint: Endpoint }; out: void };
  allocate_port: {
    in: { network: NetworkRecord; endpoint: Endpoint; requests: PortBindingRequest[] };
    out: PortBinding[];
  };
  release_port: { in: { network: NetworkRecord; endpoint: Endpoint }; out: void };
  /** Make the endpoint carry the container's default route (gateway true) or stop carrying it;
   *  returns the endpoint as recorded. Idempotent. Published ports do not move with it: the caller
   *  releases them on the old gateway and allocates them on the new one (Docker's rule). */
  set_gateway: { in: { network: NetworkRecord; endpoint: Endpoint; gateway: boolean }; out: Endpoint };
  link: { in: { network: NetworkRecord; from: Endpoint; to: Endpoint; ports: PortProto[] }; out: void };
  unlink: { in: { network: NetworkRecord; from: Endpoint; to: Endpoint }; out: void };
  // image
  image_unpack: { in: { layer: LayerBlob | LayerStream }; out: { diffId: string; size: number } };
  image_remove_layer: { in: { diffId: string }; out: void };
  /** The layer's tar rebuilt from its unpacked files, when it was kept with a tar-split record
   *  (a pulled layer); undefined otherwise (its tar is a blob in the content store). */
  image_layer_tar: { in: { diffId: string }; out: LayerTar | undefined };
  image_mount: { in: { containerId: string; layers: string[] }; out: { rootfs: string } };
  image_unmount: { in: { containerId: string; remove: boolean }; out: void };
  /** The container's filesystem changes against its image's `layers` (bottom first), sorted by
   *  path; [] when the container has no rootfs (yet). Works mounted or not. */
  image_changes: { in: { containerId: string; layers: string[] }; out: Change[] };
  /** The changes as a layer tar (AUFS whiteouts: `.wh.name`, `.wh..wh..opq`), for docker commit:
   *  the caller stores it as an imported layer (blob, then image_unpack). */
  image_diff_tar: { in: { containerId: string; layers: string[] }; out: import('node:stream').Readable };
  /** Unmount and remove every container rootfs whose id is not in `keep` (orphans of a crash). */
  image_prune: { in: { keep: string[] }; out: { removed: string[] } };
  // exec
  exec_create: { in: { spec: ContainerSpec }; out: ExecState };
  exec_start: { in: { containerId: string; bundleDir: string }; out: ExecState };
  exec_state: { in: { containerId: string; bundleDir: string }; out: ExecState };
  exec_kill: { in: { containerId: string; bundleDir: string; signal: string }; out: void };
  /** Docker's stop: `signal`, then SIGKILL after `timeoutSeconds` (< 0: wait for ever); resolves
   *  when the process has exited. A container already stopped is not an error. */
  exec_stop: { in: { containerId: string; bundleDir: string; signal: string; timeoutSeconds: number }; out: ExecState };
  exec_delete: { in: { containerId: string; bundleDir: string }; out: ExecState };
  /** Freeze every process of a running container (`runc pause`); 409 when it is not running. */
  exec_pause: { in: { containerId: string; bundleDir: string }; out: void };
  /** Thaw a paused container (`runc resume`); 409 when it is not running. */
  exec_resume: { in: { containerId: string; bundleDir: string }; out: void };
}

export type HandlerName = keyof HandlerTypes;
export type HandlerIn<N extends HandlerName> = HandlerTypes[N]['in'];
export type HandlerOut<N extends HandlerName> = HandlerTypes[N]['out'];

/** What every handler gets besides its input. Register the inverse of each completed step on `undo`. */
export interface Job {
  readonly id: string;
  readonly name: string;
  readonly log: Log;
  readonly signal: AbortSignal;
  readonly undo: UndoStack;
}

export type Handler<N extends HandlerName> = (input: HandlerIn<N>, job: Job) => Promise<HandlerOut<N>>;

export const networkHandlers = [
  'create_network',
  'delete_network',
  'allocate_interface',
  'release_interface',
  'allocate_port',
  'release_port',
  'set_gateway',
  'link',
  'unlink',
] as const satisfies readonly HandlerName[];
export const imageHandlers = ['image_unpack', 'image_remove_layer', 'image_layer_tar', 'image_mount', 'image_unmount', 'image_prune', 'image_changes', 'image_diff_tar'] as const satisfies readonly HandlerName[];
export const execHandlers = ['exec_create', 'exec_start', 'exec_state', 'exec_kill', 'exec_stop', 'exec_delete', 'exec_pause', 'exec_resume'] as const satisfies readonly HandlerName[];

export type NetworkHandlerName = (typeof networkHandlers)[number];
export type ImageHandlerName = (typeof imageHandlers)[number];
export type ExecHandlerName = (typeof execHandlers)[number];
