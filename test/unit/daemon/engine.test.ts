import { describe, expect, it } from 'vitest';
import { Engine } from '../../../daemon/engine/engine.js';
import { silentLog } from '../../../drivers/log.js';
import type { AnyDriver } from '../../../drivers/driver.js';
import { BerthError } from '../../../drivers/errors.js';
import { later } from '../../../drivers/later.js';

/** A network driver whose handlers record what they do and register inverses. */
function recordingDriver(log: string[], failOn?: string): AnyDriver {
  const step = (name: string) => async (_in: unknown, job: import('../../../drivers/handlers.js').Job) => {
    if (name === failOn) throw new BerthError('conflict', `${name} failed`);
    log.push(`do ${name}`);
    job.undo.push(name, () => void log.push(`undo ${name}`));
    return {} as never;
  };
  return {
    kind: 'network',
    name: 'rec',
    builtinNetworks: [],
    restore: async () => ({ recreated: [], removed: [] }),
    handlers: {
      create_network: step('create_network'),
      delete_network: step('delete_network'),
      allocate_interface: step('allocate_interface'),
      release_interface: step('release_interface'),
      allocate_port: step('allocate_port'),
      release_port: step('release_port'),
      link: step('link'),
      unlink: step('unlink'),
    },
  };
}

const net = {} as never;

describe('engine', () => {
  it('undoes the completed steps of a failed job newest first and rethrows the original error', async () => {
    const log: string[] = [];
    const e = new Engine(silentLog);
    e.install(recordingDriver(log, 'allocate_port'));
    const err = await e
      .job('container-start', async (job) => {
        await e.run('allocate_interface', 'rec', net, job);
        job.undo.push('own step', () => void log.push('undo own step'));
        await e.run('link', 'rec', net, job);
        await e.run('allocate_port', 'rec', net, job);
      })
      .catch((x: unknown) => x);
    expect(err).toBeInstanceOf(BerthError);
    expect((err as Error).message).toBe('allocate_port failed');
    expect(log).toEqual(['do allocate_interface', 'do link', 'undo link', 'undo own step', 'undo allocate_interface']);
  });

  it('keeps the effects of a job that succeeds', async () => {
    const log: string[] = [];
    const e = new Engine(silentLog);
    e.install(recordingDriver(log));
    await e.job('ok', async (job) => {
      await e.run('allocate_interface', 'rec', net, job);
    });
    expect(log).toEqual(['do allocate_interface']);
  });

  it('keeps unwinding when an undo step fails, and still throws the original error', async () => {
    const e = new Engine(silentLog);
    const order: string[] = [];
    const err = await e
      .job('j', async (job) => {
        job.undo.push('a', () => void order.push('a'));
        job.undo.push('b', () => {
          throw new Error('b broke');
        });
        job.undo.push('c', () => void order.push('c'));
        throw new Error('original');
      })
      .catch((x: unknown) => x);
    expect((err as Error).message).toBe('original');
    expect(order).toEqual(['c', 'a']);
  });

  it('traces every job with name, driver, duration and outcome', async () => {
    const e = new Engine(silentLog);
    e.install(recordingDriver([], 'unlink'));
    await e.run('link', 'rec', net);
    await e.run('unlink', 'rec', net).catch(() => {});
    const t = e.recent();
    expect(t.map((x) => [x.name, x.driver, x.outcome])).toEqual([
      ['link', 'rec', 'ok'],
      ['unlink', 'rec', 'error'],
    ]);
    expect(t[1]!.error).toBe('unlink failed');
    expect(typeof t[0]!.durationMs).toBe('number');
  });

  it('counts programs run on the job and its parents', async () => {
    const e = new Engine(silentLog);
    await e.job('outer', async (job) => {
      await e.job('inner', async () => {
        e.recordExec(['/usr/sbin/ip', '-batch', '-']);
      }, { parent: job });
      e.recordExec(['iptables-restore']);
    });
    const inner = e.recent().find((t) => t.name === 'inner');
    const outer = e.recent().find((t) => t.name === 'outer');
    expect(inner!.parent).toBe(outer!.id);
    expect(inner!.execs).toEqual({ ip: 1 });
    expect(outer!.execs).toEqual({ ip: 1, 'iptables-restore': 1 });
  });

  it("does not count work a job scheduled for later (a pool refill) as the job's", async () => {
    const e = new Engine(silentLog);
    let fired!: () => void;
    const done = new Promise<void>((r) => (fired = r));
    await e.job('start', async () => {
      e.recordExec(['ip']);
      later(() => {
        e.recordExec(['ip']);
        fired();
      }, 0);
      setTimeout(() => e.recordExec(['iptables-restore']), 0); // a plain timer carries the job along
      await new Promise((r) => setTimeout(r, 5));
    });
    await done;
    expect(e.recent().at(-1)!.execs).toEqual({ ip: 1, 'iptables-restore': 1 });
  });

  it('lets go of the parent job after each step (no listener piles up on its signal)', async () => {
    const e = new Engine(silentLog);
    const warnings: Error[] = [];
    const onWarning = (w: Error) => warnings.push(w);
    process.on('warning', onWarning);
    try {
      await e.job('pull', async (job) => {
        for (let i = 0; i < 30; i++) await e.job(`layer ${i}`, async () => {}, { parent: job });
      });
      await new Promise((r) => setImmediate(r));
      expect(warnings.filter((w) => w.name === 'MaxListenersExceededWarning')).toEqual([]);
    } finally {
      process.off('warning', onWarning);
    }
  });

  it('aborts the steps of an aborted job', async () => {
    const e = new Engine(silentLog);
    let seen: unknown;
    const long = e.job('outer', (job) => e.job('inner', (inner) => new Promise<void>((res) => inner.signal.addEventListener('abort', () => ((seen = inner.signal.reason), res()))), { parent: job }));
    expect(await e.drain(20)).toBe(false);
    await long;
    expect(String(seen)).toContain('shutdown timeout');
  });

  it('refuses an unknown driver with not_found', async () => {
    const e = new Engine(silentLog);
    await expect(e.run('link', 'nope', net)).rejects.toMatchObject({ code: 'not_found' });
  });

  it('drains: refuses new jobs, waits for running ones, aborts them at the timeout', async () => {
    const e = new Engine(silentLog);
    let aborted = false;
    const long = e.job('long', (job) => new Promise<void>((res) => job.signal.addEventListener('abort', () => ((aborted = true), res()))));
    const drained = await e.drain(50);
    expect(drained).toBe(false);
    expect(aborted).toBe(true);
    await long;
    await expect(e.job('late', async () => {})).rejects.toMatchObject({ code: 'unavailable' });
  });

  it('refuses a second driver with the same kind and name', () => {
    const e = new Engine(silentLog);
    e.install(recordingDriver([]));
    expect(() => e.install(recordingDriver([]))).toThrow(/installed already/);
  });
});
