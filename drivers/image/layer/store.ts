// The unpacked layers of one image driver, under <data-root>/image/<driver>/:
//   layers/<hex>/diff   the layer's files (hex = the diff id's)     layers/<hex>/size   its size
//   layers/<hex>/link   overlay only: the short name in l/           l/<short> → ../layers/<hex>/diff
//   layers/<hex>/tar-split  a pulled layer's tar-split record: its exact tar is rebuilt from it and
//                       diff/ (image_layer_tar), so the pull keeps no blob of it
//   layers/.tmp-*       an unpack or removal in progress (swept by restore)
// A layer is unpacked once, into a temp dir renamed into place when complete, so a layer dir that
// exists is whole. Unpacking a blob verifies the diff id of what it read; unpacking a stream (a
// pull) leaves the hashing to the caller and renames only after the caller's `verified` resolved.
import { chmodSync, createReadStream, mkdirSync, readFileSync, renameSync, symlinkSync, writeFileSync } from 'node:fs';
import { readdir, readFile, readlink, rename, rm, stat, unlink } from 'node:fs/promises';
import { createHash, randomBytes } from 'node:crypto';
import { Transform } from 'node:stream';
import { join } from 'node:path';
import { invalidParameter, notFound } from '../../errors.js';
import type { Job, LayerBlob, LayerStream, LayerTar } from '../../handlers.js';
import type { Exec } from '../../sys/exec.js';
import type { Log } from '../../log.js';
import { decompress } from './compression.js';
import { unpackLayer } from './unpack.js';
import { assembleTar, splitSize } from './tarsplit.js';

export const DIGEST_RE = /^sha256:([0-9a-f]{64})$/;

export function digestHex(diffId: string): string {
  const m = DIGEST_RE.exec(diffId);
  if (!m) throw invalidParameter(`invalid layer digest "${diffId}"`);
  return m[1]!;
}

export interface LayerStoreOptions {
  whiteouts: 'overlay' | 'keep';
  /** Short links in l/ for overlay's lowerdir list. */
  shortLinks: boolean;
  chown: boolean;
  exec: Exec;
  log: Log;
}

