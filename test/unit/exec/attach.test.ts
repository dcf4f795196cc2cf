// attach.ts over a fake seqpacket socket: the stream byte of conmon's packets, stdin in packets
// conmon can take, half-close on stdin's end, one onEnd, the error for a stopped container.
import { EventEmitter } from 'node:events';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { attachTo } from '../../../drivers/exec/runc/attach.js';
import type { ExecHost, Seqpacket } from '../../../drivers/exec/runc/host.js';
import { isBerthError } from '../../../drivers/errors.js';

class FakeSock extends EventEmitter {
  written: Buffer[] = [];
  ended = false;
  destroyed = false;
  write(b: Buffer) {
    this.written.push(b);
  }
  end() {
    this.ended = true;
  }
  destroy() {
    this.destroyed = true;
    this.emit('close');
  }
}

function hostWith(sock: FakeSock | Error): ExecHost {
  return {
    connectSeqpacket: async (dir: string, name: string) => {
      expect([dir, name]).toEqual(['/run/b', 'attach']);
      if (sock instanceof Error) throw sock;
      return sock as unknown as Seqpacket;
    },
  } as unknown as ExecHost;
}

describe('attachTo', () => {
  it('splits output by conmon’s stream byte, sends stdin in packets, half-closes at its end, ends once', async () => {
    const sock = new FakeSock();
    const out: [string, string][] = [];
    let ends = 0;
    const stdin = new PassThrough();
    const s = await attachTo(hostWith(sock), '/run/b', { stdin, onOutput: (st, c) => out.push([st, c.toString()]), onEnd: () => ends++ });
    sock.emit('data', Buffer.from('\x02hello'));
    sock.emit('data', Buffer.from('\x03oops'));
    sock.emit('data', Buffer.from('\x01ignored'));
    expect(out).toEqual([
      ['stdout', 'hello'],
      ['stderr', 'oops'],
    ]);
    stdin.write(Buffer.alloc(70_000, 0x61));
    await new Promise((r) => setImmediate(r));
    expect(sock.written.map((b) => b.length)).toEqual([32766, 32766, 70_000 - 2 * 32766]);
    stdin.end();
    await new Promise((r) => setImmediate(r));
    expect(sock.ended).toBe(true);
    sock.emit('end');
    await s.ended;
    sock.emit('close');
    expect(ends).toBe(1);
    expect(sock.destroyed).toBe(true);
  });

  it('close detaches: the socket goes, onEnd once, stdin is no longer read', async () => {
    const sock = new FakeSock();
    const stdin = new PassThrough();
    let ends = 0;
    const s = await attachTo(hostWith(sock), '/run/b', { stdin, onOutput: () => {}, onEnd: () => ends++ });
    s.close();
    await s.ended;
    stdin.write('late');
    expect(sock.written).toEqual([]);
    expect(ends).toBe(1);
  });

  it('a container whose conmon is gone: Docker’s 409 wording', async () => {
    const err = await attachTo(hostWith(new Error('Connection refused')), '/run/b', { onOutput: () => {} }).catch((e: unknown) => e);
    expect(isBerthError(err, 'conflict')).toBe(true);
    expect((err as Error).message).toBe('You cannot attach to a stopped container, start it first');
  });
});
