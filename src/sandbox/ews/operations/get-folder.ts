/** GetFolder: folders by id or distinguished name, one response message per requested folder. */
import { child, children } from '../../../xml/parse.js';
import { NS } from '../../../xml/namespaces.js';
import { el } from '../../../xml/write.js';
import { perItem, resolveFolder } from '../context.js';
import { readFolderShape, writeFolder } from '../shapes.js';
import { failure, responseRoot, success } from '../soap.js';
import type { Operation } from './types.js';

export const getFolder: Operation = {
  name: 'GetFolder',
  async handle(context, request) {
    const shape = readFolderShape(child(request, NS.messages, 'FolderShape'));
    const messages = [];
    for (const id of children(child(request, NS.messages, 'FolderIds'), NS.types)) {
      messages.push(
        await perItem(
          () => success('GetFolder', el('m:Folders', null, writeFolder(resolveFolder(context, id), context.mailbox, shape))),
          (error) => failure('GetFolder', error, el('m:Folders')),
        ),
      );
    }
    return responseRoot('GetFolder', messages);
  },
};
