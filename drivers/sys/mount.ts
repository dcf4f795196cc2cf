// Mounts: mount(8)/umount(8) through exec (argument arrays, never a shell) and the mount table
// read from /proc/self/mountinfo. Image drivers use it for overlayfs rootfs mounts. Every path and
// option is checked for characters that would change the meaning of the mount data string.
import { readFile } from 'node:fs/promises';
import { invalidParameter } from '../errors.js';
import { CommandError, type Exec } from './exec.js';

export interface MountSpec {
  /** Filesystem type, e.g. "overlay". */
  type: string;
  /** The source field ("overlay" for overlayfs). */
  source: string;
  /** Absolute mount point. */
  target: string;
  /** Mount data, joined with ','. No element may hold a ',' or a newline. */
  options: string[];
  /** Run mount(8) in this directory, so relative paths in `options` resolve there (short overlay
   *  lowerdir lists: the data string of one mount is at most a page, 4096 bytes). */
  cwd?: string;
}

export interface Mounts {
  /** Mount; rejects with a CommandError (system) when mount(8) fails. Not idempotent: check `list`. */
  mount(spec: MountSpec): Promise<void>;
  /** Unmount; "not mounted" counts as success. A busy mount is detached lazily. */
  unmount(target: string): Promise<void>;
  /** Mount points equal to or below `dir` (absolute), deepest first. */
  list(dir: string): Promise<string[]>;
}

const TYPE_RE = /^[a-z0-9_.]{1,32}$/;
/** Characters that must never reach a mount data string or a path argument. */
const BAD = /[,\n\r\0]/;

function checkPath(p: string, what: string): void {
  if (!p.startsWith('/') || /[\n\r\0]/.test(p)) throw invalidParameter(`invalid ${what} "${p}"`);
}

/** Unescape a mountinfo path field (\040 for space, \011 tab, \012 newline, \134 backslash). */
export function unescapeMountPath(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

/** Mount points from mountinfo text. */
export function parseMountinfo(text: string): string[] {
  const out: string[] = [];
  for (const line of text.split('\n')) {
    const f = line.split(' ');
    if (f.length > 4 && f[4]) out.push(unescapeMountPath(f[4]));
  }
  return out;
}

export function realMounts(exec: Exec, mountinfo = '/proc/self/mountinfo'): Mounts {
  return {
    async mount(spec) {
      if (!TYPE_RE.test(spec.type)) throw invalidParameter(`invalid filesystem type "${spec.type}"`);
      if (BAD.test(spec.source) || spec.source === '') throw invalidParameter(`invalid mount source "${spec.source}"`);
      checkPath(spec.target, 'mount point');
      for (const o of spec.options) if (BAD.test(o) || o === '') throw invalidParameter(`invalid mount option "${o}"`);
      const data = spec.options.join(',');
      if (data.length >= 4095) throw invalidParameter(`mount options are too long (${data.length} bytes; the kernel takes one page)`);
      const argv = ['mount', '-t', spec.type, '-o', data, spec.source, spec.target];
      if (spec.cwd !== undefined) {
        checkPath(spec.cwd, 'directory');
        argv.unshift('env', '-C', spec.cwd);
      }
      await exec.run(argv);
    },
    async unmount(target) {
      checkPath(target, 'mount point');
      try {
        await exec.run(['umount', target]);
      } catch (e) {
        if (!(e instanceof CommandError)) throw e;
        if (/not mounted|no mount point specified|no such file or directory/i.test(e.stderr)) return;
        if (/busy/i.test(e.stderr)) {
          await exec.run(['umount', '-l', target]);
          return;
        }
        throw e;
      }
    },
    async list(dir) {
      checkPath(dir, 'directory');
      const base = dir.replace(/\/+$/, '');
      const points = parseMountinfo(await readFile(mountinfo, 'utf8'));
      return points.filter((p) => p === base || p.startsWith(base + '/')).sort((a, b) => b.length - a.length);
    },
  };
}
