/**
 * MoveItem, CopyItem, DeleteItem and UpdateItem. A moved item gets a new id (the old one is gone), as in
 * Exchange; UpdateItem sets, appends to and deletes the message properties (message-properties.ts) and
 * extended properties, each change giving the item a new change key.
 */
import { attr, child, children, type XmlElement } from '../../../xml/parse.js';
import { NS } from '../../../xml/namespaces.js';
import { el } from '../../../xml/write.js';
import { composeFromProps, readMime } from '../../state/mime.js';
import type { MessageProps } from '../../state/model.js';
import { answerEach, folderIdIn, resolveFolder, resolveItem } from '../context.js';
import { fieldElement, readExtendedField, readExtendedProperty } from '../extended-properties.js';
import { SETTABLE_BY_URI } from '../message-properties.js';
import { EwsError } from '../soap.js';
import { sendStored } from './create-item.js';
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
      context.mailbox.disposeItem(item, type === 'SoftDelete' || type === 'MoveToDeletedItems' ? type : 'HardDelete');
      return null;
    });
  },
};

type UpdateKind = 'SetItemField' | 'AppendToItemField' | 'DeleteItemField';

function refused(code: string, text: string, path: XmlElement | undefined): EwsError {
  const xml = path?.local === 'ExtendedFieldURI' ? fieldElement(readFieldAttributes(path)) : el('t:FieldURI', { FieldURI: attr(path, 'FieldURI') ?? '' });
  return new EwsError(code, text, { xml });
}

function readFieldAttributes(path: XmlElement): Record<string, string> {
  return Object.fromEntries(path.attributes.filter((a) => !a.ns).map((a) => [a.local, a.value]));
}

/**
 * Exchange's texts where an answer of it was found (ErrorInvalidPropertySet: ksainc/integration_ews issues 29
 * and 34; ErrorInvalidPropertyUpdateSentMessage: OfficeDev/Office-365-SDK-for-Android issue 80); the append and
 * delete texts follow their pattern.
 */
const TEXTS = {
  set: 'Set action is invalid for property.',
  append: 'Append action is invalid for property.',
  delete: 'Delete action is invalid for property.',
  sent: 'Update operation is invalid for property of a sent message.',
  mismatch: 'An object within a change description must contain one and only one property to modify.',
};

/**
 * The one property a SetItemField or AppendToItemField carries: its t:Message (or t:Item) must hold exactly the
 * property the path names (ErrorUpdatePropertyMismatch otherwise).
 */
function carried(update: XmlElement, element: string, path: XmlElement): XmlElement {
  const value = update.children.find((c) => c.ns === NS.types && (c.local === 'Message' || c.local === 'Item'));
  const properties = value?.children.filter((c) => c.ns === NS.types) ?? [];
  if (properties.length !== 1 || properties[0]!.local !== element) throw refused('ErrorUpdatePropertyMismatch', TEXTS.mismatch, path);
  return properties[0]!;
}

/** Reads one SetItemField/AppendToItemField/DeleteItemField into property changes, refusing what Exchange refuses. */
function readUpdate(update: XmlElement, current: MessageProps, draft: boolean): Partial<MessageProps> {
  const kind = update.local as UpdateKind;
  const path = update.children.find((c) => c.ns === NS.types && /FieldURI$/.test(c.local));
  if (path?.local === 'ExtendedFieldURI') {
    const field = readExtendedField(path);
    const others = current.extended.filter((e) => e.key !== field.key);
    if (kind === 'DeleteItemField') return { extended: others };
    if (kind === 'AppendToItemField') throw refused('ErrorInvalidPropertyAppend', TEXTS.append, path);
    const value = readExtendedProperty(carried(update, 'ExtendedProperty', path));
    if (value.key !== field.key) throw refused('ErrorUpdatePropertyMismatch', TEXTS.mismatch, path);
    return { extended: [...others, value] };
  }
  const uri = path?.local === 'FieldURI' ? (attr(path, 'FieldURI') ?? '') : '';
  const property = SETTABLE_BY_URI.get(uri);
  if (!property || property.createOnly) {
    // Read-only (identity, dates, sizes, computed flags) or, for IndexedFieldURI, another item type's.
    if (kind === 'DeleteItemField') throw refused('ErrorInvalidPropertyDelete', TEXTS.delete, path);
    if (kind === 'AppendToItemField') throw refused('ErrorInvalidPropertyAppend', TEXTS.append, path);
    throw refused('ErrorInvalidPropertySet', TEXTS.set, path);
  }
  if (property.fixedAfterSend && !draft) throw refused('ErrorInvalidPropertyUpdateSentMessage', TEXTS.sent, path);
  if (kind === 'DeleteItemField') {
    if (!property.cleared) throw refused('ErrorInvalidPropertyDelete', TEXTS.delete, path);
    return property.cleared;
  }
  const element = carried(update, property.element, path!);
  if (kind === 'AppendToItemField') {
    const appended = property.append?.(current, element);
    if (!appended || appended === 'mismatch') throw refused('ErrorInvalidPropertyAppend', TEXTS.append, path);
    return appended;
  }
  return property.read(element);
}

