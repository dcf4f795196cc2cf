// A stateful fake of nft(8) for unit tests: inet tables holding chains (rules with handles and
// comments), sets and maps (elements), changed by the `nft -f` scripts the nftables backend writes
// and read back as `nft -j list table` JSON. A script applies whole or not at all, with the real
// program's sharp edges: deleting a missing element or table fails, adding a map key that holds
// other data fails (an identical element is fine). Every applied script is a generation of the
// fake `nft monitor` (its deletes printed first), as the kernel reports it, by a fresh pid that
// `ran` holds (berth's programs); `emit` and `tamper` are other programs' (pid 4242 / 9999).
import type { Nft, NftMonitor } from '../nft.js';
import { CommandError } from '../exec.js';

interface FakeSet {
  map: boolean;
  type: string;
  elements: Map<string, string | undefined>;
}
interface FakeTable {
  handle: number;
  chains: Map<string, { def?: string; rules: { handle: number; text: string; comment?: string }[] }>;
  sets: Map<string, FakeSet>;
}

export class FakeNft implements Nft {
  readonly #monitors = new Set<(line: string) => void>();
  /** Scripts applied (or tried), in order. */
  readonly applied: string[] = [];
  tables = new Map<string, FakeTable>();
  #generation = 1;
  #pid = 20000;
  /** The pids of the fake programs berth "ran" (its own applies and restores). */
  readonly ran = new Set<number>();
  #handle = 1;

