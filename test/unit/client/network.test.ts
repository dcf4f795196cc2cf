// network create/connect/disconnect/rm/prune/ls/inspect: requests as docker 28.2.2 sends them
// (bodies recorded from the real CLI) and output as it prints it.
import { describe, expect, it } from 'vitest';
import { runCli } from '../../../client/main.js';
import { ApiError } from '../../../client/api.js';
import { fakeApi, recIo } from './fake.js';

const NID = 'ab'.repeat(32);

function netApi() {
  return fakeApi((r) => {
    if (r.path === '/networks/create') return { status: 201, body: { Id: NID, Warning: '' } };
    if (r.path === '/networks/gone' && r.method === 'DELETE') return { error: new ApiError(404, 'network gone not found') };
    if (r.path === '/networks/busy' && r.method === 'DELETE')
      return { error: new ApiError(403, 'error while removing network: network busy has active endpoints') };
    if (r.path === '/networks/prune') return { body: { NetworksDeleted: ['n1', 'n2'] } };
    if (r.method === 'DELETE' || r.path.endsWith('/connect') || r.path.endsWith('/disconnect')) return { status: 200 };
    return undefined;
  });
}

describe('berth network create', () => {
  it('sends docker\'s body for a plain create and prints the id', async () => {
    const api = netApi();
    const io = recIo();
    expect(await runCli(['network', 'create', 'n1'], io, () => api)).toBe(0);
    expect(io.outText).toBe(`${NID}\n`);
    expect(api.requests[0]!.body).toEqual({
      Driver: 'bridge',
      Scope: '',
      IPAM: { Driver: 'default', Options: {}, Config: [] },
      Internal: false,
      Attachable: false,
      Ingress: false,
      ConfigOnly: false,
      ConfigFrom: null,
      Options: {},
      Labels: {},
      Name: 'n1',
    });
  });

  it('groups --subnet/--gateway/--ip-range per subnet, with options, labels and flags', async () => {
    const api = netApi();
    const argv =
      '-d bridge --subnet 10.1.0.0/24 --gateway 10.1.0.1 --ip-range 10.1.0.128/25 --internal --ipv6 -o com.docker.network.bridge.name=br1 -o a=b --label x=y --label z --attachable n2';
    expect(await runCli(['network', 'create', ...argv.split(' ')], recIo(), () => api)).toBe(0);
    expect(api.requests[0]!.body).toEqual({
      Driver: 'bridge',
      Scope: '',
      EnableIPv6: true,
      IPAM: { Driver: 'default', Options: {}, Config: [{ Subnet: '10.1.0.0/24', IPRange: '10.1.0.128/25', Gateway: '10.1.0.1' }] },
      Internal: true,
      Attachable: true,
      Ingress: false,
      ConfigOnly: false,
      ConfigFrom: null,
      Options: { a: 'b', 'com.docker.network.bridge.name': 'br1' },
      Labels: { x: 'y', z: '' },
      Name: 'n2',
    });
  });

  it('places the gateway in its own subnet among several', async () => {
    const api = netApi();
    await runCli(['network', 'create', '--subnet', '10.1.0.0/24', '--subnet', '10.2.0.0/24', '--gateway', '10.2.0.1', 'n3'], recIo(), () => api);
    expect((api.requests[0]!.body as { IPAM: { Config: unknown } }).IPAM.Config).toEqual([
      { Subnet: '10.1.0.0/24' },
      { Subnet: '10.2.0.0/24', Gateway: '10.2.0.1' },
    ]);
  });

  const bad: [string, string][] = [
    ['--gateway 10.1.0.1', 'every ip-range or gateway must have a corresponding subnet'],
    ['--subnet 10.1.0.0/24 --gateway 10.9.0.1', 'no matching subnet for gateway 10.9.0.1'],
    ['--subnet 10.1.0.0/24 --ip-range 10.2.0.0/25', 'no matching subnet for range 10.2.0.0/25'],
    ['--subnet 10.1.0.0/16 --subnet 10.1.2.0/24', 'multiple overlapping subnet configuration is not supported'],
    ['--subnet foo', 'invalid CIDR address: foo'],
    ['--subnet 10.0.0.0/33', 'invalid CIDR address: 10.0.0.0/33'],
    ['--subnet 10.1.0.0/24 --subnet 10.2.0.0/24 --gateway 10.1.0.1 --gateway 10.1.0.2', 'cannot configure multiple gateways (10.1.0.2, 10.1.0.1) for the same subnet (10.1.0.0/24)'],
    ['--label =v', "invalid label '=v': empty name"],
  ];
  for (const [flags, msg] of bad) {
    it(`${flags} → exit 125, no request`, async () => {
      const api = netApi();
      const io = recIo();
      expect(await runCli(['network', 'create', ...flags.split(' '), 'nx'], io, () => api)).toBe(125);
      expect(io.errText).toContain(msg);
      expect(api.requests).toEqual([]);
    });
  }

  it('accepts IPv6 subnets and gateways', async () => {
    const api = netApi();
    expect(await runCli(['network', 'create', '--ipv6', '--subnet', 'fd00:1::/64', '--gateway', 'fd00:1::1', 'v6'], recIo(), () => api)).toBe(0);
    expect((api.requests[0]!.body as { IPAM: { Config: unknown } }).IPAM.Config).toEqual([{ Subnet: 'fd00:1::/64', Gateway: 'fd00:1::1' }]);
  });
});

