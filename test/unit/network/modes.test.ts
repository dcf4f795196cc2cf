// host, none and container modes against the fake kernel.
import { describe, expect, it } from 'vitest';
import hostDriver from '../../../drivers/network/host/index.js';
import noneDriver from '../../../drivers/network/none/index.js';
import containerDriver from '../../../drivers/network/container/index.js';
import { fakeSys, failNth } from '../../../drivers/sys/fakes/index.js';
import { BerthError } from '../../../drivers/errors.js';
import type { NetworkRecord } from '../../../drivers/types.js';
import { createBuiltin, engineWith, hex, makeCtx, memRecords } from './helpers.js';

const p80 = [{ containerPort: 80, proto: 'tcp' as const, hostIp: '', hostPort: 8080, hostPortEnd: 8080 }];
const err = async (p: Promise<unknown>) => {
  const e = await p.then(() => undefined, (x: unknown) => x);
  expect(e).toBeInstanceOf(BerthError);
  return [(e as BerthError).code, (e as Error).message];
};

describe('host', () => {
  it("the daemon's netns, no kernel call; -p ignored (returns no binding)", async () => {
    const fake = fakeSys();
    const records = memRecords();
    const d = hostDriver(makeCtx(fake, records));
    const e = engineWith(d);
    const net = await createBuiltin(e, d, records);
    expect(net).toMatchObject({ name: 'host', driver: 'host', builtin: true, ipam: [] });
    const ep = await e.run('allocate_interface', 'host', { network: net, container: { id: hex(), name: 'c' }, endpointId: hex(), request: {} });
    expect(ep.netns).toEqual({ kind: 'host' });
    expect(await e.run('allocate_port', 'host', { network: net, endpoint: ep, requests: p80 })).toEqual([]);
    expect(records.get('endpoint', ep.id)).toBeDefined();
    await e.run('release_interface', 'host', { network: net, endpoint: ep });
    expect(records.get('endpoint', ep.id)).toBeUndefined();
    expect(fake.execs).toEqual([]);
  });
});

describe('none', () => {
  it('a netns with lo up only; release removes it; a failed step leaves nothing', async () => {
    const fake = fakeSys();
    const records = memRecords();
    const f = failNth(fake, Infinity);
    const d = noneDriver(makeCtx(f, records));
    const e = engineWith(d);
    const net = await createBuiltin(e, d, records);
    const c = { id: hex(), name: 'c' };
    const ep = await e.run('allocate_interface', 'none', { network: net, container: c, endpointId: hex(), request: {} });
    expect(ep.netns).toEqual({ kind: 'new', name: `bt-${c.id.slice(0, 12)}`, path: `/run/netns/bt-${c.id.slice(0, 12)}` });
    expect(fake.ip.links(`bt-${c.id.slice(0, 12)}`)).toMatchObject([{ name: 'lo', up: true }]);
    expect(await e.run('allocate_port', 'none', { network: net, endpoint: ep, requests: p80 })).toEqual([]);
    await e.run('release_interface', 'none', { network: net, endpoint: ep });
    await e.run('release_interface', 'none', { network: net, endpoint: ep }); // idempotent
    expect(fake.ip.netnsNames()).toEqual([]);
    for (const n of [1, 2]) {
      f.arm(n);
      await err(e.run('allocate_interface', 'none', { network: net, container: { id: hex(), name: 'x' }, endpointId: hex(), request: {} }));
      f.arm(Infinity);
      expect(fake.ip.netnsNames()).toEqual([]);
      expect(records.list('endpoint')).toEqual([]);
    }
  });

  it("adopts a running container's netns (its last network went): no kernel call, and its release deletes it", async () => {
    const fake = fakeSys();
    const records = memRecords();
    const d = noneDriver(makeCtx(fake, records));
    const e = engineWith(d);
    const net = await createBuiltin(e, d, records);
    await fake.ip.batch(['netns add bt-sandbox1']);
    const netns = { kind: 'new' as const, name: 'bt-sandbox1', path: '/run/netns/bt-sandbox1' };
    const calls = fake.execs.length;
    const ep = await e.run('allocate_interface', 'none', { network: net, container: { id: hex(), name: 'c' }, endpointId: hex(), request: { netns, adoptNetns: true } });
    expect(ep).toMatchObject({ netns, ownsNetns: true, driver: 'none' });
    expect(fake.execs.length).toBe(calls);
    expect(await err(e.run('allocate_interface', 'none', { network: net, container: { id: hex(), name: 'd' }, endpointId: hex(), request: { adoptNetns: true } }))).toEqual([
      'invalid_parameter',
      "only a netns of the container's own can be adopted",
    ]);
    await e.run('release_interface', 'none', { network: net, endpoint: ep });
    expect(fake.ip.netnsNames()).toEqual([]);
  });
});

describe('container', () => {
  const NET: NetworkRecord = { id: 'f'.repeat(64), name: 'container', driver: 'container', created: '', internal: false, ipv6: false, builtin: true, ipam: [], options: {}, labels: {} };
  const setup = () => {
    const fake = fakeSys();
    const records = memRecords();
    const d = containerDriver(makeCtx(fake, records));
    return { fake, records, e: engineWith(d) };
  };
  it("joins the target's netns", async () => {
    const { e, fake } = setup();
    const tid = hex();
    const ep = await e.run('allocate_interface', 'container', {
      network: NET,
      container: { id: hex(), name: 'b' },
      endpointId: hex(),
      request: { joinContainer: { id: tid, name: 'a', running: true, netns: { kind: 'new', name: 'bt-x', path: '/run/netns/bt-x' } } },
    });
    expect(ep.netns).toEqual({ kind: 'join', path: '/run/netns/bt-x', containerId: tid });
    expect(ep.ownsNetns).toBe(false);
    expect(fake.execs).toEqual([]);
  });
  it('refuses a target that is not running, -p, --ip, --mac, links', async () => {
    const { e, records } = setup();
    const join = { id: hex(), name: 'web', running: false, netns: undefined };
    const base = { network: NET, container: { id: hex(), name: 'b' }, endpointId: hex() };
    expect(await err(e.run('allocate_interface', 'container', { ...base, request: { joinContainer: join } }))).toEqual([
      'conflict',
      'cannot join network of a non running container: web',
    ]);
    expect((await err(e.run('allocate_interface', 'container', { ...base, request: {} })))[0]).toBe('invalid_parameter');
    const running = { ...join, running: true, netns: { kind: 'new' as const, name: 'n', path: '/run/netns/n' } };
    expect((await err(e.run('allocate_interface', 'container', { ...base, request: { joinContainer: running, ipv4: '172.17.0.5' } })))[0]).toBe('invalid_parameter');
    expect((await err(e.run('allocate_interface', 'container', { ...base, request: { joinContainer: running, mac: '02:42:00:00:00:01' } })))[0]).toBe('invalid_parameter');
    expect(records.list('endpoint')).toEqual([]);
    const ep = await e.run('allocate_interface', 'container', { ...base, request: { joinContainer: running } });
    expect(await err(e.run('allocate_port', 'container', { network: NET, endpoint: ep, requests: p80 }))).toEqual([
      'invalid_parameter',
      'conflicting options: port publishing and the container type network mode',
    ]);
    expect(await e.run('allocate_port', 'container', { network: NET, endpoint: ep, requests: [] })).toEqual([]);
  });
});
