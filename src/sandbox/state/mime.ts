/**
 * Messages as MIME: reading what is delivered (mailparser) and writing what is composed (nodemailer's
 * composer). The sandbox stores the MIME as given and keeps the properties EWS shows next to it.
 */
import { randomBytes } from 'node:crypto';
import { type AddressObject, simpleParser } from 'mailparser';
import MailComposer from 'nodemailer/lib/mail-composer/index.js';
import { newConversationIndex } from './conversation.js';
export { newConversationIndex };
import { attachmentParts, type ComposeAttachment, composerAttachment } from './mime-parts.js';
import { type Address, type AttachmentInfo, messageDefaults, type MessageProps, type Sensitivity } from './model.js';

function addresses(value: AddressObject | AddressObject[] | undefined): Address[] {
  if (!value) return [];
  const list = Array.isArray(value) ? value : [value];
  const result: Address[] = [];
  for (const group of list) {
    for (const entry of group.value) {
      if (entry.address) result.push({ name: entry.name || entry.address, address: entry.address });
      for (const member of entry.group ?? []) if (member.address) result.push({ name: member.name || member.address, address: member.address });
    }
  }
  return result;
}

/** Exchange keeps at most 255 characters of a subject ("The subject is limited to 255 characters": EWS reference, Subject). */
export function truncateSubject(subject: string): string {
  const chars = [...subject];
  return chars.length <= 255 ? subject : chars.slice(0, 255).join('');
}

/** The Sensitivity header's values (MS-OXCMAIL, Sensitivity), both ways. */
const SENSITIVITY_HEADER: Record<Exclude<Sensitivity, 'Normal'>, string> = { Personal: 'Personal', Private: 'Private', Confidential: 'Company-Confidential' };

function sensitivityFrom(header: unknown): Sensitivity {
  const value = String(header ?? '').trim().toLowerCase();
  for (const [sensitivity, text] of Object.entries(SENSITIVITY_HEADER)) if (text.toLowerCase() === value) return sensitivity as Sensitivity;
  return 'Normal';
}

function headerText(value: unknown): string {
  if (value === undefined || value === null) return '';
  if (typeof value === 'string') return value;
  if (typeof value === 'object' && 'text' in value) return String((value as { text: unknown }).text);
  return String(value);
}

/** One RFC 2047 encoded word's text; null when the charset is unknown or the word malformed. */
function decodeWord(charset: string, encoding: string, text: string): string | null {
  let bytes: Buffer;
  if (encoding.toUpperCase() === 'B') bytes = Buffer.from(text, 'base64');
  else bytes = Buffer.from(text.replace(/_/g, ' ').replace(/=([0-9A-Fa-f]{2})/g, (_m, hex: string) => String.fromCharCode(Number.parseInt(hex, 16))), 'latin1');
  try {
    return new TextDecoder(charset.replace(/\*.*$/, '').trim().toLowerCase()).decode(bytes);
  } catch {
    return null;
  }
}

/**
 * An unstructured header's value as RFC 5322 and 2047 read it: unfolding removes only the line breaks (the white
 * space of a folded line stays; mailparser collapses it), white space between encoded words is dropped.
 */
export function unstructuredHeader(raw: string): string {
  const value = raw.slice(raw.indexOf(':') + 1).replace(/\r?\n(?=[ \t])/g, '').trim();
  const word = /=\?([^?\s]+)\?([BbQq])\?([^?\s]*)\?=/g;
  let result = '';
  let last = 0;
  let previousWasWord = false;
  for (const match of value.matchAll(word)) {
    const between = value.slice(last, match.index);
    const decoded = decodeWord(match[1]!, match[2]!, match[3]!);
    if (decoded === null) {
      result += between + match[0];
      previousWasWord = false;
    } else {
      result += previousWasWord && /^[ \t]*$/.test(between) ? '' : between;
      result += decoded;
      previousWasWord = true;
    }
    last = match.index + match[0].length;
  }
  return result + value.slice(last);
}

