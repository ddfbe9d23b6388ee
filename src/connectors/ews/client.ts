/**
 * The EWS client: one call = one operation's request in an envelope, sent through the transport, its answer
 * read. It owns the request version (stepped down when the server refuses it, and remembered) and the
 * impersonation headers; it does not retry anything else: the engine owns the retry policy, and the errors
 * carry the server's back-off hints.
 */
import type { XmlLimits } from '../../xml/parse.js';
import { readAnswer, type ServerVersionInfo } from './soap/answer.js';
import { buildEnvelope } from './soap/envelope.js';
import type { EwsFaultError } from './soap/errors.js';
import type { EwsOperation } from './operations/operation.js';
import { type GetStreamingEventsRequest, type StreamingEvents, streamEvents } from './streaming.js';
import type { Credentials, HttpTransport } from './transport/types.js';
import { atLeast, DEFAULT_REQUEST_VERSION, EXCHANGE_VERSIONS, type ExchangeVersion, olderVersion } from './versions.js';

export interface EwsClientOptions {
  transport: HttpTransport;
  /** The EWS endpoint, https://…/EWS/Exchange.asmx. */
  url: string;
  credentials: Credentials;
  /** The version to start with (a remembered one); Exchange2013_SP1 by default. */
  version?: ExchangeVersion;
  /** Called when the client settles on another version than it started with, to remember it. */
  onVersion?: (version: ExchangeVersion, previous: ExchangeVersion) => void;
  xmlLimits?: Partial<XmlLimits>;
}

export interface EwsCallOptions {
  /** Impersonate this mailbox (ExchangeImpersonation PrimarySmtpAddress) and route to it (X-AnchorMailbox). */
  mailbox?: string;
  /** X-AnchorMailbox when it is not the impersonated mailbox (a group's first mailbox, for notification affinity). */
  anchorMailbox?: string;
  /** Further HTTP headers (X-PreferServerAffinity, the affinity Cookie). */
  headers?: Record<string, string>;
  /** Told the answer's HTTP headers (lower-cased; repeated ones kept apart), e.g. to read Set-Cookie. */
  onHeaders?: (headerLists: Record<string, string[]>) => void;
  signal?: AbortSignal;
}

/** The HTTP headers of a call: SOAP's, then X-AnchorMailbox, then the caller's own. */
export function callHeaders(options: EwsCallOptions): Record<string, string> {
  const headers: Record<string, string> = { 'content-type': 'text/xml; charset=utf-8', accept: 'text/xml' };
  const anchor = options.anchorMailbox ?? options.mailbox;
  if (anchor) headers['x-anchormailbox'] = anchor;
  return { ...headers, ...(options.headers ?? {}) };
}

const VERSION_FAULTS = new Set(['ErrorInvalidServerVersion', 'ErrorIncorrectSchemaVersion']);

/**
 * The version a server names in ServerVersionInfo, when it is one the client can send: Exchange 2010 and
 * later name their schema (Exchange2010_SP2); Exchange 2007 SP1 names none but is 8.1 and later.
 */
export function requestVersionFor(info: ServerVersionInfo | null): ExchangeVersion | null {
  if (!info) return null;
  if (info.version && (EXCHANGE_VERSIONS as readonly string[]).includes(info.version)) return info.version as ExchangeVersion;
  if (info.majorVersion === 14) return info.minorVersion >= 2 ? 'Exchange2010_SP2' : info.minorVersion === 1 ? 'Exchange2010_SP1' : 'Exchange2010';
  if (info.majorVersion === 8 && info.minorVersion >= 1) return 'Exchange2007_SP1';
  return null;
}

export class EwsClient {
  readonly url: string;
  private readonly transport: HttpTransport;
  private readonly credentials: Credentials;
  private readonly onVersion: EwsClientOptions['onVersion'];
  private readonly xmlLimits: Partial<XmlLimits>;
  private currentVersion: ExchangeVersion;
  /** Whether the server has accepted the current version at least once (an ErrorInvalidRequest after that is not about it). */
  private confirmed = false;
  private lastServerVersion: ServerVersionInfo | null = null;

  constructor(options: EwsClientOptions) {
    this.transport = options.transport;
    this.url = options.url;
    this.credentials = options.credentials;
    this.onVersion = options.onVersion;
    this.xmlLimits = options.xmlLimits ?? {};
    this.currentVersion = options.version ?? DEFAULT_REQUEST_VERSION;
  }

