// The engine: a typed registry of named handlers, keyed by (handler, driver). Every call runs as a
// job with an id, a logger, an abort signal and an undo stack; a failed job undoes its completed
// steps newest first and rethrows the original error. Jobs are traced for operators.
import { AsyncLocalStorage } from 'node:async_hooks';
import { randomBytes } from 'node:crypto';
import type { AnyDriver, DriverKind } from '../../drivers/driver.js';
import { notFound, conflict, unavailable } from '../../drivers/errors.js';
import type { Handler, HandlerIn, HandlerName, HandlerOut, Job } from '../../drivers/handlers.js';
import type { Log } from '../../drivers/log.js';
import { UndoStack } from '../../drivers/undo.js';

export interface JobTrace {
  id: string;
  name: string;
  driver?: string;
  parent?: string;
  started: string;
  durationMs?: number;
  outcome: 'running' | 'ok' | 'error';
  error?: string;
  /** Programs the job ran (ip, iptables-restore, runc, …), by name. */
  execs: Record<string, number>;
}

interface RunningJob extends Job {
  trace: JobTrace;
  abort: AbortController;
}

const KEEP_TRACES = 500;

export class Engine {
  readonly #handlers = new Map<string, Handler<HandlerName>>();
  readonly #drivers = new Map<string, AnyDriver>();
  readonly #traces: JobTrace[] = [];
  readonly #running = new Set<RunningJob>();
  readonly #current = new AsyncLocalStorage<RunningJob>();
  readonly #log: Log;
  #accepting = true;
  #idle: (() => void) | undefined;

  constructor(log: Log) {
    this.#log = log;
  }

  install(driver: AnyDriver): void {
    const key = `${driver.kind}/${driver.name}`;
    if (this.#drivers.has(key)) throw conflict(`driver ${key} is installed already`);
    this.#drivers.set(key, driver);
    for (const [name, fn] of Object.entries(driver.handlers)) {
      this.#handlers.set(`${name}@${driver.name}`, fn as Handler<HandlerName>);
    }
  }

  /** Names of the installed drivers of a kind (for /info and `network create -d` validation). */
  drivers(kind: DriverKind): string[] {
    return [...this.#drivers.values()].filter((d) => d.kind === kind).map((d) => d.name);
  }

  driver<K extends DriverKind>(kind: K, name: string): Extract<AnyDriver, { kind: K }> | undefined {
    return this.#drivers.get(`${kind}/${name}`) as Extract<AnyDriver, { kind: K }> | undefined;
  }

  allDrivers(): AnyDriver[] {
    return [...this.#drivers.values()];
  }

  /**
   * Run handler `name` of driver `driver`. With a parent job the handler is a step of it: its undo
   * steps move onto the parent's stack when it succeeds, so a later failure of the parent unwinds
   * them too.
   */
  async run<N extends HandlerName>(name: N, driver: string, input: HandlerIn<N>, parent?: Job): Promise<HandlerOut<N>> {
    const fn = this.#handlers.get(`${name}@${driver}`) as Handler<N> | undefined;
    if (!fn) throw notFound(`driver "${driver}" has no handler ${name} (is the driver installed?)`);
    return this.job(name, (job) => fn(input, job), { driver, parent });
  }

  /** Run `fn` as a traced job with its own undo stack (a use case composed of handlers). */
  async job<T>(name: string, fn: (job: Job) => Promise<T>, opts: { driver?: string; parent?: Job } = {}): Promise<T> {
    if (!this.#accepting && !opts.parent) throw unavailable('the daemon is shutting down');
    const parent = opts.parent as RunningJob | undefined;
    const id = randomBytes(6).toString('hex');
    const trace: JobTrace = {
      id,
      name,
      ...(opts.driver ? { driver: opts.driver } : {}),
      ...(parent ? { parent: parent.id } : {}),
      started: new Date().toISOString(),
      outcome: 'running',
      execs: {},
    };
    const abort = new AbortController();
    const onParentAbort = () => abort.abort(parent?.signal.reason);
    parent?.signal.addEventListener('abort', onParentAbort, { once: true });
    const job: RunningJob = {
      id,
      name,
      log: this.#log.child({ job: id, name, ...(opts.driver ? { driver: opts.driver } : {}) }),
      signal: abort.signal,
      undo: new UndoStack(),
      trace,
      abort,
    };
    this.#push(trace);
    this.#running.add(job);
    const t0 = performance.now();
    try {
      const out = await this.#current.run(job, () => fn(job));
      if (parent) parent.undo.adopt(job.undo);
      else job.undo.commit();
      trace.outcome = 'ok';
      return out;
    } catch (err) {
      trace.outcome = 'error';
      trace.error = err instanceof Error ? err.message : String(err);
      const failures = await job.undo.unwind();
      for (const f of failures) job.log.error({ err: f.error, step: f.what }, 'undo step failed');
      throw err;
    } finally {
      trace.durationMs = Math.round((performance.now() - t0) * 100) / 100;
      parent?.signal.removeEventListener('abort', onParentAbort);
      this.#running.delete(job);
      const level = trace.outcome === 'ok' ? 'debug' : 'info';
      job.log[level](
        { ms: trace.durationMs, outcome: trace.outcome, execs: trace.execs, ...(trace.error ? { error: trace.error } : {}) },
        `${opts.driver ? `${opts.driver}.` : ''}${name}`,
      );
      if (this.#running.size === 0) this.#idle?.();
    }
  }

  /** Called for every program run (wired to sys.exec): counted on the current job and its parents. */
  recordExec(argv: readonly string[]): void {
    const prog = (argv[0] ?? '?').split('/').pop()!;
    let job = this.#current.getStore();
    const seen = new Set<string>();
    while (job && !seen.has(job.id)) {
      seen.add(job.id);
      job.trace.execs[prog] = (job.trace.execs[prog] ?? 0) + 1;
      job = this.#runningById(job.trace.parent);
    }
  }

  #runningById(id: string | undefined): RunningJob | undefined {
    if (!id) return undefined;
    for (const j of this.#running) if (j.id === id) return j;
    return undefined;
  }

  #push(t: JobTrace): void {
    this.#traces.push(t);
    if (this.#traces.length > KEEP_TRACES) this.#traces.splice(0, this.#traces.length - KEEP_TRACES);
  }

  /** Recent jobs, newest last; `topLevel` leaves out steps of other jobs. */
  recent(opts: { limit?: number; topLevel?: boolean } = {}): JobTrace[] {
    const list = opts.topLevel ? this.#traces.filter((t) => !t.parent) : this.#traces;
    return list.slice(-(opts.limit ?? 100));
  }

  get runningCount(): number {
    return this.#running.size;
  }

  /** Stop taking jobs; wait for running ones for at most `timeoutMs`, then abort them. */
  async drain(timeoutMs: number): Promise<boolean> {
    this.#accepting = false;
    if (this.#running.size === 0) return true;
    const idle = new Promise<void>((resolve) => (this.#idle = resolve));
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), timeoutMs);
    });
    const done = await Promise.race([idle.then(() => true), timedOut]);
    clearTimeout(timer);
    if (!done) for (const j of this.#running) j.abort.abort(new Error('shutdown timeout'));
    return done;
  }

  get accepting(): boolean {
    return this.#accepting;
  }
}
