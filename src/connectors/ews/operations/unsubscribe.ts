/** Unsubscribe: ends a pull or streaming subscription (a streaming connection open on it is closed by the server). */
import { el } from '../../../xml/write.js';
import { singleResponse } from '../soap/response.js';
import type { EwsOperation } from './operation.js';

export interface UnsubscribeRequest {
  subscriptionId: string;
}

export const Unsubscribe: EwsOperation<UnsubscribeRequest, void> = {
  name: 'Unsubscribe',
  minVersion: 'Exchange2007_SP1',
  build(request) {
    return el('m:Unsubscribe', null, el('m:SubscriptionId', null, request.subscriptionId)).serialized;
  },
  read(response, context) {
    singleResponse(response, context);
  },
};
