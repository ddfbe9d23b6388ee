/**
 * GetStreamingEvents: one long HTTP answer on which Exchange writes a SOAP envelope whenever it has something
 * to say (ConnectionStatus OK when the connection opens and as keep-alive, the notifications, ConnectionStatus
 * Closed when ConnectionTimeout runs out). Only the first document carries an XML declaration, and servers
 * differ in the Envelope's prefix (none on Exchange 2013 and later, `soap:`/`s:` elsewhere), so the answer is cut
 * into documents on the text of a complete `<P:Envelope …>…</P:Envelope>` with the prefix it opened with, each
 * bounded in size, and each document is read with the safe parser.
 */
import { NS } from '../../xml/namespaces.js';
import { child, children, parseXml, textOf, type XmlElement, XmlParseError, type XmlLimits } from '../../xml/parse.js';
import { el } from '../../xml/write.js';
import type { EwsOperation, ReadContext } from './operations/operation.js';
import { type Notification, readNotification } from './operations/notifications.js';
import { readAnswer, readFault } from './soap/answer.js';
import { buildEnvelope } from './soap/envelope.js';
import { EwsHttpError, EwsProtocolError, type EwsResponseError } from './soap/errors.js';
import { responseMessages } from './soap/response.js';
import type { Credentials, HttpRequest, HttpTransport } from './transport/types.js';
import type { ExchangeVersion } from './versions.js';

export interface GetStreamingEventsRequest {
  subscriptionIds: readonly string[];
  /** Minutes the server keeps the connection open (1–30); it then sends ConnectionStatus Closed. */
  connectionTimeoutMinutes: number;
}

/** What one document of the stream says, in order. */
export type StreamingItem =
  | { kind: 'connection'; status: 'OK' | 'Closed' }
  | { kind: 'notification'; notification: Notification }
  /** A subscription the server will not serve (ErrorSubscriptionNotFound, ErrorInvalidSubscription, …): the ids it names. */
  | { kind: 'error'; error: EwsResponseError; subscriptionIds: string[] };

/** The request body, and the reader of one document's `m:GetStreamingEventsResponse`. */
export const GetStreamingEvents: EwsOperation<GetStreamingEventsRequest, StreamingItem[]> = {
  name: 'GetStreamingEvents',
  // ews-operations-in-exchange.md: GetStreamingEvents came with Exchange 2010 SP1.
  minVersion: 'Exchange2010_SP1',
  build(request) {
    if (request.subscriptionIds.length === 0) throw new RangeError('GetStreamingEvents: no subscription ids');
    const timeout = request.connectionTimeoutMinutes;
    if (!(Number.isInteger(timeout) && timeout >= 1 && timeout <= 30)) throw new RangeError('GetStreamingEvents: ConnectionTimeout is 1 to 30 minutes');
    return el(
      'm:GetStreamingEvents',
      null,
      el('m:SubscriptionIds', null, request.subscriptionIds.map((id) => el('t:SubscriptionId', null, id))),
      el('m:ConnectionTimeout', null, timeout),
    ).serialized;
  },
  read(response, context) {
    const items: StreamingItem[] = [];
    for (const message of responseMessages(response, context)) {
      if (message.ok) {
        const notifications = child(message.element, NS.messages, 'Notifications');
        for (const n of [...children(notifications, NS.messages, 'Notification'), ...children(notifications, NS.types, 'Notification')]) {
          items.push({ kind: 'notification', notification: readNotification(n, context.operation) });
        }
      } else {
        const ids = children(child(message.element, NS.messages, 'ErrorSubscriptionIds'), NS.types, 'SubscriptionId').map((e) => textOf(e));
        items.push({ kind: 'error', error: message.error, subscriptionIds: ids });
      }
      const status = textOf(child(message.element, NS.messages, 'ConnectionStatus'));
      if (status === 'OK' || status === 'Closed') items.push({ kind: 'connection', status });
      else if (status) throw new EwsProtocolError(context.operation, `an unknown ConnectionStatus "${status}"`);
    }
    return items;
  },
};

// ---- cutting the answer into documents ----

export const DEFAULT_MAX_DOCUMENT_BYTES = 4 * 1024 * 1024;

/**
 * Cuts a byte stream into complete SOAP envelopes. The search runs on a latin1 view of the bytes (one char per
 * byte), which is safe for UTF-8: the markup searched for is ASCII and no byte of a multi-byte UTF-8 sequence is.
 * Between documents only white space, a byte-order mark and XML declarations are allowed.
 */
export class EnvelopeSplitter {
  private pending = '';
  /** Where the search for the closing tag continues (what was searched before cannot hold it). */
  private searchFrom = 0;
  private closing: string | null = null;

  constructor(
    private readonly operation: string,
    private readonly maxDocumentBytes = DEFAULT_MAX_DOCUMENT_BYTES,
  ) {}

