/**
 * The Exchange (EWS) connector: the Connector interface over the EWS client, with the mailbox's server found by
 * Autodiscover (or the profile's fixed URL), cached by the host, and found again when the cached server no
 * longer serves the mailbox (connection refused, ErrorMailboxMoveInProgress, ErrorNonExistentMailbox from the
 * old server, a redirect). The host is told (onLocationChanged) so it can store the new location and raise an
 * information alert.
 */
import type { ChangeFeedEvents, ChangePage, ClassifiedError, Connector, FetchedMessage, FolderRef, InventoryPage, LocationEvents, MailboxLocation, MailboxSession, MessageFailure, OutgoingMessage, WellKnownFolder } from '../connector.js';
import { discoverEwsUrl, type DiscoverOptions } from './autodiscover/index.js';
import { type ChangeFeedOptions, EwsChangeFeed } from './change-feed.js';
import { classifyEwsError } from './classify.js';
import { EwsClient } from './client.js';
import { EwsMailboxSession } from './mailbox.js';
import { EwsFaultError, EwsHttpError, EwsResponseError } from './soap/errors.js';
import { createHttpTransport } from './transport/http.js';
import { type Credentials, type HttpTransport, TransportError, type TransportOptions } from './transport/types.js';
import type { ExchangeVersion } from './versions.js';

export interface EwsConnectorOptions extends LocationEvents {
  credentials: Credentials;
  /** Autodiscover on: find each mailbox's server; off: `url` serves every mailbox. */
  autodiscover: boolean;
  url?: string | null;
  transport?: HttpTransport;
  transportOptions?: TransportOptions;
  /** A remembered request version to start from. */
  version?: ExchangeVersion;
  onVersion?: (version: ExchangeVersion) => void;
  /** Grouping and retry settings of changeFeed (tests shorten the back-off). */
  changeFeed?: Partial<ChangeFeedOptions>;
  /** For tests: DNS SRV and the http probe of Autodiscover. */
  discover?: Partial<Pick<DiscoverOptions, 'resolveSrv' | 'httpRedirectProbe' | 'srvLookup'>>;
  now?: () => Date;
  /** How long one Autodiscover search may take in all (each URL has the transport's timeout); default 200 s. */
  autodiscoverDeadlineMs?: number;
}

/** Answers that mean "this server does not hold this mailbox (any more)". */
export function meansMailboxMoved(error: unknown): boolean {
  if (error instanceof TransportError) return error.kind === 'refused' || error.kind === 'dns';
  if (error instanceof EwsFaultError || error instanceof EwsResponseError) {
    return ['ErrorMailboxMoveInProgress', 'ErrorNonExistentMailbox', 'ErrorMailboxStoreUnavailable'].includes(error.responseCode);
  }
  if (error instanceof EwsHttpError) return error.details.httpStatus >= 300 && error.details.httpStatus < 400;
  return false;
}

function describe(error: unknown): string {
  if (error instanceof EwsFaultError || error instanceof EwsResponseError) return error.responseCode;
  if (error instanceof EwsHttpError) return `HTTP ${error.details.httpStatus}`;
  if (error instanceof TransportError) return error.kind === 'refused' ? 'connection refused' : error.kind;
  return (error as Error).message;
}

/** The mailbox and server each error of a session came from (errors are not changed, so instanceof checks hold). */
const errorOrigins = new WeakMap<object, { mailbox: string; host: string }>();

export class EwsConnector implements Connector {
  readonly serverType = 'exchange';
  private readonly transport: HttpTransport;
  private readonly ownsTransport: boolean;
  private readonly clients = new Map<string, EwsClient>();
  private version: ExchangeVersion | undefined;
  private readonly feeds = new Set<EwsChangeFeed>();

  constructor(private readonly options: EwsConnectorOptions) {
    if (!options.autodiscover && !options.url) throw new Error('an Exchange profile without Autodiscover needs its EWS URL');
    this.transport = options.transport ?? createHttpTransport(options.transportOptions ?? {});
    this.ownsTransport = options.transport === undefined;
    this.version = options.version;
  }

  /** One client per EWS URL: it keeps the version that server accepts. */
  clientFor(url: string): EwsClient {
    let client = this.clients.get(url);
    if (!client) {
      client = new EwsClient({
        transport: this.transport,
        url,
        credentials: this.options.credentials,
        ...(this.version ? { version: this.version } : {}),
        onVersion: (version) => {
          this.version = version;
          this.options.onVersion?.(version);
        },
      });
      this.clients.set(url, client);
    }
    return client;
  }

  /** Where the mailbox is: the fixed URL, the cached location, or Autodiscover's answer (reported as a change). */
  async locate(address: string, force = false, reason = 'first use'): Promise<MailboxLocation> {
    const now = (this.options.now ?? (() => new Date()))();
    if (!this.options.autodiscover) return { url: this.options.url!, foundAt: now.toISOString() };
    const cached = force ? null : ((await this.options.cachedLocation?.(address)) ?? null);
    if (cached) return cached;
    const previous = (await this.options.cachedLocation?.(address)) ?? null;
    const found = await discoverEwsUrl(address, {
      transport: this.transport,
      credentials: this.options.credentials,
      signal: AbortSignal.timeout(this.options.autodiscoverDeadlineMs ?? 200_000),
      ...(this.options.discover ?? {}),
    });
    const location: MailboxLocation = { url: found.ewsUrl, foundAt: now.toISOString(), ...(found.groupingInformation ? { groupingInformation: found.groupingInformation } : {}) };
    if (!previous || previous.url !== location.url) await this.options.onLocationChanged?.(address, location, previous, reason);
    return location;
  }

