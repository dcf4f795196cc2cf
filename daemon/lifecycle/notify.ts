// systemd's notify protocol. Node has no unix datagram sockets, so the message goes through
// systemd-notify (the unit sets NotifyAccess=all, since the sender is a child of berthd).
import { execFile } from 'node:child_process';

export function notifySystemd(state: string, env = process.env): Promise<void> {
  if (!env.NOTIFY_SOCKET) return Promise.resolve();
  const args = state === 'READY=1' ? ['--ready', `MAINPID=${process.pid}`] : [state];
  return new Promise((resolve) => {
    execFile('systemd-notify', args, { env }, () => resolve()); // best effort, never fatal
  });
}
