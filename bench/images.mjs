// bench/images.mjs — images alone, in process (no berthd, no network): `import` of the busybox
// rootfs tar (scripts/mkimage-busybox.sh) through the ImageService (content store + unpack +
// record), and a container rootfs mount + unmount with the overlay and the vfs driver.
// N runs after one warm-up; median/p90/min in ms. Needs root (overlay mounts), a built tree.
// Usage: node bench/images.mjs [N]   (prints JSON on stdout)
import { mkdtempSync, rmSync, createReadStream, readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const imp = (p) => import(join(ROOT, 'dist', p));
const { Daemon } = await imp('daemon/daemon.js');
const { Engine } = await imp('daemon/engine/engine.js');
const { EventBus } = await imp('daemon/events.js');
const { FileStore } = await imp('daemon/state/store.js');
const { RECORD_KINDS } = await imp('daemon/state/records.js');
const { loadConfig } = await imp('daemon/config.js');
const { realSys } = await imp('drivers/sys/index.js');
const { makeNames } = await imp('drivers/names.js');
const { silentLog } = await imp('drivers/log.js');

const N = Number(process.argv[2] ?? process.env.N ?? 20);
const dir = mkdtempSync(join(tmpdir(), `berth-bench-img${randomBytes(2).toString('hex')}-`));
const stats = (a) => {
  const s = [...a].sort((x, y) => x - y);
  const r = (v) => Math.round(v * 10) / 10;
  return { median: r(s[Math.floor(s.length / 2)]), p90: r(s[Math.floor(s.length * 0.9)] ?? s.at(-1)), min: r(s[0]), n: s.length };
};
const mounted = (p) => readFileSync('/proc/self/mountinfo', 'utf8').split('\n').some((l) => l.split(' ')[4] === p);

async function daemonFor(driverName) {
  const data = join(dir, driverName);
  const config = loadConfig(['--data-root', data, '--exec-root', join(dir, `run-${driverName}`), '--storage-driver', driverName]);
  const store = await FileStore.open(join(data, 'state'), RECORD_KINDS);
  const engine = new Engine(silentLog);
  const d = new Daemon({ config, log: silentLog, store, engine, events: new EventBus(), id: 'bench' });
  const factory = (await imp(`drivers/image/${driverName}/index.js`)).default;
  engine.install(
    await factory({
      sys: realSys(),
      records: store,
      names: makeNames('bbimg'),
      log: silentLog,
      config: { dataRoot: data, execRoot: join(dir, 'run'), bridge: 'x', icc: true, ipForward: false, runtime: 'runc', storageDriver: driverName },
    }),
  );
  return d;
}

const out = {};
try {
  const tar = join(dir, 'busybox.tar');
  const t0 = performance.now();
  execFileSync('bash', [join(ROOT, 'scripts/mkimage-busybox.sh'), tar]);
  out.mkimage_ms = Math.round(performance.now() - t0);
  for (const driverName of ['overlay', 'vfs']) {
    const d = await daemonFor(driverName);
    const imports = [];
    for (let i = 0; i <= N; i++) {
      const t = performance.now();
      const rec = await d.images.importImage(createReadStream(tar), { repo: `bench${i}` });
      if (i > 0) imports.push(performance.now() - t);
      if (i < N) await d.images.remove(`sha256:${rec.id}`, { force: true }); // a fresh unpack each time
    }
    const img = d.images.resolve(`bench${N}`);
    const mount = [];
    const unmount = [];
    for (let i = 0; i <= N; i++) {
      const cid = randomBytes(32).toString('hex');
      let t = performance.now();
      const { rootfs } = await d.images.mount(cid, img);
      const m = performance.now() - t;
      if (driverName === 'overlay' && !mounted(rootfs)) throw new Error('not mounted');
      t = performance.now();
      await d.images.unmount(cid, { remove: true });
      const u = performance.now() - t;
      if (i > 0) {
        mount.push(m);
        unmount.push(u);
      }
    }
    const unpacks = d.engine.recent({ limit: 500 }).filter((t) => t.name === 'image_unpack' && t.execs && t.durationMs !== undefined && t.durationMs > 1);
    out[driverName] = { import: stats(imports), unpack_in_import: stats(unpacks.map((t) => t.durationMs)), mount: stats(mount), unmount_remove: stats(unmount) };
    await d.store.flush();
  }
} finally {
  for (const l of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const m = l.split(' ')[4];
    if (m?.startsWith(dir)) execFileSync('umount', ['-l', m]);
  }
  rmSync(dir, { recursive: true, force: true });
}
console.log(JSON.stringify(out, null, 1));
