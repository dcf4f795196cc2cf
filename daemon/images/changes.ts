// `docker import --change`: Dockerfile instructions applied to an image config. Pure. The
// instructions docker import takes: CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, STOPSIGNAL, USER, VOLUME,
// WORKDIR (ONBUILD is accepted and ignored: berth builds nothing).
import { posix } from 'node:path';
import { invalidParameter } from '../../drivers/errors.js';
import type { ImageConfig } from './types.js';

const ALLOWED = ['CMD', 'ENTRYPOINT', 'ENV', 'EXPOSE', 'LABEL', 'ONBUILD', 'STOPSIGNAL', 'USER', 'VOLUME', 'WORKDIR'];

/** JSON array form (`["a","b"]`) or shell form (`/bin/sh -c "…"`). */
function execForm(rest: string): string[] {
  const t = rest.trim();
  if (t.startsWith('[')) {
    try {
      const v = JSON.parse(t) as unknown;
      if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return v as string[];
    } catch {
      /* not JSON: shell form */
    }
  }
  return ['/bin/sh', '-c', t];
}

/** Split words honouring "…", '…' and backslash escapes (ENV/LABEL key=value lists). */
export function splitWords(s: string): string[] {
  const out: string[] = [];
  let cur = '';
  let inWord = false;
  let quote: '"' | "'" | undefined;
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (quote) {
      if (c === quote) quote = undefined;
      else if (c === '\\' && quote === '"' && i + 1 < s.length) cur += s[++i];
      else cur += c;
      continue;
    }
    if (c === '"' || c === "'") {
      quote = c;
      inWord = true;
    } else if (c === '\\' && i + 1 < s.length) {
      cur += s[++i];
      inWord = true;
    } else if (/\s/.test(c)) {
      if (inWord) out.push(cur);
      cur = '';
      inWord = false;
    } else {
      cur += c;
      inWord = true;
    }
  }
  if (quote) throw invalidParameter(`unterminated quote in "${s}"`);
  if (inWord) out.push(cur);
  return out;
}

function keyValues(instr: string, rest: string): [string, string][] {
  const words = splitWords(rest);
  if (words.length === 0) throw invalidParameter(`${instr} requires at least one argument`);
  if (!words[0]!.includes('=')) {
    // legacy form: KEY value with spaces
    const m = /^\s*(\S+)\s+([\s\S]*)$/.exec(rest);
    if (!m) throw invalidParameter(`${instr} must have two arguments`);
    return [[m[1]!, m[2]!.trim()]];
  }
  return words.map((w) => {
    const eq = w.indexOf('=');
    if (eq <= 0) throw invalidParameter(`${instr} names can not be blank`);
    return [w.slice(0, eq), w.slice(eq + 1)];
  });
}

/** Apply `changes` (one instruction each) to a copy of `base`. */
export function applyChanges(base: ImageConfig, changes: readonly string[]): ImageConfig {
  const c: ImageConfig = structuredClone(base);
  for (const raw of changes) {
    const line = raw.trim();
    if (line === '') continue;
    const m = /^(\S+)\s*([\s\S]*)$/.exec(line)!;
    const instr = m[1]!.toUpperCase();
    const rest = m[2]!;
    if (!ALLOWED.includes(instr)) throw invalidParameter(`${m[1]} is not a valid change command`);
    switch (instr) {
      case 'CMD':
        c.Cmd = execForm(rest);
        break;
      case 'ENTRYPOINT':
        c.Entrypoint = execForm(rest);
        break;
      case 'ENV': {
        const env = [...(c.Env ?? [])];
        for (const [k, v] of keyValues('ENV', rest)) {
          const i = env.findIndex((e) => e.split('=')[0] === k);
          if (i >= 0) env[i] = `${k}=${v}`;
          else env.push(`${k}=${v}`);
        }
        c.Env = env;
        break;
      }
      case 'LABEL':
        c.Labels = { ...(c.Labels ?? {}), ...Object.fromEntries(keyValues('LABEL', rest)) };
        break;
      case 'EXPOSE': {
        const ports = { ...(c.ExposedPorts ?? {}) };
        const words = splitWords(rest);
        if (words.length === 0) throw invalidParameter('EXPOSE requires at least one argument');
        for (const w of words) {
          const pm = /^(\d{1,5})(?:-(\d{1,5}))?(?:\/(tcp|udp|sctp))?$/i.exec(w);
          if (!pm) throw invalidParameter(`invalid containerPort: ${w}`);
          const lo = Number(pm[1]);
          const hi = pm[2] ? Number(pm[2]) : lo;
          if (lo < 1 || hi > 65535 || hi < lo) throw invalidParameter(`invalid containerPort: ${w}`);
          for (let p = lo; p <= hi; p++) ports[`${p}/${(pm[3] ?? 'tcp').toLowerCase()}`] = {};
        }
        c.ExposedPorts = ports;
        break;
      }
      case 'VOLUME': {
        const vols = { ...(c.Volumes ?? {}) };
        const list = rest.trim().startsWith('[') ? execForm(rest) : splitWords(rest);
        if (list.length === 0 || (list[0] === '/bin/sh' && list[1] === '-c')) throw invalidParameter('VOLUME requires at least one argument');
        for (const v of list) vols[v] = {};
        c.Volumes = vols;
        break;
      }
      case 'WORKDIR': {
        const w = rest.trim();
        if (!w) throw invalidParameter('WORKDIR requires exactly one argument');
        c.WorkingDir = posix.resolve(c.WorkingDir || '/', w);
        break;
      }
      case 'USER':
        if (!rest.trim()) throw invalidParameter('USER requires exactly one argument');
        c.User = rest.trim();
        break;
      case 'STOPSIGNAL':
        if (!/^(SIG)?[A-Z0-9+-]+$|^\d+$/.test(rest.trim())) throw invalidParameter(`invalid signal: ${rest.trim()}`);
        c.StopSignal = rest.trim();
        break;
      case 'ONBUILD':
        break;
    }
  }
  return c;
}
