// THE ONLY CODE THAT TOUCHES THE HOST. Drivers get a Sys through their context; unit tests pass fakes.
import { realExec, type Exec, type ExecObserver } from './exec.js';
import { realIp, type Ip } from './ip.js';
import { realIptables, type Iptables } from './iptables.js';
import { realSysctl, type Sysctl } from './sysctl.js';

export interface Sys {
  readonly exec: Exec;
  readonly ip: Ip;
  readonly iptables: Iptables;
  readonly sysctl: Sysctl;
}

export function realSys(opts: { onExec?: ExecObserver } = {}): Sys {
  const exec = realExec(opts.onExec);
  return { exec, ip: realIp(exec), iptables: realIptables(exec), sysctl: realSysctl() };
}

export type { Exec, Ip, Iptables, Sysctl };
