/** DeleteFolder and MoveFolder: needed to replay the real captures, and used by clients that tidy folders. */
import { attr, child, children } from '../../../xml/parse.js';
import { NS } from '../../../xml/namespaces.js';
import { el } from '../../../xml/write.js';
import { answerEach, folderIdIn, resolveFolder } from '../context.js';
import type { Operation } from './types.js';

export const deleteFolder: Operation = {
  name: 'DeleteFolder',
  handle(context, request) {
    const hard = attr(request, 'DeleteType') === 'HardDelete';
    return answerEach('DeleteFolder', children(child(request, NS.messages, 'FolderIds'), NS.types), (id) => {
      const folder = resolveFolder(context, id);
      if (hard || folder.distinguishedId || context.mailbox.isSystemFolder(folder)) context.mailbox.deleteFolder(folder);
      else context.mailbox.moveFolder(folder, context.mailbox.distinguishedFolder('deleteditems')!);
      return null;
    });
  },
};

export const moveFolder: Operation = {
  name: 'MoveFolder',
  handle(context, request) {
    const targetElement = folderIdIn(child(request, NS.messages, 'ToFolderId'));
    return answerEach(
      'MoveFolder',
      children(child(request, NS.messages, 'FolderIds'), NS.types),
      (id) => {
        const target = resolveFolder(context, targetElement);
        const folder = resolveFolder(context, id);
        context.mailbox.moveFolder(folder, target);
        return el('m:Folders', null, el('t:Folder', null, el('t:FolderId', { Id: folder.id, ChangeKey: context.mailbox.changeKey(folder) })));
      },
      () => el('m:Folders'),
    );
  },
};
