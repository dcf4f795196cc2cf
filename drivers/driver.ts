// The ONE driver interface. A driver is a named set of handlers of one kind, built by a factory from
// a DriverContext (everything it may touch). The daemon core installs drivers into the engine and
// knows none by name. Because `handlers` is a mapped type over the kind's handler names, a network
// driver that lacks, say, `release_port` does not compile.
import type {
  ExecHandlerName,
  ExecState,
  Handler,
  ProcessSpec,
  ImageHandlerName,
  NetworkHandlerName,
} from './handlers.js';
import type { Log } from './log.js';
import type { Names } from './names.js';
import type { Sys } from './sys/index.js';
import type { DriftItem, Endpoint, NetworkRecord, NetworkSpec, ReconcileReport } from './types.js';

export type DriverKind = 'network' | 'image' | 'exec';

export interface DriverBase<K extends DriverKind, H extends NetworkHandlerName | ImageHandlerName | ExecHandlerName> {
  readonly kind: K;
  /** What users type: 'bridge', 'overlay', 'runc'. */
  readonly name: string;
  readonly handlers: { readonly [N in H]: Handler<N> };
  /** Daemon start: make the kernel match the records (re-create what is missing, remove berth-owned
   *  leftovers no record owns). Idempotent. */
  restore(): Promise<ReconcileReport>;
  /** Daemon stop: release in-process resources (sockets, helpers). Kernel state stays. */
  shutdown?(): Promise<void>;
}

export interface NetworkDriver extends DriverBase<'network', NetworkHandlerName> {
  /** Networks that exist from the first start (Docker's bridge, host, none). */
  readonly builtinNetworks: readonly NetworkSpec[];
  /** Operator's view: what this driver made in the kernel for a network, read back from the kernel. */
  inspect?(network: NetworkRecord, endpoints: Endpoint[]): Promise<Record<string, unknown>>;
  /** `berth system check`: compare the records with the kernel and list every difference; with
   *  `repair`, make the kernel match the records and mark each item repaired (or its error). */
  check?(opts: { repair: boolean }): Promise<DriftItem[]>;
}
export type ImageDriver = DriverBase<'image', ImageHandlerName>;
export interface ExecDriver extends DriverBase<'exec', ExecHandlerName> {
  /** Called once for each exit this driver instance sees (conmon's exit file appearing), at once.
   *  Exits that happened while no driver ran are reported by `exec_state` and `adopt`. Returns an
   *  unsubscribe function. */
  onExit(cb: ExitListener): () => void;
  /** At daemon start, with the ids of every container the daemon has a record of: reports the
   *  state of each (running ones are re-adopted: conmon still supervises them; stopped ones exited
   *  while berthd was away), and kills and removes what the runtime holds that no id owns. */
  adopt(ids: readonly string[]): Promise<AdoptReport>;
  /** The container's log in Docker's json-file semantics (entries in order; with `follow`, until
   *  the container exits or `signal` aborts). Works after exec_delete: the log stays until the
   *  daemon removes `logPath`. */
  logs(containerId: string, logPath: string, opts?: LogOptions): AsyncIterable<LogEntry>;
  /** Connect to a created or running container's stdio (before exec_start: nothing is missed).
   *  Rejects with conflict when the container is not running. */
  attach(containerId: string, bundleDir: string, opts: AttachOptions): Promise<AttachSession>;
  /** Resize the container's TTY (no-op error-free for a container without one). */
  resize(containerId: string, bundleDir: string, height: number, width: number): Promise<void>;
  /** docker exec: run another process in a running container (`conmon --exec`). With `io`, its
   *  stdio is attached before it runs (nothing is missed); without, its output is dropped (exec -d).
   *  Resolves once the process runs; rejects with conflict when the container is not running and
   *  invalid_parameter for a command not found. Sessions do not outlive the daemon's knowledge of
   *  them: the exit code comes through the returned session only. */
  exec(containerId: string, bundleDir: string, execId: string, process: ProcessSpec, io?: AttachOptions): Promise<ExecSession>;
}

