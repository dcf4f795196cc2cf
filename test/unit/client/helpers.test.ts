// The pure pieces under the commands: frame demuxing, detach keys, the hijack pump, time and
// env parsing, image references, docker's renderers.
import { describe, expect, it } from 'vitest';
import { PassThrough } from 'node:stream';
import { EscapeScanner, FrameDemuxer, frame, parseDetachKeys, pumpHijacked } from '../../../client/attach.js';
import { getTimestamp, parseGoDuration } from '../../../client/opts/time.js';
import { parseKeyValueFile, resolveEnv } from '../../../client/opts/kv.js';
import { familiarWithTag, pullQuery } from '../../../client/opts/image-ref.js';
import {
  displayablePorts,
  ellipsis,
  goQuote,
  humanDuration,
  humanSize,
  naturalCompare,
  tabwrite,
  truncateId,
} from '../../../client/commands/container/render.js';
import { goTimeFromRfc3339 } from '../../../client/commands/network/ls.js';
import { FakeConn } from './fake.js';

describe('FrameDemuxer', () => {
  it('yields whole frames whatever the chunking, holding partial ones back', () => {
    const got: [number, string][] = [];
    const d = new FrameDemuxer((t, b) => got.push([t, b.toString()]));
    const all = Buffer.concat([frame(1, 'abc'), frame(2, ''), frame(2, 'de'), frame(1, 'f')]);
    for (let i = 0; i < all.length; i++) d.push(all.subarray(i, i + 1));
    expect(got).toEqual([
      [1, 'abc'],
      [2, ''],
      [2, 'de'],
      [1, 'f'],
    ]);
    expect(d.pending).toBe(0);
    d.push(frame(1, 'xyz').subarray(0, 9));
    expect(d.pending).toBe(9);
  });

  it('refuses a stream that is not multiplexed', () => {
    const d = new FrameDemuxer(() => {});
    expect(() => d.push(Buffer.from('hello world'))).toThrow('Unrecognized input header: 104');
  });
});

describe('detach keys', () => {
  it('parses docker\'s syntax', () => {
    expect([...parseDetachKeys('ctrl-p,ctrl-q')]).toEqual([0x10, 0x11]);
    expect([...parseDetachKeys('a,ctrl-@,ctrl-[')]).toEqual([0x61, 0x00, 0x1b]);
    expect(() => parseDetachKeys('ctrl-pp')).toThrow("Unknown character: 'ctrl-pp'");
  });

  it('finds the sequence across chunks and forwards what is not part of it', () => {
    const s = new EscapeScanner(Buffer.from([0x10, 0x11]));
    expect(s.push(Buffer.from([0x61, 0x10]))).toEqual({ forward: Buffer.from([0x61]), detached: false });
    expect(s.push(Buffer.from([0x62]))).toEqual({ forward: Buffer.from([0x10, 0x62]), detached: false });
    expect(s.push(Buffer.from([0x10]))).toEqual({ forward: Buffer.alloc(0), detached: false });
    expect(s.push(Buffer.from([0x11, 0x63]))).toEqual({ forward: Buffer.alloc(0), detached: true });
  });
});

describe('pumpHijacked', () => {
  it('ends when the output ends, routing stream 3 as the daemon error', async () => {
    const conn = new FakeConn([frame(1, 'o'), frame(3, 'container died')]);
    let out = '';
    const p = pumpHijacked({ socket: conn, head: Buffer.alloc(0), tty: false }, { out: (s) => (out += s), err: () => {} });
    expect(await p.done).toEqual({ detached: false, error: 'container died' });
    expect(out).toBe('o');
  });

  it('reads bytes the daemon sent along with the 101 (head) first', async () => {
    const conn = new FakeConn([frame(1, 'b')]);
    let out = '';
    const p = pumpHijacked({ socket: conn, head: frame(1, 'a'), tty: false }, { out: (s) => (out += s) });
    await p.done;
    expect(out).toBe('ab');
  });

  it('with only stdin attached, ends when the input ends', async () => {
    const gate = new Promise<void>(() => {}); // the daemon never ends the stream
    const conn = new FakeConn([], gate);
    const stdin = new PassThrough();
    const p = pumpHijacked({ socket: conn, head: Buffer.alloc(0), tty: false }, { stdin });
    stdin.end('x');
    expect(await p.done).toEqual({ detached: false });
    expect(conn.input).toBe('x');
  });
});

