/**
 * The HTTP transport of the EWS connector and Autodiscover, over undici.
 *
 * Each pooled connection is an undici Client with one socket and no pipelining, opened through our own connector
 * (src/net/tls.ts: --resolve overrides, TLS verified before anything is sent). Connections are pooled per origin
 * and per way of signing in: anonymous and Basic requests share one pool (Basic goes with every request); NTLM
 * authenticates a connection, so each NTLM account has its own pool, a connection is authenticated once, and a
 * new socket (the server closed the old one) is authenticated again. An anonymous request never rides on an
 * NTLM-authenticated connection.
 *
 * Redirects are never followed (a 3xx is the caller's to judge: Autodiscover's rules); credentials go only to
 * https URLs; bodies are bounded; every call has a connect and a total timeout; requests beyond the caps wait in
 * FIFO order.
 */
import { createHash } from 'node:crypto';
import { Client, type Dispatcher } from 'undici';
import { tlsServerEndPoint } from '../../../ntlm/bindings.js';
import { NtlmHandshake } from '../../../ntlm/client.js';
import { DerError, readServerToken } from '../../../ntlm/spnego.js';
import { HostOverrides, parseResolveList } from '../../../net/resolve.js';
import { offeredSchemes } from './authenticate.js';
import { type CertificateInfo, ConnectError, openConnection, TlsVerificationError, trustContext } from '../../../net/tls.js';
import {
  type Credentials,
  type HttpRequest,
  type HttpResponse,
  type HttpStreamResponse,
  type HttpTransport,
  TransportError,
  type TransportErrorKind,
  type TransportOptions,
} from './types.js';

export const DEFAULT_TIMEOUT_MS = 100_000;
export const MAX_TIMEOUT_MS = 100_000;
export const DEFAULT_CONNECT_TIMEOUT_MS = 15_000;
export const DEFAULT_MAX_RESPONSE_BYTES = 64 * 1024 * 1024;
export const DEFAULT_MAX_IN_FLIGHT = 100;
/** Maximum Concurrent Connections' default (the profile setting, as Exchange's EWSMaxConcurrency). */
export const DEFAULT_MAX_IN_FLIGHT_PER_KEY = 27;

/** How long an idle connection is kept open when the server does not say (IIS closes idle ones after 120 s). */
const KEEP_ALIVE_MS = 60_000;

// ---- concurrency caps ----

interface Waiter {
  key: string | null;
  start: () => void;
  fail: (error: unknown) => void;
}

/** At most `max` in flight overall and `perKey` per key; the rest wait in arrival order. */
export class Limiter {
  private inFlight = 0;
  private readonly perKeyCount = new Map<string, number>();
  private readonly queue: Waiter[] = [];

  constructor(
    readonly max: number,
    readonly perKey: number,
  ) {}

  get active(): number {
    return this.inFlight;
  }

  get waiting(): number {
    return this.queue.length;
  }

  private fits(key: string | null): boolean {
    return this.inFlight < this.max && (key === null || (this.perKeyCount.get(key) ?? 0) < this.perKey);
  }

  private take(key: string | null): () => void {
    this.inFlight += 1;
    if (key !== null) this.perKeyCount.set(key, (this.perKeyCount.get(key) ?? 0) + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.inFlight -= 1;
      if (key !== null) {
        const left = (this.perKeyCount.get(key) ?? 1) - 1;
        if (left <= 0) this.perKeyCount.delete(key);
        else this.perKeyCount.set(key, left);
      }
      this.drain();
    };
  }

  private drain(): void {
    // In order; one that waits for its key's slot does not hold back the others.
    for (let i = 0; i < this.queue.length && this.inFlight < this.max; ) {
      const waiter = this.queue[i]!;
      if (this.fits(waiter.key)) {
        this.queue.splice(i, 1);
        waiter.start();
      } else i += 1;
    }
  }

