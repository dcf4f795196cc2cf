// spec.ts: config.json for a typical run as golden data, and the checks made before any side effect.
import { describe, expect, it } from 'vitest';
import type { ContainerSpec } from '../../../drivers/handlers.js';
import { buildConfig, cgroupsPath, nofileFor, parseNofileHard, processEnv, validateSpec, NOFILE } from '../../../drivers/exec/runc/spec.js';
import type { UserMount } from '../../../drivers/handlers.js';
import { resolveUser } from '../../../drivers/exec/runc/user.js';
import { isBerthError } from '../../../drivers/errors.js';

const ID = '3f2a'.padEnd(64, '0');

function typical(): ContainerSpec {
  return {
    container: { id: ID, name: 'web' },
    hostname: '3f2a00000000',
    rootfs: '/var/lib/berth/overlay/3f2a/merged',
    netnsPath: '/run/netns/berth-3f2a00000000',
    process: {
      args: ['httpd', '-f', '-p', '80', '-h', '/www'],
      env: ['PATH=/usr/sbin:/usr/bin:/sbin:/bin', 'GREETING=hello world'],
      cwd: '/www',
      user: 'www',
      tty: false,
      openStdin: false,
    },
    files: {
      hosts: '/var/lib/berth/containers/3f2a/hosts',
      resolvConf: '/var/lib/berth/containers/3f2a/resolv.conf',
      hostname: '/var/lib/berth/containers/3f2a/hostname',
    },
    stopSignal: 'SIGTERM',
    bundleDir: `/run/berth/containers/${ID}`,
    logPath: `/var/lib/berth/containers/${ID}/container.log`,
  };
}

const passwd = 'root:x:0:0:root:/root:/bin/sh\nwww:x:33:33:www-data:/var/www:/bin/false\n';
const group = 'root:x:0:\nwww:x:33:\nweb:x:101:www,other\n';

