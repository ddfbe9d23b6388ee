/**
 * SyncFolderItems: the items created, changed, deleted or marked read/unread in one folder since a sync state,
 * at most MaxChangesReturned at a time. The items come as IdOnly plus the properties asked for (Exchange never
 * returns bodies, MIME or recipients here: fetch those with GetItem).
 */
import { child } from '../../../xml/parse.js';
import { NS } from '../../../xml/namespaces.js';
import { el } from '../../../xml/write.js';
import { xsBoolean } from '../../../xml/xs-boolean.js';
import { EwsProtocolError } from '../soap/errors.js';
import { singleResponse } from '../soap/response.js';
import { type EwsItem, folderRefXml, type FolderRef, type ItemId, itemIdXml, itemShapeXml, type PropertyPath, readItem, readItemId } from './common.js';
import type { EwsOperation } from './operation.js';

export interface SyncFolderItemsRequest {
  folderId: FolderRef;
  /** Absent or null: from the beginning of the folder. */
  syncState?: string | null;
  /** 1..512. */
  maxChangesReturned: number;
  /** Properties besides the id (IdOnly is the base shape): 'message:IsRead', 'item:DateTimeReceived', … */
  properties?: readonly PropertyPath[];
  /** Items whose changes the server should leave out. */
  ignore?: readonly ItemId[];
  syncScope?: 'NormalItems' | 'NormalAndAssociatedItems';
}

export type ItemChange =
  | { type: 'create' | 'update'; item: EwsItem; itemId: ItemId }
  | { type: 'delete'; itemId: ItemId }
  | { type: 'readFlagChange'; itemId: ItemId; isRead: boolean };

export interface SyncFolderItemsResult {
  syncState: string;
  includesLastItemInRange: boolean;
  changes: ItemChange[];
}

export const SyncFolderItems: EwsOperation<SyncFolderItemsRequest, SyncFolderItemsResult> = {
  name: 'SyncFolderItems',
  build: (request) =>
    el(
      'm:SyncFolderItems',
      null,
      itemShapeXml('m:ItemShape', { baseShape: 'IdOnly', ...(request.properties ? { properties: request.properties } : {}) }, 'IdOnly'),
      el('m:SyncFolderId', null, folderRefXml(request.folderId)),
      request.syncState ? el('m:SyncState', null, request.syncState) : null,
      request.ignore && request.ignore.length > 0 ? el('m:Ignore', null, request.ignore.map((id) => itemIdXml(id))) : null,
      el('m:MaxChangesReturned', null, request.maxChangesReturned),
      request.syncScope ? el('m:SyncScope', null, request.syncScope) : null,
    ).serialized,
  read: (response, context) => {
    const message = singleResponse(response, context);
    const syncState = child(message, NS.messages, 'SyncState')?.text.trim() ?? '';
    // A success without a sync state would leave the cursor nowhere to go: refuse it rather than restart.
    if (!syncState) throw new EwsProtocolError(context.operation, 'the answer has no SyncState');
    const changes: ItemChange[] = [];
    for (const change of child(message, NS.messages, 'Changes')?.children ?? []) {
      if (change.ns !== NS.types) continue;
      if (change.local === 'Create' || change.local === 'Update') {
        const element = change.children.find((c) => c.ns === NS.types);
        if (!element) continue;
        const item = readItem(element);
        if (!item.itemId) throw new EwsProtocolError(context.operation, `a ${change.local} change without an ItemId`);
        changes.push({ type: change.local === 'Create' ? 'create' : 'update', item, itemId: item.itemId });
      } else if (change.local === 'Delete' || change.local === 'ReadFlagChange') {
        const itemId = readItemId(child(change, NS.types, 'ItemId'));
        if (!itemId) throw new EwsProtocolError(context.operation, `a ${change.local} change without an ItemId`);
        if (change.local === 'Delete') changes.push({ type: 'delete', itemId });
        else changes.push({ type: 'readFlagChange', itemId, isRead: xsBoolean(child(change, NS.types, 'IsRead')?.text) ?? false });
      }
    }
    return {
      syncState,
      includesLastItemInRange: xsBoolean(child(message, NS.messages, 'IncludesLastItemInRange')?.text) ?? true,
      changes,
    };
  },
};
