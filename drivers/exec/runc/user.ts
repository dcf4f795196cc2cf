// Docker's `-u` against the container's own /etc/passwd and /etc/group. PURE: the caller reads the
// files (inside the rootfs, symlinks clamped to it) and passes their text. Follows Docker's rules:
// a name must exist; a numeric uid need not; supplementary groups are those listing the user.
import { invalidParameter } from '../../errors.js';

export interface ResolvedUser {
  uid: number;
  gid: number;
  /** Supplementary groups (Docker: the groups naming the user, or just the primary gid). */
  additionalGids: number[];
  /** The passwd entry's home, for HOME when the environment has none. */
  home: string;
}

export interface UserSpec {
  user: string; // name or numeric uid
  group: string | undefined; // name or numeric gid
}

const MAX_ID = 2 ** 31 - 1;
const NAME_RE = /^[A-Za-z0-9_.][A-Za-z0-9_.-]*\$?$/;

/** Split and check `-u`: "", "u", "u:g". Throws invalid_parameter on anything else. */
export function parseUserSpec(spec: string): UserSpec {
  if (spec === '') return { user: '0', group: undefined };
  const parts = spec.split(':');
  if (parts.length > 2) throw invalidParameter(`invalid user "${spec}": want user[:group]`);
  const [user = '', group] = parts;
  for (const [what, v] of [['user', user], ['group', group]] as const) {
    if (v === undefined) continue;
    if (v === '' || v.length > 256 || !(isNumeric(v) || NAME_RE.test(v))) throw invalidParameter(`invalid ${what} "${v}" in "${spec}"`);
    if (isNumeric(v) && Number(v) > MAX_ID) throw invalidParameter(`${what} id ${v} is out of range`);
  }
  return { user, group };
}

/** True when resolving needs no file: numeric uid and gid ("1000:1000"). */
export function needsLookup(spec: string): boolean {
  const { user, group } = parseUserSpec(spec);
  return !(isNumeric(user) && group !== undefined && isNumeric(group));
}

interface PasswdEntry {
  name: string;
  uid: number;
  gid: number;
  home: string;
}
interface GroupEntry {
  name: string;
  gid: number;
  members: string[];
}

export function parsePasswd(text: string): PasswdEntry[] {
  const out: PasswdEntry[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const f = line.split(':');
    if (f.length < 7) continue;
    const uid = Number(f[2]);
    const gid = Number(f[3]);
    if (!Number.isInteger(uid) || !Number.isInteger(gid) || f[2] === '' || f[3] === '') continue;
    out.push({ name: f[0]!, uid, gid, home: f[5] || '/' });
  }
  return out;
}

export function parseGroup(text: string): GroupEntry[] {
  const out: GroupEntry[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const f = line.split(':');
    if (f.length < 4) continue;
    const gid = Number(f[2]);
    if (!Number.isInteger(gid) || f[2] === '') continue;
    out.push({ name: f[0]!, gid, members: f[3]!.split(',').filter(Boolean) });
  }
  return out;
}

/**
 * Resolve `spec` with the rootfs's passwd and group texts (undefined: the file does not exist).
 * Errors carry Docker's wording: "unable to find user x: no matching entries in passwd file".
 */
export function resolveUser(spec: string, files: { passwd?: string | undefined; group?: string | undefined }): ResolvedUser {
  const { user, group } = parseUserSpec(spec);
  const passwd = files.passwd === undefined ? [] : parsePasswd(files.passwd);
  const groups = files.group === undefined ? [] : parseGroup(files.group);

  let uid: number;
  let gid = 0;
  let home = '/';
  let name: string | undefined;
  const byName = isNumeric(user) ? undefined : passwd.find((p) => p.name === user);
  const entry = byName ?? (isNumeric(user) ? passwd.find((p) => p.uid === Number(user)) : undefined);
  if (isNumeric(user)) {
    uid = Number(user);
  } else if (byName) {
    uid = byName.uid;
  } else {
    throw invalidParameter(`unable to find user ${user}: no matching entries in passwd file`);
  }
  if (entry) {
    gid = entry.gid;
    home = entry.home;
    name = entry.name;
  } else if (uid === 0) {
    home = '/root';
  }

  let explicitGroup = false;
  if (group !== undefined) {
    explicitGroup = true;
    if (isNumeric(group)) gid = Number(group);
    else {
      const g = groups.find((x) => x.name === group);
      if (!g) throw invalidParameter(`unable to find group ${group}: no matching entries in group file`);
      gid = g.gid;
    }
  }

  // Docker: the groups that list the user by name; with none (or an explicit group), the primary gid.
  const supplementary = name !== undefined && !explicitGroup ? groups.filter((g) => g.members.includes(name!)).map((g) => g.gid) : [];
  const additionalGids = supplementary.length > 0 ? uniq([gid, ...supplementary]) : [gid];
  return { uid, gid, additionalGids, home };
}

function isNumeric(s: string): boolean {
  return /^\d+$/.test(s);
}

function uniq(xs: number[]): number[] {
  return [...new Set(xs)];
}
