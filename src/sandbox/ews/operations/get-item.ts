/** GetItem: items by id, with bodies, attachments and (on request) the MIME content. */
import { child, children } from '../../../xml/parse.js';
import { NS } from '../../../xml/namespaces.js';
import { el } from '../../../xml/write.js';
import { answerEach, resolveItem } from '../context.js';
import { assertShapeFor, type ItemShape, readItemShape, writeItem } from '../shapes.js';
import type { Operation } from './types.js';
import type { CorruptItemCode } from '../../state/model.js';
import { EwsError } from '../soap.js';

const CORRUPT_TEXT: Record<CorruptItemCode, string> = {
  // The text Exchange gives (exchangelib issue #266).
  ErrorMimeContentConversionFailed: 'MIME content conversion failed.',
  // No capture holds this one's text; the sandbox says what the code means (responsecode.md).
  ErrorItemCorrupt: 'The item is corrupt and its content cannot be retrieved.',
};

/** Whether the shape asks for what a corrupt item cannot give: its MIME or its body (Default and AllProperties carry the body). */
function readsContent(shape: ItemShape): boolean {
  return shape.includeMime || shape.base !== 'IdOnly' || ['item:MimeContent', 'item:Body', 'item:UniqueBody', 'item:TextBody'].some((uri) => shape.additional.has(uri));
}

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
        if (item.corrupt && readsContent(shape)) throw new EwsError(item.corrupt, CORRUPT_TEXT[item.corrupt]);
        return el('m:Items', null, writeItem(item, context.mailbox, shape, 'get', context.state));
      },
      () => el('m:Items'),
    );
  },
};
