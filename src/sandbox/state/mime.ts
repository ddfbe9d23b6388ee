/**
 * Messages as MIME: reading what is delivered (mailparser) and writing what is composed (nodemailer's
 * composer). The sandbox stores the MIME as given and keeps the properties EWS shows next to it.
 */
import { createHash, randomBytes } from 'node:crypto';
import { type AddressObject, simpleParser } from 'mailparser';
import MailComposer from 'nodemailer/lib/mail-composer/index.js';
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

/**
 * The conversation a topic makes when nothing else ties a message to one ([MS-OXOMSG] 2.2.1.2,
 * PidTagConversationId): MD5 of the first 255 characters of the topic, upper-cased, in UTF-16LE.
 */
export function topicConversationGuid(topic: string): Buffer {
  return createHash('md5').update(Buffer.from(topic.slice(0, 255).toUpperCase(), 'utf16le')).digest();
}

/**
 * An Outlook-style conversation index ([MS-OXOMSG] 2.2.1.3): a header byte, five bytes of time, a GUID. A
 * message that comes without one (mail from outside) gets its topic's GUID, so that the conversation its id
 * names is the one Exchange computes from the topic, and replies to it stay in it.
 */
export function newConversationIndex(topic?: string): string {
  const buffer = Buffer.alloc(22);
  buffer[0] = 1;
  const filetime = BigInt(Date.now()) * 10000n + 116444736000000000n;
  const bytes = Buffer.alloc(8);
  bytes.writeBigUInt64BE(filetime);
  bytes.copy(buffer, 1, 0, 5);
  (topic ? topicConversationGuid(topic) : randomBytes(16)).copy(buffer, 6);
  return buffer.toString('base64');
}

/**
 * The index of a reply or forward: the original's, with a five-byte child block (the time since the
 * original's header block and a random nibble), as [MS-OXOMSG] 2.2.1.3 PidTagConversationIndex lays it out.
 */
export function childConversationIndex(parent: string, now = Date.now()): string {
  const base = Buffer.from(parent, 'base64');
  if (base.length < 22) return newConversationIndex();
  const headerTime = (BigInt(base.readUInt32BE(1)) << 32n) | (BigInt(base[5]!) << 24n);
  const delta = BigInt(now) * 10000n + 116444736000000000n - headerTime;
  const positive = delta < 0n ? 0n : delta;
  const wide = positive >> 49n !== 0n;
  const bits = ((wide ? positive >> 23n : positive >> 18n) & 0x7fffffffn) | (wide ? 0x80000000n : 0n);
  const child = Buffer.alloc(5);
  child.writeUInt32BE(Number(bits), 0);
  child[4] = randomBytes(1)[0]! & 0xf0;
  return Buffer.concat([base, child]).toString('base64');
}

/** A message's attachments as mailparser finds them, in the order the properties list them, with their MIME part numbers. */
export async function attachmentParts(mime: Buffer): Promise<Array<{ partId: string | null; filename: string; contentType: string; content: Buffer; inline: boolean; contentId: string | null }>> {
  const parsed = await simpleParser(mime, { skipImageLinks: true, skipTextToHtml: true, skipTextLinks: true });
  return parsed.attachments.map((a, index) => ({
    partId: (a as { partId?: string | null }).partId ?? null,
    filename: a.filename ?? `attachment-${index + 1}`,
    contentType: a.contentType,
    content: a.content,
    inline: a.contentDisposition === 'inline',
    contentId: a.contentId ?? null,
  }));
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

export interface ComposeAttachment {
  filename: string;
  contentType: string;
  content: Buffer;
  /** Shown in the body (referenced by its Content-ID) rather than listed. */
  inline?: boolean;
  contentId?: string;
}

/** An attachment as nodemailer writes it. An attached message is always `attachment`, so readers list it rather than show it. */
function composerAttachment(a: ComposeAttachment) {
  return {
    filename: a.filename,
    contentType: a.contentType,
    content: a.content,
    contentDisposition: (a.inline && a.contentType !== 'message/rfc822' ? 'inline' : 'attachment') as 'inline' | 'attachment',
    ...(a.contentId ? { cid: a.contentId.replace(/^<|>$/g, '') } : {}),
  };
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
