// THE one place where an error becomes an HTTP status. Bodies are Docker's: {"message": "..."}.
import type { FastifyError } from 'fastify';
import { BerthError, type ErrorCode } from '../../drivers/errors.js';

export const statusOf: Record<ErrorCode, number> = {
  invalid_parameter: 400,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  not_modified: 304,
  unavailable: 503,
  not_implemented: 501,
  system: 500,
};

export function toHttpError(err: unknown): { status: number; message: string } {
  if (err instanceof BerthError) return { status: statusOf[err.code], message: err.message };
  const fe = err as Partial<FastifyError> & { validation?: unknown; validationContext?: string };
  if (fe && fe.validation) return { status: 400, message: `invalid ${fe.validationContext ?? 'request'}: ${fe.message}` };
  if (fe && typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) {
    switch (fe.code) {
      case 'FST_ERR_CTP_BODY_TOO_LARGE':
        return { status: 413, message: 'request body is too large' };
      case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
        return { status: 400, message: `unsupported Content-Type` };
      default:
        return { status: fe.statusCode, message: fe.message ?? 'bad request' };
    }
  }
  if (err instanceof SyntaxError) return { status: 400, message: `invalid JSON: ${err.message}` };
  return { status: 500, message: err instanceof Error ? err.message : String(err) };
}