  /** Adds bytes; returns the documents they completed, in order. */
  push(chunk: Buffer): Buffer[] {
    this.pending += chunk.toString('latin1');
    const documents: Buffer[] = [];
    for (;;) {
      if (this.closing === null && !this.findStart()) break;
      const end = this.pending.indexOf(this.closing!, this.searchFrom);
      if (end < 0) {
        this.searchFrom = Math.max(0, this.pending.length - this.closing!.length);
        break;
      }
      // The closing tag may carry white space before its '>'.
      const close = /^[ \t\r\n]*>/.exec(this.pending.slice(end + this.closing!.length));
      if (!close) {
        if (/^[ \t\r\n]*$/.test(this.pending.slice(end + this.closing!.length))) break; // the '>' is still to come
        this.searchFrom = end + 1;
        continue;
      }
      const stop = end + this.closing!.length + close[0].length;
      documents.push(Buffer.from(this.pending.slice(0, stop), 'latin1'));
      this.pending = this.pending.slice(stop);
      this.searchFrom = 0;
      this.closing = null;
    }
    if (this.closing !== null && this.pending.length > this.maxDocumentBytes) {
      throw new EwsProtocolError(this.operation, `a streamed document longer than ${this.maxDocumentBytes} bytes`, this.pending.slice(0, 300));
    }
    return documents;
  }

  /** The answer ended: anything left that is not white space is a document cut short. */
  end(): void {
    if (this.pending.slice(LEAD.exec(this.pending)![0].length) !== '') {
      throw new EwsProtocolError(this.operation, 'the streamed answer ended inside a document', this.pending.slice(0, 300));
    }
  }

  /** Drops what may come before a document; finds the Envelope start tag and the closing tag to look for. */
  private findStart(): boolean {
    this.pending = this.pending.slice(LEAD.exec(this.pending)![0].length);
    if (this.pending === '') return false;
    const start = /^<([A-Za-z_][\w.-]*:)?Envelope[ \t\r\n>/]/.exec(this.pending);
    if (start) {
      this.closing = `</${start[1] ?? ''}Envelope`;
      this.searchFrom = start[0].length;
      return true;
    }
    // Cut inside a byte-order mark, an XML declaration or the start tag's name: wait for more.
    const incomplete = BOM.startsWith(this.pending) || (this.pending.startsWith('<?') && !this.pending.includes('>')) || /^<[\w.:-]*$/.test(this.pending);
    if (incomplete && this.pending.length < 512) return false;
    throw new EwsProtocolError(this.operation, 'the streamed answer holds something other than SOAP envelopes', this.pending.slice(0, 300));
  }
}

const BOM = '\xEF\xBB\xBF';
/** What may come before a document: XML white space (not `\s`, which matches the latin1 view of UTF-8 bytes), a BOM, XML declarations. */
const LEAD = /^(?:[ \t\r\n]|\xEF\xBB\xBF|<\?xml[^>]*\?>)*/;

// ---- reading a document ----

/** One document of the stream: its items, or the fault it is thrown. */
export function readStreamDocument(document: Buffer | string, context: ReadContext, limits: Partial<XmlLimits> = {}): StreamingItem[] {
  let envelope: XmlElement;
  try {
    envelope = parseXml(document, limits);
  } catch (error) {
    if (error instanceof XmlParseError) throw new EwsProtocolError(context.operation, `a streamed document is not well-formed XML: ${error.message}`, String(document).slice(0, 300));
    throw error;
  }
  if (envelope.ns !== NS.soap || envelope.local !== 'Envelope') throw new EwsProtocolError(context.operation, `a streamed document is ${envelope.local}, not a SOAP Envelope`);
  const body = child(envelope, NS.soap, 'Body');
  const fault = child(body, NS.soap, 'Fault');
  if (fault) throw readFault(fault, context.operation, context.httpStatus);
  const response = child(body, NS.messages, 'GetStreamingEventsResponse');
  if (!response) throw new EwsProtocolError(context.operation, 'a streamed document without a GetStreamingEventsResponse');
  return GetStreamingEvents.read(response, context);
}

// ---- the stream ----

export interface StreamingEventsOptions {
  transport: HttpTransport;
  /** The POST of the GetStreamingEvents envelope (URL, headers, credentials, concurrency key) as the client makes it. */
  request: HttpRequest;
  version: ExchangeVersion;
  /** Largest single document accepted (bytes); the stream fails beyond it. */
  maxDocumentBytes?: number;
  /** Called with each document's text, before it is read (for tracing). */
  onDocument?: (text: string) => void;
}

export interface StreamingEvents extends AsyncIterable<StreamingItem> {
  readonly status: number;
  /** The answer's headers, repeated ones kept apart (Set-Cookie). */
  readonly headerLists: Record<string, string[]>;
  /** Ends the connection; the iteration ends without an error. */
  cancel(): void;
  readonly cancelled: boolean;
}

const context = (version: ExchangeVersion, httpStatus: number): ReadContext => ({ version, operation: 'GetStreamingEvents', httpStatus });

