/** CreateFolder: new folders under a parent; a name already used there is ErrorFolderExists. */
import { child, children } from '../../../xml/parse.js';
import { NS } from '../../../xml/namespaces.js';
import { el } from '../../../xml/write.js';
import { answerEach, folderIdIn, resolveFolder } from '../context.js';
import type { Operation } from './types.js';

export const createFolder: Operation = {
  name: 'CreateFolder',
  handle(context, request) {
    const parentElement = folderIdIn(child(request, NS.messages, 'ParentFolderId'));
    return answerEach(
      'CreateFolder',
      children(child(request, NS.messages, 'Folders'), NS.types),
      (folder) => {
        const parent = resolveFolder(context, parentElement, 'ErrorParentFolderNotFound');
        const name = child(folder, NS.types, 'DisplayName')?.text ?? '';
        // A folder created without a class has none (Exchange shows no FolderClass for it), whatever its element.
        const folderClass = child(folder, NS.types, 'FolderClass')?.text.trim() ?? '';
        const created = context.mailbox.addFolder(parent.id, name, folderClass);
        return el('m:Folders', null, el(`t:${folder.local}`, null, el('t:FolderId', { Id: created.id, ChangeKey: context.mailbox.changeKey(created) })));
      },
      () => el('m:Folders'),
    );
  },
};
