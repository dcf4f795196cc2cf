import { describe, expect, it } from 'vitest';
import { parseExposeSpecs, parsePublishSpecs, portBindingRequests } from '../../../drivers/network/ports/spec.js';
import { BerthError } from '../../../drivers/errors.js';

const pb = (specs: string[]) => parsePublishSpecs(specs).portBindings;
const err = (f: () => unknown) => {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(BerthError);
    expect((e as BerthError).code).toBe('invalid_parameter');
    return (e as Error).message;
  }
  throw new Error('no error');
};

describe('parsePublishSpecs: every docker -p form', () => {
  it('8080:80', () => {
    expect(parsePublishSpecs(['8080:80'])).toEqual({ exposedPorts: { '80/tcp': {} }, portBindings: { '80/tcp': [{ HostIp: '', HostPort: '8080' }] } });
  });
  it('127.0.0.1:8080:80 and 127.0.0.1::80', () => {
    expect(pb(['127.0.0.1:8080:80'])).toEqual({ '80/tcp': [{ HostIp: '127.0.0.1', HostPort: '8080' }] });
    expect(pb(['127.0.0.1::80'])).toEqual({ '80/tcp': [{ HostIp: '127.0.0.1', HostPort: '' }] });
  });
  it('80 alone: ephemeral host port', () => {
    expect(pb(['80'])).toEqual({ '80/tcp': [{ HostIp: '', HostPort: '' }] });
  });
  it('1:1 ranges expand to one entry per port', () => {
    const r = parsePublishSpecs(['8000-8002:80-82']);
    expect(r.portBindings).toEqual({
      '80/tcp': [{ HostIp: '', HostPort: '8000' }],
      '81/tcp': [{ HostIp: '', HostPort: '8001' }],
      '82/tcp': [{ HostIp: '', HostPort: '8002' }],
    });
    expect(Object.keys(r.exposedPorts)).toEqual(['80/tcp', '81/tcp', '82/tcp']);
  });
  it('a host range for one container port stays a range', () => {
    expect(pb(['8000-8010:80'])).toEqual({ '80/tcp': [{ HostIp: '', HostPort: '8000-8010' }] });
  });
  it('a container range without host ports', () => {
    expect(pb(['80-81'])).toEqual({ '80/tcp': [{ HostIp: '', HostPort: '' }], '81/tcp': [{ HostIp: '', HostPort: '' }] });
  });
  it('/udp, /sctp, /TCP, trailing slash', () => {
    expect(pb(['53:53/udp'])).toEqual({ '53/udp': [{ HostIp: '', HostPort: '53' }] });
    expect(pb(['9:9/sctp'])).toEqual({ '9/sctp': [{ HostIp: '', HostPort: '9' }] });
    expect(pb(['9:9/TCP'])).toEqual({ '9/tcp': [{ HostIp: '', HostPort: '9' }] });
    expect(pb(['9:9/'])).toEqual({ '9/tcp': [{ HostIp: '', HostPort: '9' }] });
  });
  it('IPv6 in brackets', () => {
    expect(pb(['[::1]:80:80'])).toEqual({ '80/tcp': [{ HostIp: '::1', HostPort: '80' }] });
    expect(pb(['[::]::80'])).toEqual({ '80/tcp': [{ HostIp: '::', HostPort: '' }] });
  });
  it('two bindings of one port, tcp and udp apart', () => {
    expect(pb(['8080:80', '127.0.0.1:9090:80', '8080:80/udp'])).toEqual({
      '80/tcp': [
        { HostIp: '', HostPort: '8080' },
        { HostIp: '127.0.0.1', HostPort: '9090' },
      ],
      '80/udp': [{ HostIp: '', HostPort: '8080' }],
    });
  });
});

