#!/usr/bin/env node
// Container start-up, end to end through the CLI, beside the physical limit measured in the same
// run (../shared/bench/limit.sh): `berth run --rm busybox true` with --net none, the default bridge,
// and -p 0:80 (median of N), time from `run -d -p` to the first HTTP 200, and berthd's RSS with 0 and
// 100 running containers. Runs berthd in a throwaway netns playing the host, and itself in it.
// Env: N (20), CONTAINERS (100), LIMIT (path of limit.sh; "" to skip).
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { makeNetns, tempDir, startDaemon, rssKiB, stats, fmt, BERTH, ROOT } from './lib.mjs';

const N = Number(process.env.N ?? 20);
const CONTAINERS = Number(process.env.CONTAINERS ?? 100);
const LIMIT = process.env.LIMIT ?? resolve(ROOT, '../shared/bench/limit.sh');

// 1. the limit, first, on a quiet machine
let limit;
if (LIMIT && existsSync(LIMIT)) {
  const out = tempDir('limit');
  const r = spawnSync('bash', [LIMIT], { env: { ...process.env, N: String(Math.min(N, 20)), OUT_DIR: out }, encoding: 'utf8' });
  if (r.status === 0) limit = JSON.parse(readFileSync(join(out, 'limit-latest.json'), 'utf8'));
  else console.error(`limit.sh failed: ${r.stderr.slice(-500)}`);
}

// 2. berthd in its netns. The CLI needs only the socket; HTTP probes run inside the netns.
const netns = makeNetns();
const dir = tempDir('run');
const d = await startDaemon(netns, dir);
const cli = (args, opts = {}) => spawnSync(process.execPath, [BERTH, '-H', `unix://${d.sock}`, ...args], { encoding: 'utf8', ...opts });
const tar = join(dir, 'busybox.tar');
execFileSync('bash', [join(ROOT, 'scripts/mkimage-busybox.sh'), tar]);
if (cli(['import', tar, 'busybox:latest']).status !== 0) throw new Error('import failed');

function timeRun(args) {
  const t0 = performance.now();
  const r = cli(args);
  const ms = performance.now() - t0;
  if (r.status !== 0) throw new Error(`berth ${args.join(' ')}: ${r.stderr}`);
  return ms;
}
const modes = {
  none: ['run', '--rm', '--net', 'none', 'busybox', 'true'],
  bridge: ['run', '--rm', 'busybox', 'true'],
  publish: ['run', '--rm', '-p', '0:80', 'busybox', 'true'],
};
const times = { none: [], bridge: [], publish: [] };
for (const k of Object.keys(modes)) timeRun(modes[k]); // warm-up
for (let i = 0; i < N; i++) for (const k of Object.keys(modes)) times[k].push(timeRun(modes[k]));
const nodeStart = [];
for (let i = 0; i < 10; i++) {
  const t0 = performance.now();
  spawnSync(process.execPath, ['-e', '0']);
  nodeStart.push(performance.now() - t0);
}

// 3. run -d -p → first 200, probed from inside the netns every 5 ms by a small node process
const probe = `const http=require('http');const port=+process.argv[1];const t0=Date.now();(function go(){http.get({host:'127.0.0.1',port,path:'/'},r=>{r.resume();if(r.statusCode===200){process.stdout.write('ok');process.exit(0)}setTimeout(go,5)}).on('error',()=>setTimeout(go,5))})();setTimeout(()=>process.exit(1),10000)`;
const first200 = [];
for (let i = 0; i < Math.min(N, 10); i++) {
  const port = 20000 + i;
  const p = spawn('nsenter', [`--net=/run/netns/${netns}`, '--', process.execPath, '-e', probe, String(port)]);
  await new Promise((r) => setTimeout(r, 150)); // the probe is up and polling
  const t0 = performance.now();
  const done = new Promise((r) => p.once('exit', (code) => r(code)));
  const r = cli(['run', '-d', '-p', `${port}:80`, '--name', `w${i}`, 'busybox', 'httpd', '-f', '-p', '80', '-h', '/www']);
  if (r.status !== 0) throw new Error(r.stderr);
  if ((await done) !== 0) throw new Error('no HTTP 200');
  first200.push(performance.now() - t0);
  cli(['rm', '-f', `w${i}`]);
}

// 4. RSS with 0 and CONTAINERS running
await new Promise((r) => setTimeout(r, 500));
const rss0 = rssKiB(d.pid);
const t100 = performance.now();
for (let i = 0; i < CONTAINERS; i++) {
  const r = cli(['run', '-d', '--name', `s${i}`, 'busybox', 'sleep', '100000']);
  if (r.status !== 0) throw new Error(r.stderr);
}
const startAllMs = performance.now() - t100;
await new Promise((r) => setTimeout(r, 500));
const rss100 = rssKiB(d.pid);
const conmons = execFileSync('ps', ['-C', 'conmon', '-o', 'rss=,args=']).toString().split('\n').filter((l) => l.includes(dir));
const conmonKiB = conmons.reduce((a, l) => a + Number(l.trim().split(/\s+/)[0]), 0);
const ids = cli(['ps', '-q']).stdout.split('\n').filter(Boolean);
const tRm = performance.now();
cli(['rm', '-f', ...ids]);
const rmAllMs = performance.now() - tRm;
await d.stop();

// report
const s = Object.fromEntries(Object.entries(times).map(([k, v]) => [k, stats(v)]));
const f2 = stats(first200);
const out = {
  n: N,
  berth_run_rm_ms: s,
  node_start_ms: stats(nodeStart),
  run_d_p_to_first_200_ms: f2,
  rss_kib: { idle: rss0, [`with_${CONTAINERS}`]: rss100, conmon_total: conmonKiB },
  start_all_ms: startAllMs,
  rm_all_ms: rmAllMs,
  limit: limit && { a_none: limit.a_none_median_ms, a_bridge: limit.a_bridge_median_ms, a_publish: limit.a_publish_median_ms, b_first200: limit.b_first200_median_ms },
};
console.log(JSON.stringify(out));
const ratio = (a, b) => (b ? `${(a / b).toFixed(2)}x the limit (${fmt(b)} ms)` : '');
console.log(`berth run --rm busybox true, median of ${N} (p90), CLI start included:`);
console.log(`  --net none      ${fmt(s.none.median)} ms (${fmt(s.none.p90)})  ${ratio(s.none.median, limit?.a_none_median_ms)}`);
console.log(`  default bridge  ${fmt(s.bridge.median)} ms (${fmt(s.bridge.p90)})  ${ratio(s.bridge.median, limit?.a_bridge_median_ms)}`);
console.log(`  -p 0:80         ${fmt(s.publish.median)} ms (${fmt(s.publish.p90)})  ${ratio(s.publish.median, limit?.a_publish_median_ms)}`);
console.log(`  (node -e 0 alone: ${fmt(stats(nodeStart).median)} ms)`);
console.log(`run -d -p → first HTTP 200: median ${fmt(f2.median)} ms (p90 ${fmt(f2.p90)})  ${ratio(f2.median, limit?.b_first200_median_ms)}`);
console.log(`berthd RSS: idle ${(rss0 / 1024).toFixed(1)} MiB, with ${CONTAINERS} running ${(rss100 / 1024).toFixed(1)} MiB (conmon: ${(conmonKiB / 1024).toFixed(1)} MiB in all); started ${CONTAINERS} in ${(startAllMs / 1000).toFixed(1)} s, removed in ${(rmAllMs / 1000).toFixed(1)} s`);
