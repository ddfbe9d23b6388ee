/** SyncFolderHierarchy: the folders created, changed and deleted under a folder since a sync state. */
import { child } from '../../../xml/parse.js';
import { NS } from '../../../xml/namespaces.js';
import { el } from '../../../xml/write.js';
import { xsBoolean } from '../../../xml/xs-boolean.js';
import { singleResponse } from '../soap/response.js';
import { type BaseShape, type EwsFolder, folderRefXml, folderShapeXml, type FolderRef, type ItemId, type PropertyPath, readFolder, readItemId } from './common.js';
import type { EwsOperation } from './operation.js';

export interface SyncFolderHierarchyRequest {
  /** Default: the whole mailbox (the server's msgfolderroot). */
  syncFolderId?: FolderRef;
  syncState?: string | null;
  baseShape?: BaseShape;
  properties?: readonly PropertyPath[];
}

export type FolderChange = { type: 'create' | 'update'; folder: EwsFolder } | { type: 'delete'; folderId: ItemId };

export interface SyncFolderHierarchyResult {
  syncState: string;
  includesLastFolderInRange: boolean;
  changes: FolderChange[];
}

export const SyncFolderHierarchy: EwsOperation<SyncFolderHierarchyRequest, SyncFolderHierarchyResult> = {
  name: 'SyncFolderHierarchy',
  build: (request) =>
    el(
      'm:SyncFolderHierarchy',
      null,
      folderShapeXml(request.baseShape ?? 'Default', request.properties),
      request.syncFolderId ? el('m:SyncFolderId', null, folderRefXml(request.syncFolderId)) : null,
      request.syncState ? el('m:SyncState', null, request.syncState) : null,
    ).serialized,
  read: (response, context) => {
    const message = singleResponse(response, context);
    const changes: FolderChange[] = [];
    for (const change of child(message, NS.messages, 'Changes')?.children ?? []) {
      if (change.ns !== NS.types) continue;
      if (change.local === 'Create' || change.local === 'Update') {
        const folder = change.children.find((c) => c.ns === NS.types);
        if (folder) changes.push({ type: change.local === 'Create' ? 'create' : 'update', folder: readFolder(folder) });
      } else if (change.local === 'Delete') {
        const folderId = readItemId(child(change, NS.types, 'FolderId'));
        if (folderId) changes.push({ type: 'delete', folderId });
      }
    }
    return {
      syncState: child(message, NS.messages, 'SyncState')?.text.trim() ?? '',
      includesLastFolderInRange: xsBoolean(child(message, NS.messages, 'IncludesLastFolderInRange')?.text) ?? true,
      changes,
    };
  },
};
