/**
 * The errors the Graph connector throws, each carrying what classify.ts needs to name the cause for an
 * administrator: Graph's own error code and message, Azure AD's AADSTS code, the Retry-After it asked for.
 */

/** How much of a server's answer an error keeps (the rest is noise in an alert). */
export const SERVER_RESPONSE_CHARS = 2000;

/** An answer of Microsoft Graph that is not a success: `{"error":{"code","message","innerError"}}` as Graph sends it. */
export class GraphError extends Error {
  readonly status: number;
  /** Graph's error code (ErrorAccessDenied, SyncStateNotFound…), or `http.<status>` when the body has none. */
  readonly code: string;
  /** The body as the server sent it (cut to SERVER_RESPONSE_CHARS). */
  readonly serverResponse: string | null;
  /** Retry-After in milliseconds, when the server gave one. */
  readonly retryAfterMs: number | null;
  /** The request it answered, e.g. "GET /users/{u}/mailFolders/inbox/messages/delta" (no ids, no tokens). */
  readonly operation: string;

  constructor(fields: { status: number; code: string; message: string; serverResponse: string | null; retryAfterMs: number | null; operation: string }) {
    super(fields.message);
    this.name = 'GraphError';
    this.status = fields.status;
    this.code = fields.code;
    this.serverResponse = fields.serverResponse;
    this.retryAfterMs = fields.retryAfterMs;
    this.operation = fields.operation;
  }
}

/** An answer that is not what Graph sends (not JSON, no value array, a nextLink to another host). */
export class GraphProtocolError extends Error {
  constructor(
    readonly operation: string,
    message: string,
    readonly excerpt: string | null = null,
    /** When the answer was an HTML page (a proxy's sign-in or error page): its title, and whether it asks for a password. */
    readonly htmlPage: { title: string | null; signIn: boolean } | null = null,
  ) {
    super(`${operation}: ${message}`);
    this.name = 'GraphProtocolError';
  }
}

/** The token endpoint refused (or could not be reached): `aadsts` names Azure AD's reason when it gave one. */
export class GraphTokenError extends Error {
  constructor(
    message: string,
    /** "AADSTS7000215" and the like; null when the failure was not Azure AD's answer (network, TLS). */
    readonly aadsts: string | null,
    /** The HTTP status of the token endpoint's answer, when one came. */
    readonly status: number | null,
    /** Azure AD's error and description (with its trace and correlation ids), never the secret. */
    readonly serverResponse: string | null,
    /** OAuth's error ("invalid_client", "unauthorized_client"…), when given. */
    readonly oauthError: string | null = null,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'GraphTokenError';
  }

  /** The token endpoint's Retry-After in ms, when it throttled the request (429) and gave one. */
  retryAfterMs: number | null = null;
}

/**
 * A send whose outcome is unknown: the draft's send request had left when the connection broke or timed out, so
 * Exchange Online may have sent it (and saved it in Sent Items) without the answer reaching Liaison. The engine
 * looks in Sent Items for its identifier before it sends again.
 */
export class GraphSendUncertainError extends Error {
  constructor(
    readonly mailbox: string,
    override readonly cause: Error,
    /** What left it unknown: a transport kind, `http-502`, `unreadable-answer`. */
    readonly reason: string,
  ) {
    super(`The send from ${mailbox} may or may not have happened: ${cause.message}`);
    this.name = 'GraphSendUncertainError';
  }
}
