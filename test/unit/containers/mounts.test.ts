// -v / --mount / --tmpfs on the daemon side: what dockerd 28 accepts, refuses (its words) and keeps.
import { describe, expect, it } from 'vitest';
import { mergeTmpfsOptions, mountsWire, parseBind, parseMounts, parseMountSpec, parseTmpfs, specMounts } from '../../../daemon/containers/mounts.js';
import { buildContainer, type CreateBody, type CreateLookups } from '../../../daemon/containers/create.js';
import { inspect, listItem } from '../../../daemon/containers/wire.js';

const EXISTING = new Set(['/srv/data', '/etc/motd']);
const exists = (p: string) => EXISTING.has(p);

describe('-v (HostConfig.Binds)', () => {
  it('a bind: rw, rprivate, its source made at start when missing; paths cleaned; the mode kept as written', () => {
    expect(parseBind('/srv/data:/data')).toEqual({
      type: 'bind',
      source: '/srv/data',
      destination: '/data',
      rw: true,
      mode: '',
      propagation: 'rprivate',
      createSource: true,
      origin: 'binds',
    });
    const m = parseBind('/srv//data/:/data/x/:ro,rshared,z');
    expect([m.source, m.destination, m.rw, m.mode, m.propagation]).toEqual(['/srv/data', '/data/x', false, 'ro,rshared,z', 'rshared']);
    expect(parseBind('/a:/b:rw,Z,cached').rw).toBe(true);
  });

  it.each([
    ['data:/b', 'berth does not support named volumes yet (-v data:/b)'],
    ['./rel:/b', 'berth does not support named volumes yet (-v ./rel:/b)'],
    ['/data', 'berth does not support volumes yet (-v /data)'],
    ['/a:rel', `invalid volume specification: '/a:rel': invalid mount config for type "bind": invalid mount path: 'rel' mount path must be absolute`],
    ['/a:/', `invalid volume specification: '/a:/': invalid mount config for type "bind": invalid specification: destination can't be '/'`],
    ['/a:/b/..', `invalid volume specification: '/a:/b/..': invalid mount config for type "bind": invalid specification: destination can't be '/'`],
    ['/a:/b:xyz', 'invalid mode: xyz'],
    ['/a:/b:ro,rw', 'invalid mode: ro,rw'],
    ['/a:/b:shared,slave', 'invalid mode: shared,slave'],
    ['/a:/b:ro,', 'invalid mode: ro,'],
    ['/a:ro', "invalid volume specification: '/a:ro'"],
    [':/b', "invalid volume specification: ':/b'"],
    ['/a:/b:ro:x', "invalid volume specification: '/a:/b:ro:x'"],
    ['/a:/b:nocopy', `invalid volume specification: '/a:/b:nocopy': invalid mount config for type "bind": field VolumeOptions must not be specified`],
  ])('%s → %s', (raw, msg) => {
    expect(() => parseBind(raw)).toThrow(msg);
    try {
      parseBind(raw);
    } catch (e) {
      expect((e as { code: string }).code).toBe('invalid_parameter');
      expect((e as Error).message).toBe(msg);
    }
  });
});

