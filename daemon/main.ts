#!/usr/bin/env -S node --single-threaded-gc
// (One GC thread: on a small host the parallel collector's threads cost more CPU than they save —
// a 50 MB pull: 0.44 → 0.29 CPU-s. A V8 flag must be given at node's start: set at run time it
// crashes V8's marker, so the shebang and scripts/install.sh's wrapper pass it.)
// berthd: parse the config, take the pidfile, compose store → sys → drivers → engine → API, listen
// on every -H socket, tell systemd, and on SIGINT/SIGTERM shut down in order.
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { loadConfig, type Config } from './config.js';
import { clearStaleSockets, openListeners, planListeners, type Listeners } from './listeners.js';
import { FlagError } from '../client/flags.js';
import { makeLogger } from './log.js';
import { acquirePidfile } from './lifecycle/pidfile.js';
import { notifySystemd } from './lifecycle/notify.js';
import { FileStore } from './state/store.js';
import { RECORD_KINDS, type DaemonRecords } from './state/records.js';
import { Engine } from './engine/engine.js';
import { EventBus } from './events.js';
import { Daemon } from './daemon.js';
import { buildApp } from './api/app.js';
import { realSys, type Sys } from '../drivers/sys/index.js';
import { makeNames } from '../drivers/names.js';
import { loadDrivers } from './drivers.js';
import type { Log } from '../drivers/log.js';
import { invalidParameter } from '../drivers/errors.js';

export interface RunningDaemon {
  daemon: Daemon;
  /** The unix socket files berthd made. */
  sockets: string[];
  /** Everything served, with real ports (tcp://127.0.0.1:2376 (tls verify), fd://3 (unix /run/berth.sock)). */
  listeners: string[];
  /** Graceful shutdown; resolves when everything is closed. */
  shutdown(reason: string): Promise<void>;
}

function groupId(name: string): number {
  if (/^\d+$/.test(name)) return Number(name);
  const line = readFileSync('/etc/group', 'utf8')
    .split('\n')
    .find((l) => l.split(':')[0] === name);
  if (!line) throw invalidParameter(`group "${name}" not found (--group)`);
  return Number(line.split(':')[2]);
}

export async function startDaemon(cfg: Config, log: Log, opts: { sys?: Sys } = {}): Promise<RunningDaemon> {
  // 1. Check everything we can before changing anything.
  // Listeners: socket directories, ports, systemd's fds, certificate files, key against cert.
  const plan = await planListeners(cfg);
  const gid = cfg.group !== undefined ? groupId(cfg.group) : undefined;
  const names = makeNames(cfg.namePrefix);
  // 0711: the default socket lives here, and members of --group must be able to reach it.
  mkdirSync(cfg.execRoot, { recursive: true, mode: 0o711 });

  // 2. The pidfile: from here on, every failure must give it back.
  const releasePidfile = acquirePidfile(cfg.pidfile);
  let listeners: Listeners | undefined;
  let daemon: Daemon | undefined;
  try {
    await clearStaleSockets(plan);
    mkdirSync(cfg.dataRoot, { recursive: true, mode: 0o711 });
    const store = await FileStore.open<DaemonRecords>(join(cfg.dataRoot, 'state'), RECORD_KINDS, log);
    const engine = new Engine(log);
    const sys = opts.sys ?? realSys({ onExec: (argv) => engine.recordExec(argv) });
    daemon = new Daemon({ config: cfg, log, store, engine, events: new EventBus(), id: engineId(cfg.dataRoot), gitCommit: gitCommit(), layerWorker: layerWorkerFile() });
    await loadDrivers(daemon, { sys, names });
    await daemon.networks.init();
    await daemon.containers.init();

    const app = await buildApp(daemon);
    await app.ready();
    listeners = await openListeners(plan, app.routing, { log, ...(gid !== undefined ? { gid } : {}), env: process.env });
    const l = listeners;
    log.info({ listeners: l.urls, dataRoot: cfg.dataRoot, execRoot: cfg.execRoot }, 'berthd is ready');
    await notifySystemd('READY=1');

    let closing: Promise<void> | undefined;
    const d = daemon;
    const shutdown = (reason: string) =>
      (closing ??= (async () => {
        log.info({ reason }, 'shutting down: no new requests; waiting for running jobs');
        await notifySystemd('STOPPING=1');
        const closed = l.close();
        const drained = await d.engine.drain(cfg.shutdownTimeout * 1000);
        if (!drained) log.warn({ timeoutS: cfg.shutdownTimeout }, 'jobs still running at the shutdown timeout: aborted');
        d.containers.shutdown();
        d.images.shutdown();
        d.closeStreams();
        l.closeAllConnections();
        await closed;
        await app.close();
        for (const drv of d.engine.allDrivers()) await drv.shutdown?.().catch((err) => log.error({ err }, 'driver shutdown'));
        await d.store.flush();
        l.removeSocketFiles();
        releasePidfile();
        log.info('berthd stopped');
      })());
    return { daemon, sockets: l.socketFiles, listeners: l.urls, shutdown };
  } catch (err) {
    if (listeners) {
      void listeners.close();
      listeners.closeAllConnections();
      listeners.removeSocketFiles();
    }
    if (daemon) for (const drv of daemon.engine.allDrivers()) await drv.shutdown?.().catch(() => {});
    releasePidfile();
    throw err;
  }
}

