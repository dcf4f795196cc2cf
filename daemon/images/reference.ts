// Image references as Docker reads them (distribution/reference): [domain/]path[:tag][@digest].
// "busybox" is docker.io/library/busybox; records and answers use the familiar form
// ("busybox:latest", "foo/bar:1", "localhost:5000/x:y"). Pure; errors are invalid_parameter with
// Docker's wording. The registry client reuses this.
import { invalidParameter } from '../../drivers/errors.js';

export interface Reference {
  /** Registry host[:port]; "docker.io" for Docker Hub. */
  domain: string;
  /** Repository path, e.g. "library/busybox". */
  path: string;
  tag?: string;
  /** "sha256:<hex>" */
  digest?: string;
}

export const DEFAULT_DOMAIN = 'docker.io';
const LEGACY_DEFAULT_DOMAIN = 'index.docker.io';
const OFFICIAL_PREFIX = 'library/';
export const DEFAULT_TAG = 'latest';
const NAME_TOTAL_MAX = 255;

const ALNUM = '[a-z0-9]+';
const SEPARATOR = '(?:[._]|__|[-]+)';
const PATH_COMPONENT = `${ALNUM}(?:${SEPARATOR}${ALNUM})*`;
const DOMAIN_COMPONENT = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const IPV6 = '\\[(?:[a-fA-F0-9:]+)\\]';
const DOMAIN = `(?:${DOMAIN_COMPONENT}(?:\\.${DOMAIN_COMPONENT})*|${IPV6})(?::[0-9]+)?`;
const TAG = '[\\w][\\w.-]{0,127}';
const DIGEST = '[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}';
const REFERENCE_RE = new RegExp(`^((?:${DOMAIN}/)?${PATH_COMPONENT}(?:/${PATH_COMPONENT})*)(?::(${TAG}))?(?:@(${DIGEST}))?$`);
const TAG_RE = new RegExp(`^${TAG}$`);
const ANCHORED_ID = /^[a-f0-9]{64}$/;

export const FORMAT_ERROR = 'invalid reference format';

/** Parse and normalise a reference ("busybox" → docker.io/library/busybox, no tag added). */
export function parseReference(s: string): Reference {
  if (ANCHORED_ID.test(s)) throw invalidParameter(`invalid repository name (${s}), cannot specify 64-byte hexadecimal strings`);
  const { domain, remainder } = splitDomain(s);
  const nameEnd = remainder.search(/[:@]/);
  const remoteName = nameEnd < 0 ? remainder : remainder.slice(0, nameEnd);
  if (remoteName.toLowerCase() !== remoteName)
    throw invalidParameter(`${FORMAT_ERROR}: repository name (${remoteName}) must be lowercase`);
  const full = `${domain}/${remainder}`;
  const m = REFERENCE_RE.exec(full);
  if (!m || s === '') throw invalidParameter(FORMAT_ERROR);
  const name = m[1]!;
  if (name.length > NAME_TOTAL_MAX) throw invalidParameter(`repository name must not be more than ${NAME_TOTAL_MAX} characters`);
  const slash = name.indexOf('/');
  const ref: Reference = { domain: name.slice(0, slash), path: name.slice(slash + 1) };
  if (m[2] !== undefined) ref.tag = m[2];
  if (m[3] !== undefined) {
    if (!/^sha256:[0-9a-f]{64}$/.test(m[3])) throw invalidParameter(`${FORMAT_ERROR}: unsupported digest "${m[3]}"`);
    ref.digest = m[3];
  }
  return ref;
}

function splitDomain(name: string): { domain: string; remainder: string } {
  const i = name.indexOf('/');
  let domain: string;
  let remainder: string;
  const first = i < 0 ? '' : name.slice(0, i);
  if (i < 0 || (!/[.:]/.test(first) && first !== 'localhost' && first.toLowerCase() === first)) {
    domain = DEFAULT_DOMAIN;
    remainder = name;
  } else {
    domain = first;
    remainder = name.slice(i + 1);
  }
  if (domain === LEGACY_DEFAULT_DOMAIN) domain = DEFAULT_DOMAIN;
  if (domain === DEFAULT_DOMAIN && !remainder.includes('/')) remainder = OFFICIAL_PREFIX + remainder;
  return { domain, remainder };
}

/** A tag as `docker tag` accepts it. */
export function isValidTag(t: string): boolean {
  return TAG_RE.test(t);
}

export function withTag(r: Reference, tag: string): Reference {
  if (!isValidTag(tag)) throw invalidParameter(`invalid tag format`);
  return { domain: r.domain, path: r.path, tag };
}

/** Add ":latest" when there is neither a tag nor a digest. */
export function withDefaultTag(r: Reference): Reference {
  return r.tag === undefined && r.digest === undefined ? { ...r, tag: DEFAULT_TAG } : r;
}

/** "busybox", "foo/bar", "localhost:5000/x/y". */
export function familiarName(r: Reference): string {
  if (r.domain !== DEFAULT_DOMAIN) return `${r.domain}/${r.path}`;
  if (r.path.startsWith(OFFICIAL_PREFIX) && !r.path.slice(OFFICIAL_PREFIX.length).includes('/')) return r.path.slice(OFFICIAL_PREFIX.length);
  return r.path;
}

/** "busybox:latest", "x@sha256:…", "x:1@sha256:…". */
export function familiarString(r: Reference): string {
  return familiarName(r) + (r.tag !== undefined ? `:${r.tag}` : '') + (r.digest !== undefined ? `@${r.digest}` : '');
}

/** "docker.io/library/busybox:latest": the fully qualified form (OCI annotations). */
export function fullString(r: Reference): string {
  return `${r.domain}/${r.path}` + (r.tag !== undefined ? `:${r.tag}` : '') + (r.digest !== undefined ? `@${r.digest}` : '');
}

/** Normalised familiar "name:tag" of a string, for tags to store ("busybox" → "busybox:latest"). */
export function normalizeTagged(s: string): string {
  const r = withDefaultTag(parseReference(s));
  if (r.digest !== undefined && r.tag === undefined) throw invalidParameter(`${FORMAT_ERROR}: a digest is not a tag`);
  return familiarString({ domain: r.domain, path: r.path, tag: r.tag! });
}
