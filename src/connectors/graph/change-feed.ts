/**
 * Push for Exchange Online: one Graph change-notification subscription per watched mailbox, on its Inbox's
 * messages (changeType created), delivered to Liaison's own endpoint (`<publicUrl>/graph/notifications`), whose
 * clientState names the mailbox and is signed with the store's key (notifications.ts).
 *
 * The API route receives the notifications and emits them on `graphLifecycle`; a feed in the same process acts
 * at once: a change or a `missed` lifecycle event → onChange (a cycle catches up), `reauthorizationRequired` →
 * the subscription is renewed (that reauthorizes it), `subscriptionRemoved` → it is made again. Every
 * `checkIntervalMs` each subscription is looked at (GET): one that is gone (404: expired, removed while no
 * process listened) is made again, one close to its expiry is renewed (PATCH). Failures go to onError with a
 * growing back-off, never to a crash; polling stays the source of truth, and `covers` says yes only for a
 * mailbox whose subscription is live, so the others keep their poll interval.
 */
import type { ChangeFeed, ChangeFeedEvents, ClassifiedError } from '../connector.js';
import type { GraphClient } from './client.js';
import { GraphError } from './errors.js';
import { clientStateFor, type GraphLifecycleEvent, notificationPath, onGraphLifecycle } from './notifications.js';

/** subscription.md: a subscription on Outlook messages lasts at most 4230 minutes. */
export const MAX_SUBSCRIPTION_MINUTES = 4230;

export interface GraphChangeFeedOptions {
  /** How often each subscription is checked (GET): about a minute. */
  checkIntervalMs: number;
  /** How long a subscription is asked for: 4230 minutes less a margin for clocks. */
  lifetimeMs: number;
  /** Renewed when less than this is left. */
  renewBeforeMs: number;
  /** Back-off after a failure: base × 2^(failures-1), at most max. */
  retryBaseMs: number;
  retryMaxMs: number;
  now: () => number;
}

export const DEFAULT_FEED_OPTIONS: GraphChangeFeedOptions = {
  checkIntervalMs: 60_000,
  lifetimeMs: (MAX_SUBSCRIPTION_MINUTES - 30) * 60_000,
  renewBeforeMs: 24 * 3_600_000,
  retryBaseMs: 5_000,
  retryMaxMs: 10 * 60_000,
  now: () => Date.now(),
};

interface Subscription {
  address: string;
  id: string | null;
  expiresAt: number;
  failures: number;
  retryAt: number;
  busy: Promise<void> | null;
}

interface GraphSubscription {
  id?: string;
  expirationDateTime?: string;
}

export interface GraphFeedHost {
  client: GraphClient;
  classify(error: unknown, mailbox?: string): ClassifiedError;
  publicUrl: string;
  key: Buffer;
  closed(feed: GraphChangeFeed): void;
}

export class GraphChangeFeed implements ChangeFeed {
  private readonly subscriptions = new Map<string, Subscription>();
  private readonly options: GraphChangeFeedOptions;
  private readonly timer: NodeJS.Timeout;
  private readonly stopListening: () => void;
  private closed = false;
  private readonly notificationUrl: string;

  constructor(
    private readonly host: GraphFeedHost,
    private readonly events: ChangeFeedEvents,
    options: Partial<GraphChangeFeedOptions> = {},
  ) {
    this.options = { ...DEFAULT_FEED_OPTIONS, ...options };
    this.notificationUrl = `${host.publicUrl.replace(/\/+$/, '')}${notificationPath}`;
    this.stopListening = onGraphLifecycle((event) => this.onLifecycle(event));
    this.timer = setInterval(() => this.check(), this.options.checkIntervalMs);
    this.timer.unref();
  }

  watch(addresses: readonly string[]): void {
    if (this.closed) return;
    const wanted = new Map(addresses.map((a) => [a.toLowerCase(), a]));
    for (const [key, sub] of this.subscriptions) {
      if (wanted.has(key)) continue;
      this.subscriptions.delete(key);
      void this.remove(sub);
    }
    for (const [key, address] of wanted) {
      if (this.subscriptions.has(key)) continue;
      const sub: Subscription = { address, id: null, expiresAt: 0, failures: 0, retryAt: 0, busy: null };
      this.subscriptions.set(key, sub);
      this.run(sub, () => this.create(sub));
    }
  }

  covers(address: string): boolean {
    const sub = this.subscriptions.get(address.toLowerCase());
    return !!sub && sub.id !== null && sub.expiresAt > this.options.now();
  }

  /** The subscription id of a watched mailbox (tests, diagnostics). */
  subscriptionOf(address: string): string | null {
    return this.subscriptions.get(address.toLowerCase())?.id ?? null;
  }

  /** One check of every subscription now (the periodic one; tests call it). Resolves when all are done. */
  async check(): Promise<void> {
    if (this.closed) return;
    const now = this.options.now();
    await Promise.all(
      [...this.subscriptions.values()].map(async (sub) => {
        if (sub.busy) return sub.busy;
        if (sub.retryAt > now) return;
        if (sub.id === null) return this.run(sub, () => this.create(sub));
        return this.run(sub, () => this.verify(sub));
      }),
    );
  }

