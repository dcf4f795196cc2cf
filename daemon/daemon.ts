// The daemon's parts, composed once in main.ts (or by a test with fakes): config, log, store,
// engine, events. API routes reach the engine and the store only through this object.
import os from 'node:os';
import type { Config } from './config.js';
import type { Engine } from './engine/engine.js';
import type { EventBus } from './events.js';
import type { FileStore } from './state/store.js';
import type { DaemonRecords } from './state/records.js';
import type { Log } from '../drivers/log.js';
import { VERSION } from './api/app.js';
import { goArch } from './api/routes/system.js';
import { NetworkService } from './networks/service.js';
import { ContainerService } from './containers/service.js';
import { ImageService } from './images/service.js';

export interface DaemonParts {
  config: Config;
  log: Log;
  store: FileStore<DaemonRecords>;
  engine: Engine;
  events: EventBus;
  id: string;
  gitCommit?: string;
  /** The layer download worker's file (dist/bin/layer-worker.mjs); without it pulls download in-process. */
  layerWorker?: string | undefined;
}

export class Daemon {
  readonly config: Config;
  readonly log: Log;
  readonly store: FileStore<DaemonRecords>;
  readonly engine: Engine;
  readonly events: EventBus;
  readonly id: string;
  readonly gitCommit: string;
  readonly layerWorker: string | undefined;
  readonly startedAt = new Date();
  /** Long-lived responses (events, logs -f, attach): each entry ends its stream at shutdown. */
  readonly streams = new Set<() => void>();
  readonly networks: NetworkService;
  readonly containers: ContainerService;
  readonly images: ImageService;

  constructor(p: DaemonParts) {
    this.config = p.config;
    this.log = p.log;
    this.store = p.store;
    this.engine = p.engine;
    this.events = p.events;
    this.id = p.id;
    this.gitCommit = p.gitCommit ?? 'unknown';
    this.layerWorker = p.layerWorker;
    this.images = new ImageService(this);
    this.networks = new NetworkService(this);
    this.containers = new ContainerService(this);
  }

  /** The exec driver containers run with (berth has one: runc, which drives runc or crun). */
  get execDriver(): string {
    const name = this.engine.drivers('exec')[0];
    if (!name) throw new Error('no exec driver installed');
    return name;
  }

  /** End every long-lived stream (shutdown). */
  closeStreams(): void {
    for (const close of [...this.streams]) close();
  }

  info(): Record<string, unknown> {
    const c = this.config;
    const containers = this.containers.list();
    const running = containers.filter((x) => x.state.status === 'running').length;
    return {
      ID: this.id,
      Containers: containers.length,
      ContainersRunning: running,
      ContainersPaused: 0,
      ContainersStopped: containers.length - running,
      Images: this.images.count,
      Driver: c.storageDriver,
      DriverStatus: [['Backing Filesystem', 'extfs']],
      Plugins: {
        Volume: [],
        Network: this.engine.drivers('network'),
        Authorization: null,
        Log: ['json-file'],
      },
      MemoryLimit: true,
      SwapLimit: false,
      CpuCfsPeriod: true,
      CpuCfsQuota: true,
      CPUShares: true,
      CPUSet: true,
      PidsLimit: true,
      IPv4Forwarding: c.ipForward,
      Debug: c.logLevel === 'debug' || c.logLevel === 'trace',
      NFd: 0,
      OomKillDisable: false,
      NGoroutines: 0,
      SystemTime: new Date().toISOString(),
      LoggingDriver: 'json-file',
      CgroupDriver: 'cgroupfs',
      CgroupVersion: '1',
      NEventsListener: this.streams.size,
      KernelVersion: os.release(),
      OperatingSystem: 'Berth on ' + os.type(),
      OSVersion: '',
      OSType: 'linux',
      Architecture: goArch(process.arch) === 'amd64' ? 'x86_64' : process.arch,
      IndexServerAddress: 'https://index.docker.io/v1/',
      RegistryConfig: {
        InsecureRegistryCIDRs: ['127.0.0.0/8', ...c.insecureRegistries.filter((r) => r.includes('/'))],
        IndexConfigs: Object.fromEntries(
          c.insecureRegistries.filter((r) => !r.includes('/')).map((r) => [r, { Name: r, Mirrors: [], Secure: false, Official: false }]),
        ),
        Mirrors: c.registryMirrors,
      },
      NCPU: os.cpus().length,
      MemTotal: os.totalmem(),
      GenericResources: null,
      DockerRootDir: c.dataRoot,
      HttpProxy: '',
      HttpsProxy: '',
      NoProxy: '',
      Name: os.hostname(),
      Labels: [],
      ExperimentalBuild: false,
      ServerVersion: VERSION,
      Runtimes: { [c.runtime]: { path: c.runtime } },
      DefaultRuntime: c.runtime,
      Swarm: {
        NodeID: '',
        NodeAddr: '',
        LocalNodeState: 'inactive',
        ControlAvailable: false,
        Error: '',
        RemoteManagers: null,
      },
      LiveRestoreEnabled: true,
      Isolation: '',
      InitBinary: '',
      SecurityOptions: [],
      Warnings: [],
      // berth's own.
      BerthJobsRunning: this.engine.runningCount,
    };
  }
}
