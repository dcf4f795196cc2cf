// The pidfile: refuse to start while another berthd holds it, take over a stale one.
import { mkdirSync, openSync, readFileSync, unlinkSync, writeSync, closeSync } from 'node:fs';
import { dirname } from 'node:path';
import { conflict } from '../../drivers/errors.js';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Create the pidfile with our pid; returns a function that removes it (only if it is still ours). */
export function acquirePidfile(path: string, pid = process.pid): () => void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o755 });
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(path, 'wx', 0o644);
      writeSync(fd, `${pid}\n`);
      closeSync(fd);
      return () => {
        try {
          if (readFileSync(path, 'utf8').trim() === String(pid)) unlinkSync(path);
        } catch {
          /* gone already */
        }
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    const other = Number.parseInt(readFileSync(path, 'utf8').trim(), 10);
    if (Number.isInteger(other) && other > 0 && other !== pid && alive(other)) {
      throw conflict(`pid file found, ensure berthd is not running or delete ${path} (held by pid ${other})`);
    }
    unlinkSync(path); // stale: its process is gone
  }
  throw conflict(`cannot take over pid file ${path}: another process keeps creating it`);
}
