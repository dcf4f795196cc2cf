#!/usr/bin/env node
// Embedded DNS bench: resolution latency seen from a container. The network drivers (compiled,
// dist/) run in a driver host inside a throwaway netns playing the host; a user-defined network
// with two endpoints; from the client's netns a node script sends N queries one after another to
// the network's gateway:53 and times each answer:
//   - a container name (answered from the records),
//   - an outside name forwarded to the container's --dns server (a minimal resolver on the host's
//     127.0.0.1:53, answering at once: what the forwarding itself costs),
//   - that resolver asked directly from the host netns (the floor of a UDP round trip here).
// Env: N (2000). Needs root and `npm run build`.
import { spawn, execFileSync } from 'node:child_process';
import { createInterface } from 'node:readline';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT, makeNetns, prefix, stats, fmt, onExit } from './lib.mjs';

const N = Number(process.env.N ?? 2000);
const hex = () => randomBytes(32).toString('hex');
if (process.getuid() !== 0) {
  console.error('bench/dns.mjs needs root');
  process.exit(1);
}
const host = makeNetns();
const state = mkdtempSync(join(tmpdir(), `berth-bench-${prefix}-dns-`));
onExit(() => rmSync(state, { recursive: true, force: true }));
const dh = spawn('nsenter', [`--net=/run/netns/${host}`, '--', process.execPath, join(ROOT, 'test/helpers/driver-host.mjs'), '--prefix', prefix, '--state', state, '--bridge', `${prefix}b0`, '--pool', '0'], {
  stdio: ['pipe', 'pipe', 'inherit'],
});
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

// A resolver on the host's loopback that answers every A query with 203.0.113.5 at once.
const UPSTREAM = `
  const s = require('node:dgram').createSocket('udp4');
  s.on('message', (m, r) => {
    let i = 12; while (m[i]) i += m[i] + 1; const end = i + 5;
    const h = Buffer.from(m.subarray(0, 12)); h.writeUInt16BE(0x8180, 2); h.writeUInt16BE(1, 6); h.writeUInt16BE(0, 8); h.writeUInt16BE(0, 10);
    s.send(Buffer.concat([h, m.subarray(12, end), Buffer.from([0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 203, 0, 113, 5])]), r.port, r.address);
  });
  s.bind(53, '127.0.0.1', () => console.log('ready'));`;
const up = spawn('nsenter', [`--net=/run/netns/${host}`, '--', process.execPath, '-e', UPSTREAM], { stdio: ['ignore', 'pipe', 'inherit'] });
onExit(() => up.kill('SIGKILL'));
await new Promise((r) => up.stdout.once('data', r));

// N sequential queries for NAME to SERVER:53; prints the round trips (ms) as JSON.
const CLIENT = `
  const [server, name, n] = process.argv.slice(1);
  const s = require('node:dgram').createSocket('udp4');
  const q = (id) => { const h = Buffer.alloc(12); h.writeUInt16BE(id, 0); h.writeUInt16BE(0x0100, 2); h.writeUInt16BE(1, 4);
    return Buffer.concat([h, ...name.split('.').flatMap((l) => [Buffer.from([l.length]), Buffer.from(l)]), Buffer.from([0, 0, 1, 0, 1])]); };
  const out = []; let i = 0, t0 = 0;
  s.on('message', (m) => { const rc = m.readUInt16BE(2) & 15, an = m.readUInt16BE(6);
    if (rc !== 0 || an < 1) { console.error('bad answer rcode ' + rc); process.exit(1); }
    out.push(Number(process.hrtime.bigint() - t0) / 1e6); next(); });
  const next = () => { if (i === Number(n)) { console.log(JSON.stringify(out)); process.exit(0); }
    t0 = process.hrtime.bigint(); s.send(q(++i & 0xffff), 53, server); };
  next();`;
const measure = (netns, server, name) =>
  JSON.parse(execFileSync('nsenter', [`--net=/run/netns/${netns}`, '--', process.execPath, '-e', CLIENT, server, name, String(N)]).toString());

const net = await send({ cmd: 'create', spec: { name: 'bench', driver: 'bridge' } });
const gw = net.ipam[0].gateway;
const start = (name, request) => send({ cmd: 'start', network: net, container: { id: hex(), name }, endpointId: hex(), request, requests: [] });
await start('server', { dnsNames: ['server'] });
const { endpoint: client } = await start('client', { dnsNames: ['client'], dnsServers: ['127.0.0.1'] });

const rows = [
  ['container name, answered by berthd', measure(client.netns.name, gw, 'server')],
  ['outside name, forwarded to --dns 127.0.0.1', measure(client.netns.name, gw, 'example.test')],
  ['that resolver asked directly (host netns)', measure(host, '127.0.0.1', 'example.test')],
];
await send({ cmd: 'exit' }).catch(() => {});
console.log(`\n== embedded DNS: ${N} sequential UDP queries each, from a container's netns to its gateway:53 ==`);
console.log('query                                          median ms   p90 ms   p99 ms   queries/s');
for (const [what, xs] of rows) {
  const s = stats(xs);
  const qps = xs.length / (xs.reduce((a, b) => a + b, 0) / 1000);
  console.log(`${what.padEnd(46)} ${fmt(s.median).padStart(9)} ${fmt(s.p90).padStart(8)} ${fmt(s.p99).padStart(8)} ${qps.toFixed(0).padStart(11)}`);
}
