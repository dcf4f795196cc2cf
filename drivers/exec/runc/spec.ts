// ContainerSpec → OCI runtime config.json, as Docker builds it (defaults of moby's oci package: the
// capability set, mounts, masked and read-only paths, device rules). PURE: the user is resolved by
// the caller (user.ts), and nothing here reads or writes a file.
import { posix } from 'node:path';
import type { ContainerResources, ContainerSpec, ProcessSpec, UserMount } from '../../handlers.js';
import { invalidParameter } from '../../errors.js';
import { safeId } from '../../names.js';
import type { ResolvedUser } from './user.js';
import { parseUserSpec } from './user.js';
import { signalNumber } from './signals.js';

export const OCI_VERSION = '1.0.2';

/** Docker's default capabilities (moby oci/caps DefaultCapabilities). */
export const DEFAULT_CAPS = [
  'CAP_CHOWN',
  'CAP_DAC_OVERRIDE',
  'CAP_FSETID',
  'CAP_FOWNER',
  'CAP_MKNOD',
  'CAP_NET_RAW',
  'CAP_SETGID',
  'CAP_SETUID',
  'CAP_SETFCAP',
  'CAP_SETPCAP',
  'CAP_NET_BIND_SERVICE',
  'CAP_SYS_CHROOT',
  'CAP_KILL',
  'CAP_AUDIT_WRITE',
] as const;

/** Docker 28's masked paths. */
export const MASKED_PATHS = [
  '/proc/acpi',
  '/proc/asound',
  '/proc/interrupts',
  '/proc/kcore',
  '/proc/keys',
  '/proc/latency_stats',
  '/proc/sched_debug',
  '/proc/scsi',
  '/proc/timer_list',
  '/proc/timer_stats',
  '/sys/devices/virtual/powercap',
  '/sys/firmware',
] as const;

export const READONLY_PATHS = ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'] as const;

/** Docker's NOFILE for containers (what dockerd's containerd hands down), when the daemon's own hard
 *  limit allows it: without CAP_SYS_RESOURCE a hard limit cannot be raised. */
export const NOFILE = 1048576;

/** The container's NOFILE from the daemon's hard limit (/proc/self/limits "Max open files"). */
export function nofileFor(daemonHard: number | undefined): number {
  return daemonHard === undefined || !Number.isFinite(daemonHard) ? NOFILE : Math.min(NOFILE, daemonHard);
}

/** The hard "Max open files" of a /proc/<pid>/limits text; undefined if absent or unlimited. */
export function parseNofileHard(limits: string | undefined): number | undefined {
  const m = limits && /^Max open files\s+\S+\s+(\d+)/m.exec(limits);
  return m ? Number(m[1]) : undefined;
}

export const DEFAULT_PATH = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

export interface OciMount {
  destination: string;
  type: string;
  source: string;
  options: string[];
}

export interface OciDeviceRule {
  allow: boolean;
  type?: 'a' | 'b' | 'c';
  major?: number;
  minor?: number;
  access?: string;
}

export interface OciConfig {
  ociVersion: string;
  process: {
    terminal: boolean;
    consoleSize?: { height: number; width: number };
    user: { uid: number; gid: number; additionalGids: number[] };
    args: string[];
    env: string[];
    cwd: string;
    capabilities: { bounding: string[]; effective: string[]; permitted: string[] };
    rlimits: { type: string; hard: number; soft: number }[];
    noNewPrivileges: boolean;
  };
  root: { path: string; readonly: boolean };
  hostname: string;
  mounts: OciMount[];
  linux: {
    namespaces: { type: string; path?: string }[];
    rootfsPropagation?: string;
    sysctl?: Record<string, string>;
    cgroupsPath: string;
    resources: { devices: OciDeviceRule[] } & ContainerResources;
    maskedPaths: string[];
    readonlyPaths: string[];
  };
}

const c = (major: number, minor: number | undefined): OciDeviceRule => ({
  allow: true,
  type: 'c',
  major,
  ...(minor === undefined ? {} : { minor }),
  access: 'rwm',
});

