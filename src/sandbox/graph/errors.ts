/** Graph's error answers: `{"error": {"code", "message", "innerError": {date, request-id, client-request-id}}}`. */
import { randomUUID } from 'node:crypto';

export class GraphError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

export function errorBody(error: { code: string; message: string }, clientRequestId?: string): Record<string, unknown> {
  const requestId = randomUUID();
  return {
    error: {
      code: error.code,
      message: error.message,
      innerError: { date: new Date().toISOString().replace(/\.\d{3}Z$/, ''), 'request-id': requestId, 'client-request-id': clientRequestId ?? requestId },
    },
  };
}

export const ACCESS_DENIED = 'Access is denied. Check credentials and try again.';
export const RAOP_DENIED = 'Access to OData is disabled: [RAOP] : Blocked by tenant configured AppOnly AccessPolicy settings.';
export const SYNC_STATE_NOT_FOUND = 'The sync state generation is not found. The sync state might have been deleted or expired. Please do a full sync.';

export const notFoundItem = () => new GraphError(404, 'ErrorItemNotFound', 'The specified object was not found in the store.');
export const badRequest = (message: string, code = 'BadRequest') => new GraphError(400, code, message);
