/**
 * The response objects CreateItem takes for messages: ReplyToItem, ReplyAllToItem and ForwardItem (the message
 * Exchange builds from the one they reference), and SuppressReadReceipt. Exchange builds a reply's recipients,
 * subject, threading headers, conversation and quoted body itself; the client gives the new text (NewBodyContent),
 * or a whole Body, and may add recipients or set the Subject.
 */
import { attr, child, type XmlElement } from '../../../xml/parse.js';
import { NS } from '../../../xml/namespaces.js';
import type { Mailbox } from '../../state/mailbox.js';
import { childConversationIndex } from '../../state/conversation.js';
import type { Address, Item } from '../../state/model.js';
import { type EwsContext, resolveItemId } from '../context.js';
import { EwsError } from '../soap.js';
import { readAddresses } from '../message-properties.js';
import { carriedAttachments } from './attachments.js';

export type ResponseKind = 'ReplyToItem' | 'ReplyAllToItem' | 'ForwardItem';
export const RESPONSE_OBJECTS: ReadonlySet<string> = new Set<ResponseKind>(['ReplyToItem', 'ReplyAllToItem', 'ForwardItem']);

export interface BuiltResponse {
  mime: Buffer;
  recipients: Address[];
  /** The message replied to or forwarded. */
  original: Item;
}

/** Each address once, in order, without the replying mailbox's own. */
function others(mailbox: Mailbox, ...lists: Address[][]): Address[] {
  const seen = new Set<string>();
  const result: Address[] = [];
  for (const a of lists.flat()) {
    const key = a.address.toLowerCase();
    if (!key || seen.has(key) || mailbox.owns(key)) continue;
    seen.add(key);
    result.push(a);
  }
  return result;
}

