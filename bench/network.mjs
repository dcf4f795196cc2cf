#!/usr/bin/env node
// Network drivers bench: the bridge driver (compiled, dist/) in a driver host inside a throwaway netns
// playing the host. Per container start: allocate_interface + allocate_port for one published port,
// timed as one job, at 10, 100 and 500 containers on one bridge (median/p90 of the starts around
// each count); executions of ip/iptables per start (the engine counts them); firewall rules added
// per published port; release time (on the user's path, and the queued rule removal after it).
// Between starts the bench waits GAP ms (default 50: what runc takes to start a container), so the
// sandbox pool refills as it would in a run of `docker run`s; BURST=1 starts back to back.
// Then runs /work/shared/bench/limit.sh (N=10) in the same run and prints its net_* numbers beside.
// Env: COUNTS (10,100,500), GAP (50), LIMIT (1: run limit.sh), POOL (2). Needs root and `npm run build`.
import { spawn, execFileSync } from 'node:child_process';
import { createInterface } from 'node:readline';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT, makeNetns, prefix, stats, fmt, onExit } from './lib.mjs';

const COUNTS = (process.env.COUNTS ?? '10,100,500').split(',').map(Number);
const GAP = process.env.BURST ? 0 : Number(process.env.GAP ?? 50);
const MAX = Math.max(...COUNTS);
const hex = () => randomBytes(32).toString('hex');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

if (process.getuid() !== 0) {
  console.error('bench/network.mjs needs root');
  process.exit(1);
}
const host = makeNetns();
const state = mkdtempSync(join(tmpdir(), `berth-bench-${prefix}-net-`));
onExit(() => rmSync(state, { recursive: true, force: true }));

