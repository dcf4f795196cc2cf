// Bind mounts and tmpfs mounts of a container: HostConfig.Binds (`-v SRC:DST[:OPTS]`),
// HostConfig.Mounts (`--mount`, types bind and tmpfs) and HostConfig.Tmpfs (`--tmpfs DST[:OPTS]`),
// checked as dockerd 28 checks them and with its messages. PURE: the one host question (does a
// `--mount` bind source exist?) is asked through `exists`. Volumes (named or anonymous) are refused.
import { posix } from 'node:path';
import { invalidParameter } from '../../drivers/errors.js';
import type { UserMount } from '../../drivers/handlers.js';

export type Propagation = 'private' | 'rprivate' | 'shared' | 'rshared' | 'slave' | 'rslave';
const PROPAGATIONS: readonly string[] = ['private', 'rprivate', 'shared', 'rshared', 'slave', 'rslave'];

/** HostConfig.Mounts[i] as the API takes it (Docker's mount.Mount). */
export interface MountWire {
  Type?: string;
  Source?: string;
  Target?: string;
  ReadOnly?: boolean;
  Consistency?: string;
  BindOptions?: {
    Propagation?: string;
    NonRecursive?: boolean;
    CreateMountpoint?: boolean;
    ReadOnlyNonRecursive?: boolean;
    ReadOnlyForceRecursive?: boolean;
  } | null;
  VolumeOptions?: Record<string, unknown> | null;
  ImageOptions?: Record<string, unknown> | null;
  TmpfsOptions?: { SizeBytes?: number; Mode?: number; Options?: string[][] | null } | null;
  ClusterOptions?: Record<string, unknown> | null;
}

/** One mount of a container as the record keeps it (dockerd's MountPoint, the part berth uses). */
export interface MountPoint {
  type: 'bind' | 'tmpfs';
  /** Host path (bind); '' for tmpfs. */
  source: string;
  /** Clean absolute path in the container. */
  destination: string;
  rw: boolean;
  /** `-v`'s options as written ('' otherwise): inspect's Mode. */
  mode: string;
  /** Bind: as asked or rprivate; '' for tmpfs. */
  propagation: Propagation | '';
  /** Bind: false for a non-recursive bind. */
  recursive?: boolean;
  /** Bind from `-v` (or `--mount … bind-create-mountpoint`): a missing source becomes a directory at start. */
  createSource?: boolean;
  /** Tmpfs: the mount options, complete. */
  options?: string[];
  /** Where it was asked: HostConfig.Tmpfs ones are not listed in inspect's Mounts (as dockerd). */
  origin: 'binds' | 'mounts' | 'tmpfs';
}

export interface MountInput {
  Binds?: string[] | null;
  Mounts?: MountWire[] | null;
  Tmpfs?: Record<string, string> | null;
}

// ---- -v / HostConfig.Binds -----------------------------------------------------------------

const RW_MODES = new Set(['rw', 'ro']);
const LABEL_MODES = new Set(['z', 'Z']);
const COPY_MODES = new Set(['nocopy']);
const CONSISTENCY_MODES = new Set(['consistent', 'cached', 'delegated']);

/** dockerd's check of a `-v` mode: known words, at most one of each kind. */
export function validMountMode(mode: string): boolean {
  if (mode === '') return true;
  const counts = [0, 0, 0, 0, 0];
  for (const o of mode.split(',')) {
    const kind = RW_MODES.has(o) ? 0 : LABEL_MODES.has(o) ? 1 : PROPAGATIONS.includes(o) ? 2 : COPY_MODES.has(o) ? 3 : CONSISTENCY_MODES.has(o) ? 4 : -1;
    if (kind < 0) return false;
    counts[kind]!++;
  }
  return counts.every((n) => n <= 1);
}

const invalidSpec = (raw: string) => `invalid volume specification: '${raw}'`;
const mountConfig = (type: string, why: string) => `invalid mount config for type "${type}": ${why}`;
const absoluteMsg = (p: string) => `invalid mount path: '${p}' mount path must be absolute`;
const ROOT_MSG = "invalid specification: destination can't be '/'";

/** The reason a mount target is refused, or undefined (dockerd: not '/', absolute). */
function targetProblem(p: string): string | undefined {
  if (posix.normalize(p.replaceAll('\\', '/')).replace(/(.)\/+$/, '$1') === '/') return ROOT_MSG;
  if (!p.replaceAll('\\', '/').startsWith('/')) return absoluteMsg(p);
  return undefined;
}

function checkNul(what: string, p: string): void {
  if (p.includes('\0') || p.includes('\n')) throw invalidParameter(`invalid ${what}: it holds a NUL or newline character`);
}