/** Docker's device cgroup rules: deny all, mknod of any, the usual character devices. */
export const DEVICE_RULES: OciDeviceRule[] = [
  { allow: false, access: 'rwm' },
  { allow: true, type: 'c', access: 'm' },
  { allow: true, type: 'b', access: 'm' },
  c(1, 3), // null
  c(1, 8), // random
  c(1, 7), // full
  c(5, 0), // tty
  c(1, 5), // zero
  c(1, 9), // urandom
  c(5, 1), // console
  c(136, undefined), // pts
  c(5, 2), // ptmx
  c(10, 200), // tun
];

/** The `oom_kill N` count of a cgroup v1 memory.oom_control or v2 memory.events text (0 if absent). */
export function parseOomKill(text: string): number {
  const m = /^oom_kill (\d+)$/m.exec(text);
  return m ? Number(m[1]) : 0;
}

/** The cgroup of a container: flat under each hierarchy's root, named with berth's prefix, so a
 *  deleted container leaves no directory behind (not even a parent). */
export function cgroupsPath(prefix: string, id: string): string {
  return `/${prefix}-${safeId(id)}`;
}

function checkPath(what: string, p: string): void {
  if (typeof p !== 'string' || !p.startsWith('/') || p.length > 4000 || /[\0\n]/.test(p) || posix.normalize(p) !== p || (p !== '/' && p.endsWith('/')))
    throw invalidParameter(`${what} must be a clean absolute path, got "${p}"`);
}

const HOSTNAME_RE = /^[A-Za-z0-9]([A-Za-z0-9.-]{0,62})?$/;

/** Everything checked before the first side effect. Throws invalid_parameter. */
export function validateSpec(spec: ContainerSpec): void {
  safeId(spec.container.id);
  if (!HOSTNAME_RE.test(spec.hostname)) throw invalidParameter(`invalid hostname "${spec.hostname}"`);
  checkPath('rootfs', spec.rootfs);
  if (spec.rootfs === '/') throw invalidParameter('rootfs must not be the host root');
  if (spec.netnsPath !== undefined) checkPath('netns path', spec.netnsPath);
  checkPath('bundle dir', spec.bundleDir);
  if (spec.bundleDir === '/') throw invalidParameter('bundle dir must not be /');
  checkPath('log path', spec.logPath);
  // conmon splits --log-path at ':' (driver:path)
  if (spec.logPath.includes(':')) throw invalidParameter(`log path must not contain ":": ${spec.logPath}`);
  checkPath('hosts file', spec.files.hosts);
  checkPath('resolv.conf file', spec.files.resolvConf);
  checkPath('hostname file', spec.files.hostname);
  signalNumber(spec.stopSignal);
  validateProcess(spec.process);
  validateMounts(spec.mounts ?? []);
  if (spec.resources) validateResources(spec.resources);
}

const CPU_LIST_RE = /^\d+(-\d+)?(,\d+(-\d+)?)*$/;

/** cgroup limits: whole numbers in range, cpusets as lists (the daemon checked them against the host). */
export function validateResources(r: ContainerResources): void {
  const whole = (what: string, v: number | undefined, min: number, max = Number.MAX_SAFE_INTEGER) => {
    if (v !== undefined && (!Number.isSafeInteger(v) || v < min || v > max)) throw invalidParameter(`invalid ${what} ${v}`);
  };
  whole('memory limit', r.memory?.limit, 1);
  whole('memory+swap limit', r.memory?.swap, -1);
  whole('memory reservation', r.memory?.reservation, 1);
  whole('cpu shares', r.cpu?.shares, 0, 262144);
  whole('cpu quota', r.cpu?.quota, -1);
  whole('cpu period', r.cpu?.period, 1000, 1000000);
  if (r.pids) whole('pids limit', r.pids.limit, 1);
  for (const [what, v] of [['cpuset cpus', r.cpu?.cpus], ['cpuset mems', r.cpu?.mems]] as const)
    if (v !== undefined && !CPU_LIST_RE.test(v)) throw invalidParameter(`invalid ${what} "${v}"`);
}

/** linux.resources: Docker's device rules, then the limits (only those set). */
export function ociResources(r: ContainerResources | undefined): OciConfig['linux']['resources'] {
  const out: OciConfig['linux']['resources'] = { devices: DEVICE_RULES.map((d) => ({ ...d })) };
  if (r?.memory) out.memory = { ...r.memory };
  if (r?.cpu) out.cpu = { ...r.cpu };
  if (r?.pids) out.pids = { ...r.pids };
  return out;
}

