// sysctls through /proc/sys: no program run. /proc/sys/net shows the netns of the reading process,
// which is the daemon's own (the host's, or the test's "host" netns).
import { readFile, writeFile } from 'node:fs/promises';
import { invalidParameter } from '../errors.js';

export interface Sysctl {
  get(key: string): Promise<string>;
  set(key: string, value: string): Promise<void>;
}

export function sysctlPath(key: string): string {
  if (!/^[a-z0-9_]+(\.[A-Za-z0-9_-]+)+$/.test(key)) throw invalidParameter(`invalid sysctl key "${key}"`);
  return '/proc/sys/' + key.split('.').join('/');
}

export function realSysctl(): Sysctl {
  return {
    async get(key) {
      return (await readFile(sysctlPath(key), 'utf8')).trim();
    },
    async set(key, value) {
      const p = sysctlPath(key);
      const cur = (await readFile(p, 'utf8')).trim();
      if (cur !== value) await writeFile(p, value);
    },
  };
}
