// overlay and vfs against the real kernel: a 3-layer image built here (files, ownership, modes,
// symlinks, hardlinks, whiteouts, an opaque dir, a file replaced by a dir) unpacked by the driver
// and mounted (overlayfs) or copied (vfs); the result is read back with plain fs calls and
// /proc/self/mountinfo. Everything lives under a run-prefixed temp dir, unmounted and removed after.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isRoot, skipReason } from '../../helpers/prefix.js';
import { testDir } from '../../helpers/daemon.js';
import { makeTar } from '../../helpers/images.js';
import { run } from '../../helpers/sh.js';
import overlay from '../../../drivers/image/overlay/index.js';
import vfs from '../../../drivers/image/vfs/index.js';
import type { DriverFactory, ImageDriver } from '../../../drivers/driver.js';
import { realSys } from '../../../drivers/sys/index.js';
import { makeNames } from '../../../drivers/names.js';
import { TarSplitter } from '../../../drivers/image/layer/tarsplit.js';
import { silentLog } from '../../../drivers/log.js';
import { UndoStack } from '../../../drivers/undo.js';
import type { Job } from '../../../drivers/handlers.js';
import { isBerthError } from '../../../drivers/errors.js';

if (!isRoot) console.log(`skipping image driver kernel tests: ${skipReason}`);

const job = (): Job => ({ id: 'k', name: 'test', log: silentLog, signal: new AbortController().signal, undo: new UndoStack() });
const sha = (b: Uint8Array) => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const chunks = (b: Buffer, n: number) => Array.from({ length: Math.ceil(b.length / n) }, (_, i) => b.subarray(i * n, (i + 1) * n));
const mounted = (p: string) => readFileSync('/proc/self/mountinfo', 'utf8').split('\n').some((l) => l.split(' ')[4] === p);

async function layers(): Promise<Buffer[]> {
  return [
    await makeTar([
      { name: 'bin/', type: 'directory' },
      { name: 'bin/busybox', content: 'binary', mode: 0o755 },
      { name: 'bin/sh', type: 'symlink', linkname: 'busybox' },
      { name: 'bin/ls', type: 'link', linkname: 'bin/busybox' },
      { name: 'a/keep', content: 'keep' },
      { name: 'a/gone', content: 'gone' },
      { name: 'd/x', content: 'x' },
      { name: 'd/sub/y', content: 'y' },
      { name: 'f', content: 'a file' },
      { name: 'home/user/', type: 'directory', uid: 1000, gid: 1000, mode: 0o700 },
      { name: 'home/user/.profile', content: 'PS1=$', uid: 1000, gid: 1000, mode: 0o600 },
      { name: 'tmp/', type: 'directory', mode: 0o1777 },
      { name: 'dev/null', type: 'character-device', mode: 0o666, devmajor: 1, devminor: 3 },
    ]),
    await makeTar([
      { name: 'a/.wh.gone', content: '' },
      { name: 'd/.wh..wh..opq', content: '' },
      { name: 'd/z', content: 'z' },
      { name: 'new2', content: 'from layer 2' },
    ]),
    await makeTar([
      { name: 'f/', type: 'directory' },
      { name: 'f/inside', content: 'dir now' },
      { name: '.wh.new2', content: '' },
      { name: 'x3', content: 'top' },
    ]),
  ];
}

function checkRootfs(root: string): void {
  expect(readdirSync(root).sort()).toEqual(['a', 'bin', 'd', 'dev', 'f', 'home', 'tmp', 'x3']);
  expect(readdirSync(join(root, 'a'))).toEqual(['keep']);
  expect(readdirSync(join(root, 'd'))).toEqual(['z']);
  expect(readFileSync(join(root, 'f/inside'), 'utf8')).toBe('dir now');
  expect(readlinkSync(join(root, 'bin/sh'))).toBe('busybox');
  expect(lstatSync(join(root, 'bin/ls')).ino).toBe(lstatSync(join(root, 'bin/busybox')).ino);
  expect(lstatSync(join(root, 'bin/busybox')).mode & 0o7777).toBe(0o755);
  const prof = lstatSync(join(root, 'home/user/.profile'));
  expect([prof.uid, prof.gid, prof.mode & 0o7777]).toEqual([1000, 1000, 0o600]);
  expect(lstatSync(join(root, 'home/user')).uid).toBe(1000);
  expect(lstatSync(join(root, 'tmp')).mode & 0o7777).toBe(0o1777);
  const devnull = lstatSync(join(root, 'dev/null'));
  expect(devnull.isCharacterDevice()).toBe(true);
  expect(devnull.rdev).toBe(0x103); // 1:3
}

