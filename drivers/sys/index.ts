// THE ONLY CODE THAT TOUCHES THE HOST. Drivers get a Sys through their context; unit tests pass fakes.
import { realExec, type Exec, type ExecObserver } from './exec.js';
import { realIp, type Ip } from './ip.js';
import { realIptables, type Iptables } from './iptables.js';
import { realSysctl, type Sysctl } from './sysctl.js';
import { realPortHolder, type PortHolder } from './ports.js';
import { realDnsNet, type DnsNet } from './dns.js';
import { realNft, type Nft } from './nft.js';

export interface Sys {
  readonly exec: Exec;
  readonly ip: Ip;
  readonly iptables: Iptables;
  readonly sysctl: Sysctl;
  /** Bound sockets that reserve published host ports (network drivers). */
  readonly ports: PortHolder;
  /** DNS sockets of the embedded resolver (network drivers). */
  readonly dns: DnsNet;
  /** nft(8): the nftables firewall backend, and the monitor the flush watcher listens to. */
  readonly nft: Nft;
}

export function realSys(opts: { onExec?: ExecObserver } = {}): Sys {
  const exec = realExec(opts.onExec);
  return { exec, ip: realIp(exec), iptables: realIptables(exec), sysctl: realSysctl(), ports: realPortHolder(), dns: realDnsNet(), nft: realNft(exec) };
}

export type { Exec, Ip, Iptables, Sysctl, PortHolder, DnsNet, Nft };
