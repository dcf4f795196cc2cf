#!/usr/bin/env node
// berthd: parse the config, take the pidfile, compose store → sys → drivers → engine → API, listen
// on every -H socket, tell systemd, and on SIGINT/SIGTERM shut down in order.
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, realpathSync, statSync, writeFileSync, unlinkSync, chmodSync, chownSync } from 'node:fs';
import { createServer, ServerResponse, type Server } from 'node:http';
import { connect } from 'node:net';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { loadConfig, type Config } from './config.js';
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
import { BerthError, invalidParameter } from '../drivers/errors.js';

export interface RunningDaemon {
  daemon: Daemon;
  sockets: string[];
  /** Graceful shutdown; resolves when everything is closed. */
  shutdown(reason: string): Promise<void>;
}

/** Paths of unix sockets from -H values (validated by loadConfig). */
function socketPaths(cfg: Config): string[] {
  return cfg.hosts.map((h) => h.slice('unix://'.length));
}

function groupId(name: string): number {
  if (/^\d+$/.test(name)) return Number(name);
  const line = readFileSync('/etc/group', 'utf8')
    .split('\n')
    .find((l) => l.split(':')[0] === name);
  if (!line) throw invalidParameter(`group "${name}" not found (--group)`);
  return Number(line.split(':')[2]);
}

/** A socket file nobody listens on is stale and may be removed; a live one is refused. */
async function clearStaleSocket(path: string): Promise<void> {
  if (!existsSync(path)) return;
  if (!statSync(path).isSocket()) throw invalidParameter(`${path} exists and is not a socket`);
  const live = await new Promise<boolean>((resolve) => {
    const s = connect(path);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
  if (live) throw new BerthError('conflict', `another daemon is listening on ${path}`);
  unlinkSync(path);
}

export async function startDaemon(cfg: Config, log: Log, opts: { sys?: Sys } = {}): Promise<RunningDaemon> {
  // 1. Check everything we can before changing anything.
  const sockets = socketPaths(cfg);
  const gid = cfg.group !== undefined ? groupId(cfg.group) : undefined;
  for (const s of sockets) {
    const dir = dirname(s);
    // The exec root is ours to create; any other socket directory must exist already.
    if (dir !== cfg.execRoot && !existsSync(dir)) throw invalidParameter(`cannot listen on unix://${s}: directory ${dir} does not exist`);
  }
  const names = makeNames(cfg.namePrefix);
  mkdirSync(cfg.execRoot, { recursive: true, mode: 0o700 });

  // 2. The pidfile: from here on, every failure must give it back.
  const releasePidfile = acquirePidfile(cfg.pidfile);
  const servers: Server[] = [];
  let daemon: Daemon | undefined;
  try {
    for (const s of sockets) await clearStaleSocket(s);
    mkdirSync(cfg.dataRoot, { recursive: true, mode: 0o711 });
    const store = await FileStore.open<DaemonRecords>(join(cfg.dataRoot, 'state'), RECORD_KINDS, log);
    const engine = new Engine(log);
    const sys = opts.sys ?? realSys({ onExec: (argv) => engine.recordExec(argv) });
    daemon = new Daemon({ config: cfg, log, store, engine, events: new EventBus(), id: engineId(cfg.dataRoot), gitCommit: gitCommit() });
    await loadDrivers(daemon, { sys, names });
    await daemon.networks.init();
    await daemon.containers.init();

    const app = await buildApp(daemon);
    await app.ready();
    for (const path of sockets) {
      const server = createServer(app.routing);
      server.keepAliveTimeout = 60_000;
      // Clients half-close hijacked connections (docker attach without stdin): keep our side open.
      (server as Server & { httpAllowHalfOpen: boolean }).httpAllowHalfOpen = true;
      // `Connection: Upgrade` (attach, exec start): node hands us the socket with its HTTP parser
      // detached; route it through fastify like any request, whose handler then hijacks it.
      server.on('upgrade', (req, socket, head) => {
        if (head.length) socket.unshift(head);
        const res = new ServerResponse(req);
        res.assignSocket(socket as import('node:net').Socket);
        res.on('finish', () => socket.end()); // a plain answer (an error): the connection ends with it
        app.routing(req, res);
      });
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(path, () => resolve());
      });
      servers.push(server);
      chmodSync(path, 0o660);
      if (gid !== undefined) chownSync(path, 0, gid);
    }
    log.info({ sockets, dataRoot: cfg.dataRoot, execRoot: cfg.execRoot }, 'berthd is ready');
    await notifySystemd('READY=1');

    let closing: Promise<void> | undefined;
    const d = daemon;
    const shutdown = (reason: string) =>
      (closing ??= (async () => {
        log.info({ reason }, 'shutting down: no new requests; waiting for running jobs');
        await notifySystemd('STOPPING=1');
        const closed = servers.map((s) => new Promise<void>((r) => s.close(() => r())));
        for (const s of servers) s.closeIdleConnections();
        const drained = await d.engine.drain(cfg.shutdownTimeout * 1000);
        if (!drained) log.warn({ timeoutS: cfg.shutdownTimeout }, 'jobs still running at the shutdown timeout: aborted');
        d.containers.shutdown();
        d.closeStreams();
        for (const s of servers) s.closeAllConnections();
        await Promise.all(closed);
        await app.close();
        for (const drv of d.engine.allDrivers()) await drv.shutdown?.().catch((err) => log.error({ err }, 'driver shutdown'));
        await d.store.flush();
        for (const s of sockets) rmSocket(s);
        releasePidfile();
        log.info('berthd stopped');
      })());
    return { daemon, sockets, shutdown };
  } catch (err) {
    for (const s of servers) s.close();
    for (const s of sockets.slice(0, servers.length)) rmSocket(s);
    if (daemon) for (const drv of daemon.engine.allDrivers()) await drv.shutdown?.().catch(() => {});
    releasePidfile();
    throw err;
  }
}

function rmSocket(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    /* already gone */
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

function gitCommit(): string {
  try {
    return readFileSync(new URL('../../COMMIT', import.meta.url), 'utf8').trim();
  } catch {
    return 'unknown';
  }
}

const USAGE = `Usage: berthd [OPTIONS]

A container engine that speaks the Docker Engine API.

Options:
  -H, --host list              Socket(s) to listen on (default unix:///run/berth/berth.sock)
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
