/**
 * CreateItem for messages, with each MessageDisposition: SaveOnly stores a draft and returns its id; SendOnly
 * sends; SendAndSaveCopy sends and keeps a copy (in SavedItemFolderId, else Sent Items). Sending delivers to the
 * sandbox's own mailboxes among the recipients and records the rest as outbound mail. SendItem sends drafts.
 */
import { attr, child, children, type XmlElement } from '../../../xml/parse.js';
import { NS } from '../../../xml/namespaces.js';
import { el } from '../../../xml/write.js';
import type { Mailbox } from '../../state/mailbox.js';
import { readMime } from '../../state/mime.js';
import type { Address, Folder } from '../../state/model.js';
import { answerEach, type EwsContext, folderIdIn, resolveFolder, resolveItem } from '../context.js';
import { EwsError } from '../soap.js';
import { createdAttachmentIds, readAttachments } from './attachments.js';
import { buildResponse, RESPONSE_OBJECTS, suppressReadReceipt } from './reply.js';
import type { Operation } from './types.js';
import { xsBoolean } from '../../../xml/xs-boolean.js';

function readAddresses(container: XmlElement | undefined): Address[] {
  return children(container, NS.types, 'Mailbox').map((m) => {
    const address = child(m, NS.types, 'EmailAddress')?.text.trim() ?? '';
    return { name: child(m, NS.types, 'Name')?.text.trim() || address, address };
  });
}

export interface NewMessage {
  mime: Buffer;
  recipients: Address[];
  isRead: boolean | null;
  categories: string[];
}

const STALE_CHANGE_KEY =
  'The send or update operation could not be performed because the change key passed in the request does not match the current change key for the item.';

const SEND_AS_DENIED =
  'The user account which was used to submit this request does not have the right to send mail on behalf of the specified sending account.';

/**
 * Builds the MIME of a t:Message from its MimeContent, or composes it from its properties. An attached message
 * (inside an ItemAttachment) may be from anyone.
 */
export async function buildMessage(context: EwsContext, message: XmlElement, forSending: boolean, attached = false): Promise<NewMessage> {
  const { mailbox, state } = context;
  const categories = children(child(message, NS.types, 'Categories'), NS.types, 'String').map((s) => s.text);
  const isRead = xsBoolean(child(message, NS.types, 'IsRead')?.text) ?? null;
  const mimeElement = child(message, NS.types, 'MimeContent');
  if (mimeElement) {
    const mime = Buffer.from(mimeElement.text.replace(/\s+/g, ''), 'base64');
    const props = await readMime(mime, new Date());
    if (forSending && props.from && !mailbox.owns(props.from.address)) throw new EwsError('ErrorSendAsDenied', SEND_AS_DENIED);
    return { mime, recipients: [...props.toRecipients, ...props.ccRecipients, ...props.bccRecipients], isRead, categories };
  }
  const from = readAddresses(child(message, NS.types, 'From'))[0];
  if (from && !attached && !mailbox.owns(from.address)) throw new EwsError('ErrorSendAsDenied', SEND_AS_DENIED);
  const body = child(message, NS.types, 'Body');
  const to = readAddresses(child(message, NS.types, 'ToRecipients'));
  const cc = readAddresses(child(message, NS.types, 'CcRecipients'));
  const bcc = readAddresses(child(message, NS.types, 'BccRecipients'));
  const attachments = await readAttachments(child(message, NS.types, 'Attachments'), (inner) => attachedMime(context, inner));
  const importance = child(message, NS.types, 'Importance')?.text.trim();
  const isHtml = attr(body, 'BodyType') === 'HTML';
  const mime = await state.compose(
    {
      from: attached && from ? from : { name: mailbox.displayName, address: mailbox.address },
      to,
      cc,
      bcc,
      subject: child(message, NS.types, 'Subject')?.text ?? '',
      ...(isHtml ? { html: body?.text ?? '' } : { text: body?.text ?? '' }),
      messageId: child(message, NS.types, 'InternetMessageId')?.text.trim() || undefined,
      inReplyTo: child(message, NS.types, 'InReplyTo')?.text.trim() || undefined,
      references: child(message, NS.types, 'References')?.text.trim() || undefined,
      importance: importance === 'High' || importance === 'Low' ? importance : 'Normal',
      attachments,
    },
    true,
  );
  return { mime, recipients: [...to, ...cc, ...bcc], isRead, categories };
}

