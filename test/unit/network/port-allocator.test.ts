import { describe, expect, it } from 'vitest';
import { PortAllocator } from '../../../drivers/network/ports/allocator.js';
import { FakePortHolder } from '../../../drivers/sys/fakes/index.js';
import type { PortBindingRequest } from '../../../drivers/types.js';
import { BerthError } from '../../../drivers/errors.js';

const req = (hostPort: number, o: Partial<PortBindingRequest> = {}): PortBindingRequest => ({
  containerPort: 80,
  proto: 'tcp',
  hostIp: '',
  hostPort,
  hostPortEnd: hostPort,
  ...o,
});
const make = (range: [number, number] = [40000, 40004]) => {
  const holder = new FakePortHolder();
  return { holder, pa: new PortAllocator(holder, async () => range) };
};
const fails = async (p: Promise<unknown>) => {
  const e = await p.then(() => undefined, (x: unknown) => x);
  expect(e).toBeInstanceOf(BerthError);
  return [(e as BerthError).code, (e as Error).message];
};

describe('PortAllocator', () => {
  it('a specific port, with a held socket, released idempotently', async () => {
    const { pa, holder } = make();
    expect(await pa.allocate('a', [req(8080)])).toEqual([{ containerPort: 80, proto: 'tcp', hostIp: '0.0.0.0', hostPort: 8080 }]);
    expect([...holder.held]).toEqual(['tcp/0.0.0.0/8080']);
    await pa.release('a');
    await pa.release('a');
    expect(holder.held.size).toBe(0);
    expect(await pa.allocate('b', [req(8080)])).toHaveLength(1);
  });
  it('wildcard conflicts with any address; two addresses do not conflict; tcp and udp are apart', async () => {
    const { pa } = make();
    await pa.allocate('a', [req(8080, { hostIp: '127.0.0.1' })]);
    expect(await fails(pa.allocate('b', [req(8080)]))).toEqual(['conflict', 'Bind for 0.0.0.0:8080 failed: port is already allocated']);
    expect(await pa.allocate('b', [req(8080, { hostIp: '127.0.0.2' })])).toHaveLength(1);
    expect(await pa.allocate('c', [req(8080, { proto: 'udp' })])).toHaveLength(1);
    await pa.allocate('d', [req(9090)]);
    expect(await fails(pa.allocate('e', [req(9090, { hostIp: '127.0.0.1' })]))).toEqual([
      'conflict',
      'Bind for 127.0.0.1:9090 failed: port is already allocated',
    ]);
    expect(await fails(pa.allocate('e', [req(9090, { hostIp: '0.0.0.0' })]))).toEqual(['conflict', 'Bind for 0.0.0.0:9090 failed: port is already allocated']);
  });
  it('a port a host process holds is refused with the same message', async () => {
    const { pa, holder } = make();
    holder.busy.add('tcp/127.0.0.1/8080');
    expect(await fails(pa.allocate('a', [req(8080)]))).toEqual(['conflict', 'Bind for 0.0.0.0:8080 failed: port is already allocated']);
  });
  it('all or nothing: a failing request gives back the ones before it', async () => {
    const { pa, holder } = make();
    await pa.allocate('x', [req(8081)]);
    expect((await fails(pa.allocate('a', [req(8080), req(7070, { proto: 'udp' }), req(8081)])))[0]).toBe('conflict');
    expect([...holder.held]).toEqual(['tcp/0.0.0.0/8081']);
    expect(pa.taken('tcp', '', 8080)).toBe(false);
  });
  it('the same port twice in one request list conflicts', async () => {
    const { pa } = make();
    expect((await fails(pa.allocate('a', [req(8080), req(8080, { containerPort: 81 })])))[0]).toBe('conflict');
  });
  it('ephemeral ports come from the range in turn, skip busy ones, and run out', async () => {
    const { pa, holder } = make([40000, 40003]);
    holder.busy.add('tcp/0.0.0.0/40001');
    const a = await pa.allocate('a', [req(0), req(0)]);
    expect(a.map((b) => b.hostPort)).toEqual([40000, 40002]);
    expect((await pa.allocate('b', [req(0)]))[0]!.hostPort).toBe(40003);
    expect(await fails(pa.allocate('c', [req(0)]))).toEqual(['conflict', 'all ports are allocated']);
    await pa.release('a');
    expect((await pa.allocate('c', [req(0)]))[0]!.hostPort).toBe(40000);
  });
  it('a host-port range gives any one free port of it; exhaustion is a conflict', async () => {
    const { pa } = make();
    await pa.allocate('a', [req(8000)]);
    expect((await pa.allocate('b', [req(8000, { hostPortEnd: 8002 })]))[0]!.hostPort).toBe(8001);
    expect((await pa.allocate('c', [req(8000, { hostPortEnd: 8002 })]))[0]!.hostPort).toBe(8002);
    expect((await fails(pa.allocate('d', [req(8000, { hostPortEnd: 8002 })])))[0]).toBe('conflict');
  });
  it('sctp is reserved without a socket', async () => {
    const { pa, holder } = make();
    await pa.allocate('a', [req(9, { proto: 'sctp' })]);
    expect(holder.held.size).toBe(0);
    expect((await fails(pa.allocate('b', [req(9, { proto: 'sctp' })])))[0]).toBe('conflict');
  });
  it('bad requests are refused before anything is reserved', async () => {
    const { pa, holder } = make();
    expect(await fails(pa.allocate('a', [req(8080), req(70000)]))).toEqual(['invalid_parameter', 'invalid hostPort: 70000']);
    expect((await fails(pa.allocate('a', [req(8080, { hostIp: '1.2.3' })])))[1]).toBe('invalid IP address: 1.2.3');
    expect((await fails(pa.allocate('a', [req(8080, { hostIp: '::1' })])))[0]).toBe('invalid_parameter');
    expect((await fails(pa.allocate('a', [req(8080, { proto: 'foo' as 'tcp' })])))[1]).toBe('invalid proto: foo');
    expect(holder.held.size).toBe(0);
  });
  it('adopt re-reserves recorded bindings and reports a port a host process took', async () => {
    const { pa, holder } = make();
    holder.busy.add('tcp/0.0.0.0/9000');
    const problems = await pa.adopt('a', [
      { containerPort: 80, proto: 'tcp', hostIp: '0.0.0.0', hostPort: 8080 },
      { containerPort: 81, proto: 'tcp', hostIp: '0.0.0.0', hostPort: 9000 },
    ]);
    expect(problems).toEqual(['0.0.0.0:9000/tcp: a host process holds it']);
    expect([...holder.held]).toEqual(['tcp/0.0.0.0/8080']);
    expect(pa.taken('tcp', '', 9000)).toBe(true);
  });
});

