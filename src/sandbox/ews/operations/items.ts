/**
 * MoveItem, CopyItem, DeleteItem and UpdateItem. A moved item gets a new id (the old one is gone), as in
 * Exchange; UpdateItem sets the read flag, categories, subject and importance.
 */
import { attr, child, children, type XmlElement } from '../../../xml/parse.js';
import { NS } from '../../../xml/namespaces.js';
import { el } from '../../../xml/write.js';
import type { MessageProps } from '../../state/model.js';
import { answerEach, folderIdIn, resolveFolder, resolveItem } from '../context.js';
import { EwsError } from '../soap.js';
import type { Operation } from './types.js';
import { xsBoolean } from '../../../xml/xs-boolean.js';

function moveOrCopy(name: 'MoveItem' | 'CopyItem'): Operation {
  return {
    name,
    handle(context, request) {
      const targetElement = folderIdIn(child(request, NS.messages, 'ToFolderId'));
      const returnIds = xsBoolean(child(request, NS.messages, 'ReturnNewItemIds')?.text) !== false;
      return answerEach(
        name,
        children(child(request, NS.messages, 'ItemIds'), NS.types),
        (id) => {
          const target = resolveFolder(context, targetElement);
          const item = resolveItem(context, id);
          const result = name === 'MoveItem' ? context.mailbox.moveItem(item, target) : context.mailbox.copyItem(item, target);
          return el('m:Items', null, returnIds ? el('t:Message', null, el('t:ItemId', { Id: result.id, ChangeKey: context.mailbox.changeKey(result) })) : null);
        },
        () => el('m:Items'),
      );
    },
  };
}

export const moveItem = moveOrCopy('MoveItem');
export const copyItem = moveOrCopy('CopyItem');

export const deleteItem: Operation = {
  name: 'DeleteItem',
  handle(context, request) {
    const type = attr(request, 'DeleteType');
    return answerEach('DeleteItem', children(child(request, NS.messages, 'ItemIds'), NS.types), (id) => {
      const item = resolveItem(context, id);
      const deleted = context.mailbox.distinguishedFolder('deleteditems')!;
      // Soft-deleted items would go to Recoverable Items, which the sandbox does not model: they are gone.
      if (type === 'MoveToDeletedItems' && item.folderId !== deleted.id) context.mailbox.moveItem(item, deleted);
      else context.mailbox.deleteItem(item);
      return null;
    });
  },
};

/** Reads one SetItemField/AppendToItemField/DeleteItemField into property changes. */
function readUpdate(update: XmlElement, current: MessageProps): Partial<MessageProps> {
  const path = update.children.find((c) => c.ns === NS.types && /FieldURI$/.test(c.local));
  const uri = attr(path, 'FieldURI') ?? '';
  const value = update.children.find((c) => c.ns === NS.types && (c.local === 'Message' || c.local === 'Item'));
  const remove = update.local === 'DeleteItemField';
  const append = update.local === 'AppendToItemField';
  switch (uri) {
    case 'message:IsRead':
      return { isRead: remove ? false : xsBoolean(child(value, NS.types, 'IsRead')?.text) === true };
    case 'item:Categories': {
      const given = children(child(value, NS.types, 'Categories'), NS.types, 'String').map((s) => s.text);
      if (remove) return { categories: [] };
      return { categories: append ? [...new Set([...current.categories, ...given])] : given };
    }
    case 'item:Subject':
      return { subject: remove ? '' : (child(value, NS.types, 'Subject')?.text ?? '') };
    case 'item:Importance': {
      const importance = child(value, NS.types, 'Importance')?.text.trim();
      return { importance: remove ? 'Normal' : importance === 'High' || importance === 'Low' ? importance : 'Normal' };
    }
    case 'item:Body': {
      const body = child(value, NS.types, 'Body');
      if (remove) return { body: '' };
      if (append) return { body: current.body + (body?.text ?? '') };
      return { body: body?.text ?? '', bodyType: attr(body, 'BodyType') === 'HTML' ? 'HTML' : 'Text' };
    }
    case 'message:IsReadReceiptRequested':
    case 'message:IsDeliveryReceiptRequested':
    case 'item:Sensitivity':
      // Accepted and not kept: the sandbox always reports the defaults for these.
      return {};
    default:
      throw new EwsError('ErrorInvalidPropertySet', `The sandbox cannot update ${uri || 'this property'}.`, {
        xml: el('t:FieldURI', { FieldURI: uri }),
      });
  }
}

export const updateItem: Operation = {
  name: 'UpdateItem',
  handle(context, request) {
    const neverOverwrite = attr(request, 'ConflictResolution') === 'NeverOverwrite';
    return answerEach(
      'UpdateItem',
      children(child(request, NS.messages, 'ItemChanges'), NS.types, 'ItemChange'),
      (change) => {
        const idElement = child(change, NS.types, 'ItemId');
        if (!idElement) throw new EwsError('ErrorInvalidRequest', 'The sandbox updates items by ItemId only.');
        const item = resolveItem(context, idElement);
        const changeKey = attr(idElement, 'ChangeKey');
        if (neverOverwrite && changeKey && changeKey !== context.mailbox.changeKey(item)) {
          throw new EwsError(
            'ErrorIrresolvableConflict',
            'The send or update operation could not be performed because the change key passed in the request does not match the current change key for the item.',
          );
        }
        let props: Partial<MessageProps> = {};
        for (const update of children(child(change, NS.types, 'Updates'), NS.types)) {
          props = { ...props, ...readUpdate(update, { ...item.props, ...props }) };
        }
        if (Object.keys(props).length > 0) context.mailbox.updateItem(item, props);
        return [
          el('m:Items', null, el('t:Message', null, el('t:ItemId', { Id: item.id, ChangeKey: context.mailbox.changeKey(item) }))),
          el('m:ConflictResults', null, el('t:Count', null, '0')),
        ];
      },
      () => el('m:Items'),
    );
  },
};
