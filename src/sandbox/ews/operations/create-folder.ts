/** CreateFolder: new folders under a parent; a name already used there is ErrorFolderExists. */
import { child, children } from '../../../xml/parse.js';
import { NS } from '../../../xml/namespaces.js';
import { el } from '../../../xml/write.js';
import { folderIdIn, perItem, resolveFolder } from '../context.js';
import { failure, responseRoot, success } from '../soap.js';
import type { Operation } from './types.js';

export const createFolder: Operation = {
  name: 'CreateFolder',
  async handle(context, request) {
    const parentElement = folderIdIn(child(request, NS.messages, 'ParentFolderId'));
    const messages = [];
    for (const folder of children(child(request, NS.messages, 'Folders'), NS.types)) {
      messages.push(
        await perItem(
          () => {
            const parent = resolveFolder(context, parentElement, 'ErrorParentFolderNotFound');
            const name = child(folder, NS.types, 'DisplayName')?.text ?? '';
            const folderClass = child(folder, NS.types, 'FolderClass')?.text.trim() || (folder.local === 'Folder' ? 'IPF.Note' : '');
            const created = context.mailbox.addFolder(parent.id, name, folderClass);
            return success(
              'CreateFolder',
              el('m:Folders', null, el(`t:${folder.local}`, null, el('t:FolderId', { Id: created.id, ChangeKey: context.mailbox.changeKey(created) }))),
            );
          },
          (error) => failure('CreateFolder', error, el('m:Folders')),
        ),
      );
    }
    return responseRoot('CreateFolder', messages);
  },
};
