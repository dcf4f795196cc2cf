// A bounded queue of byte chunks between one producer and one consumer on the same event loop (the
// pull's decompressed stream → a storage driver's unpack). The producer awaits `push` while more
// than `capacity` bytes wait, so memory stays bounded whatever the layer's size. The consumer
// iterates; when it stops early, or the producer is told it will never read (`abandon`: the driver
// had the layer already), pushes are dropped instead of waiting for ever. `fail` ends the
// consumer's loop with an error (a digest mismatch found upstream), dropping what was queued.

export class Channel implements AsyncIterable<Uint8Array> {
  readonly #capacity: number;
  #queue: Uint8Array[] = [];
  #head = 0;
  #bytes = 0;
  #ended = false;
  #error: { e: unknown } | undefined;
  #gone = false;
  #wakeConsumer: (() => void) | undefined;
  #wakeProducer: (() => void) | undefined;

  constructor(capacity = 1 << 20) {
    this.#capacity = capacity;
  }

  /** Whether the consumer has stopped reading (pushes are dropped). */
  get abandoned(): boolean {
    return this.#gone;
  }

  /** Queue a chunk. Undefined when there is room for more; else a promise that resolves when
   *  there is (or the consumer is gone). */
  push(chunk: Uint8Array): Promise<void> | undefined {
    if (this.#gone || this.#ended || this.#error) return undefined;
    this.#queue.push(chunk);
    this.#bytes += chunk.length;
    this.#wake('consumer');
    return this.#full() ? this.#room() : undefined;
  }

  #full(): boolean {
    return this.#bytes > this.#capacity && !this.#gone && !this.#error;
  }

  async #room(): Promise<void> {
    while (this.#full()) await new Promise<void>((r) => (this.#wakeProducer = r));
  }

  /** No more chunks: the consumer's loop ends after the queued ones. */
  end(): void {
    this.#ended = true;
    this.#wake('consumer');
  }

  /** The consumer's loop throws `e` (queued chunks are dropped). */
  fail(e: unknown): void {
    this.#error ??= { e };
    this.#drop();
    this.#wake('consumer');
    this.#wake('producer');
  }

  /** The consumer will not read (any more): drop what is queued and what comes. */
  abandon(): void {
    this.#gone = true;
    this.#drop();
    this.#wake('producer');
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<Uint8Array> {
    try {
      for (;;) {
        if (this.#error) throw this.#error.e;
        if (this.#head < this.#queue.length) {
          const c = this.#queue[this.#head]!;
          this.#queue[this.#head++] = EMPTY;
          if (this.#head === this.#queue.length) {
            this.#queue = [];
            this.#head = 0;
          }
          this.#bytes -= c.length;
          if (this.#bytes <= this.#capacity) this.#wake('producer');
          yield c;
          continue;
        }
        if (this.#ended) return;
        await new Promise<void>((r) => (this.#wakeConsumer = r));
      }
    } finally {
      this.abandon();
    }
  }

  #drop(): void {
    this.#queue = [];
    this.#head = 0;
    this.#bytes = 0;
  }

  #wake(who: 'consumer' | 'producer'): void {
    const f = who === 'consumer' ? this.#wakeConsumer : this.#wakeProducer;
    if (who === 'consumer') this.#wakeConsumer = undefined;
    else this.#wakeProducer = undefined;
    f?.();
  }
}

const EMPTY = new Uint8Array(0);
