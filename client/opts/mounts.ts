// `-v/--volume`, `--mount` and `--tmpfs` as docker's CLI 28 parses them (its volumespec parser,
// MountOpt.Set, the --tmpfs split), with its messages. PURE. What the CLI does not check (a
// relative `-v` target, a named volume, tmpfs options) goes to the daemon, as docker's does.
import { UsageError } from '../command.js';
import { ramInBytes as goRamInBytes } from './resources.js';

/** A `-v` value, parsed: a bind or a named volume (→ HostConfig.Binds), or an anonymous volume
 *  (→ Config.Volumes). */
export interface VolumeSpec {
  source: string;
  target: string;
  type: 'bind' | 'volume';
}

const isDriveLetter = (buf: string, ch: string) => ch === ':' && buf.length === 1 && /\p{L}/u.test(buf);

/** docker's volumespec.Parse (the shape only: which field is which). */
export function parseVolumeSpec(spec: string): VolumeSpec {
  const chars = [...spec];
  if (chars.length === 0) throw new UsageError('invalid empty volume spec');
  if (chars.length <= 2) return { source: '', target: spec, type: 'volume' };
  const v = { source: '', target: '' };
  let buf = '';
  const END = '\0end';
  for (const ch of [...chars, END]) {
    if (isDriveLetter(buf, ch)) {
      buf += ch;
    } else if (ch === ':' || ch === END) {
      if (buf === '') throw new UsageError(`invalid spec: ${spec}: empty section between colons`);
      if (v.source === '' && ch === END) v.target = buf;
      else if (v.source === '') v.source = buf;
      else if (v.target === '') v.target = buf;
      else if (ch === ':') throw new UsageError(`invalid spec: ${spec}: too many colons`);
      // a third field holds the options: the daemon checks them
      buf = '';
    } else {
      buf += ch;
    }
  }
  return { ...v, type: v.source !== '' && isFilePath(v.source) ? 'bind' : 'volume' };
}

function isFilePath(source: string): boolean {
  if ('./~'.includes(source[0]!)) return true;
  if ([...source].length === 1) return false;
  if (source.startsWith('\\\\')) return true;
  return isDriveLetter(source[0]!, source[1]!);
}

/** `-v` values → HostConfig.Binds and Config.Volumes, as docker's CLI: a relative source starting
 *  with `.` is made absolute against `cwd`; a value given twice is sent once. */
export function volumeFlags(values: string[], cwd: string): { binds: string[]; volumes: Record<string, object> } {
  const binds: string[] = [];
  const volumes: Record<string, object> = {};
  for (const raw of new Set(values)) {
    const p = parseVolumeSpec(raw);
    if (p.source === '') {
      volumes[raw] = {};
      continue;
    }
    let bind = raw;
    const colon = raw.indexOf(':');
    if (p.type === 'bind' && colon >= 0) {
      const hostPart = raw.slice(0, colon);
      if (!hostPart.startsWith('/') && hostPart.startsWith('.')) bind = `${absolute(cwd, hostPart)}${raw.slice(colon)}`;
    }
    binds.push(bind);
  }
  return { binds, volumes };
}

/** Go's filepath.Abs for a relative path: joined to cwd, cleaned. */
function absolute(cwd: string, rel: string): string {
  const out: string[] = [];
  for (const part of `${cwd}/${rel}`.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') out.pop();
    else out.push(part);
  }
  return `/${out.join('/')}`;
}

// ---- --mount ---------------------------------------------------------------------------------

/** Docker's mount.Mount as its CLI marshals it (empty fields left out). */
export interface MountFlag {
  Type: string;
  Source?: string;
  Target?: string;
  ReadOnly?: boolean;
  Consistency?: string;
  BindOptions?: { Propagation?: string; NonRecursive?: boolean; ReadOnlyNonRecursive?: boolean; ReadOnlyForceRecursive?: boolean };
  VolumeOptions?: { NoCopy?: boolean; Labels?: Record<string, string>; DriverConfig?: { Name?: string; Options?: Record<string, string> }; Subpath?: string };
  ImageOptions?: { Subpath?: string };
  TmpfsOptions?: { SizeBytes?: number; Mode?: number };
}