/** A stable engine id, kept under the data root (Docker's ID in /info). */
function engineId(dataRoot: string): string {
  const p = join(dataRoot, 'engine-id');
  try {
    return readFileSync(p, 'utf8').trim();
  } catch {
    const id = randomUUID();
    writeFileSync(p, id + '\n');
    return id;
  }
}

/** The commit the build was made from (dist/COMMIT, written by scripts/bundle.mjs). */
function gitCommit(): string {
  for (const rel of ['../COMMIT', '../../dist/COMMIT']) {
    try {
      return readFileSync(new URL(rel, import.meta.url), 'utf8').trim();
    } catch {
      /* next */
    }
  }
  return 'unknown';
}

/** The layer download worker, built beside the bundled daemon (dist/bin/layer-worker.mjs); absent
 *  when berthd runs unbundled (pulls then download in the event loop). */
function layerWorkerFile(): string | undefined {
  const file = fileURLToPath(new URL('./layer-worker.mjs', import.meta.url));
  return existsSync(file) ? file : undefined;
}

const USAGE = `Usage: berthd [OPTIONS]

A container engine that speaks the Docker Engine API.

Options:
  -H, --host list              Socket(s) to listen on: unix:///path, tcp://ADDR:PORT, fd:// or fd://N
                               (systemd socket activation) (default unix:///run/berth/berth.sock)
      --tls                    Serve TCP listeners over TLS; implied by --tlsverify
      --tlsverify              Use TLS and require a client certificate signed by --tlscacert
      --tlscacert string       Trust client certificates signed only by this CA (default /etc/berth/ca.pem)
      --tlscert string         Path to the TLS certificate file (default /etc/berth/cert.pem)
      --tlskey string          Path to the TLS key file (default /etc/berth/key.pem)
      --insecure-tcp-listener  Allow TCP without client certificates on a non-loopback address:
                               anyone who reaches it controls the host
      --data-root string       Root of persistent state (default /var/lib/berth)
      --exec-root string       Root of runtime state (default /run/berth)
  -p, --pidfile string         Pid file (default /run/berth/berthd.pid)
  -b, --bridge string          Default bridge device (default berth0)
      --bip string             Address and prefix of the default bridge
      --fixed-cidr string      Container addresses on the default bridge come from this range
      --icc bool               Traffic between containers on the default bridge (default true)
      --ip-forward bool        Turn on net.ipv4.ip_forward (default true)
  -G, --group string           Group owning the unix socket
  -l, --log-level string       trace, debug, info, warn, error, fatal (default info)
      --config-file string     JSON file with the same keys as the flags
      --runtime string         OCI runtime: runc or crun (default runc)
  -s, --storage-driver string  overlay or vfs (default overlay)
      --insecure-registry list Registries reached over plain HTTP
      --registry-mirror list   Mirrors of Docker Hub
      --default-address-pool list  base=<cidr>,size=<prefix> pools for networks
      --firewall-backend string    iptables or nftables (default iptables)
      --name-prefix string     Prefix of the netns names berth makes (default berth)
      --shutdown-timeout int   Seconds running jobs get at shutdown (default 15)
`;

async function main(argv: string[]): Promise<number> {
  let cfg: Config;
  try {
    const r = loadConfig(argv);
    if ('help' in r) {
      process.stdout.write(USAGE);
      return 0;
    }
    if ('version' in r) {
      process.stdout.write(`berthd version 0.1.0, API 1.51\n`);
      return 0;
    }
    cfg = r;
  } catch (e) {
    if (e instanceof FlagError) {
      process.stderr.write(`berthd: ${e.message}\nSee 'berthd --help'.\n`);
      return 2;
    }
    throw e;
  }
  const log = makeLogger(cfg.logLevel);
  let running: RunningDaemon;
  try {
    running = await startDaemon(cfg, log);
  } catch (err) {
    log.error({ err }, 'berthd failed to start');
    process.stderr.write(`berthd: ${(err as Error).message}\n`);
    return 1;
  }
  return new Promise<number>((resolve) => {
    let signals = 0;
    const onSignal = (sig: NodeJS.Signals) => {
      if (++signals > 2) {
        log.warn('third signal: exiting now');
        process.exit(1);
      }
      running.shutdown(sig).then(
        () => resolve(0),
        (err) => {
          log.error({ err }, 'shutdown failed');
          resolve(1);
        },
      );
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    process.on('SIGPIPE', () => {});
  });
}

if (process.argv[1] && import.meta.url === pathToFileURL(realpathSync(process.argv[1])).href) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err) => {
      process.stderr.write(`berthd: ${err?.stack ?? err}\n`);
      process.exit(1);
    },
  );
}
