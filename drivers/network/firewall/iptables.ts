// The iptables backend: rules as data from plan.ts, for IPv4 (iptables) and IPv6 (ip6tables, only
// once a network is dual-stack). Every change is one `iptables-restore --noflush --wait` transaction
// per family (all of it or none), reads are one `iptables-save`. berth only ever deletes lines whose
// comment carries its prefix (names.ruleOwner), and only creates `:CHAIN` lines for chains that do
// not exist yet (such a line flushes an existing chain even with --noflush). Removals can be queued:
// deleting rules costs ~20 ms per transaction (the kernel frees them when the netlink socket
// closes), so they are batched off the user's path.
import type { Iptables } from '../../sys/iptables.js';
import type { Log } from '../../log.js';
import { wrap } from '../../errors.js';
import { serial, type FirewallBackend, type FwEndpoint, type FwNetwork, type FwState, type OwnedRule, type SyncOptions, type SyncReport } from './backend.js';
import { CHAINS, endpointRules, globalRules, networkRules, stateRules, type Family, type Rule } from './plan.js';
import { canonical, parseSave, renderRestore, ruleKey, savedAsRule, type Saved, type SavedRule } from './render-iptables.js';
import { later } from '../../later.js';

export interface IptablesOptions {
  iptables: Iptables;
  /** True if a comment is one of berth's tags (names.ruleOwner(c) !== undefined). */
  ours: (comment: string) => boolean;
  log: Log;
  /** Milliseconds a queued removal waits for more to join it. */
  removeDelayMs?: number;
}

/** The rule engine of one family: sync/add/remove of Rule[] over iptables-restore, serialised. */
export interface RuleEngine {
  sync(want: readonly Rule[], inScope: (tag: string) => boolean, dryRun?: boolean): Promise<SyncReport>;
  add(rules: readonly Rule[]): Promise<void>;
  remove(rules: readonly Rule[], opts?: { later?: boolean }): Promise<void>;
  flush(): Promise<void>;
  list(): Promise<SavedRule[]>;
}

export function ruleEngine(o: IptablesOptions, family: Family): RuleEngine {
  const delay = o.removeDelayMs ?? 50;
  const one = serial();
  const fam = family === 6 ? 'ip6' : 'ip';
  let queue: Rule[] = [];
  let timer: NodeJS.Timeout | undefined;

  const save = async (): Promise<Saved> => parseSave(await o.iptables.save(undefined, family));
  const restore = (text: string) => o.iptables.restore(text, family);
  const ours = (rules: SavedRule[]) => rules.filter((r) => r.comment !== undefined && o.ours(r.comment));
  const shown = (r: Rule) => `${fam} ${r.table} ${canonical(r)}`;

  /** Apply a transaction; if it deletes and fails, retry deleting only what still exists. */
  async function apply(t: { del?: Rule[]; add?: Rule[] }): Promise<void> {
    const text = renderRestore(t);
    if (!text) return;
    try {
      await restore(text);
    } catch (e) {
      if (!t.del?.length) throw e;
      const present = new Set(ours((await save()).rules).map((s) => `${s.table} ${s.line}`));
      const del = t.del.filter((r) => present.has(ruleKey(r)));
      const again = renderRestore({ del, add: t.add ?? [] });
      if (again) await restore(again);
    }
  }

  /** Inside `one`: the queued removals in one transaction. */
  async function flushQueued(): Promise<void> {
    if (timer) clearTimeout(timer);
    timer = undefined;
    if (queue.length === 0) return;
    const rules = queue;
    queue = [];
    await apply({ del: rules }).catch((err) => {
      o.log.error({ err, rules: rules.length, family }, 'queued firewall removal failed; restore will repair it');
    });
  }

  function schedule(): void {
    if (timer) return;
    timer = later(() => {
      timer = undefined;
      void one(flushQueued);
    }, delay);
    timer.unref();
  }

  const keysOf = (rules: readonly Rule[]) => new Set(rules.flatMap((r) => r.keys ?? []));
  const shares = (r: Rule, keys: Set<string>) => (r.keys ?? []).some((k) => keys.has(k));

  return {
    sync: (want, inScope, dryRun = false) =>
      one(async (): Promise<SyncReport> => {
        await flushQueued();
        const saved = await save();
        const have = ours(saved.rules).filter((r) => inScope(r.comment!));
        const haveKeys = new Set(have.map((s) => `${s.table} ${s.line}`));
        const wantKeys = new Set(want.map(ruleKey));
        const extra: Rule[] = have.filter((s) => !wantKeys.has(`${s.table} ${s.line}`)).map(savedAsRule);
        const add: Rule[] = [];
        const del: Rule[] = [...extra];
        const report: SyncReport = { missing: [], extra: extra.map(shown), reordered: [] };
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
          const inOrder = (want: string[]) =>
            first ? inChain.slice(0, want.length).map((s) => s.line).join('\n') === want.join('\n') : mine.join('\n') === want.join('\n');
          if (inOrder(expected)) continue;
          // Re-made whole (order matters in a chain); reported as missing what is absent, and as
          // reordered what is there only if what is there is out of order.
          const present = expected.filter((l) => mine.includes(l));
          const outOfOrder = !inOrder(present);
          for (const r of rules) {
            if (haveKeys.has(ruleKey(r))) {
              del.push(r);
              if (outOfOrder) report.reordered.push(shown(r));
            } else report.missing.push(shown(r));
          }
          add.push(...rules);
        }
        const existing = new Set(saved.chains.map((c) => `${c.table} ${c.name}`));
        const chains = want.length ? CHAINS.filter((c) => !existing.has(`${c.table} ${c.name}`)) : [];
        report.missing.unshift(...chains.map((c) => `${fam} ${c.table} chain ${c.name}`));
        const text = renderRestore({ chains, del, add });
        if (text && !dryRun) {
          try {
            await restore(text);
          } catch (e) {
            throw wrap(e, `firewall: apply ${fam} rules`);
          }
        }
        return report;
      }),

    add: (rules) =>
      one(async () => {
        if (rules.length === 0) return;
        const keys = keysOf(rules);
        const del = queue.filter((r) => shares(r, keys));
        if (del.length) queue = queue.filter((r) => !del.includes(r));
        try {
          await apply({ del, add: [...rules] });
        } catch (e) {
          queue.push(...del);
          if (queue.length) schedule();
          throw wrap(e, 'firewall: add rules');
        }
      }),

    async remove(rules, opts = {}) {
      if (rules.length === 0) return;
      if (opts.later) {
        queue.push(...rules);
        schedule();
        return;
      }
      await one(() => apply({ del: [...rules] }));
    },

    flush: () => one(flushQueued),

    list: () => one(async () => ours((await save()).rules)),
  };
}