  async open(address: string): Promise<MailboxSession> {
    const location = await this.locate(address);
    return new RelocatingSession(this, address, location);
  }

  /** What an error means for the engine; the fix texts name the service account, and the mailbox and server the call was for. */
  classify(error: unknown): ClassifiedError {
    const where = typeof error === 'object' && error !== null ? errorOrigins.get(error) : undefined;
    return classifyEwsError(error, { username: this.options.credentials.username, method: this.options.credentials.method, ...(where ?? {}) });
  }

  /** Remembers which mailbox and server an error came from, for classify's texts. */
  noteOrigin(error: unknown, mailbox: string, url: string): void {
    if (typeof error !== 'object' || error === null || errorOrigins.has(error)) return;
    let host = url;
    try {
      host = new URL(url).host;
    } catch {
      // Keep the URL as it was given.
    }
    errorOrigins.set(error, { mailbox, host });
  }

  /**
   * Push for the Inbox (or other folders) of many mailboxes: streaming subscriptions grouped per Mailbox server
   * with notification affinity, one connection per group (change-feed.ts). Closed with the connector.
   */
  changeFeed(folders: readonly WellKnownFolder[], events: ChangeFeedEvents): EwsChangeFeed {
    const feed = new EwsChangeFeed(
      {
        locate: (address, force, reason) => this.locate(address, force, reason),
        clientFor: (url) => this.clientFor(url),
        classify: (error) => this.classify(error),
        meansMailboxMoved: (error) => this.options.autodiscover && meansMailboxMoved(error),
        closed: (closed) => this.feeds.delete(closed),
      },
      folders,
      events,
      this.options.changeFeed,
    );
    this.feeds.add(feed);
    return feed;
  }

  async close(): Promise<void> {
    await Promise.allSettled([...this.feeds].map((feed) => feed.close()));
    if (this.ownsTransport) await this.transport.close();
  }

  get autodiscover(): boolean {
    return this.options.autodiscover;
  }
}

/** A session that follows its mailbox when the server it was using says it is not there. */
class RelocatingSession implements MailboxSession {
  private inner: EwsMailboxSession;

  constructor(
    private readonly connector: EwsConnector,
    readonly address: string,
    private location: MailboxLocation,
  ) {
    this.inner = new EwsMailboxSession(address, connector.clientFor(location.url));
  }

  get url(): string {
    return this.location.url;
  }

  private async run<T>(call: (session: EwsMailboxSession) => Promise<T>): Promise<T> {
    try {
      return await this.attempt(call);
    } catch (error) {
      if (!this.connector.autodiscover || !meansMailboxMoved(error)) throw error;
      const found = await this.connector.locate(this.address, true, `${new URL(this.location.url).host} answered ${describe(error)}`);
      // Autodiscover still names the same server: the answer was not about a move; let the caller see it.
      if (found.url === this.location.url) throw error;
      this.location = found;
      this.inner = new EwsMailboxSession(this.address, this.connector.clientFor(found.url));
      return this.attempt(call);
    }
  }

  private async attempt<T>(call: (session: EwsMailboxSession) => Promise<T>): Promise<T> {
    try {
      return await call(this.inner);
    } catch (error) {
      this.connector.noteOrigin(error, this.address, this.location.url);
      throw error;
    }
  }

  listChanges(folder: WellKnownFolder | FolderRef, cursor: string | null, max: number): Promise<ChangePage> {
    return this.run((s) => s.listChanges(folder, cursor, max));
  }
  inventory(folder: WellKnownFolder | FolderRef, since: Date | null, page: string | null, max: number): Promise<InventoryPage> {
    return this.run((s) => s.inventory(folder, since, page, max));
  }
  fetch(serverIds: readonly string[]): Promise<Array<FetchedMessage | MessageFailure>> {
    return this.run((s) => s.fetch(serverIds));
  }
  send(message: OutgoingMessage): Promise<void> {
    return this.run((s) => s.send(message));
  }
  findSent(internetMessageId: string): Promise<boolean> {
    return this.run((s) => s.findSent(internetMessageId));
  }
  ensureFolder(path: readonly string[], under?: WellKnownFolder): Promise<FolderRef & { created: boolean }> {
    return this.run((s) => s.ensureFolder(path, under));
  }
  move(serverIds: readonly string[], to: FolderRef | WellKnownFolder): Promise<string[]> {
    return this.run((s) => s.move(serverIds, to));
  }
  waitForChange(folders: readonly WellKnownFolder[], timeoutMs: number, signal?: AbortSignal): Promise<boolean> {
    return this.run((s) => s.waitForChange(folders, timeoutMs, signal));
  }
}
