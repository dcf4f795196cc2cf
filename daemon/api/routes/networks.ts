// /networks in Docker Engine API shape.
import type { FastifyInstance, FastifyPluginAsync } from 'fastify';
import type { Daemon } from '../../daemon.js';
import { invalidParameter } from '../../../drivers/errors.js';
import { parseFilters } from '../../events.js';
import type { NetworkRecord } from '../../../drivers/types.js';
import { matchLabels } from '../../networks/service.js';
import type { EndpointConfig } from '../../networks/attach.js';

const createBody = {
  type: 'object',
  required: ['Name'],
  properties: {
    Name: { type: 'string', minLength: 1, maxLength: 128 },
    Driver: { type: 'string' },
    Scope: { type: 'string' },
    Internal: { type: 'boolean' },
    Attachable: { type: 'boolean' },
    Ingress: { type: 'boolean' },
    EnableIPv6: { type: ['boolean', 'null'] },
    EnableIPv4: { type: ['boolean', 'null'] },
    CheckDuplicate: { type: 'boolean' },
    ConfigOnly: { type: 'boolean' },
    ConfigFrom: { type: ['object', 'null'] },
    IPAM: {
      type: ['object', 'null'],
      properties: {
        Driver: { type: 'string' },
        Config: {
          type: ['array', 'null'],
          items: {
            type: 'object',
            properties: {
              Subnet: { type: 'string' },
              Gateway: { type: 'string' },
              IPRange: { type: 'string' },
              AuxiliaryAddresses: { type: ['object', 'null'] },
            },
          },
        },
        Options: { type: ['object', 'null'], additionalProperties: { type: 'string' } },
      },
    },
    Options: { type: ['object', 'null'], additionalProperties: { type: 'string' } },
    Labels: { type: ['object', 'null'], additionalProperties: { type: 'string' } },
  },
} as const;

const connectBody = {
  type: 'object',
  required: ['Container'],
  properties: {
    Container: { type: 'string', minLength: 1 },
    EndpointConfig: {
      type: ['object', 'null'],
      properties: {
        IPAMConfig: {
          type: ['object', 'null'],
          properties: { IPv4Address: { type: 'string' }, IPv6Address: { type: 'string' }, LinkLocalIPs: { type: ['array', 'null'], items: { type: 'string' } } },
        },
        Links: { type: ['array', 'null'], items: { type: 'string' } },
        Aliases: { type: ['array', 'null'], items: { type: 'string' } },
        MacAddress: { type: 'string' },
        GwPriority: { type: 'integer' },
        DriverOpts: { type: ['object', 'null'], additionalProperties: { type: 'string' } },
      },
    },
  },
} as const;

const disconnectBody = {
  type: 'object',
  required: ['Container'],
  properties: { Container: { type: 'string', minLength: 1 }, Force: { type: 'boolean' } },
} as const;

interface CreateBody {
  Name: string;
  Driver?: string;
  Internal?: boolean;
  EnableIPv6?: boolean | null;
  IPAM?: { Driver?: string; Config?: { Subnet?: string; Gateway?: string; IPRange?: string }[] | null } | null;
  Options?: Record<string, string> | null;
  Labels?: Record<string, string> | null;
  ConfigOnly?: boolean;
  Ingress?: boolean;
}

