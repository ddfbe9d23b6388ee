/**
 * Notification subscriptions: pull (Subscribe + GetEvents) and streaming (Subscribe + GetStreamingEvents).
 * Each subscription listens to its mailbox, keeps the events it wants in a queue with a watermark per event,
 * and hands them out by watermark (pull) or to the open streaming connections (streaming).
 * Like Exchange, subscriptions live in memory only: after a restart they are gone (ErrorSubscriptionNotFound).
 */
import { randomUUID } from 'node:crypto';
import { el, type Xml } from '../../xml/write.js';
import type { EventType, Mailbox, MailboxEvent } from '../state/mailbox.js';
import type { ServerName } from '../state/model.js';
import { isoSeconds } from './shapes.js';

export type SubscriptionKind = 'pull' | 'streaming';

interface QueuedEvent {
  watermark: string;
  counter: number;
  event: MailboxEvent;
}

export interface Subscription {
  id: string;
  kind: SubscriptionKind;
  /** The account that made it (lower case): only it may use it. */
  owner: string;
  /** The server that holds it: requests served by another do not find it (ErrorSubscriptionNotFound). */
  server: ServerName;
  mailbox: Mailbox;
  folders: Set<string> | 'all';
  eventTypes: Set<EventType>;
  /** Pull: minutes it may stay idle without a GetEvents before it expires. */
  timeoutMinutes: number;
  lastUsed: number;
  counter: number;
  queue: QueuedEvent[];
  sinks: Set<(notification: QueuedEvent[]) => void>;
  detach(): void;
}

const SUBSCRIPTION_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * Whether a text can be a subscription id at all (base64 of the mailbox GUID and a random one). One that cannot
 * is ErrorInvalidSubscription; one that can but names no subscription is ErrorSubscriptionNotFound.
 */
export function isWellFormedSubscriptionId(id: string): boolean {
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(id) || id.length % 4 !== 0) return false;
  return SUBSCRIPTION_ID.test(Buffer.from(id, 'base64').toString('latin1'));
}

/** Streaming subscriptions not read by any connection expire after this long (Exchange keeps them ~30 min). */
const STREAMING_IDLE_MINUTES = 30;

/** One open GetStreamingEvents connection: whose it is, what it carries, and how to cut it. */
export interface OpenStream {
  owner: string;
  server: ServerName;
  subscriptions: readonly Subscription[];
  /** The X-AnchorMailbox the connection was opened with, for tests that look at grouping. */
  anchor: string | null;
  /** Cuts the connection as a failing server does (no closing document). */
  cut(): void;
}

export interface DropFilter {
  mailbox?: string | null;
  server?: ServerName | null;
}

export class Subscriptions {
  private readonly byId = new Map<string, Subscription>();
  private readonly streams = new Set<OpenStream>();

  watermark(subscription: Subscription, counter: number): string {
    return Buffer.from(`${subscription.id}|${counter}`).toString('base64');
  }

  create(
    kind: SubscriptionKind,
    owner: string,
    server: ServerName,
    mailbox: Mailbox,
    folders: Set<string> | 'all',
    eventTypes: Set<EventType>,
    timeoutMinutes: number,
  ): Subscription {
    const subscription: Subscription = {
      id: Buffer.from(`${mailbox.guid}|${randomUUID()}`).toString('base64'),
      kind,
      owner: owner.toLowerCase(),
      server,
      mailbox,
      folders,
      eventTypes,
      timeoutMinutes,
      lastUsed: Date.now(),
      counter: 0,
      queue: [],
      sinks: new Set(),
      detach: () => mailbox.off('event', listener),
    };
    const listener = (event: MailboxEvent) => {
      if (!subscription.eventTypes.has(event.type)) return;
      if (subscription.folders !== 'all') {
        const folders = subscription.folders;
        if (!folders.has(event.parentFolderId) && !(event.oldParentFolderId && folders.has(event.oldParentFolderId))) return;
      }
      subscription.counter += 1;
      const queued = { watermark: this.watermark(subscription, subscription.counter), counter: subscription.counter, event };
      if (subscription.sinks.size > 0) for (const sink of subscription.sinks) sink([queued]);
      else subscription.queue.push(queued);
    };
    mailbox.on('event', listener);
    this.byId.set(subscription.id, subscription);
    return subscription;
  }

