/**
 * GetItem: items by id, with their MIME when asked. One result per requested id, in request order: the item, or
 * the server's error for that id (ErrorItemNotFound, ErrorInvalidIdMalformed…), never a silent gap.
 */
import { child } from '../../../xml/parse.js';
import { NS } from '../../../xml/namespaces.js';
import { el } from '../../../xml/write.js';
import { EwsProtocolError } from '../soap/errors.js';
import { responseMessages } from '../soap/response.js';
import { type EwsItem, type ItemId, itemIdXml, type ItemShapeOptions, itemShapeXml, type PerItem, readItems } from './common.js';
import type { EwsOperation } from './operation.js';

export interface GetItemRequest extends ItemShapeOptions {
  itemIds: readonly ItemId[];
}

export type GetItemResult = Array<PerItem<EwsItem>>;

/** How many ids one GetItem carries at most when a caller batches (EWS's default MaxBatchSize is far higher; MIME answers are large). */
export const GET_ITEM_BATCH = 50;

export const GetItem: EwsOperation<GetItemRequest, GetItemResult> = {
  name: 'GetItem',
  build: (request) =>
    el('m:GetItem', null, itemShapeXml('m:ItemShape', request, 'IdOnly'), el('m:ItemIds', null, request.itemIds.map((id) => itemIdXml(id)))).serialized,
  read: (response, context) =>
    responseMessages(response, context).map((m) => {
      if (!m.ok) return m.error;
      const [item] = readItems(child(m.element, NS.messages, 'Items'));
      if (!item) throw new EwsProtocolError(context.operation, `response message ${m.index + 1} is a success without an item`);
      return item;
    }),
};
