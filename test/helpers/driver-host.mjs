#!/usr/bin/env node
// The driver host: the network drivers (compiled, from dist/) running in a process of their own,
// started inside a test "host" netns (nsenter --net=/run/netns/<prefix>-host -- node driver-host.mjs),
// so that their bridges, veths, sysctls, sockets and iptables live in that netns. It builds what
// berthd builds for them (realSys, a FileStore in a temp dir, makeNames(prefix), the Engine) and
// runs JSON commands, one per line on stdin, answering one line each on stdout:
//   {id, handler, driver, input}      → engine.run(handler, driver, input)
//   {id, cmd: 'start', network, container, endpointId, request, requests}
//                                     → allocate_interface then allocate_port as one job (a failure unwinds both,
//                                       as the daemon's container start does) → {endpoint, ports}
//   {id, cmd: 'stop', network, endpoint} → release_port then release_interface
//   {id, cmd: 'init'}                 → create the builtin networks that have no record (as the daemon does)
//   {id, cmd: 'create', spec}         → create_network and keep the record (as the network service does)
//   {id, cmd: 'remove', network}      → delete_network and forget the record
//   {id, cmd: 'check', repair}        → every network driver's check({repair}) (system check)
//   {id, cmd: 'restore'}              → every driver's restore(), reports by driver
//   {id, cmd: 'restart'}              → shut the drivers down and make them again from the same records, then restore
//   {id, cmd: 'inspect', network}     → the driver's inspect(network, its endpoints); null without one
//   {id, cmd: 'records'}              → {networks, endpoints}
//   {id, cmd: 'recent'}               → engine.recent() (jobs with their exec counts)
//   {id, cmd: 'settle'}               → finish queued firewall removals
//   {id, cmd: 'exit'}                 → shut down and exit
// Answers: {id, ok: true, result} or {id, ok: false, error: {code, message}}.
// Flags: --prefix P --state DIR --bridge NAME [--icc true|false] [--pool N] [--bip CIDR] [--fixed-cidr CIDR]
//        [--firewall iptables|nftables]
import { createInterface } from 'node:readline';
import { randomBytes } from 'node:crypto';
import { join, resolve } from 'node:path';

const ROOT = resolve(import.meta.dirname, '../..');
const dist = (p) => import(join(ROOT, 'dist', p));

const { Engine } = await dist('daemon/engine/engine.js');
const { FileStore } = await dist('daemon/state/store.js');
const { realSys } = await dist('drivers/sys/index.js');
const { makeNames } = await dist('drivers/names.js');
const { silentLog } = await dist('drivers/log.js');
const { builtinDrivers } = await dist('drivers/registry.js');
const { makeBridgeDriver } = await dist('drivers/network/bridge/index.js');
const { iptablesBackend } = await dist('drivers/network/firewall/iptables.js');
const { nftablesBackend } = await dist('drivers/network/firewall/nftables.js');

function flags(argv) {
  const out = {};
  for (let i = 0; i < argv.length; i += 2) out[argv[i].replace(/^--/, '')] = argv[i + 1];
  return out;
}
const f = flags(process.argv.slice(2));
if (!f.prefix || !f.state || !f.bridge) {
  process.stderr.write('usage: driver-host.mjs --prefix P --state DIR --bridge NAME [--icc B] [--pool N] [--bip CIDR] [--fixed-cidr CIDR]\n');
  process.exit(2);
}

const errLog = {
  ...silentLog,
  warn: (o, m) => process.stderr.write(`warn: ${m ?? ''} ${JSON.stringify(o, errReplacer)}\n`),
  error: (o, m) => process.stderr.write(`error: ${m ?? ''} ${JSON.stringify(o, errReplacer)}\n`),
  child: () => errLog,
};
function errReplacer(_k, v) {
  return v instanceof Error ? { message: v.message } : v;
}

const names = makeNames(f.prefix);
const store = await FileStore.open(f.state, ['network', 'endpoint']);
const config = {
  dataRoot: f.state,
  execRoot: f.state,
  bridge: f.bridge,
  ...(f.bip ? { bip: f.bip } : {}),
  ...(f['fixed-cidr'] ? { fixedCidr: f['fixed-cidr'] } : {}),
  icc: f.icc !== 'false',
  ipForward: true,
  runtime: 'runc',
  storageDriver: 'vfs',
  firewallBackend: f.firewall === 'nftables' ? 'nftables' : 'iptables',
};