  acquire(key: string | null, signal?: AbortSignal): Promise<() => void> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    // Waiters ahead hold back only requests of their own key: the others' keys are full, not this one's.
    if (this.fits(key) && !this.queue.some((w) => w.key === key)) return Promise.resolve(this.take(key));
    return new Promise((resolve, reject) => {
      const onAbort = () => {
        const index = this.queue.indexOf(waiter);
        if (index >= 0) this.queue.splice(index, 1);
        reject(signal!.reason);
      };
      const waiter: Waiter = {
        key,
        start: () => {
          signal?.removeEventListener('abort', onAbort);
          resolve(this.take(key));
        },
        fail: reject,
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.queue.push(waiter);
    });
  }

  rejectAll(error: unknown): void {
    for (const waiter of this.queue.splice(0)) waiter.fail(error);
  }
}

// ---- connections ----

interface ConnectionSettings {
  overrides: HostOverrides;
  secureContext: ReturnType<typeof trustContext>;
  connectTimeoutMs: number;
}

/** One socket at a time, as an undici Client, with what NTLM needs to know about it. */
class Connection {
  readonly client: Client;
  busy = false;
  /** Increments with every new socket: an NTLM sign-in holds for the socket it was made on. */
  socketGeneration = 0;
  authenticatedGeneration = -1;
  certificateDer: Buffer | null = null;
  certificate: CertificateInfo | null = null;
  lastUsed = Date.now();

  constructor(origin: URL, settings: ConnectionSettings) {
    const protocol = origin.protocol === 'http:' ? 'http:' : 'https:';
    const port = Number(origin.port) || (protocol === 'https:' ? 443 : 80);
    this.client = new Client(origin.origin, {
      pipelining: 1,
      keepAliveTimeout: KEEP_ALIVE_MS,
      keepAliveMaxTimeout: 10 * 60_000,
      connect: (_options, callback) => {
        openConnection({ host: origin.hostname, port, protocol }, settings).then(
          (opened) => {
            this.socketGeneration += 1;
            this.certificateDer = opened.certificateDer;
            this.certificate = opened.certificate;
            callback(null, opened.socket);
          },
          (error: Error) => callback(error, null),
        );
      },
    });
  }

  get authenticated(): boolean {
    return this.authenticatedGeneration === this.socketGeneration && this.socketGeneration > 0;
  }
}

class ConnectionPool {
  private readonly connections: Connection[] = [];

  constructor(
    private readonly origin: URL,
    private readonly settings: ConnectionSettings,
    private readonly maxIdle: number,
  ) {}

  /** An idle connection, authenticated ones first; a new one when all are busy. */
  acquire(): Connection {
    const idle = this.connections.filter((c) => !c.busy);
    const connection = idle.find((c) => c.authenticated) ?? idle[0] ?? this.add();
    connection.busy = true;
    return connection;
  }

  private add(): Connection {
    const connection = new Connection(this.origin, this.settings);
    this.connections.push(connection);
    return connection;
  }

  release(connection: Connection, reusable: boolean): void {
    connection.busy = false;
    connection.lastUsed = Date.now();
    const idle = this.connections.filter((c) => !c.busy);
    if (!reusable || idle.length > this.maxIdle) this.remove(idle.length > this.maxIdle && reusable ? idle.sort((a, b) => a.lastUsed - b.lastUsed)[0]! : connection);
  }

  private remove(connection: Connection): void {
    const index = this.connections.indexOf(connection);
    if (index >= 0) this.connections.splice(index, 1);
    connection.client.destroy().catch(() => undefined);
  }

  get size(): number {
    return this.connections.length;
  }

  async destroy(): Promise<void> {
    await Promise.all(this.connections.splice(0).map((c) => c.client.destroy().catch(() => undefined)));
  }
}

// ---- answers ----

function normalizeHeaders(raw: Record<string, string | string[] | undefined>): { headers: Record<string, string>; headerLists: Record<string, string[]> } {
  const headers: Record<string, string> = {};
  const headerLists: Record<string, string[]> = {};
  for (const [name, value] of Object.entries(raw)) {
    if (value === undefined) continue;
    const list = Array.isArray(value) ? value : [value];
    const key = name.toLowerCase();
    headerLists[key] = [...(headerLists[key] ?? []), ...list];
    headers[key] = headerLists[key]!.join(', ');
  }
  return { headers, headerLists };
}

interface Target {
  url: URL;
  host: string;
  port: number;
}

