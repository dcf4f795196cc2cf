// Image references as docker's CLI reads them for a pull: "busybox" is docker.io/library/busybox
// with tag latest; "localhost:5000/x:1" keeps its registry. Pure; no validation beyond the shape.

export interface ImageRef {
  /** Fully qualified repository: docker.io/library/busybox, localhost:5000/foo/bar. */
  repository: string;
  tag?: string;
  digest?: string;
}

export function parseImageRef(ref: string): ImageRef {
  let rest = ref;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
  }
  let tag: string | undefined;
  const colon = rest.lastIndexOf(':');
  if (colon > rest.lastIndexOf('/')) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
  }
  const slash = rest.indexOf('/');
  const first = slash >= 0 ? rest.slice(0, slash) : '';
  let repository: string;
  if (slash >= 0 && (first.includes('.') || first.includes(':') || first === 'localhost')) repository = rest;
  else if (slash >= 0) repository = `docker.io/${rest}`;
  else repository = `docker.io/library/${rest}`;
  return { repository, ...(tag !== undefined ? { tag } : {}), ...(digest !== undefined ? { digest } : {}) };
}

/** docker's FamiliarString(TagNameOnly(ref)): "busybox:latest", "localhost:5000/foo:1". */
export function familiarWithTag(ref: string): string {
  const r = parseImageRef(ref);
  const name = r.repository.replace(/^docker\.io\/(library\/)?/, '');
  if (r.digest) return `${name}${r.tag ? `:${r.tag}` : ''}@${r.digest}`;
  return `${name}:${r.tag ?? 'latest'}`;
}

/** The query of POST /images/create for a pull of `ref`. */
export function pullQuery(ref: string): { fromImage: string; tag: string } {
  const r = parseImageRef(ref);
  return { fromImage: r.repository, tag: r.digest ?? r.tag ?? 'latest' };
}
