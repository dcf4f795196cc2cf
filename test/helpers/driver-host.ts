// Tests' handle on a driver host (driver-host.mjs) running inside a test "host" netns:
// `await dh.run('allocate_port', 'bridge', input)` is typed like engine.run. A failed handler
// rejects with a DriverHostError carrying Berth's error code.
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import { rmSync } from 'node:fs';
import type { HandlerIn, HandlerName, HandlerOut } from '../../drivers/handlers.js';
import type { DriftItem, Endpoint, EndpointRequest, NetworkRecord, NetworkSpec, PortBinding, PortBindingRequest, ReconcileReport } from '../../drivers/types.js';
import { randomBytes } from 'node:crypto';
import { nsenterArgs } from './sh.js';
import { registerPid, unregisterPid, testDir, ROOT } from './daemon.js';

export class DriverHostError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.code = code;
  }
}

export interface DriverHostOptions {
  /** The netns playing the host. */
  netns: string;
  /** Name prefix for what the drivers make (netns names, rule tags). */
  prefix: string;
  bridge: string;
  icc?: boolean;
  /** Ready sandboxes per bridge network (default 2). */
  pool?: number;
  bip?: string;
  fixedCidr?: string;
  /** The firewall backend (default iptables). */
  firewall?: 'iptables' | 'nftables';
}

export interface DriverHost {
  pid: number;
  stateDir: string;
  run<N extends HandlerName>(handler: N, driver: string, input: HandlerIn<N>, opts?: { concurrent?: boolean }): Promise<HandlerOut<N>>;
  /** allocate_interface + allocate_port as one job, undone whole on failure (the daemon's start). */
  start(
    network: NetworkRecord,
    o?: { request?: EndpointRequest; requests?: PortBindingRequest[]; name?: string; containerId?: string; concurrent?: boolean },
  ): Promise<{ endpoint: Endpoint; ports: PortBinding[] }>;
  /** release_port + release_interface. */
  stop(network: NetworkRecord, endpoint: Endpoint): Promise<void>;
  /** Builtin networks made (those without a record), then every network record. */
  init(): Promise<NetworkRecord[]>;
  /** create_network, the record kept (the network service's create). */
  create(spec: NetworkSpec): Promise<NetworkRecord>;
  /** delete_network, the record forgotten. */
  remove(network: NetworkRecord): Promise<void>;
  /** Every network driver's check (system check). */
  check(repair: boolean): Promise<DriftItem[]>;
  restore(): Promise<Record<string, ReconcileReport>>;
  restart(): Promise<Record<string, ReconcileReport>>;
  inspect(network: NetworkRecord): Promise<Record<string, unknown>>;
  records(): Promise<{ networks: NetworkRecord[]; endpoints: Endpoint[] }>;
  recent(limit?: number): Promise<{ name: string; driver?: string; durationMs?: number; execs: Record<string, number>; outcome: string }[]>;
  /** Finish queued firewall removals. */
  settle(): Promise<void>;
  /** Wait until a bridge network's sandbox pool is full and idle (as `network inspect` shows it);
   *  other drivers have no pool. Rejects after timeoutMs (default 10 s). */
  poolReady(network: NetworkRecord, timeoutMs?: number): Promise<void>;
  /** Stderr so far. */
  stderr(): string;
  /** Shut the drivers down, end the process, remove the state dir. */
  close(): Promise<void>;
}