class CallContext {
  readonly controller = new AbortController();
  timedOut = false;
  private timer: NodeJS.Timeout | null = null;
  private readonly onCallerAbort: () => void;

  constructor(
    readonly target: Target,
    readonly timeoutMs: number | null,
    readonly callerSignal: AbortSignal | undefined,
  ) {
    this.onCallerAbort = () => this.controller.abort(callerSignal?.reason);
    if (callerSignal) {
      if (callerSignal.aborted) this.controller.abort(callerSignal.reason);
      else callerSignal.addEventListener('abort', this.onCallerAbort, { once: true });
    }
    if (timeoutMs !== null) this.startTimer(timeoutMs);
  }

  startTimer(ms: number): void {
    this.timer = setTimeout(() => {
      this.timedOut = true;
      this.controller.abort(new Error('timeout'));
    }, ms);
  }

  stopTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  done(): void {
    this.stopTimer();
    this.callerSignal?.removeEventListener('abort', this.onCallerAbort);
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }
}

function transportError(kind: TransportErrorKind, message: string, target: Target, extra: Partial<TransportError['details']> = {}): TransportError {
  return new TransportError(kind, message, { url: target.url.href, host: target.host, port: target.port, ...extra });
}

/** What went wrong, in the kinds the diagnostics explain, with the host and port. */
function mapError(error: unknown, call: CallContext, timeoutMs: number): TransportError {
  const { target } = call;
  const where = `${target.host}:${target.port}`;
  if (error instanceof TransportError) return error;
  if (error instanceof TlsVerificationError) return transportError('tls', error.message, target, { tls: error.failure, cause: error, notSent: true });
  if (error instanceof ConnectError) {
    const kind: TransportErrorKind =
      error.code === 'CONNECT_TIMEOUT'
        ? 'connect-timeout'
        : ['ENOTFOUND', 'EAI_AGAIN', 'EAI_NODATA', 'EAI_NONAME'].includes(error.code)
          ? 'dns'
          : error.code === 'ECONNREFUSED'
            ? 'refused'
            : ['ECONNRESET', 'EPIPE'].includes(error.code)
              ? 'reset'
              : /^ERR_SSL|^EPROTO|^ERR_TLS/.test(error.code)
                ? 'tls'
                : 'other';
    // The connection never opened: nothing of the request reached the server.
    return transportError(kind, error.message, target, { cause: error, notSent: true, ...(kind === 'tls' ? { tls: { code: error.code } } : {}) });
  }
  if (call.timedOut) return transportError('timeout', `No complete answer from ${where} within ${timeoutMs} ms.`, target, { cause: error });
  if (call.callerSignal?.aborted) return transportError('aborted', `The request to ${where} was cancelled.`, target, { cause: error });
  const code = (error as { code?: string }).code ?? '';
  if (code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT') {
    return transportError('timeout', `No complete answer from ${where} within ${timeoutMs} ms.`, target, { cause: error });
  }
  if (code === 'UND_ERR_CONNECT_TIMEOUT') return transportError('connect-timeout', `Connecting to ${where} timed out.`, target, { cause: error });
  if (code === 'UND_ERR_SOCKET' || code === 'ECONNRESET' || code === 'EPIPE' || code === 'UND_ERR_CLOSED') {
    return transportError('reset', `The connection to ${where} was closed by the server before the answer was complete.`, target, { cause: error });
  }
  if (code === 'ECONNREFUSED') return transportError('refused', `The connection to ${where} was refused.`, target, { cause: error });
  if (code === 'UND_ERR_DESTROYED') return transportError('aborted', `The transport was closed while the request to ${where} was pending.`, target, { cause: error });
  return transportError('other', `The request to ${where} failed: ${(error as Error).message ?? String(error)}`, target, { cause: error });
}

async function readBounded(body: Dispatcher.ResponseData['body'], limit: number, contentLength: string | undefined, call: CallContext): Promise<Buffer> {
  if (contentLength !== undefined && Number(contentLength) > limit) {
    body.destroy();
    throw transportError('too-large', `The answer of ${call.target.host}:${call.target.port} is ${contentLength} bytes, more than the ${limit} accepted.`, call.target);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    const buffer = chunk as Buffer;
    size += buffer.length;
    if (size > limit) {
      body.destroy();
      throw transportError('too-large', `The answer of ${call.target.host}:${call.target.port} is more than the ${limit} bytes accepted.`, call.target);
    }
    chunks.push(buffer);
  }
  return Buffer.concat(chunks);
}

