// The nftables backend (`--firewall-backend nftables`): berth's own `inet <prefix>` table, built by
// render-nft.ts. A container change is one `nft -f -` transaction that adds or deletes map and set
// elements only (no rule per published port: the DNAT is one map lookup whatever the number of
// ports). Network changes and repairs are a sync: one `nft -j list table` read, compared by rule
// comment and by element, and one transaction for the difference. Removals are queued and batched
// like the iptables backend's; an add whose key a queued removal holds deletes it first, in the
// same transaction. nft 1.0 has no `destroy`: a transaction that fails on an element already gone
// (or already there) is retried from a fresh read.
import type { Nft } from '../../sys/nft.js';
import type { Log } from '../../log.js';
import { wrap } from '../../errors.js';
import { serial, type FirewallBackend, type FwEndpoint, type FwNetwork, type FwState, type OwnedRule, type SyncOptions, type SyncReport } from './backend.js';
import {
  CHAINS,
  SETS,
  elementKey,
  elementText,
  endpointElements,
  nftWant,
  parseNftJson,
  renderNft,
  type NftElement,
  type NftHave,
  type NftRule,
} from './render-nft.js';
import { later } from '../../later.js';

export interface NftablesOptions {
  nft: Nft;
  /** The table's name: berth's prefix (names.prefix). */
  table: string;
  log: Log;
  removeDelayMs?: number;
}

