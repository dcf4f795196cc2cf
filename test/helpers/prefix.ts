// A per-run prefix for everything a kernel test makes (netns, links, state dirs): `bt` + 4 hex.
// vitest's globalSetup exports it through the environment so every worker of one run shares it;
// each test file adds its own suffix.
import { randomBytes } from 'node:crypto';

export function runPrefix(): string {
  return process.env.BERTH_TEST_PREFIX ?? (process.env.BERTH_TEST_PREFIX = `bt${randomBytes(2).toString('hex')}`);
}

/** A prefix unique to one test file or suite: run prefix + 3 hex, still ≤ 10 characters. */
export function uniquePrefix(): string {
  return `${runPrefix()}${randomBytes(2).toString('hex').slice(0, 3)}`;
}

export const isRoot = process.getuid?.() === 0;
export const skipReason = isRoot ? '' : 'needs root (kernel tests make network namespaces, bridges and iptables rules)';
