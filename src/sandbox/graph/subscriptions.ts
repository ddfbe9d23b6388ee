/**
 * Graph change-notification subscriptions on a mailbox folder's messages: the validation handshake with the
 * notification URL (and the lifecycle URL), a notification POSTed for each message created in (or moved into)
 * the folder (or any of the mailbox's mail folders) and, when asked, for each one updated there, batched when several come at once, lifecycle notifications on request, expiry. Kept in memory,
 * as the EWS side's subscriptions are: a restarted sandbox has none (as if Graph had removed them).
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { isIP } from 'node:net';
import type { Mailbox, MailboxEvent } from '../state/mailbox.js';
import { badRequest, GraphError } from './errors.js';
import { etag } from './messages.js';
import { messageIdFor } from './ids.js';
import type { GraphService } from './service.js';

/** Graph's longest lifetime for a subscription to Outlook messages: 4230 minutes (under three days). */
export const MAX_EXPIRATION_MINUTES = 4230;

export interface GraphSubscription {
  id: string;
  resource: string;
  applicationId: string;
  changeType: string;
  clientState: string | null;
  notificationUrl: string;
  lifecycleNotificationUrl: string | null;
  expirationDateTime: string;
  creatorId: string;
  latestSupportedTlsVersion: string;
  mailbox: Mailbox;
  /** The folder whose messages are watched; null for all the mailbox's mail folders (`users/{id}/messages`). */
  folderId: string | null;
  /** Whether ids in notifications are immutable ones (the creating request asked for them). */
  immutable: boolean;
  /** A reauthorizationRequired lifecycle event was sent and neither reauthorize nor a renewal has answered it yet. */
  reauthorizationRequired: boolean;
  /** Notifications sent and failed, for the control API. */
  delivered: number;
  failed: number;
}

export type LifecycleEvent = 'missed' | 'reauthorizationRequired' | 'subscriptionRemoved';

function isLoopbackHost(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, '');
  return host === 'localhost' || host === '::1' || (isIP(host) === 4 && host.startsWith('127.'));
}

