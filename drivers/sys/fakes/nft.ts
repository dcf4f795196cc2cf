// A fake of nft(8) for unit tests. `monitor` is modelled: the test (or the fake's own writes) emit
// lines to every monitor as `nft monitor` would print them.
import type { Nft, NftMonitor } from '../nft.js';
import { CommandError } from '../exec.js';

export class FakeNft implements Nft {
  readonly #monitors = new Set<(line: string) => void>();
  /** Scripts applied, in order. */
  readonly applied: string[] = [];
  #generation = 1;

  async apply(script: string): Promise<void> {
    this.applied.push(script);
    throw new CommandError(['nft', '-f', '-'], 1, 'fake nft: rulesets are not modelled');
  }

  async listJson<T>(): Promise<T> {
    throw new CommandError(['nft', '-j', 'list'], 1, 'fake nft: rulesets are not modelled');
  }

  async monitor(onLine: (line: string) => void): Promise<NftMonitor> {
    this.#monitors.add(onLine);
    return { stop: () => void this.#monitors.delete(onLine) };
  }

  /** What `nft monitor` prints for one transaction: its lines, then the generation line. */
  emit(lines: readonly string[], process = 'iptables', pid = 4242): void {
    const all = [...lines, `# new generation ${++this.#generation} by process ${pid} (${process})`];
    for (const m of this.#monitors) for (const l of all) m(l);
  }

  get monitors(): number {
    return this.#monitors.size;
  }
}
