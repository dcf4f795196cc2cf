// user.ts: Docker's -u forms against a rootfs's /etc/passwd and /etc/group.
import { describe, expect, it } from 'vitest';
import { needsLookup, parseUserSpec, resolveUser } from '../../../drivers/exec/runc/user.js';
import { isBerthError } from '../../../drivers/errors.js';

const passwd = [
  'root:x:0:0:root:/root:/bin/sh',
  '# a comment',
  'daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin',
  'www:x:33:33:www-data:/var/www:/bin/false',
  'broken line',
  'nobody:x:65534:65534:nobody:/nonexistent:/bin/false',
].join('\n');
const group = ['root:x:0:', 'wheel:x:10:root', 'www:x:33:', 'web:x:101:www,other', 'nogroup:x:65534:'].join('\n');
const files = { passwd, group };

describe('resolveUser', () => {
  it('"" is root with root’s home and supplementary groups (as Docker: groups=0(root),10(wheel))', () => {
    expect(resolveUser('', files)).toEqual({ uid: 0, gid: 0, additionalGids: [0, 10], home: '/root' });
  });
  it('a name: uid, primary gid, home and the groups naming it', () => {
    expect(resolveUser('www', files)).toEqual({ uid: 33, gid: 33, additionalGids: [33, 101], home: '/var/www' });
  });
  it('name:group by names', () => {
    expect(resolveUser('www:nogroup', files)).toEqual({ uid: 33, gid: 65534, additionalGids: [65534], home: '/var/www' });
  });
  it('a numeric uid found in passwd takes its gid and home', () => {
    expect(resolveUser('65534', files)).toEqual({ uid: 65534, gid: 65534, additionalGids: [65534], home: '/nonexistent' });
  });
  it('a numeric uid not in passwd is fine: gid 0, home /', () => {
    expect(resolveUser('1234', files)).toEqual({ uid: 1234, gid: 0, additionalGids: [0], home: '/' });
  });
  it('uid:gid numeric needs no file at all', () => {
    expect(needsLookup('1000:1000')).toBe(false);
    expect(needsLookup('1000')).toBe(true);
    expect(needsLookup('www')).toBe(true);
    expect(needsLookup('')).toBe(true);
    expect(resolveUser('1000:1001', {})).toEqual({ uid: 1000, gid: 1001, additionalGids: [1001], home: '/' });
    expect(resolveUser('0:0', {}).home).toBe('/root');
  });
  it('works without the files for root and numeric users', () => {
    expect(resolveUser('', {})).toEqual({ uid: 0, gid: 0, additionalGids: [0], home: '/root' });
  });
  it('an unknown name or group is an invalid parameter with Docker’s words', () => {
    const err = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        return e;
      }
      return undefined;
    };
    const e1 = err(() => resolveUser('ghost', files));
    expect(isBerthError(e1, 'invalid_parameter')).toBe(true);
    expect((e1 as Error).message).toBe('unable to find user ghost: no matching entries in passwd file');
    const e2 = err(() => resolveUser('www:ghosts', files));
    expect((e2 as Error).message).toBe('unable to find group ghosts: no matching entries in group file');
    expect((err(() => resolveUser('www', {})) as Error).message).toMatch(/unable to find user www/);
  });
  it('rejects malformed specs', () => {
    for (const bad of ['a:b:c', ':', 'a:', ':b', 'x y', '99999999999', 'a\nb']) expect(() => parseUserSpec(bad)).toThrow(/invalid|out of range/);
  });
});
