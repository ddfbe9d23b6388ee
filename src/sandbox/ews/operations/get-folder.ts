/** GetFolder: folders by id or distinguished name, one response message per requested folder. */
import { child, children } from '../../../xml/parse.js';
import { NS } from '../../../xml/namespaces.js';
import { el } from '../../../xml/write.js';
import { answerEach, resolveFolder } from '../context.js';
import { readFolderShape, writeFolder } from '../shapes.js';
import type { Operation } from './types.js';

export const getFolder: Operation = {
  name: 'GetFolder',
  handle(context, request) {
    const shape = readFolderShape(child(request, NS.messages, 'FolderShape'));
    return answerEach(
      'GetFolder',
      children(child(request, NS.messages, 'FolderIds'), NS.types),
      (id) => el('m:Folders', null, writeFolder(resolveFolder(context, id), context.mailbox, shape, 'get')),
      () => el('m:Folders'),
    );
  },
};
