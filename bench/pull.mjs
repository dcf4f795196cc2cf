// bench/pull.mjs — `pull` of a multi-layer image of random data from a loopback registry
// (docker-registry), against curl downloading the same blobs (3 at a time): to files (the plain
// download: written to the page cache, as the pull's unpacked files are), to files then fsynced
// (a durable copy), and to /dev/null; and berthd's peak RSS during the pull for a 10 MB and a 50 MB
// image (it must not grow with the image: layers are streamed, never buffered), and /_ping's
// latency while a pull runs. A round is one pull then each curl (and the same verified work done
// by C tools: toolsSeconds), so they share the machine's moods (a 2-vCPU VM with neighbours);
// medians of RUNS rounds. Two berth figures: the
// whole pull through berthd's API (download, verify both digests, decompress, unpack by the
// storage driver with the tar-split record, record), and the
// registry client's download path alone (fetchLayer in the layer worker into a content-store blob:
// the same bytes curl fetches, verified and stored), run in a process inside the netns.
// Everything runs in a throwaway netns (<prefix>-host): registry on 127.0.0.1:5000, berthd beside
// it; both ended by PID, the netns and temp dir removed at exit. Needs root and a built tree.
// Usage: node bench/pull.mjs [RUNS]   (env BENCH_PREFIX: netns/name prefix, default bp<pid>;
//        SIZES=10,50 image sizes in MB; FILE_KB=16: layers of 16 KiB files instead of one big file;
//        PROF=<dir> writes berthd's CPU profile there; FLOOR_THREADS=2 worker threads of the node floor;
//        BERTHD_NODE_FLAGS passes node flags to berthd; default --single-threaded-gc, as berthd runs)
import { execFileSync, spawn } from 'node:child_process';
import { Worker, isMainThread, workerData, parentPort } from 'node:worker_threads';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { gzipSync, constants } from 'node:zlib';

const ROOT = resolve(import.meta.dirname, '..');

const BERTHD = join(ROOT, 'dist/bin/berthd.mjs');
const RUNS = Number(process.argv[2] ?? process.env.RUNS ?? 3);
const SIZES_MB = process.env.SIZES ? process.env.SIZES.split(',').map(Number) : [10, 50];
const LAYERS = 5;
const prefix = process.env.BENCH_PREFIX ?? `bp${(process.pid % 100000).toString(36)}`;
const netns = `${prefix}-host`;
const PORT = 5000;
const inNs = (argv) => ['nsenter', `--net=/run/netns/${netns}`, '--', ...argv];

const sha = (b) => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const round = (x, d = 1) => Math.round(x * 10 ** d) / 10 ** d;

if (process.argv[2] === '--download') {
  await downloadOnly(JSON.parse(process.argv[3]));
  process.exit(0);
}
if (!isMainThread) {
  // a floor worker: it serves messages; the rest of this module (the host set-up) is not for it
  await floorWorker();
  await new Promise(() => {});
} else if (process.argv[2] === '--floor') {
  await floor(JSON.parse(process.argv[3]));
  process.exit(0);
}

// ---- the throwaway host, cleaned up whatever happens ---------------------------------------------
const dir = mkdtempSync(join(tmpdir(), `berth-bench-${prefix}-pull-`));
const procs = [];
function cleanup() {
  for (const p of procs.splice(0)) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
  try {
    execFileSync('ip', ['netns', 'del', netns], { stdio: 'ignore' });
  } catch {}
  for (const l of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const m = l.split(' ')[4];
    if (m?.startsWith(dir)) execFileSync('umount', ['-l', m]);
  }
  rmSync(dir, { recursive: true, force: true });
}
process.on('exit', cleanup);
for (const s of ['SIGINT', 'SIGTERM']) process.on(s, () => process.exit(130));

execFileSync('ip', ['netns', 'add', netns]);
execFileSync('ip', ['-n', netns, 'link', 'set', 'lo', 'up']);


function startProc(argv, label) {
  const p = spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  p.stderr.on('data', (c) => (err += c.toString()));
  p.on('exit', (c) => c && c !== 0 && process.exitCode === undefined && console.error(`${label} exited ${c}: ${err}`));
  procs.push(p);
  return p;
}

