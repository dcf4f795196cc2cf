import { describe, expect, it } from 'vitest';
import { cleanMemberPath, whiteoutOf } from '../../../drivers/image/layer/paths.js';

describe('layer member paths', () => {
  it('cleans', () => {
    expect(cleanMemberPath('./a//b/./c/')).toBe('a/b/c');
    expect(cleanMemberPath('./')).toBe('');
    expect(cleanMemberPath('a..b/..c')).toBe('a..b/..c');
  });
  it.each(['../etc/passwd', 'a/../../b', 'a/..', '/etc/passwd', '//x', 'a\0b'])('refuses %j', (n) => {
    expect(() => cleanMemberPath(n)).toThrow(/outside the layer|NUL/);
  });
  it('reads whiteouts', () => {
    expect(whiteoutOf('a/.wh.b')).toEqual({ kind: 'whiteout', path: 'a/b' });
    expect(whiteoutOf('.wh.top')).toEqual({ kind: 'whiteout', path: 'top' });
    expect(whiteoutOf('a/b/.wh..wh..opq')).toEqual({ kind: 'opaque', dir: 'a/b' });
    expect(whiteoutOf('.wh..wh.plnk')).toEqual({ kind: 'meta' });
    expect(whiteoutOf('a/b.wh.c')).toBeUndefined();
    expect(() => whiteoutOf('a/.wh.')).toThrow();
  });
});
