import { describe, expect, it } from 'vitest';
import { Endpoints, isLoopback, splitHostPort } from '../../../daemon/images/registry/endpoints.js';
import { authKeyOf, registryOfServerAddress } from '../../../daemon/images/registry/client.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, type Config } from '../../../daemon/config.js';
import { Daemon } from '../../../daemon/daemon.js';
import { Engine } from '../../../daemon/engine/engine.js';
import { EventBus } from '../../../daemon/events.js';
import { FileStore } from '../../../daemon/state/store.js';
import { RECORD_KINDS, type DaemonRecords } from '../../../daemon/state/records.js';
import { silentLog } from '../../../drivers/log.js';

describe('registry endpoints', () => {
  it('reaches Docker Hub through its mirrors first, then registry-1.docker.io, over HTTPS', () => {
    const e = new Endpoints({ insecure: [], mirrors: ['https://mirror.example.com/', 'https://m2.example.com:5443/prefix'] });
    expect(e.forRegistry('docker.io').map((x) => [x.base, x.mirror, x.skipVerify])).toEqual([
      ['https://mirror.example.com', true, false],
      ['https://m2.example.com:5443/prefix', true, false],
      ['https://registry-1.docker.io', false, false],
    ]);
  });

  it('uses HTTPS only for other registries, unless insecure', () => {
    const e = new Endpoints({ insecure: ['reg.lan:5000', '10.0.0.0/8', 'fd00::/8'], mirrors: [] });
    expect(e.forRegistry('ghcr.io').map((x) => x.base)).toEqual(['https://ghcr.io']);
    expect(e.forRegistry('reg.lan:5000').map((x) => [x.base, x.skipVerify])).toEqual([
      ['https://reg.lan:5000', true],
      ['http://reg.lan:5000', true],
    ]);
    expect(e.forRegistry('reg.lan:5001').map((x) => x.base)).toEqual(['https://reg.lan:5001']);
    expect(e.forRegistry('10.1.2.3:5000').map((x) => x.base)).toEqual(['https://10.1.2.3:5000', 'http://10.1.2.3:5000']);
    expect(e.forRegistry('11.1.2.3:5000').map((x) => x.base)).toEqual(['https://11.1.2.3:5000']);
    expect(e.isInsecure('[fd00::1]:5000')).toBe(true);
  });

  it('treats loopback as insecure (plain HTTP allowed)', () => {
    const e = new Endpoints({ insecure: [], mirrors: [] });
    for (const r of ['localhost:5000', 'localhost', '127.0.0.1:5000', '127.8.9.1', '[::1]:5000']) expect(e.isInsecure(r), r).toBe(true);
    for (const r of ['example.com', '10.0.0.1:5000', '128.0.0.1', 'localhost.example.com']) expect(e.isInsecure(r), r).toBe(false);
    expect(isLoopback('::1')).toBe(true);
    expect(splitHostPort('[::1]:5000')).toEqual({ host: '::1', port: '5000' });
    expect(splitHostPort('localhost:5000')).toEqual({ host: 'localhost', port: '5000' });
  });

  it.each([
    [{ insecure: ['http://reg:5000'], mirrors: [] }, "should not contain '://'"],
    [{ insecure: ['10.0.0.0/33'], mirrors: [] }, 'invalid insecure registry CIDR'],
    [{ insecure: ['bad host!'], mirrors: [] }, 'invalid insecure registry'],
    [{ insecure: [], mirrors: ['mirror.example.com'] }, 'invalid mirror'],
    [{ insecure: [], mirrors: ['ftp://mirror.example.com'] }, 'unsupported scheme'],
    [{ insecure: [], mirrors: ['https://u:p@mirror.example.com'] }, 'no credentials'],
    [{ insecure: [], mirrors: ['http://mirror.example.com'] }, 'plain HTTP: name its host with --insecure-registry'],
  ])('refuses %j', (opts, msg) => {
    expect(() => new Endpoints(opts)).toThrow(msg);
  });

  it('allows a plain-HTTP mirror on an insecure host', () => {
    const e = new Endpoints({ insecure: ['mirror.lan:5000'], mirrors: ['http://mirror.lan:5000'] });
    expect(e.forRegistry('docker.io')[0]).toEqual({ base: 'http://mirror.lan:5000', registry: 'docker.io', mirror: true, skipVerify: true });
  });

  it('normalises login server addresses', () => {
    expect(registryOfServerAddress('')).toBe('docker.io');
    expect(registryOfServerAddress('https://index.docker.io/v1/')).toBe('docker.io');
    expect(registryOfServerAddress('registry-1.docker.io')).toBe('docker.io');
    expect(registryOfServerAddress('https://LocalHost:5000/')).toBe('localhost:5000');
    expect(() => registryOfServerAddress('not a host')).toThrow('invalid registry address');
    expect(authKeyOf('docker.io')).toBe('https://index.docker.io/v1/');
    expect(authKeyOf('localhost:5000')).toBe('localhost:5000');
  });

  it('berthd refuses to start with a bad --insecure-registry or --registry-mirror', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'berth-unit-endpoints-'));
    try {
      const daemon = async (args: string[]) => {
        const config = loadConfig(['--data-root', join(dir, 'data'), '--exec-root', join(dir, 'run'), ...args]) as Config;
        const store = await FileStore.open<DaemonRecords>(join(dir, 'state'), RECORD_KINDS);
        return new Daemon({ config, log: silentLog, store, engine: new Engine(silentLog), events: new EventBus(), id: 'unit' });
      };
      await expect(daemon(['--insecure-registry', 'http://reg:5000'])).rejects.toThrow("insecure registry http://reg:5000 should not contain '://'");
      await expect(daemon(['--registry-mirror', 'http://mirror.example.com'])).rejects.toThrow('is plain HTTP');
      const ok = await daemon(['--insecure-registry', '10.0.0.0/8', '--registry-mirror', 'https://mirror.example.com']);
      await ok.images.prune({}); // its store is ready: nothing is made after the dir is gone
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
