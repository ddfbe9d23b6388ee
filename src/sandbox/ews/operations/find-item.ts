/** FindItem: the items of folders (Shallow), filtered by a restriction, sorted, paged. */
import { attr, child, children } from '../../../xml/parse.js';
import { NS } from '../../../xml/namespaces.js';
import { el } from '../../../xml/write.js';
import type { Item } from '../../state/model.js';
import { answerEach, resolveFolder } from '../context.js';
import { page, readPaging } from '../paging.js';
import { itemValue, propertyPath, queryableItemUri, readRestriction, type Value } from '../restrictions.js';
import { assertShapeFor, readItemShape, writeItem } from '../shapes.js';
import { EwsError } from '../soap.js';
import type { Operation } from './types.js';

function sortValue(value: Value | undefined): number | string {
  if (value instanceof Date) return value.getTime();
  if (typeof value === 'number') return value;
  if (typeof value === 'boolean') return Number(value);
  return String(value ?? '').toLowerCase();
}

export const findItem: Operation = {
  name: 'FindItem',
  handle(context, request) {
    const traversal = attr(request, 'Traversal');
    const shape = readItemShape(child(request, NS.messages, 'ItemShape'));
    const paging = readPaging(request);
    return answerEach('FindItem', children(child(request, NS.messages, 'ParentFolderIds'), NS.types), (parentElement) => {
      assertShapeFor(shape, 'find', context.requestVersion);
      // Read here, so an invalid ExtendedFieldURI is this folder's error.
      const orders = children(child(request, NS.messages, 'SortOrder'), NS.types, 'FieldOrder').map((order) => ({
        uri: propertyPath(order.children.find((c) => c.ns === NS.types)),
        descending: attr(order, 'Order') === 'Descending',
      }));
      // Associated items (folder-level hidden messages) and soft-deleted items are not modelled: none exist.
      const folder = resolveFolder(context, parentElement);
      const restriction = readRestriction(child(request, NS.messages, 'Restriction'), (item: Item, uri) => itemValue(item, uri), queryableItemUri);
      let items = traversal === 'Shallow' ? context.mailbox.liveItems(folder).filter((i) => restriction(i)) : [];
      const unsortable = orders.find((o) => !queryableItemUri(o.uri));
      if (unsortable) throw new EwsError('ErrorUnsupportedPathForSortGroup', `The sandbox cannot sort by ${unsortable.uri}.`);
      if (orders.length > 0) {
        items = [...items].sort((a, b) => {
          for (const order of orders) {
            const x = sortValue(itemValue(a, order.uri));
            const y = sortValue(itemValue(b, order.uri));
            if (x < y) return order.descending ? 1 : -1;
            if (x > y) return order.descending ? -1 : 1;
          }
          return 0;
        });
      } else {
        // Exchange's default order: newest received first.
        items = [...items].sort((a, b) => b.props.dateTimeReceived.localeCompare(a.props.dateTimeReceived));
      }
      const { items: pageItems, attributes } = page(items, paging);
      return el('m:RootFolder', attributes, el('t:Items', null, pageItems.map((i) => writeItem(i, context.mailbox, shape, 'find', context.state))));
    });
  },
};
