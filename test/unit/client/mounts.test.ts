// -v, --mount, --tmpfs → the create body. The expected bodies were recorded from the real docker CLI
// 28.2.2 (run in /tmp/bindcap) against a recording fake daemon: fixtures/docker-28-mount-bodies.jsonl.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildCreateBody, parseContainerArgs } from '../../../client/opts/container.js';
import { csvFields, parseMountFlag, parseVolumeSpec, ramInBytes, tmpfsFlags, volumeFlags } from '../../../client/opts/mounts.js';

const FIX = join(dirname(fileURLToPath(import.meta.url)), 'fixtures');
const fixtures = readFileSync(join(FIX, 'docker-28-mount-bodies.jsonl'), 'utf8')
  .trim()
  .split('\n')
  .map((l) => JSON.parse(l) as { line: string; body: Record<string, unknown> });

describe('mount flags: the body docker 28 sends', () => {
  for (const f of fixtures) {
    it(f.line, () => {
      const argv = f.line.split(' ');
      const a = parseContainerArgs(argv.slice(1), 'create');
      const r = buildCreateBody(a, { env: () => undefined, readFile: () => '', consoleSize: [0, 0], cwd: '/tmp/bindcap' });
      // byte for byte, key order included
      expect(JSON.stringify(r.body)).toBe(JSON.stringify(f.body));
    });
  }
});

describe('-v', () => {
  it('tells binds, named volumes and anonymous volumes apart, as docker', () => {
    expect(parseVolumeSpec('/a:/b:ro')).toEqual({ source: '/a', target: '/b', type: 'bind' });
    expect(parseVolumeSpec('./a:/b')).toEqual({ source: './a', target: '/b', type: 'bind' });
    expect(parseVolumeSpec('data:/b')).toEqual({ source: 'data', target: '/b', type: 'volume' });
    expect(parseVolumeSpec('/data')).toEqual({ source: '', target: '/data', type: 'volume' });
    expect(parseVolumeSpec('/a:rel')).toEqual({ source: '/a', target: 'rel', type: 'bind' }); // the daemon refuses it
  });

  it.each([
    ['', 'invalid empty volume spec'],
    ['/a::/b', 'invalid spec: /a::/b: empty section between colons'],
    ['/a:/b:ro:', 'invalid spec: /a:/b:ro:: too many colons'],
    [':/b', 'invalid spec: :/b: empty section between colons'],
  ])('%j → %s', (v, msg) => {
    expect(() => parseVolumeSpec(v)).toThrow(msg);
    expect(() => parseContainerArgs(['-v', v, 'busybox'], 'run')).toThrow(msg);
  });

  it('sends a bind once however often it is given; a relative ./ source is made absolute', () => {
    expect(volumeFlags(['/a:/b', '/a:/b', '../x/./y:/c', '/v'], '/home/me/w')).toEqual({
      binds: ['/a:/b', '/home/me/x/y:/c'],
      volumes: { '/v': {} },
    });
  });
});

describe('--mount', () => {
  it('takes docker aliases and flags', () => {
    expect(parseMountFlag('type=bind,src=/a,destination=/b,ro')).toEqual({ Type: 'bind', Source: '/a', Target: '/b', ReadOnly: true });
    expect(parseMountFlag('type=bind,source=/a,dst=/b,readonly=false,bind-propagation=RSLAVE')).toEqual({
      Type: 'bind',
      Source: '/a',
      Target: '/b',
      BindOptions: { Propagation: 'rslave' },
    });
    expect(parseMountFlag('type=tmpfs,target=/t,tmpfs-size=64MiB')).toEqual({ Type: 'tmpfs', Target: '/t', TmpfsOptions: { SizeBytes: 64 * 2 ** 20 } });
    expect(parseMountFlag('"type=bind","src=/a,b",dst=/c')).toEqual({ Type: 'bind', Source: '/a,b', Target: '/c' });
    expect(parseMountFlag('target=/v')).toEqual({ Type: 'volume', Target: '/v' });
  });

  it.each([
    ['type=bind', 'target is required'],
    ['type=bind,target=/x,foo=bar', "unexpected key 'foo' in 'foo=bar'"],
    ['type=bind,target=/x,readonly=maybe', 'invalid value for readonly: maybe'],
    ['type=tmpfs,target=/x,bind-propagation=shared', "cannot mix 'bind-*' options with mount type 'tmpfs'"],
    ['type=bind,target=/x,tmpfs-size=1m', "cannot mix 'tmpfs-*' options with mount type 'bind'"],
    ['type=tmpfs,target=/x,tmpfs-size=lots', 'invalid value for tmpfs-size: lots'],
    ['type=tmpfs,target=/x,tmpfs-mode=888', 'invalid value for tmpfs-mode: 888'],
    ['type=bind,target=/x,bogus', "invalid field 'bogus' must be a key=value pair"],
    ['type=,target=/x', 'type is required'],
    ['type=bind,src=/a"b,target=/x', 'parse error on line 1, column 17: bare " in non-quoted-field'],
    ['"type=bind,target=/x', 'parse error on line 1, column 21: extraneous or missing " in quoted-field'],
    ['', 'EOF'],
    ['type=bind,target=/x,bind-recursive=readonly', "option 'bind-recursive=readonly' requires 'readonly' to be specified in conjunction"],
  ])('%s → %s', (v, msg) => {
    expect(() => parseMountFlag(v)).toThrow(`invalid argument ${JSON.stringify(v)} for "--mount" flag: ${msg}`);
  });

  it('reads csv as Go does', () => {
    expect(csvFields('a,"b,c",d')).toEqual(['a', 'b,c', 'd']);
    expect(csvFields('"a ""q"" b",')).toEqual(['a "q" b', '']);
    expect(() => csvFields('"open')).toThrow('extraneous or missing " in quoted-field');
  });

  it('sizes as go-units RAMInBytes', () => {
    expect(ramInBytes('1024')).toBe(1024);
    expect(ramInBytes('1k')).toBe(1024);
    expect(ramInBytes('1.5g')).toBe(1.5 * 2 ** 30);
    expect(ramInBytes('2 MB')).toBe(2 * 2 ** 20);
    expect(ramInBytes('3mib')).toBe(3 * 2 ** 20);
    expect(ramInBytes('1x')).toBeUndefined();
    expect(ramInBytes('-1m')).toBeUndefined();
    expect(ramInBytes('m')).toBeUndefined();
  });
});

describe('--tmpfs', () => {
  it('splits at the first colon; the daemon checks the rest', () => {
    expect(tmpfsFlags(['/run:size=1m,mode=1777', '/x', '/y:'])).toEqual({ '/run': 'size=1m,mode=1777', '/x': '', '/y': '' });
  });
});
