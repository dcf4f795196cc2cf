// `berth system check`: what the records say against what the kernel holds, for every network
// driver that can tell (NetworkDriver.check): berth's firewall rules, links, netns, addresses,
// routes, held host ports, DNS responders — missing, extra or wrong. With repair, each driver makes
// the kernel match its records and marks each item repaired (or says why not). One engine job, so
// the trace shows what it ran.
import type { Daemon } from './daemon.js';
import type { NetworkDriver } from '../drivers/driver.js';
import type { DriftItem } from '../drivers/types.js';

export interface CheckReport {
  /** Every difference found (empty: the kernel matches the records). */
  drift: DriftItem[];
  repair: boolean;
  durationMs: number;
}

export async function systemCheck(d: Daemon, opts: { repair: boolean }): Promise<CheckReport> {
  const t0 = performance.now();
  const drift = await d.engine.job(opts.repair ? 'system-repair' : 'system-check', async () => {
    const out: DriftItem[] = [];
    for (const name of d.engine.drivers('network')) {
      const driver = d.engine.driver('network', name) as NetworkDriver;
      if (driver.check) out.push(...(await driver.check(opts)));
    }
    return out;
  });
  return { drift, repair: opts.repair, durationMs: Math.round(performance.now() - t0) };
}