/** One "daemon": engine + drivers over the shared store. */
async function boot() {
  const engine = new Engine(errLog);
  const sys = realSys({ onExec: (argv) => engine.recordExec(argv) });
  const fw =
    config.firewallBackend === 'nftables'
      ? nftablesBackend({ nft: sys.nft, table: f.prefix, log: errLog })
      : iptablesBackend({ iptables: sys.iptables, ours: (c) => names.ruleOwner(c) !== undefined, log: errLog });
  const drivers = [];
  for (const [key, load] of Object.entries(builtinDrivers)) {
    if (!key.startsWith('network/')) continue;
    const ctx = { sys, records: store, names, log: errLog, config };
    const d =
      key === 'network/bridge'
        ? makeBridgeDriver(ctx, { firewall: fw, poolSize: f.pool !== undefined ? Number(f.pool) : 2 })
        : await (await load()).default(ctx);
    engine.install(d);
    drivers.push(d);
  }
  const reports = {};
  for (const d of drivers) reports[d.name] = await engine.job(`restore ${d.name}`, () => d.restore());
  return { engine, drivers, fw, reports };
}

let cur = await boot();

async function shutdown() {
  for (const d of cur.drivers) await d.shutdown?.();
  await store.flush();
}

async function exec(msg) {
  if (msg.handler) return cur.engine.run(msg.handler, msg.driver, msg.input);
  switch (msg.cmd) {
    case 'start': {
      const e = cur.engine;
      const driver = msg.network.driver;
      return e.job('container-start', async (job) => {
        const endpoint = await e.run('allocate_interface', driver, { network: msg.network, container: msg.container, endpointId: msg.endpointId, request: msg.request ?? {} }, job);
        const ports = await e.run('allocate_port', driver, { network: msg.network, endpoint, requests: msg.requests ?? [] }, job);
        return { endpoint, ports };
      });
    }
    case 'stop': {
      const e = cur.engine;
      return e.job('container-stop', async (job) => {
        await e.run('release_port', msg.network.driver, { network: msg.network, endpoint: msg.endpoint }, job);
        await e.run('release_interface', msg.network.driver, { network: msg.network, endpoint: msg.endpoint }, job);
      });
    }
    case 'init': {
      const made = [];
      for (const d of cur.drivers)
        for (const spec of d.builtinNetworks) {
          if (store.list('network').some((n) => n.name === spec.name)) continue;
          const rec = await cur.engine.run('create_network', d.name, { spec, id: randomBytes(32).toString('hex') });
          await store.put('network', rec);
          made.push(rec);
        }
      return store.list('network');
    }
    case 'create': {
      const rec = await cur.engine.run('create_network', msg.spec.driver ?? 'bridge', { spec: msg.spec, id: randomBytes(32).toString('hex') });
      await store.put('network', rec);
      return rec;
    }
    case 'remove':
      await cur.engine.run('delete_network', msg.network.driver, { network: msg.network });
      await store.delete('network', msg.network.id);
      return null;
    case 'check': {
      const out = [];
      for (const d of cur.drivers) if (d.check) out.push(...(await d.check({ repair: !!msg.repair })));
      return out;
    }
    case 'restore': {
      const out = {};
      for (const d of cur.drivers) out[d.name] = await cur.engine.job(`restore ${d.name}`, () => d.restore());
      return out;
    }
    case 'restart':
      await shutdown();
      cur = await boot();
      return cur.reports;
    case 'inspect': {
      const d = cur.engine.driver('network', msg.network.driver);
      return d.inspect ? d.inspect(msg.network, store.list('endpoint').filter((e) => e.networkId === msg.network.id)) : null;
    }
    case 'records':
      return { networks: store.list('network'), endpoints: store.list('endpoint') };
    case 'recent':
      return cur.engine.recent({ limit: msg.limit ?? 100 });
    case 'settle':
      await cur.fw.flush();
      return null;
    case 'exit':
      await shutdown();
      setImmediate(() => process.exit(0));
      return null;
    default:
      throw Object.assign(new Error(`unknown command ${msg.cmd}`), { code: 'invalid_parameter' });
  }
}

const rl = createInterface({ input: process.stdin });
let chain = Promise.resolve();
rl.on('line', (line) => {
  if (!line.trim()) return;
  let msg;
  try {
    msg = JSON.parse(line);
  } catch {
    process.stdout.write(JSON.stringify({ id: null, ok: false, error: { code: 'invalid_parameter', message: 'bad JSON' } }) + '\n');
    return;
  }
  // Commands run one after another unless marked concurrent (a bench may overlap jobs).
  const run = () =>
    exec(msg).then(
      (result) => process.stdout.write(JSON.stringify({ id: msg.id, ok: true, result: result ?? null }) + '\n'),
      (e) => process.stdout.write(JSON.stringify({ id: msg.id, ok: false, error: { code: e?.code ?? 'system', message: e?.message ?? String(e) } }) + '\n'),
    );
  if (msg.concurrent) void run();
  else chain = chain.then(run);
});
rl.on('close', () => {
  void chain.then(shutdown).then(() => process.exit(0));
});
process.stdout.write(JSON.stringify({ id: 'ready', ok: true, result: cur.reports }) + '\n');