const PROPAGATIONS = ['private', 'rprivate', 'shared', 'rshared', 'slave', 'rslave'];
const MOUNT_OPTION_RE = /^[A-Za-z0-9_]+(=[A-Za-z0-9_.:\/+-]+)?$/;

/** The user's mounts: clean absolute paths, one mount per destination, known options only. */
export function validateMounts(mounts: UserMount[]): void {
  const seen = new Set<string>();
  for (const m of mounts) {
    checkPath('mount destination', m.destination);
    if (m.destination === '/') throw invalidParameter("invalid specification: destination can't be '/'");
    if (seen.has(m.destination)) throw invalidParameter(`Duplicate mount point: ${m.destination}`);
    seen.add(m.destination);
    if (m.type === 'bind') {
      checkPath('bind source', m.source);
      if (!PROPAGATIONS.includes(m.propagation)) throw invalidParameter(`invalid propagation mode: ${m.propagation}`);
    } else if (m.type === 'tmpfs') {
      for (const o of m.options) if (!MOUNT_OPTION_RE.test(o)) throw invalidParameter(`invalid tmpfs option "${o}"`);
    } else {
      throw invalidParameter(`unknown mount type "${(m as { type: unknown }).type}"`);
    }
  }
}

/** Path depth, as dockerd sorts mounts: `/a` 1, `/a/b` 2. */
const depth = (p: string) => p.split('/').length - 1;

/** The OCI mounts after the defaults: berth's own files and the user's mounts, parents before
 *  children (a stable sort on depth, as dockerd's), a user mount replacing berth's file of the same
 *  destination. Also the rootfs propagation a shared or slave bind needs (as dockerd sets it). */
export function userMounts(spec: ContainerSpec): { mounts: OciMount[]; rootfsPropagation?: string } {
  const user = spec.mounts ?? [];
  const bind = (destination: string, source: string): OciMount => ({ destination, type: 'bind', source, options: ['rbind', 'rprivate'] });
  const own = [bind('/etc/resolv.conf', spec.files.resolvConf), bind('/etc/hostname', spec.files.hostname), bind('/etc/hosts', spec.files.hosts)];
  const taken = new Set(user.map((m) => m.destination));
  let rootfsPropagation: string | undefined;
  const mine = user.map((m): OciMount => {
    if (m.type === 'tmpfs') return { destination: m.destination, type: 'tmpfs', source: 'tmpfs', options: [...m.options] };
    if (m.propagation === 'shared' || m.propagation === 'rshared') rootfsPropagation = 'shared';
    else if ((m.propagation === 'slave' || m.propagation === 'rslave') && rootfsPropagation === undefined) rootfsPropagation = 'rslave';
    return { destination: m.destination, type: 'bind', source: m.source, options: [m.recursive === false ? 'bind' : 'rbind', m.propagation, ...(m.readonly ? ['ro'] : [])] };
  });
  const all = [...own.filter((o) => !taken.has(o.destination)), ...mine];
  // Array.prototype.sort is stable: equal depths keep berth's files first, then the user's order.
  all.sort((a, b) => depth(a.destination) - depth(b.destination));
  return { mounts: all, ...(rootfsPropagation ? { rootfsPropagation } : {}) };
}

/** The process part alone (also what `docker exec` runs). */
export function validateProcess(p: ProcessSpec): void {
  if (!Array.isArray(p.args) || p.args.length === 0 || p.args[0] === '') throw invalidParameter('No command specified');
  for (const a of p.args) if (typeof a !== 'string' || a.includes('\0')) throw invalidParameter('a command argument holds a NUL byte');
  for (const e of p.env) {
    if (typeof e !== 'string' || e.includes('\0')) throw invalidParameter('an environment entry holds a NUL byte');
    if (e.indexOf('=') < 1) throw invalidParameter(`invalid environment variable: ${e}`);
  }
  if (typeof p.cwd !== 'string' || !p.cwd.startsWith('/')) throw invalidParameter(`the working directory '${p.cwd}' is invalid, it needs to be an absolute path`);
  checkPath('working directory', posix.normalize(p.cwd).replace(/(.)\/$/, '$1'));
  parseUserSpec(p.user);
  const cs = p.consoleSize;
  if (cs !== undefined && ![cs.height, cs.width].every((v) => Number.isInteger(v) && v >= 0 && v <= 65535))
    throw invalidParameter(`invalid console size ${cs.height}x${cs.width}`);
}

