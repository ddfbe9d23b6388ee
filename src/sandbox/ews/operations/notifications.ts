/** Subscribe (pull and streaming), GetEvents, Unsubscribe. GetStreamingEvents is in streaming.ts. */
import { attr, child, children, type XmlElement } from '../../../xml/parse.js';
import { NS } from '../../../xml/namespaces.js';
import { el } from '../../../xml/write.js';
import type { EventType } from '../../state/mailbox.js';
import { answerOne, type EwsContext, resolveFolder } from '../context.js';
import { EwsError, TEXT } from '../soap.js';
import { isWellFormedSubscriptionId, type Subscription, writeEvent, writeStatusEvent } from '../subscriptions.js';
import type { Operation } from './types.js';
import { xsBoolean } from '../../../xml/xs-boolean.js';

const EVENT_TYPES: readonly EventType[] = ['NewMailEvent', 'CreatedEvent', 'DeletedEvent', 'ModifiedEvent', 'MovedEvent', 'CopiedEvent'];
/** GetEvents answers at most this many events at once (Exchange's number). */
const EVENTS_PER_CALL = 50;

export const subscribe: Operation = {
  name: 'Subscribe',
  handle(context, request) {
    return answerOne('Subscribe', () => {
      const pull = child(request, NS.messages, 'PullSubscriptionRequest');
      const streaming = child(request, NS.messages, 'StreamingSubscriptionRequest');
      const spec = pull ?? streaming;
      if (!spec) {
        throw new EwsError('ErrorInvalidSubscriptionRequest', 'The sandbox does not send push notifications; use a pull or streaming subscription.');
      }
      const folderIds = children(child(spec, NS.types, 'FolderIds'), NS.types);
      // A folder of a mailbox the caller does not own: Exchange refuses subscriptions through delegate access.
      const owner = (f: XmlElement) => child(child(f, NS.types, 'Mailbox'), NS.types, 'EmailAddress')?.text.trim();
      if (folderIds.some((f) => owner(f) && !context.mailbox.owns(owner(f)!))) {
        throw new EwsError('ErrorSubscriptionDelegateAccessNotSupported', 'Subscriptions are not supported for delegate user access.');
      }
      const folders = xsBoolean(attr(spec, 'SubscribeToAllFolders')) === true ? ('all' as const) : new Set(folderIds.map((f) => resolveFolder(context, f).id));
      const eventTypes = new Set(
        children(child(spec, NS.types, 'EventTypes'), NS.types, 'EventType')
          .map((e) => e.text.trim() as EventType)
          .filter((e) => EVENT_TYPES.includes(e)),
      );
      const timeout = Number(child(spec, NS.types, 'Timeout')?.text ?? 30);
      const subscription = context.subscriptions.create(pull ? 'pull' : 'streaming', context.account.username, context.server, context.mailbox, folders, eventTypes, timeout);
      return [el('m:SubscriptionId', null, subscription.id), pull ? el('m:Watermark', null, context.subscriptions.watermark(subscription, 0)) : null];
    });
  },
};

/** The subscription named by the element, checked for existence, expiry and ownership. */
export function ownSubscription(context: EwsContext, idElement: XmlElement | undefined): Subscription {
  const id = idElement?.text.trim() ?? '';
  if (!isWellFormedSubscriptionId(id)) throw new EwsError('ErrorInvalidSubscription', TEXT.invalidSubscription);
  const found = context.subscriptions.get(id);
  if (found === 'expired') throw new EwsError('ErrorExpiredSubscription', 'The subscription has expired.');
  // A subscription lives on the server that made it; without affinity a request may reach another one.
  if (!found || found.server !== context.server) throw new EwsError('ErrorSubscriptionNotFound', TEXT.subscriptionNotFound);
  if (found.owner !== context.account.username.toLowerCase()) throw new EwsError('ErrorSubscriptionAccessDenied', TEXT.subscriptionAccessDenied);
  return found;
}

export const getEvents: Operation = {
  name: 'GetEvents',
  handle(context, request) {
    return answerOne('GetEvents', () => {
      const subscription = ownSubscription(context, child(request, NS.messages, 'SubscriptionId'));
      if (subscription.kind !== 'pull') throw new EwsError('ErrorInvalidPullSubscriptionId', 'The subscription is not a pull subscription.');
      const watermark = child(request, NS.messages, 'Watermark')?.text.trim() ?? '';
      const [owner, counterText] = Buffer.from(watermark, 'base64').toString('utf8').split('|');
      const counter = Number(counterText);
      if (owner !== subscription.id || !Number.isInteger(counter) || counter > subscription.counter) {
        throw new EwsError('ErrorInvalidWatermark', 'The watermark used for creating this subscription was not found.');
      }
      subscription.lastUsed = Date.now();
      // Events the client has acknowledged by asking from a later watermark are dropped.
      subscription.queue = subscription.queue.filter((q) => q.counter > counter);
      const batch = subscription.queue.slice(0, EVENTS_PER_CALL);
      const events =
        batch.length > 0
          ? batch.map((q) => writeEvent(q, context.mailbox))
          : [writeStatusEvent(context.subscriptions.watermark(subscription, subscription.counter))];
      return el(
        'm:Notification',
        null,
        el('t:SubscriptionId', null, subscription.id),
        el('t:PreviousWatermark', null, watermark),
        el('t:MoreEvents', null, subscription.queue.length > batch.length),
        events,
      );
    });
  },
};

export const unsubscribe: Operation = {
  name: 'Unsubscribe',
  handle(context, request) {
    return answerOne('Unsubscribe', () => {
      context.subscriptions.remove(ownSubscription(context, child(request, NS.messages, 'SubscriptionId')));
      return null;
    });
  },
};
