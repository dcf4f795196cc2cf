// The bridge driver's sandbox pool against the fake iproute2: ready-made netns + veth, refilled in
// one batch after a take, and its state as `network inspect` shows it.
import { describe, expect, it } from 'vitest';
import { SandboxPool } from '../../../drivers/network/bridge/pool.js';
import { fakeSys } from '../../../drivers/sys/fakes/index.js';
import { makeNames } from '../../../drivers/names.js';
import { silentLog } from '../../../drivers/log.js';

async function setup() {
  const fake = fakeSys();
  await fake.ip.batch(['link add bp0 type bridge', 'link set bp0 up']);
  const pool = new SandboxPool({ ip: fake.ip, names: makeNames('bp'), bridge: 'bp0', log: silentLog, size: 2, refillDelayMs: 1 });
  const idle = async () => {
    for (let i = 0; i < 200 && pool.state.filling; i++) await new Promise((r) => setTimeout(r, 2));
  };
  return { fake, pool, idle };
}

describe('sandbox pool', () => {
  it('fills in one batch, refills after a take, and says so in its state', async () => {
    const { fake, pool, idle } = await setup();
    expect(pool.state).toEqual({ ready: 0, size: 2, filling: false });
    await pool.fill();
    expect(pool.state).toEqual({ ready: 2, size: 2, filling: false });
    expect(fake.ip.netnsNames().filter((n) => n.startsWith('bp-'))).toHaveLength(2);
    const s = pool.take()!;
    expect(pool.state).toMatchObject({ ready: 1, filling: true });
    expect(fake.ip.netnsNames()).toContain(s.netns);
    await idle();
    expect(pool.state).toEqual({ ready: 2, size: 2, filling: false });
    expect(pool.held().has(s.netns)).toBe(false);
    await pool.close();
    expect(fake.ip.netnsNames().filter((n) => n.startsWith('bp-'))).toEqual([s.netns]);
  });

  it('a fill with nothing to do does not stop later refills', async () => {
    const { pool, idle } = await setup();
    await pool.fill();
    await pool.fill(); // full: nothing to do, ends at once
    expect(pool.state.filling).toBe(false);
    pool.take();
    pool.take();
    await idle();
    expect(pool.state).toEqual({ ready: 2, size: 2, filling: false });
    await pool.close();
  });
});