describe('buildConfig', () => {
  it('a typical run (user by name, netns by path, env, cwd, bind-mounted files) matches the golden config.json', async () => {
    const spec = typical();
    const user = resolveUser(spec.process.user, { passwd, group });
    const cfg = buildConfig(spec, user, { prefix: 'berth', nofile: NOFILE });
    await expect(JSON.stringify(cfg, null, 2) + '\n').toMatchFileSnapshot('golden/config-typical.json');
  });

  it('--net host: no network namespace and no net sysctls; a TTY gets TERM', () => {
    const spec = { ...typical(), netnsPath: undefined, process: { ...typical().process, tty: true, user: '0:0' } };
    const cfg = buildConfig(spec, resolveUser('0:0', {}), { prefix: 'bt12ab', nofile: 1024 });
    expect(cfg.linux.namespaces.map((n) => n.type)).toEqual(['pid', 'ipc', 'uts', 'mount']);
    expect(cfg.linux.sysctl).toBeUndefined();
    expect(cfg.process.terminal).toBe(true);
    expect(cfg.process.env).toContain('TERM=xterm');
    expect(cfg.process.env).toContain('HOME=/root');
    expect(cfg.process.rlimits).toEqual([{ type: 'RLIMIT_NOFILE', hard: 1024, soft: 1024 }]);
    expect(cfg.linux.cgroupsPath).toBe(`/bt12ab-${ID}`);
    expect(cfg.process.consoleSize).toBeUndefined();
    const sized = buildConfig({ ...spec, process: { ...spec.process, consoleSize: { height: 33, width: 77 } } }, resolveUser('0:0', {}), { prefix: 'b', nofile: 1 });
    expect(sized.process.consoleSize).toEqual({ height: 33, width: 77 });
  });

  it('keeps the environment the daemon gave, adding only what is missing', () => {
    const spec = typical();
    spec.process.env = ['HOME=/custom', 'HOSTNAME=given', 'A=1'];
    const env = processEnv(spec, resolveUser('www', { passwd, group }));
    expect(env).toEqual(['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'HOME=/custom', 'HOSTNAME=given', 'A=1']);
  });
});

describe('NOFILE', () => {
  it('is Docker’s 1048576 unless the daemon’s hard limit is lower', () => {
    expect(nofileFor(undefined)).toBe(1048576);
    expect(nofileFor(20000)).toBe(20000);
    expect(nofileFor(4_000_000)).toBe(1048576);
    const limits = 'Limit                     Soft Limit           Hard Limit           Units\nMax open files            1024                 524288               files\n';
    expect(parseNofileHard(limits)).toBe(524288);
    expect(parseNofileHard('Max open files            unlimited            unlimited            files\n')).toBeUndefined();
  });
});

describe('validateSpec (before any side effect)', () => {
  const bad: [string, (s: ContainerSpec) => void, RegExp][] = [
    ['an id that is not 64 hex', (s) => (s.container.id = '../../etc'), /invalid object id/],
    ['no command', (s) => (s.process.args = []), /No command specified/],
    ['a relative rootfs', (s) => (s.rootfs = 'rootfs'), /rootfs must be a clean absolute path/],
    ['the host root as rootfs', (s) => (s.rootfs = '/'), /must not be the host root/],
    ['.. in the bundle dir', (s) => (s.bundleDir = '/run/berth/../etc'), /bundle dir must be a clean absolute path/],
    ['a colon in the log path', (s) => (s.logPath = '/var/log/a:b'), /must not contain ":"/],
    ['a relative working dir', (s) => (s.process.cwd = 'www'), /needs to be an absolute path/],
    ['an env entry without =', (s) => (s.process.env = ['FOO']), /invalid environment variable: FOO/],
    ['a NUL in an argument', (s) => (s.process.args = ['sh', 'a\0b']), /NUL/],
    ['a bad hostname', (s) => (s.hostname = 'a b'), /invalid hostname/],
    ['a bad stop signal', (s) => (s.stopSignal = 'SIGNOPE'), /Invalid signal: SIGNOPE/],
    ['a bad user', (s) => (s.process.user = 'a:b:c'), /invalid user/],
    ['a relative netns path', (s) => (s.netnsPath = 'netns'), /netns path/],
    ['a bad console size', (s) => (s.process.consoleSize = { height: -1, width: 80 }), /invalid console size/],
  ];
  for (const [what, mutate, msg] of bad) {
    it(`rejects ${what}`, () => {
      const s = typical();
      mutate(s);
      let err: unknown;
      try {
        validateSpec(s);
      } catch (e) {
        err = e;
      }
      expect(isBerthError(err, 'invalid_parameter')).toBe(true);
      expect((err as Error).message).toMatch(msg);
    });
  }

  it('accepts the typical spec', () => {
    expect(() => validateSpec(typical())).not.toThrow();
  });

  it('names the cgroup with the prefix, flat (nothing left after delete)', () => {
    expect(cgroupsPath('berth', ID)).toBe(`/berth-${ID}`);
  });
});

describe('user mounts (-v, --mount, --tmpfs)', () => {
  const root = resolveUser('0:0', {});
  const cfgWith = (mounts: UserMount[]) => buildConfig({ ...typical(), mounts }, root, { prefix: 'berth', nofile: NOFILE });
  const dests = (mounts: UserMount[]) => cfgWith(mounts).mounts.map((m) => m.destination);
  const DEFAULTS = ['/proc', '/dev', '/dev/pts', '/sys', '/sys/fs/cgroup', '/dev/mqueue', '/dev/shm'];
  const FILES = ['/etc/resolv.conf', '/etc/hostname', '/etc/hosts'];
  const b = (source: string, destination: string, over: Partial<Extract<UserMount, { type: 'bind' }>> = {}): UserMount => ({
    type: 'bind',
    source,
    destination,
    readonly: false,
    propagation: 'rprivate',
    ...over,
  });

  it("none: the config is as before (defaults, then berth's files)", () => {
    expect(dests([])).toEqual([...DEFAULTS, ...FILES]);
    expect(cfgWith([]).linux.rootfsPropagation).toBeUndefined();
  });

  it("after the defaults, parents before children (dockerd's stable sort on depth)", () => {
    const ms = [b('/h/deep', '/a/b/c'), b('/h/etc', '/etc'), { type: 'tmpfs', destination: '/a', options: ['size=1m'] } as UserMount, b('/h/ab', '/a/b')];
    expect(dests(ms)).toEqual([...DEFAULTS, '/etc', '/a', ...FILES, '/a/b', '/a/b/c']);
  });

  it('bind options: rbind (bind when non-recursive), the propagation, ro; tmpfs as given', () => {
    const cfg = cfgWith([
      b('/srv/data', '/data', { readonly: true }),
      b('/srv/flat', '/flat', { recursive: false, propagation: 'private' }),
      { type: 'tmpfs', destination: '/scratch', options: ['noexec', 'nosuid', 'nodev', 'rprivate', 'size=1m'] },
    ]);
    expect(cfg.mounts.filter((m) => ['/data', '/flat', '/scratch'].includes(m.destination))).toEqual([
      { destination: '/data', type: 'bind', source: '/srv/data', options: ['rbind', 'rprivate', 'ro'] },
      { destination: '/flat', type: 'bind', source: '/srv/flat', options: ['bind', 'private'] },
      { destination: '/scratch', type: 'tmpfs', source: 'tmpfs', options: ['noexec', 'nosuid', 'nodev', 'rprivate', 'size=1m'] },
    ]);
  });

  it("a user mount on /etc/resolv.conf, /etc/hosts or a default's destination replaces berth's; /dev replaces all under it", () => {
    const cfg = cfgWith([b('/my/resolv.conf', '/etc/resolv.conf', { readonly: true }), b('/my/shm', '/dev/shm')]);
    expect(cfg.mounts.filter((m) => m.destination === '/etc/resolv.conf')).toEqual([
      { destination: '/etc/resolv.conf', type: 'bind', source: '/my/resolv.conf', options: ['rbind', 'rprivate', 'ro'] },
    ]);
    expect(cfg.mounts.filter((m) => m.destination === '/dev/shm').map((m) => m.source)).toEqual(['/my/shm']);
    expect(dests([b('/my/dev', '/dev')])).toEqual(['/proc', '/sys', '/sys/fs/cgroup', '/dev', ...FILES]);
  });

  it('a shared bind makes the rootfs shared, a slave one rslave (as dockerd)', () => {
    expect(cfgWith([b('/a', '/a', { propagation: 'rslave' })]).linux.rootfsPropagation).toBe('rslave');
    expect(cfgWith([b('/a', '/a', { propagation: 'rslave' }), b('/b', '/b', { propagation: 'shared' })]).linux.rootfsPropagation).toBe('shared');
  });

  it.each<[string, UserMount[]]>([
    ['a relative destination', [b('/a', 'data')]],
    ['an unclean destination', [b('/a', '/data/../x')]],
    ['the root as destination', [b('/a', '/')]],
    ['a relative source', [b('a', '/data')]],
    ['two mounts on one destination', [b('/a', '/x'), { type: 'tmpfs', destination: '/x', options: [] }]],
    ['a bad propagation', [b('/a', '/x', { propagation: 'weird' as 'shared' })]],
    ['a tmpfs option with a comma', [{ type: 'tmpfs', destination: '/x', options: ['size=1m,exec'] }]],
  ])('refuses %s before anything is done', (_what, mounts) => {
    expect(() => validateSpec({ ...typical(), mounts })).toThrow();
    try {
      validateSpec({ ...typical(), mounts });
    } catch (e) {
      expect(isBerthError(e, 'invalid_parameter')).toBe(true);
    }
  });
});

describe('resource limits in config.json', () => {
  const base = (): ContainerSpec => ({
    container: { id: ID, name: 'web' },
    hostname: 'web',
    rootfs: '/r',
    netnsPath: undefined,
    process: { args: ['sh'], env: [], cwd: '/', user: '0:0', tty: false, openStdin: false },
    files: { hosts: '/d/hosts', resolvConf: '/d/resolv.conf', hostname: '/d/hostname' },
    stopSignal: 'SIGTERM',
    bundleDir: '/b',
    logPath: '/l',
  });
  const user = resolveUser('0:0', {});

  it('no resources: only the device rules', () => {
    const r = buildConfig(base(), user, { prefix: 'b', nofile: 1 }).linux.resources;
    expect(Object.keys(r)).toEqual(['devices']);
  });

  it('memory, cpu and pids limits follow the device rules, as given', () => {
    const resources = {
      memory: { limit: 67108864, swap: 134217728, reservation: 33554432, disableOOMKiller: true },
      cpu: { shares: 512, period: 100000, quota: 50000, cpus: '0-1', mems: '0' },
      pids: { limit: 20 },
    };
    const r = buildConfig({ ...base(), resources }, user, { prefix: 'b', nofile: 1 }).linux.resources;
    expect(r.devices[0]).toEqual({ allow: false, access: 'rwm' });
    expect({ memory: r.memory, cpu: r.cpu, pids: r.pids }).toEqual(resources);
    // a copy: the spec is not shared with the config
    expect(r.memory).not.toBe(resources.memory);
  });

  it.each([
    [{ memory: { limit: 0 } }],
    [{ memory: { limit: 1.5 } }],
    [{ memory: { swap: -2 } }],
    [{ cpu: { period: 10 } }],
    [{ cpu: { shares: -1 } }],
    [{ cpu: { cpus: '0;rm' } }],
    [{ cpu: { mems: '' } }],
    [{ pids: { limit: 0 } }],
  ])('validateSpec refuses %j', (resources) => {
    try {
      validateSpec({ ...base(), resources } as ContainerSpec);
      expect.unreachable();
    } catch (e) {
      expect(isBerthError(e, 'invalid_parameter')).toBe(true);
    }
  });
});