/** The token of a `Scheme token` challenge among the WWW-Authenticate values, or null. */
function challengeToken(values: string[], scheme: string): Buffer | null {
  for (const value of values) {
    const match = /^(\S+)\s+([A-Za-z0-9+/]+=*)\s*$/.exec(value.trim());
    if (match && match[1]!.toLowerCase() === scheme.toLowerCase()) return Buffer.from(match[2]!, 'base64');
  }
  return null;
}

function offered(values: string[], scheme: string): boolean {
  return offeredSchemes(values).has(scheme.toUpperCase());
}

/** A server's Negotiate answer may wrap the NTLM CHALLENGE in a SPNEGO NegTokenResp; this takes it out. */
function unwrapNegotiate(token: Buffer): Buffer {
  try {
    return readServerToken(token)?.responseToken ?? token;
  } catch (error) {
    if (error instanceof DerError) return token;
    throw error;
  }
}

// ---- the transport ----

interface Resolved {
  limits: { timeoutMs: number; connectTimeoutMs: number; maxResponseBytes: number };
  settings: ConnectionSettings;
}

function resolveOptions(options: TransportOptions): Resolved {
  const timeoutMs = Math.min(Math.max(1, options.timeoutMs ?? DEFAULT_TIMEOUT_MS), MAX_TIMEOUT_MS);
  const connectTimeoutMs = Math.min(Math.max(1, options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS), timeoutMs);
  return {
    limits: { timeoutMs, connectTimeoutMs, maxResponseBytes: options.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES },
    settings: {
      overrides: new HostOverrides(parseResolveList(options.resolve ?? [])),
      secureContext: trustContext(options.trustedCaPem),
      connectTimeoutMs,
    },
  };
}

function authKey(credentials: Credentials | null | undefined): string {
  if (!credentials || credentials.method === 'basic') return 'plain';
  // The password is part of the key (a changed password is a new sign-in), as a hash.
  return `ntlm\n${credentials.username.toLowerCase()}\n${createHash('sha256').update(credentials.password).digest('hex')}`;
}

interface RawAnswer {
  status: number;
  headers: Record<string, string>;
  headerLists: Record<string, string[]>;
  body: Dispatcher.ResponseData['body'];
}

/** Statistics for tests and diagnostics: requests in flight and waiting, NTLM AUTHENTICATE messages sent, connections held. */
export interface TransportStats {
  inFlight: number;
  waiting: number;
  ntlmHandshakes: number;
  connections: number;
}

export interface HttpTransportWithStats extends HttpTransport {
  stats(): TransportStats;
}

