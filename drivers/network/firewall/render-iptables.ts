// Rules → iptables-restore text, and iptables-save text → rules, pure. A rule renders to exactly the
// line iptables-save prints for it (`-A CHAIN <match> -m comment --comment "<tag>" -j <target>`),
// so the kernel's state and the wanted state compare as strings.
import type { Chain, Rule, Table } from './plan.js';

const TABLES: readonly Table[] = ['nat', 'filter'];

/** The iptables-save line of a rule. */
export function canonical(r: Rule): string {
  if (r.raw !== undefined) return r.raw;
  return [`-A ${r.chain}`, r.match, `-m comment --comment "${r.tag}"`, `-j ${r.target}`].filter(Boolean).join(' ');
}

/** Key of a rule for set operations: table + canonical line. */
export const ruleKey = (r: Rule): string => `${r.table} ${canonical(r)}`;

function body(r: Rule, op: 'add' | 'del'): string {
  const line = canonical(r);
  if (op === 'del') return '-D' + line.slice(2);
  return r.first ? `-I ${r.chain} 1` + line.slice(`-A ${r.chain}`.length) : line;
}

/**
 * One transaction for iptables-restore --noflush: per table, the chains to create (only missing
 * ones: a `:CHAIN` line flushes an existing chain even with --noflush), then deletions, then
 * additions. Empty string if there is nothing to do.
 */
export function renderRestore(t: { chains?: readonly Chain[]; del?: readonly Rule[]; add?: readonly Rule[] }): string {
  let out = '';
  for (const table of TABLES) {
    const lines = [
      ...(t.chains ?? []).filter((c) => c.table === table).map((c) => `:${c.name} - [0:0]`),
      ...(t.del ?? []).filter((r) => r.table === table).map((r) => body(r, 'del')),
      ...(t.add ?? []).filter((r) => r.table === table).map((r) => body(r, 'add')),
    ];
    if (lines.length) out += `*${table}\n${lines.join('\n')}\nCOMMIT\n`;
  }
  return out;
}

export interface SavedRule {
  table: Table;
  chain: string;
  /** The line as iptables-save printed it. */
  line: string;
  /** The comment, unquoted, if any. */
  comment: string | undefined;
}

export interface Saved {
  chains: Chain[];
  rules: SavedRule[];
}

/** Parse iptables-save output (the nat and filter tables; others are ignored). */
export function parseSave(text: string): Saved {
  const chains: Chain[] = [];
  const rules: SavedRule[] = [];
  let table: Table | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.trimEnd();
    if (line.startsWith('*')) {
      const t = line.slice(1);
      table = t === 'nat' || t === 'filter' ? t : undefined;
    } else if (!table) continue;
    else if (line.startsWith(':')) chains.push({ table, name: line.slice(1).split(' ')[0]! });
    else if (line.startsWith('-A ')) {
      const chain = line.split(' ')[1]!;
      const m = /-m comment --comment (?:"((?:[^"\\]|\\.)*)"|(\S+))/.exec(line);
      rules.push({ table, chain, line, comment: m ? (m[1] ?? m[2]) : undefined });
    }
  }
  return { chains, rules };
}

/** A saved line turned back into a rule that deletes it (`-D` of the same text). */
export function savedAsRule(s: SavedRule): Rule {
  const m = /^-A (\S+) (.*?)\s*-m comment --comment "((?:[^"\\]|\\.)*)" -j (.*)$/.exec(s.line);
  if (m) return { table: s.table, chain: m[1]!, match: m[2]!, tag: m[3]!, target: m[4]! };
  // Not in our shape (edited by hand): deleted by its exact text.
  return { table: s.table, chain: s.chain, match: '', target: '', tag: s.comment ?? '', raw: s.line };
}
