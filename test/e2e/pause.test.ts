// docker pause / unpause end to end: a real berthd in a throwaway netns playing the host, real runc
// and the freezer cgroup. The container writes a timestamp every 0.1 s; it is read from the host
// through /proc/<pid>/root, so a frozen container is seen not to write.
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isRoot, skipReason, uniquePrefix } from '../helpers/prefix.js';
import { makeHost, type TestHost } from '../helpers/netns.js';
import { startTestDaemon, testDir, type TestDaemon } from '../helpers/daemon.js';
import { busyboxTar } from '../helpers/images.js';
import { run } from '../helpers/sh.js';

const hasDocker = (await run(['docker', '--version'])).code === 0;
if (!isRoot) console.log(`skipping pause e2e: ${skipReason}`);

// a counter (busybox date has no %N: a time stamp would change once a second only)
const TICK = ['sh', '-c', 'i=0; while :; do i=$((i+1)); echo $i > /tmp/t; sleep 0.1; done'];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.skipIf(!isRoot)('pause and unpause end to end', () => {
  let host: TestHost;
  let d: TestDaemon;

  beforeAll(async () => {
    const prefix = uniquePrefix();
    host = await makeHost(prefix);
    d = await startTestDaemon({ netns: host.name, namePrefix: prefix, args: ['--bridge', `${prefix}b0`] });
    const tar = await busyboxTar(testDir('img'));
    const r = await d.cli(['import', tar, 'busybox:latest']);
    expect(r.code, r.stderr).toBe(0);
  });
  afterAll(async () => {
    await d?.teardown();
    await host?.destroy();
  });

  const state = async (name: string) => JSON.parse((await d.cli(['inspect', '-f', '{{json .State}}', name])).stdout) as { Status: string; Running: boolean; Paused: boolean; Pid: number };
  const tick = (pid: number) => readFileSync(`/proc/${pid}/root/tmp/t`, 'utf8').trim();
  /** Whether the counter moves past t0 within 5 s (a loaded machine may be slow to schedule it). */
  const moves = async (pid: number, t0: string) => {
    for (let i = 0; i < 100; i++) {
      if (tick(pid) !== t0) return true;
      await sleep(50);
    }
    return false;
  };
  const started = async (name: string) => {
    const r = await d.cli(['run', '-d', '--name', name, 'busybox', ...TICK]);
    expect(r.code, r.stderr).toBe(0);
    const pid = (await state(name)).Pid;
    // until its counter is there and moving
    for (let i = 0; i < 100; i++) {
      try {
        if (tick(pid) !== '' && tick(pid) !== '1') break;
      } catch {
        /* not yet written */
      }
      await sleep(50);
    }
    return pid;
  };

  it('pause freezes it (inspect, ps, no more writes, exec refused); unpause lets it go on', async () => {
    const pid = await started('tick');
    const p = await d.cli(['pause', 'tick']);
    expect(p.code, p.stderr).toBe(0);
    expect(p.stdout).toBe('tick\n');
    expect(await state('tick')).toMatchObject({ Status: 'paused', Running: true, Paused: true });
    const t0 = tick(pid);
    await sleep(400);
    expect(tick(pid)).toBe(t0);

    const ps = await d.cli(['ps', '--format', '{{.Names}} {{.Status}}']);
    expect(ps.stdout).toMatch(/^tick Up .* \(Paused\)$/m);
    expect((await d.cli(['ps', '-q', '--filter', 'status=paused'])).stdout.trim()).not.toBe('');
    expect((await d.cli(['ps', '-q', '--filter', 'status=running'])).stdout.trim()).toBe('');

    const ex = await d.cli(['exec', 'tick', 'true'], { timeoutMs: 10_000 });
    expect(ex.code).toBe(1);
    expect(ex.stderr).toMatch(/is paused, unpause the container before exec/);

    const twice = await d.cli(['pause', 'tick']);
    expect(twice.code).toBe(1);
    expect(twice.stderr).toMatch(/Container [0-9a-f]{64} is already paused/);

    const rm = await d.cli(['rm', 'tick']);
    expect(rm.code).toBe(1);
    expect(rm.stderr).toMatch(/container is paused: unpause and then stop the container before removing or force remove/);

    const u = await d.cli(['unpause', 'tick']);
    expect(u.code, u.stderr).toBe(0);
    expect(u.stdout).toBe('tick\n');
    expect(await state('tick')).toMatchObject({ Status: 'running', Running: true, Paused: false });
    expect(await moves(pid, t0)).toBe(true);

    const again = await d.cli(['unpause', 'tick']);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/Container [0-9a-f]{64} is not paused/);
    expect((await d.cli(['rm', '-f', 'tick'])).code).toBe(0);
  });

  it('a stopped container cannot be paused (409, not running) nor unpaused (409, not paused)', async () => {
    expect((await d.cli(['create', '--name', 'idle', 'busybox', 'true'])).code).toBe(0);
    const r = await d.cli(['pause', 'idle', 'nosuch']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/Container [0-9a-f]{64} is not running/);
    expect(r.stderr).toMatch(/No such container: nosuch/);
    const u = await d.cli(['unpause', 'idle']);
    expect(u.code).toBe(1);
    expect(u.stderr).toMatch(/Container [0-9a-f]{64} is not paused/);
    expect((await d.cli(['rm', 'idle'])).code).toBe(0);
  });

  it('kill, stop -t 1 and rm -f of a paused container do not hang', async () => {
    for (const [name, argv] of [
      ['pk', ['kill', 'pk']],
      ['ps1', ['stop', '-t', '1', 'ps1']],
      ['prm', ['rm', '-f', 'prm']],
    ] as const) {
      await started(name);
      expect((await d.cli(['pause', name])).code).toBe(0);
      const t = Date.now();
      const r = await d.cli([...argv], { timeoutMs: 10_000 });
      expect(r.code, `${argv.join(' ')}: ${r.stderr}`).toBe(0);
      expect(Date.now() - t).toBeLessThan(5_000);
      if (name !== 'prm') {
        expect(await state(name)).toMatchObject({ Status: 'exited', Running: false, Paused: false });
        expect((await d.cli(['rm', name])).code).toBe(0);
      } else {
        expect((await d.cli(['inspect', name])).code).toBe(1);
      }
    }
  });

  it('kill -s USR1 of a paused container thaws it (as dockerd); restart of a paused one runs it again', async () => {
    const pid = await started('pk2');
    expect((await d.cli(['pause', 'pk2'])).code).toBe(0);
    const t0 = tick(pid);
    const k = await d.cli(['kill', '-s', 'USR1', 'pk2'], { timeoutMs: 10_000 });
    expect(k.code, k.stderr).toBe(0);
    // the container's init (pid 1 of its namespace) ignores USR1: it goes on, thawed
    expect(await state('pk2')).toMatchObject({ Status: 'running', Running: true, Paused: false });
    expect(await moves(pid, t0)).toBe(true);

    await started('pr');
    expect((await d.cli(['pause', 'pr'])).code).toBe(0);
    const r = await d.cli(['restart', '-t', '1', 'pr'], { timeoutMs: 15_000 });
    expect(r.code, r.stderr).toBe(0);
    expect(await state('pr')).toMatchObject({ Status: 'running', Paused: false });
    expect((await d.cli(['rm', '-f', 'pk2', 'pr'])).code).toBe(0);
  });

  it('a paused container stays paused across a berthd restart', async () => {
    const pid = await started('keep');
    expect((await d.cli(['pause', 'keep'])).code).toBe(0);
    await d.kill9();
    await d.restart();
    expect(await state('keep')).toMatchObject({ Status: 'paused', Paused: true, Pid: pid });
    expect((await d.cli(['unpause', 'keep'])).code).toBe(0);
    expect((await d.cli(['rm', '-f', 'keep'], { timeoutMs: 10_000 })).code).toBe(0);
  });

  it.skipIf(!hasDocker)('the docker CLI: pause, unpause', async () => {
    await started('dpause');
    const p = await d.docker(['pause', 'dpause']);
    expect(p.code, p.stderr).toBe(0);
    expect((await d.docker(['inspect', '-f', '{{.State.Status}} {{.State.Paused}}', 'dpause'])).stdout.trim()).toBe('paused true');
    const u = await d.docker(['unpause', 'dpause']);
    expect(u.code, u.stderr).toBe(0);
    expect((await d.docker(['inspect', '-f', '{{.State.Status}} {{.State.Paused}}', 'dpause'])).stdout.trim()).toBe('running false');
    const until = Math.ceil(Date.now() / 1000) + 1;
    const ev = await d.docker(['events', '--since', '0', '--until', String(until), '--filter', 'container=dpause', '--filter', 'event=pause', '--filter', 'event=unpause', '--format', '{{.Action}}']);
    expect(ev.stdout.trim().split('\n')).toEqual(['pause', 'unpause']);
    expect((await d.docker(['rm', '-f', 'dpause'])).code).toBe(0);
  });
});