  async apply(script: string): Promise<void> {
    this.applied.push(script);
    const next = structuredClone(this.tables);
    const events: string[] = [];
    const lines = script.split('\n').filter((l) => l.trim() !== '');
    lines.forEach((line, i) => {
      const fail = (why: string) => {
        throw new CommandError(['nft', '-f', '-'], 1, `/dev/stdin:${i + 1}:1-1: Error: Could not process rule: ${why}\n${line}`);
      };
      const m = /^(add|delete|flush) (table|chain|rule|set|map|element) inet (\S+)(?: (\S+))?(.*)$/.exec(line.trim());
      if (!m) fail(`fake nft: unsupported line`);
      const [, verb, obj, tname, name, rest] = m!;
      let t = next.get(tname!);
      if (obj === 'table') {
        if (verb === 'add') {
          if (!t) next.set(tname!, { handle: this.#handle++, chains: new Map(), sets: new Map() });
        } else if (verb === 'delete') {
          if (!t) fail('No such file or directory');
          next.delete(tname!);
          events.push(`delete table inet ${tname}`);
        }
        return;
      }
      if (!t) fail('No such file or directory');
      t = t!;
      if (obj === 'chain') {
        if (verb === 'add') {
          if (!t.chains.has(name!)) t.chains.set(name!, { ...(rest!.trim() ? { def: rest!.trim() } : {}), rules: [] });
        } else if (verb === 'flush') {
          const c = t.chains.get(name!);
          if (!c) fail('No such file or directory');
          for (const r of c!.rules) events.push(`delete rule inet ${tname} ${name} handle ${r.handle}`);
          c!.rules = [];
        }
        return;
      }
      if (obj === 'set' || obj === 'map') {
        if (!t.sets.has(name!)) t.sets.set(name!, { map: obj === 'map', type: rest!.trim(), elements: new Map() });
        return;
      }
      if (obj === 'rule') {
        const c = t.chains.get(name!);
        if (!c) fail('No such file or directory');
        if (verb === 'add') {
          const cm = / comment "([^"]*)"$/.exec(rest!);
          c!.rules.push({ handle: this.#handle++, text: (cm ? rest!.slice(0, cm.index) : rest!).trim(), ...(cm ? { comment: cm[1] } : {}) });
        } else if (verb === 'delete') {
          const h = Number(/handle (\d+)/.exec(rest!)?.[1]);
          const at = c!.rules.findIndex((r) => r.handle === h);
          if (at < 0) fail('No such file or directory');
          c!.rules.splice(at, 1);
          events.push(`delete rule inet ${tname} ${name} handle ${h}`);
        }
        return;
      }
      // elements: `{ key [: value], … }`
      const s = t.sets.get(name!);
      if (!s) fail('No such file or directory');
      const body = /^\s*\{ (.*) \}$/.exec(rest!)?.[1];
      if (body === undefined) fail('fake nft: bad element list');
      for (const part of body!.split(', ')) {
        const [key, value] = part.split(' : ') as [string, string | undefined];
        if (verb === 'add') {
          if (s!.elements.has(key) && s!.map && s!.elements.get(key) !== value) fail('File exists');
          s!.elements.set(key, value);
        } else if (verb === 'delete') {
          if (!s!.elements.has(key)) fail('No such file or directory');
          s!.elements.delete(key);
          events.push(`delete element inet ${tname} ${name} { ${key} }`);
        }
      }
    });
    this.tables = next;
    this.emitOwn(events, 'nft');
  }

  async listJson<T>(what: readonly string[]): Promise<T> {
    const [kind, family, name] = what;
    const t = kind === 'table' && family === 'inet' ? this.tables.get(name!) : undefined;
    if (!t) throw new CommandError(['nft', '-j', 'list', ...what], 1, `Error: No such file or directory\nlist table inet ${name}`);
    const items: Record<string, unknown>[] = [{ metainfo: { version: 'fake' } }, { table: { family: 'inet', name, handle: t.handle } }];
    const atom = (x: string): string | number => (/^\d+$/.test(x) ? Number(x) : x.replace(/^"(.*)"$/, '$1'));
    const val = (v: string) => {
      const parts = v.split(' . ');
      return parts.length > 1 ? { concat: parts.map(atom) } : atom(parts[0]!);
    };
    for (const [sn, s] of t.sets) {
      const elem = [...s.elements].map(([k, v]) => (s.map ? [val(k), val(v!)] : val(k)));
      items.push({ [s.map ? 'map' : 'set']: { family: 'inet', name: sn, table: name, type: s.type.includes('ifname') ? 'ifname' : s.type, ...(elem.length ? { elem } : {}) } });
    }
    for (const [cn, c] of t.chains) {
      items.push({ chain: { family: 'inet', table: name, name: cn } });
      for (const r of c.rules) items.push({ rule: { family: 'inet', table: name, chain: cn, handle: r.handle, ...(r.comment ? { comment: r.comment } : {}), expr: [] } });
    }
    return { nftables: items } as T;
  }

  async monitor(onLine: (line: string) => void): Promise<NftMonitor> {
    this.#monitors.add(onLine);
    return { stop: () => void this.#monitors.delete(onLine) };
  }

  /** What `nft monitor` prints for one transaction: its lines, then the generation line. */
  emit(lines: readonly string[], process = 'iptables', pid = 4242): void {
    const all = [...lines, `# new generation ${++this.#generation} by process ${pid} (${process})`];
    for (const m of this.#monitors) for (const l of all) m(l);
  }

  /** A generation of berth's own: by a new pid that `ran` holds. */
  emitOwn(lines: readonly string[], process: string): void {
    this.ran.add(++this.#pid);
    this.emit(lines, process, this.#pid);
  }

  get monitors(): number {
    return this.#monitors.size;
  }

  /** Every rule (`chain text comment`) and element (`set key [: value]`), sorted. */
  dump(table: string): string[] {
    const t = this.tables.get(table);
    if (!t) return [];
    const out: string[] = [];
    for (const [cn, c] of t.chains) for (const r of c.rules) out.push(`rule ${cn} ${r.text} comment "${r.comment ?? ''}"`);
    for (const [sn, s] of t.sets) for (const [k, v] of s.elements) out.push(`element ${sn} ${k}${v === undefined ? '' : ` : ${v}`}`);
    return out.sort();
  }

  /** An administrator's change: flush a chain, or delete one element, without berth. */
  tamper(table: string, what: { flushChain?: string; deleteElement?: { set: string; key: string } }): void {
    const t = this.tables.get(table)!;
    const events: string[] = [];
    if (what.flushChain) {
      const c = t.chains.get(what.flushChain)!;
      for (const r of c.rules) events.push(`delete rule inet ${table} ${what.flushChain} handle ${r.handle}`);
      c.rules = [];
    }
    if (what.deleteElement) {
      t.sets.get(what.deleteElement.set)!.elements.delete(what.deleteElement.key);
      events.push(`delete element inet ${table} ${what.deleteElement.set} { ${what.deleteElement.key} }`);
    }
    this.emit(events, 'nft', 9999);
  }
}
