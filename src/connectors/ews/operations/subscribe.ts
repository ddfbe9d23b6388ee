/**
 * Subscribe: a pull subscription (events collected by the server, read with GetEvents until it times out) or a
 * streaming one (events pushed down a GetStreamingEvents connection, Exchange 2010 SP1 and later). Push
 * subscriptions (the server calling a URL of ours) are not offered: Liaison runs behind firewalls.
 */
import { NS } from '../../../xml/namespaces.js';
import { child, textOf } from '../../../xml/parse.js';
import { el } from '../../../xml/write.js';
import { EwsProtocolError } from '../soap/errors.js';
import { singleResponse } from '../soap/response.js';
import { atLeast } from '../versions.js';
import type { EwsOperation } from './operation.js';
import { type FolderRef, folderRefXml } from './common.js';
import type { SubscriptionEventType } from './notifications.js';

interface SubscriptionScope {
  /** The folders watched; leave out with `allFolders`. */
  folders?: readonly FolderRef[];
  /** Every folder of the mailbox (SubscribeToAllFolders). */
  allFolders?: boolean;
  eventTypes: readonly SubscriptionEventType[];
}

export interface PullSubscribeRequest extends SubscriptionScope {
  kind: 'pull';
  /** Continue an earlier subscription's stream of events from this watermark. */
  watermark?: string;
  /** Minutes without a GetEvents after which the server drops the subscription (1–1440). */
  timeoutMinutes: number;
}

export interface StreamingSubscribeRequest extends SubscriptionScope {
  kind: 'streaming';
}

export type SubscribeRequest = PullSubscribeRequest | StreamingSubscribeRequest;

export interface SubscribeResult {
  subscriptionId: string;
  /** Pull subscriptions: the watermark to start GetEvents from. Streaming ones have none. */
  watermark: string | null;
}

/** Streaming notifications came with Exchange 2010 SP1 (ews-operations-in-exchange.md lists GetStreamingEvents so). */
export const STREAMING_MIN_VERSION = 'Exchange2010_SP1';

export const Subscribe: EwsOperation<SubscribeRequest, SubscribeResult> = {
  name: 'Subscribe',
  minVersion: 'Exchange2007_SP1',
  build(request, context) {
    if (request.eventTypes.length === 0) throw new RangeError('Subscribe: at least one event type is needed');
    if (!request.allFolders && (request.folders?.length ?? 0) === 0) throw new RangeError('Subscribe: name the folders, or subscribe to all folders');
    if (request.kind === 'streaming' && !atLeast(context.version, STREAMING_MIN_VERSION)) {
      throw new RangeError(`Subscribe: streaming subscriptions need ${STREAMING_MIN_VERSION} or later, the server speaks ${context.version}`);
    }
    if (request.kind === 'pull' && !(Number.isInteger(request.timeoutMinutes) && request.timeoutMinutes >= 1 && request.timeoutMinutes <= 1440)) {
      throw new RangeError('Subscribe: a pull subscription times out after 1 to 1440 minutes');
    }
    const scope = [
      request.folders && request.folders.length > 0 ? el('t:FolderIds', null, request.folders.map(folderRefXml)) : null,
      el('t:EventTypes', null, request.eventTypes.map((type) => el('t:EventType', null, type))),
    ];
    const attributes = { SubscribeToAllFolders: request.allFolders ? 'true' : undefined };
    const body =
      request.kind === 'pull'
        ? el('m:PullSubscriptionRequest', attributes, scope, request.watermark ? el('t:Watermark', null, request.watermark) : null, el('t:Timeout', null, request.timeoutMinutes))
        : el('m:StreamingSubscriptionRequest', attributes, scope);
    return el('m:Subscribe', null, body).serialized;
  },
  read(response, context) {
    const message = singleResponse(response, context);
    const subscriptionId = textOf(child(message, NS.messages, 'SubscriptionId'));
    if (!subscriptionId) throw new EwsProtocolError(context.operation, 'a successful Subscribe answer without a SubscriptionId');
    const watermark = textOf(child(message, NS.messages, 'Watermark'));
    return { subscriptionId, watermark: watermark || null };
  },
};