export class GraphSubscriptions {
  readonly all = new Map<string, GraphSubscription>();
  private readonly listeners = new Map<Mailbox, (event: MailboxEvent) => void>();
  private readonly pending = new Map<GraphSubscription, unknown[]>();
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly graph: GraphService) {
    this.timer = setInterval(() => this.expire(), 30_000);
    this.timer.unref();
  }

  close(): void {
    clearInterval(this.timer);
    for (const [mailbox, listener] of this.listeners) mailbox.off('event', listener);
    this.listeners.clear();
    this.all.clear();
  }

  /** Drops the subscriptions past their expiration. */
  expire(now = Date.now()): void {
    for (const sub of [...this.all.values()]) if (Date.parse(sub.expirationDateTime) <= now) this.remove(sub.id);
  }

  list(): GraphSubscription[] {
    this.expire();
    return [...this.all.values()];
  }

  remove(id: string): boolean {
    const sub = this.all.get(id);
    if (!sub) return false;
    this.all.delete(id);
    if (![...this.all.values()].some((s) => s.mailbox === sub.mailbox)) {
      const listener = this.listeners.get(sub.mailbox);
      if (listener) sub.mailbox.off('event', listener);
      this.listeners.delete(sub.mailbox);
    }
    return true;
  }

  checkUrl(value: unknown, name: string): string {
    if (typeof value !== 'string') throw badRequest(`${name} is required.`, 'ValidationError');
    let url: URL;
    try {
      url = new URL(value);
    } catch {
      throw badRequest(`Invalid ${name}: '${value}'.`, 'InvalidRequest');
    }
    const httpOk = url.protocol === 'http:' && this.graph.runtime.settings.graphAllowHttpNotificationUrl && isLoopbackHost(url.hostname);
    if (url.protocol !== 'https:' && !httpOk) throw badRequest(`The Notification Url '${value}' must use https.`, 'InvalidRequest');
    return url.toString();
  }

  /** Graph's validation request: POST ?validationToken=…; the endpoint must echo the token in text/plain within 10 s. */
  async validate(url: string): Promise<void> {
    const token = `Validation: Testing client application reachability for subscription Request-Id: ${randomUUID()}`;
    const target = new URL(url);
    target.searchParams.set('validationToken', token);
    const failed = () => new GraphError(400, 'InvalidRequest', 'Subscription validation request failed. Notification endpoint must respond with 200 OK to validation request.');
    try {
      const response = await fetch(target, { method: 'POST', headers: { 'Content-Type': 'text/plain; charset=utf-8' }, body: '', signal: AbortSignal.timeout(10_000) });
      const text = await response.text();
      if (response.status !== 200) throw failed();
      if (text !== token) throw new GraphError(400, 'InvalidRequest', 'Subscription validation request failed. Response must exactly match validationToken query parameter.');
    } catch (error) {
      if (error instanceof GraphError) throw error;
      throw failed();
    }
  }

  add(sub: GraphSubscription): void {
    this.all.set(sub.id, sub);
    if (!this.listeners.has(sub.mailbox)) {
      const listener = (event: MailboxEvent) => this.onEvent(sub.mailbox, event);
      sub.mailbox.on('event', listener);
      this.listeners.set(sub.mailbox, listener);
    }
  }

  /** Whether a folder holds messages the subscription watches. */
  private inScope(sub: GraphSubscription, folderId: string | undefined): boolean {
    if (!folderId) return false;
    if (sub.folderId !== null) return sub.folderId === folderId;
    const root = sub.mailbox.distinguishedFolder('msgfolderroot');
    return !!root && sub.mailbox.subtree(root.id).some((f) => f.id === folderId);
  }

  /**
   * A mailbox change as the change types a subscription watches: a message that appears in scope (created,
   * delivered, copied or moved in from outside it) is `created`; one changed in scope, or moved within it, is
   * `updated`.
   */
  private onEvent(mailbox: Mailbox, event: MailboxEvent): void {
    if (!event.itemId || !['CreatedEvent', 'MovedEvent', 'CopiedEvent', 'ModifiedEvent'].includes(event.type)) return;
    const item = mailbox.item(event.itemId);
    if (!item) return;
    const now = Date.now();
    for (const sub of this.all.values()) {
      if (sub.mailbox !== mailbox || Date.parse(sub.expirationDateTime) <= now) continue;
      if (!this.inScope(sub, event.parentFolderId)) continue;
      const kind = event.type === 'ModifiedEvent' || (event.type === 'MovedEvent' && this.inScope(sub, event.oldParentFolderId)) ? 'updated' : 'created';
      if (!sub.changeType.split(',').includes(kind)) continue;
      const id = messageIdFor(item, sub.immutable);
      const path = `Users/${mailbox.guid}/Messages/${id}`;
      this.queue(sub, {
        // Each notification has its own id (changeNotification.id; webhooks__05 shows a short opaque one).
        id: randomBytes(10).toString('base64url'),
        subscriptionId: sub.id,
        subscriptionExpirationDateTime: sub.expirationDateTime,
        changeType: kind,
        resource: path,
        resourceData: { '@odata.type': '#Microsoft.Graph.Message', '@odata.id': path, '@odata.etag': etag(mailbox, item), id },
        clientState: sub.clientState,
        tenantId: this.graph.directory.tenantId,
      });
    }
  }

  /** Notifications that come together (a burst of deliveries) go in one POST, as Graph batches them. */
  private queue(sub: GraphSubscription, entry: unknown): void {
    const list = this.pending.get(sub);
    if (list) return void list.push(entry);
    this.pending.set(sub, [entry]);
    setTimeout(() => {
      const value = this.pending.get(sub) ?? [];
      this.pending.delete(sub);
      void this.post(sub, sub.notificationUrl, value);
    }, 25).unref();
  }

  private async post(sub: GraphSubscription, url: string, value: unknown[]): Promise<void> {
    try {
      const response = await fetch(url, { method: 'POST', headers: { 'Content-Type': 'application/json; charset=utf-8' }, body: JSON.stringify({ value }), signal: AbortSignal.timeout(15_000) });
      await response.arrayBuffer();
      if (response.status >= 200 && response.status < 300) sub.delivered += value.length;
      else sub.failed += value.length;
    } catch (error) {
      sub.failed += value.length;
      this.graph.runtime.log(`sandbox graph: notification to ${url} failed: ${(error as Error).message}`);
    }
  }

  /** Sends a lifecycle notification (to the lifecycle URL, else the notification URL); subscriptionRemoved also removes it. */
  async lifecycle(sub: GraphSubscription, event: LifecycleEvent): Promise<void> {
    const url = sub.lifecycleNotificationUrl ?? sub.notificationUrl;
    if (event === 'subscriptionRemoved') this.remove(sub.id);
    if (event === 'reauthorizationRequired') sub.reauthorizationRequired = true;
    await this.post(sub, url, [
      {
        subscriptionId: sub.id,
        subscriptionExpirationDateTime: sub.expirationDateTime,
        tenantId: this.graph.directory.tenantId,
        clientState: sub.clientState,
        lifecycleEvent: event,
      },
    ]);
  }
}
