/**
 * Microsoft Graph over Liaison's own HTTP transport (undici; TLS verified against the system store and the
 * profile's CAs, `--resolve` honoured, bodies bounded, every call timed out), for one profile's app.
 *
 * - Every request carries the app's bearer token (GraphTokens: cached, renewed before expiry) and
 *   `Prefer: IdType="ImmutableId"`, so the ids Liaison stores survive moves between folders.
 * - At most MAILBOX_CONCURRENCY (4) requests are in flight per mailbox, as Exchange Online allows an app per
 *   mailbox; the others wait in arrival order. A $batch counts for as many as it holds (up to all 4).
 * - A 401 gets one new token and one retry. 429 and 503 with Retry-After are waited out and retried when the wait
 *   is short (≤ maxRetryWaitMs, at most maxRetries times, within the call's deadline); a longer wait is thrown as a
 *   GraphError with its retryAfterMs, which classify() calls throttled: the engine backs the mailbox off without
 *   counting a failure.
 * - Answers are bounded: JSON at MAX_JSON_BYTES, a message's MIME ($value) at MAX_MIME_BYTES. A link the server
 *   gives (nextLink, deltaLink) is followed only on the Graph host itself: the token never goes anywhere else.
 */
import type { HttpResponse, HttpTransport } from '../ews/transport/types.js';
import { retryAfterMs } from '../ews/classify.js';
import { htmlPageOf } from '../ews/soap/answer.js';
import { GraphError, GraphProtocolError, SERVER_RESPONSE_CHARS } from './errors.js';
import type { GraphToken } from './token.js';

export const MAILBOX_CONCURRENCY = 4;
export const MAX_JSON_BYTES = 8 * 1024 * 1024;
export const MAX_MIME_BYTES = 64 * 1024 * 1024;
export const DEFAULT_MAX_RETRY_WAIT_MS = 10_000;
export const DEFAULT_MAX_RETRIES = 3;

export type GraphMethod = 'GET' | 'POST' | 'PATCH' | 'DELETE';

export interface GraphRequest {
  method: GraphMethod;
  /** A path under /v1.0 ("/users/a@b/messages"), or an absolute URL the server gave (on the Graph host). */
  path: string;
  /** The mailbox the request is for: the concurrency limit is counted per mailbox. */
  mailbox?: string;
  /** A JSON body. */
  json?: unknown;
  /** A body of another type (the base64 MIME of a draft). */
  body?: { data: string | Buffer; contentType: string };
  headers?: Record<string, string>;
  /** The largest answer accepted; default MAX_JSON_BYTES. */
  maxBytes?: number;
  /** Slots of the mailbox's limit this request takes (a $batch: one per request it carries, at most 4). */
  weight?: number;
  /** For errors: what the request was, without ids ("delta", "send", "$value"…). */
  operation: string;
  signal?: AbortSignal;
}

export interface GraphResponse {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

export interface GraphClientOptions {
  /** The Graph base URL, e.g. https://graph.microsoft.com (the profile's incomingServer). */
  graphUrl: string;
  tokens: { token(options?: { forceRefresh?: boolean }): Promise<GraphToken> };
  transport: HttpTransport;
  maxRetryWaitMs?: number;
  maxRetries?: number;
  /** How long one call may take in all, its retries and waits included; default 3 minutes. */
  deadlineMs?: number;
  /** For tests: how waits are made. */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** Told of every wait for Retry-After (metrics and tests). */
  onThrottle?: (info: { mailbox: string | null; status: number; waitMs: number; operation: string }) => void;
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** A weighted FIFO semaphore per key: at most `limit` slots taken per key. */
class KeyedSemaphore {
  private readonly used = new Map<string, number>();
  private readonly queues = new Map<string, Array<{ weight: number; start: () => void }>>();

  constructor(private readonly limit: number) {}

  inUse(key: string): number {
    return this.used.get(key) ?? 0;
  }

