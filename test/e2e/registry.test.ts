// Pull and push against a real Distribution registry (Debian's docker-registry), started by the
// test on 127.0.0.1 inside the netns playing the host, next to a real berthd: berth push, rmi,
// pull by tag and by digest, run; layers that exist and cross-repository mounts; a manifest list
// with two platforms (built here with curl: a zstd and a plain layer for linux/arm64); a tampered
// blob; a pull cut short by the client or by kill -9 of berthd; a stopped registry; Basic auth with
// berth login; the docker CLI's pull, push, run and login through berthd. Registries, the slow
// proxy and berthd are ended by PID; everything lives under the test's temp dirs and netns.
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isRoot, skipReason, uniquePrefix } from '../helpers/prefix.js';
import { makeHost, type TestHost } from '../helpers/netns.js';
import { BERTH, registerPid, startTestDaemon, testDir, unregisterPid, type TestDaemon } from '../helpers/daemon.js';
import { busyboxTar, makeTar } from '../helpers/images.js';
import { must, run, spawnInNetns, type Result } from '../helpers/sh.js';

const hasDocker = (await run(['docker', '--version'])).code === 0;
const REGISTRY = '/usr/bin/docker-registry';
const hasRegistry = existsSync(REGISTRY);
const hasZstd = (await run(['zstd', '--version'])).code === 0;
if (!isRoot) console.log(`skipping registry e2e: ${skipReason}`);
if (!hasRegistry) console.log('skipping registry e2e: no docker-registry (apt-get install docker-registry)');
if (!hasDocker) console.log('skipping the docker CLI registry checks: no docker CLI on PATH');

const sha = (b: Uint8Array | string) => `sha256:${createHash('sha256').update(b).digest('hex')}`;
/** bcrypt of "berth-pw" (htpasswd for the Basic-auth registry). */
const HTPASSWD = 'tester:$2b$05$FWYu4R08bw7YBbkugpsfk.NwnjFr/6TiOuQ9/vGfu.rqJg.nsN.wq\n';

interface Registry {
  port: number;
  root: string;
  stop(): Promise<void>;
  start(): Promise<void>;
}

async function exited(p: ChildProcess): Promise<void> {
  if (p.exitCode !== null || p.signalCode !== null) return;
  await new Promise((r) => p.once('exit', r));
}

/** docker-registry serving `root` on 127.0.0.1:port in the host netns (htpasswd auth optional). */
async function startRegistry(host: TestHost, dir: string, port: number, htpasswd?: string): Promise<Registry> {
  const root = join(dir, `registry-${port}`);
  const cfg = join(dir, `registry-${port}.yml`);
  let auth = '';
  if (htpasswd) {
    writeFileSync(join(dir, `htpasswd-${port}`), htpasswd);
    auth = `auth:\n  htpasswd:\n    realm: berth-test\n    path: ${join(dir, `htpasswd-${port}`)}\n`;
  }
  writeFileSync(
    cfg,
    `version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: ${root}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:${port}\n${auth}`,
  );
  let proc: ChildProcess | undefined;
  const reg: Registry = {
    port,
    root,
    async start() {
      const p = spawnInNetns(host.name, [REGISTRY, 'serve', cfg]);
      proc = p;
      registerPid(p.pid!);
      let err = '';
      p.stderr!.on('data', (c) => (err += c.toString()));
      p.stdout!.resume();
      for (let i = 0; i < 200; i++) {
        if (p.exitCode !== null) throw new Error(`docker-registry exited ${p.exitCode}: ${err}`);
        const r = await host.exec(['curl', '-s', '-o', '/dev/null', '-w', '%{http_code}', `http://127.0.0.1:${port}/v2/`]);
        if (r.stdout === '200' || r.stdout === '401') return;
        await new Promise((res) => setTimeout(res, 50));
      }
      throw new Error(`docker-registry on ${port} did not answer: ${err}`);
    },
    async stop() {
      if (!proc) return;
      const p = proc;
      proc = undefined;
      p.kill('SIGTERM');
      await exited(p);
      unregisterPid(p.pid!);
    },
  };
  await reg.start();
  return reg;
}