  /** The subscription, unless it is unknown or has expired (then it is removed). */
  get(id: string): Subscription | 'expired' | undefined {
    const subscription = this.byId.get(id);
    if (!subscription) return undefined;
    const idleMinutes = subscription.kind === 'pull' ? subscription.timeoutMinutes : STREAMING_IDLE_MINUTES;
    if (subscription.sinks.size === 0 && Date.now() - subscription.lastUsed > idleMinutes * 60_000) {
      this.remove(subscription);
      return 'expired';
    }
    return subscription;
  }

  remove(subscription: Subscription): void {
    subscription.detach();
    this.byId.delete(subscription.id);
  }

  /** Drops every subscription (the server stops). */
  clear(): void {
    for (const subscription of this.byId.values()) subscription.detach();
    this.byId.clear();
  }

  /** Counts the streaming connections an account holds open, for HangingConnectionLimit (one per connection, whatever it carries). */
  openStreams(owner: string): number {
    let count = 0;
    for (const stream of this.streams) if (stream.owner === owner.toLowerCase()) count += 1;
    return count;
  }

  /** Registers an open streaming connection; the returned function unregisters it. */
  addStream(stream: OpenStream): () => void {
    const entry = { ...stream, owner: stream.owner.toLowerCase() };
    this.streams.add(entry);
    return () => this.streams.delete(entry);
  }

  /** The open streaming connections, for the control API. */
  openConnections(): OpenStream[] {
    return [...this.streams];
  }

  /** Every live subscription, for the control API. */
  list(): Subscription[] {
    return [...this.byId.values()];
  }

  /**
   * Loses the matching subscriptions as a server does when its EWS application pool recycles: they are gone
   * (ErrorSubscriptionNotFound from then on) and the streaming connections that carried them are cut.
   */
  drop(filter: DropFilter = {}): { subscriptions: number; connections: number } {
    const mailbox = filter.mailbox?.toLowerCase() ?? null;
    const matches = (s: Subscription) => (mailbox === null || s.mailbox.owns(mailbox)) && (!filter.server || s.server === filter.server);
    const dropped = [...this.byId.values()].filter(matches);
    for (const subscription of dropped) this.remove(subscription);
    const cut = [...this.streams].filter((stream) => stream.subscriptions.some((s) => dropped.includes(s)));
    for (const stream of cut) stream.cut();
    return { subscriptions: dropped.length, connections: cut.length };
  }
}

/** One event as the schema's BaseNotificationEventType and its extensions write it. */
export function writeEvent(queued: QueuedEvent, mailbox: Mailbox): Xml {
  const { event } = queued;
  const ref = (name: string, id: string | undefined, kind: 'item' | 'folder') => {
    if (!id) return null;
    const target = kind === 'item' ? mailbox.items.get(id) : mailbox.folders.get(id);
    return el(name, { Id: id, ChangeKey: target ? mailbox.changeKey(target) : undefined });
  };
  const target = event.itemId ? ref('t:ItemId', event.itemId, 'item') : ref('t:FolderId', event.folderId, 'folder');
  const old =
    event.type === 'MovedEvent' || event.type === 'CopiedEvent'
      ? [
          event.oldItemId ? ref('t:OldItemId', event.oldItemId, 'item') : ref('t:OldFolderId', event.oldFolderId, 'folder'),
          ref('t:OldParentFolderId', event.oldParentFolderId, 'folder'),
        ]
      : [];
  return el(
    `t:${event.type}`,
    null,
    el('t:Watermark', null, queued.watermark),
    el('t:TimeStamp', null, isoSeconds(event.timestamp)),
    target,
    ref('t:ParentFolderId', event.parentFolderId, 'folder'),
    old,
    event.type === 'ModifiedEvent' && event.unreadCount !== undefined ? el('t:UnreadCount', null, event.unreadCount) : null,
  );
}

export function writeStatusEvent(watermark: string): Xml {
  return el('t:StatusEvent', null, el('t:Watermark', null, watermark));
}

export type { QueuedEvent };