  async acquire(key: string, weight: number, signal?: AbortSignal): Promise<() => void> {
    const w = Math.max(1, Math.min(this.limit, Math.floor(weight)));
    const queue = this.queues.get(key) ?? [];
    if (queue.length === 0 && this.inUse(key) + w <= this.limit) return this.take(key, w);
    await new Promise<void>((resolve, reject) => {
      const entry = { weight: w, start: () => resolve() };
      const onAbort = () => {
        const q = this.queues.get(key);
        const index = q?.indexOf(entry) ?? -1;
        if (q && index >= 0) q.splice(index, 1);
        reject(signal!.reason);
      };
      entry.start = () => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      };
      if (signal?.aborted) return reject(signal.reason);
      signal?.addEventListener('abort', onAbort, { once: true });
      queue.push(entry);
      this.queues.set(key, queue);
    });
    return this.take(key, w, true);
  }

  private take(key: string, weight: number, already = false): () => void {
    if (!already) this.used.set(key, this.inUse(key) + weight);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = this.inUse(key) - weight;
      if (left <= 0) this.used.delete(key);
      else this.used.set(key, left);
      this.drain(key);
    };
  }

  private drain(key: string): void {
    const queue = this.queues.get(key);
    while (queue && queue.length > 0 && this.inUse(key) + queue[0]!.weight <= this.limit) {
      const next = queue.shift()!;
      this.used.set(key, this.inUse(key) + next.weight);
      next.start();
    }
    if (queue && queue.length === 0) this.queues.delete(key);
  }
}

/** Graph's error body: `{"error":{"code","message"}}`; null when the body is not one. */
export function graphErrorBody(body: Buffer | string): { code: string; message: string } | null {
  try {
    const parsed = JSON.parse(body.toString()) as { error?: { code?: unknown; message?: unknown } };
    const error = parsed?.error;
    if (!error || typeof error !== 'object' || typeof error.code !== 'string') return null;
    return { code: error.code, message: typeof error.message === 'string' ? error.message : '' };
  } catch {
    return null;
  }
}

/** A GraphError from an answer (of a request, or of one request inside a $batch). */
export function graphErrorOf(status: number, headers: Record<string, string>, body: Buffer | string, operation: string): GraphError {
  const parsed = graphErrorBody(body);
  const text = body.toString().slice(0, SERVER_RESPONSE_CHARS);
  const code = parsed?.code ?? `http.${status}`;
  const retry = retryAfterMs(headers['retry-after'] ?? headers['Retry-After']);
  return new GraphError({
    status,
    code,
    message: `Microsoft Graph answered ${operation} with HTTP ${status}${parsed ? ` ${parsed.code}: ${parsed.message}` : ''}`,
    serverResponse: text || null,
    retryAfterMs: retry,
    operation,
  });
}

export class GraphClient {
  readonly base: URL;
  private readonly limiter = new KeyedSemaphore(MAILBOX_CONCURRENCY);
  private readonly maxRetryWaitMs: number;
  private readonly maxRetries: number;
  private readonly deadlineMs: number;
  private readonly wait: (ms: number, signal?: AbortSignal) => Promise<void>;

  constructor(private readonly options: GraphClientOptions) {
    this.base = new URL(`${options.graphUrl.replace(/\/+$/, '')}/v1.0`);
    if (this.base.protocol !== 'https:') throw new Error(`The Graph URL ${options.graphUrl} is not an https URL.`);
    this.maxRetryWaitMs = options.maxRetryWaitMs ?? DEFAULT_MAX_RETRY_WAIT_MS;
    this.maxRetries = options.maxRetries ?? DEFAULT_MAX_RETRIES;
    this.deadlineMs = options.deadlineMs ?? 180_000;
    this.wait = options.sleep ?? sleep;
  }

  /** Requests of this mailbox in flight now (for tests and diagnostics). */
  inFlight(mailbox: string): number {
    return this.limiter.inUse(mailbox.toLowerCase());
  }