/** One record of Go's encoding/csv (no lazy quotes): fields split at commas, "…" quoting. */
export function csvFields(line: string): string[] {
  if (line === '') throw new Error('EOF');
  const fields: string[] = [];
  let i = 0;
  for (;;) {
    let field = '';
    if (line[i] === '"') {
      i++;
      for (;;) {
        if (i >= line.length) throw new Error(`parse error on line 1, column ${line.length + 1}: extraneous or missing " in quoted-field`);
        if (line[i] === '"') {
          if (line[i + 1] === '"') {
            field += '"';
            i += 2;
            continue;
          }
          i++;
          break;
        }
        field += line[i++];
      }
      if (i < line.length && line[i] !== ',') throw new Error(`parse error on line 1, column ${i + 1}: extraneous or missing " in quoted-field`);
    } else {
      while (i < line.length && line[i] !== ',') {
        if (line[i] === '"') throw new Error(`parse error on line 1, column ${i + 1}: bare " in non-quoted-field`);
        field += line[i++];
      }
    }
    fields.push(field);
    if (i >= line.length) return fields;
    i++; // the comma
  }
}

/** Go's strconv.ParseBool. */
function parseBool(v: string): boolean | undefined {
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(v)) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(v)) return false;
  return undefined;
}

/** go-units RAMInBytes (resources.ts, as `-m` parses it); undefined for a bad size. */
export function ramInBytes(s: string): number | undefined {
  try {
    return goRamInBytes(s);
  } catch {
    return undefined;
  }
}

/** One `--mount` value (docker's MountOpt.Set); errors in docker's words. */
export function parseMountFlag(value: string): MountFlag {
  // (docker quotes the value as Go's %q does)
  const bad = (why: string) => new UsageError(`invalid argument ${JSON.stringify(value)} for "--mount" flag: ${why}`);
  let fields: string[];
  try {
    fields = csvFields(value);
  } catch (e) {
    throw bad((e as Error).message);
  }
  const m: MountFlag = { Type: 'volume' };
  const bindOptions = () => (m.BindOptions ??= {});
  const volumeOptions = () => {
    m.VolumeOptions ??= { Labels: {} };
    m.VolumeOptions.DriverConfig ??= {};
    return m.VolumeOptions;
  };
  const tmpfsOptions = () => (m.TmpfsOptions ??= {});
  const boolOf = (key: string, val: string) => {
    const b = parseBool(val);
    if (b === undefined) throw bad(`invalid value for ${key}: ${val}`);
    return b;
  };
  const setOnMap = (target: Record<string, string>, val: string) => {
    const eq = val.indexOf('=');
    const k = eq < 0 ? val : val.slice(0, eq);
    if (k !== '') target[k] = eq < 0 ? '' : val.slice(eq + 1);
  };
  for (const field of fields) {
    const eq = field.indexOf('=');
    const key = (eq < 0 ? field : field.slice(0, eq)).toLowerCase();
    const val = eq < 0 ? '' : field.slice(eq + 1);
    if (eq < 0) {
      if (key === 'readonly' || key === 'ro') m.ReadOnly = true;
      else if (key === 'volume-nocopy') volumeOptions().NoCopy = true;
      else if (key === 'bind-nonrecursive') bindOptions().NonRecursive = true;
      else throw bad(`invalid field '${field}' must be a key=value pair`);
      continue;
    }
    switch (key) {
      case 'type':
        m.Type = val.toLowerCase();
        break;
      case 'source':
      case 'src':
        m.Source = val;
        break;
      case 'target':
      case 'dst':
      case 'destination':
        m.Target = val;
        break;
      case 'readonly':
      case 'ro':
        m.ReadOnly = boolOf(key, val);
        break;
      case 'consistency':
        m.Consistency = val.toLowerCase();
        break;
      case 'bind-propagation':
        bindOptions().Propagation = val.toLowerCase();
        break;
      case 'bind-nonrecursive':
        bindOptions().NonRecursive = boolOf(key, val);
        break;
      case 'bind-recursive':
        if (val === 'disabled') bindOptions().NonRecursive = true;
        else if (val === 'writable') bindOptions().ReadOnlyNonRecursive = true;
        else if (val === 'readonly') bindOptions().ReadOnlyForceRecursive = true;
        else if (val !== 'enabled') throw bad(`invalid value for ${key}: ${val} (must be "enabled", "disabled", "writable", or "readonly")`);
        break;
      case 'volume-subpath':
        volumeOptions().Subpath = val;
        break;
      case 'volume-nocopy':
        volumeOptions().NoCopy = boolOf('volume-nocopy', val);
        break;
      case 'volume-label':
        setOnMap(volumeOptions().Labels!, val);
        break;
      case 'volume-driver':
        volumeOptions().DriverConfig!.Name = val;
        break;
      case 'volume-opt':
        setOnMap((volumeOptions().DriverConfig!.Options ??= {}), val);
        break;
      case 'image-subpath':
        (m.ImageOptions ??= {}).Subpath = val;
        break;
      case 'tmpfs-size': {
        const n = ramInBytes(val);
        if (n === undefined) throw bad(`invalid value for ${key}: ${val}`);
        tmpfsOptions().SizeBytes = n;
        break;
      }
      case 'tmpfs-mode': {
        if (!/^[0-7]+$/.test(val) || Number.parseInt(val, 8) > 0xffffffff) throw bad(`invalid value for ${key}: ${val}`);
        tmpfsOptions().Mode = Number.parseInt(val, 8);
        break;
      }
      default:
        throw bad(`unexpected key '${key}' in '${field}'`);
    }
  }
  if (m.Type === '') throw bad('type is required');
  if (!m.Target) throw bad('target is required');
  for (const [opt, prefix, type] of [
    [m.VolumeOptions, 'volume', 'volume'],
    [m.ImageOptions, 'image', 'image'],
    [m.BindOptions, 'bind', 'bind'],
    [m.TmpfsOptions, 'tmpfs', 'tmpfs'],
  ] as const) {
    if (opt && m.Type !== type) throw bad(`cannot mix '${prefix}-*' options with mount type '${m.Type}'`);
  }
  if (m.BindOptions?.ReadOnlyNonRecursive && !m.ReadOnly) throw bad("option 'bind-recursive=writable' requires 'readonly' to be specified in conjunction");
  if (m.BindOptions?.ReadOnlyForceRecursive) {
    if (!m.ReadOnly) throw bad("option 'bind-recursive=readonly' requires 'readonly' to be specified in conjunction");
    if (m.BindOptions.Propagation !== 'rprivate') throw bad("option 'bind-recursive=readonly' requires 'bind-propagation=rprivate' to be specified in conjunction");
  }
  return marshalOrder(m);
}

