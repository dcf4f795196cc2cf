// bench/exec.mjs — the exec driver alone: create + start + wait for the exit + delete of `true`, N
// times after one warm-up; median/p90/min in ms, per phase too. Variants: "host" (the daemon's netns,
// like limit.sh's a_host) and "none" (ip netns add, the container joins it by path, ip netns del:
// like a_none). Needs root, runc, conmon, busybox-static, a built tree (npm run build).
// Usage: node bench/exec.mjs [N]   (prints JSON on stdout)
import { mkdtempSync, mkdirSync, copyFileSync, symlinkSync, writeFileSync, rmSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const { default: runcDriver } = await import(join(ROOT, 'dist/drivers/exec/runc/index.js'));
const { realSys } = await import(join(ROOT, 'dist/drivers/sys/index.js'));
const { makeNames } = await import(join(ROOT, 'dist/drivers/names.js'));
const { silentLog } = await import(join(ROOT, 'dist/drivers/log.js'));
const { UndoStack } = await import(join(ROOT, 'dist/drivers/undo.js'));

const N = Number(process.argv[2] ?? process.env.N ?? 20);
const prefix = `bb${randomBytes(2).toString('hex')}`;
const dir = mkdtempSync(join(tmpdir(), `berth-bench-${prefix}-`));
const rootfs = join(dir, 'rootfs');
for (const d of ['bin', 'etc', 'proc', 'sys', 'dev', 'tmp']) mkdirSync(join(rootfs, d), { recursive: true });
copyFileSync('/bin/busybox', join(rootfs, 'bin/busybox'));
for (const a of execFileSync('/bin/busybox', ['--list'], { encoding: 'utf8' }).split('\n').filter(Boolean))
  if (a !== 'busybox') symlinkSync('busybox', join(rootfs, 'bin', a));
writeFileSync(join(rootfs, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\n');
writeFileSync(join(rootfs, 'etc/group'), 'root:x:0:\n');
for (const f of ['hosts', 'resolv.conf', 'hostname']) writeFileSync(join(dir, f), '\n');
mkdirSync(join(dir, 'logs'));

const timings = { host: [], none: [] };
const phases = { host: { create: [], start: [], exit: [], delete: [] }, none: { create: [], start: [], exit: [], delete: [] } };
const exits = new Map();
let driver;
const keepAlive = setInterval(() => {}, 1000); // the driver's watchers do not hold the loop open
try {
  driver = await runcDriver({
    sys: realSys(),
    records: undefined,
    names: makeNames(prefix),
    log: silentLog,
    config: { dataRoot: join(dir, 'data'), execRoot: join(dir, 'run'), bridge: 'x', icc: true, ipForward: false, runtime: 'runc', storageDriver: 'vfs' },
  });
  driver.onExit((id) => exits.get(id)?.());
  const job = () => ({ id: 'b', name: 'b', log: silentLog, signal: new AbortController().signal, undo: new UndoStack() });

  async function once(variant, record) {
    const id = randomBytes(32).toString('hex');
    const bundleDir = join(dir, 'run', 'containers', id);
    const t0 = performance.now();
    let netns;
    if (variant === 'none') {
      netns = `${prefix}-${id.slice(0, 8)}`;
      execFileSync('ip', ['netns', 'add', netns]);
    }
    const exited = new Promise((r) => exits.set(id, r));
    await driver.handlers.exec_create(
      {
        spec: {
          container: { id, name: id.slice(0, 12) },
          hostname: id.slice(0, 12),
          rootfs,
          netnsPath: netns ? `/run/netns/${netns}` : undefined,
          process: { args: ['true'], env: ['PATH=/bin'], cwd: '/', user: '', tty: false, openStdin: false },
          files: { hosts: join(dir, 'hosts'), resolvConf: join(dir, 'resolv.conf'), hostname: join(dir, 'hostname') },
          stopSignal: 'SIGTERM',
          bundleDir,
          logPath: join(dir, 'logs', `${id}.log`),
        },
      },
      job(),
    );
    const t1 = performance.now();
    await driver.handlers.exec_start({ containerId: id, bundleDir }, job());
    const t2 = performance.now();
    await exited;
    const t3 = performance.now();
    await driver.handlers.exec_delete({ containerId: id, bundleDir }, job());
    if (netns) execFileSync('ip', ['netns', 'del', netns]);
    const t4 = performance.now();
    exits.delete(id);
    rmSync(join(dir, 'logs', `${id}.log`), { force: true });
    if (record) {
      timings[variant].push(t4 - t0);
      const p = phases[variant];
      p.create.push(t1 - t0);
      p.start.push(t2 - t1);
      p.exit.push(t3 - t2);
      p.delete.push(t4 - t3);
    }
  }

  await once('host', false);
  await once('none', false);
  for (let i = 0; i < N; i++) {
    await once('host', true);
    await once('none', true);
  }
} finally {
  await driver?.shutdown?.();
  clearInterval(keepAlive);
  rmSync(dir, { recursive: true, force: true });
}

const stat = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const q = (p) => s[Math.min(s.length - 1, Math.floor(p * (s.length - 1) + 0.5))];
  return { median: +q(0.5).toFixed(1), p90: +q(0.9).toFixed(1), min: +s[0].toFixed(1) };
};
const out = { n: N, runtime: execFileSync('runc', ['--version'], { encoding: 'utf8' }).split('\n')[0], exec_host: stat(timings.host), exec_none: stat(timings.none), phases: {} };
for (const v of ['host', 'none']) out.phases[v] = Object.fromEntries(Object.entries(phases[v]).map(([k, xs]) => [k, stat(xs).median]));
console.log(JSON.stringify(out, null, 2));