/** Reads the properties EWS shows from a MIME message. */
export async function readMime(mime: Buffer, received: Date): Promise<MessageProps> {
  const parsed = await simpleParser(mime, { skipImageLinks: true, skipTextToHtml: true, skipTextLinks: true });
  const from = addresses(parsed.from)[0] ?? null;
  const sender = addresses(parsed.headers.get('sender') as AddressObject | undefined)[0] ?? from;
  const references = Array.isArray(parsed.references) ? parsed.references.join(' ') : (parsed.references ?? null);
  const html = typeof parsed.html === 'string' ? parsed.html : null;
  const attachments: AttachmentInfo[] = parsed.attachments.map((a, index) => ({
    id: `att-${index + 1}`,
    name: a.filename ?? `attachment-${index + 1}`,
    contentType: a.contentType,
    size: a.size,
    isInline: a.contentDisposition === 'inline',
    contentId: a.contentId ?? null,
    isItem: a.contentType === 'message/rfc822',
  }));
  const sent = parsed.date ?? received;
  const threadIndex = parsed.headers.get('thread-index');
  const subjectLine = parsed.headerLines.find((h) => h.key === 'subject')?.line;
  const subject = truncateSubject(subjectLine === undefined ? (parsed.subject ?? '') : unstructuredHeader(subjectLine));
  const language = headerText(parsed.headers.get('content-language')).split(',')[0]?.trim();
  // mailparser reads Importance, X-Priority and X-MSMail-Priority into one priority.
  const priority = parsed.headers.get('priority');
  return {
    itemClass: 'IPM.Note',
    subject,
    bodyType: html !== null ? 'HTML' : 'Text',
    body: html ?? parsed.text ?? '',
    attachments,
    dateTimeReceived: received.toISOString(),
    dateTimeSent: sent.toISOString(),
    dateTimeCreated: received.toISOString(),
    lastModifiedTime: received.toISOString(),
    size: mime.length,
    categories: [],
    importance: priority === 'high' ? 'High' : priority === 'low' ? 'Low' : 'Normal',
    inReplyTo: parsed.inReplyTo ?? null,
    references,
    internetMessageId: parsed.messageId ?? `<${randomBytes(12).toString('hex')}@sandbox.invalid>`,
    isRead: false,
    isDraft: false,
    isSubmitted: false,
    from,
    sender,
    toRecipients: addresses(parsed.to),
    ccRecipients: addresses(parsed.cc),
    bccRecipients: addresses(parsed.bcc),
    replyTo: addresses(parsed.replyTo),
    conversationTopic: subject.replace(/^((re|fw|fwd|aw|wg|sv|vs)\s*:\s*)+/i, ''),
    conversationIndex: typeof threadIndex === 'string' ? threadIndex : newConversationIndex(subject.replace(/^((re|fw|fwd|aw|wg|sv|vs)\s*:\s*)+/i, '')),
    headers: parsed.headerLines.map((h) => ({ name: h.line.slice(0, h.line.indexOf(':')), value: h.line.slice(h.line.indexOf(':') + 1).trim() })),
    ...messageDefaults(),
    sensitivity: sensitivityFrom(parsed.headers.get('sensitivity')),
    // A read receipt is asked for by Disposition-Notification-To, a delivery receipt by Return-Receipt-To (MS-OXCMAIL).
    isReadReceiptRequested: parsed.headers.has('disposition-notification-to'),
    isDeliveryReceiptRequested: parsed.headers.has('return-receipt-to'),
    ...(language ? { culture: language } : {}),
  };
}

export interface ComposeInput {
  from: Address;
  to?: Address[];
  cc?: Address[];
  bcc?: Address[];
  subject?: string;
  text?: string;
  html?: string;
  messageId?: string;
  inReplyTo?: string;
  references?: string;
  date?: Date;
  importance?: 'Low' | 'Normal' | 'High';
  /** Thread-Index and Thread-Topic, as Exchange writes them on replies and forwards. */
  threadIndex?: string;
  threadTopic?: string;
  sensitivity?: Sensitivity;
  replyTo?: Address[];
  /** Asks for a read receipt (Disposition-Notification-To) and a delivery receipt (Return-Receipt-To), to the sender. */
  readReceipt?: boolean;
  deliveryReceipt?: boolean;
  /** Written as Content-Language. */
  culture?: string;
  attachments?: ComposeAttachment[];
  /** Further header fields, written as given (Graph's internetMessageHeaders). */
  headers?: Array<{ name: string; value: string }>;
}

