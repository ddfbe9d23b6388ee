/**
 * CreateItem for messages, with each MessageDisposition: SaveOnly stores a draft and returns its id; SendOnly
 * sends; SendAndSaveCopy sends and keeps a copy (in SavedItemFolderId, else Sent Items). Sending delivers to the
 * sandbox's own mailboxes among the recipients and records the rest as outbound mail. SendItem sends drafts.
 * Replies and forwards (response objects) are built in reply.ts; attachments are read in attachments.ts.
 */
import { attr, child, children, type XmlElement } from '../../../xml/parse.js';
import { NS } from '../../../xml/namespaces.js';
import { el } from '../../../xml/write.js';
import { xsBoolean } from '../../../xml/xs-boolean.js';
import type { Mailbox } from '../../state/mailbox.js';
import { readMime } from '../../state/mime.js';
import type { Address, Folder, Item, MessageProps } from '../../state/model.js';
import { answerEach, type EwsContext, folderIdIn, resolveFolder, resolveItem } from '../context.js';
import { readAddresses, readMessageProperties } from '../message-properties.js';
import { EwsError } from '../soap.js';
import { unsupportedItemType } from '../unavailable.js';
import { createdAttachmentIds, readAttachments } from './attachments.js';
import { buildResponse, RESPONSE_OBJECTS, suppressReadReceipt } from './reply.js';
import type { Operation } from './types.js';

export interface NewMessage {
  mime: Buffer;
  recipients: Address[];
  /** The properties the request set, kept as sent (the MIME carries some of them only approximately, others not at all). */
  given: Partial<MessageProps>;
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
  const given = readMessageProperties(message);
  const mimeElement = child(message, NS.types, 'MimeContent');
  if (mimeElement) {
    const mime = Buffer.from(mimeElement.text.replace(/\s+/g, ''), 'base64');
    const props = await readMime(mime, new Date());
    if (forSending && props.from && !mailbox.owns(props.from.address)) throw new EwsError('ErrorSendAsDenied', SEND_AS_DENIED);
    return { mime, recipients: [...props.toRecipients, ...props.ccRecipients, ...props.bccRecipients], given };
  }
  const from = readAddresses(child(message, NS.types, 'From'))[0];
  if (from && !attached && !mailbox.owns(from.address)) throw new EwsError('ErrorSendAsDenied', SEND_AS_DENIED);
  // The message is from the mailbox as the directory names it, whatever name the request gave (an attached
  // message keeps the sender it names).
  if (!attached) delete given.from;
  const to = given.toRecipients ?? [];
  const cc = given.ccRecipients ?? [];
  const bcc = given.bccRecipients ?? [];
  const attachments = await readAttachments(child(message, NS.types, 'Attachments'), (inner) => attachedMime(context, inner));
  const body = given.body ?? '';
  const mime = await state.compose(
    {
      from: attached && from ? from : { name: mailbox.displayName, address: mailbox.address },
      to,
      cc,
      bcc,
      subject: given.subject ?? '',
      ...(given.bodyType === 'HTML' ? { html: body } : { text: body }),
      messageId: given.internetMessageId?.trim() || undefined,
      inReplyTo: given.inReplyTo?.trim() || undefined,
      references: given.references?.trim() || undefined,
      importance: given.importance ?? 'Normal',
      sensitivity: given.sensitivity,
      replyTo: given.replyTo,
      readReceipt: given.isReadReceiptRequested,
      deliveryReceipt: given.isDeliveryReceiptRequested,
      culture: given.culture,
      attachments,
    },
    true,
  );
  return { mime, recipients: [...to, ...cc, ...bcc], given };
}

/** The MIME of a message inside an ItemAttachment. */
export async function attachedMime(context: EwsContext, message: XmlElement): Promise<Buffer> {
  return (await buildMessage(context, message, false, true)).mime;
}

/** Stores a message the mailbox made itself (a draft, or the copy of what it sent). */
async function store(context: EwsContext, mailbox: Mailbox, folder: Folder, message: NewMessage, draft: boolean) {
  const props: MessageProps = { ...(await readMime(message.mime, new Date())), ...message.given };
  props.isRead = message.given.isRead ?? true;
  props.isDraft = draft;
  props.isSubmitted = false;
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
        if (element.local !== 'Message' && !RESPONSE_OBJECTS.has(element.local)) throw unsupportedItemType(element.local);
        if (!disposition) throw new EwsError('ErrorMessageDispositionRequired', 'MessageDisposition attribute is required.');
        const sending = disposition !== 'SaveOnly';
        const message: NewMessage = RESPONSE_OBJECTS.has(element.local)
          ? { ...(await buildResponse(context, element)), given: {} }
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
        if (copyFolder) await store(context, context.mailbox, copyFolder, { ...message, given: { ...message.given, isRead: true } }, false);
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
      const folder = save ? (savedFolderElement ? resolveFolder(context, savedFolderElement) : context.mailbox.distinguishedFolder('sentitems')!) : null;
      await sendStored(context, item, folder);
      return null;
    });
  },
};

/** Sends a stored message (a draft) as its MIME says, then moves it to `saveTo` as sent, or deletes it. */
export async function sendStored(context: EwsContext, item: Item, saveTo: Folder | null): Promise<void> {
  const mime = context.state.mime(item.mimeRef);
  const props = await readMime(mime, new Date());
  const recipients = [...props.toRecipients, ...props.ccRecipients, ...props.bccRecipients];
  if (recipients.length === 0) throw new EwsError('ErrorInvalidRecipients', 'At least one recipient is required, but none were found.');
  await context.state.send(context.mailbox, mime, recipients);
  if (saveTo) {
    const moved = context.mailbox.moveItem(item, saveTo);
    const from = moved.props.from ?? { name: context.mailbox.displayName, address: context.mailbox.address };
    context.mailbox.updateItem(moved, { isDraft: false, isRead: true, from, sender: moved.props.sender ?? from });
  } else {
    context.mailbox.deleteItem(item);
  }
}