/** curl inside the netns (the registry listens there). */
function curl(args) {
  const argv = inNs(['curl', '-sf', ...args]);
  return execFileSync(argv[0], argv.slice(1), { maxBuffer: 1 << 20, stdio: ['ignore', 'pipe', 'pipe'] });
}

// ---- registry and berthd --------------------------------------------------------------------------
const regRoot = join(dir, 'registry');
writeFileSync(
  join(dir, 'registry.yml'),
  `version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: ${regRoot}\nhttp:\n  addr: 127.0.0.1:${PORT}\n`,
);
const registry = startProc(inNs(['docker-registry', 'serve', join(dir, 'registry.yml')]), 'docker-registry');
for (let i = 0; ; i++) {
  try {
    curl(['-o', '/dev/null', `http://127.0.0.1:${PORT}/v2/`]);
    break;
  } catch {
    if (i > 200) throw new Error('docker-registry did not start');
    await sleep(25);
  }
}
const sock = join(dir, 'berth.sock');
const berthd = startProc(
  inNs([process.execPath, ...(process.env.PROF ? ['--cpu-prof', '--cpu-prof-dir', process.env.PROF] : []), ...(process.env.BERTHD_NODE_FLAGS ?? '--single-threaded-gc').split(' ').filter(Boolean), BERTHD, '-H', `unix://${sock}`, '--data-root', join(dir, 'data'), '--exec-root', join(dir, 'run'), '--pidfile', join(dir, 'pid'), '--name-prefix', prefix, '--bridge', `${prefix}b0`, '--log-level', 'warn']),
  'berthd',
);
const berthdPid = () => berthd.pid; // nsenter execs berthd: same PID
const api = (method, path, onData) =>
  new Promise((res, rej) => {
    const req = request({ socketPath: sock, method, path }, (r) => {
      let body = '';
      r.on('data', (c) => {
        body += c;
        onData?.(c.toString());
      });
      r.on('end', () => (r.statusCode >= 400 ? rej(new Error(`${method} ${path}: ${r.statusCode} ${body}`)) : res(body)));
    });
    req.on('error', rej);
    req.end();
  });
for (let i = 0; ; i++) {
  if (existsSync(sock) && (await api('GET', '/_ping').then(() => true, () => false))) break;
  if (i > 400) throw new Error('berthd did not start');
  await sleep(25);
}

// ---- images of random layers, uploaded with curl --------------------------------------------------
/** A layer tar of one file of `bytes` random bytes, or (FILE_KB set) of files of that many KiB. */
function layerTar(i, bytes) {
  const kb = Number(process.env.FILE_KB ?? 0);
  if (!kb) return tarOf(`layer${i}.bin`, randomBytes(bytes));
  const parts = [];
  for (let j = 0, left = bytes; left > 0; j++, left -= kb * 1024) parts.push(member(`d${i}/${j % 64}/f${j}`, randomBytes(Math.min(left, kb * 1024))));
  return Buffer.concat([...parts, Buffer.alloc(1024)]);
}

function tarOf(name, data) {
  // one regular file in a ustar archive, then two zero blocks
  return Buffer.concat([member(name, data), Buffer.alloc(1024)]);
}

/** One regular file's ustar header and data (parent dirs are implied). */
function member(name, data) {
  const h = Buffer.alloc(512);
  h.write(name, 0);
  h.write('0000644\0', 100);
  h.write('0000000\0', 108);
  h.write('0000000\0', 116);
  h.write(data.length.toString(8).padStart(11, '0') + '\0', 124);
  h.write('00000000000\0', 136);
  h.write('        ', 148);
  h.write('0', 156);
  h.write('ustar\0', 257);
  h.write('00', 263);
  let sum = 0;
  for (const b of h) sum += b;
  h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148);
  const pad = Buffer.alloc((512 - (data.length % 512)) % 512);
  return Buffer.concat([h, data, pad]);
}

