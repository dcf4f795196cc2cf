// iproute2: `ip -json` to read, `ip -batch -` to write many changes in one execution. Every call
// names its network namespace explicitly (undefined = the daemon's own).
import type { Exec } from './exec.js';
import { invalidParameter } from '../errors.js';

export interface Ip {
  /** `ip [-n ns] -json <args>`, parsed. */
  json<T = unknown>(args: readonly string[], netns?: string): Promise<T>;
  /** `ip [-n ns] [-force] -batch -` with one command per line on stdin. */
  batch(lines: readonly string[], opts?: { netns?: string; force?: boolean }): Promise<void>;
}

const NETNS_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

export function netnsArgs(netns: string | undefined): string[] {
  if (netns === undefined) return [];
  if (!NETNS_RE.test(netns)) throw invalidParameter(`invalid netns name "${netns}"`);
  return ['-n', netns];
}

export function realIp(exec: Exec, bin = 'ip'): Ip {
  return {
    async json<T>(args: readonly string[], netns?: string) {
      const out = await exec.run([bin, ...netnsArgs(netns), '-json', ...args]);
      return (out.trim() === '' ? [] : JSON.parse(out)) as T;
    },
    async batch(lines, opts = {}) {
      if (lines.length === 0) return;
      for (const l of lines) if (/[\n\r]/.test(l)) throw invalidParameter('newline in an ip batch line');
      await exec.run([bin, ...netnsArgs(opts.netns), ...(opts.force ? ['-force'] : []), '-batch', '-'], {
        input: lines.join('\n') + '\n',
      });
    },
  };
}