for (const [name, factory] of [
  ['overlay', overlay],
  ['vfs', vfs],
] as [string, DriverFactory][]) {
  describe.skipIf(!isRoot)(`image driver ${name}`, () => {
    let dir: string;
    let drv: ImageDriver;
    let diffIds: string[];
    let tars: Buffer[];
    const cid = 'e'.repeat(64);
    beforeAll(async () => {
      dir = testDir(`img${name}`);
      drv = (await factory({
        sys: realSys(),
        records: undefined as never,
        names: makeNames('bk'),
        log: silentLog,
        config: { dataRoot: join(dir, 'data'), execRoot: join(dir, 'run'), bridge: 'x', icc: true, ipForward: false, runtime: 'runc', storageDriver: name },
      })) as ImageDriver;
      diffIds = [];
      tars = [];
      mkdirSync(join(dir, 'blobs'));
      for (const [i, t] of (await layers()).entries()) {
        const p = join(dir, 'blobs', String(i));
        writeFileSync(p, t);
        // the first two as a pull streams them (in 1000-byte pieces), the last from a blob file
        // (with their tar-split record, as a pull makes it)
        const splitter = new TarSplitter({ whiteouts: 'overlay' });
        splitter.push(t);
        const split = splitter.finish();
        expect(split.exact).toBe(true);
        tars.push(t);
        const streamed = { diffId: sha(t), source: chunks(t, 1000), verified: Promise.resolve({ tarSplit: split.record }) };
        const layer = i < 2 ? streamed : { diffId: sha(t), path: p, compression: 'none' as const };
        diffIds.push((await drv.handlers.image_unpack({ layer }, job())).diffId);
      }
    });
    afterAll(async () => {
      for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
        const m = line.split(' ')[4];
        if (m && dir && m.startsWith(dir)) await run(['umount', '-l', m]);
      }
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    it('mounts a rootfs with the layers applied (whiteouts, opaque dir, owners, modes, links, devices)', async () => {
      const { rootfs } = await drv.handlers.image_mount({ containerId: cid, layers: diffIds }, job());
      if (name === 'overlay') expect(mounted(rootfs)).toBe(true);
      checkRootfs(rootfs);
    });

    it('keeps the container\'s writes across unmount and mount, and removes them with remove=true', async () => {
      const { rootfs } = await drv.handlers.image_mount({ containerId: cid, layers: diffIds }, job());
      writeFileSync(join(rootfs, 'written'), 'by the container');
      rmSync(join(rootfs, 'a/keep'));
      await drv.handlers.image_unmount({ containerId: cid, remove: false }, job());
      expect(mounted(rootfs)).toBe(false);
      const again = await drv.handlers.image_mount({ containerId: cid, layers: diffIds }, job());
      expect(readFileSync(join(again.rootfs, 'written'), 'utf8')).toBe('by the container');
      expect(existsSync(join(again.rootfs, 'a/keep'))).toBe(false);
      await drv.handlers.image_unmount({ containerId: cid, remove: true }, job());
      expect(mounted(again.rootfs)).toBe(false);
      expect(existsSync(join(dir, 'data', 'image', name, 'containers', cid))).toBe(false);
      // the layers themselves are untouched by the container
      const fresh = await drv.handlers.image_mount({ containerId: 'f'.repeat(64), layers: diffIds }, job());
      expect(readFileSync(join(fresh.rootfs, 'a/keep'), 'utf8')).toBe('keep');
      await drv.handlers.image_unmount({ containerId: 'f'.repeat(64), remove: true }, job());
    });

    it('undoes a mount when the job fails', async () => {
      const j = job();
      const { rootfs } = await drv.handlers.image_mount({ containerId: 'd'.repeat(64), layers: diffIds }, j);
      await j.undo.unwind();
      expect(mounted(rootfs)).toBe(false);
      expect(existsSync(join(dir, 'data', 'image', name, 'containers', 'd'.repeat(64)))).toBe(false);
    });

    it('prune removes (and unmounts) every rootfs not kept', async () => {
      const keep = '1'.repeat(64);
      const orphan = '2'.repeat(64);
      const kept = await drv.handlers.image_mount({ containerId: keep, layers: diffIds }, job());
      const gone = await drv.handlers.image_mount({ containerId: orphan, layers: diffIds }, job());
      expect(await drv.handlers.image_prune({ keep: [keep] }, job())).toEqual({ removed: [orphan] });
      expect(mounted(gone.rootfs)).toBe(false);
      expect(existsSync(join(dir, 'data', 'image', name, 'containers', orphan))).toBe(false);
      expect(readFileSync(join(kept.rootfs, 'x3'), 'utf8')).toBe('top');
      await drv.handlers.image_unmount({ containerId: keep, remove: true }, job());
    });

    it('refuses an escaping layer and leaves no layer dir', async () => {
      const evil = await makeTar([{ name: 'l', type: 'symlink', linkname: '/tmp' }, { name: `l/berth-escape-${process.pid}`, content: 'pwned' }]);
      const p = join(dir, 'blobs', 'evil');
      writeFileSync(p, evil);
      const before = readdirSync(join(dir, 'data', 'image', name, 'layers')).sort();
      const err = await drv.handlers.image_unpack({ layer: { diffId: sha(evil), path: p, compression: 'none' } }, job()).catch((e: unknown) => e);
      expect(isBerthError(err, 'invalid_parameter')).toBe(true);
      expect(existsSync(`/tmp/berth-escape-${process.pid}`)).toBe(false);
      expect(readdirSync(join(dir, 'data', 'image', name, 'layers')).sort()).toEqual(before);
    });

    it('rebuilds the exact tar of a streamed layer from its files and tar-split record (whiteouts, devices, owners); a changed file fails it', async () => {
      for (const i of [0, 1]) {
        const t = await drv.handlers.image_layer_tar({ diffId: diffIds[i]! }, job());
        expect(t?.size).toBe(tars[i]!.length);
        const chunksOut: Buffer[] = [];
        for await (const c of t!.open()) chunksOut.push(c as Buffer);
        expect(sha(Buffer.concat(chunksOut))).toBe(diffIds[i]);
      }
      expect(await drv.handlers.image_layer_tar({ diffId: diffIds[2]! }, job())).toBeUndefined(); // from a blob: the blob is its tar
      const victim = join(dir, 'data', 'image', name, 'layers', diffIds[0]!.slice(7), 'diff', 'bin', 'busybox');
      const saved = readFileSync(victim);
      writeFileSync(victim, Buffer.concat([saved.subarray(0, saved.length - 1), Buffer.from([saved[saved.length - 1]! ^ 1])]));
      try {
        const t = await drv.handlers.image_layer_tar({ diffId: diffIds[0]! }, job());
        const err = await (async () => {
          for await (const _ of t!.open()) void _;
        })().catch((e: unknown) => e);
        expect((err as Error).message).toMatch(/rebuilt from its files has digest .*: the layer dir changed/);
      } finally {
        writeFileSync(victim, saved);
      }
    });

    it('a streamed layer whose verification fails leaves no layer dir', async () => {
      const t = await makeTar([{ name: 'dev/', type: 'directory' }, { name: 'dev/zero', type: 'character-device', mode: 0o666, devmajor: 1, devminor: 5 }]);
      const before = readdirSync(join(dir, 'data', 'image', name, 'layers')).sort();
      const mismatch = Promise.reject(new Error('blob digest mismatch'));
      mismatch.catch(() => {});
      const err = await drv.handlers.image_unpack({ layer: { diffId: sha(t), source: chunks(t, 512), verified: mismatch } }, job()).catch((e: unknown) => e);
      expect((err as Error).message).toBe('blob digest mismatch');
      expect(readdirSync(join(dir, 'data', 'image', name, 'layers')).sort()).toEqual(before);
    });

    it('restore removes interrupted unpacks; removing a layer removes its dir (and link)', async () => {
      mkdirSync(join(dir, 'data', 'image', name, 'layers', '.tmp-crashed'), { recursive: true });
      const report = await drv.restore();
      expect(report.removed).toContain('layers/.tmp-crashed');
      await drv.handlers.image_remove_layer({ diffId: diffIds[2]! }, job());
      expect(readdirSync(join(dir, 'data', 'image', name, 'layers')).sort()).toEqual(diffIds.slice(0, 2).map((d) => d.slice(7)).sort());
      if (name === 'overlay') expect(readdirSync(join(dir, 'data', 'image', name, 'l'))).toHaveLength(2);
    });
  });
}
