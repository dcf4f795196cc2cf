// spec.ts: config.json for a typical run as golden data, and the checks made before any side effect.
import { describe, expect, it } from 'vitest';
import type { ContainerSpec } from '../../../drivers/handlers.js';
import { buildConfig, cgroupsPath, nofileFor, parseNofileHard, processEnv, validateSpec, NOFILE } from '../../../drivers/exec/runc/spec.js';
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