export function nftablesBackend(o: NftablesOptions): FirewallBackend {
  const T = o.table;
  const delay = o.removeDelayMs ?? 50;
  const one = serial();
  let queue: NftElement[] = [];
  let timer: NodeJS.Timeout | undefined;
  /** The rules last wanted (their text by comment), for the operator's view. */
  let known = new Map<string, NftRule>();
  /** Owners of elements berth made or found wanted (elements carry no comment). */
  const owners = new Map<string, string>();

  const read = async (): Promise<NftHave> => {
    try {
      return parseNftJson(await o.nft.listJson(['table', 'inet', T]));
    } catch (e) {
      if (/No such file or directory|does not exist/i.test((e as Error).message)) return parseNftJson({ nftables: [] });
      throw e;
    }
  };
  const shownRule = (r: NftRule) => `inet ${T} ${r.chain} ${r.text} comment "${r.comment}"`;
  const shownElem = (e: Pick<NftElement, 'set' | 'key' | 'value'> & { owner?: string }) =>
    `inet ${T} ${SETS.find((s) => s.name === e.set)?.map ? 'map' : 'set'} ${e.set} element ${elementText(e)}${e.owner ? ` (${e.owner})` : ''}`;

  /** Apply element changes; on failure, read and retry without what is already gone or there. */
  async function applyElements(del: NftElement[], add: NftElement[]): Promise<void> {
    const text = renderNft(T, { delElements: del, addElements: add });
    if (!text) return;
    try {
      await o.nft.apply(text);
    } catch (e) {
      const have = await read();
      if (!have.exists) throw e;
      const d = del.filter((x) => have.elements.has(elementKey(x)));
      const a: NftElement[] = [];
      for (const x of add) {
        const cur = have.elements.get(elementKey(x));
        if (cur && cur.value === x.value) continue; // there already
        if (cur && !d.some((y) => elementKey(y) === elementKey(x))) d.push(x); // same key, other data: replace
        a.push(x);
      }
      const again = renderNft(T, { delElements: d, addElements: a });
      if (again) await o.nft.apply(again);
    }
    for (const x of del) owners.delete(elementKey(x));
    for (const x of add) owners.set(elementKey(x), x.owner);
  }

  async function flushQueued(): Promise<void> {
    if (timer) clearTimeout(timer);
    timer = undefined;
    if (queue.length === 0) return;
    const els = queue;
    queue = [];
    await applyElements(els, []).catch((err) => o.log.error({ err, elements: els.length }, 'queued nftables removal failed; restore will repair it'));
  }

  function schedule(): void {
    if (timer) return;
    timer = later(() => {
      timer = undefined;
      void one(flushQueued);
    }, delay);
    timer.unref();
  }

  async function doSync(state: FwState, opts: SyncOptions): Promise<SyncReport> {
    await flushQueued();
    const scope = opts.scope ?? (() => true);
    const want = nftWant(state);
    known = new Map(want.rules.map((r) => [r.comment, r]));
    for (const e of want.elements) owners.set(elementKey(e), e.owner);
    const have = await read();
    const report: SyncReport = { missing: [], extra: [], reordered: [] };

    if (want.rules.length === 0) {
      // No network: the table goes (it is berth's alone).
      if (have.exists) {
        for (const [chain, rules] of have.rules) for (const r of rules) report.extra.push(`inet ${T} ${chain} rule comment "${r.comment ?? ''}"`);
        for (const e of have.elements.values()) report.extra.push(shownElem({ ...e, owner: owners.get(elementKey(e)) }));
        if (!opts.dryRun) await o.nft.apply(`delete table inet ${T}\n`);
      }
      return report;
    }

    if (!have.exists) report.missing.push(`inet table ${T}`);
    for (const c of CHAINS) if (have.exists && !have.chains.has(c.name)) report.missing.push(`inet ${T} chain ${c.name}`);
    for (const s of SETS) if (have.exists && !have.sets.has(s.name)) report.missing.push(`inet ${T} ${s.map ? 'map' : 'set'} ${s.name}`);

    // rules: compared per chain by comment (each is unique), in order
    const flush: string[] = [];
    const delRules: { chain: string; handle: number }[] = [];
    const addRules: NftRule[] = [];
    for (const c of CHAINS) {
      const wanted = want.rules.filter((r) => r.chain === c.name);
      const present = have.rules.get(c.name) ?? [];
      const wantedSet = new Set(wanted.map((r) => r.comment));
      const extra = present.filter((r) => r.comment === undefined || !wantedSet.has(r.comment));
      report.extra.push(...extra.map((r) => `inet ${T} ${c.name} rule handle ${r.handle} comment "${r.comment ?? ''}"`));
      const kept = present.filter((r) => r.comment !== undefined && wantedSet.has(r.comment)).map((r) => r.comment!);
      const missing = wanted.filter((r) => !kept.includes(r.comment));
      report.missing.push(...missing.map(shownRule));
      const prefixOk = kept.every((cm, i) => wanted[i]?.comment === cm);
      if (prefixOk) {
        delRules.push(...extra.map((r) => ({ chain: c.name, handle: r.handle })));
        addRules.push(...wanted.slice(kept.length));
      } else {
        // out of order: the chain is berth's, re-made whole in the same transaction
        const inOrder = wanted.filter((r) => kept.includes(r.comment)).map((r) => r.comment);
        if (inOrder.join('\n') !== kept.join('\n')) report.reordered.push(...wanted.filter((r) => kept.includes(r.comment)).map(shownRule));
        flush.push(c.name);
        addRules.push(...wanted);
      }
    }

    // elements, within scope
    const wantEl = new Map(want.elements.map((e) => [elementKey(e), e]));
    const delEl: NftElement[] = [];
    const addEl: NftElement[] = [];
    for (const [k, e] of have.elements) {
      const w = wantEl.get(k);
      const owner = owners.get(k);
      if (owner !== undefined && !scope(owner)) continue;
      if (!w) {
        if (owner === undefined || scope(owner)) {
          report.extra.push(shownElem({ ...e, ...(owner ? { owner } : {}) }));
          delEl.push({ ...e, owner: owner ?? '' });
        }
      } else if (w.value !== e.value) {
        report.extra.push(shownElem({ ...e, ...(owner ? { owner } : {}) }));
        delEl.push({ ...e, owner: owner ?? '' });
        report.missing.push(shownElem(w));
        addEl.push(w);
      }
    }
    for (const [k, w] of wantEl) if (!have.elements.has(k) && scope(w.owner)) {
      report.missing.push(shownElem(w));
      addEl.push(w);
    }

    const text = renderNft(T, { skeleton: true, flush, delRules, addRules, delElements: delEl, addElements: addEl });
    const nothing = report.missing.length === 0 && report.extra.length === 0 && report.reordered.length === 0;
    if (!opts.dryRun && !nothing) {
      try {
        await o.nft.apply(text);
      } catch (e) {
        throw wrap(e, 'firewall: apply nftables ruleset');
      }
    }
    return report;
  }

  const elementsOf = (n: FwNetwork, ep: FwEndpoint) => endpointElements(n, ep);

  return {
    name: 'nftables',

    sync: (state, opts = {}) => one(() => doSync(state, opts)),

    addNetwork: (state) => one(async () => void (await doSync(state, {}))),

    removeNetwork: (state, n) =>
      one(async () => {
        const rest: FwState = { ...state, networks: state.networks.filter((x) => x.id !== n.id), endpoints: state.endpoints.filter((e) => e.networkId !== n.id) };
        await doSync(rest, {});
      }),

    addEndpoint: (n, ep) =>
      one(async () => {
        const add = elementsOf(n, ep);
        if (add.length === 0) return;
        const keys = new Set(add.map(elementKey));
        const del = queue.filter((x) => keys.has(elementKey(x)));
        if (del.length) queue = queue.filter((x) => !del.includes(x));
        try {
          await applyElements(del, add);
        } catch (e) {
          queue.push(...del);
          if (queue.length) schedule();
          throw wrap(e, 'firewall: add nftables elements');
        }
      }),

    async removeEndpoint(n, ep, opts = {}) {
      const els = elementsOf(n, ep);
      if (els.length === 0) return;
      if (opts.later) {
        queue.push(...els);
        schedule();
        return;
      }
      await one(() => applyElements(els, []));
    },

    flush: () => one(flushQueued),

    list: () =>
      one(async (): Promise<OwnedRule[]> => {
        const have = await read();
        if (!have.exists) return [];
        const out: OwnedRule[] = [];
        for (const [chain, rules] of have.rules)
          for (const r of rules) {
            if (!r.comment) continue;
            const k = known.get(r.comment);
            const tag = r.comment.split(':').slice(0, 2).join(':');
            out.push({ family: 'inet', table: T, chain, line: k ? `${k.text} comment "${k.comment}"` : `handle ${r.handle} comment "${r.comment}"`, tag });
          }
        for (const [k, e] of have.elements) {
          const owner = owners.get(k);
          if (owner !== undefined) out.push({ family: 'inet', table: T, chain: e.set, line: `${SETS.find((s) => s.name === e.set)?.map ? 'map' : 'set'} ${e.set} element ${elementText(e)}`, tag: owner });
        }
        return out;
      }),

    async shutdown() {
      await one(flushQueued);
    },
  };
}
