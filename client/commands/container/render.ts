// How docker's CLI shows things: relative durations ("2 minutes"), sizes ("1.5kB"), 12-character
// ids, ellipsized text, Go-quoted strings, the PORTS column of `ps`, and docker's tables. Pure.
import { compileFormat } from '../../format.js';

/** go-units HumanDuration, from milliseconds. */
export function humanDuration(ms: number): string {
  const seconds = Math.floor(ms / 1000);
  if (seconds < 1) return 'Less than a second';
  if (seconds === 1) return '1 second';
  if (seconds < 60) return `${seconds} seconds`;
  const minutes = Math.floor(ms / 60000);
  if (minutes === 1) return 'About a minute';
  if (minutes < 60) return `${minutes} minutes`;
  const hours = Math.floor(ms / 3600000 + 0.5);
  if (hours === 1) return 'About an hour';
  if (hours < 48) return `${hours} hours`;
  if (hours < 24 * 7 * 2) return `${Math.floor(hours / 24)} days`;
  if (hours < 24 * 30 * 2) return `${Math.floor(hours / 24 / 7)} weeks`;
  if (hours < 24 * 365 * 2) return `${Math.floor(hours / 24 / 30)} months`;
  return `${Math.floor(ms / 3600000 / 24 / 365)} years`;
}

/** Go's %.<p>g: p significant digits, no trailing zeros. */
function goG(x: number, precision: number): string {
  return String(Number(x.toPrecision(precision)));
}

/** go-units HumanSizeWithPrecision (decimal units: B, kB, MB, …). */
export function humanSize(bytes: number, precision = 4): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB', 'PB', 'EB', 'ZB', 'YB'];
  let size = bytes;
  let i = 0;
  while (size >= 1000 && i < units.length - 1) {
    size /= 1000;
    i++;
  }
  return `${goG(size, precision)}${units[i]}`;
}

/** docker's TruncateID: the first 12 characters, without an "algo:" prefix. */
export function truncateId(id: string): string {
  const colon = id.indexOf(':');
  const s = colon >= 0 ? id.slice(colon + 1) : id;
  return s.slice(0, 12);
}

/** docker's Ellipsis for plain-width text: cut to `max` characters ending with "…". */
export function ellipsis(s: string, max: number): string {
  const chars = [...s];
  if (max <= 0) return '';
  if (max === 1) return chars[0] ?? '';
  if (chars.length <= max) return s;
  return chars.slice(0, max - 1).join('') + '…';
}

/** Go's strconv.Quote for the text docker shows (COMMAND column). */
export function goQuote(s: string): string {
  return JSON.stringify(s)
    .replace(/\\u00([0-7][0-9a-f])/g, (_m, h: string) => {
      const c = parseInt(h, 16);
      const named: Record<number, string> = { 7: '\\a', 8: '\\b', 9: '\\t', 10: '\\n', 11: '\\v', 12: '\\f', 13: '\\r' };
      return named[c] ?? `\\x${h}`;
    })
    .replace(/\u007f/g, '\\x7f');
}

