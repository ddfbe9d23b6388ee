/**
 * What Subscribe, GetEvents and GetStreamingEvents share: the event types and the reader of a `Notification` (types.xsd NotificationType) into typed events. GetEvents answers carry
 * `m:Notification`; streaming answers carry `m:Notification` on real servers although the schema says
 * `t:Notification`, so both are read.
 */
import { NS } from '../../../xml/namespaces.js';
import { child, type XmlElement, textOf } from '../../../xml/parse.js';
import { xsBoolean } from '../../../xml/xs-boolean.js';
import { EwsProtocolError } from '../soap/errors.js';
import { type ItemId, readItemId } from './common.js';

/** The event types a subscription can ask for (types.xsd NotificationEventTypeType). */
export type SubscriptionEventType = 'CopiedEvent' | 'CreatedEvent' | 'DeletedEvent' | 'ModifiedEvent' | 'MovedEvent' | 'NewMailEvent' | 'FreeBusyChangedEvent';

/** The events a notification can carry: the above and StatusEvent (the server's "nothing happened"). */
export type NotificationEventKind = SubscriptionEventType | 'StatusEvent';

const EVENT_KINDS: ReadonlySet<string> = new Set<NotificationEventKind>([
  'CopiedEvent',
  'CreatedEvent',
  'DeletedEvent',
  'ModifiedEvent',
  'MovedEvent',
  'NewMailEvent',
  'StatusEvent',
  'FreeBusyChangedEvent',
]);

export interface NotificationEvent {
  type: NotificationEventKind;
  /** The event's watermark: where a later GetEvents or Subscribe may continue from (absent on some servers' events). */
  watermark?: string;
  /** When the change happened (absent on StatusEvent). */
  timestamp?: string;
  /** The item the event is about, or the folder. */
  itemId?: ItemId;
  folderId?: ItemId;
  parentFolderId?: ItemId;
  /** MovedEvent and CopiedEvent: where the object was before. */
  oldItemId?: ItemId;
  oldFolderId?: ItemId;
  oldParentFolderId?: ItemId;
  /** ModifiedEvent of a folder: its unread count. */
  unreadCount?: number;
}

export interface Notification {
  subscriptionId: string;
  previousWatermark?: string;
  /** GetEvents: the server holds more events than it returned; call again with the last watermark. */
  moreEvents: boolean;
  events: NotificationEvent[];
}

function readEvent(element: XmlElement): NotificationEvent {
  const t = (local: string) => child(element, NS.types, local);
  const event: NotificationEvent = { type: element.local as NotificationEventKind };
  const watermark = textOf(t('Watermark'));
  if (watermark) event.watermark = watermark;
  const timestamp = textOf(t('TimeStamp'));
  if (timestamp) event.timestamp = timestamp;
  const ids: Array<[keyof NotificationEvent, string]> = [
    ['itemId', 'ItemId'],
    ['folderId', 'FolderId'],
    ['parentFolderId', 'ParentFolderId'],
    ['oldItemId', 'OldItemId'],
    ['oldFolderId', 'OldFolderId'],
    ['oldParentFolderId', 'OldParentFolderId'],
  ];
  for (const [key, local] of ids) {
    const id = readItemId(t(local));
    if (id) (event as unknown as Record<string, ItemId>)[key] = id;
  }
  const unread = textOf(t('UnreadCount'));
  if (/^\d+$/.test(unread)) event.unreadCount = Number(unread);
  return event;
}

/** Reads a Notification element (m: or t:). Unknown children are skipped; an event type this code does not know is too. */
export function readNotification(element: XmlElement, operation: string): Notification {
  const subscriptionId = textOf(child(element, NS.types, 'SubscriptionId'));
  if (!subscriptionId) throw new EwsProtocolError(operation, 'a Notification without a SubscriptionId');
  const previousWatermark = textOf(child(element, NS.types, 'PreviousWatermark'));
  const events = element.children.filter((c) => c.ns === NS.types && EVENT_KINDS.has(c.local)).map(readEvent);
  return {
    subscriptionId,
    ...(previousWatermark ? { previousWatermark } : {}),
    moreEvents: xsBoolean(child(element, NS.types, 'MoreEvents')?.text) ?? false,
    events,
  };
}

/** The Notification child of a response message, under either namespace. */
export function notificationIn(element: XmlElement | undefined): XmlElement | undefined {
  return child(element, NS.messages, 'Notification') ?? child(element, NS.types, 'Notification');
}

/** The newest watermark a notification carries: its last event's, else its previous watermark. */
export function lastWatermark(notification: Notification): string | undefined {
  for (let i = notification.events.length - 1; i >= 0; i -= 1) {
    const w = notification.events[i]!.watermark;
    if (w) return w;
  }
  return notification.previousWatermark;
}