function upload(repo, data) {
  const f = join(dir, 'upload.bin');
  writeFileSync(f, data);
  const head = curl(['-D', '-', '-o', '/dev/null', '-X', 'POST', `http://127.0.0.1:${PORT}/v2/${repo}/blobs/uploads/`]).toString();
  const loc = new URL(/^location: (\S+)/im.exec(head)[1], `http://127.0.0.1:${PORT}`);
  loc.searchParams.set('digest', sha(data));
  curl(['-o', '/dev/null', '-X', 'PUT', '-H', 'Content-Type: application/octet-stream', '--data-binary', `@${f}`, loc.href]);
  rmSync(f);
}

function makeImage(repo, mb) {
  const layers = [];
  const diffIds = [];
  for (let i = 0; i < LAYERS; i++) {
    const tar = layerTar(i, Math.round((mb * 1e6) / LAYERS));
    diffIds.push(sha(tar));
    const gz = gzipSync(tar, { level: constants.Z_BEST_SPEED });
    layers.push({ digest: sha(gz), size: gz.length });
    upload(repo, gz);
  }
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', config: {}, rootfs: { type: 'layers', diff_ids: diffIds } }));
  upload(repo, config);
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.docker.distribution.manifest.v2+json',
      config: { mediaType: 'application/vnd.docker.container.image.v1+json', digest: sha(config), size: config.length },
      layers: layers.map((l) => ({ mediaType: 'application/vnd.docker.image.rootfs.diff.tar.gzip', ...l })),
    }),
  );
  const mf = join(dir, 'manifest.json');
  writeFileSync(mf, manifest);
  curl(['-o', '/dev/null', '-X', 'PUT', '-H', 'Content-Type: application/vnd.docker.distribution.manifest.v2+json', '--data-binary', `@${mf}`, `http://127.0.0.1:${PORT}/v2/${repo}/manifests/latest`]);
  return { repo, layers, diffIds, bytes: layers.reduce((a, l) => a + l.size, 0) };
}

// ---- measurements ---------------------------------------------------------------------------------
/** CPU seconds a process has used: all its threads, and its main thread alone (schedstat, ns). */
function cpuSeconds(pid) {
  const of = (f) => Number(readFileSync(f, 'utf8').split(' ')[0]) / 1e9;
  let all = 0;
  for (const t of readdirSync(`/proc/${pid}/task`)) {
    try {
      all += of(`/proc/${pid}/task/${t}/schedstat`);
    } catch {}
  }
  return { all, main: of(`/proc/${pid}/task/${pid}/schedstat`) };
}

function rssKiB(pid) {
  const m = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : NaN;
}

/** The same work as a pull, by C tools, 3 layers at a time: per layer `curl | tee >(openssl
 *  sha256) | gzip -dc | tee >(openssl sha256) | tar -x` (both digests checked, the files unpacked;
 *  openssl's sha256 uses the CPU's SHA extensions, coreutils' does not) — a reference for a
 *  verified pull on this machine, as limit.sh is for `run`. */
function toolsSeconds(img) {
  const out = join(dir, 'tools');
  rmSync(out, { recursive: true, force: true });
  execFileSync('mkdir', ['-p', out]);
  const script = `set -o pipefail
    i=$1; url=$2; blob=$3; diff=$4; d=${out}/$i; mkdir -p $d
    curl -sf "$url" | tee >(openssl dgst -sha256 -r | cut -c1-64 > $d.c) | gzip -dc | tee >(openssl dgst -sha256 -r | cut -c1-64 > $d.d) | tar -x -C $d
    wait
    [ "sha256:$(cat $d.c)" = "$blob" ] && [ "sha256:$(cat $d.d)" = "$diff" ] || { echo "digest mismatch in layer $i" >&2; exit 1; }`;
  const args = img.layers.flatMap((l, i) => [String(i), `http://127.0.0.1:${PORT}/v2/${img.repo}/blobs/${l.digest}`, l.digest, img.diffIds[i]]);
  const argv = inNs(['xargs', '-n', '4', '-P', '3', 'bash', '-c', script, 'layer']);
  const t = performance.now();
  execFileSync(argv[0], argv.slice(1), { input: args.join('\n') + '\n', stdio: ['pipe', 'ignore', 'inherit'] });
  const s = (performance.now() - t) / 1000;
  rmSync(out, { recursive: true, force: true });
  return s;
}