/** Go's path.Clean for an absolute path. */
function clean(p: string): string {
  const n = posix.normalize(p);
  return n.length > 1 ? n.replace(/\/+$/, '') : n;
}

/** One `-v SRC:DST[:OPTS]` entry (dockerd's ParseMountRaw for Linux; binds only). */
export function parseBind(raw: string): MountPoint {
  const arr = raw.split(':');
  const parts = arr.length > 4 ? [...arr.slice(0, 3), arr.slice(3).join(':')] : arr;
  if (parts[0] === '') throw invalidParameter(invalidSpec(raw));
  let source = '';
  let target: string;
  let mode = '';
  switch (parts.length) {
    case 1:
      throw invalidParameter(`berth does not support volumes yet (-v ${raw})`);
    case 2:
      if (validMountMode(parts[1]!)) throw invalidParameter(invalidSpec(raw));
      [source, target] = parts as [string, string];
      break;
    case 3:
      [source, target, mode] = parts as [string, string, string];
      break;
    default:
      throw invalidParameter(invalidSpec(raw));
  }
  if (!validMountMode(mode)) throw invalidParameter(`invalid mode: ${mode}`);
  if (!source.startsWith('/')) throw invalidParameter(`berth does not support named volumes yet (-v ${source}:${target})`);
  checkNul('volume specification', raw);
  const opts = mode === '' ? [] : mode.split(',');
  const fail = (why: string) => invalidParameter(`${invalidSpec(raw)}: ${mountConfig('bind', why)}`);
  if (target === '') throw fail('field Target must not be empty');
  const bad = targetProblem(target);
  if (bad) throw fail(bad);
  if (opts.includes('nocopy')) throw fail('field VolumeOptions must not be specified');
  return {
    type: 'bind',
    source: clean(source),
    destination: clean(target),
    rw: !opts.includes('ro'),
    mode,
    propagation: (opts.find((o) => PROPAGATIONS.includes(o)) as Propagation | undefined) ?? 'rprivate',
    createSource: true,
    origin: 'binds',
  };
}

// ---- --mount / HostConfig.Mounts -----------------------------------------------------------

/** Go's %o of a file mode. */
const octal = (n: number) => n.toString(8);

/** dockerd's ConvertTmpfsOptions: a --mount tmpfs's options as mount data. */
function tmpfsData(o: MountWire['TmpfsOptions'], readOnly: boolean, fail: (why: string) => Error): string[] {
  const out: string[] = [];
  if (readOnly) out.push('ro');
  if (o?.Mode !== undefined && o.Mode !== 0) {
    if (!Number.isInteger(o.Mode) || o.Mode < 0 || o.Mode > 0o7777) throw fail(`invalid mode: ${o.Mode}`);
    out.push(`mode=${octal(o.Mode)}`);
  }
  if (o?.SizeBytes !== undefined && o.SizeBytes !== 0) {
    if (!Number.isSafeInteger(o.SizeBytes) || o.SizeBytes < 0) throw fail(`invalid size: ${o.SizeBytes}`);
    let size = o.SizeBytes;
    let suffix = '';
    for (const [s, d] of [['g', 2 ** 30], ['m', 2 ** 20], ['k', 2 ** 10]] as const) {
      if (size % d === 0) {
        size /= d;
        suffix = s;
        break;
      }
    }
    out.push(`size=${size}${suffix}`);
  }
  for (const opt of o?.Options ?? []) {
    if (!Array.isArray(opt) || opt.length < 1 || opt.length > 2) throw fail('invalid option array length');
    if (opt[0] !== 'exec' && opt[0] !== 'noexec') throw fail(`invalid option: ${opt[0]}`);
    out.push(opt.length === 1 ? opt[0] : `${opt[0]}=${opt[1]}`);
  }
  return out;
}

/** A short form of a --mount for refusals: `type=volume,source=data,target=/x`. */
function describe(m: MountWire): string {
  return [`type=${m.Type}`, ...(m.Source ? [`source=${m.Source}`] : []), ...(m.Target ? [`target=${m.Target}`] : [])].join(',');
}

const present = (v: unknown) => v !== undefined && v !== null;

