/** GetFolder: folders by id or distinguished id, one result per requested folder, in request order. */
import { child } from '../../../xml/parse.js';
import { NS } from '../../../xml/namespaces.js';
import { el } from '../../../xml/write.js';
import { EwsProtocolError } from '../soap/errors.js';
import { responseMessages } from '../soap/response.js';
import { type BaseShape, type EwsFolder, folderRefXml, folderShapeXml, type FolderRef, type PerItem, type PropertyPath, readFolders } from './common.js';
import type { EwsOperation } from './operation.js';

export interface GetFolderRequest {
  folderIds: readonly FolderRef[];
  baseShape?: BaseShape;
  properties?: readonly PropertyPath[];
}

export type GetFolderResult = Array<PerItem<EwsFolder>>;

export const GetFolder: EwsOperation<GetFolderRequest, GetFolderResult> = {
  name: 'GetFolder',
  build: (request) =>
    el('m:GetFolder', null, folderShapeXml(request.baseShape ?? 'Default', request.properties), el('m:FolderIds', null, request.folderIds.map(folderRefXml))).serialized,
  read: (response, context) =>
    responseMessages(response, context).map((m) => {
      if (!m.ok) return m.error;
      const [folder] = readFolders(child(m.element, NS.messages, 'Folders'));
      if (!folder) throw new EwsProtocolError(context.operation, `response message ${m.index + 1} is a success without a folder`);
      return folder;
    }),
};
