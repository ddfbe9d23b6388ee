/** GetItem: items by id, with bodies, attachments and (on request) the MIME content. */
import { child, children } from '../../../xml/parse.js';
import { NS } from '../../../xml/namespaces.js';
import { el } from '../../../xml/write.js';
import { perItem, resolveItem } from '../context.js';
import { readItemShape, writeItem } from '../shapes.js';
import { failure, responseRoot, success } from '../soap.js';
import type { Operation } from './types.js';

export const getItem: Operation = {
  name: 'GetItem',
  async handle(context, request) {
    const shape = readItemShape(child(request, NS.messages, 'ItemShape'));
    const messages = [];
    for (const id of children(child(request, NS.messages, 'ItemIds'), NS.types)) {
      messages.push(
        await perItem(
          () => success('GetItem', el('m:Items', null, writeItem(resolveItem(context, id), context.mailbox, shape, 'get', context.state))),
          (error) => failure('GetItem', error, el('m:Items')),
        ),
      );
    }
    return responseRoot('GetItem', messages);
  },
};
