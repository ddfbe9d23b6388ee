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
import type { Address, Folder, Item, MessageProps } from '../../state/model.js';
import { answerEach, type EwsContext, folderIdIn, resolveFolder, resolveItem } from '../context.js';
import { readAddresses, readMessageProperties } from '../message-properties.js';
import { EwsError } from '../soap.js';
import type { Operation } from './types.js';

interface NewMessage {
  mime: Buffer;
  recipients: Address[];
  /** The properties the request set, kept as sent (the MIME carries some of them only approximately, others not at all). */
  given: Partial<MessageProps>;
}

const SEND_AS_DENIED =
  'The user account which was used to submit this request does not have the right to send mail on behalf of the specified sending account.';

/** Builds the MIME of a t:Message from its MimeContent, or composes it from its properties. */
async function buildMessage(context: EwsContext, message: XmlElement, forSending: boolean): Promise<NewMessage> {
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
  if (from && !mailbox.owns(from.address)) throw new EwsError('ErrorSendAsDenied', SEND_AS_DENIED);
  // The message is from the mailbox as the directory names it, whatever name the request gave.
  delete given.from;
  const to = given.toRecipients ?? [];
  const cc = given.ccRecipients ?? [];
  const bcc = given.bccRecipients ?? [];
  const attachments = children(child(message, NS.types, 'Attachments'), NS.types, 'FileAttachment').map((a) => ({
    filename: child(a, NS.types, 'Name')?.text ?? 'attachment',
    contentType: child(a, NS.types, 'ContentType')?.text.trim() || 'application/octet-stream',
    content: Buffer.from((child(a, NS.types, 'Content')?.text ?? '').replace(/\s+/g, ''), 'base64'),
  }));
  const body = given.body ?? '';
  const mime = await state.compose(
    {
      from: { name: mailbox.displayName, address: mailbox.address },
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
        if (element.local !== 'Message') {
          throw new EwsError('ErrorInvalidRequest', `The sandbox stores messages only; it cannot create a ${element.local}.`);
        }
        if (!disposition) throw new EwsError('ErrorMessageDispositionRequired', 'MessageDisposition attribute is required.');
        const sending = disposition !== 'SaveOnly';
        const message = await buildMessage(context, element, sending);
        if (sending && message.recipients.length === 0) {
          throw new EwsError('ErrorInvalidRecipients', 'At least one recipient is required, but none were found.');
        }
        if (disposition === 'SaveOnly') {
          const folder = savedFolderElement ? resolveFolder(context, savedFolderElement) : context.mailbox.distinguishedFolder('drafts')!;
          const item = await store(context, context.mailbox, folder, message, true);
          return el('m:Items', null, el('t:Message', null, el('t:ItemId', { Id: item.id, ChangeKey: context.mailbox.changeKey(item) })));
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
    const save = attr(request, 'SaveItemToFolder') !== 'false';
    const savedFolderElement = folderIdIn(child(request, NS.messages, 'SavedItemFolderId'));
    return answerEach('SendItem', children(child(request, NS.messages, 'ItemIds'), NS.types), async (id) => {
      const item = resolveItem(context, id);
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
