// What several container commands share: per-container loops that report each failure and go on
// (stop, kill, rm, …), the create call with docker's pull-on-404, the wait for exit or removal,
// TTY resizing, and the y/N prompt of prune.
import { ApiError, type Api } from '../../api.js';
import type { Io } from '../../command.js';
import { familiarWithTag } from '../../opts/image-ref.js';
import type { CreateRequest } from '../../opts/container.js';

export function daemonErrorText(e: unknown): string {
  if (e instanceof ApiError) return `Error response from daemon: ${e.message}`;
  return (e as Error).message;
}

/** docker's path segment for a container/network reference (names and ids are URL-safe, but be sure). */
export function seg(ref: string): string {
  return encodeURIComponent(ref);
}

/**
 * Run `op` for every name (in parallel, as docker does), print the name of each success in order
 * and each failure on stderr; exit 1 when any failed. `ignore` lets a failure pass quietly
 * (rm -f of a missing container prints the error but does not fail).
 */
export async function forEachName(
  names: readonly string[],
  io: Io,
  op: (name: string) => Promise<unknown>,
  opts: { print?: boolean; ignore?: (e: unknown) => boolean } = {},
): Promise<number> {
  const results = await Promise.allSettled(names.map((n) => op(n)));
  let code = 0;
  results.forEach((r, i) => {
    if (r.status === 'fulfilled') {
      if (opts.print !== false) io.out(`${names[i]}\n`);
      return;
    }
    io.err(`${daemonErrorText(r.reason)}\n`);
    if (!opts.ignore?.(r.reason)) code = 1;
  });
  return code;
}

/** POST /images/create?fromImage=…: the one place a run/create pulls (with the stored
 *  credentials; progress drawn on stderr as `berth pull` draws it). Loaded on demand. */
export async function pullImage(api: Api, image: string, io: Io, quiet: boolean): Promise<void> {
  const { pull } = await import('../image/pull.js');
  await pull(api, io, image, { quiet, write: io.err });
}

function isNoSuchImage(e: unknown): boolean {
  return e instanceof ApiError && e.status === 404 && /no such image/i.test(e.message);
}

/**
 * POST /containers/create; when the image is missing and --pull=missing, say so, pull it, and try
 * once more (docker's flow). Prints the daemon's warnings. Resolves with the container id.
 */
export async function createContainer(
  api: Api,
  req: CreateRequest,
  io: Io,
  opts: { pull: 'missing' | 'always' | 'never'; quiet: boolean },
): Promise<string> {
  const image = req.body.Image;
  const post = () =>
    api.call<{ Id: string; Warnings?: string[] | null }>('POST', '/containers/create', {
      query: { name: req.name },
      body: req.body,
    });
  if (opts.pull === 'always') await pullImage(api, image, io, opts.quiet);
  let res;
  try {
    res = await post();
  } catch (e) {
    if (!isNoSuchImage(e) || opts.pull !== 'missing') throw e;
    if (!opts.quiet) io.err(`Unable to find image '${familiarWithTag(image)}' locally\n`);
    try {
      await pullImage(api, image, io, opts.quiet);
    } catch (pullErr) {
      // No pull endpoint on this daemon (yet; docker's "page not found"): the missing image is the error to report.
      if (pullErr instanceof ApiError && pullErr.status === 404 && /^page not found/.test(pullErr.message)) throw e;
      throw pullErr;
    }
    res = await post();
  }
  for (const w of res.body.Warnings ?? []) io.err(`WARNING: ${w}\n`);
  return res.body.Id;
}

export interface WaitResult {
  StatusCode: number;
  Error?: { Message?: string } | null;
}

export interface Waiter {
  /** The exit code; 125 when the wait itself failed (as docker). */
  status: Promise<number>;
  /** Hang up: the daemon forgets the wait; `status` then never reports. */
  abandon(): void;
}

/**
 * POST /containers/{id}/wait?condition=next-exit (removed, with --rm), sent before start as docker
 * does. Resolves once the daemon has answered the headers — the wait is registered then, so even a
 * container that exits at once is seen — with the exit code still to come.
 */
export async function waitExitOrRemoved(api: Api, id: string, autoRemove: boolean, io: Io): Promise<Waiter> {
  let res: Awaited<ReturnType<Api['stream']>>;
  try {
    res = await api.stream('POST', `/containers/${seg(id)}/wait`, { query: { condition: autoRemove ? 'removed' : 'next-exit' } });
  } catch (e) {
    io.err(`error waiting for container: ${(e as Error).message}\n`);
    return { status: Promise.resolve(125), abandon() {} };
  }
  let abandoned = false;
  const status = (async () => {
    let text = '';
    for await (const c of res) text += c.toString();
    const body = JSON.parse(text) as WaitResult;
    if (body.Error?.Message) {
      io.err(`Error waiting for container: ${body.Error.Message}\n`);
      return 125;
    }
    return body.StatusCode;
  })().catch((e: unknown) => {
    if (!abandoned) io.err(`error waiting for container: ${(e as Error).message}\n`);
    return 125;
  });
  return {
    status,
    abandon() {
      abandoned = true;
      res.destroy();
    },
  };
}

/** Keep the container's (or exec's) TTY the size of ours: once now, then on every resize. */
export function monitorTtySize(api: Api, io: Io, id: string, isExec: boolean): () => void {
  const term = io.terminal;
  if (!term) return () => {};
  const path = isExec ? `/exec/${seg(id)}/resize` : `/containers/${seg(id)}/resize`;
  const resize = () => {
    const { rows, cols } = term.size();
    if (!rows && !cols) return;
    api.call('POST', path, { query: { h: rows, w: cols } }).catch(() => {});
  };
  resize();
  return term.onResize(resize);
}

/** docker's prompt: "<message> [y/N] "; only y or Y confirms. */
export async function confirm(io: Io, message: string): Promise<boolean> {
  io.out(`${message} [y/N] `);
  const stdin = io.stdin;
  const answer = await new Promise<string>((resolve) => {
    let buf = '';
    const onData = (c: Buffer | string) => {
      buf += c.toString();
      const nl = buf.indexOf('\n');
      if (nl >= 0) finish(buf.slice(0, nl));
    };
    const finish = (s: string) => {
      stdin.removeListener('data', onData);
      stdin.removeListener('end', onEnd);
      stdin.pause();
      resolve(s);
    };
    const onEnd = () => finish(buf);
    stdin.on('data', onData);
    stdin.on('end', onEnd);
    stdin.resume();
  });
  return answer.trim().toLowerCase() === 'y';
}