export function networkRoutes(d: Daemon): FastifyPluginAsync {
  return async (app: FastifyInstance) => {
    app.get('/networks', async (req) => {
      const filters = filtersOf((req.query as { filters?: string }).filters);
      return d.networks
        .list()
        .filter((n) => matchNetwork(n, filters, d))
        .map((n) => wire(d, n, false));
    });

    app.get('/networks/:id', async (req) => {
      const n = d.networks.get((req.params as { id: string }).id);
      const w = wire(d, n, true);
      const view = await d.networks.kernelView(n);
      return view ? { ...w, Berth: view } : w;
    });

    app.post('/networks/create', { schema: { body: createBody } }, async (req, reply) => {
      const b = req.body as CreateBody;
      if (b.IPAM?.Driver && b.IPAM.Driver !== 'default') throw invalidParameter(`IPAM driver "${b.IPAM.Driver}" is not supported; berth has the default one`);
      if (b.ConfigOnly || b.Ingress) throw invalidParameter('config-only and ingress networks are not supported');
      const n = await d.networks.create({
        name: b.Name,
        driver: b.Driver ?? 'bridge',
        internal: b.Internal ?? false,
        ipv6: b.EnableIPv6 ?? false,
        ipam: (b.IPAM?.Config ?? []).map((c) => ({
          ...(c.Subnet ? { subnet: c.Subnet } : {}),
          ...(c.Gateway ? { gateway: c.Gateway } : {}),
          ...(c.IPRange ? { ipRange: c.IPRange } : {}),
        })),
        options: b.Options ?? {},
        labels: b.Labels ?? {},
      });
      reply.code(201);
      return { Id: n.id, Warning: '' };
    });

    app.delete('/networks/:id', async (req, reply) => {
      await d.networks.remove((req.params as { id: string }).id);
      reply.code(204);
    });

    app.post('/networks/:id/connect', { schema: { body: connectBody } }, async (req, reply) => {
      const b = req.body as { Container: string; EndpointConfig?: EndpointConfig | null };
      await d.containers.connect(b.Container, (req.params as { id: string }).id, b.EndpointConfig ?? {});
      reply.code(200);
      return '';
    });

    app.post('/networks/:id/disconnect', { schema: { body: disconnectBody } }, async (req, reply) => {
      const b = req.body as { Container: string; Force?: boolean };
      await d.containers.disconnect(b.Container, (req.params as { id: string }).id, b.Force ?? false);
      reply.code(200);
      return '';
    });

    app.post('/networks/prune', async (req) => {
      const filters = filtersOf((req.query as { filters?: string }).filters);
      return { NetworksDeleted: await d.networks.prune(filters) };
    });
  };
}

function filtersOf(raw: string | undefined): Record<string, string[]> {
  try {
    return parseFilters(raw);
  } catch (e) {
    throw invalidParameter(`invalid filters: ${(e as Error).message}`);
  }
}

function matchNetwork(n: NetworkRecord, f: Record<string, string[]>, d: Daemon): boolean {
  const any = (key: string, pred: (v: string) => boolean) => !f[key]?.length || f[key]!.some(pred);
  return (
    any('name', (v) => n.name.includes(v)) &&
    any('id', (v) => n.id.startsWith(v)) &&
    any('driver', (v) => n.driver === v) &&
    any('scope', (v) => v === 'local') &&
    any('type', (v) => (v === 'builtin' ? n.builtin : v === 'custom' ? !n.builtin : false)) &&
    any('dangling', (v) => (v === 'true' || v === '1') === (!n.builtin && d.networks.endpoints(n.id).length === 0)) &&
    matchLabels(n.labels, f.label ?? [])
  );
}

/** A network in Docker's shape; `containers` adds the endpoints (inspect, not list). */
export function wire(d: Daemon, n: NetworkRecord, containers: boolean): Record<string, unknown> {
  const eps = containers ? d.networks.endpoints(n.id) : [];
  return {
    Name: n.name,
    Id: n.id,
    Created: n.created,
    Scope: 'local',
    Driver: n.driver,
    EnableIPv4: true,
    EnableIPv6: n.ipv6,
    IPAM: {
      Driver: 'default',
      Options: null,
      Config: n.ipam.map((c) => ({ Subnet: c.subnet, Gateway: c.gateway, ...(c.ipRange ? { IPRange: c.ipRange } : {}) })),
    },
    Internal: n.internal,
    Attachable: false,
    Ingress: false,
    ConfigFrom: { Network: '' },
    ConfigOnly: false,
    Containers: Object.fromEntries(
      eps.map((e) => [
        e.container.id,
        {
          Name: e.container.name,
          EndpointID: e.id,
          MacAddress: e.mac ?? '',
          IPv4Address: e.ipv4 ?? '',
          IPv6Address: e.ipv6 ?? '',
        },
      ]),
    ),
    Options: n.options,
    Labels: n.labels,
  };
}
