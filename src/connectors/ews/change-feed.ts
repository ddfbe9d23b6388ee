/**
 * Push for many mailboxes: EWS streaming subscriptions, grouped the way Microsoft's guidance for many mailboxes
 * says ("Maintain affinity between a group of subscriptions and the Mailbox server", ms-docs):
 *
 * - mailboxes are grouped by Autodiscover's EWS URL and GroupingInformation, at most 200 to a group;
 * - the group's first mailbox (alphabetically) is its anchor: its Subscribe carries `X-AnchorMailbox: <anchor>`
 *   and `X-PreferServerAffinity: true`, and the answer's `X-BackEndOverrideCookie` is carried, with both headers,
 *   on every later Subscribe and GetStreamingEvents of the group, so they all reach the Mailbox server that
 *   holds the group's subscriptions;
 * - one GetStreamingEvents connection per group carries all of its subscription ids, impersonating the anchor
 *   (its connection is charged to the anchor's budget, not to the service account's HangingConnectionLimit).
 *
 * Subscriptions that die (ErrorSubscriptionNotFound, expired, refused, a connection cut) are made again with
 * back-off; a connection that ends with ConnectionStatus Closed (its ConnectionTimeout ran out) is reopened at
 * once. The feed only says "something changed": polling stays the source of truth.
 */
import type { ChangeFeed, ChangeFeedEvents, ClassifiedError, MailboxLocation, WellKnownFolder } from '../connector.js';
import type { EwsClient } from './client.js';
import type { DistinguishedFolderName } from './operations/common.js';
import type { SubscriptionEventType } from './operations/notifications.js';
import { Subscribe } from './operations/subscribe.js';
import { Unsubscribe } from './operations/unsubscribe.js';
import type { StreamingEvents } from './streaming.js';

/** ms-docs how-to-maintain-affinity-…: "The maximum number of SubscriptionId values to include in a request is 200." */
export const MAX_SUBSCRIPTIONS_PER_CONNECTION = 200;

export const AFFINITY_COOKIE = 'X-BackEndOverrideCookie';

/** Subscribe calls of one group in flight at once (well below EWSMaxConcurrency's 27). */
const SUBSCRIBES_AT_ONCE = 4;

export interface ChangeFeedOptions {
  /** Subscriptions per group and connection (at most 200). */
  maxPerConnection: number;
  /** GetStreamingEvents ConnectionTimeout, 1–30 minutes; the connection is reopened when it runs out. */
  connectionTimeoutMinutes: number;
  /** Back-off after a failure: doubling from `retryInitialMs` up to `retryMaxMs` (a server's own hint wins when longer). */
  retryInitialMs: number;
  retryMaxMs: number;
}

export const DEFAULT_CHANGE_FEED_OPTIONS: ChangeFeedOptions = {
  maxPerConnection: MAX_SUBSCRIPTIONS_PER_CONNECTION,
  connectionTimeoutMinutes: 30,
  retryInitialMs: 1000,
  retryMaxMs: 5 * 60_000,
};

/** Events that mean new or changed mail in a watched folder (a message moved or copied in is new there). */
const FEED_EVENTS: readonly SubscriptionEventType[] = ['NewMailEvent', 'CreatedEvent', 'ModifiedEvent', 'MovedEvent', 'CopiedEvent'];

const DISTINGUISHED: Record<WellKnownFolder, DistinguishedFolderName> = {
  inbox: 'inbox',
  sent: 'sentitems',
  drafts: 'drafts',
  deleted: 'deleteditems',
  junk: 'junkemail',
};

/** What the feed needs from the connector: where a mailbox is, a client for a server, and what errors mean. */
export interface ChangeFeedHost {
  locate(address: string, force?: boolean, reason?: string): Promise<MailboxLocation>;
  clientFor(url: string): EwsClient;
  classify(error: unknown): ClassifiedError;
  /** Whether an error means the server no longer holds the mailbox (then it is located again). */
  meansMailboxMoved(error: unknown): boolean;
  /** Told when the feed has closed. */
  closed?(feed: EwsChangeFeed): void;
}

/** The `name=value` of the affinity cookie among Set-Cookie values, or null. */
export function affinityCookieOf(setCookies: readonly string[] | undefined): string | null {
  for (const value of setCookies ?? []) {
    const pair = value.split(';')[0]!.trim();
    if (pair.toLowerCase().startsWith(`${AFFINITY_COOKIE.toLowerCase()}=`) && pair.length > AFFINITY_COOKIE.length + 1) return pair;
  }
  return null;
}

/** The key mailboxes are grouped by: GroupingInformation and the EWS URL, concatenated (ms-docs, step 2). */
export function groupKeyOf(location: MailboxLocation): string {
  return `${location.groupingInformation ?? ''}\n${location.url.toLowerCase()}`;
}

