// vfs: apply one unpacked layer (whiteouts kept as .wh. files) onto a rootfs copy. A top-down walk
// of the layer first makes the rootfs safe to copy onto: a rootfs entry that the layer replaces is
// removed (a symlink where the layer has a directory, anything where the layer has a non-directory),
// whiteouts delete their target and opaque directories are emptied. After that, every path the
// copy touches is either missing or a real directory, so ONE `cp -a` (modes, owners, times, links,
// device nodes) never writes through a symlink. Then the .wh. files it copied are removed.
import { lstat, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Exec } from '../../sys/exec.js';
import { OPAQUE_MARKER, WHITEOUT_META_PREFIX, WHITEOUT_PREFIX } from './paths.js';

const missing = (e: NodeJS.ErrnoException) => {
  if (e.code === 'ENOENT') return undefined;
  throw e;
};

/** Merge `layer` onto `rootfs` (both absolute, both existing directories). */
export async function applyLayer(layer: string, rootfs: string, exec: Exec): Promise<void> {
  const markers: string[] = [];

  // `rel` is a directory in the layer and a real directory (or nothing) in the rootfs.
  async function walk(rel: string): Promise<void> {
    const entries = await readdir(join(layer, rel), { withFileTypes: true });
    const dst = join(rootfs, rel);
    const dstIsDir = (await lstat(dst).catch(missing))?.isDirectory() ?? false;
    if (entries.some((e) => e.name === OPAQUE_MARKER) && dstIsDir) {
      for (const child of await readdir(dst)) await rm(join(dst, child), { recursive: true, force: true });
    }
    for (const e of entries) {
      const childRel = rel ? `${rel}/${e.name}` : e.name;
      if (e.name.startsWith(WHITEOUT_PREFIX)) {
        markers.push(childRel);
        if (e.name.startsWith(WHITEOUT_META_PREFIX)) continue; // opaque marker (done above) or aufs meta
        if (dstIsDir) await rm(join(dst, e.name.slice(WHITEOUT_PREFIX.length)), { recursive: true, force: true });
        continue;
      }
      const target = join(rootfs, childRel);
      const st = await lstat(target).catch(missing);
      if (e.isDirectory()) {
        if (st && !st.isDirectory()) await rm(target, { recursive: true, force: true });
        await walk(childRel);
      } else if (st) {
        await rm(target, { recursive: true, force: true });
      }
    }
  }
  await walk('');
  await exec.run(['cp', '-a', '--', `${layer}/.`, rootfs]);
  for (const m of markers) await rm(join(rootfs, m), { force: true, recursive: true });
}
