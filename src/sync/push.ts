/**
 * Push: for every profile whose connector has a change feed, one feed watches the Inbox of that profile's
 * enabled mailboxes (the set refreshed periodically). A change makes the mailbox due now (sync.wake) and wakes
 * this worker's loop, so the cycle starts in moments; polling still runs and catches what a notification missed.
 *
 * Several workers may each run feeds for the same mailboxes: every one of them wakes the mailbox, wake is
 * idempotent, and the lease still lets one worker cycle it. That costs a subscription per worker, not a
 * duplicate outcome.
 */
import type { ChangeFeed, ClassifiedError, Connector } from '../connectors/connector.js';
import type { ConnectorCache } from './connector-cache.js';
import type { EngineEvent } from './engine-types.js';
import type { SyncStore } from './ports.js';

/** A feed that reported an error this recently is not trusted to stand in for fast polling. */
export const FEED_HEALTH_WINDOW_MS = 5 * 60_000;
export const WATCH_REFRESH_MS = 60_000;

interface Feed {
  connector: Connector;
  feed: ChangeFeed;
  addresses: string;
  startedAt: number;
  lastErrorAt: number | null;
}

export class PushFeeds {
  private readonly feeds = new Map<string, Feed>();
  private timer: NodeJS.Timeout | null = null;
  private refreshing: Promise<void> | null = null;
  private closed = false;

  constructor(
    private readonly options: {
      sync: SyncStore;
      cache: ConnectorCache;
      /** New mail for an address: the loop should claim at once. */
      wakeLoop: () => void;
      now: () => Date;
      emit: (event: EngineEvent) => void;
      refreshMs?: number;
    },
  ) {}

  start(): void {
    void this.refresh();
    this.timer = setInterval(() => void this.refresh(), this.options.refreshMs ?? WATCH_REFRESH_MS);
  }

  /** Whether mail for this mailbox arrives by push now (polling may then be slower). */
  healthy(profileId: string, address: string): boolean {
    const feed = this.feeds.get(profileId);
    if (!feed) return false;
    // A feed with a bounded number of connections (IMAP IDLE) leaves some mailboxes to polling at full speed.
    if (feed.feed.covers && !feed.feed.covers(address)) return false;
    const now = Date.now();
    return feed.lastErrorAt === null || now - feed.lastErrorAt > FEED_HEALTH_WINDOW_MS;
  }

  refresh(): Promise<void> {
    this.refreshing ??= this.doRefresh().finally(() => {
      this.refreshing = null;
    });
    return this.refreshing;
  }

  private async doRefresh(): Promise<void> {
    if (this.closed) return;
    let watched: Array<{ profileId: string; address: string }>;
    try {
      watched = await this.options.sync.watchedMailboxes();
    } catch (error) {
      this.options.emit({ type: 'failure', mailboxId: null, address: null, code: 'push.watched-mailboxes', message: (error as Error).message });
      return;
    }
    const byProfile = new Map<string, string[]>();
    for (const { profileId, address } of watched) byProfile.set(profileId, [...(byProfile.get(profileId) ?? []), address]);

    for (const [profileId, feed] of this.feeds) {
      if (!byProfile.has(profileId)) await this.stopFeed(profileId, feed);
    }
    for (const [profileId, addresses] of byProfile) {
      if (this.closed) return;
      try {
        const profile = await this.options.sync.profile(profileId);
        const connector = this.options.cache.current(profile);
        let feed = this.feeds.get(profileId);
        if (feed && feed.connector !== connector) {
          // The profile changed: its old connector's feed goes with it.
          await this.stopFeed(profileId, feed);
          feed = undefined;
        }
        if (!feed) {
          if (!connector.changeFeed) continue;
          feed = {
            connector,
            feed: connector.changeFeed(['inbox'], {
              onChange: (address) => this.changed(address),
              onError: (address, error) => this.failed(profileId, address, error),
            }),
            addresses: '',
            startedAt: Date.now(),
            lastErrorAt: null,
          };
          this.feeds.set(profileId, feed);
        }
        const key = [...addresses].sort().join('\n');
        if (key !== feed.addresses) {
          feed.feed.watch(addresses);
          feed.addresses = key;
        }
      } catch (error) {
        // A profile whose connector cannot be built has its mailboxes failing their cycles, which say why.
        this.options.emit({ type: 'failure', mailboxId: null, address: null, code: 'push.feed', message: `profile ${profileId}: ${(error as Error).message}` });
      }
    }
  }

  private changed(address: string): void {
    this.options.wakeLoop();
    this.options.sync.wake([address], this.options.now()).then(
      () => this.options.wakeLoop(),
      (error: unknown) => this.options.emit({ type: 'failure', mailboxId: null, address, code: 'push.wake', message: (error as Error).message }),
    );
  }

  private failed(profileId: string, address: string | null, error: ClassifiedError): void {
    const feed = this.feeds.get(profileId);
    if (feed) feed.lastErrorAt = Date.now();
    this.options.emit({ type: 'failure', mailboxId: null, address, code: error.code, message: `push: ${error.message}` });
  }

  private async stopFeed(profileId: string, feed: Feed): Promise<void> {
    this.feeds.delete(profileId);
    await feed.feed.close().catch((error: unknown) => {
      this.options.emit({ type: 'failure', mailboxId: null, address: null, code: 'push.close', message: (error as Error).message });
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    await this.refreshing;
    for (const [profileId, feed] of this.feeds) await this.stopFeed(profileId, feed);
  }
}
