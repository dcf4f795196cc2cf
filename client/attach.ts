// Streams of attach, exec start and logs: Docker's multiplexed frames (an 8-byte header — stream
// 0 stdin, 1 stdout, 2 stderr, 3 daemon error; 3 zero bytes; big-endian u32 length — then the
// bytes) without a TTY, raw bytes with one. Also the hijacked connection's pump: container output
// to the terminal, the terminal's input to the container (half-closing on EOF), and the detach
// keys (ctrl-p ctrl-q) in TTY mode.
import { StringDecoder } from 'node:string_decoder';
import type { Duplex } from 'node:stream';

export type StreamType = 0 | 1 | 2 | 3;

/** Splits a multiplexed stream into frames; a frame may span chunks. */
export class FrameDemuxer {
  private buf: Buffer = Buffer.alloc(0);

  constructor(private readonly onFrame: (stream: StreamType, data: Buffer) => void) {}

  push(chunk: Buffer): void {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    while (this.buf.length >= 8) {
      const type = this.buf[0]!;
      if (type > 3) throw new Error(`Unrecognized input header: ${type}`);
      const size = this.buf.readUInt32BE(4);
      if (this.buf.length < 8 + size) break;
      this.onFrame(type as StreamType, this.buf.subarray(8, 8 + size));
      this.buf = this.buf.subarray(8 + size);
    }
  }

  /** Bytes held back because they do not make a whole frame yet. */
  get pending(): number {
    return this.buf.length;
  }
}

/** One frame, as the daemon writes it (tests and fakes use this). */
export function frame(stream: StreamType, data: string | Buffer): Buffer {
  const body = typeof data === 'string' ? Buffer.from(data) : data;
  const h = Buffer.alloc(8);
  h[0] = stream;
  h.writeUInt32BE(body.length, 4);
  return Buffer.concat([h, body]);
}

/** A text sink fed with bytes: multi-byte characters split across chunks stay whole. */
export function textSink(write: (s: string) => void): { write(b: Buffer): void; end(): void } {
  const dec = new StringDecoder('utf8');
  return {
    write(b) {
      const s = dec.write(b);
      if (s) write(s);
    },
    end() {
      const s = dec.end();
      if (s) write(s);
    },
  };
}

/** Routes a stream's bytes to out/err: demuxed frames, or raw bytes to out when `tty`. */
export class OutputRouter {
  private readonly out: ReturnType<typeof textSink>;
  private readonly err: ReturnType<typeof textSink>;
  private readonly demux: FrameDemuxer | undefined;
  /** A message the daemon sent on stream 3 (an error in the middle of a stream). */
  daemonError: string | undefined;

  constructor(tty: boolean, out: (s: string) => void, err: (s: string) => void) {
    this.out = textSink(out);
    this.err = textSink(err);
    this.demux = tty
      ? undefined
      : new FrameDemuxer((t, data) => {
          if (t === 2) this.err.write(data);
          else if (t === 3) this.daemonError = (this.daemonError ?? '') + data.toString();
          else this.out.write(data);
        });
  }

  write(chunk: Buffer): void {
    if (this.demux) this.demux.push(chunk);
    else this.out.write(chunk);
  }

  end(): void {
    this.out.end();
    this.err.end();
  }
}

/** docker's default detach keys: ctrl-p, ctrl-q. */
export const DEFAULT_DETACH_KEYS = Buffer.from([0x10, 0x11]);

/** docker's --detach-keys syntax: "ctrl-p,ctrl-q", "a,ctrl-@". */
export function parseDetachKeys(s: string): Buffer {
  const out: number[] = [];
  for (const k of s.split(',')) {
    const key = k.trim().toLowerCase();
    if (key.length === 1) out.push(key.charCodeAt(0));
    else if (/^ctrl-[a-z@[\\\]^_]$/.test(key)) {
      const c = key[5]!;
      out.push(c >= 'a' && c <= 'z' ? c.charCodeAt(0) - 96 : c.charCodeAt(0) - 64);
    } else throw new Error(`Unknown character: '${k}'`);
  }
  return Buffer.from(out);
}

/** Finds the detach sequence in the input, holding back bytes that may start it. */
export class EscapeScanner {
  private held: number[] = [];
  constructor(private readonly keys: Buffer) {}

  /** Returns the bytes to forward, and whether the full sequence was typed. */
  push(chunk: Buffer): { forward: Buffer; detached: boolean } {
    const out: number[] = [];
    for (const b of chunk) {
      if (b === this.keys[this.held.length]) {
        this.held.push(b);
        if (this.held.length === this.keys.length) return { forward: Buffer.from(out), detached: true };
        continue;
      }
      out.push(...this.held);
      this.held = [];
      if (b === this.keys[0]) this.held.push(b);
      else out.push(b);
    }
    return { forward: Buffer.from(out), detached: false };
  }
}

export interface Hijacked {
  socket: Duplex;
  head: Buffer;
  tty: boolean;
}

export interface PumpOptions {
  /** Forward this input to the container; on its end, half-close the connection. */
  stdin?: NodeJS.ReadableStream;
  out?: (s: string) => void;
  err?: (s: string) => void;
  /** TTY only: the sequence that detaches (default ctrl-p ctrl-q). */
  detachKeys?: Buffer;
}

export interface PumpResult {
  detached: boolean;
  /** A daemon error from stream 3, or a socket error. */
  error?: string;
}

/**
 * Runs a hijacked connection until the container's output ends (or, with no output attached,
 * until the input ends), or until the detach keys are typed. Always releases stdin.
 */
export function pumpHijacked(conn: Hijacked, opts: PumpOptions): { done: Promise<PumpResult>; close(): void } {
  const { socket } = conn;
  const wantsOutput = Boolean(opts.out || opts.err);
  const router = new OutputRouter(conn.tty, opts.out ?? (() => {}), opts.err ?? opts.out ?? (() => {}));
  let settle!: (r: PumpResult) => void;
  const done = new Promise<PumpResult>((resolve) => (settle = resolve));
  let finished = false;
  const stdin = opts.stdin;
  const scanner = conn.tty && stdin ? new EscapeScanner(opts.detachKeys ?? DEFAULT_DETACH_KEYS) : undefined;

  const onInput = (chunk: Buffer | string) => {
    const b = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    if (!scanner) {
      socket.write(b);
      return;
    }
    const r = scanner.push(b);
    if (r.forward.length) socket.write(r.forward);
    if (r.detached) finish({ detached: true });
  };
  const onInputEnd = () => {
    socket.end();
    if (!wantsOutput) finish({ detached: false });
  };
  const release = () => {
    if (!stdin) return;
    stdin.removeListener('data', onInput);
    stdin.removeListener('end', onInputEnd);
    stdin.pause();
  };
  const finish = (r: PumpResult) => {
    if (finished) return;
    finished = true;
    release();
    router.end();
    if (router.daemonError && !r.error) r.error = router.daemonError;
    settle(r);
    if (r.detached) socket.destroy();
  };

  if (conn.head.length) router.write(conn.head);
  socket.on('data', (c: Buffer) => router.write(c));
  socket.on('end', () => finish({ detached: false }));
  socket.on('close', () => finish({ detached: false }));
  socket.on('error', (e: Error) => finish({ detached: false, error: e.message }));
  if (stdin) {
    stdin.on('data', onInput);
    stdin.on('end', onInputEnd);
    stdin.resume();
  } else if (!wantsOutput) {
    finish({ detached: false });
  }
  return {
    done,
    close() {
      finish({ detached: false });
      socket.destroy();
    },
  };
}