function unique(...lists: Address[][]): Address[] {
  const seen = new Set<string>();
  return lists.flat().filter((a) => {
    const key = a.address.toLowerCase();
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/**
 * The subject without its prefix, as the store normalizes it: one leading prefix of one to three characters
 * that are not digits, white space or punctuation, then a colon and a space (MAPI's PR_NORMALIZED_SUBJECT).
 * A reply is "RE: " and a forward "FW: " before it, so a reply to a reply does not read "RE: RE:".
 */
export function normalizedSubject(subject: string): string {
  const match = /^([^\d\s\p{P}]{1,3}):\s/u.exec(subject);
  return match ? subject.slice(match[0].length) : subject;
}

const escapeHtml = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

function person(a: Address): string {
  return a.name && a.name !== a.address ? `${a.name} <${a.address}>` : a.address;
}

/** The header block above the quoted original, as Outlook on the web writes it. */
function quoteHeader(original: Item): Array<[string, string]> {
  const p = original.props;
  const sent = new Date(p.dateTimeSent).toUTCString();
  const lines: Array<[string, string]> = [
    ['From', p.from ? person(p.from) : ''],
    ['Sent', sent],
    ['To', p.toRecipients.map(person).join('; ')],
  ];
  if (p.ccRecipients.length > 0) lines.push(['Cc', p.ccRecipients.map(person).join('; ')]);
  lines.push(['Subject', p.subject]);
  return lines;
}

function htmlOf(original: Item): string {
  const { body, bodyType } = original.props;
  if (bodyType === 'HTML') {
    const inner = /<body[^>]*>([\s\S]*?)<\/body>/i.exec(body);
    return inner ? inner[1]! : body;
  }
  return `<div>${escapeHtml(body).replace(/\r?\n/g, '<br>')}</div>`;
}

function textOf(original: Item): string {
  const { body, bodyType } = original.props;
  if (bodyType === 'Text') return body;
  return body
    .replace(/<(script|style)[\s\S]*?<\/\1>/gi, '')
    .replace(/<br\s*\/?>|<\/p>|<\/div>/gi, '\n')
    .replace(/<[^>]+>/g, '')
    .replace(/&nbsp;/g, ' ')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&');
}

/** The new text above the original, which is quoted under a separator and its header block. */
function composeBody(newBody: XmlElement | undefined, original: Item): { html?: string; text?: string } {
  const text = newBody?.text ?? '';
  // HTML when either side is HTML: the text side is then escaped into it.
  const isHtml = attr(newBody, 'BodyType') === 'HTML' || original.props.bodyType === 'HTML';
  const header = quoteHeader(original);
  if (isHtml) {
    const fresh = attr(newBody, 'BodyType') === 'HTML' ? text : escapeHtml(text).replace(/\r?\n/g, '<br>');
    const block = header.map(([k, v]) => `<b>${k}:</b> ${escapeHtml(v)}`).join('<br>');
    return {
      html:
        `<html><body>${fresh}<hr style="display:inline-block;width:98%" tabindex="-1">` +
        `<div id="divRplyFwdMsg" dir="ltr"><font face="Calibri, sans-serif" style="font-size:11pt" color="#000000">${block}</font><div>&nbsp;</div></div>` +
        `${htmlOf(original)}</body></html>`,
    };
  }
  const block = header.map(([k, v]) => `${k}: ${v}`).join('\r\n');
  return { text: `${text}\r\n\r\n________________________________\r\n${block}\r\n\r\n${textOf(original)}` };
}

/** The referenced message, with the errors Exchange gives for one that cannot be answered. */
function referenced(context: EwsContext, element: XmlElement, kind: ResponseKind | 'SuppressReadReceipt'): Item {
  const reference = child(element, NS.types, 'ReferenceItemId');
  if (!reference) throw new EwsError('ErrorInvalidReferenceItem', 'The reference item does not support the requested operation.');
  const original = resolveItemId(context, attr(reference, 'Id') ?? '', reference);
  // responsecode.md, ErrorInvalidReferenceItem: "The message is a draft and Reply or ReplyAll is selected."
  if (original.props.isDraft && (kind === 'ReplyToItem' || kind === 'ReplyAllToItem')) {
    throw new EwsError('ErrorInvalidReferenceItem', 'The reference item does not support the requested operation.');
  }
  return original;
}

/** Builds the reply or forward a response object asks for, as the MIME of a new message from the mailbox. */
export async function buildResponse(context: EwsContext, element: XmlElement): Promise<BuiltResponse> {
  const kind = element.local as ResponseKind;
  const { mailbox, state } = context;
  const original = referenced(context, element, kind);
  const p = original.props;
  const to = readAddresses(child(element, NS.types, 'ToRecipients'));
  const cc = readAddresses(child(element, NS.types, 'CcRecipients'));
  const bcc = readAddresses(child(element, NS.types, 'BccRecipients'));
  const replyTarget = p.replyTo.length > 0 ? p.replyTo : p.from ? [p.from] : [];
  let toList = to;
  let ccList = cc;
  if (kind === 'ReplyToItem') toList = unique(replyTarget, to);
  if (kind === 'ReplyAllToItem') {
    toList = unique(others(mailbox, replyTarget, p.toRecipients), to);
    // A reply to one's own message goes to its recipients: the sender is the mailbox itself.
    if (toList.length === 0) toList = unique(replyTarget, to);
    ccList = unique(others(mailbox, p.ccRecipients).filter((a) => !toList.some((t) => t.address.toLowerCase() === a.address.toLowerCase())), cc);
  }
  const subjectElement = child(element, NS.types, 'Subject');
  const prefix = kind === 'ForwardItem' ? 'FW: ' : 'RE: ';
  const subject = subjectElement ? subjectElement.text : `${prefix}${normalizedSubject(p.subject)}`;
  const fullBody = child(element, NS.types, 'Body');
  const body = fullBody
    ? attr(fullBody, 'BodyType') === 'HTML'
      ? { html: fullBody.text }
      : { text: fullBody.text }
    : composeBody(child(element, NS.types, 'NewBodyContent'), original);
  const references = [p.references, p.internetMessageId].filter((r): r is string => Boolean(r && r.trim())).join(' ');
  const mime = await state.compose(
    {
      from: { name: mailbox.displayName, address: mailbox.address },
      to: toList,
      cc: ccList,
      bcc,
      subject,
      ...body,
      inReplyTo: p.internetMessageId,
      references,
      threadTopic: p.conversationTopic,
      threadIndex: childConversationIndex(p.conversationIndex ?? ''),
      attachments: kind === 'ForwardItem' ? await carriedAttachments(state.mime(original.mimeRef)) : [],
    },
    true,
  );
  return { mime, recipients: [...toList, ...ccList, ...bcc], original };
}

/**
 * SuppressReadReceipt: the message is marked read and no receipt goes out. Exchange refuses it when no receipt
 * was asked for, or for mail in Junk Email (responsecode.md, ErrorReadReceiptNotPending).
 */
export function suppressReadReceipt(context: EwsContext, element: XmlElement): void {
  const original = referenced(context, element, 'SuppressReadReceipt');
  const asked = original.props.headers.some((h) => /^(disposition-notification-to|return-receipt-to)$/i.test(h.name));
  if (!asked || original.folderId === context.mailbox.distinguishedFolder('junkemail')?.id) {
    throw new EwsError('ErrorReadReceiptNotPending', 'No read receipt is pending for this message.');
  }
  context.mailbox.updateItem(original, { isRead: true });
}
