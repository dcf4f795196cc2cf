// The bounded chunk queue between a pull's decompressor and a storage driver's unpack.
import { describe, expect, it } from 'vitest';
import { Channel } from '../../../daemon/images/registry/channel.js';

const chunk = (n: number, v = 1) => new Uint8Array(n).fill(v);
const tick = () => new Promise((r) => setTimeout(r, 5));

describe('Channel', () => {
  it('holds the producer back beyond its capacity and delivers everything in order', async () => {
    const ch = new Channel(100);
    expect(ch.push(chunk(60, 1))).toBeUndefined();
    const full = ch.push(chunk(60, 2));
    expect(full).toBeInstanceOf(Promise);
    let released = false;
    void full!.then(() => (released = true));
    await tick();
    expect(released).toBe(false);
    const got: number[] = [];
    const reading = (async () => {
      for await (const c of ch) got.push(c[0]!);
    })();
    await tick();
    expect(released).toBe(true);
    await ch.push(chunk(10, 3));
    ch.end();
    await reading;
    expect(got).toEqual([1, 2, 3]);
  });

  it('fail ends the consumer with the error, dropping what was queued', async () => {
    const ch = new Channel(10);
    void ch.push(chunk(50));
    ch.fail(new Error('digest mismatch'));
    await expect(
      (async () => {
        for await (const _ of ch) void _;
      })(),
    ).rejects.toThrow('digest mismatch');
  });

  it('a consumer that stops, or never reads (abandon), releases the producer', async () => {
    const ch = new Channel(10);
    const waiting = ch.push(chunk(50));
    for await (const _ of ch) break;
    await waiting;
    expect(ch.abandoned).toBe(true);
    expect(ch.push(chunk(50))).toBeUndefined();
    const never = new Channel(10);
    const blocked = never.push(chunk(50));
    never.abandon();
    await blocked;
  });
});