describe('PortAllocator under concurrency', () => {
  it('two concurrent allocations never get the same port (sctp has no socket to arbitrate)', async () => {
    const { pa } = make([41000, 41001]);
    const [a, b] = await Promise.all([pa.allocate('a', [req(0, { proto: 'sctp' })]), pa.allocate('b', [req(0, { proto: 'sctp' })])]);
    expect(a[0]!.hostPort).not.toBe(b[0]!.hostPort);
    const r = await Promise.allSettled([pa.allocate('c', [req(7000)]), pa.allocate('d', [req(7000)])]);
    expect(r.map((x) => x.status).sort()).toEqual(['fulfilled', 'rejected']);
  });

  it('dual-stack: one request, both wildcards on one port; the families do not conflict; IPv6 addresses need it', async () => {
    const { pa, holder } = make([40000, 40004]);
    holder.busy.add('tcp/::/40000'); // a host process holds [::]:40000 only
    const got = await pa.allocate('a', [req(0)], { dualStack: true });
    expect(got).toEqual([
      { containerPort: 80, proto: 'tcp', hostIp: '0.0.0.0', hostPort: 40001 },
      { containerPort: 80, proto: 'tcp', hostIp: '::', hostPort: 40001 },
    ]);
    expect(holder.held).toEqual(new Set(['tcp/0.0.0.0/40001', 'tcp/::/40001']));
    // an IPv4-only publish of 40000 is fine: only the IPv6 wildcard is busy
    expect(await pa.allocate('b', [req(40000)])).toHaveLength(1);
    expect(await fails(pa.allocate('c', [req(40001, { hostIp: '::1' })], { dualStack: true }))).toEqual(['conflict', 'Bind for [::1]:40001 failed: port is already allocated']);
    expect((await fails(pa.allocate('c', [req(9000, { hostIp: '::1' })])))[0]).toBe('invalid_parameter');
    expect(await pa.allocate('c', [req(9000, { hostIp: '::1' })], { dualStack: true })).toEqual([{ containerPort: 80, proto: 'tcp', hostIp: '::1', hostPort: 9000 }]);
    await pa.release('a');
    expect(holder.held.has('tcp/::/40001')).toBe(false);
  });
});
