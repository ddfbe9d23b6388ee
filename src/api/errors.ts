/** Maps every error to one answer shape: { statusCode, error, message, problems? }. */
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import type { DiagnosticsContext } from '../diagnostics/runs.js';
import { ConflictError, type FieldProblem, ForbiddenError, NotFoundError, TooManyAttemptsError, UnauthorizedError, ValidationError } from '../domain/errors.js';
import { SecretKeyError } from '../store/secrets.js';
import { problemsFromAjv } from './validation.js';

const STATUS_TEXT: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  409: 'Conflict',
  413: 'Payload Too Large',
  415: 'Unsupported Media Type',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

export class HttpError extends Error {
  constructor(
    readonly statusCode: number,
    message: string,
  ) {
    super(message);
  }
}

/** The diagnostics, or a 503 that says this Liaison runs without them. */
export function diagnosticsOf(diagnostics: DiagnosticsContext | null, what: string): DiagnosticsContext {
  if (!diagnostics) throw new HttpError(503, `${what} is not available: this Liaison was started without the Exchange diagnostics`);
  return diagnostics;
}

export function send(reply: FastifyReply, statusCode: number, message: string, problems?: FieldProblem[]) {
  return reply.code(statusCode).send({
    statusCode,
    error: STATUS_TEXT[statusCode] ?? 'Error',
    message,
    ...(problems && problems.length > 0 ? { problems } : {}),
  });
}

export function errorHandler(error: FastifyError, request: FastifyRequest, reply: FastifyReply) {
  if (error.validation) {
    let problems = problemsFromAjv(error.validation as never, error.validationContext);
    // Fastify gives a missing body as null: say it is missing rather than that it is null.
    if (error.validationContext === 'body' && !hasBody(request)) problems = [{ field: '', message: 'the request body is missing: send a JSON object' }];
    const message = problems.map((p) => (p.field ? `${p.field}: ${p.message}` : p.message)).join('; ');
    return send(reply, 400, message, problems);
  }
  if (error instanceof ValidationError) return send(reply, 400, error.message, error.problems);
  if (error instanceof NotFoundError) return send(reply, 404, error.message);
  if (error instanceof ConflictError) return send(reply, 409, error.message);
  if (error instanceof ForbiddenError) return send(reply, 403, error.message);
  if (error instanceof UnauthorizedError) return send(reply, 401, error.message);
  if (error instanceof TooManyAttemptsError) return send(reply.header('Retry-After', String(error.retryAfterSeconds)), 429, error.message);
  if (error instanceof HttpError) return send(reply, error.statusCode, error.message);
  if (error.code === 'FST_ERR_CTP_INVALID_JSON_BODY' || error.code === 'FST_ERR_CTP_EMPTY_JSON_BODY') {
    return send(reply, 400, `The request body is not valid JSON: ${error.message}`);
  }
  if (error.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
    const limit = request.routeOptions.bodyLimit;
    return send(reply, 413, `The request body is too large: ${request.method} ${request.routeOptions.url ?? request.url.split('?')[0]} accepts at most ${describeBytes(limit)}`);
  }
  if (error.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') return send(reply, 415, 'Send the request body as application/json');
  if (error instanceof SecretKeyError) {
    request.log.error({ err: { message: error.message } }, 'secret could not be decrypted');
    return send(reply, 500, error.message);
  }
  const status = typeof error.statusCode === 'number' && error.statusCode >= 400 && error.statusCode < 500 ? error.statusCode : 500;
  if (status === 500) {
    request.log.error({ err: error }, 'request failed');
    return send(reply, 500, 'Liaison failed to answer this request; the server log has the details');
  }
  return send(reply, status, error.message);
}

/** "45,309,524 bytes (43.2 MiB)": the exact number to compare with, and one a person reads at a glance. */
export function describeBytes(bytes: number): string {
  const exact = `${bytes.toLocaleString('en-US')} bytes`;
  if (bytes < 1024) return exact;
  const [size, unit] = bytes < 1024 * 1024 ? [bytes / 1024, 'KiB'] : [bytes / (1024 * 1024), 'MiB'];
  return `${exact} (${Number.isInteger(size) ? size : size.toFixed(1)} ${unit})`;
}

function hasBody(request: FastifyRequest): boolean {
  const length = request.headers['content-length'];
  return request.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}
