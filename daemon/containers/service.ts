// Containers: create, start, stop, kill, wait, remove, restart — use cases composed of the image,
// network and exec drivers' handlers as engine jobs with one undo stack each. The record is
// written before the kernel is touched; a container's network and rootfs exist only while it runs.
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, hostname as osHostname } from 'node:os';
import { join } from 'node:path';
import type { Daemon } from '../daemon.js';
import type { AttachOptions, AttachSession, ExecDriver, LogEntry, LogOptions } from '../../drivers/driver.js';
import { conflict, forbidden, invalidParameter, notFound, notModified, isBerthError, BerthError } from '../../drivers/errors.js';
import type { Job } from '../../drivers/handlers.js';
import type { Endpoint, NetworkRecord } from '../../drivers/types.js';
import { CONTAINER_MODE_NETWORK } from '../networks/service.js';
import { attachAll, checkConnect, connectRunning, disconnectRunning, isConnected, settingsFor, type EndpointConfig } from '../networks/attach.js';
import { buildContainer, networkModeOf, type CreateBody } from './create.js';
import { containerResources, hostCpus, type HostCpus } from './resources.js';
import { hostsFile, resolvConf, type HostsEntry } from './files.js';
import { linkEnv } from './links.js';
import { randomName } from './names.js';
import { execEnv } from './exec.js';
import { specMounts } from './mounts.js';
import type { ContainerRecord } from './types.js';

export type WaitCondition = 'not-running' | 'next-exit' | 'removed';

interface PendingAttach {
  opts: AttachOptions;
  connect(session: AttachSession): void;
}

interface Waiter {
  condition: WaitCondition;
  resolve: (r: { StatusCode: number; Error?: { Message: string } }) => void;
}

const DEFAULT_STOP_TIMEOUT = 10;

export class ContainerService {
  readonly #d: Daemon;
  readonly #waiters = new Map<string, Set<Waiter>>();
  readonly #locks = new Map<string, Promise<unknown>>();
  readonly #restartTimers = new Map<string, NodeJS.Timeout>();
  /** Clients attached before the start (docker attaches, then starts): connected at exec_create. */
  readonly #pendingAttach = new Map<string, Set<PendingAttach>>();
  /** Removals under way (off the user's path for --rm): a new container of the same name waits. */
  readonly #removals = new Map<string, Promise<void>>();
  /** A container's exec instances that have not ended (inspect's ExecIDs); set by the exec service. */
  execIds: (containerId: string) => string[] = () => [];

  constructor(d: Daemon) {
    this.#d = d;
    d.images.usedBy = (imageId) => {
      const c = this.usingImage(imageId);
      return c && { id: c.id, running: c.state.status === 'running' };
    };
  }

