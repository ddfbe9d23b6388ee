/** MoveItem: items to another folder. A moved item gets a new id; the old one is gone (ErrorItemNotFound). */
import { child } from '../../../xml/parse.js';
import { NS } from '../../../xml/namespaces.js';
import { el } from '../../../xml/write.js';
import { responseMessages } from '../soap/response.js';
import { atLeast } from '../versions.js';
import { folderRefXml, type FolderRef, type ItemId, itemIdXml, type PerItem, readItems } from './common.js';
import type { EwsOperation } from './operation.js';

export interface MoveItemRequest {
  toFolderId: FolderRef;
  itemIds: readonly ItemId[];
  /** Ask for the new ids (Exchange 2010 SP1 and later; left out of older requests). Default true. */
  returnNewItemIds?: boolean;
}

/** Per item, in request order: its new id (null when the server did not say), or the server's error. */
export type MoveItemResult = Array<PerItem<ItemId | null>>;

export const MoveItem: EwsOperation<MoveItemRequest, MoveItemResult> = {
  name: 'MoveItem',
  build: (request, context) =>
    el(
      'm:MoveItem',
      null,
      el('m:ToFolderId', null, folderRefXml(request.toFolderId)),
      el('m:ItemIds', null, request.itemIds.map((id) => itemIdXml(id))),
      atLeast(context.version, 'Exchange2010_SP1') ? el('m:ReturnNewItemIds', null, request.returnNewItemIds ?? true) : null,
    ).serialized,
  read: (response, context) =>
    responseMessages(response, context).map((m) => (m.ok ? (readItems(child(m.element, NS.messages, 'Items'))[0]?.itemId ?? null) : m.error)),
};
