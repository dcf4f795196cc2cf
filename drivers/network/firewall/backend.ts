// The firewall seam: what a network driver asks of a firewall, whatever programs it. Drivers speak
// in networks, endpoints, published ports and links (data, no rule text); a backend turns them into
// its own objects and transactions: iptables.ts (iptables-restore/ip6tables-restore, one rule per
// published port) or nftables.ts (one `nft -f` transaction per change, published ports in maps).
// Both keep the same contract, checked by one shared suite (test/unit/network/firewall-contract).
import type { LinkRecord, PortBinding } from '../../types.js';

/** A bridge network as the firewall sees it. `tag` (names.ruleTag(id)) marks everything it owns. */
export interface FwNetwork {
  id: string;
  tag: string;
  bridge: string;
  /** Network CIDRs, host bits clear; subnet6 only on dual-stack networks. */
  subnet4?: string;
  subnet6?: string;
  icc: boolean;
  masquerade: boolean;
  internal: boolean;
}

/** An endpoint's firewall part: published ports and, on icc=false networks, its links. In
 *  addEndpoint/removeEndpoint, `ports` and `links` hold only what is added or removed. */
export interface FwEndpoint {
  id: string;
  tag: string;
  networkId: string;
  /** address/prefix as recorded. */
  ipv4?: string;
  ipv6?: string;
  ports: PortBinding[];
  links: LinkRecord[];
}

/** Everything berth wants: every bridge network and every endpoint with ports or links. */
export interface FwState {
  /** Tag of the daemon-wide jumps from the built-in chains (names.ruleTag(GLOBAL_OWNER)). */
  globalTag: string;
  networks: FwNetwork[];
  endpoints: FwEndpoint[];
}

/** What a sync found (and, unless dryRun, fixed): lines as an operator reads them
 *  (`ip nat -A BERTH … -j DNAT …`, `nft inet berth map ports4 element …`). */
export interface SyncReport {
  /** Wanted and absent: added. */
  missing: string[];
  /** berth's, wanted by no record: removed. */
  extra: string[];
  /** Present but out of order (or a chain's rules changed by hand): re-made. */
  reordered: string[];
}

export interface OwnedRule {
  /** 'ip'/'ip6' (iptables) or 'inet' (nftables). */
  family: string;
  table: string;
  chain: string;
  /** As the kernel shows it: an iptables-save line, or an nft rule or map/set element. */
  line: string;
  /** The owner's tag (comment); for nft elements, the owner found from the address. */
  tag: string;
}

export interface SyncOptions {
  /** Only objects whose owner tag this accepts are compared (default: all of berth's). Used by the
   *  watcher to leave alone endpoints whose change is in flight. */
  scope?: (tag: string) => boolean;
  /** Report, change nothing (`berth system check` without --repair). */
  dryRun?: boolean;
}

export interface FirewallBackend {
  readonly name: 'iptables' | 'nftables';
  /**
   * Re-apply: make berth's part of the firewall hold exactly `state` (within `scope`), creating
   * missing chains/tables, removing berth's objects no record wants, re-making what is out of
   * order. One read per family and at most one transaction per family. Never touches what is not
   * berth's. Idempotent.
   */
  sync(state: FwState, opts?: SyncOptions): Promise<SyncReport>;
  /** A network's rules (and the daemon-wide ones if missing), in one transaction per family.
   *  `state` is the whole state after the network is added (nft keeps a set of every bridge).
   *  Undone by removeNetwork. */
  addNetwork(state: FwState, n: FwNetwork): Promise<void>;
  /** Remove a network's rules; what is already gone is skipped. */
  removeNetwork(state: FwState, n: FwNetwork): Promise<void>;
  /**
   * Add an endpoint's new ports/links, in one transaction per family (one in all for nftables).
   * A queued removal sharing a host port or an address with them is done first, in the same
   * transaction. Rejects and changes nothing on failure.
   */
  addEndpoint(n: FwNetwork, ep: FwEndpoint): Promise<void>;
  /**
   * Remove an endpoint's ports/links. `later`: queue and return; queued removals go in one
   * transaction off the caller's path (the records no longer name them, so a crash before is
   * repaired by restore's sync). What is already gone is skipped: idempotent.
   */
  removeEndpoint(n: FwNetwork, ep: FwEndpoint, opts?: { later?: boolean }): Promise<void>;
  /** Do queued removals now. */
  flush(): Promise<void>;
  /** berth's rules and elements in the kernel, read back (operator's view). */
  list(): Promise<OwnedRule[]>;
  /** Finish queued work (daemon stop). */
  shutdown(): Promise<void>;
}

/** The tags of a state: every owner it names. */
export function stateTags(state: FwState): Set<string> {
  return new Set([state.globalTag, ...state.networks.map((n) => n.tag), ...state.endpoints.map((e) => e.tag)]);
}

/** Serialise async work: every call waits for the previous one (one transaction at a time, so a
 *  repair's read-then-write never interleaves with a start's write). */
export function serial(): <T>(fn: () => Promise<T>) => Promise<T> {
  let tail: Promise<unknown> = Promise.resolve();
  return <T>(fn: () => Promise<T>): Promise<T> => {
    const run = tail.then(fn, fn);
    tail = run.catch(() => {});
    return run;
  };
}
