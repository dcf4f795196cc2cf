// The flush watcher: berth's firewall repaired ~150 ms after an administrator's change (an
// `iptables -F`, a firewalld reload, `nft flush ruleset`). It listens to `nft monitor` (iptables 1.8
// here is iptables-nft: its rules are nftables objects too), and after a transaction that deleted or
// flushed something in the tables berth uses — and that berth did not make — it runs the repair (a
// firewall sync against the records) once things are quiet for `debounceMs`.
//
// berth's own transactions are told apart by the process nft names for each generation
// (`# new generation 12 by process 3456 (iptables-restor)`): the pids of the programs berth ran.
// Counting writes instead is wrong both ways: iptables-restore commits one generation per table and
// none for an empty one.
import type { Log } from '../../log.js';
import type { Nft, NftMonitor } from '../../sys/nft.js';

export interface WatcherOptions {
  nft: Nft;
  log: Log;
  /** Table prefixes that concern berth, as nft monitor prints them: 'ip nat', 'ip6 filter', 'inet berth'. */
  tables: readonly string[];
  /** Whether a pid is one of the programs berth ran (Exec.ran). */
  ours: (pid: number) => boolean;
  /** Make the firewall match the records again (a sync); its report is logged. */
  repair: () => Promise<{ missing: string[]; extra: string[]; reordered: string[] }>;
  /** Quiet time before the repair (default 100 ms). */
  debounceMs?: number;
  /** Without a working `nft monitor`: poll with repair() every pollMs (default 1000). */
  pollMs?: number;
}

const GENERATION = /^# new generation \d+(?: by process (\d+))?/;

export class FlushWatcher {
  readonly #o: WatcherOptions;
  #mon: NftMonitor | undefined;
  #poll: NodeJS.Timeout | undefined;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #again = false;
  #stopped = false;
  #touched = false;
  /** Repairs run, for tests and the operator's view. */
  repairs = 0;

  constructor(o: WatcherOptions) {
    this.#o = o;
  }

  /** Start listening; falls back to polling when nft monitor cannot run. */
  async start(): Promise<void> {
    if (this.#mon || this.#poll) return;
    this.#stopped = false;
    try {
      this.#mon = await this.#o.nft.monitor(
        (line) => this.#line(line),
        (code) => {
          this.#mon = undefined;
          if (this.#stopped) return;
          this.#o.log.warn({ code }, 'nft monitor ended: polling the firewall instead');
          this.#startPolling();
        },
      );
    } catch (err) {
      this.#o.log.warn({ err }, 'nft monitor cannot run: polling the firewall instead');
      this.#startPolling();
    }
  }

  stop(): void {
    this.#stopped = true;
    this.#mon?.stop();
    this.#mon = undefined;
    if (this.#poll) clearInterval(this.#poll);
    if (this.#timer) clearTimeout(this.#timer);
    this.#poll = this.#timer = undefined;
  }

  /** How outside changes are noticed now. */
  get mode(): 'nft monitor' | 'polling' | 'off' {
    return this.#mon ? 'nft monitor' : this.#poll ? 'polling' : 'off';
  }

  /** Resolves when no repair runs or waits (tests). */
  async idle(): Promise<void> {
    while (this.#timer || this.#running) await (this.#running ?? new Promise((r) => setTimeout(r, 5)));
  }

  #startPolling(): void {
    if (this.#poll || this.#stopped) return;
    this.#poll = setInterval(() => this.#schedule(0), this.#o.pollMs ?? 1000);
    this.#poll.unref();
  }

  #line(line: string): void {
    if (!line.startsWith('#')) {
      if (/^(delete|flush|destroy) /.test(line) && (line.includes('flush ruleset') || this.#o.tables.some((t) => line.includes(` ${t} `) || line.endsWith(` ${t}`))))
        this.#touched = true;
      return;
    }
    const gen = GENERATION.exec(line);
    if (!gen) return;
    const touched = this.#touched;
    this.#touched = false;
    if (touched && !(gen[1] && this.#o.ours(Number(gen[1])))) this.#schedule(this.#o.debounceMs ?? 100);
  }

  #schedule(ms: number): void {
    if (this.#stopped) return;
    if (this.#running) {
      this.#again = true;
      return;
    }
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#running = this.#run().finally(() => {
        this.#running = undefined;
        if (this.#again) {
          this.#again = false;
          this.#schedule(this.#o.debounceMs ?? 100);
        }
      });
    }, ms);
    this.#timer.unref();
  }

  async #run(): Promise<void> {
    try {
      const r = await this.#o.repair();
      this.repairs++;
      if (r.missing.length || r.extra.length || r.reordered.length)
        this.#o.log.warn({ added: r.missing.length, removed: r.extra.length, remade: r.reordered.length, rules: r.missing.slice(0, 5) }, "berth's firewall was changed from outside: repaired");
    } catch (err) {
      this.#o.log.error({ err }, 'firewall repair after an outside change failed');
    }
  }
}