/** Go's net.JoinHostPort. */
export function joinHostPort(host: string, port: string | number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** A port of a container summary (GET /containers/json). */
export interface PortSummary {
  IP?: string;
  PrivatePort: number;
  PublicPort?: number;
  Type: string;
}

/**
 * docker 28's PORTS column: published ports whose host port equals the container port are grouped
 * in ranges per address ("0.0.0.0:80-82->80-82/tcp"), exposed-only ports too ("80-82/tcp"), other
 * mappings are listed one by one ("0.0.0.0:8080->80/tcp, [::]:8080->80/tcp").
 */
export function displayablePorts(input: readonly PortSummary[]): string {
  const ports = [...input].sort((a, b) => {
    if (a.PrivatePort !== b.PrivatePort) return a.PrivatePort - b.PrivatePort;
    const ai = a.IP ?? '';
    const bi = b.IP ?? '';
    if (ai !== bi) return ai < bi ? -1 : 1;
    if ((a.PublicPort ?? 0) !== (b.PublicPort ?? 0)) return (a.PublicPort ?? 0) - (b.PublicPort ?? 0);
    return a.Type < b.Type ? -1 : a.Type > b.Type ? 1 : 0;
  });
  const groups = new Map<string, { first: number; last: number }>();
  const order: string[] = [];
  const result: string[] = [];
  const hostMappings: string[] = [];
  const form = (key: string, first: number, last: number) => {
    const slash = key.lastIndexOf('/');
    const ip = slash >= 0 ? key.slice(0, slash) : '';
    const type = slash >= 0 ? key.slice(slash + 1) : key;
    let g = first === last ? String(first) : `${first}-${last}`;
    if (ip) g = `${joinHostPort(ip, g)}->${g}`;
    return `${g}/${type}`;
  };
  for (const p of ports) {
    const cur = p.PrivatePort;
    let key = p.Type;
    if (p.IP) {
      if (p.PublicPort !== cur) {
        hostMappings.push(`${joinHostPort(p.IP, p.PublicPort ?? 0)}->${p.PrivatePort}/${p.Type}`);
        continue;
      }
      key = `${p.IP}/${p.Type}`;
    }
    const g = groups.get(key);
    if (!g) {
      groups.set(key, { first: cur, last: cur });
      order.push(key);
      continue;
    }
    if (cur === g.last + 1) {
      g.last = cur;
      continue;
    }
    result.push(form(key, g.first, g.last));
    groups.set(key, { first: cur, last: cur });
  }
  for (const key of order) {
    const g = groups.get(key)!;
    result.push(form(key, g.first, g.last));
  }
  return [...result, ...hostMappings].join(', ');
}

/** Natural order as docker sorts names and ports: digit runs by value, digits before other bytes. */
export function naturalCompare(a: string, b: string): number {
  const isDigit = (c: number) => c >= 48 && c <= 57;
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    const ca = a.charCodeAt(i);
    const cb = b.charCodeAt(j);
    const da = isDigit(ca);
    const db = isDigit(cb);
    if (da !== db) return da ? -1 : 1;
    if (!da) {
      if (ca !== cb) return ca < cb ? -1 : 1;
      i++;
      j++;
      continue;
    }
    const zi = i;
    const zj = j;
    while (i < a.length && a[i] === '0') i++;
    while (j < b.length && b[j] === '0') j++;
    const si = i;
    const sj = j;
    while (i < a.length && isDigit(a.charCodeAt(i))) i++;
    while (j < b.length && isDigit(b.charCodeAt(j))) j++;
    const na = a.slice(si, i);
    const nb = b.slice(sj, j);
    if (na.length !== nb.length) return na.length < nb.length ? -1 : 1;
    if (na !== nb) return na < nb ? -1 : 1;
    if (si - zi !== sj - zj) return si - zi < sj - zj ? -1 : 1;
  }
  return a.length < b.length ? -1 : a.length > b.length ? 1 : 0;
}

/** Go's time.Time.String() for a Unix time in seconds, in the local zone: "2024-01-02 03:04:05 +0100 CET". */
export function goTimeString(unixSeconds: number): string {
  const d = new Date(unixSeconds * 1000);
  const p = (n: number) => String(n).padStart(2, '0');
  const off = -d.getTimezoneOffset();
  const sign = off >= 0 ? '+' : '-';
  const oh = p(Math.floor(Math.abs(off) / 60));
  const om = p(Math.abs(off) % 60);
  const zone =
    new Intl.DateTimeFormat('en-US', { timeZoneName: 'short' }).formatToParts(d).find((x) => x.type === 'timeZoneName')?.value ?? '';
  const abbr = /^GMT[+-]/.test(zone) || zone === 'GMT' ? (off === 0 ? 'UTC' : `${sign}${oh}${om}`) : zone;
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())} ${sign}${oh}${om} ${abbr}`;
}

/**
 * Go's tabwriter as docker's formatter sets it up (minwidth 10 — `top` uses 20 —, padding 3,
 * blank padding): cells ending in a tab are aligned in columns; the text after a line's last tab
 * is not.
 */
export function tabwrite(lines: readonly string[], minWidth = 10): string {
  const rows = lines.map((l) => l.split('\t'));
  const widths: number[] = [];
  for (const r of rows)
    r.slice(0, -1).forEach((c, i) => {
      widths[i] = Math.max(widths[i] ?? 0, Math.max([...c].length + 3, minWidth));
    });
  return rows
    .map((r) => r.map((c, i) => (i === r.length - 1 ? c : c + ' '.repeat(widths[i]! - [...c].length))).join(''))
    .map((l) => `${l}\n`)
    .join('');
}

export interface ListFormat {
  /** --format as given ('' = the default table); `-q` is the caller's to apply. */
  format: string;
  /** docker's default table for this list, e.g. "table {{.ID}}\t{{.Name}}". */
  defaultTable: string;
  /** Column title of each field for `table` formats. */
  headers: Record<string, string>;
}

/** Render rows (already in display shape) with docker's --format rules: table, json, or a template. */
export function renderList(rows: readonly object[], f: ListFormat, out: (s: string) => void): void {
  let format = f.format;
  if (format === '' || format === 'table') format = f.defaultTable;
  else if (format === 'json') format = '{{json .}}';
  const t = compileFormat(format, f.headers);
  if (!t.table) {
    for (const r of rows) out(`${t.row(r)}\n`);
    return;
  }
  const lines = [t.header, ...rows.map((r) => t.row(r))].join('\n').split('\n');
  out(tabwrite(lines));
}