/** One HostConfig.Mounts entry (dockerd's ValidateMountConfig + ParseMountSpec), bind or tmpfs. */
export function parseMountSpec(m: MountWire, exists: (path: string) => boolean): MountPoint {
  if (!m || typeof m !== 'object') throw invalidParameter('invalid mount config: a mount must be an object');
  const type = m.Type ?? '';
  const fail = (why: string) => invalidParameter(mountConfig(type, why));
  const target = m.Target ?? '';
  if (typeof target !== 'string' || target === '') throw fail('field Target must not be empty');
  const bad = targetProblem(target);
  if (bad) throw fail(bad);
  checkNul('mount target', target);
  switch (type) {
    case 'bind': {
      const source = m.Source ?? '';
      if (source === '') throw fail('field Source must not be empty');
      const b = m.BindOptions ?? undefined;
      if (b?.Propagation && !PROPAGATIONS.includes(b.Propagation)) throw fail(`invalid propagation mode: ${b.Propagation}`);
      if (present(m.VolumeOptions)) throw fail('field VolumeOptions must not be specified');
      if (!source.startsWith('/')) throw fail(absoluteMsg(source));
      checkNul('mount source', source);
      if (b?.ReadOnlyForceRecursive) throw invalidParameter('berth does not support recursively read-only mounts (bind-recursive=readonly)');
      const create = Boolean(b?.CreateMountpoint);
      if (!create && !exists(source)) throw fail(`bind source path does not exist: ${source}`);
      return {
        type: 'bind',
        source: clean(source),
        destination: clean(target),
        rw: !m.ReadOnly,
        mode: '',
        propagation: (b?.Propagation as Propagation | undefined) || 'rprivate',
        ...(b?.NonRecursive ? { recursive: false } : {}),
        ...(create ? { createSource: true } : {}),
        origin: 'mounts',
      };
    }
    case 'tmpfs': {
      if (present(m.BindOptions)) throw fail('field BindOptions must not be specified');
      if (m.Source) throw fail('field Source must not be specified');
      const data = tmpfsData(m.TmpfsOptions, Boolean(m.ReadOnly), fail);
      return {
        type: 'tmpfs',
        source: '',
        destination: clean(target),
        rw: !m.ReadOnly,
        mode: '',
        propagation: '',
        options: mergeTmpfsOptions([...TMPFS_DEFAULTS, ...data]),
        origin: 'mounts',
      };
    }
    case 'volume':
      throw invalidParameter(`berth does not support ${m.Source ? 'named volumes' : 'volumes'} yet (--mount ${describe(m)})`);
    case 'image':
    case 'npipe':
    case 'cluster':
      throw invalidParameter(`berth does not support mounts of type "${type}" (--mount ${describe(m)})`);
    default:
      throw fail('mount type unknown');
  }
}

// ---- --tmpfs / HostConfig.Tmpfs ------------------------------------------------------------

/** dockerd's options for every tmpfs a user asks for, before the user's own. */
const TMPFS_DEFAULTS = ['noexec', 'nosuid', 'nodev', 'rprivate'];

/** Mount flags by the bit they set (propagation flags share one key): the later of two wins. */
const FLAG_KEY: Record<string, string> = {
  ro: 'rdonly', rw: 'rdonly', suid: 'nosuid', nosuid: 'nosuid', dev: 'nodev', nodev: 'nodev', exec: 'noexec', noexec: 'noexec',
  sync: 'sync', async: 'sync', dirsync: 'dirsync', remount: 'remount', mand: 'mand', nomand: 'mand', atime: 'noatime',
  noatime: 'noatime', diratime: 'nodiratime', nodiratime: 'nodiratime', bind: 'prop', rbind: 'prop', unbindable: 'prop',
  runbindable: 'prop', private: 'prop', rprivate: 'prop', shared: 'prop', rshared: 'prop', slave: 'prop', rslave: 'prop',
  relatime: 'relatime', norelatime: 'relatime', strictatime: 'strictatime', nostrictatime: 'strictatime',
};
const TMPFS_DATA = new Set(['', 'size', 'mode', 'uid', 'gid', 'nr_inodes', 'nr_blocks', 'mpol']);

/** Go's %q of a []string: `["size" "1m"]`. */
const goQuoted = (a: string[]) => `[${a.map((s) => JSON.stringify(s)).join(' ')}]`;

/** dockerd's MergeTmpfsOptions: one of each flag and of each key=value, the last one winning, in
 *  order. Throws for an option tmpfs does not take. */
export function mergeTmpfsOptions(options: string[]): string[] {
  const seen = new Set<string>();
  const out: string[] = [];
  for (let i = options.length - 1; i >= 0; i--) {
    const o = options[i]!;
    if (o === 'defaults') continue;
    let key = FLAG_KEY[o] !== undefined ? `flag:${FLAG_KEY[o]}` : undefined;
    if (key === undefined) {
      const eq = o.indexOf('=');
      const kv = eq < 0 ? [o] : [o.slice(0, eq), o.slice(eq + 1)];
      if (kv.length !== 2 || !TMPFS_DATA.has(kv[0]!)) throw invalidParameter(`invalid tmpfs option ${goQuoted(kv)}`);
      key = `data:${kv[0]}`;
    }
    if (seen.has(key)) continue;
    seen.add(key);
    out.unshift(o);
  }
  return out;
}