/** curl of every layer blob, 3 at a time: to files ('files'), to files then fsync of each
 *  ('fsync'), or to /dev/null ('null'). */
function curlSeconds(img, mode) {
  const toFiles = mode !== 'null';
  const out = join(dir, 'curl');
  rmSync(out, { recursive: true, force: true });
  execFileSync('mkdir', ['-p', out]);
  const args = ['--parallel', '--parallel-max', '3'];
  for (const [i, l] of img.layers.entries()) args.push('-o', toFiles ? join(out, `l${i}`) : '/dev/null', `http://127.0.0.1:${PORT}/v2/${img.repo}/blobs/${l.digest}`);
  const t = performance.now();
  curl(args);
  if (mode === 'fsync') execFileSync('sync', readdirSync(out).map((f) => join(out, f)));
  const s = (performance.now() - t) / 1000;
  rmSync(out, { recursive: true, force: true });
  return s;
}

async function pullOnce(img) {
  const base = rssKiB(berthdPid());
  let peak = base;
  const sampler = setInterval(() => (peak = Math.max(peak, rssKiB(berthdPid()))), 5);
  let downloaded;
  let complete = 0;
  const cpu0 = cpuSeconds(berthdPid());
  const reg0 = cpuSeconds(registry.pid).all;
  const t = performance.now();
  let pending = '';
  const body = await api('POST', `/images/create?fromImage=${encodeURIComponent(`127.0.0.1:${PORT}/${img.repo}`)}&tag=latest`, (text) => {
    pending += text;
    const lines = pending.split('\n');
    pending = lines.pop();
    for (const l of lines) if (l.includes('"Download complete"')) complete++;
    if (complete === img.layers.length && downloaded === undefined) downloaded = performance.now() - t;
  });
  if (body.includes('"errorDetail"')) throw new Error(body.slice(body.lastIndexOf('{')));
  const s = (performance.now() - t) / 1000;
  const cpu1 = cpuSeconds(berthdPid());
  const reg1 = cpuSeconds(registry.pid).all;
  clearInterval(sampler);
  peak = Math.max(peak, rssKiB(berthdPid()));
  await api('DELETE', `/images/${encodeURIComponent(`127.0.0.1:${PORT}/${img.repo}:latest`)}`);
  return { s, downloadS: (downloaded ?? s * 1000) / 1000, rssGrowthKiB: peak - base, peakKiB: peak, cpuS: cpu1.all - cpu0.all, mainS: cpu1.main - cpu0.main, registryS: reg1 - reg0 };
}

/** One more pull, with /_ping asked one after another while it runs: how long the API waits
 *  behind a pull (the layer bytes never touch berthd's event loop). */
async function pingsDuringPull(img) {
  let done = false;
  const pull = api('POST', `/images/create?fromImage=${encodeURIComponent(`127.0.0.1:${PORT}/${img.repo}`)}&tag=latest`).finally(() => (done = true));
  const ms = [];
  while (!done) {
    const t = performance.now();
    await api('GET', '/_ping');
    ms.push(performance.now() - t);
  }
  await pull;
  await api('DELETE', `/images/${encodeURIComponent(`127.0.0.1:${PORT}/${img.repo}:latest`)}`);
  ms.sort((a, b) => a - b);
  return { n: ms.length, p50: round(ms[Math.floor(ms.length / 2)], 2), p99: round(ms[Math.floor(ms.length * 0.99)], 2), max: round(ms.at(-1), 2) };
}

