// Every kernel and disk name berth derives, in one place. All of them carry berth's prefix, so
// berth can find what it owns and never touches what it does not. Link names are at most 15
// characters (IFNAMSIZ - 1); iptables chain names at most 28.
import { invalidParameter } from './errors.js';

export interface Names {
  /** The prefix of every netns berth makes ("berth" by default; tests use a per-run one). */
  readonly prefix: string;
  /** Named netns of a container's sandbox. */
  netns(id: string): string;
  /** True if a netns name is one of ours. */
  ownsNetns(name: string): boolean;
  /** Host side of a veth pair. */
  hostVeth(endpointId: string): string;
  ownsLink(name: string): boolean;
  /** Comment put on every firewall rule made for an endpoint or a network. */
  ruleTag(ownerId: string): string;
  /** Parse the owner id back out of a rule comment, or undefined if it is not ours. */
  ruleOwner(comment: string): string | undefined;
}

const PREFIX_RE = /^[a-z][a-z0-9]{0,9}$/;
const LINK_PREFIX = 'bv';

/** Names for a prefix. The prefix is validated: it reaches `ip` and mount paths. */
export function makeNames(prefix = 'berth'): Names {
  if (!PREFIX_RE.test(prefix)) throw invalidParameter(`invalid name prefix "${prefix}": want [a-z][a-z0-9]{0,9}`);
  const tagPrefix = `${prefix}:`;
  return {
    prefix,
    netns: (id) => `${prefix}-${safeId(id).slice(0, 12)}`,
    ownsNetns: (name) => name.startsWith(`${prefix}-`),
    hostVeth: (endpointId) => `${LINK_PREFIX}${safeId(endpointId).slice(0, 11)}`,
    ownsLink: (name) => new RegExp(`^${LINK_PREFIX}[0-9a-f]{11}$`).test(name),
    ruleTag: (ownerId) => `${tagPrefix}${safeId(ownerId).slice(0, 12)}`,
    ruleOwner: (comment) => (comment.startsWith(tagPrefix) ? comment.slice(tagPrefix.length) : undefined),
  };
}

/** Object ids are 64 lowercase hex characters; anything else never reaches a command. */
export function safeId(id: string): string {
  if (!/^[0-9a-f]{12,64}$/.test(id)) throw invalidParameter(`invalid object id "${id}"`);
  return id;
}