describe('--mount (HostConfig.Mounts)', () => {
  it('bind: must exist unless asked to create it; ReadOnly, propagation and non-recursive carried', () => {
    expect(parseMountSpec({ Type: 'bind', Source: '/etc/motd', Target: '/etc/motd', ReadOnly: true }, exists)).toEqual({
      type: 'bind',
      source: '/etc/motd',
      destination: '/etc/motd',
      rw: false,
      mode: '',
      propagation: 'rprivate',
      origin: 'mounts',
    });
    const m = parseMountSpec({ Type: 'bind', Source: '/new', Target: '/n', BindOptions: { Propagation: 'rslave', NonRecursive: true, CreateMountpoint: true } }, exists);
    expect([m.propagation, m.recursive, m.createSource]).toEqual(['rslave', false, true]);
  });

  it('tmpfs: size and mode as dockerd writes them, after its defaults', () => {
    const m = parseMountSpec({ Type: 'tmpfs', Target: '/t', TmpfsOptions: { SizeBytes: 2 ** 20, Mode: 0o1770 } }, exists);
    expect(m.options).toEqual(['noexec', 'nosuid', 'nodev', 'rprivate', 'mode=1770', 'size=1m']);
    expect(parseMountSpec({ Type: 'tmpfs', Target: '/t', ReadOnly: true, TmpfsOptions: { SizeBytes: 1000, Options: [['exec']] } }, exists).options).toEqual([
      'nosuid',
      'nodev',
      'rprivate',
      'ro',
      'size=1000',
      'exec',
    ]);
  });

  it.each([
    [{ Type: 'bind', Source: '/nope', Target: '/x' }, 'invalid mount config for type "bind": bind source path does not exist: /nope'],
    [{ Type: 'bind', Target: '/x' }, 'invalid mount config for type "bind": field Source must not be empty'],
    [{ Type: 'bind', Source: '/srv/data' }, 'invalid mount config for type "bind": field Target must not be empty'],
    [{ Type: 'bind', Source: '/srv/data', Target: 'x' }, `invalid mount config for type "bind": invalid mount path: 'x' mount path must be absolute`],
    [{ Type: 'bind', Source: 'rel', Target: '/x' }, `invalid mount config for type "bind": invalid mount path: 'rel' mount path must be absolute`],
    [{ Type: 'bind', Source: '/srv/data', Target: '/' }, `invalid mount config for type "bind": invalid specification: destination can't be '/'`],
    [{ Type: 'bind', Source: '/srv/data', Target: '/x', BindOptions: { Propagation: 'weird' } }, 'invalid mount config for type "bind": invalid propagation mode: weird'],
    [{ Type: 'bind', Source: '/srv/data', Target: '/x', VolumeOptions: {} }, 'invalid mount config for type "bind": field VolumeOptions must not be specified'],
    [{ Type: 'tmpfs', Source: '/a', Target: '/x' }, 'invalid mount config for type "tmpfs": field Source must not be specified'],
    [{ Type: 'tmpfs', Target: '/x', BindOptions: {} }, 'invalid mount config for type "tmpfs": field BindOptions must not be specified'],
    [{ Type: 'tmpfs', Target: '/x', TmpfsOptions: { Options: [['size', '1m']] } }, 'invalid mount config for type "tmpfs": invalid option: size'],
    [{ Type: 'volume', Source: 'data', Target: '/x' }, 'berth does not support named volumes yet (--mount type=volume,source=data,target=/x)'],
    [{ Type: 'image', Source: 'busybox', Target: '/x' }, 'berth does not support mounts of type "image"'],
    [{ Type: 'weird', Target: '/x' }, 'invalid mount config for type "weird": mount type unknown'],
  ])('%j → %s', (m, msg) => {
    expect(() => parseMountSpec(m, exists)).toThrow(msg);
  });
});

describe('--tmpfs (HostConfig.Tmpfs)', () => {
  it("dockerd's defaults, then the user's options; the later of two wins", () => {
    expect(parseTmpfs('/run', '').options).toEqual(['noexec', 'nosuid', 'nodev', 'rprivate']);
    expect(parseTmpfs('/run', 'size=1m,exec').options).toEqual(['nosuid', 'nodev', 'rprivate', 'size=1m', 'exec']);
    expect(mergeTmpfsOptions(['size=1m', 'mode=700', 'size=2m', 'defaults', 'shared'])).toEqual(['mode=700', 'size=2m', 'shared']);
  });

  it.each([
    ['/run', 'foo', 'invalid tmpfs option ["foo"]'],
    ['/run', 'size=1m,', 'invalid tmpfs option [""]'],
    ['/run', 'color=red', 'invalid tmpfs option ["color" "red"]'],
    ['run', '', "invalid mount path: 'run' mount path must be absolute"],
    ['/', '', "invalid specification: destination can't be '/'"],
  ])('%s:%s → %s', (dest, opts, msg) => {
    expect(() => parseTmpfs(dest, opts)).toThrow(msg);
  });
});

describe('all mounts of a container', () => {
  it('one mount per destination: Duplicate mount point (Binds, Mounts, Tmpfs, each against the others)', () => {
    expect(() => parseMounts({ Binds: ['/a:/x', '/b:/x/'] }, exists)).toThrow('Duplicate mount point: /x');
    expect(() => parseMounts({ Binds: ['/a:/x'], Tmpfs: { '/x': '' } }, exists)).toThrow('Duplicate mount point: /x');
    expect(() => parseMounts({ Binds: ['/a:/x'], Mounts: [{ Type: 'tmpfs', Target: '/x/' }] }, exists)).toThrow('Duplicate mount point: /x/');
    expect(() => parseMounts({ Mounts: [{ Type: 'tmpfs', Target: '/x' }], Tmpfs: { '/x': '' } }, exists)).toThrow('Duplicate mount point: /x');
  });

  it('keeps the order asked (Binds, Mounts, Tmpfs) and lists Binds and Mounts, not Tmpfs, as inspect does', () => {
    const ms = parseMounts(
      { Binds: ['/srv/data:/data:ro'], Mounts: [{ Type: 'tmpfs', Target: '/scratch' }, { Type: 'bind', Source: '/etc/motd', Target: '/etc/motd' }], Tmpfs: { '/run': 'size=1m' } },
      exists,
    );
    expect(ms.map((m) => m.destination)).toEqual(['/data', '/scratch', '/etc/motd', '/run']);
    expect(mountsWire(ms)).toEqual([
      { Type: 'bind', Source: '/srv/data', Destination: '/data', Mode: 'ro', RW: false, Propagation: 'rprivate' },
      { Type: 'tmpfs', Source: '', Destination: '/scratch', Mode: '', RW: true, Propagation: '' },
      { Type: 'bind', Source: '/etc/motd', Destination: '/etc/motd', Mode: '', RW: true, Propagation: 'rprivate' },
    ]);
    expect(specMounts(ms)).toEqual([
      { type: 'bind', source: '/srv/data', destination: '/data', readonly: true, propagation: 'rprivate', createSource: true },
      { type: 'tmpfs', destination: '/scratch', options: ['noexec', 'nosuid', 'nodev', 'rprivate'] },
      { type: 'bind', source: '/etc/motd', destination: '/etc/motd', readonly: false, propagation: 'rprivate' },
      { type: 'tmpfs', destination: '/run', options: ['noexec', 'nosuid', 'nodev', 'rprivate', 'size=1m'] },
    ]);
  });
});