/**
 * Opens the stream. A non-2xx answer is read whole (bounded) and thrown: its SOAP fault as EwsFaultError, else
 * EwsHttpError. Iterating yields the items of each document as it arrives; a fault inside the stream, a broken
 * document or a document too long is thrown from the iteration (and the connection closed).
 */
export async function openStreamingEvents(options: StreamingEventsOptions): Promise<StreamingEvents> {
  const maxDocumentBytes = options.maxDocumentBytes ?? DEFAULT_MAX_DOCUMENT_BYTES;
  const answer = await options.transport.stream(options.request);
  if (answer.status < 200 || answer.status >= 300) {
    const parts: Buffer[] = [];
    let size = 0;
    try {
      for await (const chunk of answer.body) {
        parts.push(chunk);
        size += chunk.length;
        if (size > maxDocumentBytes) break;
      }
    } finally {
      answer.cancel();
    }
    const body = Buffer.concat(parts).subarray(0, maxDocumentBytes);
    // Read as any EWS answer: a SOAP fault (ErrorExceededConnectionCount on HTTP 500), else what the HTTP error was.
    const read = readAnswer({ status: answer.status, headers: answer.headers, headerLists: answer.headerLists, body, elapsedMs: 0 }, 'GetStreamingEvents');
    if (read.kind === 'fault') throw read.fault;
    const refused = GetStreamingEvents.read(read.response, context(options.version, answer.status)).find((i) => i.kind === 'error');
    if (refused?.kind === 'error') throw refused.error;
    throw new EwsHttpError({
      operation: 'GetStreamingEvents',
      httpStatus: answer.status,
      headers: answer.headers,
      authenticate: answer.headerLists['www-authenticate'] ?? [],
      bodyExcerpt: body.toString('utf8').slice(0, 2000),
      reason: `the server answered HTTP ${answer.status}`,
    });
  }

  let cancelled = false;
  let consumed = false;
  const splitter = new EnvelopeSplitter('GetStreamingEvents', maxDocumentBytes);
  const read = context(options.version, answer.status);

  async function* items(): AsyncGenerator<StreamingItem> {
    try {
      for await (const chunk of answer.body) {
        if (cancelled) return;
        for (const document of splitter.push(chunk)) {
          options.onDocument?.(document.toString('utf8'));
          for (const item of readStreamDocument(document, read)) {
            if (cancelled) return;
            yield item;
          }
        }
      }
      if (!cancelled) splitter.end();
    } catch (error) {
      if (cancelled) return;
      throw error;
    } finally {
      answer.cancel();
    }
  }

  return {
    status: answer.status,
    headerLists: answer.headerLists,
    get cancelled() {
      return cancelled;
    },
    cancel() {
      cancelled = true;
      answer.cancel();
    },
    [Symbol.asyncIterator]() {
      if (consumed) throw new Error('GetStreamingEvents: the stream can be iterated once');
      consumed = true;
      return items();
    },
  };
}

export interface StreamEventsOptions extends GetStreamingEventsRequest {
  transport: HttpTransport;
  /** The EWS endpoint of the mailbox's server (streaming subscriptions live on the server that made them). */
  url: string;
  credentials: Credentials;
  /** The impersonated mailbox (ExchangeImpersonation and X-AnchorMailbox), as for the Subscribe call. */
  mailbox?: string;
  /** The HTTP headers, when the caller writes them (the client: X-AnchorMailbox of a group, affinity headers). */
  headers?: Record<string, string>;
  version: ExchangeVersion;
  signal?: AbortSignal;
  maxDocumentBytes?: number;
  onDocument?: (text: string) => void;
}

/** The request of a GetStreamingEvents call, as the EWS client writes its calls (envelope, impersonation, anchor). */
export function streamingEventsRequest(options: StreamEventsOptions): HttpRequest {
  const body = buildEnvelope({ version: options.version, impersonate: options.mailbox, body: GetStreamingEvents.build(options, { version: options.version }) });
  const headers: Record<string, string> = options.headers ?? { 'content-type': 'text/xml; charset=utf-8', accept: 'text/xml' };
  if (!options.headers && options.mailbox) headers['x-anchormailbox'] = options.mailbox;
  return {
    method: 'POST',
    url: options.url,
    headers,
    body,
    credentials: options.credentials,
    concurrencyKey: options.mailbox ?? options.credentials.username,
    ...(options.signal ? { signal: options.signal } : {}),
  };
}

/** Opens GetStreamingEvents for subscriptions of one mailbox: `for await (const item of await streamEvents(…))`. */
export function streamEvents(options: StreamEventsOptions): Promise<StreamingEvents> {
  return openStreamingEvents({
    transport: options.transport,
    request: streamingEventsRequest(options),
    version: options.version,
    ...(options.maxDocumentBytes ? { maxDocumentBytes: options.maxDocumentBytes } : {}),
    ...(options.onDocument ? { onDocument: options.onDocument } : {}),
  });
}