/** A TCP proxy in the host netns forwarding 127.0.0.1:listen → 127.0.0.1:target, answers slowed
 *  to `bytesPerSecond` (so a pull can be cut short halfway). */
async function startSlowProxy(host: TestHost, listen: number, target: number, bytesPerSecond: number): Promise<{ stop(): Promise<void> }> {
  const script = `
    const net = require('net');
    const rate = ${bytesPerSecond};
    net.createServer((c) => {
      const u = net.connect(${target}, '127.0.0.1');
      c.pipe(u);
      u.on('data', (chunk) => {
        u.pause();
        c.write(chunk, () => setTimeout(() => u.resume(), (chunk.length / rate) * 1000));
      });
      u.on('end', () => c.end());
      u.on('error', () => c.destroy());
      c.on('error', () => u.destroy());
    }).listen(${listen}, '127.0.0.1', () => console.log('ready'));`;
  const p = spawnInNetns(host.name, [process.execPath, '-e', script]);
  registerPid(p.pid!);
  await new Promise<void>((resolve, reject) => {
    p.stdout!.once('data', () => resolve());
    p.once('exit', (c) => reject(new Error(`proxy exited ${c}`)));
  });
  return {
    async stop() {
      p.kill('SIGTERM');
      await exited(p);
      unregisterPid(p.pid!);
    },
  };
}

