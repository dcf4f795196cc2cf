// The ONE driver interface. A driver is a named set of handlers of one kind, built by a factory from
// a DriverContext (everything it may touch). The daemon core installs drivers into the engine and
// knows none by name. Because `handlers` is a mapped type over the kind's handler names, a network
// driver that lacks, say, `release_port` does not compile.
import type {
  ExecHandlerName,
  Handler,
  ImageHandlerName,
  NetworkHandlerName,
} from './handlers.js';
import type { Log } from './log.js';
import type { Names } from './names.js';
import type { Sys } from './sys/index.js';
import type { Endpoint, NetworkRecord, NetworkSpec, ReconcileReport } from './types.js';

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
}
export type ImageDriver = DriverBase<'image', ImageHandlerName>;
export type ExecDriver = DriverBase<'exec', ExecHandlerName>;
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
