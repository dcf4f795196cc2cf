// The host driver (`--net host`): the container shares the daemon's netns. No interface, no rule;
// published ports are ignored with a warning, as Docker does.
import type { DriverContext, NetworkDriver } from '../../driver.js';
import { invalidParameter } from '../../errors.js';
import { bareNetwork, checkIds, emptyReport, putBareEndpoint } from '../common.js';

export default function hostDriver(ctx: DriverContext): NetworkDriver {
  return {
    kind: 'network',
    name: 'host',
    builtinNetworks: [{ name: 'host', driver: 'host', builtin: true }],
    handlers: {
      async create_network({ spec, id }) {
        return bareNetwork('host', spec, id);
      },
      async delete_network() {},
      async allocate_interface({ network, container, endpointId, request }, job) {
        checkIds(container, endpointId, ctx);
        if (request.ipv4) throw invalidParameter('user specified IP address is supported on user defined networks only');
        if (request.joinContainer) throw invalidParameter('the host driver cannot join another container');
        if (request.adoptNetns) throw invalidParameter('the host driver cannot adopt a netns');
        return putBareEndpoint(ctx, job, { id: endpointId, network, container, driver: 'host', netns: { kind: 'host' }, ownsNetns: false });
      },
      async release_interface({ endpoint }) {
        await ctx.records.delete('endpoint', endpoint.id);
      },
      async allocate_port({ requests }, job) {
        if (requests.length) job.log.warn({ ports: requests.length }, 'Published ports are discarded when using host network mode');
        return [];
      },
      async release_port() {},
      async set_gateway({ endpoint }) {
        return endpoint; // no interface of its own: nothing routes through it
      },
      async link() {},
      async unlink() {},
    },
    async restore() {
      return emptyReport();
    },
  };
}