  /** The RequestServerVersion the client sends now. */
  get version(): ExchangeVersion {
    return this.currentVersion;
  }

  /** The last ServerVersionInfo a server sent. */
  get serverVersion(): ServerVersionInfo | null {
    return this.lastServerVersion;
  }

  /**
   * GetStreamingEvents on this server, written as the client writes its calls (same version, impersonation and
   * X-AnchorMailbox as the Subscribe that made the subscriptions, so that both reach the same server).
   */
  stream(request: GetStreamingEventsRequest, options: EwsCallOptions = {}): Promise<StreamingEvents> {
    return streamEvents({
      transport: this.transport,
      url: this.url,
      credentials: this.credentials,
      version: this.currentVersion,
      ...request,
      ...(options.mailbox ? { mailbox: options.mailbox } : {}),
      headers: callHeaders(options),
      ...(options.signal ? { signal: options.signal } : {}),
    });
  }

  async call<Req, Res>(operation: EwsOperation<Req, Res>, request: Req, options: EwsCallOptions = {}): Promise<Res> {
    const started = this.currentVersion;
    let version = started;
    let firstFault: EwsFaultError | null = null;
    for (;;) {
      const answer = await this.send(operation, request, version, options);
      if (answer.serverVersion) this.lastServerVersion = answer.serverVersion;
      if (answer.kind === 'fault') {
        const fault = answer.fault;
        const next = this.isVersionFault(fault, version) ? this.stepDown(version, answer.serverVersion, operation.minVersion) : null;
        if (next) {
          firstFault ??= fault;
          version = next;
          continue;
        }
        // Refused at every version: the first answer says most about what is wrong. A fault about something
        // else (impersonation, throttling) means the server took the version; keep it.
        if (firstFault && this.isVersionFault(fault, version)) throw firstFault;
        // Stepped down on an ErrorInvalidRequest, then refused for something else: the first refusal may have been
        // about the request, not the version, so the older version is not remembered and the first answer stands.
        if (firstFault?.responseCode === 'ErrorInvalidRequest') throw firstFault;
        this.settle(version, started);
        throw fault;
      }
      this.settle(version, started);
      return operation.read(answer.response, { version, operation: operation.name, httpStatus: answer.httpStatus });
    }
  }

  private async send<Req, Res>(operation: EwsOperation<Req, Res>, request: Req, version: ExchangeVersion, options: EwsCallOptions) {
    const body = buildEnvelope({ version, impersonate: options.mailbox, body: operation.build(request, { version }) });
    const http = await this.transport.request({
      method: 'POST',
      url: this.url,
      headers: callHeaders(options),
      body,
      credentials: this.credentials,
      concurrencyKey: options.mailbox ?? this.credentials.username,
      ...(options.signal ? { signal: options.signal } : {}),
    });
    options.onHeaders?.(http.headerLists);
    return readAnswer(http, operation.name, this.xmlLimits);
  }

  private isVersionFault(fault: EwsFaultError, version: ExchangeVersion): boolean {
    const code = fault.responseCode;
    if (VERSION_FAULTS.has(code)) return true;
    // Exchange 2016/2019 answer a RequestServerVersion they do not know with ErrorInvalidRequest, "The request
    // is invalid.": about the version only while the server has not yet taken this one.
    // Every Exchange Liaison supports knows the default version, so below it an ErrorInvalidRequest is the request's.
    if (code === 'ErrorInvalidRequest') {
      if (/version/i.test(fault.details.messageText)) return true;
      return !(this.confirmed && version === this.currentVersion) && !atLeast(DEFAULT_REQUEST_VERSION, version);
    }
    return false;
  }

  /** The next version to try: the one the server names when it is older, else one step down; never below the operation's minimum. */
  private stepDown(version: ExchangeVersion, info: ServerVersionInfo | null, minVersion: ExchangeVersion | undefined): ExchangeVersion | null {
    const named = requestVersionFor(info);
    const next = named && named !== version && atLeast(version, named) ? named : olderVersion(version);
    if (!next) return null;
    if (minVersion && !atLeast(next, minVersion)) return null;
    return next;
  }

  private settle(version: ExchangeVersion, started: ExchangeVersion): void {
    if (version === this.currentVersion) {
      this.confirmed = true;
      return;
    }
    // Another call may have settled meanwhile; the newest accepted answer wins.
    this.currentVersion = version;
    this.confirmed = true;
    this.onVersion?.(version, started);
  }
}