interface Member {
  address: string;
  key: string;
  group: Group | null;
  subscriptionId: string | null;
  failures: number;
  retryAt: number;
}

/** A sleep that a change of plans (a new member, close) ends early. */
class Waker {
  private wakeUp: (() => void) | null = null;

  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        if (this.wakeUp === done) this.wakeUp = null;
        resolve();
      };
      const timer = setTimeout(done, Math.max(0, ms));
      this.wakeUp = done;
    });
  }

  wake(): void {
    this.wakeUp?.();
  }
}

function backOff(options: ChangeFeedOptions, failures: number, hint: number | null): number {
  const exponential = Math.min(options.retryMaxMs, options.retryInitialMs * 2 ** Math.max(0, failures - 1));
  // Spread the retries of many mailboxes so they do not all come back at once.
  const spread = exponential * (0.8 + Math.random() * 0.4);
  return Math.max(spread, hint ?? 0);
}

/** One group: one anchor, one affinity cookie, one streaming connection at a time. */
class Group {
  readonly members = new Map<string, Member>();
  anchor: string;
  cookie: string | null = null;
  private stream: StreamingEvents | null = null;
  private readonly waker = new Waker();
  private failures = 0;
  private running: Promise<void> | null = null;
  private stopped = false;
  /** Set when the members changed since the loop last looked: a connection being opened is reopened. */
  private dirty = false;

  constructor(
    readonly key: string,
    readonly url: string,
    first: Member,
    private readonly feed: EwsChangeFeed,
  ) {
    this.anchor = first.address;
  }

  get full(): boolean {
    return this.members.size >= this.feed.options.maxPerConnection;
  }

  private get client(): EwsClient {
    return this.feed.host.clientFor(this.url);
  }

  /** The headers of every request of the group after the first: affinity, and the cookie once there is one. */
  private headers(): Record<string, string> {
    return { 'x-preferserveraffinity': 'true', ...(this.cookie ? { cookie: this.cookie } : {}) };
  }

  add(member: Member): void {
    member.group = this;
    this.members.set(member.key, member);
    this.restart();
  }

  remove(member: Member): void {
    if (this.members.get(member.key) !== member) return;
    this.members.delete(member.key);
    member.group = null;
    const id = member.subscriptionId;
    member.subscriptionId = null;
    if (id) this.feed.track(this.unsubscribe(member.address, id));
    if (this.members.size === 0) this.stop();
    else this.restart();
  }

  /** The connection is reopened with the current subscriptions (a member came or went, a subscription died). */
  restart(): void {
    if (this.stopped) return;
    this.dirty = true;
    this.stream?.cancel();
    this.waker.wake();
    this.running ??= this.run().finally(() => {
      this.running = null;
      // A member may have come while the loop was finishing.
      if (!this.stopped && this.members.size > 0) this.restart();
    });
  }

  stop(): Promise<void> {
    this.stopped = true;
    this.stream?.cancel();
    this.waker.wake();
    this.feed.forgetGroup(this);
    return this.running ?? Promise.resolve();
  }

  private async unsubscribe(address: string, subscriptionId: string): Promise<void> {
    try {
      await this.client.call(Unsubscribe, { subscriptionId }, { mailbox: address, anchorMailbox: this.anchor, headers: this.headers() });
    } catch {
      // A streaming subscription no connection reads expires on the server by itself: nothing is left that matters.
    }
  }

  /** Members in the order they subscribe: the anchor first, so its answer's cookie serves the others. */
  private ordered(): Member[] {
    return [...this.members.values()].sort((a, b) => (a.address === this.anchor ? -1 : b.address === this.anchor ? 1 : a.key.localeCompare(b.key)));
  }

  private async subscribe(member: Member): Promise<void> {
    try {
      const { subscriptionId } = await this.client.call(
        Subscribe,
        { kind: 'streaming', folders: this.feed.folders.map((f) => ({ distinguishedId: DISTINGUISHED[f], mailbox: member.address })), eventTypes: FEED_EVENTS },
        {
          mailbox: member.address,
          anchorMailbox: this.anchor,
          headers: this.headers(),
          onHeaders: (headers) => {
            const cookie = affinityCookieOf(headers['set-cookie']);
            if (cookie) this.cookie = cookie;
          },
        },
      );
      if (this.members.get(member.key) !== member) {
        // Removed while subscribing.
        this.feed.track(this.unsubscribe(member.address, subscriptionId));
        return;
      }
      member.subscriptionId = subscriptionId;
      member.failures = 0;
    } catch (error) {
      if (this.members.get(member.key) !== member) return;
      member.failures += 1;
      const classified = this.feed.host.classify(error);
      member.retryAt = Date.now() + backOff(this.feed.options, member.failures, classified.backOffMs);
      this.feed.events.onError?.(member.address, classified);
      if (this.feed.host.meansMailboxMoved(error)) {
        this.remove(member);
        this.feed.relocate(member, error);
        return;
      }
      // An anchor that cannot subscribe gives the group no cookie: the next mailbox anchors it instead.
      if (member.address === this.anchor && this.cookie === null) {
        const next = this.ordered().find((m) => m !== member);
        if (next) this.anchor = next.address;
      }
    }
  }