  /** The absolute URL of a path under /v1.0, or of a link the server gave, which must be on the Graph host. */
  url(path: string, operation: string): string {
    if (/^https?:\/\//i.test(path)) {
      let url: URL;
      try {
        url = new URL(path);
      } catch {
        throw new GraphProtocolError(operation, `the link "${path.slice(0, 200)}" is not a URL`);
      }
      if (url.origin !== this.base.origin || !url.pathname.startsWith(`${this.base.pathname}/`)) {
        throw new GraphProtocolError(operation, `the link ${url.origin}${url.pathname} is not under ${this.base.href}: it is not followed (the token goes to Graph only)`);
      }
      return url.href;
    }
    return `${this.base.href}${path.startsWith('/') ? '' : '/'}${path}`;
  }

  /** One request, retried for a new token and for short Retry-After waits; a non-2xx answer is thrown as GraphError. */
  async request(request: GraphRequest): Promise<GraphResponse> {
    const url = this.url(request.path, request.operation);
    const started = Date.now();
    const key = request.mailbox?.toLowerCase() ?? null;
    let refreshed = false;
    let retries = 0;
    for (;;) {
      const token = await this.options.tokens.token(refreshed ? { forceRefresh: true } : {});
      const release = key ? await this.limiter.acquire(key, request.weight ?? 1, request.signal) : () => undefined;
      let answer: HttpResponse;
      try {
        answer = await this.options.transport.request({
          method: request.method,
          url,
          headers: this.headers(token, request),
          ...this.bodyOf(request),
          maxResponseBytes: request.maxBytes ?? MAX_JSON_BYTES,
          ...(request.signal ? { signal: request.signal } : {}),
        });
      } finally {
        release();
      }
      if (answer.status >= 200 && answer.status < 300) return { status: answer.status, headers: answer.headers, body: answer.body };
      const error = graphErrorOf(answer.status, answer.headers, answer.body, request.operation);
      if (answer.status === 401 && !refreshed) {
        refreshed = true;
        continue;
      }
      if ((answer.status === 429 || answer.status === 503) && error.retryAfterMs !== null) {
        const waitMs = error.retryAfterMs;
        const left = this.deadlineMs - (Date.now() - started);
        if (waitMs <= this.maxRetryWaitMs && retries < this.maxRetries && waitMs < left) {
          retries += 1;
          this.options.onThrottle?.({ mailbox: key, status: answer.status, waitMs, operation: request.operation });
          await this.wait(Math.max(waitMs, 1), request.signal);
          continue;
        }
      }
      throw error;
    }
  }

  /** A request whose answer is JSON (an empty answer reads as {}). */
  async json<T>(request: GraphRequest): Promise<T> {
    const answer = await this.request(request);
    if (answer.body.length === 0) return {} as T;
    try {
      return JSON.parse(answer.body.toString('utf8')) as T;
    } catch {
      const excerpt = answer.body.subarray(0, 4 * SERVER_RESPONSE_CHARS).toString('utf8').slice(0, SERVER_RESPONSE_CHARS);
      const page = htmlPageOf(answer);
      if (page) {
        const titled = page.title ? ` (its title: "${page.title}")` : '';
        const what = page.signIn ? `an HTML page, not Microsoft Graph: a proxy's sign-in page?${titled}` : `an HTML page, not Microsoft Graph${titled}: a proxy's sign-in or error page?`;
        throw new GraphProtocolError(request.operation, `the answer (HTTP ${answer.status}) is ${what}`, excerpt, page);
      }
      throw new GraphProtocolError(request.operation, `the answer (HTTP ${answer.status}) is not JSON`, excerpt.slice(0, 300));
    }
  }

  private headers(token: GraphToken, request: GraphRequest): Record<string, string> {
    const prefer = ['IdType="ImmutableId"', ...(request.headers?.prefer ? [request.headers.prefer] : [])].join(', ');
    const { prefer: _ignored, ...rest } = request.headers ?? {};
    return {
      accept: 'application/json',
      ...rest,
      authorization: `Bearer ${token.accessToken}`,
      prefer,
      ...(request.json !== undefined ? { 'content-type': 'application/json' } : request.body ? { 'content-type': request.body.contentType } : {}),
    };
  }

  private bodyOf(request: GraphRequest): { body?: string | Buffer } {
    if (request.json !== undefined) return { body: JSON.stringify(request.json) };
    if (request.body) return { body: request.body.data };
    return request.method === 'POST' ? { body: '' } : {};
  }
}
