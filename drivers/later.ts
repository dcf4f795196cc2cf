// Work a driver schedules for later (a pool refill, a queued rule removal) is not part of the job
// that scheduled it. A plain setTimeout would carry that job's async context along, and the engine
// would count the later work's programs as the job's. `later` runs the callback outside every job.
import { AsyncLocalStorage } from 'node:async_hooks';

/** Taken when this module loads, before any job runs: runs a function in no job's context. */
const outsideAnyJob = AsyncLocalStorage.snapshot();

export function later(fn: () => void, ms: number): NodeJS.Timeout {
  return setTimeout(() => outsideAnyJob(fn), ms);
}