  private run(sub: Subscription, work: () => Promise<void>): Promise<void> {
    if (sub.busy) return sub.busy;
    const busy = work()
      .then(() => {
        sub.failures = 0;
        sub.retryAt = 0;
      })
      .catch((error: unknown) => {
        if (this.closed || this.subscriptions.get(sub.address.toLowerCase()) !== sub) return;
        sub.failures += 1;
        const classified = this.host.classify(error, sub.address);
        const backOff = Math.min(this.options.retryMaxMs, this.options.retryBaseMs * 2 ** (sub.failures - 1));
        sub.retryAt = this.options.now() + Math.max(backOff, classified.backOffMs ?? 0);
        try {
          this.events.onError?.(sub.address, classified);
        } catch {
          // A listener's failure is not the feed's.
        }
      })
      .finally(() => {
        sub.busy = null;
      });
    sub.busy = busy;
    return busy;
  }

  private expiration(): string {
    return new Date(this.options.now() + this.options.lifetimeMs).toISOString();
  }

  private async create(sub: Subscription): Promise<void> {
    const made = await this.host.client.json<GraphSubscription>({
      method: 'POST',
      path: '/subscriptions',
      json: {
        changeType: 'created',
        notificationUrl: this.notificationUrl,
        lifecycleNotificationUrl: this.notificationUrl,
        // The resource is a string Graph parses, not a URL: the address as it is (as in Graph's own examples).
        resource: `/users/${sub.address}/mailFolders('inbox')/messages`,
        expirationDateTime: this.expiration(),
        clientState: clientStateFor(this.host.key, sub.address),
      },
      operation: 'subscriptions',
    });
    if (!made.id) throw new Error('Graph made a subscription without an id');
    if (this.closed || this.subscriptions.get(sub.address.toLowerCase()) !== sub) {
      // Closed or no longer watched while it was being made: do not leave it behind.
      await this.delete(made.id);
      return;
    }
    sub.id = made.id;
    sub.expiresAt = this.expiresAt(made);
  }

  private expiresAt(answer: GraphSubscription): number {
    const at = answer.expirationDateTime ? Date.parse(answer.expirationDateTime) : NaN;
    return Number.isNaN(at) ? this.options.now() + this.options.lifetimeMs : at;
  }

  /** Still there? Gone: made again. Close to expiry: renewed. */
  private async verify(sub: Subscription): Promise<void> {
    const id = sub.id!;
    let current: GraphSubscription;
    try {
      current = await this.host.client.json<GraphSubscription>({ method: 'GET', path: `/subscriptions/${encodeURIComponent(id)}`, operation: 'subscriptions' });
    } catch (error) {
      if (error instanceof GraphError && error.status === 404) {
        sub.id = null;
        return this.create(sub);
      }
      throw error;
    }
    sub.expiresAt = this.expiresAt(current);
    if (sub.expiresAt - this.options.now() < this.options.renewBeforeMs) await this.renew(sub);
  }

  private async renew(sub: Subscription): Promise<void> {
    const id = sub.id;
    if (id === null) return this.create(sub);
    try {
      const renewed = await this.host.client.json<GraphSubscription>({
        method: 'PATCH',
        path: `/subscriptions/${encodeURIComponent(id)}`,
        json: { expirationDateTime: this.expiration() },
        operation: 'subscriptions',
      });
      sub.expiresAt = this.expiresAt(renewed);
    } catch (error) {
      if (error instanceof GraphError && error.status === 404) {
        sub.id = null;
        return this.create(sub);
      }
      throw error;
    }
  }

  private onLifecycle(event: GraphLifecycleEvent): void {
    if (this.closed) return;
    const sub = this.subscriptions.get(event.address.toLowerCase());
    if (!sub) return;
    // A notification for a subscription this feed does not hold (an older one, another process's) still says
    // the mailbox changed; lifecycle actions apply to this feed's own subscription only.
    const ours = event.subscriptionId === null || event.subscriptionId === sub.id;
    switch (event.event) {
      case 'change':
      case 'missed':
        try {
          this.events.onChange(sub.address);
        } catch {
          // A listener's failure is not the feed's.
        }
        return;
      case 'reauthorizationRequired':
        if (ours) void this.after(sub, () => this.renew(sub));
        return;
      case 'subscriptionRemoved':
        if (ours) {
          sub.id = null;
          void this.after(sub, () => this.create(sub));
        }
        return;
    }
  }

  /** Runs the work once what the subscription is busy with is done. */
  private async after(sub: Subscription, work: () => Promise<void>): Promise<void> {
    if (sub.busy) await sub.busy;
    await this.run(sub, work);
  }

  private async delete(id: string): Promise<void> {
    try {
      await this.host.client.request({ method: 'DELETE', path: `/subscriptions/${encodeURIComponent(id)}`, operation: 'subscriptions' });
    } catch (error) {
      // Gone already is what was wanted; anything else expires on its own within days.
      if (!(error instanceof GraphError && error.status === 404)) throw error;
    }
  }

  private async remove(sub: Subscription): Promise<void> {
    await sub.busy?.catch(() => undefined);
    if (sub.id === null) return;
    const id = sub.id;
    sub.id = null;
    await this.delete(id).catch((error: unknown) => this.events.onError?.(sub.address, this.host.classify(error, sub.address)));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.timer);
    this.stopListening();
    const all = [...this.subscriptions.values()];
    this.subscriptions.clear();
    await Promise.allSettled(all.map((sub) => this.remove(sub)));
    this.host.closed(this);
  }
}
