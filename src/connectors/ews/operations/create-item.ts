/**
 * CreateItem for one message: saved as a draft (SaveOnly, the answer names it), sent and copied to a folder
 * (SendAndSaveCopy; Sent Items unless SavedItemFolderId says otherwise) or sent only. The message is either its
 * MIME as the CRM composed it, or properties that Exchange turns into MIME.
 */
import { child } from '../../../xml/parse.js';
import { NS } from '../../../xml/namespaces.js';
import { el, type Xml } from '../../../xml/write.js';
import { singleResponse } from '../soap/response.js';
import {
  type ExtendedPropertyValue,
  extendedPropertyXml,
  folderRefXml,
  type FolderRef,
  type ItemId,
  type Mailbox,
  mailboxesXml,
  mailboxXml,
  readItems,
} from './common.js';
import type { EwsOperation } from './operation.js';

export type MessageDisposition = 'SaveOnly' | 'SendOnly' | 'SendAndSaveCopy';

export interface NewAttachment {
  name: string;
  contentType?: string;
  content: Buffer;
  /** For an inline image referred to by `cid:` in the HTML body. */
  contentId?: string;
  isInline?: boolean;
}

interface MessageCommon {
  /** Stamped on the item (a tracking id the "already sent?" check finds with FindItem). */
  extendedProperties?: readonly ExtendedPropertyValue[];
}

export interface MimeMessage extends MessageCommon {
  mime: Buffer | string;
}

export interface PropertyMessage extends MessageCommon {
  subject?: string;
  body?: { type: 'HTML' | 'Text'; text: string };
  attachments?: readonly NewAttachment[];
  categories?: readonly string[];
  importance?: 'Low' | 'Normal' | 'High';
  /** The Message-ID this answers (In-Reply-To) and the thread's References. */
  inReplyTo?: string;
  references?: string;
  to?: readonly (string | Mailbox)[];
  cc?: readonly (string | Mailbox)[];
  bcc?: readonly (string | Mailbox)[];
  isReadReceiptRequested?: boolean;
  from?: string | Mailbox;
  replyTo?: readonly (string | Mailbox)[];
}

export type NewMessage = MimeMessage | PropertyMessage;

export interface CreateItemRequest {
  disposition: MessageDisposition;
  /** Where the draft (SaveOnly) or the sent copy (SendAndSaveCopy) goes. */
  savedItemFolderId?: FolderRef;
  message: NewMessage;
}

export interface CreateItemResult {
  /** The saved item (SaveOnly); null when the message was sent (Exchange does not name the copy). */
  itemId: ItemId | null;
}

function attachmentXml(a: NewAttachment): Xml {
  return el(
    't:FileAttachment',
    null,
    el('t:Name', null, a.name),
    a.contentType ? el('t:ContentType', null, a.contentType) : null,
    a.contentId ? el('t:ContentId', null, a.contentId) : null,
    a.isInline === undefined ? null : el('t:IsInline', null, a.isInline),
    el('t:Content', null, a.content.toString('base64')),
  );
}

/** A `t:Message` in MessageType's schema order (ItemType's elements first, then MessageType's). */
export function messageXml(message: NewMessage): Xml {
  const extended = (message.extendedProperties ?? []).map(extendedPropertyXml);
  if ('mime' in message) {
    const mime = typeof message.mime === 'string' ? Buffer.from(message.mime, 'utf8') : message.mime;
    return el('t:Message', null, el('t:MimeContent', { CharacterSet: 'UTF-8' }, mime.toString('base64')), extended);
  }
  const m = message;
  return el(
    't:Message',
    null,
    m.subject === undefined ? null : el('t:Subject', null, m.subject),
    m.body ? el('t:Body', { BodyType: m.body.type }, m.body.text) : null,
    m.attachments && m.attachments.length > 0 ? el('t:Attachments', null, m.attachments.map(attachmentXml)) : null,
    m.categories && m.categories.length > 0 ? el('t:Categories', null, m.categories.map((c) => el('t:String', null, c))) : null,
    m.importance ? el('t:Importance', null, m.importance) : null,
    m.inReplyTo ? el('t:InReplyTo', null, m.inReplyTo) : null,
    extended,
    mailboxesXml('t:ToRecipients', m.to),
    mailboxesXml('t:CcRecipients', m.cc),
    mailboxesXml('t:BccRecipients', m.bcc),
    m.isReadReceiptRequested === undefined ? null : el('t:IsReadReceiptRequested', null, m.isReadReceiptRequested),
    m.from ? el('t:From', null, mailboxXml(m.from)) : null,
    m.references ? el('t:References', null, m.references) : null,
    mailboxesXml('t:ReplyTo', m.replyTo),
  );
}

export const CreateItem: EwsOperation<CreateItemRequest, CreateItemResult> = {
  name: 'CreateItem',
  build: (request) =>
    el(
      'm:CreateItem',
      { MessageDisposition: request.disposition },
      request.savedItemFolderId ? el('m:SavedItemFolderId', null, folderRefXml(request.savedItemFolderId)) : null,
      el('m:Items', null, messageXml(request.message)),
    ).serialized,
  read: (response, context) => {
    const [item] = readItems(child(singleResponse(response, context), NS.messages, 'Items'));
    return { itemId: item?.itemId ?? null };
  },
};
