// Writing host files into a tar (tar-stream's pack), for every archive berth makes from a
// filesystem tree: docker cp / export (daemon/containers/archive.ts) and a commit's layer
// (changes.ts). A file is opened O_NOFOLLOW (a symlink put in its place is refused, never
// followed) and streamed with back-pressure; its size is the opened file's.
import { closeSync, constants, createReadStream, fstatSync, openSync } from 'node:fs';
import type { Header, Pack } from 'tar-stream';

export type PackHeader = Partial<Header> & { name: string };

export interface TarWriter {
  /** A member without content (directory, symlink, hardlink, device, fifo, whiteout file). */
  add(h: PackHeader): Promise<void>;
  /** A regular file's member, its content read from `host`. */
  addFile(h: PackHeader, host: string): Promise<void>;
}

export function tarWriter(p: Pack): TarWriter {
  return {
    add: (h) => new Promise<void>((resolve, reject) => p.entry(h, (err) => (err ? reject(err) : resolve())).end(undefined)),
    addFile: (h, host) =>
      new Promise<void>((resolve, reject) => {
        let fd: number;
        try {
          fd = openSync(host, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
        } catch (e) {
          reject(e as Error);
          return;
        }
        const st = fstatSync(fd);
        if (!st.isFile()) {
          closeSync(fd);
          reject(new Error(`${host} changed while it was archived`));
          return;
        }
        const size = st.size;
        const sink = p.entry({ ...h, size }, (err) => (err ? reject(err) : resolve()));
        if (size === 0) {
          closeSync(fd);
          sink.end(undefined);
          return;
        }
        const src = createReadStream('', { fd, start: 0, end: size - 1 });
        src.on('error', (e) => {
          sink.destroy(e);
          reject(e);
        });
        src.pipe(sink as unknown as NodeJS.WritableStream);
      }),
  };
}