/** Add the environment Docker's runtime side adds when absent: PATH, HOSTNAME, TERM (TTY), HOME. */
export function processEnv(spec: { hostname: string; process: ProcessSpec }, user: ResolvedUser): string[] {
  const env = [...spec.process.env];
  const has = (k: string) => env.some((e) => e.startsWith(`${k}=`));
  if (!has('PATH')) env.unshift(DEFAULT_PATH);
  if (!has('HOSTNAME')) env.push(`HOSTNAME=${spec.hostname}`);
  if (spec.process.tty && !has('TERM')) env.push('TERM=xterm');
  if (!has('HOME')) env.push(`HOME=${user.home}`);
  return env;
}

/** config.json's `process` (and what `runc exec --process` takes). */
export function buildProcess(process: ProcessSpec, hostname: string, user: ResolvedUser, nofile: number): OciConfig['process'] {
  const caps = [...DEFAULT_CAPS];
  return {
    terminal: process.tty,
    ...(process.tty && process.consoleSize && (process.consoleSize.height > 0 || process.consoleSize.width > 0)
      ? { consoleSize: { height: process.consoleSize.height, width: process.consoleSize.width } }
      : {}),
    user: { uid: user.uid, gid: user.gid, additionalGids: user.additionalGids },
    args: [...process.args],
    env: processEnv({ hostname, process }, user),
    cwd: posix.normalize(process.cwd),
    capabilities: { bounding: caps, effective: caps, permitted: caps },
    rlimits: [{ type: 'RLIMIT_NOFILE', hard: nofile, soft: nofile }],
    noNewPrivileges: false,
  };
}

export interface BuildOptions {
  /** berth's name prefix (in the cgroup path). */
  prefix: string;
  /** RLIMIT_NOFILE, soft = hard (see nofileFor). */
  nofile: number;
}

/** The config.json of a container. */
export function buildConfig(spec: ContainerSpec, user: ResolvedUser, opts: BuildOptions): OciConfig {
  const extra = userMounts(spec);
  // a user mount on a default's destination replaces it; one on /dev replaces everything under /dev
  const userDests = new Set((spec.mounts ?? []).map((m) => m.destination));
  const keep = (m: OciMount) => !userDests.has(m.destination) && !(userDests.has('/dev') && m.destination.startsWith('/dev/'));
  const namespaces: { type: string; path?: string }[] = [{ type: 'pid' }, { type: 'ipc' }, { type: 'uts' }, { type: 'mount' }];
  if (spec.netnsPath !== undefined) namespaces.push({ type: 'network', path: spec.netnsPath });
  return {
    ociVersion: OCI_VERSION,
    process: buildProcess(spec.process, spec.hostname, user, opts.nofile),
    root: { path: spec.rootfs, readonly: false },
    hostname: spec.hostname,
    mounts: [
      ...[
        { destination: '/proc', type: 'proc', source: 'proc', options: ['nosuid', 'noexec', 'nodev'] },
        { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
        { destination: '/dev/pts', type: 'devpts', source: 'devpts', options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'] },
        { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] },
        { destination: '/sys/fs/cgroup', type: 'cgroup', source: 'cgroup', options: ['ro', 'nosuid', 'noexec', 'nodev'] },
        { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
        { destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=65536k'] },
      ].filter(keep),
      ...extra.mounts,
    ],
    linux: {
      namespaces,
      ...(extra.rootfsPropagation ? { rootfsPropagation: extra.rootfsPropagation } : {}),
      // As Docker, in a netns of the container's own: unprivileged ping and low ports.
      ...(spec.netnsPath !== undefined
        ? { sysctl: { 'net.ipv4.ip_unprivileged_port_start': '0', 'net.ipv4.ping_group_range': '0 2147483647' } }
        : {}),
      cgroupsPath: cgroupsPath(opts.prefix, spec.container.id),
      resources: ociResources(spec.resources),
      maskedPaths: [...MASKED_PATHS],
      readonlyPaths: [...READONLY_PATHS],
    },
  };
}