describe('time values', () => {
  it('reads Go durations', () => {
    expect(parseGoDuration('10m')).toBe(600e9);
    expect(parseGoDuration('1h30m')).toBe(5400e9);
    expect(parseGoDuration('1.5s')).toBe(1.5e9);
    expect(parseGoDuration('300ms')).toBe(300e6);
    expect(parseGoDuration('-2h')).toBe(-7200e9);
    expect(parseGoDuration('0')).toBe(0);
    expect(parseGoDuration('10')).toBeUndefined();
    expect(parseGoDuration('m')).toBeUndefined();
    expect(parseGoDuration('')).toBeUndefined();
  });

  it('turns --since/--until into the Unix timestamp docker sends', () => {
    const now = new Date(1_700_000_000_000);
    expect(getTimestamp('42m', now)).toBe(String(1_700_000_000 - 42 * 60));
    expect(getTimestamp('2023-11-14T22:13:20Z', now)).toBe('1700000000.000000000');
    expect(getTimestamp('2023-11-14T23:13:20.5+01:00', now)).toBe('1700000000.500000000');
    expect(getTimestamp('1700000000', now)).toBe('1700000000');
    expect(getTimestamp('1700000000.123', now)).toBe('1700000000.123');
    const local = new Date(2023, 10, 14, 22, 13, 20).getTime() / 1000;
    expect(getTimestamp('2023-11-14T22:13:20', now)).toBe(`${local}.000000000`);
    expect(() => getTimestamp('2023-13-99', now)).toThrow('failed to parse value as time or duration');
    expect(() => getTimestamp('soon', now)).toThrow('failed to parse value as time or duration: "soon"');
  });
});

describe('env and label files', () => {
  it('reads docker\'s env-file rules', () => {
    const env = (k: string) => ({ HOME: '/root' })[k];
    const text = '\uFEFFA=1\n# comment\n\n   B = x \nHOME\nMISSING\nC=\n';
    expect(parseKeyValueFile('f', 'A=1\n', env)).toEqual(['A=1']);
    expect(() => parseKeyValueFile('f', text, env)).toThrow("variable 'B ' contains whitespaces");
    expect(parseKeyValueFile('f', '\uFEFFA=1\n# c\n  B=x  \nHOME\nMISSING\nC=\n', env)).toEqual(['A=1', 'B=x  ', 'HOME=/root', 'C=']);
    expect(parseKeyValueFile('f', 'L1=a\nL2\n')).toEqual(['L1=a']);
  });

  it('-e KEY takes the value from the environment when there is one', () => {
    const env = (k: string) => ({ HOME: '/root' })[k];
    expect(resolveEnv('HOME', env)).toBe('HOME=/root');
    expect(resolveEnv('NOPE', env)).toBe('NOPE');
    expect(resolveEnv('A=', env)).toBe('A=');
    expect(() => resolveEnv('=x', env)).toThrow('invalid environment variable: =x');
  });
});

describe('image references', () => {
  it('names and pull queries as docker makes them', () => {
    expect(familiarWithTag('busybox')).toBe('busybox:latest');
    expect(familiarWithTag('docker.io/library/busybox:1.36')).toBe('busybox:1.36');
    expect(familiarWithTag('user/app')).toBe('user/app:latest');
    expect(familiarWithTag('localhost:5000/a/b:2')).toBe('localhost:5000/a/b:2');
    expect(pullQuery('busybox')).toEqual({ fromImage: 'docker.io/library/busybox', tag: 'latest' });
    expect(pullQuery('user/app:v1')).toEqual({ fromImage: 'docker.io/user/app', tag: 'v1' });
    expect(pullQuery('reg.example:5000/x@sha256:abc')).toEqual({ fromImage: 'reg.example:5000/x', tag: 'sha256:abc' });
  });
});

