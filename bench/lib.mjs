// Shared bench helpers: a throwaway netns playing the host, a berthd in it, timing statistics.
// Everything is named bb<pid> and removed at exit, whatever happens.
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, existsSync, readFileSync } from 'node:fs';
import { request, Agent } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export const ROOT = resolve(import.meta.dirname, '..');
export const BERTHD = join(ROOT, 'dist/bin/berthd.mjs');
export const BERTH = join(ROOT, 'dist/bin/berth.mjs');
export const prefix = `bb${(process.pid % 100000).toString(36)}`;

const cleanups = [];
export function onExit(fn) {
  cleanups.push(fn);
}
function cleanupAll() {
  for (const fn of cleanups.splice(0).reverse()) {
    try {
      fn();
    } catch {}
  }
}
process.on('exit', cleanupAll);
for (const s of ['SIGINT', 'SIGTERM']) process.on(s, () => process.exit(130));

export function makeNetns(name = `${prefix}-host`) {
  execFileSync('ip', ['netns', 'add', name]);
  execFileSync('ip', ['-n', name, 'link', 'set', 'lo', 'up']);
  onExit(() => {
    // every netns with our prefix (berthd's container netns too)
    const list = JSON.parse(execFileSync('ip', ['-json', 'netns', 'list']).toString() || '[]');
    for (const { name: n } of list) if (n.startsWith(prefix)) execFileSync('ip', ['netns', 'del', n]);
  });
  return name;
}

export function tempDir(label) {
  const d = mkdtempSync(join(tmpdir(), `berth-bench-${prefix}-${label}-`));
  onExit(() => {
    const mounts = readFileSync('/proc/mounts', 'utf8').split('\n').map((l) => l.split(' ')[1] ?? '').filter((m) => m.startsWith(d)).reverse();
    for (const m of mounts) execFileSync('umount', ['-l', m]);
    rmSync(d, { recursive: true, force: true });
  });
  return d;
}

export function ping(socketPath, agent) {
  return new Promise((res) => {
    const req = request({ socketPath, path: '/_ping', agent }, (r) => {
      r.resume();
      r.on('end', () => res(r.statusCode === 200));
    });
    req.on('error', () => res(false));
    req.end();
  });
}

/** Start berthd in netns; resolves when /_ping answers, with the ms it took. */
export async function startDaemon(netns, dir, extra = []) {
  const sock = join(dir, 'berth.sock');
  const t0 = performance.now();
  const p = spawn('nsenter', [`--net=/run/netns/${netns}`, '--', process.execPath, '--single-threaded-gc', BERTHD, '-H', `unix://${sock}`, '--data-root', join(dir, 'data'), '--exec-root', join(dir, 'run'), '--pidfile', join(dir, 'pid'), '--name-prefix', prefix, '--bridge', `${prefix}b0`, '--log-level', 'warn', ...extra], { stdio: ['ignore', 'ignore', 'inherit'] });
  onExit(() => p.exitCode === null && p.kill('SIGKILL'));
  for (;;) {
    if (p.exitCode !== null) throw new Error(`berthd exited ${p.exitCode}`);
    if (existsSync(sock) && (await ping(sock))) break;
    await new Promise((r) => setTimeout(r, 2));
  }
  const ms = performance.now() - t0;
  const stop = () => new Promise((r) => (p.exitCode !== null ? r(p.exitCode) : (p.once('exit', r), p.kill('SIGTERM'))));
  return { proc: p, pid: p.pid, sock, ms, stop, agent: new Agent({ keepAlive: true, maxSockets: 1 }) };
}

export function rssKiB(pid) {
  const m = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : NaN;
}

export function stats(xs) {
  const a = [...xs].sort((x, y) => x - y);
  const q = (p) => a[Math.min(a.length - 1, Math.ceil(p * a.length) - 1)];
  return { n: a.length, median: q(0.5), p90: q(0.9), p99: q(0.99), min: a[0], max: a[a.length - 1] };
}

export const fmt = (x) => (typeof x === 'number' ? x.toFixed(x < 1 ? 3 : 1) : String(x));
