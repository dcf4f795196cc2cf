// iptables through iptables-restore (one transaction per change, --noflush: never a flush of what
// berth does not own) and iptables-save to read back.
import type { Exec } from './exec.js';

export type Family = 4 | 6;

export interface Iptables {
  /** Apply restore text atomically: all of it or none of it. */
  restore(text: string, family?: Family): Promise<void>;
  /** iptables-save of one table (or all). */
  save(table?: string, family?: Family): Promise<string>;
}

export function realIptables(exec: Exec): Iptables {
  const bin = (f: Family, what: 'restore' | 'save') => (f === 6 ? `ip6tables-${what}` : `iptables-${what}`);
  return {
    async restore(text, family = 4) {
      await exec.run([bin(family, 'restore'), '--noflush', '--wait'], { input: text });
    },
    async save(table, family = 4) {
      return exec.run([bin(family, 'save'), ...(table ? ['-t', table] : [])]);
    },
  };
}
