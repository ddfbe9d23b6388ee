/** SendItem: sends saved drafts, with a copy in Sent Items (or SavedItemFolderId) unless told not to. */
import { el } from '../../../xml/write.js';
import { responseMessages } from '../soap/response.js';
import { folderRefXml, type FolderRef, type ItemId, itemIdXml, type PerItem } from './common.js';
import type { EwsOperation } from './operation.js';

export interface SendItemRequest {
  itemIds: readonly ItemId[];
  /** Default true: keep a copy. */
  saveItemToFolder?: boolean;
  savedItemFolderId?: FolderRef;
}

/** Per draft, in request order: true when sent, or the server's error (ErrorIrresolvableConflict…). */
export type SendItemResult = Array<PerItem<true>>;

export const SendItem: EwsOperation<SendItemRequest, SendItemResult> = {
  name: 'SendItem',
  build: (request) => {
    const save = request.saveItemToFolder ?? true;
    return el(
      'm:SendItem',
      { SaveItemToFolder: save },
      el('m:ItemIds', null, request.itemIds.map((id) => itemIdXml(id))),
      save && request.savedItemFolderId ? el('m:SavedItemFolderId', null, folderRefXml(request.savedItemFolderId)) : null,
    ).serialized;
  },
  read: (response, context) => responseMessages(response, context).map((m) => (m.ok ? true : m.error)),
};