/** The properties a message's MIME content gives it (the others, such as flags and categories, stay). */
const FROM_MIME: Array<keyof MessageProps> = [
  'subject', 'bodyType', 'body', 'attachments', 'size', 'importance', 'sensitivity', 'inReplyTo', 'references', 'internetMessageId',
  'from', 'sender', 'toRecipients', 'ccRecipients', 'bccRecipients', 'replyTo', 'conversationTopic', 'headers', 'dateTimeSent',
  'isReadReceiptRequested', 'isDeliveryReceiptRequested', 'culture',
];

/** A SetItemField of item:MimeContent: the new MIME and the properties read from it; null for other updates. */
async function readMimeUpdate(update: XmlElement, draft: boolean): Promise<{ mime: Buffer; props: Partial<MessageProps> } | null> {
  const path = update.children.find((c) => c.ns === NS.types && c.local === 'FieldURI');
  if (attr(path, 'FieldURI') !== 'item:MimeContent') return null;
  if (update.local === 'DeleteItemField') throw refused('ErrorInvalidPropertyDelete', TEXTS.delete, path);
  if (update.local === 'AppendToItemField') throw refused('ErrorInvalidPropertyAppend', TEXTS.append, path);
  if (!draft) throw refused('ErrorInvalidPropertyUpdateSentMessage', TEXTS.sent, path);
  const mime = Buffer.from(carried(update, 'MimeContent', path!).text.replace(/\s+/g, ''), 'base64');
  const read = await readMime(mime, new Date());
  return { mime, props: Object.fromEntries(FROM_MIME.map((key) => [key, read[key]])) as Partial<MessageProps> };
}

const SEND_AS_DENIED =
  'The user account which was used to submit this request does not have the right to send mail on behalf of the specified sending account.';

/** The properties a message's MIME carries. */
const MIME_PROPERTIES = new Set<keyof MessageProps>([
  'subject',
  'body',
  'bodyType',
  'toRecipients',
  'ccRecipients',
  'bccRecipients',
  'replyTo',
  'from',
  'importance',
  'sensitivity',
  'isReadReceiptRequested',
  'isDeliveryReceiptRequested',
  'culture',
  'inReplyTo',
  'references',
]);

export const updateItem: Operation = {
  name: 'UpdateItem',
  handle(context, request) {
    const neverOverwrite = attr(request, 'ConflictResolution') === 'NeverOverwrite';
    const disposition = attr(request, 'MessageDisposition');
    const savedFolderElement = folderIdIn(child(request, NS.messages, 'SavedItemFolderId'));
    return answerEach(
      'UpdateItem',
      children(child(request, NS.messages, 'ItemChanges'), NS.types, 'ItemChange'),
      async (change) => {
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
        // A draft's whole MIME content can be replaced; its properties are then read from it.
        let replacedMime: Buffer | null = null;
        let changedAfterMime = false;
        for (const update of children(child(change, NS.types, 'Updates'), NS.types)) {
          const mimeContent = await readMimeUpdate(update, item.props.isDraft);
          if (mimeContent) {
            replacedMime = mimeContent.mime;
            props = { ...props, ...mimeContent.props };
            changedAfterMime = false;
            continue;
          }
          const changes = readUpdate(update, { ...item.props, ...props }, item.props.isDraft);
          if (Object.keys(changes).some((key) => MIME_PROPERTIES.has(key as keyof MessageProps))) changedAfterMime = true;
          props = { ...props, ...changes };
        }
        if (props.from && !context.mailbox.owns(props.from.address)) throw new EwsError('ErrorSendAsDenied', SEND_AS_DENIED);
        if (Object.keys(props).length > 0) {
          // A draft's MIME is what SendItem sends: it is written again from the changed properties.
          let mime: Buffer | null = replacedMime;
          if (item.props.isDraft && changedAfterMime) {
            const owner = { name: context.mailbox.displayName, address: context.mailbox.address };
            mime = await composeFromProps({ ...item.props, ...props }, replacedMime ?? context.state.mime(item.mimeRef), owner);
          }
          if (mime) props.size = mime.length;
          context.mailbox.updateItem(item, props, mime ? context.state.putMime(mime) : undefined);
        }
        if (disposition === 'SendOnly' || disposition === 'SendAndSaveCopy') {
          // Sent at once: the answer names no item (it has left the Drafts folder).
          const saveTo =
            disposition === 'SendAndSaveCopy' ? (savedFolderElement ? resolveFolder(context, savedFolderElement) : context.mailbox.distinguishedFolder('sentitems')!) : null;
          await sendStored(context, item, saveTo);
          return [el('m:Items'), el('m:ConflictResults', null, el('t:Count', null, '0'))];
        }
        return [
          el('m:Items', null, el('t:Message', null, el('t:ItemId', { Id: item.id, ChangeKey: context.mailbox.changeKey(item) }))),
          el('m:ConflictResults', null, el('t:Count', null, '0')),
        ];
      },
      () => el('m:Items'),
    );
  },
};
