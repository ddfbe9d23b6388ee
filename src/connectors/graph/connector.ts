/**
 * The Exchange Online connector: the Connector interface over Microsoft Graph with app-only tokens. One
 * transport, one token source and one Graph client per profile; a session per mailbox holds nothing (each
 * request stands alone), so close() of a session is not needed. Push (changeFeed) exists only when Liaison has a
 * public URL Microsoft can reach; without one the mailboxes are polled.
 */
import type { ChangeFeed, ChangeFeedEvents, ChangePage, ClassifiedError, Connector, FetchedMessage, FolderRef, InventoryPage, MailboxSession, MessageFailure, OutgoingMessage, WellKnownFolder } from '../connector.js';
import { createHttpTransport } from '../ews/transport/http.js';
import type { HttpTransport } from '../ews/transport/types.js';
import { GraphChangeFeed, type GraphChangeFeedOptions } from './change-feed.js';
import { classifyGraphError } from './classify.js';
import { GraphClient, type GraphClientOptions, MAX_MIME_BYTES } from './client.js';
import type { GraphExplainContext } from './explain.js';
import { GraphMailboxSession } from './mailbox.js';
import { onGraphLifecycle } from './notifications.js';
import { defaultAuthority, GraphTokens } from './token.js';

export const DEFAULT_GRAPH_URL = 'https://graph.microsoft.com';

export interface GraphConnectorOptions {
  tenantId: string;
  clientId: string;
  clientSecret?: string | null;
  /** PEM with the private key and the certificate (instead of a secret). */
  certificatePem?: string | null;
  /** null: https://login.microsoftonline.com/<tenantId>. */
  authority?: string | null;
  /** The Graph base URL; default https://graph.microsoft.com. */
  graphUrl?: string | null;
  resolve: readonly string[];
  trustedCaPem?: string | null;
  /** Per request; the profile's request timeout. */
  timeoutMs?: number;
  pushEndpoint?: { publicUrl: string; key: Buffer } | undefined;
  /** For tests: the feed's timings, the client's retry limits. */
  changeFeed?: Partial<GraphChangeFeedOptions>;
  client?: Partial<Pick<GraphClientOptions, 'maxRetryWaitMs' | 'maxRetries' | 'deadlineMs' | 'sleep' | 'onThrottle'>>;
  transport?: HttpTransport;
}

/** The mailbox each error of a session came from (errors are not changed, so instanceof checks hold). */
const errorOrigins = new WeakMap<object, string>();

export class GraphConnector implements Connector {
  readonly serverType = 'exchange-online';
  readonly tokens: GraphTokens;
  readonly client: GraphClient;
  readonly authority: string;
  private readonly transport: HttpTransport;
  private readonly ownsTransport: boolean;
  private readonly feeds = new Set<GraphChangeFeed>();
  changeFeed?: (folders: readonly WellKnownFolder[], events: ChangeFeedEvents) => ChangeFeed;

  constructor(private readonly options: GraphConnectorOptions) {
    const graphUrl = (options.graphUrl || DEFAULT_GRAPH_URL).replace(/\/+$/, '');
    this.authority = (options.authority || defaultAuthority(options.tenantId)).replace(/\/+$/, '');
    const timeoutMs = options.timeoutMs ?? 100_000;
    this.transport =
      options.transport ??
      createHttpTransport({
        resolve: options.resolve,
        trustedCaPem: options.trustedCaPem ?? null,
        timeoutMs,
        connectTimeoutMs: Math.min(timeoutMs, 30_000),
        maxResponseBytes: MAX_MIME_BYTES,
      });
    this.ownsTransport = options.transport === undefined;
    this.tokens = new GraphTokens({
      authority: this.authority,
      tenantId: options.tenantId,
      clientId: options.clientId,
      ...(options.clientSecret ? { clientSecret: options.clientSecret } : {}),
      ...(options.certificatePem && !options.clientSecret ? { certificatePem: options.certificatePem } : {}),
      graphUrl,
      resolve: options.resolve,
      transport: this.transport,
    });
    this.client = new GraphClient({ graphUrl, tokens: this.tokens, transport: this.transport, ...(options.client ?? {}) });
    const push = options.pushEndpoint;
    if (push) {
      this.changeFeed = (_folders, events) => {
        const feed = new GraphChangeFeed(
          { client: this.client, classify: (error, mailbox) => this.classifyFor(error, mailbox), publicUrl: push.publicUrl, key: push.key, closed: (f) => this.feeds.delete(f) },
          events,
          options.changeFeed,
        );
        this.feeds.add(feed);
        return feed;
      };
    }
  }

