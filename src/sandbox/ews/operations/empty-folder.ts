/**
 * EmptyFolder: disposes of a folder's items as DeleteItem does (HardDelete removes them, SoftDelete moves them to
 * Recoverable Items\Deletions, MoveToDeletedItems to Deleted Items) and, with DeleteSubFolders, of its subfolders
 * (moved to Deleted Items by MoveToDeletedItems, else deleted); distinguished subfolders stay (they cannot be
 * deleted), their items go.
 */
import { attr, child, children } from '../../../xml/parse.js';
import { NS } from '../../../xml/namespaces.js';
import { xsBoolean } from '../../../xml/xs-boolean.js';
import type { Folder } from '../../state/model.js';
import { answerEach, resolveFolder } from '../context.js';
import type { Operation } from './types.js';

export const emptyFolder: Operation = {
  name: 'EmptyFolder',
  handle(context, request) {
    const type = attr(request, 'DeleteType');
    const subfolders = xsBoolean(attr(request, 'DeleteSubFolders')) === true;
    return answerEach('EmptyFolder', children(child(request, NS.messages, 'FolderIds'), NS.types), (id) => {
      const { mailbox } = context;
      const folder = resolveFolder(context, id);
      const deleted = mailbox.distinguishedFolder('deleteditems')!;
      const toDeletedItems = type === 'MoveToDeletedItems';
      const disposal = type === 'SoftDelete' || type === 'MoveToDeletedItems' ? type : 'HardDelete';
      const empty = (target: Folder) => {
        for (const item of mailbox.liveItems(target)) mailbox.disposeItem(item, disposal);
      };
      empty(folder);
      if (subfolders) {
        const walk = (parent: Folder) => {
          for (const sub of mailbox.childFolders(parent.id)) {
            if (sub.distinguishedId) {
              empty(sub);
              walk(sub);
            } else if (toDeletedItems && folder.id !== deleted.id && !mailbox.isInside(folder.id, deleted.id)) {
              mailbox.moveFolder(sub, deleted);
            } else {
              mailbox.deleteFolder(sub);
            }
          }
        };
        walk(folder);
      }
      return null;
    });
  },
};