const dh = spawn(
  'nsenter',
  [`--net=/run/netns/${host}`, '--', process.execPath, join(ROOT, 'test/helpers/driver-host.mjs'), '--prefix', prefix, '--state', state, '--bridge', `${prefix}br`, '--pool', process.env.POOL ?? '2'],
  { stdio: ['pipe', 'pipe', 'inherit'] },
);
onExit(() => dh.kill('SIGKILL'));
const waiting = new Map();
let seq = 0;
createInterface({ input: dh.stdout }).on('line', (l) => {
  const m = JSON.parse(l);
  const w = waiting.get(m.id);
  waiting.delete(m.id);
  if (!w) return;
  if (m.ok) w.resolve(m.result);
  else w.reject(Object.assign(new Error(m.error.message), { code: m.error.code }));
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

const iptRules = () => execFileSync('nsenter', [`--net=/run/netns/${host}`, '--', 'iptables-save']).toString().split('\n').filter((l) => l.startsWith('-A')).length;

const nets = await send({ cmd: 'init' });
const net = nets.find((n) => n.name === 'bridge');
await sleep(200);

const starts = []; // { ms, execs }
const eps = [];
let rulesPerPort;
for (let i = 1; i <= MAX; i++) {
  const before = i === 1 ? iptRules() : 0;
  const t0 = performance.now();
  const r = await send({
    cmd: 'start',
    network: net,
    container: { id: hex(), name: `c${i}` },
    endpointId: hex(),
    request: {},
    requests: [{ containerPort: 80, proto: 'tcp', hostIp: '', hostPort: 20000 + i, hostPortEnd: 20000 + i }],
  });
  const ms = performance.now() - t0;
  eps.push(r.endpoint);
  if (i === 1) rulesPerPort = iptRules() - before;
  const recent = await send({ cmd: 'recent', limit: 8 });
  const job = recent.filter((j) => j.name === 'container-start').at(-1);
  const part = (name) => recent.filter((j) => j.name === name && j.parent === job.id).at(-1)?.durationMs ?? NaN;
  starts.push({ ms, jobMs: job.durationMs, execs: job.execs, ifMs: part('allocate_interface'), portMs: part('allocate_port') });
  if (GAP) await sleep(GAP);
}

// release, newest first (a queue of `run --rm`s): the user's path, then the queued rule removal
const rel = [];
const releaseAt = Math.min(MAX, 100);
for (let i = 0; i < releaseAt; i++) {
  const ep = eps.pop();
  const t0 = performance.now();
  await send({ cmd: 'stop', network: net, endpoint: ep });
  const job = (await send({ cmd: 'recent', limit: 4 })).filter((j) => j.name === 'container-stop').at(-1);
  rel.push(job?.durationMs ?? performance.now() - t0);
  if (GAP) await sleep(GAP);
}
let t0 = performance.now();
await send({ cmd: 'settle' });
const settleMs = performance.now() - t0;
// and the rest all at once: how long the queued removal of many takes
for (const ep of eps.splice(0)) await send({ cmd: 'stop', network: net, endpoint: ep });
t0 = performance.now();
await send({ cmd: 'settle' });
const bulkSettleMs = performance.now() - t0;
const left = iptRules();
await send({ cmd: 'exit' }).catch(() => {});

const window = (n) => starts.slice(Math.max(0, n - 10), n);
console.log(`\n== berth network drivers: bridge, one published port per container; gap ${GAP} ms between starts, pool ${process.env.POOL ?? 2} ==`);
console.log('containers  start median ms  p90 ms  | allocate_interface  allocate_port (median / p90)  | round trip to the driver host');
for (const n of COUNTS) {
  const w = window(n);
  const j = stats(w.map((s) => s.jobMs));
  const a = stats(w.map((s) => s.ifMs));
  const b = stats(w.map((s) => s.portMs));
  const rt = stats(w.map((s) => s.ms));
  console.log(
    `${String(n).padStart(10)}  ${fmt(j.median).padStart(14)}  ${fmt(j.p90).padStart(6)}  | ${`${fmt(a.median)} / ${fmt(a.p90)}`.padStart(18)}  ${`${fmt(b.median)} / ${fmt(b.p90)}`.padStart(13)}  | ${fmt(rt.median)} / ${fmt(rt.p90)}`,
  );
}
const execKinds = new Map();
for (const s of starts) {
  const k = JSON.stringify(s.execs);
  execKinds.set(k, (execKinds.get(k) ?? 0) + 1);
}
console.log('executions per start:', [...execKinds].map(([k, c]) => `${k} x${c}`).join(', '));
console.log(`firewall rules added per published port: ${rulesPerPort}`);
const r = stats(rel);
console.log(`release (release_port + release_interface, job time) at ${MAX}..${MAX - releaseAt + 1} containers: median ${fmt(r.median)} ms, p90 ${fmt(r.p90)} ms`);
console.log(`queued rule removal after those ${releaseAt} releases: ${fmt(settleMs)} ms left to flush; ${MAX - releaseAt} more released back to back, flushed in ${fmt(bulkSettleMs)} ms`);
console.log(`iptables rules left after releasing all: ${left} (the daemon's and the network's base rules)`);

if (process.env.LIMIT !== '0') {
  const limit = '/work/shared/bench/limit.sh';
  if (!existsSync(limit)) console.log('(limit.sh not found: skipped)');
  else {
    const out = mkdtempSync(join(tmpdir(), `berth-bench-${prefix}-limit-`));
    onExit(() => rmSync(out, { recursive: true, force: true }));
    try {
      execFileSync('bash', [limit], { env: { ...process.env, N: '10', OUT_DIR: out }, stdio: ['ignore', 'ignore', 'pipe'] });
      const j = JSON.parse(readFileSync(join(out, 'limit-latest.json'), 'utf8'));
      console.log('\n== limit.sh N=10, same run: networking alone, per container (ms median / p90) ==');
      for (const k of ['net_total', 'net_netns_add', 'net_ip_batch', 'net_ipt_add', 'net_ipt_del', 'net_netns_del'])
        console.log(`${k.padEnd(16)} ${fmt(j[`${k}_median_ms`])} / ${fmt(j[`${k}_p90_ms`])}`);
      console.log(`iptables_rules_per_container ${j.iptables_rules_per_container}`);
    } catch (e) {
      console.log(`limit.sh failed: ${String(e.stderr ?? e.message).trim().split('\n').slice(-2).join(' ')}`);
    }
  }
}