describe("docker's renderers", () => {
  it('humanDuration as go-units', () => {
    expect(humanDuration(500)).toBe('Less than a second');
    expect(humanDuration(1000)).toBe('1 second');
    expect(humanDuration(59_000)).toBe('59 seconds');
    expect(humanDuration(60_000)).toBe('About a minute');
    expect(humanDuration(5 * 60_000)).toBe('5 minutes');
    expect(humanDuration(60 * 60_000)).toBe('About an hour');
    expect(humanDuration(3 * 3600_000)).toBe('3 hours');
    expect(humanDuration(3 * 86400_000)).toBe('3 days');
    expect(humanDuration(20 * 86400_000)).toBe('2 weeks');
    expect(humanDuration(90 * 86400_000)).toBe('3 months');
    expect(humanDuration(800 * 86400_000)).toBe('2 years');
  });

  it('humanSize as go-units (decimal)', () => {
    expect(humanSize(0)).toBe('0B');
    expect(humanSize(999)).toBe('999B');
    expect(humanSize(1500)).toBe('1.5kB');
    expect(humanSize(12345, 3)).toBe('12.3kB');
    expect(humanSize(4_500_000, 3)).toBe('4.5MB');
  });

  it('ids, ellipsis, Go quoting', () => {
    expect(truncateId('sha256:0123456789abcdef')).toBe('0123456789ab');
    expect(ellipsis('httpd -f -p 80 -h /www', 20)).toBe('httpd -f -p 80 -h /…');
    expect(ellipsis('short', 20)).toBe('short');
    expect(goQuote('a "b"\n\t\x01\\')).toBe('"a \\"b\\"\\n\\t\\x01\\\\"');
  });

  it('PORTS: docker 28 groups equal host/container ranges, lists other mappings one by one', () => {
    expect(
      displayablePorts([
        { IP: '0.0.0.0', PrivatePort: 80, PublicPort: 8080, Type: 'tcp' },
        { IP: '::', PrivatePort: 80, PublicPort: 8080, Type: 'tcp' },
      ]),
    ).toBe('0.0.0.0:8080->80/tcp, [::]:8080->80/tcp');
    expect(
      displayablePorts([8000, 8001, 8002].map((p) => ({ IP: '0.0.0.0', PrivatePort: p, PublicPort: p, Type: 'tcp' }))),
    ).toBe('0.0.0.0:8000-8002->8000-8002/tcp');
    expect(
      displayablePorts([80, 81, 82].map((p, i) => ({ IP: '0.0.0.0', PrivatePort: p, PublicPort: 8000 + i, Type: 'tcp' }))),
    ).toBe('0.0.0.0:8000->80/tcp, 0.0.0.0:8001->81/tcp, 0.0.0.0:8002->82/tcp');
    expect(displayablePorts([{ PrivatePort: 80, Type: 'tcp' }])).toBe('80/tcp');
    expect(displayablePorts([])).toBe('');
  });

  it('natural order, digits before other characters', () => {
    const l = ['net10', 'net9', 'bridge', '80/tcp -> [::]:8080', '80/tcp -> 0.0.0.0:8080', '443/tcp -> x', 'a01', 'a1'];
    expect([...l].sort(naturalCompare)).toEqual(['80/tcp -> 0.0.0.0:8080', '80/tcp -> [::]:8080', '443/tcp -> x', 'a1', 'a01', 'bridge', 'net9', 'net10']);
  });

  it('tabwriter with docker\'s settings', () => {
    expect(tabwrite(['A\tBB\tC', 'longer cell\tx\t'])).toBe('A             BB        C\nlonger cell   x         \n');
  });

  it('Go time.String() of RFC 3339 times', () => {
    expect(goTimeFromRfc3339('2026-01-02T03:04:05.120Z')).toBe('2026-01-02 03:04:05.12 +0000 UTC');
    expect(goTimeFromRfc3339('2026-01-02T03:04:05-07:00')).toBe('2026-01-02 03:04:05 -0700 -0700');
  });
});
