/**
 * FindItem: the items of folders that match a restriction, paged. For the "already sent?" check: IsEqualTo on
 * message:InternetMessageId, or on the extended property the connector stamps on what it sends.
 */
import { child } from '../../../xml/parse.js';
import { NS } from '../../../xml/namespaces.js';
import { el } from '../../../xml/write.js';
import { singleResponse } from '../soap/response.js';
import {
  type EwsItem,
  folderRefXml,
  type FolderRef,
  type IndexedPaging,
  indexedPageXml,
  type ItemShapeOptions,
  itemShapeXml,
  type PageInfo,
  pathXml,
  type PropertyPath,
  readItems,
  readPageInfo,
  type Restriction,
  restrictionXml,
} from './common.js';
import type { EwsOperation } from './operation.js';

export interface FindItemRequest {
  parentFolderIds: readonly FolderRef[];
  traversal?: 'Shallow' | 'SoftDeleted' | 'Associated';
  /** IdOnly by default; FindItem never returns bodies, MIME or attachments. */
  shape?: Omit<ItemShapeOptions, 'includeMimeContent'>;
  restriction?: Restriction;
  sortOrder?: ReadonlyArray<{ path: PropertyPath; order: 'Ascending' | 'Descending' }>;
  paging?: IndexedPaging;
}

export interface FindItemResult extends PageInfo {
  items: EwsItem[];
}

export const FindItem: EwsOperation<FindItemRequest, FindItemResult> = {
  name: 'FindItem',
  build: (request) =>
    el(
      'm:FindItem',
      { Traversal: request.traversal ?? 'Shallow' },
      itemShapeXml('m:ItemShape', request.shape ?? {}, 'IdOnly'),
      indexedPageXml('m:IndexedPageItemView', request.paging),
      restrictionXml(request.restriction),
      request.sortOrder && request.sortOrder.length > 0
        ? el('m:SortOrder', null, request.sortOrder.map((o) => el('t:FieldOrder', { Order: o.order }, pathXml(o.path))))
        : null,
      el('m:ParentFolderIds', null, request.parentFolderIds.map(folderRefXml)),
    ).serialized,
  read: (response, context) => {
    const root = child(singleResponse(response, context), NS.messages, 'RootFolder');
    return { ...readPageInfo(root), items: readItems(child(root, NS.types, 'Items')) };
  },
};
