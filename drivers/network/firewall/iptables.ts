// The iptables backend: every change is one `iptables-restore --noflush --wait` transaction (all of
// it or none), reads are one `iptables-save`. berth only ever deletes lines whose comment carries
// its prefix (names.ruleOwner), and only creates `:CHAIN` lines for chains that do not exist yet
// (such a line flushes an existing chain even with --noflush). Removals can be queued: deleting
// rules costs ~20 ms per transaction (the kernel frees them when the netlink socket closes), so
// they are batched off the user's path.
import type { Iptables } from '../../sys/iptables.js';
import type { Log } from '../../log.js';
import { wrap } from '../../errors.js';
import type { FirewallBackend, OwnedRule, SyncReport } from './backend.js';
import { CHAINS, type Rule } from './plan.js';
import { canonical, parseSave, renderRestore, ruleKey, savedAsRule, type Saved, type SavedRule } from './render-iptables.js';

export interface IptablesOptions {
  iptables: Iptables;
  /** True if a comment is one of berth's tags (names.ruleOwner(c) !== undefined). */
  ours: (comment: string) => boolean;
  log: Log;
  /** Milliseconds a queued removal waits for more to join it. */
  removeDelayMs?: number;
}

export function iptablesBackend(o: IptablesOptions): FirewallBackend {
  const delay = o.removeDelayMs ?? 50;
  let queue: Rule[] = [];
  let inflight: { rules: Rule[]; done: Promise<void> } | undefined;
  let timer: NodeJS.Timeout | undefined;

  const save = async (): Promise<Saved> => parseSave(await o.iptables.save());

  /** Apply a transaction; if it deletes and fails, retry deleting only what still exists. */
  async function apply(t: { del?: Rule[]; add?: Rule[] }): Promise<void> {
    const text = renderRestore(t);
    if (!text) return;
    try {
      await o.iptables.restore(text);
    } catch (e) {
      if (!t.del?.length) throw e;
      const present = new Set(ours((await save()).rules).map((s) => `${s.table} ${s.line}`));
      const del = t.del.filter((r) => present.has(ruleKey(r)));
      const again = renderRestore({ del, add: t.add ?? [] });
      if (again) await o.iptables.restore(again);
    }
  }

  const ours = (rules: SavedRule[]) => rules.filter((r) => r.comment !== undefined && o.ours(r.comment));

  async function flushNow(): Promise<void> {
    if (timer) clearTimeout(timer);
    timer = undefined;
    if (inflight) await inflight.done.catch(() => {});
    if (queue.length === 0) return;
    const rules = queue;
    queue = [];
    const done = apply({ del: rules }).catch((err) => {
      o.log.error({ err, rules: rules.length }, 'queued firewall removal failed; restore will repair it');
    });
    inflight = { rules, done };
    await done;
    if (inflight?.done === done) inflight = undefined;
  }

  function schedule(): void {
    if (timer) return;
    timer = setTimeout(() => {
      timer = undefined;
      void flushNow();
    }, delay);
    timer.unref();
  }

  const keysOf = (rules: readonly Rule[]) => new Set(rules.flatMap((r) => r.keys ?? []));
  const shares = (r: Rule, keys: Set<string>) => (r.keys ?? []).some((k) => keys.has(k));

  return {
    async sync(want, inScope): Promise<SyncReport> {
      await flushNow();
      const saved = await save();
      const have = ours(saved.rules).filter((r) => inScope(r.comment!));
      const haveKeys = new Set(have.map((s) => `${s.table} ${s.line}`));
      const wantKeys = new Set(want.map(ruleKey));
      const del: Rule[] = have.filter((s) => !wantKeys.has(`${s.table} ${s.line}`)).map(savedAsRule);
      const add: Rule[] = [];
      // Groups of one tag in one chain: all present and in order, or re-made whole.
      const groups = new Map<string, Rule[]>();
      for (const r of want) {
        const g = `${r.table} ${r.chain} ${r.tag}`;
        groups.set(g, [...(groups.get(g) ?? []), r]);
      }
      for (const rules of groups.values()) {
        const { table, chain } = rules[0]!;
        const first = rules.some((r) => r.first);
        const expected = (first ? [...rules].reverse() : rules).map(canonical);
        const inChain = saved.rules.filter((s) => s.table === table && s.chain === chain);
        const mine = inChain.filter((s) => expected.includes(s.line)).map((s) => s.line);
        const ordered = first
          ? inChain.slice(0, expected.length).map((s) => s.line).join('\n') === expected.join('\n')
          : mine.join('\n') === expected.join('\n');
        if (ordered) continue;
        for (const r of rules) if (haveKeys.has(ruleKey(r))) del.push(r);
        add.push(...rules);
      }
      const existing = new Set(saved.chains.map((c) => `${c.table} ${c.name}`));
      const chains = want.length ? CHAINS.filter((c) => !existing.has(`${c.table} ${c.name}`)) : [];
      const text = renderRestore({ chains, del, add });
      if (text) {
        try {
          await o.iptables.restore(text);
        } catch (e) {
          throw wrap(e, 'firewall: apply rules');
        }
      }
      return {
        added: [...chains.map((c) => `${c.table} chain ${c.name}`), ...add.map((r) => `${r.table} ${canonical(r)}`)],
        removed: del.map((r) => `${r.table} ${canonical(r)}`),
      };
    },

    async add(rules) {
      if (rules.length === 0) return;
      const keys = keysOf(rules);
      if (inflight && inflight.rules.some((r) => shares(r, keys))) await inflight.done;
      const del = queue.filter((r) => shares(r, keys));
      if (del.length) queue = queue.filter((r) => !del.includes(r));
      try {
        await apply({ del, add: [...rules] });
      } catch (e) {
        queue.push(...del);
        if (queue.length) schedule();
        throw wrap(e, 'firewall: add rules');
      }
    },

    async remove(rules, opts = {}) {
      if (rules.length === 0) return;
      if (opts.later) {
        queue.push(...rules);
        schedule();
        return;
      }
      await apply({ del: [...rules] });
    },

    flush: flushNow,

    async list(): Promise<OwnedRule[]> {
      return ours((await save()).rules).map((r) => ({ table: r.table, chain: r.chain, line: r.line, tag: r.comment! }));
    },

    async shutdown() {
      await flushNow();
    },
  };
}