describe('parsePublishSpecs: malformed, with Docker messages', () => {
  it.each([
    ['70000:80', 'invalid hostPort: 70000'],
    ['80:80/foo', 'invalid proto: foo'],
    ['1.2.3:80:80', 'invalid IP address: 1.2.3'],
    ['256.1.1.1:80:80', 'invalid IP address: 256.1.1.1'],
    ['8080:70000', 'invalid containerPort: 70000'],
    ['8080:abc', 'invalid containerPort: abc'],
    ['abc:80', 'invalid hostPort: abc'],
    ['8080:', 'no port specified: 8080:<empty>'],
    ['8000-8010:80-85', 'invalid ranges specified for container and host Ports: 80-85 and 8000-8010'],
    ['8010-8000:80', 'invalid hostPort: 8010-8000'],
    ['80-70', 'invalid containerPort: 80-70'],
    ['0', 'invalid containerPort: 0'],
    ['[::1:80:80', "invalid IP address [::1: missing ']' in address"],
  ])('%s → %s', (spec, msg) => {
    expect(err(() => parsePublishSpecs([spec]))).toBe(msg);
  });
});

describe('parseExposeSpecs', () => {
  it('80, 80/udp, ranges', () => {
    expect(parseExposeSpecs(['80', '53/udp', '8000-8002'])).toEqual({ '80/tcp': {}, '53/udp': {}, '8000/tcp': {}, '8001/tcp': {}, '8002/tcp': {} });
  });
  it('refuses host ports, bad ranges, bad protos', () => {
    expect(err(() => parseExposeSpecs(['8080:80']))).toBe('invalid port format for --expose: 8080:80');
    expect(err(() => parseExposeSpecs(['abc']))).toMatch(/^invalid range format for --expose: abc/);
    expect(err(() => parseExposeSpecs(['80/foo']))).toBe('invalid proto: foo');
  });
});

describe('portBindingRequests (API side)', () => {
  it('turns PortBindings into requests', () => {
    expect(
      portBindingRequests(
        { '80/tcp': [{ HostIp: '', HostPort: '8080' }, { HostIp: '127.0.0.1', HostPort: '' }], '53/udp': [{ HostPort: '5300-5310' }], '81': [{}] },
        null,
        false,
      ),
    ).toEqual([
      // JavaScript puts integer-like keys ("81") first; Docker's map has no order either.
      { containerPort: 81, proto: 'tcp', hostIp: '', hostPort: 0, hostPortEnd: 0 },
      { containerPort: 80, proto: 'tcp', hostIp: '', hostPort: 8080, hostPortEnd: 8080 },
      { containerPort: 80, proto: 'tcp', hostIp: '127.0.0.1', hostPort: 0, hostPortEnd: 0 },
      { containerPort: 53, proto: 'udp', hostIp: '', hostPort: 5300, hostPortEnd: 5310 },
    ]);
  });
  it('-P adds an ephemeral request for each exposed port not bound', () => {
    expect(portBindingRequests({ '80/tcp': [{ HostPort: '8080' }] }, { '80/tcp': {}, '443/tcp': {}, '53/udp': {} }, true)).toEqual([
      { containerPort: 80, proto: 'tcp', hostIp: '', hostPort: 8080, hostPortEnd: 8080 },
      { containerPort: 443, proto: 'tcp', hostIp: '', hostPort: 0, hostPortEnd: 0 },
      { containerPort: 53, proto: 'udp', hostIp: '', hostPort: 0, hostPortEnd: 0 },
    ]);
    expect(portBindingRequests(null, { '80/tcp': {} }, false)).toEqual([]);
  });
  it('an empty list binds nothing; bad keys, ports and addresses are refused', () => {
    expect(portBindingRequests({ '80/tcp': [] }, undefined, false)).toEqual([]);
    expect(err(() => portBindingRequests({ 'x/tcp': [{}] }, null, false))).toBe('invalid port specification: "x/tcp"');
    expect(err(() => portBindingRequests({ '80/foo': [{}] }, null, false))).toBe('invalid proto: foo');
    expect(err(() => portBindingRequests({ '80/tcp': [{ HostPort: '70000' }] }, null, false))).toBe('invalid hostPort: 70000');
    expect(err(() => portBindingRequests({ '80/tcp': [{ HostIp: '1.2.3' }] }, null, false))).toBe('invalid IP address: 1.2.3');
  });
});
