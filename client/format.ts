// The subset of Go templates docker's --format uses: `{{.Field.Sub}}`, `{{json .}}`, `{{json .X}}`,
// `{{upper .X}}`, `{{lower .X}}`, `{{join .X ","}}`, `{{println}}`, and `table` for a header row.
// Pure. Unknown fields render as "<no value>", as Go does.

type Value = unknown;

function lookup(obj: Value, path: string): Value {
  if (path === '.' || path === '') return obj;
  let v: Value = obj;
  for (const part of path.replace(/^\./, '').split('.')) {
    if (v === null || v === undefined || typeof v !== 'object') return undefined;
    v = (v as Record<string, Value>)[part];
  }
  return v;
}

function render(v: Value): string {
  if (v === undefined) return '<no value>';
  if (v === null) return '<nil>';
  if (Array.isArray(v)) return `[${v.map(render).join(' ')}]`;
  if (typeof v === 'object') return `map[${Object.entries(v as object).map(([k, x]) => `${k}:${render(x)}`).join(' ')}]`;
  return String(v);
}

function evalAction(action: string, obj: Value): string {
  const parts = action.trim().match(/"[^"]*"|\S+/g) ?? [];
  const arg = (i: number) => {
    const p = parts[i];
    if (p === undefined) return undefined;
    if (p.startsWith('"')) return p.slice(1, -1);
    return lookup(obj, p);
  };
  switch (parts[0]) {
    case 'json':
      return JSON.stringify(arg(1) ?? null);
    case 'upper':
      return render(arg(1)).toUpperCase();
    case 'lower':
      return render(arg(1)).toLowerCase();
    case 'join': {
      const a = arg(1);
      return Array.isArray(a) ? a.map(render).join(String(arg(2) ?? '')) : render(a);
    }
    case 'println':
      return parts.slice(1).map((_, i) => render(arg(i + 1))).join(' ') + '\n';
    default:
      if (parts[0]?.startsWith('.')) return render(lookup(obj, parts[0]));
      throw new Error(`template: unsupported action "{{${action}}}"`);
  }
}

export interface Template {
  table: boolean;
  header: string;
  row(obj: Value): string;
}

/** Compile a --format string; `headers` names the column of each field for `table`. */
export function compileFormat(format: string, headers: Record<string, string> = {}): Template {
  let f = format.replace(/\\t/g, '\t').replace(/\\n/g, '\n');
  const table = f.startsWith('table');
  if (table) f = f.slice(5).trimStart();
  const pieces = f.split(/(\{\{[^}]*\}\})/);
  const row = (obj: Value) =>
    pieces.map((p) => (p.startsWith('{{') && p.endsWith('}}') ? evalAction(p.slice(2, -2), obj) : p)).join('');
  const header = pieces
    .map((p) => {
      if (!(p.startsWith('{{') && p.endsWith('}}'))) return p;
      const field = p.slice(2, -2).trim().replace(/^\./, '');
      return headers[field] ?? field.toUpperCase();
    })
    .join('');
  return { table, header, row };
}

/** Align tab-separated lines in columns, as Go's tabwriter with padding 3 (docker's tables). */
export function columns(lines: string[], pad = 3): string {
  const rows = lines.map((l) => l.split('\t'));
  const widths: number[] = [];
  for (const r of rows) r.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, c.length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]! + pad))).join('').trimEnd()).join('\n') + (rows.length ? '\n' : '');
}