// ---- through create and inspect ------------------------------------------------------------

const image = { id: 'a'.repeat(64), config: { Cmd: ['sh'] } };
const look: CreateLookups = {
  image: () => image,
  containerByName: () => undefined,
  container: () => undefined,
  network: (ref) => (ref === 'bridge' ? { id: 'b'.repeat(64), name: 'bridge', driver: 'bridge' } : undefined),
  pathExists: exists,
  randomName: () => 'happy_turing',
  newId: () => 'c'.repeat(64),
  now: () => '2026-01-01T00:00:00.000Z',
};
const body = (hc: Record<string, unknown>): CreateBody => ({ Image: 'busybox', Volumes: {}, HostConfig: { Binds: null, NetworkMode: 'default', ...hc } });
const ctx = { endpoint: () => undefined, network: () => undefined, dir: () => '/d', logPath: () => '/d/log', storageDriver: 'overlay2', now: 0 };

describe('create and inspect', () => {
  it('the record keeps the mounts; inspect shows HostConfig as sent and a Mounts array as dockerd', () => {
    const mounts = [{ Type: 'bind', Source: '/etc/motd', Target: '/etc/motd', ReadOnly: true, BindOptions: null, Extra: 1 }];
    const c = buildContainer('mc', body({ Binds: ['/srv/data:/data'], Mounts: mounts, Tmpfs: { '/run': 'size=1m' } }), look);
    expect(c.mounts?.map((m) => m.destination)).toEqual(['/data', '/etc/motd', '/run']);
    const j = inspect(c, ctx) as { HostConfig: Record<string, unknown>; Mounts: unknown[] };
    expect(j.HostConfig.Binds).toEqual(['/srv/data:/data']);
    expect(j.HostConfig.Mounts).toEqual([{ Type: 'bind', Source: '/etc/motd', Target: '/etc/motd', ReadOnly: true }]);
    expect(j.HostConfig.Tmpfs).toEqual({ '/run': 'size=1m' });
    expect(j.Mounts).toEqual([
      { Type: 'bind', Source: '/srv/data', Destination: '/data', Mode: '', RW: true, Propagation: 'rprivate' },
      { Type: 'bind', Source: '/etc/motd', Destination: '/etc/motd', Mode: '', RW: false, Propagation: 'rprivate' },
    ]);
    expect((listItem(c, ctx) as { Mounts: unknown[] }).Mounts).toEqual(j.Mounts);
    // a round trip through the store (JSON) keeps them
    const again = JSON.parse(JSON.stringify(c)) as typeof c;
    expect(specMounts(again.mounts ?? [])).toEqual(specMounts(c.mounts ?? []));
  });

  it('no mounts: Binds null, no Mounts/Tmpfs keys, an empty Mounts array', () => {
    const c = buildContainer('mc', body({}), look);
    expect(c.mounts).toBeUndefined();
    const j = inspect(c, ctx) as { HostConfig: Record<string, unknown>; Mounts: unknown[] };
    expect(j.HostConfig.Binds).toBeNull();
    expect('Mounts' in j.HostConfig || 'Tmpfs' in j.HostConfig).toBe(false);
    expect(j.Mounts).toEqual([]);
  });

  it('a bad mount fails the create before any lookup of its name or image', () => {
    let asked = 0;
    const counting: CreateLookups = { ...look, image: (r) => (asked++, look.image(r)) };
    expect(() => buildContainer('mc', body({ Mounts: [{ Type: 'bind', Source: '/nope', Target: '/x' }] }), counting)).toThrow(
      'invalid mount config for type "bind": bind source path does not exist: /nope',
    );
    expect(() => buildContainer('mc', body({ VolumeDriver: 'local' }), counting)).toThrow('does not support the host option VolumeDriver');
    expect(() => buildContainer('mc', { ...body({}), Volumes: { '/data': {} } }, counting)).toThrow('berth does not support volumes yet (-v /data)');
    expect(asked).toBe(0);
  });
});
