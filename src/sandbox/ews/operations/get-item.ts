/** GetItem: items by id, with bodies, attachments and (on request) the MIME content. */
import { child, children } from '../../../xml/parse.js';
import { NS } from '../../../xml/namespaces.js';
import { el } from '../../../xml/write.js';
import { answerEach, resolveItem } from '../context.js';
import { assertShapeFor, readItemShape, writeItem } from '../shapes.js';
import type { Operation } from './types.js';

export const getItem: Operation = {
  name: 'GetItem',
  handle(context, request) {
    const shape = readItemShape(child(request, NS.messages, 'ItemShape'));
    return answerEach(
      'GetItem',
      children(child(request, NS.messages, 'ItemIds'), NS.types),
      (id) => {
        assertShapeFor(shape, 'get', context.requestVersion);
        const item = resolveItem(context, id);
        return el('m:Items', null, writeItem(item, context.mailbox, shape, 'get', context.state));
      },
      () => el('m:Items'),
    );
  },
};