  private async run(): Promise<void> {
    while (!this.stopped && this.members.size > 0) {
      this.dirty = false;
      const due = this.ordered().filter((m) => m.subscriptionId === null && m.retryAt <= Date.now());
      // One at a time until the group has its cookie (the anchor's answer sets it), then a few at once.
      while (due.length > 0 && this.cookie === null && !this.stopped) await this.subscribe(due.shift()!);
      await Promise.all(
        Array.from({ length: Math.min(SUBSCRIBES_AT_ONCE, due.length) }, async () => {
          for (let member = due.shift(); member && !this.stopped; member = due.shift()) await this.subscribe(member);
        }),
      );
      if (this.stopped) return;
      const ready = [...this.members.values()].filter((m) => m.subscriptionId !== null);
      if (ready.length === 0) {
        const next = Math.min(...[...this.members.values()].map((m) => m.retryAt));
        await this.waker.sleep(Number.isFinite(next) ? next - Date.now() : this.feed.options.retryInitialMs);
        continue;
      }
      const outcome = await this.listen(ready);
      if (outcome === 'failed') {
        this.failures += 1;
        await this.waker.sleep(backOff(this.feed.options, this.failures, this.lastHint));
      }
    }
  }

  private lastHint: number | null = null;

  /**
   * One GetStreamingEvents connection for the ready members, read until it closes, fails, or is restarted.
   * 'again' means reopen at once (closed after its timeout, restarted, dead subscriptions to make again).
   */
  private async listen(ready: Member[]): Promise<'again' | 'failed'> {
    const byId = new Map(ready.map((m) => [m.subscriptionId!, m]));
    let stream: StreamingEvents;
    try {
      stream = await this.client.stream(
        { subscriptionIds: [...byId.keys()], connectionTimeoutMinutes: this.feed.options.connectionTimeoutMinutes },
        { mailbox: this.anchor, anchorMailbox: this.anchor, headers: this.headers() },
      );
    } catch (error) {
      const classified = this.feed.host.classify(error);
      this.lastHint = classified.backOffMs;
      if (!this.stopped) this.feed.events.onError?.(null, classified);
      return 'failed';
    }
    const cookie = affinityCookieOf(stream.headerLists['set-cookie']);
    if (cookie) this.cookie = cookie;
    if (this.stopped || this.dirty) {
      stream.cancel();
      return 'again';
    }
    this.stream = stream;
    let closed = false;
    let died = false;
    try {
      for await (const item of stream) {
        if (item.kind === 'connection') {
          if (item.status === 'OK') this.failures = 0;
          else {
            closed = true;
            break;
          }
        } else if (item.kind === 'notification') {
          const member = byId.get(item.notification.subscriptionId);
          if (member && this.members.get(member.key) === member && item.notification.events.some((e) => e.type !== 'StatusEvent')) {
            this.feed.events.onChange(member.address);
          }
        } else {
          // These subscriptions are gone on the server: make them again, then reopen without the dead ids.
          const named = item.subscriptionIds.length > 0 ? item.subscriptionIds : [...byId.keys()];
          const classified = this.feed.host.classify(item.error);
          for (const id of named) {
            const member = byId.get(id);
            if (!member || member.subscriptionId !== id) continue;
            member.subscriptionId = null;
            member.failures += 1;
            // The first re-creation is at once: a lost subscription is the ordinary case (expired, server restarted).
            member.retryAt = member.failures > 1 ? Date.now() + backOff(this.feed.options, member.failures - 1, classified.backOffMs) : 0;
            this.feed.events.onError?.(member.address, classified);
          }
          died = true;
          break;
        }
      }
    } catch (error) {
      if (stream.cancelled || this.stopped) return 'again';
      const classified = this.feed.host.classify(error);
      this.lastHint = classified.backOffMs;
      this.feed.events.onError?.(null, classified);
      return 'failed';
    } finally {
      stream.cancel();
      if (this.stream === stream) this.stream = null;
    }
    if (closed || died || stream.cancelled || this.stopped) return 'again';
    // The answer ended without ConnectionStatus Closed: the connection was lost.
    this.lastHint = null;
    this.feed.events.onError?.(null, {
      kind: 'transient',
      code: 'ews.streaming-connection-lost',
      message: `The streaming connection to ${new URL(this.url).host} ended without ConnectionStatus Closed`,
      serverResponse: null,
      fix: null,
      backOffMs: null,
    });
    // The subscriptions may be gone with the connection: the reopened one says so, and they are made again.
    return 'failed';
  }
}

