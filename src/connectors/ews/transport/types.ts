/**
 * What the EWS connector and Autodiscover need from HTTP: one request, one answer, no redirects followed, the
 * body bounded, every call timed out. The transport owns connections, TLS verification and authentication
 * (Basic per request, NTLM per connection), so that nothing above it sees a socket or a password.
 */

export type AuthMethod = 'basic' | 'ntlm';

export interface Credentials {
  /** `user@domain` (UPN), `DOMAIN\user`, or a bare name. */
  username: string;
  password: string;
  method: AuthMethod;
}

export interface HttpRequest {
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE';
  /** Absolute URL. Credentials are only ever sent to https URLs. */
  url: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
  /** null or absent: no Authorization (the unauthenticated http Autodiscover probe). */
  credentials?: Credentials | null;
  /**
   * Groups requests for the concurrency caps and NTLM connection reuse: the impersonated mailbox's address
   * (at most Maximum Concurrent Connections in flight per key).
   */
  concurrencyKey?: string;
  signal?: AbortSignal;
  /** A lower bound than the transport's maxResponseBytes for this answer (Autodiscover's are small); never higher. */
  maxResponseBytes?: number;
}

export interface HttpResponse {
  status: number;
  /** Header names lower-cased; repeated headers (WWW-Authenticate) joined with ", " in `headers`, kept apart in `headerLists`. */
  headers: Record<string, string>;
  headerLists: Record<string, string[]>;
  body: Buffer;
  /** The certificate the server presented (for diagnostics), when the connection was TLS. */
  peerCertificate?: { subject: string; issuer: string; subjectAltNames: string[]; validFrom: string; validTo: string } | undefined;
  /** Milliseconds from sending to the whole answer read. */
  elapsedMs: number;
}

/** Network-level failure: DNS, refused, reset, timeout, TLS verification, body too large. */
export type TransportErrorKind =
  | 'dns'
  | 'refused'
  | 'reset'
  | 'connect-timeout'
  | 'timeout'
  | 'tls'
  | 'too-large'
  | 'insecure-url'
  | 'aborted'
  | 'other';

export class TransportError extends Error {
  constructor(
    readonly kind: TransportErrorKind,
    message: string,
    readonly details: {
      url: string;
      host?: string;
      port?: number;
      /** For kind 'tls': why verification failed, with names and dates. */
      tls?: { code: string; issuer?: string; subject?: string; names?: string[]; validFrom?: string; validTo?: string };
      cause?: unknown;
      /** True when the request certainly never reached the server (it waited for a slot, the transport was closed). */
      notSent?: boolean;
    },
  ) {
    super(message);
    this.name = 'TransportError';
  }
}

/** A long answer read as it arrives (GetStreamingEvents): the total timeout does not apply, the caller ends it. */
export interface HttpStreamResponse {
  status: number;
  headers: Record<string, string>;
  headerLists: Record<string, string[]>;
  body: AsyncIterable<Buffer>;
  /** Ends the answer early and releases the connection. */
  cancel(): void;
}

export interface HttpTransport {
  request(request: HttpRequest): Promise<HttpResponse>;
  /** As request, but the body is read as it arrives; a non-2xx status still resolves (its body readable). */
  stream(request: HttpRequest): Promise<HttpStreamResponse>;
  close(): Promise<void>;
}

export interface TransportOptions {
  /** PEM of extra CAs to trust besides the system store (the profile's trustedCaPem). */
  trustedCaPem?: string | null;
  /** `host:port:address[:port]` overrides, as curl's --resolve. */
  resolve?: readonly string[];
  /** Connect timeout and total timeout per call, milliseconds (total at most 100 s). */
  connectTimeoutMs?: number;
  timeoutMs?: number;
  /** Largest answer body accepted, bytes. */
  maxResponseBytes?: number;
  /** Profile-wide cap of requests in flight, and the per-key cap (Maximum Concurrent Connections). */
  maxInFlight?: number;
  maxInFlightPerKey?: number;
}
