// docker diff and docker commit. The storage driver lists a container's changes against its
// image's layers (image_changes) and writes them as a layer tar (image_diff_tar); commit stores that
// tar as `import` stores one (a blob in the content store, then image_unpack) and records an image
// of the container's image's layers + it, its config the container's merged with `--change` lines.
// berth does not pause a running container while it commits (dockerd does by default): the layer
// is whatever the files are while they are read; `pause` is accepted and ignored.
import type { Change } from '../../drivers/handlers.js';
import { invalidParameter } from '../../drivers/errors.js';
import type { Daemon } from '../daemon.js';
import type { ContainerConfig } from '../containers/types.js';
import { VERSION } from '../api/app.js';
import { hexOf } from './blobs.js';
import { applyChanges } from './changes.js';
import { familiarString, parseReference, withDefaultTag, withTag } from './reference.js';
import type { ConfigBlob, ImageConfig, ImageRecord } from './types.js';

/** GET /containers/{id}/changes: Docker's [{Path, Kind}]. */
export async function containerChanges(d: Daemon, ref: string): Promise<{ Path: string; Kind: Change['kind'] }[]> {
  const c = d.containers.get(ref);
  const img = d.images.resolve(c.imageId);
  const list = await d.engine.run('image_changes', d.config.storageDriver, { containerId: c.id, layers: img.layers });
  return list.map((x) => ({ Path: x.path, Kind: x.kind }));
}

export interface CommitOptions {
  container: string;
  repo?: string | undefined;
  tag?: string | undefined;
  comment?: string | undefined;
  author?: string | undefined;
  /** Dockerfile instructions (`--change`). */
  changes?: string[] | undefined;
  /** The request body: a container Config to start from instead of the container's (dockerd). */
  config?: unknown;
}

/** The tag a commit gets: the repo (which may carry a tag) with `tag`; undefined without a repo. */
export function commitTag(repo: string | undefined, tag: string | undefined): string | undefined {
  if (!repo) return undefined;
  let r = parseReference(repo);
  if (r.digest) throw invalidParameter('refusing to create a tag with a digest reference');
  r = tag ? withTag(r, tag) : withDefaultTag(r);
  return familiarString(r);
}

const strs = (v: unknown): v is string[] => Array.isArray(v) && v.every((x) => typeof x === 'string');
const obj = (v: unknown): v is Record<string, unknown> => !!v && typeof v === 'object' && !Array.isArray(v);

/** The image config fields of a container Config (the container's, or a request body's: checked). */
export function imageConfigOf(c: Partial<ContainerConfig> | Record<string, unknown>): ImageConfig {
  const o = c as Record<string, unknown>;
  const out: ImageConfig = {};
  const bad = (k: string) => invalidParameter(`invalid commit config: ${k} has the wrong type`);
  for (const k of ['Env', 'Cmd', 'Entrypoint'] as const) {
    const v = o[k];
    if (v === undefined || v === null) continue;
    if (!strs(v)) throw bad(k);
    out[k] = [...v];
  }
  for (const k of ['WorkingDir', 'User', 'StopSignal'] as const) {
    const v = o[k];
    if (v === undefined || v === null || v === '') continue;
    if (typeof v !== 'string') throw bad(k);
    out[k] = v;
  }
  for (const k of ['ExposedPorts', 'Volumes'] as const) {
    const v = o[k];
    if (v === undefined || v === null) continue;
    if (!obj(v)) throw bad(k);
    if (Object.keys(v).length) out[k] = Object.fromEntries(Object.keys(v).map((p) => [p, {}]));
  }
  if (o.Labels !== undefined && o.Labels !== null) {
    if (!obj(o.Labels) || !Object.values(o.Labels).every((x) => typeof x === 'string')) throw bad('Labels');
    if (Object.keys(o.Labels).length) out.Labels = { ...(o.Labels as Record<string, string>) };
  }
  return out;
}

/** dockerd's commit config: the body's Config (or the container's), the `changes` applied, then
 *  what it leaves empty filled from the container's (merge: Env and Labels and ports by key; Cmd
 *  and Entrypoint only when it has no Entrypoint). An ENTRYPOINT change drops the Cmd unless a CMD
 *  change comes before it (as the builder does). */
