// The container driver (`--net container:<id>`): join another container's netns. It makes nothing
// and owns nothing; the daemon calls it with a synthetic NetworkRecord (name and driver
// 'container'). Port publishing and an own address are refused with Docker's messages.
import type { DriverContext, NetworkDriver } from '../../driver.js';
import { conflict, invalidParameter } from '../../errors.js';
import { safeId } from '../../names.js';
import { checkIds, emptyReport, putBareEndpoint } from '../common.js';

export default function containerDriver(ctx: DriverContext): NetworkDriver {
  return {
    kind: 'network',
    name: 'container',
    builtinNetworks: [],
    handlers: {
      async create_network() {
        throw invalidParameter('the container network mode has no networks to create');
      },
      async delete_network() {},
      async allocate_interface({ network, container, endpointId, request }, job) {
        checkIds(container, endpointId, ctx);
        const target = request.joinContainer;
        if (!target) throw invalidParameter('container network mode needs the container to join');
        safeId(target.id);
        if (target.id === container.id) throw invalidParameter('cannot join own network namespace');
        if (request.adoptNetns) throw invalidParameter('the container driver cannot adopt a netns');
        if (request.ipv4) throw invalidParameter('conflicting options: IP address and the container type network mode');
        if (request.mac) throw invalidParameter('conflicting options: mac-address and the network mode');
        if (!target.running || !target.netns) throw conflict(`cannot join network of a non running container: ${target.name || target.id.slice(0, 12)}`);
        const ns = target.netns;
        const netns =
          ns.kind === 'host'
            ? ({ kind: 'host' } as const)
            : { kind: 'join' as const, path: ns.path, containerId: ns.kind === 'join' ? ns.containerId : target.id };
        return putBareEndpoint(ctx, job, { id: endpointId, network, container, driver: 'container', netns, ownsNetns: false });
      },
      async release_interface({ endpoint }) {
        await ctx.records.delete('endpoint', endpoint.id);
      },
      async allocate_port({ requests }) {
        if (requests.length) throw invalidParameter('conflicting options: port publishing and the container type network mode');
        return [];
      },
      async release_port() {},
      async set_gateway({ endpoint }) {
        return endpoint; // no interface of its own: nothing routes through it
      },
      async link() {
        throw invalidParameter('conflicting options: container type network can\'t be used with links. This would result in undefined behavior');
      },
      async unlink() {},
    },
    async restore() {
      return emptyReport();
    },
  };
}