/** Inside the netns: the registry client's download path, 3 layers at a time, RUNS times. */
async function downloadOnly({ repo, layers, diffIds, runs, dir: base }) {
  const imp = (p) => import(join(ROOT, 'dist', p));
  const { RegistryClient } = await imp('daemon/images/registry/client.js');
  const { fetchLayer } = await imp('daemon/images/registry/pull.js');
  const { inBatches } = await imp('daemon/images/registry/concurrency.js');
  const { BlobStore } = await imp('daemon/images/blobs.js');
  const { LayerWorkers } = await imp('daemon/images/registry/offload.js');
  const client = new RegistryClient({ insecure: [], mirrors: [], userAgent: 'berth-bench', layerWorker: new LayerWorkers(join(ROOT, 'dist/bin/layer-worker.mjs')) });
  const times = [];
  for (let i = 0; i <= runs; i++) {
    const root = join(base, `store-${i}`);
    const blobs = new BlobStore(root);
    await blobs.init();
    const r = client.repository({ domain: `127.0.0.1:${PORT}`, path: repo }, { actions: ['pull'] });
    await r.blobSize(layers[0].digest); // picks the endpoint, as a pull's manifest GET does
    const t = performance.now();
    await inBatches(layers, 3, (l, j) => fetchLayer(r, blobs, { mediaType: 'application/vnd.docker.image.rootfs.diff.tar.gzip', ...l }, diffIds[j]));
    if (i > 0) times.push((performance.now() - t) / 1000);
    rmSync(root, { recursive: true, force: true });
  }
  client.close();
  console.log(JSON.stringify({ s: median(times) }));
}

/** The node floor, inside the netns: the least work a verified pull must do, on two worker threads
 *  (as berthd's layer workers), 3 layers at a time: GET (node:http), sha256 of the blob, inflate
 *  (berth's PushDecoder, the cheapest inflate found), sha256 of the tar, one write()-ed file per
 *  layer — no tar parsing, no records, no progress. What a node pull cannot beat on this machine.
 *  With plain: curl's job in node (GET, the blob written as it comes). */
async function floor({ repo, layers, diffIds, runs, dir: base, plain }) {
  const workers = Array.from({ length: Number(process.env.FLOOR_THREADS ?? 2) }, () => new Worker(import.meta.filename, { workerData: { decoder: join(ROOT, 'dist/drivers/image/layer/decoder.js') } }));
  let seq = 0;
  const waiting = new Map();
  for (const w of workers) w.on('message', (m) => waiting.get(m.id)(m));
  const job = (w, msg) => new Promise((r) => { const id = ++seq; waiting.set(id, r); w.postMessage({ id, ...msg }); });
  const { inBatches } = await import(join(ROOT, 'dist/daemon/images/registry/concurrency.js'));
  const times = [];
  for (let i = 0; i <= runs; i++) {
    const out = join(base, `floor-${i}`);
    execFileSync('mkdir', ['-p', out]);
    let next = 0;
    const t = performance.now();
    await inBatches(layers, 3, async (l, j) => {
      const m = await job(workers[next++ % workers.length], { url: `http://127.0.0.1:${PORT}/v2/${repo}/blobs/${l.digest}`, file: join(out, `l${j}`), plain });
      if (!plain && (m.blob !== l.digest || m.diff !== diffIds[j])) throw new Error(`floor: digest mismatch in layer ${j}`);
    });
    if (i > 0) times.push((performance.now() - t) / 1000);
    rmSync(out, { recursive: true, force: true });
  }
  for (const w of workers) await w.terminate();
  console.log(JSON.stringify({ s: median(times) }));
}

async function floorWorker() {
  const { openSync, writeSync, closeSync } = await import('node:fs');
  const { PushDecoder } = await import(workerData.decoder);
  const { Agent } = await import('node:http');
  const agent = new Agent({ keepAlive: true });
  parentPort.on('message', ({ id, url, file, plain }) => {
    if (plain) {
      const fd = openSync(file, 'w');
      request(url, { agent }, (res) => {
        res.on('data', (c) => writeSync(fd, c));
        res.on('end', () => {
          closeSync(fd);
          parentPort.postMessage({ id });
        });
      }).end();
      return;
    }
    const blob = createHash('sha256');
    const diff = createHash('sha256');
    const fd = openSync(file, 'w');
    const dec = new PushDecoder((c) => {
      diff.update(c);
      writeSync(fd, c);
      return undefined;
    });
    request(url, { agent }, (res) => {
      res.on('data', (c) => {
        blob.update(c);
        const p = dec.write(c);
        if (p) {
          res.pause();
          p.then(() => res.resume());
        }
      });
      res.on('end', async () => {
        await dec.end();
        closeSync(fd);
        parentPort.postMessage({ id, blob: `sha256:${blob.digest('hex')}`, diff: `sha256:${diff.digest('hex')}` });
      });
    }).end();
  });
}

