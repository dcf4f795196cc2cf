import { describe, expect, it } from 'vitest';
import { configMatches, MEDIA, parseManifest, parsePlatform, selectManifest, type Descriptor } from '../../../daemon/images/registry/manifest.js';
import { isBerthError } from '../../../drivers/errors.js';

const D = (c: string) => `sha256:${c.repeat(64)}`;
const j = (o: unknown) => Buffer.from(JSON.stringify(o));
const desc = (c: string, platform?: Descriptor['platform'], extra: Partial<Descriptor> = {}): Descriptor => ({
  mediaType: MEDIA.ociManifest,
  digest: D(c),
  size: 100,
  ...(platform ? { platform } : {}),
  ...extra,
});

function throwsCode(fn: () => unknown, code: string, msg: RegExp): void {
  let err: unknown;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  expect(isBerthError(err, code as never), String(err)).toBe(true);
  expect((err as Error).message).toMatch(msg);
}

describe('manifests', () => {
  const layer = { mediaType: MEDIA.dockerLayerGzip, digest: D('b'), size: 10 };
  const docker = { schemaVersion: 2, mediaType: MEDIA.dockerManifest, config: { mediaType: MEDIA.dockerConfig, digest: D('a'), size: 5 }, layers: [layer] };

  it('reads Docker schema2 and OCI manifests, by mediaType or Content-Type', () => {
    const m = parseManifest(j(docker), undefined, 'm');
    expect(m).toEqual({ kind: 'manifest', mediaType: MEDIA.dockerManifest, config: { mediaType: MEDIA.dockerConfig, digest: D('a'), size: 5 }, layers: [layer] });
    const oci = { schemaVersion: 2, config: { mediaType: MEDIA.ociConfig, digest: D('a'), size: 5 }, layers: [{ mediaType: MEDIA.ociLayerZstd, digest: D('c'), size: 3 }, { mediaType: MEDIA.ociLayer, digest: D('d'), size: 3 }] };
    const p = parseManifest(j(oci), `${MEDIA.ociManifest}; charset=utf-8`, 'm');
    expect(p.kind).toBe('manifest');
    expect(p.mediaType).toBe(MEDIA.ociManifest);
  });

  it('reads manifest lists and OCI indexes with platforms', () => {
    const list = { schemaVersion: 2, mediaType: MEDIA.dockerList, manifests: [{ mediaType: MEDIA.dockerManifest, digest: D('1'), size: 9, platform: { os: 'linux', architecture: 'arm', variant: 'v7' } }] };
    const p = parseManifest(j(list), undefined, 'm');
    expect(p).toEqual({ kind: 'index', mediaType: MEDIA.dockerList, manifests: [{ mediaType: MEDIA.dockerManifest, digest: D('1'), size: 9, platform: { os: 'linux', architecture: 'arm', variant: 'v7' } }] });
    expect(parseManifest(j({ schemaVersion: 2, manifests: [] }), MEDIA.ociIndex, 'm').kind).toBe('index');
  });

  it.each([
    ['schema 1', { schemaVersion: 1, name: 'x' }, 'schema 1 is not supported'],
    ['a bad digest', { ...docker, layers: [{ ...layer, digest: 'sha256:xyz' }] }, 'is not a sha256 digest'],
    ['a sha512 digest', { ...docker, config: { ...docker.config, digest: `sha512:${'a'.repeat(128)}` } }, 'is not a sha256 digest'],
    ['a negative size', { ...docker, layers: [{ ...layer, size: -1 }] }, 'invalid size'],
    ['a foreign layer', { ...docker, layers: [{ ...layer, mediaType: 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip' }] }, 'foreign'],
    ['an unknown layer type', { ...docker, layers: [{ ...layer, mediaType: 'application/x-bzip2' }] }, 'unsupported media type'],
    ['no layers', { ...docker, layers: undefined }, 'without layers'],
    ['an unknown manifest type', { ...docker, mediaType: 'application/vnd.example+json' }, 'unsupported manifest media type'],
    ['schemaVersion 3', { ...docker, schemaVersion: 3 }, 'unsupported manifest schemaVersion'],
  ])('refuses %s', (_n, body, msg) => {
    throwsCode(() => parseManifest(j(body), undefined, 'manifest x'), 'invalid_parameter', new RegExp(msg));
  });

  it('refuses what is not JSON', () => {
    throwsCode(() => parseManifest(Buffer.from('<html>'), 'text/html', 'manifest x'), 'invalid_parameter', /not valid JSON/);
  });
});

describe('platforms', () => {
  it.each([
    ['linux/amd64', { os: 'linux', architecture: 'amd64' }],
    ['linux/x86_64', { os: 'linux', architecture: 'amd64' }],
    ['linux/arm64/v8', { os: 'linux', architecture: 'arm64' }],
    ['linux/aarch64', { os: 'linux', architecture: 'arm64' }],
    ['linux/arm', { os: 'linux', architecture: 'arm', variant: 'v7' }],
    ['linux/arm/v6', { os: 'linux', architecture: 'arm', variant: 'v6' }],
    ['arm64', { os: 'linux', architecture: 'arm64' }],
    ['Linux/AMD64', { os: 'linux', architecture: 'amd64' }],
  ])('parses %s', (s, want) => expect(parsePlatform(s)).toEqual(want));

  it.each(['', 'linux', 'linux/amd64/v2/x', 'linux/a md64', 'linux//amd64'])('refuses %j', (s) => {
    throwsCode(() => parsePlatform(s), 'invalid_parameter', /invalid platform/);
  });

  const list = [
    desc('0', { os: 'linux', architecture: 'amd64' }, { annotations: { 'vnd.docker.reference.type': 'attestation-manifest' } }),
    desc('1', { os: 'windows', architecture: 'amd64' }),
    desc('2', { os: 'linux', architecture: 'amd64' }),
    desc('3', { os: 'linux', architecture: 'arm', variant: 'v6' }),
    desc('4', { os: 'linux', architecture: 'arm', variant: 'v7' }),
    desc('5', { os: 'linux', architecture: 'arm64', variant: 'v8' }),
    desc('6', { os: 'linux', architecture: 'amd64' }, { mediaType: 'application/vnd.in-toto+json' }),
  ];

  it('selects the entry for the platform, skipping attestations and other media types', () => {
    expect(selectManifest(list, { os: 'linux', architecture: 'amd64' }).digest).toBe(D('2'));
    expect(selectManifest(list, parsePlatform('linux/arm64')).digest).toBe(D('5'));
    expect(selectManifest(list, parsePlatform('linux/arm/v6')).digest).toBe(D('3'));
    expect(selectManifest(list, parsePlatform('linux/arm')).digest).toBe(D('4'));
    expect(selectManifest(list, parsePlatform('windows/amd64')).digest).toBe(D('1'));
  });

  it('says docker\'s "no matching manifest" when none fits', () => {
    throwsCode(() => selectManifest(list, parsePlatform('linux/s390x')), 'not_found', /^no matching manifest for linux\/s390x in the manifest list entries$/);
    throwsCode(() => selectManifest([desc('7')], parsePlatform('linux/amd64')), 'not_found', /no matching manifest/);
  });

  it('checks an image config against a platform', () => {
    expect(configMatches({ os: 'linux', architecture: 'amd64' }, parsePlatform('linux/amd64'))).toBe(true);
    expect(configMatches({ os: 'linux', architecture: 'aarch64' }, parsePlatform('linux/arm64'))).toBe(true);
    expect(configMatches({ os: 'linux', architecture: 'amd64' }, parsePlatform('linux/arm64'))).toBe(false);
    expect(configMatches({ os: 'linux', architecture: 'arm', variant: 'v6' }, parsePlatform('linux/arm/v7'))).toBe(false);
    expect(configMatches({}, parsePlatform('linux/arm64'))).toBe(true);
  });
});
