// nftables through nft(8): one `nft -f -` per transaction (all of it or none), `nft -j list` to read
// back, and `nft monitor` (a long-lived process) to hear every ruleset change made by anyone — the
// flush watcher's ear. Every call runs in the daemon's netns.
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { Exec } from './exec.js';

export interface NftMonitor {
  /** End the monitor process; idempotent. */
  stop(): void;
}

export interface Nft {
  /** Apply a ruleset script (`nft -f -`): one atomic transaction. */
  apply(script: string): Promise<void>;
  /** `nft -j list <what…>`, parsed (e.g. ['table', 'inet', 'berth']). */
  listJson<T = unknown>(what: readonly string[]): Promise<T>;
  /**
   * Start `nft monitor`: `onLine` gets each line it prints (`delete rule ip nat BERTH handle 7`,
   * `# new generation 12 by process 3456 (iptables)`), `onExit` when it ends. Rejects if nft cannot
   * be started.
   */
  monitor(onLine: (line: string) => void, onExit: (code: number | null) => void): Promise<NftMonitor>;
}

export function realNft(exec: Exec, bin = 'nft'): Nft {
  return {
    async apply(script) {
      await exec.run([bin, '-f', '-'], { input: script });
    },
    async listJson<T>(what: readonly string[]) {
      return JSON.parse(await exec.run([bin, '-j', 'list', ...what])) as T;
    },
    monitor(onLine, onExit) {
      const start = (argv: string[]) =>
        new Promise<NftMonitor>((resolve, reject) => {
          const child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'ignore'] });
          child.once('error', reject);
          child.once('spawn', () => {
            child.removeListener('error', reject);
            child.on('error', () => {});
            createInterface({ input: child.stdout! }).on('line', onLine);
            child.once('exit', (code) => onExit(code));
            child.unref();
            (child.stdout as unknown as { unref?: () => void }).unref?.();
            resolve({ stop: () => void (child.exitCode === null && child.signalCode === null && child.kill('SIGTERM')) });
          });
        });
      // setpriv --pdeathsig: the monitor ends with berthd even when berthd is killed (-9).
      return start(['setpriv', '--pdeathsig', 'TERM', '--', bin, 'monitor']).catch(() => start([bin, 'monitor']));
    },
  };
}
