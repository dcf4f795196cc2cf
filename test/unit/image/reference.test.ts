import { describe, expect, it } from 'vitest';
import { familiarName, familiarString, fullString, normalizeTagged, parseReference, withDefaultTag } from '../../../daemon/images/reference.js';
import { isBerthError } from '../../../drivers/errors.js';
import { pullReference } from '../../../daemon/images/service.js';

describe('image references', () => {
  it.each([
    ['busybox', 'docker.io', 'library/busybox', undefined, 'busybox'],
    ['busybox:1.36', 'docker.io', 'library/busybox', '1.36', 'busybox:1.36'],
    ['library/busybox:latest', 'docker.io', 'library/busybox', 'latest', 'busybox:latest'],
    ['docker.io/library/busybox', 'docker.io', 'library/busybox', undefined, 'busybox'],
    ['index.docker.io/foo/bar:x', 'docker.io', 'foo/bar', 'x', 'foo/bar:x'],
    ['foo/bar/baz', 'docker.io', 'foo/bar/baz', undefined, 'foo/bar/baz'],
    ['localhost/x', 'localhost', 'x', undefined, 'localhost/x'],
    ['localhost:5000/a/b:v1.0-rc_1', 'localhost:5000', 'a/b', 'v1.0-rc_1', 'localhost:5000/a/b:v1.0-rc_1'],
    ['127.0.0.1:5000/x:1', '127.0.0.1:5000', 'x', '1', '127.0.0.1:5000/x:1'],
    ['Registry.Example.com/team/app', 'Registry.Example.com', 'team/app', undefined, 'Registry.Example.com/team/app'],
    ['a__b-d---e/f_g.h', 'docker.io', 'a__b-d---e/f_g.h', undefined, 'a__b-d---e/f_g.h'],
    ['[::1]:5000/x', '[::1]:5000', 'x', undefined, '[::1]:5000/x'],
  ])('parses %s', (s, domain, path, tag, familiar) => {
    const r = parseReference(s);
    expect(r.domain).toBe(domain);
    expect(r.path).toBe(path);
    expect(r.tag).toBe(tag);
    expect(familiarString(r)).toBe(familiar);
  });

  it('keeps a digest and prints the full form', () => {
    const d = 'sha256:' + 'a'.repeat(64);
    const r = parseReference(`busybox@${d}`);
    expect(r.digest).toBe(d);
    expect(fullString(withDefaultTag(r))).toBe(`docker.io/library/busybox@${d}`);
    expect(familiarName(r)).toBe('busybox');
    expect(fullString(withDefaultTag(parseReference('busybox')))).toBe('docker.io/library/busybox:latest');
  });

  it.each([
    ['', 'invalid reference format'],
    ['Busybox', 'invalid reference format: repository name (library/Busybox) must be lowercase'],
    ['foo/Bar', 'must be lowercase'],
    ['busybox:', 'invalid reference format'],
    ['busybox:-x', 'invalid reference format'],
    ['busybox:' + 'a'.repeat(129), 'invalid reference format'],
    ['-busybox', 'invalid reference format'],
    ['busy..box', 'invalid reference format'],
    ['busybox/', 'invalid reference format'],
    ['a b', 'invalid reference format'],
    ['a'.repeat(64), 'cannot specify 64-byte hexadecimal strings'],
    ['x/' + 'a'.repeat(260), 'must not be more than 255 characters'],
    ['busybox@sha256:abc', 'invalid reference format'],
  ])('refuses %j', (s, msg) => {
    let err: unknown;
    try {
      parseReference(s);
    } catch (e) {
      err = e;
    }
    expect(isBerthError(err, 'invalid_parameter')).toBe(true);
    expect((err as Error).message).toContain(msg);
  });

  it('normalises tags to store', () => {
    expect(normalizeTagged('busybox')).toBe('busybox:latest');
    expect(normalizeTagged('docker.io/library/busybox:1')).toBe('busybox:1');
    expect(normalizeTagged('localhost:5000/x')).toBe('localhost:5000/x:latest');
  });
});

describe('pull references (fromImage + tag)', () => {
  const D = `sha256:${'c'.repeat(64)}`;
  it.each([
    ['busybox', undefined, { domain: 'docker.io', path: 'library/busybox' }],
    ['busybox', '1.36', { domain: 'docker.io', path: 'library/busybox', tag: '1.36' }],
    ['busybox:1.36', undefined, { domain: 'docker.io', path: 'library/busybox', tag: '1.36' }],
    ['busybox:1.36', 'latest', { domain: 'docker.io', path: 'library/busybox', tag: 'latest' }],
    ['docker.io/library/busybox', D, { domain: 'docker.io', path: 'library/busybox', digest: D }],
    [`busybox@${D}`, undefined, { domain: 'docker.io', path: 'library/busybox', digest: D }],
    [`busybox:1@${D}`, undefined, { domain: 'docker.io', path: 'library/busybox', tag: '1', digest: D }],
    ['localhost:5000/a/b', 'v2', { domain: 'localhost:5000', path: 'a/b', tag: 'v2' }],
    ['127.0.0.1:5000/x', undefined, { domain: '127.0.0.1:5000', path: 'x' }],
    ['[::1]:5000/x', '1', { domain: '[::1]:5000', path: 'x', tag: '1' }],
    ['ghcr.io/org/tool', undefined, { domain: 'ghcr.io', path: 'org/tool' }],
    ['localhost:5000', undefined, { domain: 'docker.io', path: 'library/localhost', tag: '5000' }],
  ])('%s with tag %s', (from, tag, want) => {
    expect(pullReference(from, tag)).toEqual(want);
  });

  it.each([
    ['Busybox', undefined, 'must be lowercase'],
    ['busybox', 'sha256:abc', 'unsupported digest'],
    ['busybox', `sha512:${'a'.repeat(128)}`, 'invalid tag format'],
    ['busybox', 'a b', 'invalid tag format'],
    ['busybox', '.x', 'invalid tag format'],
    ['localhost:5000/', undefined, 'invalid reference format'],
    ['http://localhost:5000/x', undefined, 'invalid reference format'],
    [`busybox@sha512:${'a'.repeat(128)}`, undefined, 'unsupported digest'],
  ])('refuses %j with tag %j', (from, tag, msg) => {
    let err: unknown;
    try {
      pullReference(from, tag);
    } catch (e) {
      err = e;
    }
    expect(isBerthError(err, 'invalid_parameter'), String(err)).toBe(true);
    expect((err as Error).message).toContain(msg);
  });
});
