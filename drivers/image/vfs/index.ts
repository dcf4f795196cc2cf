// vfs: for filesystems without overlay. Layers are unpacked once with their whiteouts kept as .wh.
// files; a container's rootfs is a full copy, the layers applied bottom first (whiteouts delete from
// the copy), under <data-root>/image/vfs/containers/<id>/rootfs. Nothing is mounted.
import { chmod, mkdir, rename, rm, stat, readdir } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { DriverFactory, ImageDriver } from '../../driver.js';
import { safeId } from '../../names.js';
import { LayerStore } from '../layer/store.js';
import { applyLayer } from '../layer/merge.js';
import { changesTar, realFs, vfsChanges } from '../layer/changes.js';

const vfs: DriverFactory = (ctx): ImageDriver => {
  const root = join(ctx.config.dataRoot, 'image', 'vfs');
  const layers = new LayerStore(root, {
    whiteouts: 'keep',
    shortLinks: false,
    chown: process.getuid?.() === 0,
    exec: ctx.sys.exec,
    log: ctx.log,
  });
  const containerDir = (id: string) => join(root, 'containers', safeId(id));
  const exists = (p: string) => stat(p).then(() => true, () => false);
  /** The rootfs copy against the layers applied (docker diff); [] before the copy is made. */
  const changes = async (containerId: string, diffIds: string[]) => {
    const rootfs = join(containerDir(containerId), 'rootfs');
    const dirs = diffIds.map((d) => layers.diffDir(d));
    return { rootfs, list: (await exists(rootfs)) ? vfsChanges(realFs, rootfs, dirs) : [] };
  };

  return {
    kind: 'image',
    name: 'vfs',
    handlers: {
      image_unpack: ({ layer }, job) => layers.unpack(layer, job),
      image_remove_layer: ({ diffId }) => layers.remove(diffId),
      image_layer_tar: ({ diffId }) => layers.tar(diffId),
      async image_mount({ containerId, layers: diffIds }, job) {
        const cdir = containerDir(containerId);
        const rootfs = join(cdir, 'rootfs');
        const dirs = diffIds.map((d) => layers.diffDir(d));
        for (const [i, d] of dirs.entries()) if (!(await exists(d))) throw new Error(`layer ${diffIds[i]} is not unpacked`);
        if (await exists(rootfs)) return { rootfs };
        const created = !(await exists(cdir));
        await mkdir(cdir, { recursive: true, mode: 0o700 });
        if (created) job.undo.push(`remove vfs rootfs of ${containerId.slice(0, 12)}`, () => rm(cdir, { recursive: true, force: true }));
        const tmp = join(cdir, `.tmp-rootfs-${randomBytes(4).toString('hex')}`);
        try {
          await mkdir(tmp, { mode: 0o755 });
          for (const d of dirs) await applyLayer(d, tmp, ctx.sys.exec);
          await chmod(tmp, 0o755);
          await rename(tmp, rootfs);
        } catch (e) {
          await rm(tmp, { recursive: true, force: true });
          throw e;
        }
        return { rootfs };
      },
      async image_unmount({ containerId, remove }) {
        if (remove) await rm(containerDir(containerId), { recursive: true, force: true });
      },
      async image_changes({ containerId, layers: diffIds }) {
        return (await changes(containerId, diffIds)).list;
      },
      async image_diff_tar({ containerId, layers: diffIds }) {
        const c = await changes(containerId, diffIds);
        return changesTar(c.list, c.rootfs);
      },
      async image_prune({ keep }) {
        const removed: string[] = [];
        for (const id of await readdir(join(root, 'containers')).catch(() => [] as string[])) {
          if (keep.includes(id) || !/^[0-9a-f]{64}$/.test(id)) continue;
          await rm(containerDir(id), { recursive: true, force: true });
          removed.push(id);
        }
        return { removed };
      },
    },
    async restore() {
      const removed = await layers.sweep();
      for (const c of await readdir(join(root, 'containers')).catch(() => [] as string[])) {
        for (const f of await readdir(join(root, 'containers', c)).catch(() => [] as string[])) {
          if (!f.startsWith('.tmp-')) continue;
          await rm(join(root, 'containers', c, f), { recursive: true, force: true });
          removed.push(`containers/${c}/${f}`);
        }
      }
      return { recreated: [], removed };
    },
  };
};

export default vfs;