export function createHttpTransport(options: TransportOptions = {}): HttpTransportWithStats {
  const { limits, settings } = resolveOptions(options);
  const limiter = new Limiter(options.maxInFlight ?? DEFAULT_MAX_IN_FLIGHT, options.maxInFlightPerKey ?? DEFAULT_MAX_IN_FLIGHT_PER_KEY);
  const maxIdle = Math.max(1, Math.min(limiter.max, limiter.perKey));
  const pools = new Map<string, ConnectionPool>();
  /** The scheme that carries NTLM at an origin: NTLM unless only Negotiate was offered. */
  const schemes = new Map<string, 'NTLM' | 'Negotiate'>();
  let ntlmHandshakes = 0;
  let closed = false;

  const poolFor = (url: URL, credentials: Credentials | null | undefined) => {
    const key = `${url.origin}\n${authKey(credentials)}`;
    let pool = pools.get(key);
    if (!pool) {
      pool = new ConnectionPool(new URL(url.origin), settings, maxIdle);
      pools.set(key, pool);
    }
    return pool;
  };

  function target(request: HttpRequest): Target {
    let url: URL;
    try {
      url = new URL(request.url);
    } catch {
      throw new TransportError('other', `"${request.url}" is not an absolute URL.`, { url: request.url });
    }
    const port = Number(url.port) || (url.protocol === 'https:' ? 443 : 80);
    const t: Target = { url, host: url.hostname.replace(/^\[|\]$/g, ''), port };
    if (url.protocol !== 'https:' && url.protocol !== 'http:') throw transportError('insecure-url', `Only https URLs are used, not ${url.protocol}//.`, t);
    if (request.credentials && url.protocol !== 'https:') {
      throw transportError('insecure-url', `Credentials are only sent over https; ${url.href} is plain http.`, t);
    }
    return t;
  }

  async function send(connection: Connection, call: CallContext, request: HttpRequest, extra: Record<string, string>, body: string | Buffer | null, streaming: boolean): Promise<RawAnswer> {
    const url = call.target.url;
    const answer = await connection.client.request({
      path: `${url.pathname}${url.search}`,
      method: request.method,
      headers: { ...request.headers, ...extra },
      body: body ?? (request.method === 'POST' ? '' : null),
      signal: call.signal,
      headersTimeout: limits.timeoutMs,
      bodyTimeout: streaming ? 0 : limits.timeoutMs,
    });
    return { status: answer.statusCode, ...normalizeHeaders(answer.headers), body: answer.body };
  }

  const drain = async (answer: RawAnswer, call: CallContext) => {
    await readBounded(answer.body, limits.maxResponseBytes, answer.headers['content-length'], call);
  };

  /** NTLM on this connection: reuse its sign-in, or sign in (again) and send the request with the AUTHENTICATE. */
  async function ntlm(connection: Connection, call: CallContext, request: HttpRequest, credentials: Credentials, streaming: boolean): Promise<RawAnswer> {
    const origin = call.target.url.origin;
    const body = request.body ?? null;
    let retriedAuthenticated = false;
    let switchedScheme = false;
    for (let attempt = 0; attempt < 4; attempt++) {
      if (connection.authenticated && !retriedAuthenticated) {
        const answer = await send(connection, call, request, {}, body, streaming);
        if (answer.status !== 401) return answer;
        // The server no longer knows this connection (closed and reopened, or reset): one fresh handshake.
        await drain(answer, call);
        retriedAuthenticated = true;
        connection.authenticatedGeneration = -1;
      }
      const scheme = schemes.get(origin) ?? 'NTLM';
      const handshake = new NtlmHandshake({ username: credentials.username, password: credentials.password });
      const first = await send(connection, call, request, { authorization: `${scheme} ${handshake.negotiate().toString('base64')}` }, '', false);
      const offers = first.headerLists['www-authenticate'] ?? [];
      if (first.status !== 401) {
        // Not asked to sign in: the request itself still has to be sent, with its body.
        await drain(first, call);
        return send(connection, call, request, {}, body, streaming);
      }
      const generation = connection.socketGeneration;
      const token = challengeToken(offers, scheme);
      if (!token) {
        const other = scheme === 'NTLM' ? 'Negotiate' : 'NTLM';
        if (!switchedScheme && offered(offers, other)) {
          await drain(first, call);
          schemes.set(origin, other);
          switchedScheme = true;
          continue;
        }
        // Neither scheme is on offer (or the server refused the NEGOTIATE): the 401 is the answer to judge.
        return first;
      }
      await drain(first, call);
      if (connection.socketGeneration !== generation) continue;
      let authenticate: Buffer;
      try {
        authenticate = handshake.authenticate(scheme === 'Negotiate' ? unwrapNegotiate(token) : token, {
          channelBindings: connection.certificateDer ? tlsServerEndPoint(connection.certificateDer) : null,
          targetName: `HTTP/${call.target.host}`,
        });
      } catch (error) {
        throw transportError('other', `The NTLM challenge of ${call.target.host}:${call.target.port} cannot be read: ${(error as Error).message}.`, call.target, { cause: error });
      }
      ntlmHandshakes += 1;
      const answer = await send(connection, call, request, { authorization: `${scheme} ${authenticate.toString('base64')}` }, body, streaming);
      if (connection.socketGeneration !== generation) {
        // The AUTHENTICATE went out on a new socket (the old one closed after the CHALLENGE): start again there.
        if (answer.status === 401) {
          await drain(answer, call);
          continue;
        }
        return answer;
      }
      if (answer.status !== 401) connection.authenticatedGeneration = generation;
      return answer;
    }
    throw transportError('reset', `The NTLM handshake with ${call.target.host}:${call.target.port} kept losing its connection.`, call.target);
  }

  async function start(request: HttpRequest, streaming: boolean): Promise<{ answer: RawAnswer; call: CallContext; connection: Connection; finish: (reusable: boolean) => void; started: number }> {
    if (closed) throw new TransportError('aborted', 'The transport is closed.', { url: request.url, notSent: true });
    const t = target(request);
    const credentials = request.credentials ?? null;
    let release: () => void;
    try {
      release = await limiter.acquire(request.concurrencyKey ?? null, request.signal);
    } catch (error) {
      throw transportError('aborted', `The request to ${t.host}:${t.port} was cancelled while waiting for a free slot.`, t, { cause: error, notSent: true });
    }
    // The total timeout runs from here, not from the wait in the queue; a stream's only up to its headers.
    const call = new CallContext(t, limits.timeoutMs, request.signal);
    const pool = poolFor(t.url, credentials);
    const connection = pool.acquire();
    let finished = false;
    const finish = (reusable: boolean) => {
      if (finished) return;
      finished = true;
      call.done();
      pool.release(connection, reusable);
      release();
    };
    const started = Date.now();
    try {
      let answer: RawAnswer;
      if (credentials?.method === 'ntlm') answer = await ntlm(connection, call, request, credentials, streaming);
      else {
        const extra: Record<string, string> = {};
        if (credentials) extra.authorization = `Basic ${Buffer.from(`${credentials.username}:${credentials.password}`, 'utf8').toString('base64')}`;
        answer = await send(connection, call, request, extra, request.body ?? null, streaming);
      }
      return { answer, call, connection, finish, started };
    } catch (error) {
      finish(false);
      throw mapError(error, call, limits.timeoutMs);
    }
  }

  return {
    async request(request) {
      const { answer, call, connection, finish, started } = await start(request, false);
      try {
        // A caller may bound its answers lower than the transport does (Autodiscover's are small), never higher.
        const limit = Math.min(limits.maxResponseBytes, request.maxResponseBytes ?? Number.POSITIVE_INFINITY);
        const body = await readBounded(answer.body, limit, answer.headers['content-length'], call);
        finish(true);
        return {
          status: answer.status,
          headers: answer.headers,
          headerLists: answer.headerLists,
          body,
          peerCertificate: connection.certificate ?? undefined,
          elapsedMs: Date.now() - started,
        } satisfies HttpResponse;
      } catch (error) {
        finish(false);
        throw mapError(error, call, limits.timeoutMs);
      }
    },

    async stream(request) {
      const { answer, call, finish } = await start(request, true);
      // Headers are in: from here the caller decides how long to listen.
      call.stopTimer();
      const source = answer.body;
      source.once('end', () => finish(true));
      source.once('close', () => finish(false));
      source.once('error', () => finish(false));
      const body: AsyncIterable<Buffer> = {
        async *[Symbol.asyncIterator]() {
          try {
            for await (const chunk of source) yield chunk as Buffer;
          } catch (error) {
            if (call.callerSignal?.aborted || source.destroyed) {
              if (call.callerSignal?.aborted) throw mapError(error, call, limits.timeoutMs);
              return;
            }
            throw mapError(error, call, limits.timeoutMs);
          }
        },
      };
      return {
        status: answer.status,
        headers: answer.headers,
        headerLists: answer.headerLists,
        body,
        cancel() {
          source.destroy();
          finish(false);
        },
      } satisfies HttpStreamResponse;
    },

    stats: () => ({ inFlight: limiter.active, waiting: limiter.waiting, ntlmHandshakes, connections: [...pools.values()].reduce((n, p) => n + p.size, 0) }),

    async close() {
      closed = true;
      limiter.rejectAll(new TransportError('aborted', 'The transport is closed.', { url: '', notSent: true }));
      await Promise.all([...pools.values()].map((p) => p.destroy()));
      pools.clear();
    },
  };
}
