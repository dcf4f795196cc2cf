// Domain records shared by drivers and the daemon. Wire shapes (Docker's PascalCase JSON) live in
// daemon/api/types.ts and are converted in daemon/api/convert.ts; nothing here is a wire type.

export type Proto = 'tcp' | 'udp' | 'sctp';

export interface PortProto {
  port: number;
  proto: Proto;
}

/** One host port wanted for one container port, after `-p` parsing. */
export interface PortBindingRequest {
  containerPort: number;
  proto: Proto;
  /** '' means every IPv4 address (0.0.0.0). */
  hostIp: string;
  /** 0 = an ephemeral port. With hostPortEnd > hostPort: any one free port of the range. */
  hostPort: number;
  hostPortEnd: number;
}

/** A published port as it is: what the allocator reserved and the firewall forwards. */
export interface PortBinding {
  containerPort: number;
  proto: Proto;
  hostIp: string;
  hostPort: number;
}

/** One address pool of a network: IPv4 (dotted quad) or IPv6 (a ':' in the subnet). */
export interface IpamConfig {
  subnet: string; // CIDR
  gateway: string; // address, no prefix
  ipRange?: string; // CIDR inside subnet: where container addresses come from
}

export interface NetworkSpec {
  name: string;
  driver: string;
  internal?: boolean;
  ipv6?: boolean;
  /** Requested pools; empty = let the driver choose. */
  ipam?: Partial<IpamConfig>[];
  options?: Record<string, string>;
  labels?: Record<string, string>;
  /** Predefined network (Docker's bridge, host, none): made at start, never removed by users. */
  builtin?: boolean;
}

export interface NetworkRecord {
  id: string;
  name: string;
  driver: string;
  created: string;
  internal: boolean;
  ipv6: boolean;
  builtin: boolean;
  ipam: IpamConfig[];
  options: Record<string, string>;
  labels: Record<string, string>;
}

/** Where a container's network lives. */
export type NetnsRef =
  | { kind: 'new'; name: string; path: string } // a netns berth made for this container
  | { kind: 'host' } // the daemon's own netns
  | { kind: 'join'; path: string; containerId: string }; // another container's netns

export interface ContainerRef {
  id: string;
  name: string;
}

export interface EndpointRequest {
  /** A netns the container already has (a second network); unset: the driver decides. */
  netns?: NetnsRef;
  /** Wanted address (`--ip`, `--ip6`), wanted MAC (`--mac-address`), aliases (`--network-alias`). */
  ipv4?: string;
  ipv6?: string;
  mac?: string;
  aliases?: string[];
  /** Names the network's embedded DNS answers with this endpoint's addresses (Docker's DNSNames:
   *  container name, aliases, short id, hostname). Default: the container name and the aliases. */
  dnsNames?: string[];
  /** The container's `--dns` servers: where the embedded DNS forwards names it does not know
   *  (default: the host's resolvers). */
  dnsServers?: string[];
  /** This endpoint carries the container's default route (Docker's gateway endpoint). Default:
   *  true for a container's first interface, false for the others. */
  gateway?: boolean;
  /** Interface name in the container; eth0 for the first network. */
  ifName?: string;
  /** The container whose netns to join, for `--net container:<id>`. */
  joinContainer?: ContainerRef & { netns: NetnsRef | undefined; running: boolean };
  /** Become the owner of `netns` (which exists) without an interface: a running container lost its
   *  last network and keeps its netns with lo only. Only the none driver does it; others refuse. */
  adoptNetns?: boolean;
}

export interface Endpoint {
  id: string;
  networkId: string;
  container: ContainerRef;
  driver: string;
  netns: NetnsRef;
  /** True if this endpoint made its netns (then releasing it deletes the netns); false for a second
   *  network's interface in a netns another endpoint made, and for host/container modes. */
  ownsNetns?: boolean;
  /** Interface in the container and its peer on the host; absent for host/none/container modes. */
  ifName?: string;
  hostIfName?: string;
  ipv4?: string; // address/prefix, e.g. 172.17.0.2/16
  gateway?: string;
  mac?: string;
  ipv6?: string;
  gateway6?: string;
  aliases: string[];
  /** See EndpointRequest. */
  dnsNames?: string[];
  dnsServers?: string[];
  /** The container's default route goes through this endpoint (its published ports live here). */
  isGateway?: boolean;
  /** The embedded DNS server this endpoint's container can use (user-defined networks): the
   *  address its resolv.conf names. */
  resolver?: string;
  ports: PortBinding[];
  /** Ports this endpoint opened to other containers through `--link` (icc=false). */
  links: LinkRecord[];
}

export interface LinkRecord {
  /** The endpoint being linked to (the server side). */
  toEndpointId: string;
  toIp: string;
  fromIp: string;
  ports: PortProto[];
}

/** One difference between what the records say and what the kernel holds (`berth system check`). */
export interface DriftItem {
  /** What kind of object: a firewall rule (or nft element), a chain, a link, a netns, an address,
   *  a route, a held host port, a DNS responder. */
  kind: 'rule' | 'chain' | 'link' | 'netns' | 'address' | 'route' | 'port' | 'dns';
  /** missing: the records want it and the kernel lacks it; extra: berth's, but no record owns it;
   *  wrong: there, but not as recorded (out of order, down, on another bridge). */
  state: 'missing' | 'extra' | 'wrong';
  /** The object, as an operator would name it (a rule line, `veth bv… on br-…`, `172.18.0.1/16 on br-…`). */
  what: string;
  network?: string;
  endpoint?: string;
  container?: string;
  /** Set by a repair: whether it was fixed. */
  repaired?: boolean;
  error?: string;
}

export interface ReconcileReport {
  /** What the driver re-created, removed or found, as lines for the log. */
  recreated: string[];
  removed: string[];
}
