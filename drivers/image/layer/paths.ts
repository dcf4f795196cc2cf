// Paths inside a layer: every tar member name and hardlink target is turned into a clean relative
// path here, or refused. Pure. Refused: absolute names, any ".." component, NUL bytes. The unpacker
// additionally refuses writing through a symlink (see unpack.ts), so nothing lands outside the layer.
import { invalidParameter } from '../../errors.js';

/** "./a//b/" → "a/b"; "." or "./" → "" (the layer root). Throws invalid_parameter on an escape. */
export function cleanMemberPath(name: string): string {
  if (name.includes('\0')) throw invalidParameter(`invalid tar member name ${JSON.stringify(name)}: NUL byte`);
  if (name.startsWith('/')) throw invalidParameter(`tar member ${JSON.stringify(name)} has an absolute path: refusing to write outside the layer`);
  const parts: string[] = [];
  for (const p of name.split('/')) {
    if (p === '' || p === '.') continue;
    if (p === '..') throw invalidParameter(`tar member ${JSON.stringify(name)} climbs out with "..": refusing to write outside the layer`);
    parts.push(p);
  }
  return parts.join('/');
}

export const WHITEOUT_PREFIX = '.wh.';
export const OPAQUE_MARKER = '.wh..wh..opq';
/** AUFS bookkeeping names (.wh..wh.plnk, .wh..wh.aufs): never content, skipped. */
export const WHITEOUT_META_PREFIX = '.wh..wh.';

export type WhiteoutKind = { kind: 'opaque'; dir: string } | { kind: 'whiteout'; path: string } | { kind: 'meta' } | undefined;

/** What a clean member path means as a whiteout, if it is one. */
export function whiteoutOf(rel: string): WhiteoutKind {
  const slash = rel.lastIndexOf('/');
  const dir = slash < 0 ? '' : rel.slice(0, slash);
  const base = rel.slice(slash + 1);
  if (!base.startsWith(WHITEOUT_PREFIX)) return undefined;
  if (base === OPAQUE_MARKER) return { kind: 'opaque', dir };
  if (base.startsWith(WHITEOUT_META_PREFIX)) return { kind: 'meta' };
  const name = base.slice(WHITEOUT_PREFIX.length);
  if (name === '' || name === '.' || name === '..') throw invalidParameter(`invalid whiteout ${JSON.stringify(rel)}`);
  return { kind: 'whiteout', path: dir ? `${dir}/${name}` : name };
}

/** Parent directories of a clean relative path, outermost first: "a/b/c" → ["a", "a/b"]. */
export function parentsOf(rel: string): string[] {
  const parts = rel.split('/');
  const out: string[] = [];
  for (let i = 1; i < parts.length; i++) out.push(parts.slice(0, i).join('/'));
  return out;
}