/** One HostConfig.Tmpfs entry. */
export function parseTmpfs(dest: string, data: string): MountPoint {
  const bad = targetProblem(dest);
  if (bad) throw invalidParameter(bad);
  checkNul('tmpfs destination', dest);
  if (typeof data !== 'string') throw invalidParameter(`invalid tmpfs options for ${dest}: must be a string`);
  checkNul('tmpfs options', data);
  const options = mergeTmpfsOptions([...TMPFS_DEFAULTS, ...(data === '' ? [] : data.split(','))]);
  return { type: 'tmpfs', source: '', destination: clean(dest), rw: !options.includes('ro'), mode: '', propagation: '', options, origin: 'tmpfs' };
}

// ---- all of them -----------------------------------------------------------------------------

/** Every user mount of a create request, checked (dockerd's order: Binds, then Mounts; a Binds
 *  destination that HostConfig.Tmpfs also names is a duplicate, and so is any other clash). */
export function parseMounts(hc: MountInput, exists: (path: string) => boolean): MountPoint[] {
  if (hc.Binds !== undefined && hc.Binds !== null && !Array.isArray(hc.Binds)) throw invalidParameter('HostConfig.Binds must be a list of strings');
  if (hc.Mounts !== undefined && hc.Mounts !== null && !Array.isArray(hc.Mounts)) throw invalidParameter('HostConfig.Mounts must be a list');
  const tmpfs = Object.entries(hc.Tmpfs ?? {}).map(([dest, data]) => ({ raw: dest, mp: parseTmpfs(dest, data) }));
  const out: MountPoint[] = [];
  const taken = new Set<string>();
  const add = (mp: MountPoint, raw: string) => {
    if (taken.has(mp.destination)) throw invalidParameter(`Duplicate mount point: ${raw}`);
    taken.add(mp.destination);
    out.push(mp);
  };
  const tmpfsDests = new Set(tmpfs.map((t) => t.mp.destination));
  for (const b of hc.Binds ?? []) {
    if (typeof b !== 'string') throw invalidParameter('HostConfig.Binds must be a list of strings');
    const mp = parseBind(b);
    if (tmpfsDests.has(mp.destination)) throw invalidParameter(`Duplicate mount point: ${mp.destination}`);
    add(mp, mp.destination);
  }
  for (const m of hc.Mounts ?? []) {
    const mp = parseMountSpec(m, exists);
    add(mp, m.Target ?? '');
  }
  for (const t of tmpfs) add(t.mp, t.raw);
  return out;
}

/** HostConfig.Mounts as dockerd keeps and shows it: Docker's fields only, empty ones left out. */
export function normalizeMountWire(m: MountWire): MountWire {
  const out: MountWire = {};
  if (m.Type) out.Type = m.Type;
  if (m.Source) out.Source = m.Source;
  if (m.Target) out.Target = m.Target;
  if (m.ReadOnly) out.ReadOnly = true;
  if (m.Consistency) out.Consistency = m.Consistency;
  if (m.BindOptions) {
    const b = Object.fromEntries(Object.entries(m.BindOptions).filter(([, v]) => v !== undefined && v !== null && v !== '' && v !== false));
    out.BindOptions = b;
  }
  if (m.TmpfsOptions) {
    const t = Object.fromEntries(Object.entries(m.TmpfsOptions).filter(([, v]) => v !== undefined && v !== null && v !== 0 && !(Array.isArray(v) && v.length === 0)));
    out.TmpfsOptions = t;
  }
  return out;
}

/** Inspect's (and the list's) Mounts: binds and --mount tmpfs, as dockerd's MountPoint JSON. */
export function mountsWire(mounts: readonly MountPoint[]): Record<string, unknown>[] {
  return mounts
    .filter((m) => m.origin !== 'tmpfs')
    .map((m) => ({ Type: m.type, Source: m.source, Destination: m.destination, Mode: m.mode, RW: m.rw, Propagation: m.propagation }));
}

/** The record's mounts as the exec driver takes them. */
export function specMounts(mounts: readonly MountPoint[]): UserMount[] {
  return mounts.map((m): UserMount =>
    m.type === 'tmpfs'
      ? { type: 'tmpfs', destination: m.destination, options: [...(m.options ?? [])] }
      : {
          type: 'bind',
          source: m.source,
          destination: m.destination,
          readonly: !m.rw,
          propagation: (m.propagation || 'rprivate') as Propagation,
          ...(m.recursive === false ? { recursive: false } : {}),
          ...(m.createSource ? { createSource: true } : {}),
        },
  );
}
