// overlay: each layer unpacked once (whiteouts as overlayfs wants them); a container's rootfs is an
// overlayfs mount with the image's layers as lowerdir (top first, by short l/ links) and an upper
// and work dir of its own, under <data-root>/image/overlay/containers/<id>/{upper,work,merged}.
import { mkdir, readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { DriverFactory, ImageDriver } from '../../driver.js';
import { safeId } from '../../names.js';
import { realMounts } from '../../sys/mount.js';
import { LayerStore } from '../layer/store.js';
import { overlayOptions } from './options.js';
import { changesTar, overlayChanges, readOpaque, realFs, upperDirsBelow } from '../layer/changes.js';

const overlay: DriverFactory = (ctx): ImageDriver => {
  const root = join(ctx.config.dataRoot, 'image', 'overlay');
  const mounts = realMounts(ctx.sys.exec);
  const layers = new LayerStore(root, {
    whiteouts: 'overlay',
    shortLinks: true,
    chown: process.getuid?.() === 0,
    exec: ctx.sys.exec,
    log: ctx.log,
  });
  const containerDir = (id: string) => join(root, 'containers', safeId(id));
  const exists = (p: string) => stat(p).then(() => true, () => false);
  const isMounted = async (p: string) => (await mounts.list(p)).includes(p);
  /** The upper dir's changes (docker diff) and its opaque dirs; undefined without an upper dir. */
  const changes = async (containerId: string, diffIds: string[]) => {
    const cdir = containerDir(containerId);
    const upper = join(cdir, 'upper');
    const lowers = [...diffIds].reverse().map((d) => layers.diffDir(d));
    if (!(await exists(upper))) return undefined;
    const tmp = join(cdir, `.opaque-${randomBytes(4).toString('hex')}.tar`);
    const opaque = await readOpaque(ctx.sys.exec, upper, upperDirsBelow(realFs, upper, lowers), tmp);
    return { upper, opaque, list: overlayChanges(realFs, upper, lowers, opaque) };
  };

  return {
    kind: 'image',
    name: 'overlay',
    handlers: {
      image_unpack: ({ layer }, job) => layers.unpack(layer, job),
      image_remove_layer: ({ diffId }) => layers.remove(diffId),
      image_layer_tar: ({ diffId }) => layers.tar(diffId),
      async image_mount({ containerId, layers: diffIds }, job) {
        const cdir = containerDir(containerId);
        const merged = join(cdir, 'merged');
        const lower: string[] = [];
        for (const d of [...diffIds].reverse()) lower.push(await layers.shortLink(d));
        if (lower.length === 0) {
          await mkdir(join(root, 'empty'), { recursive: true, mode: 0o755 });
          lower.push('empty');
        }
        const rel = `containers/${safeId(containerId)}`;
        const options = overlayOptions(lower, `${rel}/upper`, `${rel}/work`);
        if (await isMounted(merged)) return { rootfs: merged };
        const created = !(await exists(cdir));
        await mkdir(join(cdir, 'upper'), { recursive: true, mode: 0o755 });
        if (created) job.undo.push(`remove ${rel}`, () => rm(cdir, { recursive: true, force: true }));
        await mkdir(join(cdir, 'work'), { recursive: true, mode: 0o700 });
        await mkdir(merged, { recursive: true, mode: 0o755 });
        await mounts.mount({ type: 'overlay', source: 'overlay', target: merged, options, cwd: root });
        job.undo.push(`unmount ${rel}/merged`, () => mounts.unmount(merged));
        return { rootfs: merged };
      },
      async image_unmount({ containerId, remove }) {
        const cdir = containerDir(containerId);
        const merged = join(cdir, 'merged');
        if (await isMounted(merged)) await mounts.unmount(merged);
        if (remove) await rm(cdir, { recursive: true, force: true });
      },
      async image_changes({ containerId, layers: diffIds }) {
        return (await changes(containerId, diffIds))?.list ?? [];
      },
      async image_diff_tar({ containerId, layers: diffIds }) {
        const c = await changes(containerId, diffIds);
        return changesTar(c?.list ?? [], c?.upper ?? '/nonexistent', c?.opaque);
      },
      async image_prune({ keep }) {
        const removed: string[] = [];
        for (const id of await readdir(join(root, 'containers')).catch(() => [] as string[])) {
          if (keep.includes(id) || !/^[0-9a-f]{64}$/.test(id)) continue;
          const merged = join(containerDir(id), 'merged');
          if (await isMounted(merged)) await mounts.unmount(merged);
          await rm(containerDir(id), { recursive: true, force: true });
          removed.push(id);
        }
        return { removed };
      },
    },
    async restore() {
      const removed = await layers.sweep();
      return { recreated: [], removed };
    },
  };
};

export default overlay;
