#!/usr/bin/env node
// Firewall bench: iptables rules against nftables maps. For each backend, the network drivers
// (compiled, dist/) run in a driver host inside a throwaway netns playing the host, with another
// netns playing a client machine. One container (a netns with a node TCP server) gets published
// ports one at a time — each one allocate_port, one transaction, as 1,000 `docker run -p`s would
// (container port = host port, so iptables holds 3 rules per port: DNAT, FORWARD accept, hairpin).
// Measured:
//   - the new-connection rate from the client machine to the LAST published port through DNAT
//     (connect, then reset; CONC connections at a time for SECS seconds), at 10 and at 1,000
//     published ports: with iptables a new connection walks the DNAT rules one by one, with
//     nftables it is one map lookup;
//   - the time to publish the 1,000th port (allocate_port, on the user's path).
// Four set-ups live side by side (each backend with 10 and with 1,000 ports) and their runs are
// interleaved, so that load from elsewhere on the machine falls on all of them alike.
// Env: PORTS (1000), SECS (2), CONC (16), RUNS (5). Needs root and `npm run build`.
import { spawn, execFileSync } from 'node:child_process';
import { createInterface } from 'node:readline';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT, makeNetns, prefix, stats, fmt, onExit } from './lib.mjs';

const MAX = Number(process.env.PORTS ?? 1000);
const SECS = Number(process.env.SECS ?? 2);
const CONC = Number(process.env.CONC ?? 16);
const RUNS = Number(process.env.RUNS ?? 5);
const BASE = 20000;
const hex = () => randomBytes(32).toString('hex');
if (process.getuid() !== 0) {
  console.error('bench/firewall.mjs needs root');
  process.exit(1);
}
const nsx = (ns, argv, opts = {}) => execFileSync('nsenter', [`--net=/run/netns/${ns}`, '--', ...argv], opts).toString();

const SERVER = `
  const ports = process.argv.slice(1).map(Number);
  let up = 0;
  for (const p of ports) require('node:net').createServer((s) => s.destroy()).listen(p, '0.0.0.0', () => { if (++up === ports.length) console.log('ready'); });`;
const CLIENT = `
  const net = require('node:net');
  const [host, port, secs, conc] = process.argv.slice(1);
  const end = Date.now() + Number(secs) * 1000;
  let done = 0, failed = 0, live = 0;
  const one = () => {
    if (Date.now() >= end) { if (--live === 0) console.log(JSON.stringify({ done, failed, secs: Number(secs) })); return; }
    const s = net.connect({ host, port: Number(port) });
    s.setTimeout(2000, () => { failed++; s.destroy(); });
    s.once('connect', () => { done++; s.resetAndDestroy ? s.resetAndDestroy() : s.destroy(); });
    s.once('error', () => { failed++; });
    s.once('close', one);
  };
  for (let i = 0; i < Number(conc); i++) { live++; one(); }`;

/** A host netns with the drivers, a client netns, a container serving the last port; `count` ports
 *  published one allocate_port at a time. Returns how to measure it and what publishing cost. */
