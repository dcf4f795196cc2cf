// The firewall seam: what a network driver asks of a firewall, whatever programs it. The iptables
// backend (iptables.ts) is the first; an nftables one (sets and maps) can take its place (issue 7)
// because drivers hand over rules as data (plan.ts) and never text.
import type { Rule } from './plan.js';

export interface SyncReport {
  added: string[];
  removed: string[];
}

export interface OwnedRule {
  table: string;
  chain: string;
  /** As the kernel shows it (an iptables-save line). */
  line: string;
  /** The tag (comment). */
  tag: string;
}

export interface FirewallBackend {
  /**
   * Make the kernel hold exactly `want` among berth's rules whose tag `inScope` accepts, in order
   * (a group of one tag in one chain that is out of order is re-made), creating missing chains.
   * Rules of other tags are not touched. One read and at most one transaction. Idempotent.
   */
  sync(want: readonly Rule[], inScope: (tag: string) => boolean): Promise<SyncReport>;
  /** Add rules known to be missing, in one transaction. A queued removal sharing a key with one of
   *  them is done first, in the same transaction. */
  add(rules: readonly Rule[]): Promise<void>;
  /**
   * Remove rules. `later`: queue them and return; they go in one transaction off the caller's path
   * (the records no longer name them, so a crash before is repaired by restore's sync). Rules
   * already gone are skipped: idempotent.
   */
  remove(rules: readonly Rule[], opts?: { later?: boolean }): Promise<void>;
  /** Do queued removals now. */
  flush(): Promise<void>;
  /** berth's rules in the kernel, read back. */
  list(): Promise<OwnedRule[]>;
  /** Finish queued work (daemon stop). */
  shutdown(): Promise<void>;
}
