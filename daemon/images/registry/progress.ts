// Docker's JSON progress messages, as `docker pull`/`docker push` draw them, one per line. Two
// kinds, as dockerd sends them: a message ({status, id?}: "latest: Pulling from x", "Digest: …")
// and a per-blob update ({status, id, progressDetail: {current?, total?}, progress?}: "Pulling fs
// layer", "Downloading [==>  ] 1.2MB/3.4MB"); clients keep one line per id for updates only.
// Errors are {errorDetail: {message}, error}. Byte-count updates are throttled per id. Pure; the
// bar is drawn by the CLI's own function (client/commands/image/progress.ts), so both agree.
import { progressText } from '../../../client/commands/image/progress.js';

export interface JsonMessage {
  status?: string;
  id?: string;
  progressDetail?: { current?: number; total?: number };
  /** The drawn bar, for clients that do not draw one from progressDetail. */
  progress?: string;
  aux?: Record<string, unknown>;
  error?: string;
  errorDetail?: { message: string };
}

export type ProgressSink = (m: JsonMessage) => void;

/** A message (no progressDetail): "Pulling from library/busybox", "Digest: sha256:…". */
export function message(status: string, id?: string): JsonMessage {
  return { status, ...(id !== undefined ? { id } : {}) };
}

/** An update of one blob's line, without a byte count: "Pulling fs layer", "Pushed". */
export function action(status: string, id: string): JsonMessage {
  return { status, progressDetail: {}, id };
}

export function bytes(statusText: string, id: string, current: number, total: number): JsonMessage {
  return { status: statusText, progressDetail: { current, total }, progress: bar(current, total), id };
}

export function errorMessage(message: string): JsonMessage {
  return { errorDetail: { message }, error: message };
}

/** The 12-hex id docker shows for a blob. */
export function shortId(digest: string): string {
  return digest.replace(/^sha256:/, '').slice(0, 12);
}

/** docker's JSONProgress.String() as dockerd sends it (200 columns wide): the CLI's drawing. */
export function bar(current: number, total: number): string {
  return progressText({ current, total }, 200);
}

/** Lets through one byte-count update per id per `ms` (the first and a forced one always). */
export class Throttle {
  readonly #last = new Map<string, number>();
  constructor(readonly ms = 100) {}
  due(id: string, force = false): boolean {
    const now = performance.now();
    const last = this.#last.get(id);
    if (!force && last !== undefined && now - last < this.ms) return false;
    this.#last.set(id, now);
    return true;
  }
}