describe.skipIf(!isRoot || !hasRegistry)('pull and push with a real registry', () => {
  let host: TestHost;
  let d: TestDaemon;
  let dir: string;
  let reg: Registry;
  let bbId: string;
  let bbDigest: string;
  const R = 'localhost:5000';
  const cleanups: (() => Promise<void>)[] = [];

  const imageDir = () => join(d.dir, 'data/image');
  const blobs = () => readdirSync(join(imageDir(), 'blobs/sha256')).sort();
  const layers = () => readdirSync(join(imageDir(), 'overlay/layers')).filter((f) => !f.startsWith('.')).sort();
  /** Unpacks in progress (the driver's temp dirs). */
  const layerTmp = () => readdirSync(join(imageDir(), 'overlay/layers')).filter((f) => f.startsWith('.tmp-'));
  const tmp = () => readdirSync(join(imageDir(), 'tmp'));
  const ids = async () => (await d.cli(['images', '-q', '--no-trunc'])).stdout.split('\n').filter(Boolean).sort();
  const ok = (r: Result) => expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
  /** Registry blob files (the data under its storage root). */
  const regBlobs = (root = reg.root) => {
    const base = join(root, 'docker/registry/v2/blobs/sha256');
    if (!existsSync(base)) return [];
    return readdirSync(base).flatMap((p) => readdirSync(join(base, p)).map((h) => join(base, p, h, 'data')));
  };
  const until = async (what: string, fn: () => boolean, ms = 10_000) => {
    const end = Date.now() + ms;
    while (!fn()) {
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  /** Import a fresh image with one random layer of `size` bytes, tag it as `ref`. */
  const randomImage = async (ref: string, size: number) => {
    const tar = await makeTar([{ name: 'data.bin', content: randomBytes(size) }]);
    const f = join(dir, `rand-${randomBytes(3).toString('hex')}.tar`);
    writeFileSync(f, tar);
    const r = await d.cli(['import', f, ref]);
    ok(r);
    rmSync(f);
    return r.stdout.trim();
  };

  beforeAll(async () => {
    const prefix = uniquePrefix();
    host = await makeHost(prefix);
    dir = testDir('registry');
    reg = await startRegistry(host, dir, 5000);
    d = await startTestDaemon({ netns: host.name, namePrefix: prefix, args: ['--bridge', `${prefix}b0`] });
    const bb = await busyboxTar(dir);
    const imp = await d.cli(['import', '-c', 'CMD ["sh"]', bb, 'busybox:latest']);
    ok(imp);
    bbId = imp.stdout.trim();
  });
  afterAll(async () => {
    for (const c of cleanups.reverse()) await c().catch(() => {});
    await d?.cleanup();
    await reg?.stop();
    await host?.destroy();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('berth push, rmi, pull by tag and by digest, run it', async () => {
    ok(await d.cli(['tag', 'busybox', `${R}/bb:1`]));
    const push = await d.cli(['push', `${R}/bb:1`]);
    ok(push);
    const layer = JSON.parse((await d.cli(['image', 'inspect', '-f', '{{json .RootFS.Layers}}', 'busybox'])).stdout)[0] as string;
    expect(push.stdout).toMatch(new RegExp(`^The push refers to repository \\[${R}/bb\\]\n${layer.slice(7, 19)}: Preparing\n${layer.slice(7, 19)}: Pushed\n1: digest: (sha256:[0-9a-f]{64}) size: \\d+\n$`));
    bbDigest = /digest: (sha256:[0-9a-f]{64})/.exec(push.stdout)![1]!;
    expect((await d.cli(['image', 'inspect', '-f', '{{json .RepoDigests}}', `${R}/bb:1`])).stdout.trim()).toBe(JSON.stringify([`${R}/bb@${bbDigest}`]));

    const rmi = await d.cli(['rmi', 'busybox', `${R}/bb:1`]);
    expect(rmi.stdout).toBe(`Untagged: busybox:latest\nUntagged: ${R}/bb:1\nUntagged: ${R}/bb@${bbDigest}\nDeleted: ${bbId}\n`);
    expect(await ids()).toEqual([]);
    expect(blobs()).toEqual([]);
    expect(layers()).toEqual([]);

    const pull = await d.cli(['pull', `${R}/bb:1`]);
    ok(pull);
    const lines = pull.stdout.split('\n');
    expect(lines[0]).toBe('1: Pulling from bb');
    expect(lines).toEqual(expect.arrayContaining([expect.stringMatching(/^[0-9a-f]{12}: Pulling fs layer$/), expect.stringMatching(/: Download complete$/), expect.stringMatching(/: Pull complete$/)]));
    expect(lines.slice(-4)).toEqual([`Digest: ${bbDigest}`, `Status: Downloaded newer image for ${R}/bb:1`, `${R}/bb:1`, '']);
    expect(await ids()).toEqual([bbId]);
    expect((await d.cli(['image', 'inspect', '-f', '{{.Size}} {{.Config.Cmd}} {{.Architecture}}', `${R}/bb:1`])).stdout.trim()).toBe('1982381 [sh] amd64');
    const again = await d.cli(['pull', `${R}/bb:1`]);
    expect(again.stdout).toBe(`1: Pulling from bb\nDigest: ${bbDigest}\nStatus: Image is up to date for ${R}/bb:1\n${R}/bb:1\n`);

    ok(await d.cli(['rmi', `${R}/bb:1`]));
    const byDigest = await d.cli(['pull', `${R}/bb@${bbDigest}`]);
    ok(byDigest);
    expect(byDigest.stdout.split('\n')[0]).toBe(`${bbDigest}: Pulling from bb`);
    expect((await d.cli(['images', '--digests', '--format', '{{.Repository}} {{.Tag}} {{.Digest}} {{.ID}}'])).stdout).toBe(`${R}/bb <none> ${bbDigest} ${bbId.slice(7, 19)}\n`);

    const runIt = await d.cli(['run', '--rm', `${R}/bb@${bbDigest}`, 'echo', 'hello from the registry'], { timeoutMs: 30_000 });
    expect(runIt.stderr).toBe('');
    expect(runIt.stdout).toBe('hello from the registry\n');
    ok(await d.cli(['tag', `${R}/bb@${bbDigest}`, 'busybox:latest']));
  });

  it('push again: layers the repository has are not sent; another repository mounts them', async () => {
    ok(await d.cli(['tag', 'busybox', `${R}/bb:1`]));
    const before = regBlobs().length;
    const again = await d.cli(['push', `${R}/bb:1`]);
    expect(again.stdout).toMatch(/: Layer already exists\n/);
    expect(again.stdout).toContain(`1: digest: ${bbDigest} size:`);
    ok(await d.cli(['tag', 'busybox', `${R}/team/other:2`]));
    const mount = await d.cli(['push', `${R}/team/other:2`]);
    expect(mount.stdout).toMatch(/: Mounted from bb\n/);
    expect(mount.stdout).toContain(`2: digest: ${bbDigest} size:`);
    expect(regBlobs().length).toBe(before); // nothing uploaded twice
  });

  it('pulls a manifest list: linux/amd64 here, linux/arm64 with --platform (zstd and plain layers)', async () => {
    ok(await d.cli(['tag', 'busybox', `${R}/multi:amd64`]));
    const amd = await d.cli(['push', `${R}/multi:amd64`]);
    ok(amd);
    const [, amdDigest, amdSize] = /amd64: digest: (sha256:[0-9a-f]{64}) size: (\d+)/.exec(amd.stdout)!;

    // linux/arm64: an OCI image with a zstd layer and a plain one, pushed with curl.
    const plain = await makeTar([{ name: 'etc/', type: 'directory' }, { name: 'etc/arch', content: 'arm64\n' }]);
    const tar2 = await makeTar([{ name: 'hello.txt', content: 'zstd layer\n'.repeat(1000) }]);
    writeFileSync(join(dir, 'l2.tar'), tar2);
    let zst: Buffer;
    if (hasZstd) {
      await must(['zstd', '-q', '-f', '-19', join(dir, 'l2.tar'), '-o', join(dir, 'l2.tar.zst')]);
      zst = readFileSync(join(dir, 'l2.tar.zst'));
    } else zst = readFileSync(join(import.meta.dirname, '../unit/image/fixtures/layer.tar.zst'));
    const zstDiff = hasZstd ? sha(tar2) : undefined;
    const config = Buffer.from(JSON.stringify({ architecture: 'arm64', os: 'linux', config: { Cmd: ['sh'] }, rootfs: { type: 'layers', diff_ids: [sha(plain), zstDiff ?? (await zstdDiffId(zst))] } }));
    const upload = async (name: string, data: Buffer) => {
      const f = join(dir, `blob-${randomBytes(3).toString('hex')}`);
      writeFileSync(f, data);
      const post = await host.exec(['curl', '-sf', '-D', '-', '-o', '/dev/null', '-X', 'POST', `http://127.0.0.1:5000/v2/${name}/blobs/uploads/`]);
      const loc = /^location: (\S+)/im.exec(post.stdout)![1]!;
      const url = new URL(loc, 'http://127.0.0.1:5000');
      url.searchParams.set('digest', sha(data));
      const put = await host.exec(['curl', '-sf', '-X', 'PUT', '-H', 'Content-Type: application/octet-stream', '--data-binary', `@${f}`, url.href]);
      expect(put.code, put.stderr).toBe(0);
    };
    const putManifest = async (name: string, ref: string, body: Buffer, type: string) => {
      const f = join(dir, `manifest-${randomBytes(3).toString('hex')}`);
      writeFileSync(f, body);
      const r = await host.exec(['curl', '-sf', '-X', 'PUT', '-H', `Content-Type: ${type}`, '--data-binary', `@${f}`, `http://127.0.0.1:5000/v2/${name}/manifests/${ref}`]);
      expect(r.code, r.stderr).toBe(0);
    };
    await upload('multi', plain);
    await upload('multi', zst);
    await upload('multi', config);
    const armManifest = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha(config), size: config.length },
        layers: [
          { mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: sha(plain), size: plain.length },
          { mediaType: 'application/vnd.oci.image.layer.v1.tar+zstd', digest: sha(zst), size: zst.length },
        ],
      }),
    );
    await putManifest('multi', sha(armManifest), armManifest, 'application/vnd.oci.image.manifest.v1+json');
    const index = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.index.v1+json',
        manifests: [
          { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: sha(armManifest), size: armManifest.length, platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } },
          { mediaType: 'application/vnd.docker.distribution.manifest.v2+json', digest: amdDigest, size: Number(amdSize), platform: { os: 'linux', architecture: 'amd64' } },
        ],
      }),
    );
    await putManifest('multi', 'latest', index, 'application/vnd.oci.image.index.v1+json');

    const native = await d.cli(['pull', `${R}/multi`]);
    ok(native);
    expect(native.stdout).toContain(`Digest: ${sha(index)}\n`);
    expect((await d.cli(['image', 'inspect', '-f', '{{.Id}} {{.Architecture}}', `${R}/multi`])).stdout.trim()).toBe(`${bbId} amd64`);
    const arm = await d.cli(['pull', '--platform', 'linux/arm64', `${R}/multi`]);
    ok(arm);
    expect(arm.stdout).toContain(`Status: Downloaded newer image for ${R}/multi:latest\n`);
    const insp = JSON.parse((await d.cli(['image', 'inspect', `${R}/multi:latest`])).stdout)[0];
    expect(insp.Id).toBe(sha(config));
    expect(insp.Architecture).toBe('arm64');
    expect(insp.RepoDigests).toEqual([`${R}/multi@${sha(index)}`]);
    expect(readFileSync(join(imageDir(), 'overlay/layers', sha(plain).slice(7), 'diff/etc/arch'), 'utf8')).toBe('arm64\n');
    if (hasZstd) expect(readFileSync(join(imageDir(), 'overlay/layers', sha(tar2).slice(7), 'diff/hello.txt'), 'utf8')).toBe('zstd layer\n'.repeat(1000));
    const none = await d.cli(['pull', '--platform', 'linux/s390x', `${R}/multi`]);
    expect(none.code).toBe(1);
    expect(none.stderr).toBe('Error response from daemon: no matching manifest for linux/s390x in the manifest list entries\n');
    ok(await d.cli(['rmi', `${R}/multi:latest`]));
  });

  it('refuses a tampered blob and leaves nothing', async () => {
    const before = new Set(regBlobs());
    await randomImage(`${R}/tamper:1`, 200_000);
    ok(await d.cli(['push', `${R}/tamper:1`]));
    ok(await d.cli(['rmi', `${R}/tamper:1`]));
    const layerFile = regBlobs().filter((f) => !before.has(f)).find((f) => readFileSync(f).subarray(0, 2).equals(Buffer.from([0x1f, 0x8b])))!;
    const state = { blobs: blobs(), layers: layers(), ids: await ids() };
    const data = readFileSync(layerFile);
    const bad = Buffer.from(data);
    bad[bad.length >> 1] ^= 0xff;
    writeFileSync(layerFile, bad);
    const r = await d.cli(['pull', `${R}/tamper:1`]);
    expect(r.code).toBe(1);
    const digest = `sha256:${layerFile.split('/').at(-2)}`;
    expect(r.stderr).toBe(`Error response from daemon: blob ${digest} of ${R}/tamper does not match its digest: the registry sent ${bad.length} bytes with digest ${sha(bad)}\n`);
    expect({ blobs: blobs(), layers: layers(), ids: await ids() }).toEqual(state);
    expect(tmp()).toEqual([]);
    writeFileSync(layerFile, data);
    ok(await d.cli(['pull', `${R}/tamper:1`]));
    ok(await d.cli(['rmi', `${R}/tamper:1`]));
  });

  it('a pulled layer is kept once (unpacked, no blob); save and a push elsewhere rebuild its exact tar', async () => {
    const tar = await makeTar([
      { name: 'etc/', type: 'directory' },
      { name: 'etc/motd', content: 'kept once\n' },
      { name: 'bin/', type: 'directory' },
      { name: 'bin/tool', content: randomBytes(700_000), mode: 0o755 },
      { name: 'bin/alias', type: 'symlink', linkname: 'tool' },
      { name: `deep/${'x'.repeat(120)}/file.txt`, content: 'a long name\n' },
      { name: 'empty', content: '' },
    ]);
    const f = join(dir, 'once.tar');
    writeFileSync(f, tar);
    const id = (await d.cli(['import', f, `${R}/once:1`])).stdout.trim();
    ok(await d.cli(['push', `${R}/once:1`]));
    ok(await d.cli(['rmi', `${R}/once:1`]));
    ok(await d.cli(['pull', `${R}/once:1`]));
    expect(await ids()).toContain(id);
    expect(blobs()).not.toContain(sha(tar).slice(7));
    expect(existsSync(join(imageDir(), 'overlay/layers', sha(tar).slice(7), 'tar-split'))).toBe(true);

    // save: the layer's blob in the archive is the original tar
    const out = join(dir, 'once-saved.tar');
    ok(await d.cli(['save', '-o', out, `${R}/once:1`]));
    const x = join(dir, 'once-x');
    await must(['mkdir', '-p', x]);
    await must(['tar', '-xf', out, '-C', x, `blobs/sha256/${sha(tar).slice(7)}`]);
    expect(sha(readFileSync(join(x, 'blobs/sha256', sha(tar).slice(7))))).toBe(sha(tar));

    // a push to another registry name uploads the rebuilt tar; pulling it back checks the diff id
    ok(await d.cli(['tag', `${R}/once:1`, '127.0.0.1:5000/once-copy:1']));
    const push = await d.cli(['push', '127.0.0.1:5000/once-copy:1']);
    ok(push);
    expect(push.stdout).toContain('Pushed');
    ok(await d.cli(['rmi', `${R}/once:1`, '127.0.0.1:5000/once-copy:1']));
    ok(await d.cli(['pull', '127.0.0.1:5000/once-copy:1']));
    expect((await d.cli(['image', 'inspect', '-f', '{{.Id}}', '127.0.0.1:5000/once-copy:1'])).stdout.trim()).toBe(id);
    ok(await d.cli(['rmi', '127.0.0.1:5000/once-copy:1']));
  });

  it('a pull cut short (client killed, then berthd killed) leaves no partial blob; the next pull completes', async () => {
    const id = await randomImage(`${R}/big:1`, 6_000_000);
    ok(await d.cli(['push', `${R}/big:1`]));
    ok(await d.cli(['rmi', `${R}/big:1`]));
    const proxy = await startSlowProxy(host, 5001, 5000, 1_500_000);
    cleanups.push(() => proxy.stop());
    const state = { blobs: blobs(), layers: layers(), ids: await ids() };

    // 1. the client goes away mid-download: berthd cancels and undoes
    const cli = spawn(process.execPath, [BERTH, '-H', d.host, 'pull', 'localhost:5001/big:1'], { stdio: 'ignore' });
    // (a pulled layer is unpacked while it downloads, into the driver's temp dir; no blob is staged)
    await until('a layer download', () => layerTmp().length > 0);
    cli.kill('SIGKILL');
    await until('the cancelled pull to clean up', () => tmp().length === 0 && layerTmp().length === 0);
    expect({ blobs: blobs(), layers: layers(), ids: await ids() }).toEqual(state);
    expect(d.log()).toContain('the client went away');

    // 2. berthd dies mid-download: the temp file is swept at the next start
    const cli2 = spawn(process.execPath, [BERTH, '-H', d.host, 'pull', 'localhost:5001/big:1'], { stdio: 'ignore' });
    await until('a layer download', () => layerTmp().length > 0);
    await d.kill9();
    await exited(cli2);
    expect(layerTmp().length).toBeGreaterThan(0);
    await d.restart();
    await until('the temp files to be swept', () => tmp().length === 0 && layerTmp().length === 0);

    const done = await d.cli(['pull', 'localhost:5001/big:1'], { timeoutMs: 30_000 });
    ok(done);
    expect(done.stdout).toContain('Status: Downloaded newer image for localhost:5001/big:1\n');
    expect((await d.cli(['image', 'inspect', '-f', '{{.Id}}', 'localhost:5001/big:1'])).stdout.trim()).toBe(id);
    ok(await d.cli(['rmi', 'localhost:5001/big:1']));
    await proxy.stop();
  });

  it('berth run of a missing image pulls it first', async () => {
    ok(await d.cli(['tag', 'busybox', `${R}/runme:1`]));
    ok(await d.cli(['push', `${R}/runme:1`]));
    ok(await d.cli(['rmi', `${R}/runme:1`]));
    const r = await d.cli(['run', '--rm', `${R}/runme:1`, 'echo', 'pulled and ran'], { timeoutMs: 30_000 });
    ok(r);
    expect(r.stdout).toBe('pulled and ran\n');
    expect(r.stderr).toBe(`Unable to find image '${R}/runme:1' locally\n1: Pulling from runme\nDigest: ${bbDigest}\nStatus: Downloaded newer image for ${R}/runme:1\n`);
  });

  it.skipIf(!hasDocker)('docker CLI: pull, push, run of a missing image through berthd', async () => {
    const cfg = testDir('dockercfg');
    cleanups.push(async () => rmSync(cfg, { recursive: true, force: true }));
    const docker = (args: string[]) => run(['docker', '-H', d.host, ...args], { env: { ...process.env, DOCKER_CONFIG: cfg }, timeoutMs: 30_000 });
    ok(await d.cli(['tag', 'busybox', `${R}/dock:1`]));
    const push = await docker(['push', `${R}/dock:1`]);
    ok(push);
    expect(push.stdout).toMatch(new RegExp(`^The push refers to repository \\[${R}/dock\\]\n[0-9a-f]{12}: Preparing\n[0-9a-f]{12}: Mounted from (bb|team/other|multi|runme)\n1: digest: ${bbDigest} size: \\d+\n$`));
    ok(await d.cli(['rmi', '-f', bbId]));
    expect(await ids()).toEqual([]);
    const pull = await docker(['pull', `${R}/dock:1`]);
    ok(pull);
    expect(pull.stdout).toMatch(new RegExp(`^1: Pulling from dock\n([0-9a-f]{12}): Pulling fs layer\n(\\1: (Verifying Checksum|Download complete|Pull complete)\n)+Digest: ${bbDigest}\nStatus: Downloaded newer image for ${R}/dock:1\n${R}/dock:1\n$`));
    expect((await docker(['image', 'inspect', '-f', '{{.Id}}', `${R}/dock:1`])).stdout.trim()).toBe(bbId);
    ok(await d.cli(['tag', `${R}/dock:1`, 'busybox:latest']));

    ok(await d.cli(['tag', 'busybox', `${R}/drun:1`]));
    ok(await d.cli(['push', `${R}/drun:1`]));
    ok(await d.cli(['rmi', '-f', bbId]));
    const r = await docker(['run', '--rm', `${R}/drun:1`, 'echo', 'docker pulled it']);
    ok(r);
    expect(r.stdout).toBe('docker pulled it\n');
    expect(r.stderr).toContain(`Unable to find image '${R}/drun:1' locally\n`);
    ok(await d.cli(['tag', `${R}/drun:1`, 'busybox:latest']));
  });

  it('dockerode: push and pull with followProgress', async () => {
    const docker = new Docker({ socketPath: d.socket });
    const follow = (stream: NodeJS.ReadableStream) =>
      new Promise<{ status?: string; aux?: { Digest?: string } }[]>((res, rej) => docker.modem.followProgress(stream, (err: Error | null, out: never[]) => (err ? rej(err) : res(out))));
    ok(await d.cli(['tag', 'busybox', `${R}/dockerode:1`]));
    const pushed = await follow((await docker.getImage(`${R}/dockerode`).push({ tag: '1' })) as NodeJS.ReadableStream);
    expect(pushed.find((m) => m.aux)?.aux?.Digest).toBe(bbDigest);
    ok(await d.cli(['rmi', `${R}/dockerode:1`]));
    const pulled = await follow(await docker.pull(`${R}/dockerode:1`));
    expect(pulled.at(-1)?.status).toBe(`Status: Downloaded newer image for ${R}/dockerode:1`);
    expect((await docker.getImage(`${R}/dockerode:1`).inspect()).Id).toBe(bbId);
    await expect(docker.pull(`${R}/nope:1`)).rejects.toMatchObject({ statusCode: 404, message: expect.stringContaining(`manifest for ${R}/nope:1 not found`) });
  });

  it('Basic auth: berth login stores the credentials, push and pull use them, logout drops them', async () => {
    const auth = await startRegistry(host, dir, 5002, HTPASSWD);
    cleanups.push(() => auth.stop());
    const cfg = testDir('berthcfg');
    cleanups.push(async () => rmSync(cfg, { recursive: true, force: true }));
    const env = { BERTH_CONFIG: cfg };
    const A = 'localhost:5002';
    ok(await d.cli(['tag', 'busybox', `${A}/private:1`]));
    const anon = await d.cli(['push', `${A}/private:1`], { env });
    expect(anon.code).toBe(1);
    expect(anon.stderr).toContain('unauthorized: authentication required');

    const bad = await d.cli(['login', '-u', 'tester', '--password-stdin', A], { env, input: 'wrong\n' });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toBe(`Error response from daemon: login to ${A} failed: unauthorized: incorrect username or password\n`);
    expect(existsSync(join(cfg, 'config.json'))).toBe(false);
    const login = await d.cli(['login', '-u', 'tester', '--password-stdin', A], { env, input: 'berth-pw\n' });
    ok(login);
    expect(login.stdout).toBe('Login Succeeded\n');
    expect(JSON.parse(readFileSync(join(cfg, 'config.json'), 'utf8'))).toEqual({ auths: { [A]: { auth: Buffer.from('tester:berth-pw').toString('base64') } } });
    expect(statSync(join(cfg, 'config.json')).mode & 0o777).toBe(0o600);

    ok(await d.cli(['push', `${A}/private:1`], { env }));
    ok(await d.cli(['rmi', `${A}/private:1`]));
    const pull = await d.cli(['pull', `${A}/private:1`], { env });
    ok(pull);
    expect(pull.stdout).toContain(`Status: Downloaded newer image for ${A}/private:1\n`);

    expect((await d.cli(['logout', A], { env })).stdout).toBe(`Removing login credentials for ${A}\n`);
    const denied = await d.cli(['pull', `${A}/private:1`], { env });
    expect(denied.code).toBe(1);
    expect(denied.stderr).toBe(`Error response from daemon: pull access denied for ${A}/private, repository does not exist or may require 'berth login': unauthorized: authentication required\n`);

    if (hasDocker) {
      const dcfg = testDir('dockercfg2');
      cleanups.push(async () => rmSync(dcfg, { recursive: true, force: true }));
      const denv = { ...process.env, DOCKER_CONFIG: dcfg };
      const dl = await run(['docker', '-H', d.host, 'login', '-u', 'tester', '--password-stdin', A], { env: denv, input: 'berth-pw\n' });
      ok(dl);
      expect(dl.stdout).toContain('Login Succeeded');
      ok(await d.cli(['rmi', `${A}/private:1`]));
      const dp = await run(['docker', '-H', d.host, 'pull', `${A}/private:1`], { env: denv, timeoutMs: 30_000 });
      ok(dp);
      expect(dp.stdout).toContain(`Status: Downloaded newer image for ${A}/private:1\n`);
    }
    await auth.stop();
  });

  it('a stopped registry gives a clear error, and pulls work again once it is back', async () => {
    await reg.stop();
    const r = await d.cli(['pull', `${R}/bb:1`]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`Error response from daemon: registry ${R} is unreachable: GET http://${R}/v2/bb/manifests/1: connect ECONNREFUSED 127.0.0.1:5000\n`);
    ok(await d.cli(['tag', 'busybox', `${R}/bb:1`]));
    const p = await d.cli(['push', `${R}/bb:1`]);
    expect(p.code).toBe(1);
    expect(p.stderr).toContain(`registry ${R} is unreachable`);
    expect(tmp()).toEqual([]);
    await reg.start();
    ok(await d.cli(['pull', `${R}/bb:1`]));
  });
});

/** The diff id of a zstd layer, from berth's own decompressor (only when the zstd CLI is absent). */
async function zstdDiffId(zst: Buffer): Promise<string> {
  const { decompress } = await import('fzstd');
  return sha(decompress(new Uint8Array(zst)));
}
