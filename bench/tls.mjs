#!/usr/bin/env node
// The remote API's cost: /_ping p50/p99 over one kept-alive connection on the unix socket and over
// TLS with a client certificate (N each); TLS handshakes per second (a new connection, full
// handshake with client certificate verification, then /_ping), one at a time and C at once; and
// `berth version` over TLS against the unix socket. berthd runs in a throwaway netns with
// -H unix://… -H tcp://127.0.0.1:2376 --tlsverify; this script re-runs itself inside that netns to
// measure (its 127.0.0.1 is there).
// Env: N (10000), HANDSHAKES (2000), C (8), CLI (10), KEY (ec | rsa: P-256 or RSA 2048 keys).
import { execFileSync, spawnSync } from 'node:child_process';
import { writeFileSync, readFileSync } from 'node:fs';
import { request as httpRequest, Agent as HttpAgent } from 'node:http';
import { request as httpsRequest, Agent as HttpsAgent } from 'node:https';
import { join } from 'node:path';
import { makeNetns, tempDir, startDaemon, stats, fmt, BERTH } from './lib.mjs';

const N = Number(process.env.N ?? 10000);
const HANDSHAKES = Number(process.env.HANDSHAKES ?? 2000);
const C = Number(process.env.C ?? 8);
const CLI = Number(process.env.CLI ?? 10);
const KEY = process.env.KEY === 'rsa' ? ['-newkey', 'rsa:2048'] : ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256'];
const TLS = 2376;

function get(requestFn, opts) {
  return new Promise((resolve, reject) => {
    const req = requestFn({ ...opts, path: '/_ping', method: 'GET' }, (res) => {
      res.resume();
      res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`HTTP ${res.statusCode}`))));
    });
    req.on('error', reject);
    req.end();
  });
}

async function latency(label, once) {
  for (let i = 0; i < 200; i++) await once(); // warm-up
  const lat = new Float64Array(N);
  for (let i = 0; i < N; i++) {
    const t = performance.now();
    await once();
    lat[i] = performance.now() - t;
  }
  return [label, stats(lat)];
}

/** `count` new TLS connections, `parallel` at a time, each a full handshake then /_ping. */
async function handshakes(tlsOpts, count, parallel) {
  let next = 0;
  const t0 = performance.now();
  const worker = async () => {
    while (next++ < count) await get(httpsRequest, { ...tlsOpts, agent: false, headers: { Connection: 'close' } });
  };
  await Promise.all(Array.from({ length: parallel }, worker));
  return count / ((performance.now() - t0) / 1000);
}

async function measure(sock, certs) {
  const read = (f) => readFileSync(join(certs, f));
  const tlsOpts = { host: '127.0.0.1', port: TLS, ca: read('ca.pem'), cert: read('client.pem'), key: read('client.key'), servername: '' };
  const unixAgent = new HttpAgent({ keepAlive: true, maxSockets: 1 });
  const tlsAgent = new HttpsAgent({ keepAlive: true, maxSockets: 1 });
  const out = Object.fromEntries([
    await latency('unix', () => get(httpRequest, { socketPath: sock, agent: unixAgent })),
    await latency('tls', () => get(httpsRequest, { ...tlsOpts, agent: tlsAgent })),
  ]);
  await handshakes(tlsOpts, 100, 1); // warm-up
  out.handshakes_per_s_1 = await handshakes(tlsOpts, HANDSHAKES, 1);
  out[`handshakes_per_s_${C}`] = await handshakes(tlsOpts, HANDSHAKES, C);
  const cli = (host, extra) => {
    const t = [];
    for (let i = 0; i < CLI; i++) {
      const t0 = performance.now();
      const r = spawnSync(process.execPath, [BERTH, '-H', host, ...extra, 'version'], { encoding: 'utf8' });
      t.push(performance.now() - t0);
      if (r.status !== 0) throw new Error(`berth version: ${r.stderr}`);
    }
    return stats(t);
  };
  out.cli_unix = cli(`unix://${sock}`, []);
  out.cli_tls = cli(`tcp://127.0.0.1:${TLS}`, ['--tlsverify', '--tlscacert', join(certs, 'ca.pem'), '--tlscert', join(certs, 'client.pem'), '--tlskey', join(certs, 'client.key')]);
  return out;
}

if (process.argv[2] === '--measure') {
  process.stdout.write(JSON.stringify(await measure(process.argv[3], process.argv[4])));
  process.exit(0);
}

// certificates for this run: a CA, a server certificate for 127.0.0.1, a client certificate
const certs = tempDir('certs');
const ssl = (...args) => execFileSync('openssl', args, { cwd: certs, stdio: ['ignore', 'ignore', 'pipe'] });
ssl('req', '-x509', ...KEY, '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '1', '-subj', '/CN=bench-ca');
for (const [name, ext] of [
  ['server', 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n'],
  ['client', 'extendedKeyUsage=clientAuth\n'],
]) {
  writeFileSync(join(certs, `${name}.ext`), ext);
  ssl('req', ...KEY, '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`);
  ssl('x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-days', '1', '-out', `${name}.pem`, '-extfile', `${name}.ext`);
}

const netns = makeNetns();
const d = await startDaemon(netns, tempDir('d'), [
  '-H', `tcp://127.0.0.1:${TLS}`,
  '--tlsverify', '--tlscacert', join(certs, 'ca.pem'), '--tlscert', join(certs, 'server.pem'), '--tlskey', join(certs, 'server.key'),
]);
const r = spawnSync('nsenter', [`--net=/run/netns/${netns}`, '--', process.execPath, import.meta.filename, '--measure', d.sock, certs], {
  encoding: 'utf8',
  env: process.env,
  maxBuffer: 1 << 20,
});
await d.stop();
if (r.status !== 0) {
  console.error(r.stderr);
  process.exit(1);
}
const m = JSON.parse(r.stdout);
console.log(JSON.stringify({ key: process.env.KEY === 'rsa' ? 'rsa2048' : 'ec-p256', ...m }));
const row = (label, s) => `${label.padEnd(30)} p50 ${fmt(s.median)} ms  p99 ${fmt(s.p99)} ms  max ${fmt(s.max)} ms`;
console.log(`/_ping, one kept-alive connection, ${N} requests each:`);
console.log(row('  unix socket', m.unix));
console.log(row('  TLS 127.0.0.1 (client cert)', m.tls));
console.log(`TLS handshakes (new connection, client certificate, /_ping), ${process.env.KEY === 'rsa' ? 'RSA 2048' : 'EC P-256'} keys:`);
console.log(`  one at a time: ${m.handshakes_per_s_1.toFixed(0)}/s; ${C} at once: ${m[`handshakes_per_s_${C}`].toFixed(0)}/s`);
console.log(`berth version (a new process), median of ${CLI}: unix ${fmt(m.cli_unix.median)} ms, TLS ${fmt(m.cli_tls.median)} ms`);
