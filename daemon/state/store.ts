// The state store: one JSON record per object under <data-root>/state/<kind>/<id>.json, written
// atomically (temp file, fsync, rename, fsync of the directory), with an in-memory index. A kill -9
// in the middle of a write leaves the old record or the new one, never a broken one: a reader only
// ever sees files that were complete when renamed, and leftover temp files are swept at open.
import { mkdir, open, readdir, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Log } from '../../drivers/log.js';
import { silentLog } from '../../drivers/log.js';
import { invalidParameter } from '../../drivers/errors.js';

export interface Identified {
  id: string;
}

const ID_RE = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$/;
const TMP_MARK = '.tmp-';

export class FileStore<R extends { [K in keyof R]: Identified }> {
  readonly #dir: string;
  readonly #index = new Map<keyof R, Map<string, unknown>>();
  /** Writes to one record are queued so that the last put wins on disk as in memory. */
  readonly #queues = new Map<string, Promise<void>>();
  #seq = 0;

  private constructor(dir: string) {
    this.#dir = dir;
  }

  /** Open (creating if needed) the store and load every record of the given kinds. */
  static async open<R extends { [K in keyof R]: Identified }>(
    dir: string,
    kinds: readonly (keyof R & string)[],
    log: Log = silentLog,
  ): Promise<FileStore<R>> {
    const store = new FileStore<R>(dir);
    for (const kind of kinds) {
      const kdir = join(dir, kind);
      await mkdir(kdir, { recursive: true, mode: 0o700 });
      const map = new Map<string, unknown>();
      for (const f of await readdir(kdir)) {
        const p = join(kdir, f);
        if (f.includes(TMP_MARK)) {
          await rm(p, { force: true }); // a write that never reached its rename
          continue;
        }
        if (!f.endsWith('.json')) continue;
        try {
          const rec = JSON.parse(await readFile(p, 'utf8')) as Identified;
          if (rec.id + '.json' !== f) throw new Error(`id ${rec.id} does not match the file name`);
          map.set(rec.id, rec);
        } catch (err) {
          // Cannot come from our writes; a file edited by hand. Keep it aside, do not guess.
          log.error({ err, file: p }, 'unreadable state record, moved aside');
          await rename(p, p + '.corrupt').catch(() => {});
        }
      }
      store.#index.set(kind, map);
    }
    return store;
  }

  get dir(): string {
    return this.#dir;
  }

  get<K extends keyof R>(kind: K, id: string): R[K] | undefined {
    return this.#kind(kind).get(id) as R[K] | undefined;
  }

  list<K extends keyof R>(kind: K): R[K][] {
    return [...this.#kind(kind).values()] as R[K][];
  }

  /** Write a record; resolves once it is durable. The index changes at once. */
  async put<K extends keyof R>(kind: K, record: R[K]): Promise<void> {
    const id = record.id;
    if (!ID_RE.test(id)) throw invalidParameter(`invalid record id "${id}"`);
    const copy = structuredClone(record);
    this.#kind(kind).set(id, copy);
    const text = JSON.stringify(copy, null, 1);
    await this.#enqueue(`${String(kind)}/${id}`, () => this.#write(String(kind), id, text));
  }

  async delete<K extends keyof R>(kind: K, id: string): Promise<void> {
    this.#kind(kind).delete(id);
    await this.#enqueue(`${String(kind)}/${id}`, async () => {
      await rm(join(this.#dir, String(kind), `${id}.json`), { force: true });
    });
  }

  /** Wait for every queued write. */
  async flush(): Promise<void> {
    await Promise.all([...this.#queues.values()]);
  }

  #kind(kind: keyof R): Map<string, unknown> {
    const m = this.#index.get(kind);
    if (!m) throw new Error(`store kind ${String(kind)} was not opened`);
    return m;
  }

  #enqueue(key: string, op: () => Promise<void>): Promise<void> {
    const prev = this.#queues.get(key) ?? Promise.resolve();
    const next = prev.catch(() => {}).then(op);
    this.#queues.set(key, next);
    const clear = () => {
      if (this.#queues.get(key) === next) this.#queues.delete(key);
    };
    next.then(clear, clear);
    return next;
  }

  async #write(kind: string, id: string, text: string): Promise<void> {
    const dir = join(this.#dir, kind);
    const final = join(dir, `${id}.json`);
    const tmp = `${final}${TMP_MARK}${process.pid}-${++this.#seq}`;
    const fh = await open(tmp, 'w', 0o600);
    try {
      await fh.writeFile(text);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, final);
    const dh = await open(dir, 'r');
    try {
      await dh.sync();
    } finally {
      await dh.close();
    }
  }
}
