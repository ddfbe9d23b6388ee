/** FindFolder: the subfolders of folders (Shallow or Deep), optionally restricted and paged. */
import { child } from '../../../xml/parse.js';
import { NS } from '../../../xml/namespaces.js';
import { el } from '../../../xml/write.js';
import { singleResponse } from '../soap/response.js';
import {
  type BaseShape,
  type EwsFolder,
  folderRefXml,
  folderShapeXml,
  type FolderRef,
  type IndexedPaging,
  indexedPageXml,
  type PageInfo,
  type PropertyPath,
  readFolders,
  readPageInfo,
  type Restriction,
  restrictionXml,
} from './common.js';
import type { EwsOperation } from './operation.js';

export interface FindFolderRequest {
  parentFolderIds: readonly FolderRef[];
  traversal?: 'Shallow' | 'Deep' | 'SoftDeleted';
  baseShape?: BaseShape;
  properties?: readonly PropertyPath[];
  restriction?: Restriction;
  paging?: IndexedPaging;
}

export interface FindFolderResult extends PageInfo {
  folders: EwsFolder[];
}

export const FindFolder: EwsOperation<FindFolderRequest, FindFolderResult> = {
  name: 'FindFolder',
  build: (request) =>
    el(
      'm:FindFolder',
      { Traversal: request.traversal ?? 'Shallow' },
      folderShapeXml(request.baseShape ?? 'Default', request.properties),
      indexedPageXml('m:IndexedPageFolderView', request.paging),
      restrictionXml(request.restriction),
      el('m:ParentFolderIds', null, request.parentFolderIds.map(folderRefXml)),
    ).serialized,
  read: (response, context) => {
    const root = child(singleResponse(response, context), NS.messages, 'RootFolder');
    return { ...readPageInfo(root), folders: readFolders(child(root, NS.types, 'Folders')) };
  },
};
