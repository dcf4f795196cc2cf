// The none driver (`--net none`): a netns of the container's own with only `lo`, up. Two `ip`
// executions: the netns, then lo up inside it. Published ports are ignored with a warning.
import type { DriverContext, NetworkDriver } from '../../driver.js';
import { invalidParameter, wrap } from '../../errors.js';
import { bareNetwork, checkIds, emptyReport, putBareEndpoint } from '../common.js';

export default function noneDriver(ctx: DriverContext): NetworkDriver {
  const { sys, names } = ctx;

  async function delNetns(name: string): Promise<void> {
    await sys.ip.batch([`netns del ${name}`]).catch(async (e) => {
      const list = await sys.ip.json<{ name: string }[]>(['netns', 'list']);
      if (list.some((n) => n.name === name)) throw wrap(e, `delete netns ${name}`);
    });
  }

  return {
    kind: 'network',
    name: 'none',
    builtinNetworks: [{ name: 'none', driver: 'none', builtin: true }],
    handlers: {
      async create_network({ spec, id }) {
        return bareNetwork('none', spec, id);
      },
      async delete_network() {},
      async allocate_interface({ network, container, endpointId, request }, job) {
        checkIds(container, endpointId, ctx);
        if (request.ipv4) throw invalidParameter('user specified IP address is supported on user defined networks only');
        if (request.joinContainer) throw invalidParameter('the none driver cannot join another container');
        if (request.adoptNetns) {
          // the netns of a running container whose last network went: kept, with lo, and owned here
          if (request.netns?.kind !== 'new') throw invalidParameter('only a netns of the container\'s own can be adopted');
          return putBareEndpoint(ctx, job, { id: endpointId, network, container, driver: 'none', netns: request.netns, ownsNetns: true });
        }
        if (request.netns) throw invalidParameter('container cannot be connected to multiple networks with one of the networks in private (none) mode');
        const name = names.netns(container.id);
        const ep = await putBareEndpoint(ctx, job, {
          id: endpointId,
          network,
          container,
          driver: 'none',
          netns: { kind: 'new', name, path: `/run/netns/${name}` },
          ownsNetns: true,
        });
        job.undo.push(`delete netns ${name}`, () => delNetns(name));
        await sys.ip.batch([`netns add ${name}`]);
        await sys.ip.batch(['link set lo up'], { netns: name });
        return ep;
      },
      async release_interface({ endpoint }) {
        const ep = ctx.records.get('endpoint', endpoint.id) ?? endpoint;
        await ctx.records.delete('endpoint', ep.id);
        if (ep.ownsNetns && ep.netns.kind === 'new') await delNetns(ep.netns.name);
      },
      async allocate_port({ requests }, job) {
        if (requests.length) job.log.warn({ ports: requests.length }, 'Published ports are discarded when using the none network mode');
        return [];
      },
      async release_port() {},
      async set_gateway({ endpoint }) {
        return endpoint; // no interface of its own: nothing routes through it
      },
      async link() {},
      async unlink() {},
    },
    /** Orphan netns are swept by the bridge driver's restore (it knows every endpoint record). */
    async restore() {
      return emptyReport();
    },
  };
}
