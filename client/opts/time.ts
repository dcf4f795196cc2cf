// --since / --until values as docker reads them (logs, events): a Go duration ("10m", "1h30m",
// relative to now), an RFC 3339 date or date-time (local time when it carries no zone), or a Unix
// timestamp ("1700000000.5"). The daemon gets a Unix timestamp string. Pure: `now` is passed in.
import { UsageError } from '../command.js';

const UNIT_NS: Record<string, number> = { ns: 1, us: 1e3, 'µs': 1e3, 'μs': 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9 };

/** Go's time.ParseDuration, in nanoseconds; undefined when the text is not a duration. */
export function parseGoDuration(s: string): number | undefined {
  let rest = s;
  let sign = 1;
  if (rest.startsWith('-') || rest.startsWith('+')) {
    if (rest[0] === '-') sign = -1;
    rest = rest.slice(1);
  }
  if (rest === '0') return 0;
  if (rest === '') return undefined;
  let total = 0;
  const re = /^(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)/;
  while (rest !== '') {
    const m = re.exec(rest);
    if (!m) return undefined;
    total += Number(m[1]) * UNIT_NS[m[2]!]!;
    rest = rest.slice(m[0].length);
  }
  return sign * total;
}

function pad(n: number, w = 2): string {
  return String(n).padStart(w, '0');
}

/** A date-time without a zone, in the local zone (Go's ParseInLocation with the local zone); undefined when out of range. */
function parseLocal(y: number, mo: number, d: number, h: number, mi: number, sec: number): number | undefined {
  const t = new Date(y, mo - 1, d, h, mi, sec);
  if (t.getFullYear() !== y || t.getMonth() !== mo - 1 || t.getDate() !== d || t.getHours() !== h || t.getMinutes() !== mi || t.getSeconds() !== sec)
    return undefined;
  return Math.floor(t.getTime() / 1000);
}

/**
 * docker's GetTimestamp: the value to send as `since`/`until`. Throws a UsageError on text that
 * is neither a duration, a date nor a Unix timestamp.
 */
export function getTimestamp(value: string, now: Date): string {
  const d = parseGoDuration(value);
  if (value !== '0' && d !== undefined) return String(Math.floor((now.getTime() - d / 1e6) / 1000));

  const m =
    /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2})(?::(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?)?)?(Z|z|[+-]\d{2}:\d{2})?$/.exec(value);
  if (m) {
    const [, y, mo, da, h = '0', mi = '0', s = '0', frac = '', zone] = m;
    const ns = frac ? Number(frac.padEnd(9, '0')) : 0;
    const [Y, M, D, H, I, S] = [y, mo, da, h, mi, s].map(Number) as [number, number, number, number, number, number];
    let sec: number | undefined;
    if (zone) {
      const u = new Date(Date.UTC(Y, M - 1, D, H, I, S));
      const inRange = u.getUTCMonth() === M - 1 && u.getUTCDate() === D && H < 24 && I < 60 && S < 60;
      const iso = `${y}-${mo}-${da}T${pad(H)}:${pad(I)}:${pad(S)}${zone.toUpperCase()}`;
      if (inRange) sec = Math.floor(Date.parse(iso) / 1000);
    } else sec = parseLocal(Y, M, D, H, I, S);
    if (sec === undefined || Number.isNaN(sec)) throw new UsageError(`failed to parse value as time or duration: "${value}"`);
    return `${sec}.${String(ns).padStart(9, '0')}`;
  }
  if (value.includes('-')) throw new UsageError(`failed to parse value as time or duration: "${value}"`);
  if (/^\d+(\.\d+)?$/.test(value)) return value;
  throw new UsageError(`failed to parse value as time or duration: "${value}"`);
}
