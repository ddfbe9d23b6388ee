/**
 * Messages as MIME: reading what is delivered (mailparser) and writing what is composed (nodemailer's
 * composer). The sandbox stores the MIME as given and keeps the properties EWS shows next to it.
 */
import { randomBytes } from 'node:crypto';
import { type AddressObject, simpleParser } from 'mailparser';
import MailComposer from 'nodemailer/lib/mail-composer/index.js';
import { newConversationIndex } from './conversation.js';
export { newConversationIndex };
import { type ComposeAttachment, composerAttachment } from './mime-parts.js';
import type { Address, AttachmentInfo, MessageProps } from './model.js';

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
  const subject = parsed.subject ?? '';
  const importanceHeader = String(parsed.headers.get('importance') ?? '').toLowerCase();
  const priority = String(parsed.headers.get('x-priority') ?? '').trim();
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
    importance: importanceHeader === 'high' || /^[12]\b/.test(priority) ? 'High' : importanceHeader === 'low' || /^[45]\b/.test(priority) ? 'Low' : 'Normal',
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
  attachments?: ComposeAttachment[];
}

const format = (a: Address) => ({ name: a.name === a.address ? '' : a.name, address: a.address });

/** Builds a MIME message. Bcc is kept in the headers when asked (a sent copy keeps it; delivered copies do not). */
export async function composeMime(input: ComposeInput, keepBcc = false): Promise<Buffer> {
  const composer = new MailComposer({
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
    priority: input.importance === 'High' ? 'high' : input.importance === 'Low' ? 'low' : 'normal',
    attachments: input.attachments?.map(composerAttachment),
    ...(input.threadIndex ? { headers: { 'Thread-Topic': input.threadTopic ?? '', 'Thread-Index': input.threadIndex } } : {}),
  });
  const compiled = composer.compile();
  if (keepBcc) (compiled as unknown as { keepBcc: boolean }).keepBcc = true;
  return new Promise((resolve, reject) => compiled.build((error, message) => (error ? reject(error) : resolve(message))));
}