const format = (a: Address) => ({ name: a.name === a.address ? '' : a.name, address: a.address });

/** Builds a MIME message. Bcc is kept in the headers when asked (a sent copy keeps it; delivered copies do not). */
export async function composeMime(input: ComposeInput, keepBcc = false): Promise<Buffer> {
  // Written as prepared, so the composer leaves them as they are: a plain name, else the address alone.
  const sender = /^[\w .'-]+$/.test(input.from.name) && input.from.name !== input.from.address ? `${input.from.name} <${input.from.address}>` : `<${input.from.address}>`;
  const headers: Record<string, { prepared: true; value: string }> = {};
  const add = (name: string, value: string) => (headers[name] = { prepared: true, value });
  // Exchange marks importance with Importance and X-Priority (MS-OXCMAIL, Importance).
  if (input.importance === 'High' || input.importance === 'Low') {
    add('Importance', input.importance.toLowerCase());
    add('X-Priority', input.importance === 'High' ? '1' : '5');
  }
  if (input.sensitivity && input.sensitivity !== 'Normal') add('Sensitivity', SENSITIVITY_HEADER[input.sensitivity]);
  if (input.readReceipt) add('Disposition-Notification-To', sender);
  if (input.deliveryReceipt) add('Return-Receipt-To', sender);
  if (input.culture) add('Content-Language', input.culture);
  for (const header of input.headers ?? []) add(header.name, header.value);
  if (input.threadIndex) {
    add('Thread-Topic', input.threadTopic ?? '');
    add('Thread-Index', input.threadIndex);
  }
  const composer = new MailComposer({
    headers,
    replyTo: input.replyTo?.length ? input.replyTo.map(format) : undefined,
    from: format(input.from),
    to: input.to?.map(format),
    cc: input.cc?.map(format),
    bcc: input.bcc?.map(format),
    subject: input.subject ?? '',
    text: input.text,
    html: input.html,
    messageId: input.messageId,
    inReplyTo: input.inReplyTo,
    references: input.references,
    date: input.date ?? new Date(),
    attachments: input.attachments?.map(composerAttachment),
  });
  const compiled = composer.compile();
  if (keepBcc) (compiled as unknown as { keepBcc: boolean }).keepBcc = true;
  return new Promise((resolve, reject) => compiled.build((error, message) => (error ? reject(error) : resolve(message))));
}

/** Writes a draft's MIME again from its properties, keeping the attachments of the MIME it had. */
export async function composeFromProps(props: MessageProps, previous: Buffer, owner: Address): Promise<Buffer> {
  return composeMime(
    {
      from: props.from ?? owner,
      to: props.toRecipients,
      cc: props.ccRecipients,
      bcc: props.bccRecipients,
      subject: props.subject,
      ...(props.bodyType === 'HTML' ? { html: props.body } : { text: props.body }),
      messageId: props.internetMessageId,
      inReplyTo: props.inReplyTo ?? undefined,
      references: props.references ?? undefined,
      date: new Date(props.dateTimeSent),
      importance: props.importance,
      sensitivity: props.sensitivity,
      replyTo: props.replyTo,
      readReceipt: props.isReadReceiptRequested,
      deliveryReceipt: props.isDeliveryReceiptRequested,
      culture: props.culture,
      // The conversation stays the draft's (a reply keeps its thread).
      ...(props.conversationIndex ? { threadIndex: props.conversationIndex, threadTopic: props.conversationTopic } : {}),
      // Carried as they were: an attached message stays a message/rfc822 part, an inline one keeps its Content-ID.
      attachments: (await attachmentParts(previous)).map((a) => ({
        filename: a.filename,
        contentType: a.contentType,
        content: a.content,
        inline: a.inline,
        contentId: a.contentId ?? undefined,
      })),
    },
    true,
  );
}
