// docker top: the processes of a container in `ps -ef` columns, read from /proc (no ps run): the
// container's processes are those in its init's pids (or memory) cgroup. Only the default format
// is served; other ps arguments are refused. Parsers are pure.
import type { ReadText } from './stats.js';
import { parseProcCgroup } from './stats.js';
import { invalidParameter } from '../../drivers/errors.js';
import { readdir } from 'node:fs/promises';

export const TOP_TITLES = ['UID', 'PID', 'PPID', 'C', 'STIME', 'TTY', 'TIME', 'CMD'];

export interface TopEnv {
  read: ReadText;
  listDir(path: string): Promise<string[]>;
  procRoot: string;
  cgroupRoot: string;
  clockTicks: number;
  now(): Date;
}

export function hostTopEnv(read: ReadText): TopEnv {
  return {
    read,
    listDir: (p) => readdir(p).catch(() => []),
    procRoot: '/proc',
    cgroupRoot: '/sys/fs/cgroup',
    clockTicks: 100,
    now: () => new Date(),
  };
}

/** ps arguments berth serves: none, or the default's spellings. */
export function checkPsArgs(psArgs: string | undefined): void {
  const a = (psArgs ?? '').trim();
  if (a === '' || a === '-ef' || a === '-e -f' || a === '-fe' || a === 'ef' || a === '-f -e') return;
  throw invalidParameter(`berth's top shows ps -ef columns only; ps options "${a}" are not supported`);
}

export interface ProcStat {
  pid: number;
  comm: string;
  ppid: number;
  ttyNr: number;
  utime: number;
  stime: number;
  /** Clock ticks after boot. */
  starttime: number;
}

/** /proc/<pid>/stat; the command name may hold spaces and parentheses. */
export function parseProcStat(text: string): ProcStat | undefined {
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  if (open < 0 || close < open) return undefined;
  const f = text.slice(close + 2).trim().split(/\s+/);
  // fields after comm, 0-based: state(0) ppid(1) pgrp sess tty_nr(4) … utime(11) stime(12) … starttime(19)
  if (f.length < 20) return undefined;
  return {
    pid: Number(text.slice(0, open).trim()),
    comm: text.slice(open + 1, close),
    ppid: Number(f[1]),
    ttyNr: Number(f[4]),
    utime: Number(f[11]),
    stime: Number(f[12]),
    starttime: Number(f[19]),
  };
}

/** tty_nr → "pts/3", "tty1" or "?" (as ps). */
export function ttyName(ttyNr: number): string {
  if (!ttyNr) return '?';
  const major = (ttyNr >> 8) & 0xfff;
  const minor = (ttyNr & 0xff) | ((ttyNr >> 12) & 0xfff00);
  if (major >= 136 && major <= 143) return `pts/${minor + (major - 136) * 256}`;
  if (major === 4 && minor < 64) return `tty${minor}`;
  if (major === 4) return `ttyS${minor - 64}`;
  return '?';
}

/** Cumulative CPU time as ps: [DD-]HH:MM:SS. */
export function cpuTime(seconds: number): string {
  const s = Math.floor(seconds);
  const days = Math.floor(s / 86400);
  const hh = String(Math.floor((s % 86400) / 3600)).padStart(2, '0');
  const mm = String(Math.floor((s % 3600) / 60)).padStart(2, '0');
  const ss = String(s % 60).padStart(2, '0');
  return `${days ? `${days}-` : ''}${hh}:${mm}:${ss}`;
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** Start time as ps: HH:MM within a day, MonDD within a year, else the year. */
export function startTime(start: Date, now: Date): string {
  const age = now.getTime() - start.getTime();
  if (age < 24 * 3600_000) return `${String(start.getHours()).padStart(2, '0')}:${String(start.getMinutes()).padStart(2, '0')}`;
  if (start.getFullYear() === now.getFullYear()) return `${MONTHS[start.getMonth()]}${String(start.getDate()).padStart(2, '0')}`;
  return String(start.getFullYear());
}

/** uid → user name from a passwd text (the host's, as ps shows it); the number when unknown. */
export function userName(passwd: string | undefined, uid: number): string {
  for (const line of (passwd ?? '').split('\n')) {
    const f = line.split(':');
    if (f.length >= 3 && Number(f[2]) === uid && f[0]) return f[0];
  }
  return String(uid);
}

/** The container's processes (pid order) in `ps -ef` rows; [] when its init is gone. */
export async function top(env: TopEnv, initPid: number): Promise<{ Titles: string[]; Processes: string[][] }> {
  const pids = await containerPids(env, initPid);
  const [procStat, passwd, uptime] = await Promise.all([env.read(`${env.procRoot}/stat`), env.read('/etc/passwd'), env.read(`${env.procRoot}/uptime`)]);
  const btimeLine = procStat?.split('\n').find((l) => l.startsWith('btime '));
  const now = env.now();
  const bootMs = btimeLine ? Number(btimeLine.split(/\s+/)[1]) * 1000 : now.getTime() - Number((uptime ?? '0').split(' ')[0]) * 1000;
  const rows: string[][] = [];
  for (const pid of pids) {
    const [statText, status, cmdline] = await Promise.all([
      env.read(`${env.procRoot}/${pid}/stat`),
      env.read(`${env.procRoot}/${pid}/status`),
      env.read(`${env.procRoot}/${pid}/cmdline`),
    ]);
    const st = statText ? parseProcStat(statText) : undefined;
    if (!st) continue; // exited meanwhile
    const uidLine = status?.split('\n').find((l) => l.startsWith('Uid:'));
    const euid = uidLine ? Number(uidLine.split(/\s+/)[2]) : 0;
    const startMs = bootMs + (st.starttime / env.clockTicks) * 1000;
    const cpuSeconds = (st.utime + st.stime) / env.clockTicks;
    const elapsed = Math.max(1e-3, (now.getTime() - startMs) / 1000);
    const args = (cmdline ?? '').split('\0').filter((a, i, all) => a !== '' || i < all.length - 1);
    rows.push([
      userName(passwd, euid),
      String(st.pid),
      String(st.ppid),
      String(Math.min(99, Math.floor((cpuSeconds / elapsed) * 100))),
      startTime(new Date(startMs), now),
      ttyName(st.ttyNr),
      cpuTime(cpuSeconds),
      args.length ? args.join(' ') : `[${st.comm}]`,
    ]);
  }
  return { Titles: [...TOP_TITLES], Processes: rows };
}

/** Pids in the init's pids cgroup (or memory, or v2 group), sorted; just the init if none is found. */
export async function containerPids(env: TopEnv, initPid: number): Promise<number[]> {
  const groups = parseProcCgroup((await env.read(`${env.procRoot}/${initPid}/cgroup`)) ?? '');
  if (groups.size === 0) return [];
  for (const [ctrl, dir] of [['pids', 'pids'], ['memory', 'memory'], ['', 'unified']] as const) {
    const p = groups.get(ctrl);
    if (p === undefined || p === '/') continue;
    const text = (await env.read(`${env.cgroupRoot}/${dir}${p}/cgroup.procs`)) ?? (ctrl === '' ? await env.read(`${env.cgroupRoot}${p}/cgroup.procs`) : undefined);
    if (text === undefined) continue;
    const pids = text.split('\n').filter((l) => /^\d+$/.test(l.trim())).map(Number);
    if (pids.length) return pids.sort((a, b) => a - b);
  }
  return [initPid];
}
