// Image records in Docker Engine API shapes (GET /images/json, GET /images/{name}/json) and the
// list filters (reference, dangling, label, before, since). Pure.
import { invalidParameter } from '../../drivers/errors.js';
import type { ImageRecord } from './types.js';

export interface ImageSummary {
  Id: string;
  ParentId: string;
  RepoTags: string[];
  RepoDigests: string[];
  Created: number;
  Size: number;
  SharedSize: number;
  VirtualSize?: number;
  Labels: Record<string, string>;
  Containers: number;
}

export function toSummary(r: ImageRecord, apiVersion = '1.51'): ImageSummary {
  const s: ImageSummary = {
    Id: `sha256:${r.id}`,
    ParentId: '',
    RepoTags: r.repoTags,
    RepoDigests: r.repoDigests,
    Created: Math.floor(Date.parse(r.created) / 1000),
    Size: r.size,
    SharedSize: -1,
    Labels: r.config.Labels ?? {},
    Containers: -1,
  };
  if (Number(apiVersion.split('.')[1]) < 44) s.VirtualSize = r.size; // removed in API 1.44
  return s;
}

export function toInspect(r: ImageRecord, driver: string, extra: { author?: string; dockerVersion?: string; variant?: string } = {}): Record<string, unknown> {
  return {
    Id: `sha256:${r.id}`,
    RepoTags: r.repoTags,
    RepoDigests: r.repoDigests,
    Parent: '',
    Comment: r.comment ?? '',
    Created: r.created,
    DockerVersion: extra.dockerVersion ?? '',
    Author: extra.author ?? '',
    Config: {
      Hostname: '',
      Domainname: '',
      User: r.config.User ?? '',
      AttachStdin: false,
      AttachStdout: false,
      AttachStderr: false,
      ...(r.config.ExposedPorts ? { ExposedPorts: r.config.ExposedPorts } : {}),
      Tty: false,
      OpenStdin: false,
      StdinOnce: false,
      Env: r.config.Env ?? null,
      Cmd: r.config.Cmd ?? null,
      ...(r.config.Healthcheck !== undefined ? { Healthcheck: r.config.Healthcheck } : {}),
      Image: '',
      Volumes: r.config.Volumes ?? null,
      WorkingDir: r.config.WorkingDir ?? '',
      Entrypoint: r.config.Entrypoint ?? null,
      OnBuild: null,
      Labels: r.config.Labels ?? null,
      ...(r.config.StopSignal ? { StopSignal: r.config.StopSignal } : {}),
    },
    Architecture: r.architecture,
    ...(extra.variant ? { Variant: extra.variant } : {}),
    Os: r.os,
    Size: r.size,
    GraphDriver: { Name: driver, Data: null },
    RootFS: { Type: 'layers', Layers: r.layers },
    Metadata: { LastTagTime: r.lastTagTime ?? '0001-01-01T00:00:00Z' },
  };
}

/** Go's path.Match: *, ?, [set] (with ^ or ! negation and ranges), \ escapes; * and ? stop at '/'. */
export function globMatch(pattern: string, s: string): boolean {
  let re = '^';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else if (c === '\\' && i + 1 < pattern.length) re += escapeRe(pattern[++i]!);
    else if (c === '[') {
      const end = pattern.indexOf(']', i + 1);
      if (end < 0) throw invalidParameter(`invalid reference filter "${pattern}": syntax error in pattern`);
      let body = pattern.slice(i + 1, end);
      if (body.startsWith('^') || body.startsWith('!')) body = '^' + body.slice(1);
      re += `[${body.replace(/\\/g, '\\\\')}]`;
      i = end;
    } else re += escapeRe(c);
  }
  return new RegExp(re + '$').test(s);
}

function escapeRe(c: string): string {
  return c.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

/** Docker's reference filter: the pattern against "name:tag" and, without a tag in the pattern, "name". */
export function matchesReference(r: ImageRecord, pattern: string): boolean {
  for (const t of [...r.repoTags, ...r.repoDigests]) {
    if (globMatch(pattern, t)) return true;
    const name = t.replace(/[:@][^/]*$/, '');
    if (globMatch(pattern, name)) return true;
  }
  return false;
}

/** As dockerd: with reference filters, an image is listed under the names that match only
 *  (`docker images busybox` shows busybox's tags, not the other names of the same image). */
export function matchingNames(r: ImageRecord, patterns: string[] | undefined): ImageRecord {
  if (!patterns?.length) return r;
  const keep = (t: string) => patterns.some((p) => globMatch(p, t) || globMatch(p, t.replace(/[:@][^/]*$/, '')));
  return { ...r, repoTags: r.repoTags.filter(keep), repoDigests: r.repoDigests.filter(keep) };
}

export const LIST_FILTERS = ['reference', 'dangling', 'label', 'before', 'since', 'until'];

/** Filter records; `resolve` turns before/since refs into records (throws 404 as Docker). */
export function filterImages(
  list: ImageRecord[],
  filters: Record<string, string[]>,
  resolve: (ref: string) => ImageRecord,
): ImageRecord[] {
  for (const k of Object.keys(filters)) if (!LIST_FILTERS.includes(k)) throw invalidParameter(`invalid filter '${k}'`);
  let out = list;
  const dangling = filters.dangling;
  if (dangling?.length) {
    const v = dangling[0]!.toLowerCase();
    if (!['true', 'false', '1', '0'].includes(v)) throw invalidParameter(`invalid filter 'dangling=${dangling[0]}'`);
    const want = v === 'true' || v === '1';
    out = out.filter((r) => (r.repoTags.length === 0 && r.repoDigests.length === 0) === want);
  }
  if (filters.reference?.length) out = out.filter((r) => filters.reference!.some((p) => matchesReference(r, p)));
  if (filters.label?.length)
    out = out.filter((r) =>
      filters.label!.every((l) => {
        const eq = l.indexOf('=');
        const labels = r.config.Labels ?? {};
        return eq < 0 ? l in labels : labels[l.slice(0, eq)] === l.slice(eq + 1);
      }),
    );
  if (filters.before?.length) {
    const t = Date.parse(resolve(filters.before[0]!).created);
    out = out.filter((r) => Date.parse(r.created) < t);
  }
  if (filters.since?.length) {
    const t = Date.parse(resolve(filters.since[0]!).created);
    out = out.filter((r) => Date.parse(r.created) > t);
  }
  if (filters.until?.length) {
    const u = filters.until[0]!;
    const t = /^\d+(\.\d+)?$/.test(u) ? Number(u) * 1000 : Date.parse(u);
    if (Number.isNaN(t)) throw invalidParameter(`invalid filter 'until=${u}'`);
    out = out.filter((r) => Date.parse(r.created) <= t);
  }
  return out;
}