export class EwsChangeFeed implements ChangeFeed {
  readonly options: ChangeFeedOptions;
  private readonly members = new Map<string, Member>();
  private readonly groups = new Set<Group>();
  /** Placements run one at a time, in the order asked, so that groups and their anchors are predictable. */
  private placing: Promise<void> = Promise.resolve();
  private closed = false;
  private readonly relocations = new Set<ReturnType<typeof setTimeout>>();
  private readonly pending = new Set<Promise<void>>();

  constructor(
    readonly host: ChangeFeedHost,
    readonly folders: readonly WellKnownFolder[],
    readonly events: ChangeFeedEvents,
    options: Partial<ChangeFeedOptions> = {},
  ) {
    this.options = { ...DEFAULT_CHANGE_FEED_OPTIONS, ...options };
    if (!(this.options.maxPerConnection >= 1 && this.options.maxPerConnection <= MAX_SUBSCRIPTIONS_PER_CONNECTION)) {
      throw new RangeError(`a streaming connection carries 1 to ${MAX_SUBSCRIPTIONS_PER_CONNECTION} subscriptions`);
    }
    if (folders.length === 0) throw new RangeError('a change feed watches at least one folder');
  }

  watch(addresses: readonly string[]): void {
    if (this.closed) throw new Error('the change feed is closed');
    const wanted = new Map<string, string>();
    for (const address of addresses) wanted.set(address.toLowerCase(), address);
    for (const [key, member] of this.members) {
      if (wanted.has(key)) continue;
      this.members.delete(key);
      member.group?.remove(member);
    }
    // Alphabetical, so each group's first mailbox (its anchor) is the first of its members by name.
    for (const [key, address] of [...wanted].sort(([a], [b]) => a.localeCompare(b))) {
      if (this.members.has(key)) continue;
      const member: Member = { address, key, group: null, subscriptionId: null, failures: 0, retryAt: 0 };
      this.members.set(key, member);
      this.place(member, false, 'push notifications');
    }
  }

  /** The mailboxes being watched, by group (for tests and metrics): url, anchor, members. */
  describe(): Array<{ url: string; groupingInformation: string; anchor: string; cookie: string | null; members: string[]; subscribed: number }> {
    return [...this.groups].map((g) => ({
      url: g.url,
      groupingInformation: g.key.split('\n')[0]!,
      anchor: g.anchor,
      cookie: g.cookie,
      members: [...g.members.values()].map((m) => m.address),
      subscribed: [...g.members.values()].filter((m) => m.subscriptionId !== null).length,
    }));
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const timer of this.relocations) clearTimeout(timer);
    this.relocations.clear();
    const members = [...this.members.values()];
    this.members.clear();
    await this.placing.catch(() => undefined);
    const groups = [...this.groups];
    for (const member of members) member.group?.remove(member);
    await Promise.allSettled(groups.map((g) => g.stop()));
    await Promise.allSettled([...this.pending]);
    this.host.closed?.(this);
  }

  /** Keeps a clean-up call (Unsubscribe) so that close() waits for it. */
  track(work: Promise<void>): void {
    this.pending.add(work);
    void work.finally(() => this.pending.delete(work));
  }

  forgetGroup(group: Group): void {
    this.groups.delete(group);
  }

  /** A member whose server no longer holds it: found again by Autodiscover, and placed in the group of its new server. */
  relocate(member: Member, error: unknown): void {
    const timer = setTimeout(
      () => {
        this.relocations.delete(timer);
        this.place(member, true, `its server answered ${(error as Error)?.message ?? String(error)}`);
      },
      Math.max(0, member.retryAt - Date.now()),
    );
    this.relocations.add(timer);
  }

  private place(member: Member, force: boolean, reason: string): void {
    this.placing = this.placing.then(async () => {
      if (this.closed || this.members.get(member.key) !== member || member.group) return;
      let location: MailboxLocation;
      try {
        location = await this.host.locate(member.address, force, reason);
      } catch (error) {
        if (this.closed || this.members.get(member.key) !== member) return;
        member.failures += 1;
        const classified = this.host.classify(error);
        member.retryAt = Date.now() + backOff(this.options, member.failures, classified.backOffMs);
        this.events.onError?.(member.address, classified);
        this.relocate(member, error);
        return;
      }
      if (this.closed || this.members.get(member.key) !== member || member.group) return;
      const key = groupKeyOf(location);
      let group = [...this.groups].find((g) => g.key === key && !g.full);
      if (!group) {
        group = new Group(key, location.url, member, this);
        this.groups.add(group);
      }
      group.add(member);
    });
  }
}