/** The MIME of a message inside an ItemAttachment. */
export async function attachedMime(context: EwsContext, message: XmlElement): Promise<Buffer> {
  return (await buildMessage(context, message, false, true)).mime;
}

/** Stores a message the mailbox made itself (a draft, or the copy of what it sent). */
async function store(context: EwsContext, mailbox: Mailbox, folder: Folder, message: NewMessage, draft: boolean) {
  const props = await readMime(message.mime, new Date());
  props.isRead = message.isRead ?? true;
  props.isDraft = draft;
  props.isSubmitted = false;
  props.categories = message.categories;
  return mailbox.addItem(folder, context.state.putMime(message.mime), props, false);
}

export const createItem: Operation = {
  name: 'CreateItem',
  handle(context, request) {
    const disposition = attr(request, 'MessageDisposition');
    const savedFolderElement = folderIdIn(child(request, NS.messages, 'SavedItemFolderId'));
    return answerEach(
      'CreateItem',
      children(child(request, NS.messages, 'Items'), NS.types),
      async (element) => {
        if (element.local === 'SuppressReadReceipt') {
          suppressReadReceipt(context, element);
          return el('m:Items');
        }
        if (element.local !== 'Message' && !RESPONSE_OBJECTS.has(element.local)) {
          throw new EwsError('ErrorInvalidRequest', `The sandbox stores messages only; it cannot create a ${element.local}.`);
        }
        if (!disposition) throw new EwsError('ErrorMessageDispositionRequired', 'MessageDisposition attribute is required.');
        const sending = disposition !== 'SaveOnly';
        const message = RESPONSE_OBJECTS.has(element.local)
          ? { ...(await buildResponse(context, element)), isRead: null, categories: [] }
          : await buildMessage(context, element, sending);
        if (sending && message.recipients.length === 0) {
          throw new EwsError('ErrorInvalidRecipients', 'At least one recipient is required, but none were found.');
        }
        if (disposition === 'SaveOnly') {
          const folder = savedFolderElement ? resolveFolder(context, savedFolderElement) : context.mailbox.distinguishedFolder('drafts')!;
          const item = await store(context, context.mailbox, folder, message, true);
          // The attachments' ids come back with the item's (exchangelib's live tests fetch one right after saving).
          return el('m:Items', null, el('t:Message', null, el('t:ItemId', { Id: item.id, ChangeKey: context.mailbox.changeKey(item) }), createdAttachmentIds(item)));
        }
        let copyFolder: Folder | null = null;
        if (disposition === 'SendAndSaveCopy') {
          copyFolder = savedFolderElement ? resolveFolder(context, savedFolderElement) : context.mailbox.distinguishedFolder('sentitems')!;
        }
        await context.state.send(context.mailbox, message.mime, message.recipients);
        if (copyFolder) await store(context, context.mailbox, copyFolder, { ...message, isRead: true }, false);
        return el('m:Items');
      },
      () => el('m:Items'),
    );
  },
};

export const sendItem: Operation = {
  name: 'SendItem',
  handle(context, request) {
    const save = xsBoolean(attr(request, 'SaveItemToFolder')) !== false;
    const savedFolderElement = folderIdIn(child(request, NS.messages, 'SavedItemFolderId'));
    return answerEach('SendItem', children(child(request, NS.messages, 'ItemIds'), NS.types), async (id) => {
      const item = resolveItem(context, id);
      // A draft changed since the client read it (an attachment added, say) is not sent: Exchange answers
      // ErrorIrresolvableConflict (php-ews issue Garethp/php-ews#88, SendItem after CreateAttachment with the old key).
      const changeKey = attr(id, 'ChangeKey');
      if (changeKey && changeKey !== context.mailbox.changeKey(item)) throw new EwsError('ErrorIrresolvableConflict', STALE_CHANGE_KEY);
      const mime = context.state.mime(item.mimeRef);
      const props = await readMime(mime, new Date());
      const recipients = [...props.toRecipients, ...props.ccRecipients, ...props.bccRecipients];
      if (recipients.length === 0) throw new EwsError('ErrorInvalidRecipients', 'At least one recipient is required, but none were found.');
      await context.state.send(context.mailbox, mime, recipients);
      if (save) {
        const folder = savedFolderElement ? resolveFolder(context, savedFolderElement) : context.mailbox.distinguishedFolder('sentitems')!;
        const moved = context.mailbox.moveItem(item, folder);
        context.mailbox.updateItem(moved, { isDraft: false, isRead: true });
      } else {
        context.mailbox.deleteItem(item);
      }
      return null;
    });
  },
};