async function setUp(backend, count, tag) {
  const host = makeNetns(`${prefix}-${tag}`);
  const client = makeNetns(`${prefix}-${tag}c`);
  const hv = `${prefix}${tag}v`;
  execFileSync('ip', ['-n', host, 'link', 'add', hv, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', client]);
  execFileSync('ip', ['-n', host, '-batch', '-'], { input: `addr add 10.98.0.1/30 dev ${hv}\nlink set ${hv} up\n` });
  execFileSync('ip', ['-n', client, '-batch', '-'], { input: 'addr add 10.98.0.2/30 dev eth0\nlink set eth0 up\nroute add default via 10.98.0.1\n' });
  const state = mkdtempSync(join(tmpdir(), `berth-bench-${prefix}-fw-`));
  onExit(() => rmSync(state, { recursive: true, force: true }));
  const dh = spawn(
    'nsenter',
    [`--net=/run/netns/${host}`, '--', process.execPath, join(ROOT, 'test/helpers/driver-host.mjs'), '--prefix', prefix, '--state', state, '--bridge', `${prefix}b${tag}`, '--pool', '0', '--firewall', backend],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  );
  onExit(() => dh.kill('SIGKILL'));
  const waiting = new Map();
  let seq = 0;
  createInterface({ input: dh.stdout }).on('line', (l) => {
    const m = JSON.parse(l);
    const w = waiting.get(m.id);
    waiting.delete(m.id);
    if (w) m.ok ? w.resolve(m.result) : w.reject(new Error(m.error.message));
  });
  const send = (m) =>
    new Promise((resolve, reject) => {
      const id = String(++seq);
      waiting.set(id, { resolve, reject });
      dh.stdin.write(JSON.stringify({ ...m, id }) + '\n');
    });
  await new Promise((resolve, reject) => {
    waiting.set('ready', { resolve, reject });
    dh.once('exit', (c) => reject(new Error(`driver host exited ${c}`)));
  });
  const net = (await send({ cmd: 'init' })).find((n) => n.name === 'bridge');
  const { endpoint } = await send({ cmd: 'start', network: net, container: { id: hex(), name: 'srv' }, endpointId: hex(), request: {}, requests: [] });
  const last = BASE + count;
  const server = spawn('nsenter', [`--net=/run/netns/${endpoint.netns.name}`, '--', process.execPath, '-e', SERVER, String(last)], { stdio: ['ignore', 'pipe', 'inherit'] });
  onExit(() => server.kill('SIGKILL'));
  await new Promise((r) => server.stdout.once('data', r));
  const publishMs = [];
  for (let i = 1; i <= count; i++) {
    const port = BASE + i;
    const t0 = performance.now();
    await send({ handler: 'allocate_port', driver: 'bridge', input: { network: net, endpoint, requests: [{ containerPort: port, proto: 'tcp', hostIp: '', hostPort: port, hostPortEnd: port }] } });
    publishMs.push(performance.now() - t0);
  }
  const objects =
    backend === 'iptables'
      ? nsx(host, ['iptables-save']).split('\n').filter((l) => l.startsWith('-A BERTH')).length
      : nsx(host, ['nft', 'list', 'table', 'inet', prefix]).split(/[\n,]/).filter((l) => / : \d|^\s*(elements = \{ )?[0-9.]+ \. [0-9.]+ \. tcp/.test(l)).length;
  const rates = [];
  return {
    backend,
    count,
    publishMs,
    objects,
    rates,
    measure() {
      const res = JSON.parse(nsx(client, [process.execPath, '-e', CLIENT, '10.98.0.1', String(last), String(SECS), String(CONC)]));
      if (res.failed) console.error(`${backend} ${count}: ${res.failed} connections failed`);
      rates.push(res.done / res.secs);
    },
    async close() {
      await send({ cmd: 'exit' }).catch(() => {});
      server.kill('SIGKILL');
    },
  };
}

const setups = [];
for (const backend of ['iptables', 'nftables']) for (const count of [10, MAX]) setups.push(await setUp(backend, count, `${backend[0]}${count === 10 ? 's' : 'l'}`));
for (let r = 0; r < RUNS; r++) for (const s of setups) s.measure();
for (const s of setups) await s.close();

console.log(`\n== firewall backends: new connections to the last-published port through DNAT (${CONC} at a time, ${SECS} s runs, median of ${RUNS}, interleaved) ==`);
console.log('backend    published ports   berth rules+elements   new connections/s (min-max)');
for (const s of setups) {
  const st = stats(s.rates);
  console.log(`${s.backend.padEnd(10)} ${String(s.count).padStart(15)}   ${String(s.objects).padStart(20)}   ${st.median.toFixed(0).padStart(17)} (${st.min.toFixed(0)}-${st.max.toFixed(0)})`);
}
console.log('\n== time to publish one more port (allocate_port: reserve, record, one firewall transaction), ms ==');
console.log(`backend    ports 1-10 median   the ${MAX}th   ports ${MAX - 9}-${MAX} median / p90`);
for (const s of setups.filter((x) => x.count === MAX)) {
  const first = stats(s.publishMs.slice(0, 10));
  const last = stats(s.publishMs.slice(-10));
  console.log(`${s.backend.padEnd(10)} ${fmt(first.median).padStart(17)}   ${fmt(s.publishMs.at(-1)).padStart(9)}   ${fmt(last.median)} / ${fmt(last.p90)}`);
}
