/**
 * UpdateItem: sets or deletes a few properties of items: the read flag, categories, subject, importance and
 * extended properties. Each change gives the item a new change key, which the result carries.
 */
import { child } from '../../../xml/parse.js';
import { NS } from '../../../xml/namespaces.js';
import { el, type Xml } from '../../../xml/write.js';
import { responseMessages } from '../soap/response.js';
import {
  type ExtendedFieldUri,
  type ExtendedPropertyValue,
  extendedFieldXml,
  extendedPropertyXml,
  folderRefXml,
  type FolderRef,
  type ItemId,
  itemIdXml,
  type PerItem,
  readItems,
} from './common.js';
import type { MessageDisposition } from './create-item.js';
import type { EwsOperation } from './operation.js';

export type ItemFieldUpdate =
  | { set: 'message:IsRead'; value: boolean }
  | { set: 'item:Categories'; value: readonly string[] }
  | { set: 'item:Subject'; value: string }
  | { set: 'item:Importance'; value: 'Low' | 'Normal' | 'High' }
  | { setExtended: ExtendedPropertyValue }
  | { delete: 'item:Categories' | 'item:Subject' | 'item:Importance' }
  | { deleteExtended: ExtendedFieldUri };

export interface UpdateItemChange {
  itemId: ItemId;
  updates: readonly ItemFieldUpdate[];
}

export interface UpdateItemRequest {
  changes: readonly UpdateItemChange[];
  /** NeverOverwrite refuses a stale change key (ErrorIrresolvableConflict); AutoResolve is Exchange's usual choice. */
  conflictResolution?: 'NeverOverwrite' | 'AutoResolve' | 'AlwaysOverwrite';
  /** Messages need one; SaveOnly by default. */
  messageDisposition?: MessageDisposition;
  savedItemFolderId?: FolderRef;
  suppressReadReceipts?: boolean;
}

/** Per item, in request order: its id with the new change key, or the server's error. */
export type UpdateItemResult = Array<PerItem<ItemId | null>>;

function fieldValueXml(u: Extract<ItemFieldUpdate, { set: string }>): Xml {
  switch (u.set) {
    case 'message:IsRead':
      return el('t:IsRead', null, u.value);
    case 'item:Categories':
      return el('t:Categories', null, u.value.map((c) => el('t:String', null, c)));
    case 'item:Subject':
      return el('t:Subject', null, u.value);
    case 'item:Importance':
      return el('t:Importance', null, u.value);
  }
}

function updateXml(u: ItemFieldUpdate): Xml {
  if ('set' in u) return el('t:SetItemField', null, el('t:FieldURI', { FieldURI: u.set }), el('t:Message', null, fieldValueXml(u)));
  if ('setExtended' in u) return el('t:SetItemField', null, extendedFieldXml(u.setExtended.path), el('t:Message', null, extendedPropertyXml(u.setExtended)));
  if ('delete' in u) return el('t:DeleteItemField', null, el('t:FieldURI', { FieldURI: u.delete }));
  return el('t:DeleteItemField', null, extendedFieldXml(u.deleteExtended));
}

export const UpdateItem: EwsOperation<UpdateItemRequest, UpdateItemResult> = {
  name: 'UpdateItem',
  build: (request) =>
    el(
      'm:UpdateItem',
      {
        ConflictResolution: request.conflictResolution ?? 'AutoResolve',
        MessageDisposition: request.messageDisposition ?? 'SaveOnly',
        SuppressReadReceipts: request.suppressReadReceipts,
      },
      request.savedItemFolderId ? el('m:SavedItemFolderId', null, folderRefXml(request.savedItemFolderId)) : null,
      el(
        'm:ItemChanges',
        null,
        request.changes.map((c) => el('t:ItemChange', null, itemIdXml(c.itemId), el('t:Updates', null, c.updates.map(updateXml)))),
      ),
    ).serialized,
  read: (response, context) =>
    responseMessages(response, context).map((m) => (m.ok ? (readItems(child(m.element, NS.messages, 'Items'))[0]?.itemId ?? null) : m.error)),
};
