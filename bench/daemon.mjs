#!/usr/bin/env node
// berthd start-up and API overhead: start to first /_ping (median of 5 starts), idle RSS, and
// /_ping latency over 10,000 keep-alive requests on the unix socket. Runs in a throwaway netns.
import { makeNetns, tempDir, startDaemon, ping, rssKiB, stats, fmt } from './lib.mjs';

const N = Number(process.env.N ?? 10000);
const netns = makeNetns();
const starts = [];
let d;
for (let i = 0; i < 5; i++) {
  const dir = tempDir(`d${i}`);
  d = await startDaemon(netns, dir);
  starts.push(d.ms);
  if (i < 4) await d.stop();
}
await new Promise((r) => setTimeout(r, 1000));
const rssIdle = rssKiB(d.pid);
for (let i = 0; i < 200; i++) await ping(d.sock, d.agent); // warm-up
const lat = [];
for (let i = 0; i < N; i++) {
  const t = performance.now();
  await ping(d.sock, d.agent);
  lat.push(performance.now() - t);
}
const rssAfter = rssKiB(d.pid);
await d.stop();
const s = stats(starts);
const l = stats(lat);
console.log(JSON.stringify({ start_to_ping_ms: s, idle_rss_kib: rssIdle, rss_after_pings_kib: rssAfter, ping_ms: l }));
console.log(`start to first /_ping: median ${fmt(s.median)} ms (min ${fmt(s.min)}, max ${fmt(s.max)}, n=${s.n})`);
console.log(`idle RSS: ${(rssIdle / 1024).toFixed(1)} MiB; after ${N} pings: ${(rssAfter / 1024).toFixed(1)} MiB`);
console.log(`/_ping over the unix socket, keep-alive, ${N} requests: p50 ${fmt(l.median)} ms, p99 ${fmt(l.p99)} ms, max ${fmt(l.max)} ms`);