/** Go's field order and omitempty, so the body is what docker's CLI sends byte for byte. */
function marshalOrder(m: MountFlag): MountFlag {
  const pick = <T extends object>(o: T, keys: (keyof T)[]): T => {
    const out = {} as T;
    for (const k of keys) {
      const v = o[k];
      const empty = v === undefined || v === '' || v === false || v === 0 || (typeof v === 'object' && v !== null && Object.keys(v).length === 0 && !Array.isArray(v) && k === 'Labels');
      if (!empty) out[k] = v;
    }
    return out;
  };
  const v = m.VolumeOptions;
  return pick(
    {
      ...m,
      ...(m.BindOptions ? { BindOptions: pick(m.BindOptions, ['Propagation', 'NonRecursive', 'ReadOnlyNonRecursive', 'ReadOnlyForceRecursive']) } : {}),
      ...(v ? { VolumeOptions: pick({ ...v, ...(v.DriverConfig ? { DriverConfig: pick(v.DriverConfig, ['Name', 'Options']) } : {}) }, ['NoCopy', 'Labels', 'Subpath', 'DriverConfig']) } : {}),
      ...(m.TmpfsOptions ? { TmpfsOptions: pick(m.TmpfsOptions, ['SizeBytes', 'Mode']) } : {}),
    },
    ['Type', 'Source', 'Target', 'ReadOnly', 'Consistency', 'BindOptions', 'VolumeOptions', 'ImageOptions', 'TmpfsOptions'],
  );
}

/** A relative `--mount` source starting with `.`, made absolute against `cwd` (docker's CLI). */
export function absoluteMountSource(m: MountFlag, cwd: string): MountFlag {
  return m.Source && !m.Source.startsWith('/') && m.Source.startsWith('.') ? { ...m, Source: absolute(cwd, m.Source) } : m;
}

/** `--tmpfs DST[:OPTS]` values → HostConfig.Tmpfs (the daemon checks both parts). */
export function tmpfsFlags(values: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const t of values) {
    const colon = t.indexOf(':');
    out[colon < 0 ? t : t.slice(0, colon)] = colon < 0 ? '' : t.slice(colon + 1);
  }
  return out;
}
