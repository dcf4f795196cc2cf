// --filter key=value (repeatable) → Docker's `filters` query parameter: {"key":["v1","v2"]}.
import { UsageError } from '../command.js';

export function parseFilterArgs(list: readonly string[]): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const f of list) {
    const eq = f.indexOf('=');
    if (eq <= 0) throw new UsageError(`bad format of filter (expected name=value)`);
    const k = f.slice(0, eq).trim().toLowerCase();
    (out[k] ??= []).push(f.slice(eq + 1));
  }
  return out;
}

export function filtersParam(list: readonly string[]): string | undefined {
  return list.length ? JSON.stringify(parseFilterArgs(list)) : undefined;
}