/**
 * The iptables backend over two rule engines. IPv6 is touched only when a network is dual-stack
 * (sync also clears IPv6 leftovers once no network wants them).
 */
export function iptablesBackend(o: IptablesOptions): FirewallBackend {
  const v4 = ruleEngine(o, 4);
  const v6 = ruleEngine(o, 6);
  const engine = (f: Family) => (f === 4 ? v4 : v6);
  const subnet = (n: FwNetwork, f: Family) => (f === 4 ? n.subnet4 : n.subnet6);
  const netRules = (n: FwNetwork, f: Family): Rule[] => {
    const s = subnet(n, f);
    return s ? networkRules({ bridge: n.bridge, subnet: s, icc: n.icc, masquerade: n.masquerade, internal: n.internal }, n.tag) : [];
  };
  const epRules = (n: FwNetwork, ep: FwEndpoint, f: Family): Rule[] => endpointRules(n.bridge, { ...ep, links: n.icc ? [] : ep.links }, ep.tag, f);
  const families = (n: FwNetwork): Family[] => (n.subnet6 ? [4, 6] : [4]);
  /** Has the IPv6 engine been used (a dual-stack network exists or existed at restore)? */
  let v6Used = false;

  return {
    name: 'iptables',

    async sync(state: FwState, opts: SyncOptions = {}) {
      const scope = opts.scope ?? (() => true);
      const r4 = await v4.sync(stateRules(state, 4), scope, opts.dryRun);
      const want6 = stateRules(state, 6);
      if (want6.length) v6Used = true;
      const r6 = await v6.sync(want6, scope, opts.dryRun);
      return { missing: [...r4.missing, ...r6.missing], extra: [...r4.extra, ...r6.extra], reordered: [...r4.reordered, ...r6.reordered] };
    },

    async addNetwork(state, n) {
      for (const f of families(n)) {
        if (f === 6) v6Used = true;
        const tags = new Set([state.globalTag, n.tag]);
        await engine(f).sync([...globalRules(state.globalTag), ...netRules(n, f)], (t) => tags.has(t));
      }
    },

    async removeNetwork(state, n) {
      for (const f of [4, 6] as Family[]) {
        if (f === 6 && !v6Used && !n.subnet6) continue;
        const others = state.networks.some((x) => x.id !== n.id && subnet(x, f));
        // The last network of a family takes the daemon-wide jumps with it.
        const scope = others ? (t: string) => t === n.tag : (t: string) => t === n.tag || t === state.globalTag;
        await engine(f).sync([], scope);
      }
    },

    async addEndpoint(n, ep) {
      const r4 = epRules(n, ep, 4);
      const r6 = epRules(n, ep, 6);
      await v4.add(r4);
      if (r6.length) {
        try {
          await v6.add(r6);
        } catch (e) {
          await v4.remove(r4);
          throw e;
        }
      }
    },

    async removeEndpoint(n, ep, opts = {}) {
      await v4.remove(epRules(n, ep, 4), opts);
      await v6.remove(epRules(n, ep, 6), opts);
    },

    async flush() {
      await v4.flush();
      await v6.flush();
    },

    async list(): Promise<OwnedRule[]> {
      const out: OwnedRule[] = [];
      for (const f of [4, 6] as Family[]) {
        if (f === 6 && !v6Used) continue;
        for (const r of await engine(f).list()) out.push({ family: f === 4 ? 'ip' : 'ip6', table: r.table, chain: r.chain, line: r.line, tag: r.comment! });
      }
      return out;
    },

    async shutdown() {
      await v4.flush();
      await v6.flush();
    },
  };
}
