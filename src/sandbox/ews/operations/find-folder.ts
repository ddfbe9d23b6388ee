/** FindFolder: the folders under a parent, Shallow or Deep, with an optional restriction and paging. */
import { attr, child, children } from '../../../xml/parse.js';
import { NS } from '../../../xml/namespaces.js';
import { el } from '../../../xml/write.js';
import type { Folder } from '../../state/model.js';
import { answerEach, resolveFolder } from '../context.js';
import { readPaging, page } from '../paging.js';
import { folderValue, queryableFolderUri, readRestriction } from '../restrictions.js';
import { readFolderShape, writeFolder } from '../shapes.js';
import type { Operation } from './types.js';

export const findFolder: Operation = {
  name: 'FindFolder',
  handle(context, request) {
    const deep = attr(request, 'Traversal') === 'Deep';
    const shape = readFolderShape(child(request, NS.messages, 'FolderShape'));
    const paging = readPaging(request);
    return answerEach('FindFolder', children(child(request, NS.messages, 'ParentFolderIds'), NS.types), (parentElement) => {
      const restriction = readRestriction(child(request, NS.messages, 'Restriction'), (f: Folder, uri) => folderValue(f, uri, context.mailbox), queryableFolderUri);
      const parent = resolveFolder(context, parentElement);
      const all = (deep ? context.mailbox.subtree(parent.id) : context.mailbox.childFolders(parent.id)).filter((f) => restriction(f));
      const { items, attributes } = page(all, paging);
      return el('m:RootFolder', attributes, el('t:Folders', null, items.map((f) => writeFolder(f, context.mailbox, shape))));
    });
  },
};
