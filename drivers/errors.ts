// Errors by kind. Every layer throws a BerthError with a code; the API maps code → HTTP status in
// ONE place (daemon/api/errors.ts) and the CLI maps status → exit code (client/exit-codes.ts).

export type ErrorCode =
  | 'invalid_parameter' // 400: the request is malformed or names an impossible thing
  | 'forbidden' //         403: allowed in general, not for this object (rm of a predefined network)
  | 'not_found' //         404: no such container / image / network
  | 'conflict' //          409: name in use, port already allocated, object in use
  | 'not_modified' //      304: start of a started container
  | 'unavailable' //       503: shutting down; swarm endpoints
  | 'not_implemented' //   501
  | 'system'; //           500: the kernel or a tool failed

export class BerthError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'BerthError';
    this.code = code;
  }
}

export const invalidParameter = (msg: string, cause?: unknown) => new BerthError('invalid_parameter', msg, { cause });
export const forbidden = (msg: string) => new BerthError('forbidden', msg);
export const notFound = (msg: string) => new BerthError('not_found', msg);
export const conflict = (msg: string, cause?: unknown) => new BerthError('conflict', msg, { cause });
export const notModified = (msg = '') => new BerthError('not_modified', msg);
export const unavailable = (msg: string) => new BerthError('unavailable', msg);
export const notImplemented = (msg: string) => new BerthError('not_implemented', msg);
export const systemError = (msg: string, cause?: unknown) => new BerthError('system', msg, { cause });

export function isBerthError(e: unknown, code?: ErrorCode): e is BerthError {
  return e instanceof BerthError && (code === undefined || e.code === code);
}

/** Adds context to an error while keeping its kind: `wrap(e, 'allocate port 8080')`. */
export function wrap(e: unknown, context: string): BerthError {
  if (e instanceof BerthError) return new BerthError(e.code, `${context}: ${e.message}`, { cause: e });
  const msg = e instanceof Error ? e.message : String(e);
  return new BerthError('system', `${context}: ${msg}`, { cause: e });
}
