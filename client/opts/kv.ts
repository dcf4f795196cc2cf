// KEY=VALUE lists as docker reads them: --env-file / --label-file contents, -e without a value
// (taken from the client's environment), -l without a value (empty). Pure: callers pass the file
// text and the environment.
import { UsageError } from '../command.js';

export type Lookup = (key: string) => string | undefined;

/**
 * Lines of an env or label file: leading whitespace trimmed (trailing kept, it is part of the
 * value), blank lines and `#` comments skipped, a UTF-8 BOM dropped. A line without `=` takes its
 * value from `lookup`, and is left out when lookup has none (or there is no lookup: label files).
 */
export function parseKeyValueFile(name: string, text: string, lookup?: Lookup): string[] {
  const out: string[] = [];
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  for (const raw of lines) {
    const line = raw.replace(/^\s+/, '');
    if (line === '' || line.startsWith('#')) continue;
    const eq = line.indexOf('=');
    const key = eq >= 0 ? line.slice(0, eq) : line;
    if (key === '') throw new UsageError(`invalid env file (${name}): no variable name on line '${line}'`);
    if (/[ \t]/.test(key)) throw new UsageError(`invalid env file (${name}): variable '${key}' contains whitespaces`);
    if (eq >= 0) {
      out.push(line);
      continue;
    }
    const v = lookup?.(key);
    if (v !== undefined) out.push(`${key}=${v}`);
  }
  return out;
}

/** -e KEY=VAL as is; -e KEY takes KEY's value from the client's environment when it has one. */
export function resolveEnv(value: string, lookup: Lookup): string {
  const eq = value.indexOf('=');
  const key = eq >= 0 ? value.slice(0, eq) : value;
  if (key === '') throw new UsageError(`invalid environment variable: ${value}`);
  if (eq >= 0) return value;
  const v = lookup(key);
  return v === undefined ? value : `${key}=${v}`;
}

/** -l / --label: the name must be there and hold no whitespace. */
export function validateLabel(value: string): string {
  const key = value.split('=', 1)[0]!.replace(/^[ \t]+/, '');
  if (key === '') throw new UsageError(`invalid label '${value}': empty name`);
  if (/[ \t]/.test(key)) throw new UsageError(`label '${key}' contains whitespaces`);
  return value;
}

/** ["a=b", "c"] → {a: "b", c: ""}; a later key wins. */
export function kvToMap(values: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const v of values) {
    const eq = v.indexOf('=');
    if (eq >= 0) out[v.slice(0, eq)] = v.slice(eq + 1);
    else out[v] = '';
  }
  return out;
}