export async function startDriverHost(o: DriverHostOptions): Promise<DriverHost> {
  const stateDir = testDir('dh');
  const argv = [
    ...nsenterArgs(o.netns),
    process.execPath,
    join(ROOT, 'test/helpers/driver-host.mjs'),
    '--prefix',
    o.prefix,
    '--state',
    stateDir,
    '--bridge',
    o.bridge,
    '--icc',
    String(o.icc ?? true),
    '--pool',
    String(o.pool ?? 2),
    ...(o.bip ? ['--bip', o.bip] : []),
    ...(o.fixedCidr ? ['--fixed-cidr', o.fixedCidr] : []),
    ...(o.firewall ? ['--firewall', o.firewall] : []),
  ];
  const proc: ChildProcess = spawn(argv[0]!, argv.slice(1), { stdio: ['pipe', 'pipe', 'pipe'] });
  registerPid(proc.pid!);
  let stderr = '';
  proc.stderr!.on('data', (c) => (stderr += c.toString()));
  const waiting = new Map<string, { resolve: (v: unknown) => void; reject: (e: unknown) => void }>();
  let seq = 0;
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  const ready = new Promise<void>((resolve, reject) => {
    waiting.set('ready', { resolve: () => resolve(), reject });
    proc.once('exit', (code) => reject(new Error(`driver host exited (${code}): ${stderr}`)));
  });
  createInterface({ input: proc.stdout! }).on('line', (line) => {
    let msg: { id: string; ok: boolean; result?: unknown; error?: { code: string; message: string } };
    try {
      msg = JSON.parse(line);
    } catch {
      stderr += `stdout: ${line}\n`;
      return;
    }
    const w = waiting.get(msg.id);
    if (!w) return;
    waiting.delete(msg.id);
    if (msg.ok) w.resolve(msg.result);
    else w.reject(new DriverHostError(msg.error!.code, msg.error!.message));
  });
  proc.once('exit', () => {
    for (const w of waiting.values()) w.reject(new Error(`driver host exited: ${stderr}`));
    waiting.clear();
  });
  const send = <T>(m: Record<string, unknown>): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      const id = String(++seq);
      waiting.set(id, { resolve: resolve as (v: unknown) => void, reject });
      proc.stdin!.write(JSON.stringify({ ...m, id }) + '\n');
    });
  await ready;
  return {
    pid: proc.pid!,
    stateDir,
    run: (handler, driver, input, opts = {}) => send({ handler, driver, input, ...(opts.concurrent ? { concurrent: true } : {}) }),
    start: (network, so = {}) =>
      send({
        cmd: 'start',
        network,
        container: { id: so.containerId ?? randomBytes(32).toString('hex'), name: so.name ?? 'c' },
        endpointId: randomBytes(32).toString('hex'),
        request: so.request ?? {},
        requests: so.requests ?? [],
        ...(so.concurrent ? { concurrent: true } : {}),
      }),
    stop: (network, endpoint) => send({ cmd: 'stop', network, endpoint }),
    init: () => send({ cmd: 'init' }),
    create: (spec) => send({ cmd: 'create', spec }),
    remove: (network) => send({ cmd: 'remove', network }),
    check: (repair) => send({ cmd: 'check', repair }),
    restore: () => send({ cmd: 'restore' }),
    restart: () => send({ cmd: 'restart' }),
    inspect: (network) => send({ cmd: 'inspect', network }),
    records: () => send({ cmd: 'records' }),
    recent: (limit) => send({ cmd: 'recent', limit }),
    settle: () => send({ cmd: 'settle' }),
    poolReady: async (network, timeoutMs = 10_000) => {
      const until = Date.now() + timeoutMs;
      for (;;) {
        const pool = ((await send({ cmd: 'inspect', network })) as { sandboxPool?: { ready: number; size: number; filling: boolean } } | null)?.sandboxPool;
        if (!pool || (pool.ready === pool.size && !pool.filling)) return;
        if (Date.now() > until) throw new Error(`sandbox pool of ${network.name} not ready after ${timeoutMs} ms: ${JSON.stringify(pool)}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    stderr: () => stderr,
    async close() {
      if (proc.exitCode === null && proc.signalCode === null) {
        await send({ cmd: 'exit' }).catch(() => {});
        const t = setTimeout(() => proc.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(t);
      }
      unregisterPid(proc.pid!);
      rmSync(stateDir, { recursive: true, force: true });
    },
  };
}
