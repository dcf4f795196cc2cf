// Kernel tests: one prefix per run, shared with workers through the environment; at the end, sweep
// any netns, mount or process this run left (a test that crashed before its own clean-up).
import { readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runPrefix } from './prefix.js';
import { sweepNetns } from './netns.js';
import { run } from './sh.js';
import { pidsDir } from './daemon.js';

export async function setup(): Promise<void> {
  runPrefix();
}

export async function teardown(): Promise<void> {
  const prefix = runPrefix();
  // processes tests started and registered (daemons, conmon-supervised containers)
  try {
    for (const f of readdirSync(pidsDir(prefix))) {
      const pid = Number(f);
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    rmSync(pidsDir(prefix), { recursive: true, force: true });
  } catch {
    /* none registered */
  }
  // mounts under this run's temp dirs
  const mounts = readFileSync('/proc/mounts', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[1] ?? '')
    .filter((m) => m.includes(`/berth-test-${prefix}`))
    .reverse();
  for (const m of mounts) await run(['umount', '-l', m]);
  await sweepNetns(prefix);
  // temp dirs of this run (daemons' state, image tars), once nothing is mounted under them
  for (const f of readdirSync(tmpdir())) if (f.startsWith(`berth-test-${prefix}`)) rmSync(join(tmpdir(), f), { recursive: true, force: true });
}
