import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig, type Config } from '../../../daemon/config.js';

const cfg = (argv: string[]) => loadConfig(argv) as Config;

describe('berthd config', () => {
  it('has dockerd-like defaults', () => {
    const c = cfg([]);
    expect(c).toMatchObject({
      hosts: ['unix:///run/berth/berth.sock'],
      dataRoot: '/var/lib/berth',
      execRoot: '/run/berth',
      pidfile: '/run/berth/berthd.pid',
      bridge: 'berth0',
      icc: true,
      logLevel: 'info',
      runtime: 'runc',
      shutdownTimeout: 15,
    });
  });

  it('takes several -H and dockerd boolean forms', () => {
    const c = cfg(['-H', 'unix:///a.sock', '--host=unix:///b.sock', '--icc=false']);
    expect(c.hosts).toEqual(['unix:///a.sock', 'unix:///b.sock']);
    expect(c.icc).toBe(false);
  });

  it('reads a config file with the same keys; flags win', () => {
    const dir = mkdtempSync(join(tmpdir(), 'berth-unit-cfg-'));
    try {
      const f = join(dir, 'daemon.json');
      writeFileSync(f, JSON.stringify({ 'data-root': '/srv/berth', bridge: 'br9', hosts: ['unix:///c.sock'], icc: false }));
      const c = cfg(['--config-file', f, '--bridge', 'br1']);
      expect(c).toMatchObject({ dataRoot: '/srv/berth', bridge: 'br1', hosts: ['unix:///c.sock'], icc: false });
      writeFileSync(f, '{"nope": 1}');
      expect(() => cfg(['--config-file', f])).toThrow('unknown key "nope" in config file');
      writeFileSync(f, '{bad json');
      expect(() => cfg(['--config-file', f])).toThrow(/is not valid JSON/);
    } finally {
      rmSync(dir, { recursive: true });
    }
  });

  it.each([
    [['-H', 'tcp://0.0.0.0:2375'], /refusing to serve the API over plain TCP on tcp:\/\/0.0.0.0:2375.*--insecure-tcp-listener/],
    [['-H', 'udp://x'], /invalid host/],
    [['-H', 'unix://relative.sock'], /absolute/],
    [['--log-level', 'loud'], /invalid log level/],
    [['--bridge', 'this-name-is-too-long'], /invalid bridge name/],
    [['--default-address-pool', 'base=10.0.0.0/8'], /invalid default address pool/],
    [['--config-file', '/nonexistent/berth.json'], /cannot read config file/],
    [['extra'], /takes no arguments/],
  ])('refuses %j', (argv, msg) => {
    expect(() => cfg(argv)).toThrow(msg);
  });

  it('parses default address pools', () => {
    expect(cfg(['--default-address-pool', 'base=10.10.0.0/16,size=24']).defaultAddressPools).toEqual([{ base: '10.10.0.0/16', size: 24 }]);
  });
});
