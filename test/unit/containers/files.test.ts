import { describe, expect, it } from 'vitest';
import { hostsFile, resolvConf } from '../../../daemon/containers/files.js';
import { linkEnv } from '../../../daemon/containers/links.js';
import { humanDuration, statusText } from '../../../daemon/containers/wire.js';

describe('hosts', () => {
  it('has localhost, links, extra hosts and the container itself', () => {
    const t = hostsFile({ hostname: 'abc', ip: '172.17.0.3', entries: [{ ip: '172.17.0.2', names: ['db', 'd1', 'pg'] }], extraHosts: ['gw:10.0.0.1'] });
    expect(t.split('\n')).toEqual([
      '127.0.0.1\tlocalhost',
      '::1\tlocalhost ip6-localhost ip6-loopback',
      'fe00::0\tip6-localnet',
      'ff00::0\tip6-mcastprefix',
      'ff02::1\tip6-allnodes',
      'ff02::2\tip6-allrouters',
      '10.0.0.1\tgw',
      '172.17.0.2\tdb d1 pg',
      '172.17.0.3\tabc',
      '',
    ]);
  });
});

describe('resolv.conf', () => {
  const host = 'search example.com\nnameserver 127.0.0.53\nnameserver 10.0.0.2\noptions edns0\n';
  it('drops loopback nameservers for a container netns', () => {
    expect(resolvConf(host, { hostNetwork: false })).toBe('search example.com\nnameserver 10.0.0.2\noptions edns0\n');
  });
  it("falls back to Google's when none is left", () => {
    expect(resolvConf('nameserver 127.0.0.1\n', { hostNetwork: false })).toBe('nameserver 8.8.8.8\nnameserver 8.8.4.4\n');
  });
  it("keeps the host's as is on the host network", () => {
    expect(resolvConf(host, { hostNetwork: true })).toContain('nameserver 127.0.0.53');
  });
  it('takes --dns, --dns-search, --dns-option', () => {
    expect(resolvConf(host, { hostNetwork: false, dns: ['1.1.1.1'], search: ['a.b'], options: ['ndots:2'] })).toBe('search a.b\nnameserver 1.1.1.1\noptions ndots:2\n');
  });
});

describe('link environment', () => {
  it("is docker's", () => {
    expect(linkEnv({ fullName: '/web/db', alias: 'db', ip: '172.17.0.2', exposed: ['5432/tcp', '53/udp'], env: ['PATH=/bin', 'PGUSER=me'] })).toEqual([
      'DB_PORT=udp://172.17.0.2:53',
      'DB_PORT_53_UDP=udp://172.17.0.2:53',
      'DB_PORT_53_UDP_ADDR=172.17.0.2',
      'DB_PORT_53_UDP_PORT=53',
      'DB_PORT_53_UDP_PROTO=udp',
      'DB_PORT_5432_TCP=tcp://172.17.0.2:5432',
      'DB_PORT_5432_TCP_ADDR=172.17.0.2',
      'DB_PORT_5432_TCP_PORT=5432',
      'DB_PORT_5432_TCP_PROTO=tcp',
      'DB_NAME=/web/db',
      'DB_ENV_PGUSER=me',
    ]);
  });
});

describe('status text', () => {
  it('reads as docker ps', () => {
    expect(humanDuration(500)).toBe('Less than a second');
    expect(humanDuration(5000)).toBe('5 seconds');
    expect(humanDuration(90_000)).toBe('About a minute');
    expect(humanDuration(3 * 3600_000)).toBe('3 hours');
    const base = { state: { status: 'exited', exitCode: 3, startedAt: '', finishedAt: new Date(1000).toISOString(), pid: 0, error: '', oomKilled: false } };
    expect(statusText(base as never, 11_000)).toBe('Exited (3) 10 seconds ago');
  });
});
