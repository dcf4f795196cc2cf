// Test images: the busybox rootfs tar of scripts/mkimage-busybox.sh (built into a dir the test
// owns and removes: use testDir() from daemon.ts), and small layer tars built in memory.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { pack } from 'tar-stream';
import { must } from './sh.js';
import { ROOT } from './daemon.js';

/** Build (once per dir) the busybox rootfs tar into `dir`; returns its path. */
export async function busyboxTar(dir: string): Promise<string> {
  const out = join(dir, 'busybox.tar');
  if (!existsSync(out)) await must(['bash', join(ROOT, 'scripts/mkimage-busybox.sh'), out]);
  return out;
}

export interface TarEntry {
  name: string;
  type?: 'file' | 'directory' | 'symlink' | 'link' | 'character-device' | 'fifo';
  content?: string | Uint8Array;
  linkname?: string;
  mode?: number;
  uid?: number;
  gid?: number;
  mtime?: Date;
  devmajor?: number;
  devminor?: number;
}

/** A tar (uncompressed) of the given entries, in order. */
export async function makeTar(entries: TarEntry[]): Promise<Buffer> {
  const p = pack();
  const chunks: Buffer[] = [];
  const done = (async () => {
    for await (const c of p) chunks.push(Buffer.from(c as Uint8Array));
  })();
  for (const e of entries) {
    const type = e.type ?? 'file';
    const body = type === 'file' ? (typeof e.content === 'string' || e.content === undefined ? Buffer.from(e.content ?? '') : Buffer.from(e.content)) : undefined;
    await new Promise<void>((resolve, reject) => {
      const header = {
        name: e.name,
        type,
        mode: e.mode ?? (type === 'directory' ? 0o755 : 0o644),
        uid: e.uid ?? 0,
        gid: e.gid ?? 0,
        mtime: e.mtime ?? new Date('2024-01-01T00:00:00Z'),
        ...(e.linkname !== undefined ? { linkname: e.linkname } : {}),
        ...(e.devmajor !== undefined ? { devmajor: e.devmajor, devminor: e.devminor ?? 0 } : {}),
      };
      const cb = (err?: Error | null) => (err ? reject(err) : resolve());
      if (body) p.entry({ ...header, size: body.length }, body, cb);
      else p.entry(header, cb).end(undefined);
    });
  }
  p.finalize();
  await done;
  return Buffer.concat(chunks);
}
