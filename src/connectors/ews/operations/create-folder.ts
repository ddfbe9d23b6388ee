/** CreateFolder: new folders under one parent; per folder its id, or the server's error (ErrorFolderExists…). */
import { child } from '../../../xml/parse.js';
import { NS } from '../../../xml/namespaces.js';
import { el } from '../../../xml/write.js';
import { EwsProtocolError } from '../soap/errors.js';
import { responseMessages } from '../soap/response.js';
import { folderRefXml, type FolderRef, type ItemId, type PerItem, readFolders } from './common.js';
import type { EwsOperation } from './operation.js';

export interface NewFolder {
  displayName: string;
  /** IPF.Note for mail folders (the default when absent, as Exchange creates a Folder). */
  folderClass?: string;
}

export interface CreateFolderRequest {
  parentFolderId: FolderRef;
  folders: readonly NewFolder[];
}

export type CreateFolderResult = Array<PerItem<ItemId>>;

export const CreateFolder: EwsOperation<CreateFolderRequest, CreateFolderResult> = {
  name: 'CreateFolder',
  build: (request) =>
    el(
      'm:CreateFolder',
      null,
      el('m:ParentFolderId', null, folderRefXml(request.parentFolderId)),
      el(
        'm:Folders',
        null,
        request.folders.map((f) => el('t:Folder', null, f.folderClass ? el('t:FolderClass', null, f.folderClass) : null, el('t:DisplayName', null, f.displayName))),
      ),
    ).serialized,
  read: (response, context) =>
    responseMessages(response, context).map((m) => {
      if (!m.ok) return m.error;
      const id = readFolders(child(m.element, NS.messages, 'Folders'))[0]?.folderId;
      if (!id) throw new EwsProtocolError(context.operation, 'a created folder came back without its FolderId');
      return id;
    }),
};