export interface ExecSession {
  /** Host pid of the process. */
  readonly pid: number;
  /** Its exit code (128+n for a signal; 255 if its supervisor vanished). */
  readonly exitCode: Promise<number>;
  resize(height: number, width: number): Promise<void>;
  /** Detach the stdio; the process goes on. */
  close(): void;
}

export type ExitListener = (containerId: string, exitCode: number, finishedAt: string) => void;

export interface AdoptReport {
  /** Every id asked about. 'unknown' = no trace (e.g. after a reboot): treat as exited 255. */
  states: Record<string, ExecState>;
  /** Containers the runtime held that no id owned, killed and removed. */
  removed: string[];
}

export interface LogOptions {
  follow?: boolean;
  /** The last N lines only (a line is a run of partial entries ending in a full one). */
  tail?: number;
  /** Entries at or after / before this time, in nanoseconds since the epoch. */
  sinceNs?: bigint;
  untilNs?: bigint;
  stdout?: boolean; // default true
  stderr?: boolean; // default true
  signal?: AbortSignal;
}

export interface LogEntry {
  stream: 'stdout' | 'stderr';
  /** RFC 3339 with nanoseconds, UTC: Docker's json-file "time". */
  time: string;
  timeNs: bigint;
  /** The bytes, with the trailing newline when `partial` is false (Docker's json-file "log"). */
  line: Buffer;
  partial: boolean;
}

export interface AttachOptions {
  /** Copied to the container's stdin (needs openStdin, or a TTY); its end closes the container's
   *  stdin when the container was made with stdinOnce. */
  stdin?: NodeJS.ReadableStream;
  /** Output as the container writes it: with a TTY, everything is 'stdout'. */
  onOutput(stream: 'stdout' | 'stderr', chunk: Buffer): void;
  /** The container's output ended (it exited) or the session was closed. Called once. */
  onEnd?(): void;
}

export interface AttachSession {
  /** Disconnect (the container keeps running). */
  close(): void;
  /** Settles when the session ends. */
  readonly ended: Promise<void>;
}
export type AnyDriver = NetworkDriver | ImageDriver | ExecDriver;

/** The records a driver may read and write: its networks and endpoints. Writes are atomic. */
export interface RecordStore {
  get<K extends keyof DriverRecords>(kind: K, id: string): DriverRecords[K] | undefined;
  list<K extends keyof DriverRecords>(kind: K): DriverRecords[K][];
  put<K extends keyof DriverRecords>(kind: K, record: DriverRecords[K]): Promise<void>;
  delete<K extends keyof DriverRecords>(kind: K, id: string): Promise<void>;
}
export interface DriverRecords {
  network: NetworkRecord;
  endpoint: Endpoint;
}

/** The daemon settings drivers read. */
export interface DriverConfig {
  dataRoot: string;
  execRoot: string;
  /** Name of the default bridge device (`--bridge`). */
  bridge: string;
  /** `--bip`: the default bridge's address and prefix, e.g. 172.17.0.1/16. */
  bip?: string;
  /** `--fixed-cidr`: where the default bridge hands out container addresses. */
  fixedCidr?: string;
  /** `--icc`: traffic between containers on the default bridge. */
  icc: boolean;
  /** `--ip-forward`: turn net.ipv4.ip_forward on. */
  ipForward: boolean;
  /** `--default-address-pool`: where networks without a subnet get one (Docker's defaults when empty). */
  defaultAddressPools?: { base: string; size: number }[];
  /** `--firewall-backend` (default iptables). */
  firewallBackend?: 'iptables' | 'nftables';
  /** `--runtime`: the OCI runtime binary (runc or crun). */
  runtime: string;
  /** `--storage-driver`. */
  storageDriver: string;
}

/** Everything a driver may touch. Built once in daemon/main.ts; tests pass fakes. */
export interface DriverContext {
  readonly sys: Sys;
  readonly records: RecordStore;
  readonly config: DriverConfig;
  readonly names: Names;
  readonly log: Log;
}

export type DriverFactory = (ctx: DriverContext) => AnyDriver | Promise<AnyDriver>;