describe('berth network connect / disconnect', () => {
  it('connect sends docker\'s endpoint config', async () => {
    const api = netApi();
    expect(await runCli(['network', 'connect', '--ip', '10.1.0.5', '--alias', 'a', '--alias', 'b', 'n1', 'c1'], recIo(), () => api)).toBe(0);
    expect(api.lines()).toEqual(['POST /networks/n1/connect']);
    expect(api.requests[0]!.body).toEqual({
      Container: 'c1',
      EndpointConfig: {
        IPAMConfig: { IPv4Address: '10.1.0.5' },
        Links: null,
        Aliases: ['a', 'b'],
        MacAddress: '',
        DriverOpts: {},
        GwPriority: 0,
        NetworkID: '',
        EndpointID: '',
        Gateway: '',
        IPAddress: '',
        IPPrefixLen: 0,
        IPv6Gateway: '',
        GlobalIPv6Address: '',
        GlobalIPv6PrefixLen: 0,
        DNSNames: null,
      },
    });
  });

  it('connect without options: empty IPAMConfig and aliases, as docker', async () => {
    const api = netApi();
    await runCli(['network', 'connect', 'n1', 'c1'], recIo(), () => api);
    const ep = (api.requests[0]!.body as { EndpointConfig: Record<string, unknown> }).EndpointConfig;
    expect(ep.IPAMConfig).toEqual({});
    expect(ep.Aliases).toEqual([]);
  });

  it('connect refuses a bad --ip before any request', async () => {
    const api = netApi();
    const io = recIo();
    expect(await runCli(['network', 'connect', '--ip', '10.1.0', 'n1', 'c1'], io, () => api)).toBe(125);
    expect(api.requests).toEqual([]);
  });

  it('disconnect sends Force', async () => {
    const api = netApi();
    await runCli(['network', 'disconnect', '-f', 'n1', 'c1'], recIo(), () => api);
    await runCli(['network', 'disconnect', 'n1', 'c1'], recIo(), () => api);
    expect(api.requests.map((r) => r.body)).toEqual([
      { Container: 'c1', Force: true },
      { Container: 'c1', Force: false },
    ]);
  });
});

describe('berth network rm / prune', () => {
  it('rm prints each removed name, reports failures, exit 1', async () => {
    const api = netApi();
    const io = recIo();
    expect(await runCli(['network', 'rm', 'n1', 'busy', 'gone', 'n2'], io, () => api)).toBe(1);
    expect(io.outText).toBe('n1\nn2\n');
    expect(io.errText).toBe(
      'Error response from daemon: error while removing network: network busy has active endpoints\nError response from daemon: network gone not found\n',
    );
  });

  it('rm -f passes over a missing network', async () => {
    const api = netApi();
    const io = recIo();
    expect(await runCli(['network', 'rm', '-f', 'gone', 'n1'], io, () => api)).toBe(0);
    expect(io.outText).toBe('n1\n');
    expect(io.errText).toBe('');
  });

  it('prune asks first; "y" prunes and lists what went', async () => {
    const api = netApi();
    const io = recIo();
    io.stdin.end('y\n');
    expect(await runCli(['network', 'prune', '--filter', 'label=a'], io, () => api)).toBe(0);
    expect(io.outText).toBe(
      'WARNING! This will remove all custom networks not used by at least one container.\nAre you sure you want to continue? [y/N] Deleted Networks:\nn1\nn2\n\n',
    );
    expect(api.requests[0]!.query).toEqual({ filters: '{"label":["a"]}' });
  });

  it('prune: anything but y cancels quietly, nothing sent', async () => {
    const api = netApi();
    const io = recIo();
    io.stdin.end('yes please\n');
    expect(await runCli(['network', 'prune'], io, () => api)).toBe(0);
    expect(api.requests).toEqual([]);
  });

  it('prune -f does not ask', async () => {
    const api = netApi();
    const io = recIo();
    expect(await runCli(['network', 'prune', '-f'], io, () => api)).toBe(0);
    expect(io.outText).toBe('Deleted Networks:\nn1\nn2\n\n');
  });
});

describe('berth network inspect', () => {
  it("shows berth's operator view the daemon adds", async () => {
    const net = { Name: 'bridge', Id: NID, Driver: 'bridge', Berth: { Bridge: 'berth0', Rules: ['-A BERTH-DNAT …'] } };
    const api = fakeApi((r) => (r.path === '/networks/bridge' ? { body: net } : undefined));
    const io = recIo();
    expect(await runCli(['network', 'inspect', 'bridge'], io, () => api)).toBe(0);
    expect(JSON.parse(io.outText)).toEqual([net]);
    expect(io.outText).toBe(`${JSON.stringify([net], null, 4)}\n`);
    const io2 = recIo();
    await runCli(['network', 'inspect', '-f', '{{.Berth.Bridge}}', 'bridge'], io2, () => api);
    expect(io2.outText).toBe('berth0\n');
  });

  it('-v asks the daemon for the verbose view', async () => {
    const api = fakeApi(() => ({ body: {} }));
    await runCli(['network', 'inspect', '-v', 'bridge'], recIo(), () => api);
    expect(api.requests[0]!.query).toEqual({ verbose: 'true' });
  });
});
