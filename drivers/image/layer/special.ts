// Entries node cannot make itself: device nodes and fifos (no mknod in node), overlay whiteouts (a
// 0:0 character device) and opaque directories (the trusted.overlay.opaque xattr; no setxattr in
// node). They are packed into one small tar and extracted with GNU tar in ONE run — GNU tar is on
// every Debian system and restores xattrs from SCHILY.xattr pax records. The paths were checked by
// the unpacker (clean, below real directories) before they get here.
import { pack, type Header } from 'tar-stream';
import { systemError } from '../../errors.js';
import type { Exec } from '../../sys/exec.js';

export type SpecialEntry =
  | { kind: 'whiteout'; rel: string }
  | { kind: 'node'; rel: string; header: Header };

export interface OpaqueDir {
  rel: string;
  /** The directory's own tar header, if the layer had one (its attributes are restored after). */
  header: Header | undefined;
}

const EPOCH = new Date(0);

/** The special tar as bytes; exported for tests. */
export async function specialTar(entries: SpecialEntry[], opaque: OpaqueDir[]): Promise<Buffer> {
  const p = pack();
  const chunks: Buffer[] = [];
  const collected = (async () => {
    for await (const c of p) chunks.push(Buffer.from(c as Uint8Array));
  })();
  const add = (h: Parameters<typeof p.entry>[0]) =>
    new Promise<void>((resolve, reject) => p.entry(h, (err) => (err ? reject(err) : resolve())).end(undefined));
  for (const o of opaque) {
    await add({
      name: o.rel === '' ? './' : `${o.rel}/`,
      type: 'directory',
      mode: o.header ? o.header.mode & 0o7777 : 0o755,
      uid: o.header?.uid ?? 0,
      gid: o.header?.gid ?? 0,
      mtime: o.header?.mtime ?? EPOCH,
      pax: { 'SCHILY.xattr.trusted.overlay.opaque': 'y' },
    });
  }
  for (const e of entries) {
    if (e.kind === 'whiteout') {
      await add({ name: e.rel, type: 'character-device', devmajor: 0, devminor: 0, mode: 0, uid: 0, gid: 0, mtime: EPOCH });
    } else {
      const h = e.header;
      await add({ name: e.rel, type: h.type, devmajor: h.devmajor, devminor: h.devminor, mode: h.mode & 0o7777, uid: h.uid, gid: h.gid, mtime: h.mtime });
    }
  }
  p.finalize();
  await collected;
  return Buffer.concat(chunks);
}

/** GNU tar argv that extracts the special tar on stdin into `dir`. */
export function specialTarArgv(dir: string): string[] {
  return ['tar', '-x', '-f', '-', '-C', dir, '--numeric-owner', '--same-owner', '--same-permissions', '--xattrs', '--xattrs-include=trusted.overlay.*'];
}

export async function applySpecial(dir: string, entries: SpecialEntry[], opaque: OpaqueDir[], exec: Exec): Promise<void> {
  if (entries.length === 0 && opaque.length === 0) return;
  const bytes = await specialTar(entries, opaque);
  // Exec takes text on stdin. This tar is headers only (no file data): octal numbers, NUL padding
  // and the member names, which tar-stream wrote as UTF-8; so it survives a UTF-8 round trip.
  const text = bytes.toString('utf8');
  if (!Buffer.from(text, 'utf8').equals(bytes)) throw systemError('internal: special-entry tar is not valid UTF-8');
  await exec.run(specialTarArgv(dir), { input: text });
}
