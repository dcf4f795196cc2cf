import { describe, expect, it } from 'vitest';
import { buildContainer, mergeEnv, validateRestartPolicy, type CreateBody, type CreateLookups } from '../../../daemon/containers/create.js';
import { notFound } from '../../../drivers/errors.js';

const image = { id: 'a'.repeat(64), config: { Env: ['PATH=/bin', 'A=1'], Cmd: ['sh'], WorkingDir: '/w', ExposedPorts: { '80/tcp': {} }, Labels: { from: 'image' } } };
const look = (over: Partial<CreateLookups> = {}): CreateLookups => ({
  image: (ref) => {
    if (ref === 'busybox' || ref === 'nocmd') return ref === 'nocmd' ? { id: image.id, config: {} } : image;
    throw notFound(`No such image: ${ref}`);
  },
  containerByName: (n) => (n === 'taken' ? { id: 'f'.repeat(64), name: 'taken' } : undefined),
  container: (ref) => (ref === 'db' ? { id: 'd'.repeat(64), name: 'db', running: true } : undefined),
  network: (ref) => (['bridge', 'host', 'none', 'mynet'].includes(ref) ? { id: ref.padEnd(64, '0'), name: ref, driver: ref === 'mynet' ? 'bridge' : ref } : undefined),
  randomName: () => 'happy_turing',
  newId: () => 'c'.repeat(64),
  now: () => '2026-01-01T00:00:00.000Z',
  ...over,
});
const docker = (extra: Partial<CreateBody> = {}, hc: Record<string, unknown> = {}): CreateBody => ({
  Image: 'busybox',
  Cmd: ['httpd', '-f'],
  // what docker CLI 28 sends for an option it does not set
  HostConfig: { Binds: null, NetworkMode: 'default', Privileged: false, Memory: 0, MemorySwappiness: -1, BlkioWeightDevice: [], LogConfig: { Type: '', Config: {} }, RestartPolicy: { Name: 'no', MaximumRetryCount: 0 }, ...hc },
  Volumes: {},
  ...extra,
});

describe('buildContainer', () => {
  it('merges the image config under the request, as docker', () => {
    const c = buildContainer('web', docker({ Env: ['A=2', 'B=3'] }, { PortBindings: { '80/tcp': [{ HostIp: '', HostPort: '8080' }] } }), look());
    expect(c.name).toBe('web');
    expect(c.path).toBe('httpd');
    expect(c.args).toEqual(['-f']);
    expect(c.config.Env).toEqual(['PATH=/bin', 'A=2', 'B=3']);
    expect(c.config.WorkingDir).toBe('/w');
    expect(c.config.Hostname).toBe('c'.repeat(12));
    expect(c.config.ExposedPorts).toEqual({ '80/tcp': {} });
    expect(c.hostConfig.NetworkMode).toBe('default');
    expect(c.state.status).toBe('created');
  });

  it("uses the image's Cmd, and drops it when an entrypoint is given", () => {
    expect(buildContainer(undefined, docker({ Cmd: null }), look()).path).toBe('sh');
    const c = buildContainer(undefined, docker({ Cmd: null, Entrypoint: ['echo'] }), look());
    expect([c.path, ...c.args]).toEqual(['echo']);
  });

  it('gives a random name when none is asked for', () => {
    expect(buildContainer(undefined, docker(), look()).name).toBe('happy_turing');
  });

  it.each<[string, string | undefined, CreateBody, RegExp]>([
    ['a name in use', 'taken', docker(), /Conflict. The container name "\/taken" is already in use/],
    ['a bad name', 'bad name!', docker(), /Invalid container name/],
    ['an unknown image', undefined, docker({ Image: 'nope' }), /No such image: nope/],
    ['no command', undefined, docker({ Image: 'nocmd', Cmd: null }), /no command specified/],
    ['an unknown network', undefined, docker({}, { NetworkMode: 'nonet' }), /network nonet not found/],
    ['a bad restart policy', undefined, docker({}, { RestartPolicy: { Name: 'sometimes', MaximumRetryCount: 0 } }), /invalid restart policy/],
    ['AutoRemove with a restart policy', undefined, docker({}, { AutoRemove: true, RestartPolicy: { Name: 'always' } }), /AutoRemove/],
    ['a bad port binding', undefined, docker({}, { PortBindings: { '80/tcp': [{ HostPort: '70000' }] } }), /invalid/],
    ['-p with --net container:', undefined, docker({}, { NetworkMode: 'container:db', PortBindings: { '80/tcp': [{ HostPort: '80' }] } }), /conflicting options: port publishing and the container type network mode/],
    ['--hostname with --net container:', undefined, docker({ Hostname: 'x' }, { NetworkMode: 'container:db' }), /conflicting options: hostname/],
    ['--net container:missing', undefined, docker({}, { NetworkMode: 'container:missing' }), /No such container: missing/],
    ['an unsupported option that is set', undefined, docker({}, { Privileged: true }), /does not support the host option Privileged/],
    ['a named volume', undefined, docker({}, { Binds: ['data:/b'] }), /does not support named volumes yet \(-v data:\/b\)/],
    ['a log driver', undefined, docker({}, { LogConfig: { Type: 'syslog', Config: {} } }), /log driver "syslog"/],
    ['--ip on the default bridge', undefined, docker({ NetworkingConfig: { EndpointsConfig: { bridge: { IPAMConfig: { IPv4Address: '172.17.0.9' } } } } }), /user specified IP address is supported on user defined networks only/],
    ['a link to a missing container', undefined, docker({}, { Links: ['ghost:g'] }), /could not get container for ghost/],
  ])('refuses %s', (_what, name, body, msg) => {
    expect(() => buildContainer(name, body, look())).toThrow(msg);
  });

  it('keeps links, resolved to ids, and their aliases', () => {
    const c = buildContainer(undefined, docker({}, { Links: ['db:database', '/db'] }), look());
    expect(c.links).toEqual([
      { containerId: 'd'.repeat(64), alias: 'database' },
      { containerId: 'd'.repeat(64), alias: 'db' },
    ]);
  });
});

describe('restart policies', () => {
  it('accepts docker forms', () => {
    expect(validateRestartPolicy({ Name: 'on-failure', MaximumRetryCount: 3 })).toEqual({ Name: 'on-failure', MaximumRetryCount: 3 });
    expect(validateRestartPolicy(undefined)).toEqual({ Name: '', MaximumRetryCount: 0 });
  });
  it('refuses a retry count without on-failure', () => {
    expect(() => validateRestartPolicy({ Name: 'always', MaximumRetryCount: 2 })).toThrow(/only be used with 'on-failure'/);
  });
});

describe('mergeEnv', () => {
  it('lets the user override, drops valueless names, refuses empty names', () => {
    expect(mergeEnv(['A=1', 'B=2'], ['B=3', 'C'])).toEqual(['A=1', 'B=3']);
    expect(() => mergeEnv([], ['=x'])).toThrow(/invalid environment variable/);
  });
});