  async open(address: string): Promise<MailboxSession> {
    return new OriginSession(new GraphMailboxSession(address, this.client, (timeoutMs, signal) => waitForNotification(address, timeoutMs, signal)));
  }

  /** Who and where, for the fix texts. */
  context(mailbox?: string): GraphExplainContext {
    let authorityHost: string | undefined;
    try {
      authorityHost = new URL(this.authority).host;
    } catch {
      authorityHost = undefined;
    }
    return {
      clientId: this.options.clientId,
      tenantId: this.options.tenantId,
      graphHost: this.client.base.host,
      ...(authorityHost ? { authorityHost } : {}),
      ...(mailbox ? { mailbox } : {}),
    };
  }

  classify(error: unknown): ClassifiedError {
    const mailbox = typeof error === 'object' && error !== null ? errorOrigins.get(error) : undefined;
    return this.classifyFor(error, mailbox);
  }

  private classifyFor(error: unknown, mailbox?: string): ClassifiedError {
    return classifyGraphError(error, this.context(mailbox));
  }

  async close(): Promise<void> {
    await Promise.allSettled([...this.feeds].map((feed) => feed.close()));
    if (this.ownsTransport) await this.transport.close();
  }
}

/** Resolves true when this process's notification route reports a change (or a missed one) for the address. */
export function waitForNotification(address: string, timeoutMs: number, signal?: AbortSignal): Promise<boolean> {
  if (signal?.aborted) return Promise.resolve(false);
  const wanted = address.toLowerCase();
  return new Promise((resolve) => {
    let stop: () => void = () => undefined;
    const finish = (changed: boolean) => {
      clearTimeout(timer);
      stop();
      signal?.removeEventListener('abort', onAbort);
      resolve(changed);
    };
    const onAbort = () => finish(false);
    const timer = setTimeout(() => finish(false), Math.max(0, timeoutMs));
    stop = onGraphLifecycle((event) => {
      if (event.address.toLowerCase() === wanted && (event.event === 'change' || event.event === 'missed')) finish(true);
    });
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** Notes the mailbox on every error a session throws, for classify's texts. */
class OriginSession implements MailboxSession {
  constructor(private readonly inner: GraphMailboxSession) {}

  get address(): string {
    return this.inner.address;
  }

  private async run<T>(call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (error) {
      if (typeof error === 'object' && error !== null && !errorOrigins.has(error)) errorOrigins.set(error, this.inner.address);
      throw error;
    }
  }

  listChanges(folder: WellKnownFolder | FolderRef, cursor: string | null, max: number): Promise<ChangePage> {
    return this.run(() => this.inner.listChanges(folder, cursor, max));
  }
  inventory(folder: WellKnownFolder | FolderRef, since: Date | null, page: string | null, max: number): Promise<InventoryPage> {
    return this.run(() => this.inner.inventory(folder, since, page, max));
  }
  async fetch(serverIds: readonly string[]): Promise<Array<FetchedMessage | MessageFailure>> {
    const out = await this.run(() => this.inner.fetch(serverIds));
    for (const entry of out) if ('error' in entry && !errorOrigins.has(entry.error)) errorOrigins.set(entry.error, this.inner.address);
    return out;
  }
  send(message: OutgoingMessage): Promise<void> {
    return this.run(() => this.inner.send(message));
  }
  findSent(internetMessageId: string): Promise<boolean> {
    return this.run(() => this.inner.findSent(internetMessageId));
  }
  ensureFolder(path: readonly string[], under?: WellKnownFolder): Promise<FolderRef & { created: boolean }> {
    return this.run(() => this.inner.ensureFolder(path, under));
  }
  move(serverIds: readonly string[], to: FolderRef | WellKnownFolder): Promise<string[]> {
    return this.run(() => this.inner.move(serverIds, to));
  }
  waitForChange(folders: readonly WellKnownFolder[], timeoutMs: number, signal?: AbortSignal): Promise<boolean> {
    return this.run(() => this.inner.waitForChange(folders, timeoutMs, signal));
  }
}
