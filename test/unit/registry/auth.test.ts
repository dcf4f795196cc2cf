import { describe, expect, it } from 'vitest';
import { basicHeader, credentialsFrom, decodeRegistryAuth, parseWwwAuthenticate, repositoryScope, tokenFromAnswer } from '../../../daemon/images/registry/auth.js';
import { isBerthError } from '../../../drivers/errors.js';

describe('WWW-Authenticate', () => {
  it('reads Docker Hub\'s Bearer challenge, with commas inside the quoted scope', () => {
    expect(parseWwwAuthenticate('Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull,push"')).toEqual([
      { scheme: 'bearer', params: { realm: 'https://auth.docker.io/token', service: 'registry.docker.io', scope: 'repository:library/busybox:pull,push' } },
    ]);
  });

  it('reads Basic, token values, spaces around "=" and "," and case-insensitive names', () => {
    expect(parseWwwAuthenticate('Basic realm="Registry Realm"')).toEqual([{ scheme: 'basic', params: { realm: 'Registry Realm' } }]);
    expect(parseWwwAuthenticate('BEARER Realm = "http://x/token" , Service=reg ,error="invalid_token"')).toEqual([
      { scheme: 'bearer', params: { realm: 'http://x/token', service: 'reg', error: 'invalid_token' } },
    ]);
  });

  it('reads several challenges in one header and across headers', () => {
    const got = parseWwwAuthenticate(['Basic realm="a", Bearer realm="https://t/token",service="s"', 'Negotiate']);
    expect(got.map((c) => c.scheme)).toEqual(['basic', 'bearer', 'negotiate']);
    expect(got[1]!.params).toEqual({ realm: 'https://t/token', service: 's' });
  });

  it('unescapes quoted-pairs', () => {
    expect(parseWwwAuthenticate('Bearer realm="a\\"b\\\\c"')[0]!.params.realm).toBe('a"b\\c');
  });

  it('keeps what it read before a malformed part and reads nothing from junk', () => {
    expect(parseWwwAuthenticate('Bearer realm="x" junk junk')).toEqual([{ scheme: 'bearer', params: { realm: 'x' } }]);
    expect(parseWwwAuthenticate('Bearer realm="unterminated')).toEqual([{ scheme: 'bearer', params: {} }]);
    expect(parseWwwAuthenticate('')).toEqual([]);
    expect(parseWwwAuthenticate(undefined)).toEqual([]);
    expect(parseWwwAuthenticate('="x"')).toEqual([]);
  });
});

describe('X-Registry-Auth', () => {
  const enc = (o: unknown, url = true) => Buffer.from(JSON.stringify(o)).toString(url ? 'base64url' : 'base64');

  it('decodes base64url and standard base64 JSON', () => {
    expect(decodeRegistryAuth(enc({ username: 'u', password: 'p?>>', serveraddress: 'localhost:5000' }))).toEqual({ username: 'u', password: 'p?>>' });
    expect(decodeRegistryAuth(enc({ username: 'u', password: 'p?>>' }, false))).toEqual({ username: 'u', password: 'p?>>' });
  });

  it('absent, empty and {} are no credentials', () => {
    expect(decodeRegistryAuth(undefined)).toBeUndefined();
    expect(decodeRegistryAuth('')).toBeUndefined();
    expect(decodeRegistryAuth(enc({}))).toBeUndefined();
    expect(decodeRegistryAuth(enc({ username: '', password: '' }))).toBeUndefined();
  });

  it('understands config.json\'s "auth" and the token fields', () => {
    expect(decodeRegistryAuth(enc({ auth: Buffer.from('alice:s3:cret').toString('base64') }))).toEqual({ username: 'alice', password: 's3:cret' });
    expect(decodeRegistryAuth(enc({ username: 'a', identitytoken: 'refresh' }))).toEqual({ username: 'a', identityToken: 'refresh' });
    expect(decodeRegistryAuth(enc({ registrytoken: 'bearer-x' }))).toEqual({ registryToken: 'bearer-x' });
  });

  it('refuses what is not base64 JSON with invalid_parameter', () => {
    for (const bad of ['!!!', enc('a string'), enc([1, 2])]) {
      let err: unknown;
      try {
        decodeRegistryAuth(bad);
      } catch (e) {
        err = e;
      }
      expect(isBerthError(err, 'invalid_parameter')).toBe(true);
    }
  });

  it('credentialsFrom takes the POST /auth body', () => {
    expect(credentialsFrom({ username: 'u', password: 'p', serveraddress: 'x', email: '' })).toEqual({ username: 'u', password: 'p' });
  });
});

describe('tokens and headers', () => {
  it('takes token or access_token, with a default lifetime', () => {
    expect(tokenFromAnswer({ token: 't', expires_in: 300 })).toEqual({ token: 't', expiresIn: 300 });
    expect(tokenFromAnswer({ access_token: 'a' })).toEqual({ token: 'a', expiresIn: 60 });
    expect(() => tokenFromAnswer({})).toThrow(/without a token/);
    expect(() => tokenFromAnswer('x')).toThrow(/without a token/);
  });

  it('makes Basic headers and scopes', () => {
    expect(basicHeader({ username: 'u', password: 'p' })).toBe(`Basic ${Buffer.from('u:p').toString('base64')}`);
    expect(basicHeader({ username: 'u' })).toBeUndefined();
    expect(repositoryScope('library/busybox', ['pull', 'push'])).toBe('repository:library/busybox:pull,push');
  });
});