export function commitConfig(container: ImageConfig, body: unknown, changes: readonly string[]): ImageConfig {
  if (body !== undefined && body !== null && !obj(body)) throw invalidParameter('invalid commit config: the body must be a JSON object');
  const start = obj(body) && Object.keys(body).length ? imageConfigOf(body) : structuredClone(container);
  const u = applyChanges(start, changes);
  let cmdSet = false;
  for (const line of changes) {
    const instr = line.trim().split(/\s/, 1)[0]!.toUpperCase();
    if (instr === 'CMD') cmdSet = true;
    if (instr === 'ENTRYPOINT' && !cmdSet) delete u.Cmd;
  }
  const i = container;
  if (!u.User && i.User) u.User = i.User;
  if (i.ExposedPorts) u.ExposedPorts = { ...i.ExposedPorts, ...(u.ExposedPorts ?? {}) };
  if (i.Env?.length) {
    const env = [...(u.Env ?? [])];
    const keys = new Set(env.map((e) => e.split('=')[0]));
    for (const e of i.Env) if (!keys.has(e.split('=')[0])) env.push(e);
    u.Env = env;
  }
  if (i.Labels) u.Labels = { ...i.Labels, ...(u.Labels ?? {}) };
  if (!u.Entrypoint?.length) {
    if (!u.Cmd?.length && i.Cmd) u.Cmd = [...i.Cmd];
    if (u.Entrypoint === undefined && i.Entrypoint) u.Entrypoint = [...i.Entrypoint];
  }
  if (!u.WorkingDir && i.WorkingDir) u.WorkingDir = i.WorkingDir;
  if (i.Volumes) u.Volumes = { ...i.Volumes, ...(u.Volumes ?? {}) };
  if (!u.StopSignal && i.StopSignal) u.StopSignal = i.StopSignal;
  return u;
}

type HistoryEntry = NonNullable<ConfigBlob['history']>[number] & { author?: string };

/** POST /commit: the new image's id ("sha256:…"). */
export async function commitContainer(d: Daemon, o: CommitOptions): Promise<string> {
  // everything the request says is checked before the first byte is stored
  const c = d.containers.get(o.container);
  const tag = commitTag(o.repo, o.tag);
  const config = commitConfig(imageConfigOf(c.config), o.config, o.changes ?? []);
  const base: ImageRecord = d.images.resolve(c.imageId);
  const driver = d.config.storageDriver;
  const blobs = d.images.blobs;
  await d.images.ready();
  return d.engine.job('container_commit', async (job) => {
    const tar = await d.engine.run('image_diff_tar', driver, { containerId: c.id, layers: base.layers }, job);
    const layer = await blobs.write(tar);
    if (layer.created) job.undo.push('delete layer blob', () => blobs.delete(layer.digest));
    const { size } = await d.engine.run('image_unpack', driver, { layer: { diffId: layer.digest, path: blobs.path(layer.digest), compression: 'none' } }, job);
    const baseBlob = await d.images.configBlob(base);
    const created = new Date().toISOString();
    const entry: HistoryEntry = { created, created_by: [c.path, ...c.args].join(' ') };
    if (o.author) entry.author = o.author;
    if (o.comment) entry.comment = o.comment;
    const blob: ConfigBlob & { container?: string } = {
      architecture: baseBlob.architecture ?? base.architecture,
      ...(baseBlob.variant ? { variant: baseBlob.variant } : {}),
      ...(o.author ? { author: o.author } : {}),
      ...(o.comment ? { comment: o.comment } : {}),
      config,
      container: c.id,
      created,
      docker_version: VERSION,
      history: [...(baseBlob.history ?? []), entry],
      os: baseBlob.os ?? base.os,
      rootfs: { type: 'layers', diff_ids: [...base.layers, layer.digest] },
    };
    const cfg = await blobs.writeBuffer(JSON.stringify(blob));
    if (cfg.created) job.undo.push('delete config blob', () => blobs.delete(cfg.digest));
    const rec: ImageRecord = {
      id: hexOf(cfg.digest),
      repoTags: [],
      repoDigests: [],
      created,
      size: base.size + size,
      architecture: blob.architecture!,
      os: blob.os!,
      config,
      layers: [...base.layers, layer.digest],
      ...(o.comment ? { comment: o.comment } : {}),
    };
    const saved = await d.images.addImage(rec, tag ? [tag] : []);
    d.events.publish('container', 'commit', c.id, {
      ...c.config.Labels,
      comment: o.comment ?? '',
      imageID: `sha256:${saved.id}`,
      imageRef: tag ?? `sha256:${saved.id}`,
      image: c.image,
      name: c.name,
    });
    return `sha256:${saved.id}`;
  });
}