/** A small file's text, or undefined when it is not there. */
function readSmall(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

const TMP = '.tmp-';
const TAR_SPLIT = 'tar-split';
const B32 = 'abcdefghijklmnopqrstuvwxyz234567';

function shortId(): string {
  return [...randomBytes(12)].map((b) => B32[b & 31]).join('');
}

export class LayerStore {
  readonly layersDir: string;
  readonly linksDir: string;

  constructor(
    readonly root: string,
    readonly opts: LayerStoreOptions,
  ) {
    this.layersDir = join(root, 'layers');
    this.linksDir = join(root, 'l');
  }

  diffDir(diffId: string): string {
    return join(this.layersDir, digestHex(diffId), 'diff');
  }

  async has(diffId: string): Promise<boolean> {
    return stat(join(this.layersDir, digestHex(diffId))).then(
      () => true,
      () => false,
    );
  }

  /** The short lowerdir name ("l/<id>", relative to root) of an unpacked layer. */
  async shortLink(diffId: string): Promise<string> {
    const id = (await readFile(join(this.layersDir, digestHex(diffId), 'link'), 'utf8').catch(() => {
      throw notFound(`layer ${diffId} is not unpacked`);
    })).trim();
    if (!/^[a-z2-7]{12}$/.test(id)) throw invalidParameter(`corrupt link file of layer ${diffId}`);
    return `l/${id}`;
  }

  /** Unpack a blob, or a stream the caller verifies, once. Idempotent: an unpacked layer is not
   *  read again (a stream is then left unread). Registers its removal on the job's undo stack when
   *  this call made it. */
  async unpack(blob: LayerBlob | LayerStream, job: Job): Promise<{ diffId: string; size: number }> {
    const hex = digestHex(blob.diffId);
    const final = join(this.layersDir, hex);
    // (The small metadata files here are written synchronously, as unpack.ts does: microseconds each
    // on the page cache, where a thread-pool round trip costs more and queues behind the unpacks.)
    const existing = readSmall(join(final, 'size'));
    if (existing !== undefined) return { diffId: blob.diffId, size: Number(existing) };

    mkdirSync(this.layersDir, { recursive: true, mode: 0o700 });
    if (this.opts.shortLinks) mkdirSync(this.linksDir, { recursive: true, mode: 0o700 });
    const tmp = join(this.layersDir, `${TMP}${hex.slice(0, 12)}-${randomBytes(4).toString('hex')}`);
    let link: string | undefined;
    try {
      mkdirSync(join(tmp, 'diff'), { recursive: true, mode: 0o700 });
      chmodSync(join(tmp, 'diff'), 0o755);
      const opts = { whiteouts: this.opts.whiteouts, chown: this.opts.chown, exec: this.opts.exec, log: job.log };
      let r: Awaited<ReturnType<typeof unpackLayer>>;
      if ('source' in blob) {
        r = blob.unpackInto
          ? { diffId: undefined, ...(await blob.unpackInto(join(tmp, 'diff'), { whiteouts: this.opts.whiteouts, chown: this.opts.chown })) }
          : await unpackLayer(blob.source, join(tmp, 'diff'), { ...opts, hash: false });
        const v = await blob.verified;
        if (v?.tarSplit) writeFileSync(join(tmp, TAR_SPLIT), v.tarSplit, { mode: 0o600 });
      } else {
        const { stream } = await decompress(createReadStream(blob.path));
        r = await unpackLayer(stream, join(tmp, 'diff'), opts);
        if (r.diffId !== blob.diffId) throw invalidParameter(`layer content does not match its digest: expected ${blob.diffId}, got ${r.diffId}`);
      }
      if (r.skipped.length) job.log.info({ layer: blob.diffId, skipped: r.skipped.slice(0, 20), count: r.skipped.length }, 'layer members skipped');
      writeFileSync(join(tmp, 'size'), String(r.size));
      if (this.opts.shortLinks) {
        const id = shortId();
        link = join(this.linksDir, id);
        symlinkSync(`../layers/${hex}/diff`, link);
        writeFileSync(join(tmp, 'link'), id);
      }
      try {
        renameSync(tmp, final);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw e;
        // Another unpack of the same layer won the race: keep its copy.
        await rm(tmp, { recursive: true, force: true });
        if (link) await unlink(link).catch(() => {});
        return { diffId: blob.diffId, size: Number(await readFile(join(final, 'size'), 'utf8')) };
      }
      job.undo.push(`remove layer ${hex.slice(0, 12)}`, () => this.remove(blob.diffId));
      return { diffId: blob.diffId, size: r.size };
    } catch (e) {
      await rm(tmp, { recursive: true, force: true });
      if (link) await unlink(link).catch(() => {});
      throw e;
    }
  }

  /** The layer's original tar, rebuilt from diff/ and its tar-split record; undefined for a layer
   *  without one (unpacked from a blob the content store keeps) or not unpacked. The stream checks
   *  the bytes against the diff id (a changed layer dir fails it rather than giving another tar). */
  async tar(diffId: string): Promise<LayerTar | undefined> {
    const dir = join(this.layersDir, digestHex(diffId));
    const record = await readFile(join(dir, TAR_SPLIT)).catch(() => undefined);
    if (!record) return undefined;
    const diff = join(dir, 'diff');
    return {
      size: splitSize(record),
      open: () => {
        const hash = createHash('sha256');
        const check = new Transform({
          transform(c: Buffer, _e, cb) {
            hash.update(c);
            cb(null, c);
          },
          flush(cb) {
            const got = `sha256:${hash.digest('hex')}`;
            cb(got === diffId ? null : new Error(`layer ${diffId} rebuilt from its files has digest ${got}: the layer dir changed`));
          },
        });
        return assembleTar(record, diff).on('error', (e) => check.destroy(e)).pipe(check);
      },
    };
  }

  /** Remove an unpacked layer (its link first). Idempotent. */
  async remove(diffId: string): Promise<void> {
    const hex = digestHex(diffId);
    const dir = join(this.layersDir, hex);
    const id = await readFile(join(dir, 'link'), 'utf8').catch(() => undefined);
    if (id && /^[a-z2-7]{12}$/.test(id.trim())) await unlink(join(this.linksDir, id.trim())).catch(() => {});
    const doomed = join(this.layersDir, `${TMP}rm-${hex.slice(0, 12)}-${randomBytes(4).toString('hex')}`);
    try {
      await rename(dir, doomed);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw e;
    }
    await rm(doomed, { recursive: true, force: true });
  }

  /** Remove interrupted unpacks/removals and links that point nowhere. Returns what it removed. */
  async sweep(): Promise<string[]> {
    const removed: string[] = [];
    for (const f of await readdir(this.layersDir).catch(() => [] as string[])) {
      if (!f.startsWith(TMP)) continue;
      await rm(join(this.layersDir, f), { recursive: true, force: true });
      removed.push(`layers/${f}`);
    }
    if (this.opts.shortLinks) {
      for (const f of await readdir(this.linksDir).catch(() => [] as string[])) {
        const p = join(this.linksDir, f);
        const target = await readlink(p).catch(() => undefined);
        const ok = target !== undefined && (await stat(p).then(() => true, () => false));
        if (!ok) {
          await rm(p, { force: true });
          removed.push(`l/${f}`);
        }
      }
    }
    return removed;
  }
}
