/** GetItem: items by id, with bodies, attachments and (on request) the MIME content. */
import { child, children } from '../../../xml/parse.js';
import { NS } from '../../../xml/namespaces.js';
import { el } from '../../../xml/write.js';
import { answerEach, resolveItem } from '../context.js';
import { readItemShape, writeItem } from '../shapes.js';
import { EwsError } from '../soap.js';
import type { Operation } from './types.js';

export const getItem: Operation = {
  name: 'GetItem',
  handle(context, request) {
    const shape = readItemShape(child(request, NS.messages, 'ItemShape'));
    return answerEach(
      'GetItem',
      children(child(request, NS.messages, 'ItemIds'), NS.types),
      (id) => {
        const item = resolveItem(context, id);
        // The sandbox's items are messages: a property of meetings, calendar items, contacts or tasks is not valid for them.
        const foreign = [...shape.additional].find((uri) => /^(meeting|meetingRequest|calendar|contacts|distributionlist|postitem|task):/.test(uri));
        if (foreign) throw new EwsError('ErrorInvalidPropertyRequest', 'Property is not valid for this object type.', { xml: el('t:FieldURI', { FieldURI: foreign }) });
        return el('m:Items', null, writeItem(item, context.mailbox, shape, 'get', context.state));
      },
      () => el('m:Items'),
    );
  },
};
