// API versions: every path is served both bare and under /v1.24 … /v1.51. A newer version gets 400
// with Docker's wording; so does an older one.

export const API_VERSION = '1.51';
export const MIN_API_VERSION = '1.24';

const PREFIX = /^\/v(\d+)\.(\d+)(?=\/|$)/;

/** Strip the version prefix; returns the bare path and the version asked for (if any). */
export function splitVersion(url: string): { url: string; version?: string } {
  const m = PREFIX.exec(url);
  if (!m) return { url };
  const rest = url.slice(m[0].length);
  return { url: rest === '' || rest.startsWith('?') ? `/${rest}` : rest, version: `${Number(m[1])}.${Number(m[2])}` };
}

export function compareVersions(a: string, b: string): number {
  const [amaj = 0, amin = 0] = a.split('.').map(Number);
  const [bmaj = 0, bmin = 0] = b.split('.').map(Number);
  return amaj - bmaj || amin - bmin;
}

/** undefined if served; else Docker's message. */
export function versionError(v: string): string | undefined {
  if (compareVersions(v, API_VERSION) > 0) return `client version ${v} is too new. Maximum supported API version is ${API_VERSION}`;
  if (compareVersions(v, MIN_API_VERSION) < 0)
    return `client version ${v} is too old. Minimum supported API version is ${MIN_API_VERSION}, please upgrade your client to a newer version`;
  return undefined;
}
