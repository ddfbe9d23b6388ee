/**
 * GetEvents: the events a pull subscription collected since a watermark. The answer's last event watermark is
 * where the next call starts; MoreEvents says to call again at once.
 */
import { el } from '../../../xml/write.js';
import { EwsProtocolError } from '../soap/errors.js';
import { singleResponse } from '../soap/response.js';
import type { EwsOperation } from './operation.js';
import { lastWatermark, type Notification, notificationIn, readNotification } from './notifications.js';

export interface GetEventsRequest {
  subscriptionId: string;
  watermark: string;
}

export interface GetEventsResult extends Notification {
  /** Where the next GetEvents continues: the last event's watermark, else PreviousWatermark; null when the answer has neither. */
  watermark: string | null;
}

export const GetEvents: EwsOperation<GetEventsRequest, GetEventsResult> = {
  name: 'GetEvents',
  minVersion: 'Exchange2007_SP1',
  build(request) {
    return el('m:GetEvents', null, el('m:SubscriptionId', null, request.subscriptionId), el('m:Watermark', null, request.watermark)).serialized;
  },
  read(response, context) {
    const message = singleResponse(response, context);
    const element = notificationIn(message);
    if (!element) throw new EwsProtocolError(context.operation, 'a successful GetEvents answer without a Notification');
    const notification = readNotification(element, context.operation);
    return { ...notification, watermark: lastWatermark(notification) ?? null };
  },
};