function floorSeconds(img, plain = false) {
  const argv = inNs([process.execPath, import.meta.filename, '--floor', JSON.stringify({ repo: img.repo, layers: img.layers, diffIds: img.diffIds, runs: RUNS, dir, plain })]);
  return JSON.parse(execFileSync(argv[0], argv.slice(1)).toString()).s;
}

function downloadSeconds(img) {
  const argv = inNs([process.execPath, import.meta.filename, '--download', JSON.stringify({ repo: img.repo, layers: img.layers, diffIds: img.diffIds, runs: RUNS, dir })]);
  return JSON.parse(execFileSync(argv[0], argv.slice(1)).toString()).s;
}

const results = {};
try {
  for (const mb of SIZES_MB) {
    const img = makeImage(`bench${mb}`, mb);
    const MB = img.bytes / 1e6;
    await pullOnce(img); // warm-up (JIT, the layer workers, page cache of the registry's files)
    const pulls = [];
    const curlFiles = [];
    const curlSync = [];
    const curlNull = [];
    const tools = [];
    for (let i = 0; i < RUNS; i++) {
      pulls.push(await pullOnce(img));
      curlFiles.push(curlSeconds(img, 'files'));
      curlSync.push(curlSeconds(img, 'fsync'));
      curlNull.push(curlSeconds(img, 'null'));
      tools.push(toolsSeconds(img));
    }
    const pings = await pingsDuringPull(img);
    const fetchS = downloadSeconds(img);
    const floorS = floorSeconds(img);
    const nodePlainS = floorSeconds(img, true);
    const pull = median(pulls.map((p) => p.s));
    const dl = median(pulls.map((p) => p.downloadS));
    const cf = median(curlFiles);
    const cs = median(curlSync);
    const cn = median(curlNull);
    const tl = median(tools);
    results[`${mb}MB`] = {
      image_MB: round(MB),
      layers: LAYERS,
      berth_pull_s: round(pull, 3),
      berth_pull_MBps: round(MB / pull),
      berth_until_last_download_complete_s: round(dl, 3),
      client_download_path_s: round(fetchS, 3),
      client_download_path_MBps: round(MB / fetchS),
      curl_to_files_s: round(cf, 3),
      curl_to_files_MBps: round(MB / cf),
      curl_to_files_fsync_s: round(cs, 3),
      curl_to_files_fsync_MBps: round(MB / cs),
      curl_to_devnull_s: round(cn, 3),
      curl_to_devnull_MBps: round(MB / cn),
      pull_vs_curl_to_files_pct: round((cf / pull) * 100),
      pull_vs_curl_to_files_fsync_pct: round((cs / pull) * 100),
      tools_pipeline_s: round(tl, 3),
      pull_vs_tools_pipeline_pct: round((tl / pull) * 100),
      client_download_path_vs_curl_to_files_pct: round((cf / fetchS) * 100),
      node_plain_download_s: round(nodePlainS, 3),
      node_plain_download_vs_curl_to_files_pct: round((cf / nodePlainS) * 100),
      node_floor_s: round(floorS, 3),
      node_floor_vs_curl_to_files_pct: round((cf / floorS) * 100),
      pull_vs_node_floor_pct: round((floorS / pull) * 100),
      berthd_cpu_s: round(median(pulls.map((p) => p.cpuS)), 3),
      berthd_main_thread_cpu_s: round(median(pulls.map((p) => p.mainS)), 3),
      registry_cpu_s: round(median(pulls.map((p) => p.registryS)), 3),
      ping_ms_during_pull: pings,
      berthd_rss_growth_MB: round(Math.max(...pulls.map((p) => p.rssGrowthKiB)) / 1024),
      berthd_peak_rss_MB: round(Math.max(...pulls.map((p) => p.peakKiB)) / 1024),
    };
  }
} finally {
  berthd.kill('SIGTERM');
  await new Promise((r) => (berthd.exitCode !== null ? r() : berthd.once('exit', r)));
}
console.log(JSON.stringify(results, null, 1));
process.exit(0);
