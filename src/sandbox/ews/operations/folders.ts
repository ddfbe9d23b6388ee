/** DeleteFolder and MoveFolder: needed to replay the real captures, and used by clients that tidy folders. */
import { attr, child, children } from '../../../xml/parse.js';
import { NS } from '../../../xml/namespaces.js';
import { el } from '../../../xml/write.js';
import { folderIdIn, perItem, resolveFolder } from '../context.js';
import { failure, responseRoot, success } from '../soap.js';
import type { Operation } from './types.js';

export const deleteFolder: Operation = {
  name: 'DeleteFolder',
  async handle(context, request) {
    const hard = attr(request, 'DeleteType') === 'HardDelete';
    const messages = [];
    for (const id of children(child(request, NS.messages, 'FolderIds'), NS.types)) {
      messages.push(
        await perItem(
          () => {
            const folder = resolveFolder(context, id);
            if (hard || folder.distinguishedId) context.mailbox.deleteFolder(folder);
            else context.mailbox.moveFolder(folder, context.mailbox.distinguishedFolder('deleteditems')!);
            return success('DeleteFolder');
          },
          (error) => failure('DeleteFolder', error),
        ),
      );
    }
    return responseRoot('DeleteFolder', messages);
  },
};

export const moveFolder: Operation = {
  name: 'MoveFolder',
  async handle(context, request) {
    const targetElement = folderIdIn(child(request, NS.messages, 'ToFolderId'));
    const messages = [];
    for (const id of children(child(request, NS.messages, 'FolderIds'), NS.types)) {
      messages.push(
        await perItem(
          () => {
            const target = resolveFolder(context, targetElement);
            const folder = resolveFolder(context, id);
            context.mailbox.moveFolder(folder, target);
            return success('MoveFolder', el('m:Folders', null, el('t:Folder', null, el('t:FolderId', { Id: folder.id, ChangeKey: context.mailbox.changeKey(folder) }))));
          },
          (error) => failure('MoveFolder', error, el('m:Folders')),
        ),
      );
    }
    return responseRoot('MoveFolder', messages);
  },
};