  #exec(): ExecDriver {
    return this.#d.engine.driver('exec', this.#d.execDriver) as ExecDriver;
  }

  /** The host's CPUs and memory nodes (--cpus, --cpuset-*), read once: the root cpuset (cgroup v1,
   *  else v2's effective lists), else every CPU node reports. */
  #cpus?: HostCpus;
  #hostCpus(): HostCpus {
    const read = (...paths: string[]) => {
      for (const p of paths) {
        try {
          return readFileSync(p, 'utf8');
        } catch {
          /* next */
        }
      }
      return undefined;
    };
    return (this.#cpus ??= hostCpus(
      availableParallelism(),
      read('/sys/fs/cgroup/cpuset/cpuset.cpus', '/sys/fs/cgroup/cpuset.cpus.effective'),
      read('/sys/fs/cgroup/cpuset/cpuset.mems', '/sys/fs/cgroup/cpuset.mems.effective'),
    ));
  }

  // ---- lookups ---------------------------------------------------------------------------

  list(): ContainerRecord[] {
    return this.#d.store.list('container');
  }

  /** Docker's order: full id, exact name, unique id prefix. 404 "No such container: x". */
  get(ref: string): ContainerRecord {
    const c = this.find(ref);
    if (!c) throw notFound(`No such container: ${ref}`);
    return c;
  }

  find(ref: string): ContainerRecord | undefined {
    const r = ref.replace(/^\//, '');
    const all = this.list();
    const byId = all.find((c) => c.id === r);
    if (byId) return byId;
    const byName = all.find((c) => c.name === r);
    if (byName) return byName;
    if (/^[0-9a-f]+$/.test(r)) {
      const m = all.filter((c) => c.id.startsWith(r));
      if (m.length === 1) return m[0];
      if (m.length > 1) throw invalidParameter(`multiple IDs found with provided prefix: ${r}`);
    }
    return undefined;
  }

  usingImage(imageId: string): ContainerRecord | undefined {
    return this.list().find((c) => c.imageId === imageId);
  }

  dir(id: string): string {
    return join(this.#d.config.dataRoot, 'containers', id);
  }

  bundleDir(id: string): string {
    return join(this.#d.config.execRoot, 'containers', id);
  }

  logPath(id: string): string {
    return join(this.dir(id), 'container.log');
  }

  // ---- create ----------------------------------------------------------------------------

  async create(name: string | undefined, body: CreateBody): Promise<{ Id: string; Warnings: string[] }> {
    const d = this.#d;
    // A container of that name on its way out (--rm finishes off the user's path): let it go first.
    const leaving = name ? this.list().find((c) => c.name === name.replace(/^\//, '') && c.state.status === 'removing') : undefined;
    if (leaving) await this.#finishRemoval(leaving);
    const rec = buildContainer(name, body, {
      image: (ref) => d.images.resolve(ref),
      containerByName: (n) => this.list().find((c) => c.name === n),
      container: (ref) => {
        const c = this.find(ref);
        return c && { id: c.id, name: c.name, running: c.state.status === 'running' };
      },
      network: (ref) => d.networks.find(ref),
      pathExists: (p) => existsSync(p),
      hostCpus: () => this.#hostCpus(),
      randomName,
      newId: () => randomBytes(32).toString('hex'),
      now: () => new Date().toISOString(),
    });
    const warnings: string[] = [];
    if (networkModeOf(rec.hostConfig) === 'host' && (rec.hostConfig.PublishAllPorts || Object.keys(rec.hostConfig.PortBindings ?? {}).length))
      warnings.push('Published ports are discarded when using host network mode');
    await d.engine.job('container-create', async (job) => {
      await mkdir(this.dir(rec.id), { recursive: true, mode: 0o710 });
      job.undo.push('remove container dir', () => rm(this.dir(rec.id), { recursive: true, force: true }));
      await d.store.put('container', rec);
    });
    d.events.publish('container', 'create', rec.id, this.#attrs(rec));
    return { Id: rec.id, Warnings: warnings };
  }

  // ---- start -----------------------------------------------------------------------------

  async start(ref: string): Promise<void> {
    const c0 = this.get(ref);
    try {
      await this.#locked(c0.id, async () => {
        const c = this.get(c0.id);
        if (c.state.status === 'running') throw notModified();
        if (c.state.status === 'removing') throw conflict(`container ${c.id} is marked for removal and cannot be started`);
        this.#clearRestartTimer(c.id);
        c.manualStop = false;
        await this.#start(c);
      });
    } catch (err) {
      // As Docker: a --rm container that could not start is removed.
      if (c0.hostConfig.AutoRemove && !isBerthError(err, 'not_modified'))
        await this.remove(c0.id, { force: true }).catch((e) => this.#d.log.warn({ err: e, id: c0.id }, 'auto-remove after a failed start'));
      throw err;
    }
  }

  async #start(c: ContainerRecord): Promise<void> {
    const d = this.#d;
    try {
      await d.engine.job('container-start', async (job) => {
        // 1 and 2, side by side (they share nothing): the root filesystem; the network (the primary
        // network, its ports, its links). Both settle before a failure unwinds, so every step that
        // was made has registered its undo.
        const image = d.images.resolve(c.imageId);
        const [mounted, net] = await Promise.allSettled([d.images.mount(c.id, image, job), this.#network(c, job)]);
        if (mounted.status === 'fulfilled') c.rootfs = mounted.value.rootfs;
        if (mounted.status === 'rejected') throw mounted.reason;
        if (net.status === 'rejected') throw net.reason;
        const rootfs = mounted.value.rootfs;
        const { env: linkVars, hosts, publish } = net.value;
        await d.store.put('container', c);

        // 3. the files the container sees as /etc/hosts, /etc/resolv.conf, /etc/hostname
        const files = await this.#writeFiles(c, hosts);

        // 4. the process
        // (dockerd's order: PATH, HOSTNAME, TERM with a TTY, the link variables, each replaced in
        // place by the config's Env of the same name, the rest of which follows)
        const env = execEnv({ hostname: this.#hostname(c), tty: c.config.Tty, links: linkVars, config: c.config.Env, exec: [] });
        const bundleDir = this.bundleDir(c.id);
        const netnsPath = c.netns?.kind === 'host' ? undefined : c.netns?.path;
        // The runtime's create and the publishing of ports share nothing: side by side, both
        // settled before a failure unwinds. The process runs only at exec_start, after both.
        const created = d.engine.run(
          'exec_create',
          d.execDriver,
          {
            spec: {
              container: { id: c.id, name: c.name },
              hostname: this.#hostname(c),
              rootfs,
              netnsPath,
              process: {
                args: [c.path, ...c.args],
                env,
                cwd: c.config.WorkingDir || '/',
                user: c.config.User || '0',
                tty: c.config.Tty,
                openStdin: c.config.OpenStdin,
                stdinOnce: c.config.StdinOnce,
                ...(c.config.Tty && c.hostConfig.ConsoleSize && c.hostConfig.ConsoleSize[0] > 0
                  ? { consoleSize: { height: c.hostConfig.ConsoleSize[0], width: c.hostConfig.ConsoleSize[1] } }
                  : {}),
              },
              files,
              mounts: specMounts(c.mounts ?? []), // -v, --mount, --tmpfs (daemon/containers/mounts.ts)
              stopSignal: c.config.StopSignal ?? 'SIGTERM',
              ...(() => {
                const resources = containerResources(c.hostConfig); // -m, --cpus, --pids-limit … (resources.ts)
                return resources ? { resources } : {};
              })(),
              bundleDir,
              logPath: this.logPath(c.id),
            },
          },
          job,
        );
        const [made, published] = await Promise.allSettled([created, publish?.()]);
        if (made.status === 'rejected') throw made.reason;
        if (published.status === 'rejected') throw published.reason;
        await this.#connectPending(c.id);
        const st = await d.engine.run('exec_start', d.execDriver, { containerId: c.id, bundleDir }, job);
        c.state = { ...c.state, status: 'running', pid: st.pid, exitCode: 0, error: '', startedAt: new Date().toISOString(), oomKilled: false, paused: false };
        await d.store.put('container', c);
      });
    } catch (err) {
      // The job undid its steps; the record says so.
      c.endpoints = {};
      delete c.netns;
      delete c.rootfs;
      c.state = { ...c.state, error: (err as Error).message, exitCode: c.state.status === 'created' ? 128 : c.state.exitCode };
      await d.store.put('container', c);
      throw err;
    }
    d.events.publish('container', 'start', c.id, this.#attrs(c));
  }

  /** Allocate the container's network; returns the link env vars and /etc/hosts entries. */
  async #network(c: ContainerRecord, job: Job): Promise<{ env: string[]; hosts: HostsEntry[]; publish?: () => Promise<void> }> {
    const d = this.#d;
    const mode = networkModeOf(c.hostConfig);
    const container = { id: c.id, name: c.name };
    if (mode.startsWith('container:')) {
      const target = this.get(mode.slice('container:'.length));
      const ep = await d.networks.run('allocate_interface', CONTAINER_MODE_NETWORK, {
        container,
        endpointId: randomBytes(32).toString('hex'),
        request: { joinContainer: { id: target.id, name: target.name, netns: target.netns, running: target.state.status === 'running' } },
      }, job);
      c.netns = ep.netns;
      c.endpoints = { [CONTAINER_MODE_NETWORK.id]: ep.id };
      await d.store.put('container', c);
      return { env: [], hosts: [] };
    }
    // Every network in the one netns; the default route and the ports on the gateway endpoint.
    const { network, endpoint: ep, publish } = await attachAll(d, c, this.#hostname(c), job, { deferPorts: true });

    const env: string[] = [];
    const hosts: HostsEntry[] = [];
    for (const l of c.links) {
      const target = this.get(l.containerId);
      const tEp = this.#endpointOn(target, network.id);
      if (target.state.status !== 'running' || !tEp) throw invalidParameter(`cannot link to a non running container: /${target.name} AS /${c.name}/${l.alias}`);
      const exposed = Object.keys(target.config.ExposedPorts ?? {});
      const ports = exposed.map((k) => {
        const [p, proto = 'tcp'] = k.split('/');
        return { port: Number(p), proto: proto as 'tcp' | 'udp' | 'sctp' };
      });
      const fresh = d.store.get('endpoint', ep.id) ?? ep;
      await d.networks.run('link', network, { from: fresh, to: tEp, ports }, job);
      const tIp = (tEp.ipv4 ?? '').split('/')[0]!;
      env.push(...linkEnv({ fullName: `/${c.name}/${l.alias}`, alias: l.alias, ip: tIp, exposed, env: target.config.Env }));
      hosts.push({ ip: tIp, names: [...new Set([l.alias, this.#hostname(target), target.name])] });
    }
    return { env, hosts, ...(publish ? { publish } : {}) };
  }

  #endpointOn(c: ContainerRecord, networkId: string): Endpoint | undefined {
    const id = c.endpoints[networkId];
    return id ? this.#d.store.get('endpoint', id) : undefined;
  }

  #hostname(c: ContainerRecord): string {
    return c.config.Hostname || osHostname();
  }

  async #writeFiles(c: ContainerRecord, links: HostsEntry[]): Promise<{ hosts: string; resolvConf: string; hostname: string }> {
    const dir = this.dir(c.id);
    const files = { hosts: join(dir, 'hosts'), resolvConf: join(dir, 'resolv.conf'), hostname: join(dir, 'hostname') };
    const mode = networkModeOf(c.hostConfig);
    if (mode.startsWith('container:')) {
      // Share the files of the container whose netns this one joins, as Docker does.
      const t = this.dir(this.get(mode.slice('container:'.length)).id);
      return { hosts: join(t, 'hosts'), resolvConf: join(t, 'resolv.conf'), hostname: join(t, 'hostname') };
    }
    const hostNet = c.netns?.kind === 'host';
    const hostResolv = await readFile('/etc/resolv.conf', 'utf8').catch(() => '');
    const ep = Object.values(c.endpoints).map((id) => this.#d.store.get('endpoint', id)).find(Boolean);
    const hostsText = hostNet
      ? await readFile('/etc/hosts', 'utf8').catch(() => hostsFile({ hostname: this.#hostname(c) }))
      : hostsFile({
          hostname: this.#hostname(c),
          ...(ep?.ipv4 ? { ip: ep.ipv4.split('/')[0]! } : {}),
          entries: links,
          extraHosts: c.hostConfig.ExtraHosts ?? [],
        });
    await writeFile(files.hosts, hostsText);
    // On a user-defined network the embedded DNS answers (and forwards to --dns or the host's resolvers).
    const resolver = Object.values(c.endpoints).map((id) => this.#d.store.get('endpoint', id)?.resolver).find(Boolean);
    await writeFile(
      files.resolvConf,
      resolvConf(hostResolv, {
        hostNetwork: hostNet,
        dns: resolver ? [resolver] : (c.hostConfig.Dns ?? []),
        search: c.hostConfig.DnsSearch ?? [],
        options: resolver && !c.hostConfig.DnsOptions?.length ? ['ndots:0'] : (c.hostConfig.DnsOptions ?? []),
      }),
    );
    await writeFile(files.hostname, this.#hostname(c) + '\n');
    return files;
  }

  // ---- stop / kill / exit ----------------------------------------------------------------

  async stop(ref: string, opts: { timeout?: number; signal?: string } = {}): Promise<void> {
    const c = this.get(ref);
    this.#clearRestartTimer(c.id);
    if (c.state.status !== 'running') {
      if (c.state.status === 'restarting') {
        c.manualStop = true;
        c.state.status = 'exited';
        await this.#d.store.put('container', c);
        return;
      }
      throw notModified();
    }
    c.manualStop = true;
    await this.#d.store.put('container', c);
    const timeout = opts.timeout ?? c.config.StopTimeout ?? DEFAULT_STOP_TIMEOUT;
    const signal = opts.signal ?? c.config.StopSignal ?? 'SIGTERM';
    // The exit handler tears the container down; `not-running` fires once it has.
    const exited = this.#waitFor(c.id, 'not-running');
    await this.#d.engine.run('exec_stop', this.#d.execDriver, { containerId: c.id, bundleDir: this.bundleDir(c.id), signal, timeoutSeconds: timeout });
    await exited;
  }

  async kill(ref: string, signal = 'SIGKILL'): Promise<void> {
    const c = this.get(ref);
    if (!/^(SIG)?[A-Z0-9+-]+$|^\d+$/.test(signal)) throw invalidParameter(`invalid signal: ${signal}`);
    if (c.state.status !== 'running') throw conflict(`cannot kill container: ${ref}: container ${c.id} is not running`);
    const sig = signal.startsWith('SIG') || /^\d+$/.test(signal) ? signal : `SIG${signal}`;
    c.manualStop = true;
    await this.#d.store.put('container', c);
    const exited = sig === 'SIGKILL' || sig === '9' ? this.#waitFor(c.id, 'not-running') : undefined;
    await this.#signal(c, sig);
    this.#d.events.publish('container', 'kill', c.id, { ...this.#attrs(c), signal: sig.replace(/^SIG/, '') });
    await this.#thawed(c.id);
    if (exited) await exited;
  }

  /** `docker pause`: freeze every process of a running container (dockerd's errors and event). */
  async pause(ref: string): Promise<void> {
    await this.#freeze(ref, true);
  }

  /** `docker unpause`. */
  async unpause(ref: string): Promise<void> {
    await this.#freeze(ref, false);
  }

  async #freeze(ref: string, on: boolean): Promise<void> {
    const c0 = this.get(ref);
    await this.#locked(c0.id, async () => {
      const c = this.find(c0.id);
      // dockerd's checks, in its order (unpause asks only whether it is paused)
      if (!on && !c?.state.paused) throw conflict(`Container ${c0.id} is not paused`);
      if (!c || c.state.status !== 'running') throw conflict(`Container ${c0.id} is not running`);
      if (on && c.state.paused) throw conflict(`Container ${c.id} is already paused`);
      await this.#d.engine.run(on ? 'exec_pause' : 'exec_resume', this.#d.execDriver, { containerId: c.id, bundleDir: this.bundleDir(c.id) });
      c.state = { ...c.state, paused: on };
      await this.#d.store.put('container', c);
    });
    const c = this.find(c0.id);
    if (c) this.#d.events.publish('container', on ? 'pause' : 'unpause', c.id, this.#attrs(c));
  }

  async #signal(c: ContainerRecord, signal: string): Promise<void> {
    await this.#d.engine.run('exec_kill', this.#d.execDriver, { containerId: c.id, bundleDir: this.bundleDir(c.id), signal });
  }

  /** A signal to a paused container thaws it (the driver does, as dockerd's kill): so says the record. */
  async #thawed(id: string): Promise<void> {
    let was = false;
    await this.#locked(id, async () => {
      const c = this.find(id);
      if (!c?.state.paused) return;
      was = true;
      c.state = { ...c.state, paused: false };
      await this.#d.store.put('container', c);
    });
    const c = this.find(id);
    if (was && c) this.#d.events.publish('container', 'unpause', c.id, this.#attrs(c));
  }

  /** The exec driver saw the container's process exit. Tear down, then apply the restart policy. */
  async onExit(id: string, exitCode: number, finishedAt: string): Promise<void> {
    const c0 = this.find(id);
    if (!c0) return;
    let removing = false;
    let oomKilled = false;
    await this.#locked(id, async () => {
      const c = this.find(id);
      if (!c || c.state.status !== 'running') return;
      // OOMKilled: asked of the exec driver now, while the container's memory cgroup (where the
      // kernel counts OOM kills) still exists; exec_delete (teardown) removes it.
      const st = await this.#d.engine
        .run('exec_state', this.#d.execDriver, { containerId: c.id, bundleDir: this.bundleDir(c.id) })
        .catch(() => undefined);
      oomKilled = st?.oomKilled === true;
      c.state = { ...c.state, oomKilled };
      if (c.hostConfig.AutoRemove) {
        // --rm: free what a next container may want at once (host ports), record the removal, and
        // finish it off the user's path. A crash from here on finishes it at the next start.
        await this.#d.engine.job('container-release-ports', (job) => this.#releasePorts(c, job));
        c.state = { ...c.state, status: 'removing', pid: 0, exitCode, finishedAt, paused: false };
        removing = true;
      } else {
        await this.#teardown(c);
        c.state = { ...c.state, status: 'exited', pid: 0, exitCode, finishedAt, paused: false };
      }
      await this.#d.store.put('container', c);
    });
    const c = this.find(id);
    if (!c) return;
    if (oomKilled) this.#d.events.publish('container', 'oom', c.id, this.#attrs(c)); // as dockerd, before die
    this.#d.events.publish('container', 'die', c.id, { ...this.#attrs(c), exitCode: String(exitCode) });
    if (removing) {
      const done = this.#finishRemoval(c);
      this.#notify(c.id, ['not-running', 'next-exit', 'removed'], exitCode);
      await done;
      return;
    }
    this.#notify(c.id, ['not-running', 'next-exit'], exitCode);
    this.#maybeRestart(c, exitCode);
  }

  /** Docker's policies: a container a user stopped stays stopped (until a daemon restart, for `always`). */
  #maybeRestart(c: ContainerRecord, exitCode: number): void {
    const p = c.hostConfig.RestartPolicy;
    const want =
      !c.manualStop &&
      (p.Name === 'always' ||
        p.Name === 'unless-stopped' ||
        (p.Name === 'on-failure' && exitCode !== 0 && (p.MaximumRetryCount === 0 || c.restartCount < p.MaximumRetryCount)));
    if (want) this.#scheduleRestart(c);
  }

  #scheduleRestart(c: ContainerRecord): void {
    // Docker's back-off: 100 ms doubling, capped at a minute.
    const delay = Math.min(60_000, 100 * 2 ** Math.min(c.restartCount, 10));
    c.state.status = 'restarting';
    void this.#d.store.put('container', c);
    const timer = setTimeout(() => {
      this.#restartTimers.delete(c.id);
      void this.#locked(c.id, async () => {
        const cur = this.find(c.id);
        if (!cur || cur.state.status !== 'restarting') return;
        cur.restartCount++;
        await this.#start(cur);
      }).catch((err) => this.#d.log.warn({ err, id: c.id }, 'restart failed'));
    }, delay);
    timer.unref();
    this.#restartTimers.set(c.id, timer);
  }

  #clearRestartTimer(id: string): void {
    const t = this.#restartTimers.get(id);
    if (t) clearTimeout(t);
    this.#restartTimers.delete(id);
  }

  /** Undo a run: the process, the network (ports, links, interfaces), the rootfs. Goes on past errors. */
  async #teardown(c: ContainerRecord): Promise<void> {
    const d = this.#d;
    await d.engine.job('container-teardown', async (job) => {
      await this.#releasePorts(c, job);
      await step(job, 'exec_delete', () => d.engine.run('exec_delete', d.execDriver, { containerId: c.id, bundleDir: this.bundleDir(c.id) }, job));
      for (const [netId, epId] of Object.entries(c.endpoints).reverse()) {
        const network = this.#networkOf(netId);
        const ep = d.store.get('endpoint', epId);
        if (!network || !ep) continue;
        await this.#releaseEndpoint(network, ep, job);
      }
      c.endpoints = {};
      delete c.netns;
      if (c.rootfs) await step(job, 'unmount', () => d.images.unmount(c.id, { remove: false }, job));
      delete c.rootfs;
      await d.store.put('container', c);
    });
  }

  /** Release every published port and link of a container: what another container may want next. */
  async #releasePorts(c: ContainerRecord, job: Job): Promise<void> {
    const d = this.#d;
    for (const [netId, epId] of Object.entries(c.endpoints).reverse()) {
      const network = this.#networkOf(netId);
      const ep = d.store.get('endpoint', epId);
      if (!network || !ep) continue;
      for (const l of [...ep.links].reverse()) {
        const to = d.store.get('endpoint', l.toEndpointId);
        if (to) await step(job, 'unlink', () => d.networks.run('unlink', network, { from: d.store.get('endpoint', ep.id) ?? ep, to }, job));
      }
      const fresh = d.store.get('endpoint', ep.id) ?? ep;
      if (fresh.ports.length) await step(job, 'release_port', () => d.networks.run('release_port', network, { endpoint: fresh }, job));
    }
  }

  /** The interface (and the netns it made) of one endpoint; its ports and links first if any are left. */
  async #releaseEndpoint(network: NetworkRecord, ep: Endpoint, job: Job): Promise<void> {
    const d = this.#d;
    const cur = d.store.get('endpoint', ep.id) ?? ep;
    if (cur.links.length || cur.ports.length) {
      for (const l of [...cur.links].reverse()) {
        const to = d.store.get('endpoint', l.toEndpointId);
        if (to) await step(job, 'unlink', () => d.networks.run('unlink', network, { from: d.store.get('endpoint', ep.id) ?? cur, to }, job));
      }
      const fresh = d.store.get('endpoint', ep.id) ?? cur;
      if (fresh.ports.length) await step(job, 'release_port', () => d.networks.run('release_port', network, { endpoint: fresh }, job));
    }
    await step(job, 'release_interface', () => d.networks.run('release_interface', network, { endpoint: d.store.get('endpoint', ep.id) ?? cur }, job));
  }

  #networkOf(netId: string): NetworkRecord | undefined {
    return netId === CONTAINER_MODE_NETWORK.id ? CONTAINER_MODE_NETWORK : this.#d.store.get('network', netId);
  }

  // ---- network connect / disconnect ------------------------------------------------------

  /** `network connect`: a running container gains an interface at once; any other records the
   *  network for its next start (Docker's rules: network/attach.ts). */
  async connect(ref: string, networkRef: string, cfg: EndpointConfig = {}): Promise<void> {
    const d = this.#d;
    const c0 = this.get(ref);
    const n = d.networks.get(networkRef);
    await this.#locked(c0.id, async () => {
      const c = this.get(c0.id);
      if (c.state.status === 'removing') throw conflict(`Container ${c.id} is marked for removal and cannot be connected or disconnected to the network`);
      const primary = d.networks.find(networkModeOf(c.hostConfig));
      checkConnect(c, primary, n, cfg);
      if (isConnected(c, primary, n)) {
        if (c.state.status !== 'running') return;
        throw forbidden(`endpoint with name ${c.name} already exists in network ${n.name}`);
      }
      const key = n.name;
      // back on its NetworkMode network (taken off by a disconnect): its first network again
      const back = c.modeDisconnected && primary?.id === n.id;
      if (c.state.status !== 'running') {
        c.endpointsConfig[key] = cfg;
        if (back) c.modeDisconnected = false;
        await d.store.put('container', c);
        return;
      }
      await d.engine.job('network-connect', async (job) => {
        c.endpointsConfig[key] = cfg;
        job.undo.push('forget the network in the container record', async () => {
          delete c.endpointsConfig[key];
          await d.store.put('container', c);
        });
        await connectRunning(d, c, this.#hostname(c), n, cfg, job);
        if (back) {
          c.modeDisconnected = false;
          await d.store.put('container', c);
        }
      });
      d.events.publish('network', 'connect', n.id, { container: c.id, name: n.name, type: n.driver });
    });
  }

  /** `network disconnect`: a running container loses the interface at once (the gateway and the
   *  published ports move if it carried them); any other just forgets the network. */
  async disconnect(ref: string, networkRef: string, force = false): Promise<void> {
    const d = this.#d;
    const c0 = this.get(ref);
    const n = d.networks.get(networkRef);
    await this.#locked(c0.id, async () => {
      const c = this.get(c0.id);
      if (c.state.status === 'removing') throw conflict(`Container ${c.id} is marked for removal and cannot be connected or disconnected to the network`);
      const mode = networkModeOf(c.hostConfig);
      if (mode === 'host' && n.driver === 'host') throw invalidParameter('cannot disconnect container from host network - container was created in host network mode');
      const primary = d.networks.find(mode);
      // its NetworkMode network: it starts without it from now on (dockerd takes it out of
      // NetworkSettings.Networks); host, none and container modes stay as they are
      const isMode = primary?.id === n.id && !c.modeDisconnected;
      if (isMode && ['host', 'none'].includes(n.driver))
        throw invalidParameter(`berth cannot disconnect a container from the ${n.name} network it is created in`);
      const forget = async () => {
        for (const k of Object.keys(c.endpointsConfig)) if (k === n.name || k === n.id) delete c.endpointsConfig[k];
        if (isMode) c.modeDisconnected = true;
        await d.store.put('container', c);
      };
      if (c.state.status !== 'running' || !c.endpoints[n.id]) {
        if (!isMode && !settingsFor(c, n) && !force) throw forbidden(`container ${c.id} is not connected to the network ${n.name}`);
        await forget();
        return;
      }
      await d.engine.job('network-disconnect', async (job) => {
        await disconnectRunning(d, c, n, job);
        await forget();
      });
      d.events.publish('network', 'disconnect', n.id, { container: c.id, name: n.name, type: n.driver });
    });
  }

  // ---- wait / remove / restart / rename --------------------------------------------------

  wait(ref: string, condition: WaitCondition = 'not-running', signal?: AbortSignal): Promise<{ StatusCode: number; Error?: { Message: string } }> {
    const c = this.get(ref);
    if (!['not-running', 'next-exit', 'removed'].includes(condition)) throw invalidParameter(`invalid condition: "${condition}"`);
    if (condition === 'not-running' && c.state.status !== 'running' && c.state.status !== 'restarting')
      return Promise.resolve({ StatusCode: c.state.exitCode });
    return this.#waitFor(c.id, condition, signal);
  }

  #waitFor(id: string, condition: WaitCondition, signal?: AbortSignal): Promise<{ StatusCode: number; Error?: { Message: string } }> {
    return new Promise((resolve) => {
      const set = this.#waiters.get(id) ?? new Set<Waiter>();
      this.#waiters.set(id, set);
      const w: Waiter = { condition, resolve };
      set.add(w);
      // A client that hangs up must be harmless: its waiter just goes away.
      signal?.addEventListener('abort', () => set.delete(w), { once: true });
    });
  }

  #notify(id: string, conditions: WaitCondition[], code: number): void {
    const set = this.#waiters.get(id);
    if (!set) return;
    for (const w of [...set]) {
      if (!conditions.includes(w.condition)) continue;
      set.delete(w);
      w.resolve({ StatusCode: code });
    }
    if (set.size === 0) this.#waiters.delete(id);
  }

  async remove(ref: string, opts: { force: boolean }): Promise<void> {
    const c = this.get(ref);
    this.#clearRestartTimer(c.id);
    if (c.state.status === 'running') {
      if (!opts.force)
        throw conflict(
          c.state.paused
            ? `cannot remove container "/${c.name}": container is paused: unpause and then stop the container before removing or force remove`
            : `cannot remove container "/${c.name}": container is running: stop the container before removing or force remove`,
        );
      c.manualStop = true;
      const exited = this.#waitFor(c.id, 'not-running');
      await this.#signal(c, 'SIGKILL').catch(() => {});
      await exited;
    }
    let cur: ContainerRecord | undefined;
    await this.#locked(c.id, async () => {
      cur = this.find(c.id);
      if (!cur) return;
      if (cur.state.status === 'running') throw conflict(`cannot remove container "/${cur.name}": container is running`);
      cur.state.status = 'removing';
      await this.#d.store.put('container', cur); // intent: a crash from here on finishes the removal at start
    });
    if (cur) await this.#finishRemoval(cur);
  }

  /** The rest of a removal, once the record says `removing`: one run at a time per container. */
  #finishRemoval(c: ContainerRecord): Promise<void> {
    const running = this.#removals.get(c.id);
    if (running) return running;
    const p = this.#locked(c.id, async () => {
      const cur = this.find(c.id);
      if (!cur) return;
      if (Object.keys(cur.endpoints).length || cur.rootfs) await this.#teardown(cur);
      else await this.#d.engine.run('exec_delete', this.#d.execDriver, { containerId: cur.id, bundleDir: this.bundleDir(cur.id) }).catch(() => {});
      await this.#d.images.unmount(cur.id, { remove: true });
      await rm(this.dir(cur.id), { recursive: true, force: true });
      await rm(this.bundleDir(cur.id), { recursive: true, force: true });
      await this.#d.store.delete('container', cur.id);
      this.#d.events.publish('container', 'destroy', cur.id, this.#attrs(cur));
      this.#notify(cur.id, ['removed', 'not-running', 'next-exit'], cur.state.exitCode);
    }).finally(() => this.#removals.delete(c.id));
    this.#removals.set(c.id, p);
    return p;
  }

  async restart(ref: string, timeout?: number): Promise<void> {
    const c = this.get(ref);
    if (c.state.status === 'running') await this.stop(c.id, timeout === undefined ? {} : { timeout });
    await this.start(c.id);
    this.#d.events.publish('container', 'restart', c.id, this.#attrs(c));
  }

  async rename(ref: string, newName: string): Promise<void> {
    const c = this.get(ref);
    const name = newName.replace(/^\//, '');
    if (!/^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/.test(name)) throw invalidParameter(`Invalid container name (${newName}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`);
    const other = this.list().find((x) => x.name === name);
    if (other && other.id !== c.id) throw conflict(`Conflict. The container name "/${name}" is already in use by container "${other.id}". You have to remove (or rename) that container to be able to reuse that name.`);
    const oldName = c.name;
    c.name = name;
    await this.#d.store.put('container', c);
    // a running container's endpoints follow (as dockerd's sandbox rename): the embedded DNS answers
    // the new name and no longer the old one (it reads the records at each query); network inspect
    // shows the new name. The endpoint records are the drivers'; these are the fields about the
    // container that the daemon owns.
    for (const epId of Object.values(c.endpoints)) {
      const ep = this.#d.store.get('endpoint', epId);
      if (!ep || ep.container.id !== c.id) continue;
      const dnsNames = ep.dnsNames?.map((n) => (n === oldName ? name : n));
      await this.#d.store.put('endpoint', { ...ep, container: { ...ep.container, name }, ...(dnsNames ? { dnsNames } : {}) });
    }
    this.#d.events.publish('container', 'rename', c.id, { ...this.#attrs(c), oldName: `/${oldName}` });
  }

  // ---- daemon start and stop -------------------------------------------------------------

  /**
   * At daemon start: re-adopt containers that still run, finish what a crash interrupted (a
   * removal, a start), release endpoints and mounts no running container owns, and apply restart
   * policies to containers that died while berthd was down.
   */
  async init(): Promise<void> {
    const d = this.#d;
    const exec = this.#exec();
    exec.onExit((id, code, at) => {
      void this.onExit(id, code, at).catch((err) => d.log.error({ err, id }, 'exit handling failed'));
    });
    const { states, removed } = await exec.adopt(this.list().map((c) => c.id));
    if (removed.length) d.log.info({ removed }, 'removed runtime leftovers no container owns');
    for (const c of this.list()) {
      const st = states[c.id];
      if (c.state.status === 'removing') {
        await this.remove(c.id, { force: true }).catch((err) => d.log.error({ err, id: c.id }, 'finishing an interrupted removal failed'));
        continue;
      }
      if (c.state.status === 'running' || c.state.status === 'restarting') {
        if (st?.status === 'running') {
          // re-adopted: conmon still supervises it; frozen or not is the kernel's word
          if (Boolean(c.state.paused) !== Boolean(st.paused)) {
            c.state = { ...c.state, paused: Boolean(st.paused) };
            await d.store.put('container', c);
          }
          continue;
        }
        // died while we were away (or never got going)
        c.state.status = 'running';
        await this.onExit(c.id, st?.exitCode ?? 255, st?.finishedAt ?? new Date().toISOString());
        continue;
      }
      if (Object.keys(c.endpoints).length || c.rootfs) await this.#teardown(c);
      // As dockerd at start: `always` brings back even a container a user stopped.
      if (c.hostConfig.RestartPolicy.Name === 'always' && c.state.status === 'exited') {
        c.manualStop = false;
        this.#scheduleRestart(c);
      }
    }
    // Root filesystems of containers that no longer exist (a crash in the middle of a removal).
    const pruned = await d.images.pruneRootfs(this.list().map((c) => c.id));
    if (pruned.length) d.log.info({ pruned }, 'removed root filesystems no container owns');
    // Endpoints whose container is not running (a crash between an endpoint's record and its container's).
    for (const ep of d.store.list('endpoint')) {
      const c = this.find(ep.container.id);
      if (c && c.state.status === 'running' && Object.values(c.endpoints).includes(ep.id)) continue;
      const network = ep.networkId === CONTAINER_MODE_NETWORK.id ? CONTAINER_MODE_NETWORK : d.store.get('network', ep.networkId);
      if (!network) {
        await d.store.delete('endpoint', ep.id);
        continue;
      }
      await d.engine.job('release-orphan-endpoint', (job) => this.#releaseEndpoint(network, ep, job));
    }
  }

  /** Restart timers must not keep a stopping daemon alive. */
  shutdown(): void {
    for (const id of [...this.#restartTimers.keys()]) this.#clearRestartTimer(id);
    for (const [id, set] of this.#waiters) for (const w of set) w.resolve({ StatusCode: -1, Error: { Message: 'the daemon is shutting down' } });
    this.#waiters.clear();
  }

  // ---- logs, attach, resize --------------------------------------------------------------

  logs(ref: string, opts: LogOptions): AsyncIterable<LogEntry> {
    const c = this.get(ref);
    return this.#exec().logs(c.id, this.logPath(c.id), opts);
  }

  /**
   * Attach to a container's stdio. A running container is attached at once; any other is attached
   * when it next starts, between its creation and its start, so no output is missed.
   */
  async attach(ref: string, opts: AttachOptions): Promise<{ close(): void; ended: Promise<void> }> {
    const c = this.get(ref);
    if (c.state.status === 'running') return this.#exec().attach(c.id, this.bundleDir(c.id), opts);
    let session: AttachSession | undefined;
    let closed = false;
    let endResolve!: () => void;
    const ended = new Promise<void>((r) => (endResolve = r));
    const pending: PendingAttach = {
      opts: { ...opts, onEnd: () => (endResolve(), opts.onEnd?.()) },
      connect: (s) => {
        session = s;
        if (closed) s.close();
      },
    };
    const set = this.#pendingAttach.get(c.id) ?? new Set<PendingAttach>();
    set.add(pending);
    this.#pendingAttach.set(c.id, set);
    return {
      ended,
      close: () => {
        closed = true;
        set.delete(pending);
        if (session) session.close();
        else endResolve();
      },
    };
  }

  async #connectPending(id: string): Promise<void> {
    const set = this.#pendingAttach.get(id);
    if (!set) return;
    this.#pendingAttach.delete(id);
    for (const p of set) p.connect(await this.#exec().attach(id, this.bundleDir(id), p.opts));
  }

  async resize(ref: string, height: number, width: number): Promise<void> {
    const c = this.get(ref);
    if (c.state.status !== 'running') return; // docker CLI resizes before start too
    await this.#exec().resize(c.id, this.bundleDir(c.id), height, width);
  }

  // ---- docker cp (archive.ts) -------------------------------------------------------------

  /** For docker cp: `fn` gets the container's filesystem. A running container's as its process sees
   *  it (/proc/<pid>/root: its mounts, tmpfs included); any other's rootfs mounted for the call under
   *  the container's lock (a start waits for the copy) and unmounted after, also on failure. */
  async withFilesystem<T>(ref: string, fn: (c: ContainerRecord, fs: { base: string; running: boolean }) => Promise<T>, opts: { rootfs?: boolean } = {}): Promise<T> {
    const gone = (c: ContainerRecord) => conflict(`container ${c.id} is marked for removal and its files cannot be copied`);
    // opts.rootfs (docker export): a running container's own root filesystem, without its mounts
    const live = (c: ContainerRecord) =>
      c.state.status !== 'running' || !(c.state.pid > 0) ? undefined : opts.rootfs ? c.rootfs : `/proc/${c.state.pid}/root`;
    const c0 = this.get(ref);
    if (c0.state.status === 'removing') throw gone(c0);
    const base0 = live(c0);
    if (base0) return fn(c0, { base: base0, running: true });
    return this.#locked(c0.id, async () => {
      const c = this.get(c0.id);
      if (c.state.status === 'removing') throw gone(c);
      const base = live(c);
      if (base) return fn(c, { base, running: true });
      const d = this.#d;
      const out = await d.engine.job('container-archive', async (job) => {
        const { rootfs } = await d.images.mount(c.id, d.images.resolve(c.imageId), job);
        try {
          return { ok: await fn(c, { base: rootfs, running: false }) };
        } catch (err) {
          return { err }; // the copy's own failure: the job (the mount) went well
        } finally {
          await d.images.unmount(c.id, { remove: false }, job);
        }
      });
      if ('err' in out) throw out.err;
      return out.ok;
    });
  }

  // ---- helpers ---------------------------------------------------------------------------

  #attrs(c: ContainerRecord): Record<string, string> {
    return { name: c.name, image: c.image, ...c.config.Labels };
  }

  /** Serialise state changes of one container. */
  async #locked<T>(id: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.#locks.get(id) ?? Promise.resolve();
    const next = prev.catch(() => {}).then(fn);
    this.#locks.set(id, next);
    try {
      return await next;
    } finally {
      if (this.#locks.get(id) === next) this.#locks.delete(id);
    }
  }
}

/** A teardown step: log a failure and go on (teardown must get as far as it can). */
async function step(job: Job, what: string, fn: () => Promise<unknown>): Promise<void> {
  try {
    await fn();
  } catch (err) {
    job.log.warn({ err, what }, 'teardown step failed; going on');
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms).unref());
}

export function isNotModified(e: unknown): boolean {
  return isBerthError(e, 'not_modified');
}

export type { BerthError };
