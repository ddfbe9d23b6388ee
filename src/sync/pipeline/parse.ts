/**
 * A message's MIME as the pipeline reads it (mailparser). A message that cannot be read is a ParseFailure with
 * a code and the reason, never an exception and never an empty message: the engine records it as a failed
 * outcome and retries it, and the other messages of the batch go on.
 */
import { type AddressObject, type ParsedMail, simpleParser } from 'mailparser';
import { threadIndexConversation } from '../../domain/correlation.js';
import { derivedMessageId, messageIdList, normalizeMessageId } from '../../domain/message-id.js';
import type { IngestInput, ParsedEmail } from './types.js';

export interface ParseFailure {
  code: 'mime.unparseable' | 'mime.not-a-message';
  message: string;
  /** The Message-ID when the listing gave one; the MIME itself could not be read. */
  internetMessageId: string | null;
}

export type ParseResult = { ok: true; email: ParsedEmail } | { ok: false; failure: ParseFailure };

type Address = ParsedEmail['from'][number];

function addressList(value: AddressObject | AddressObject[] | undefined): Address[] {
  if (!value) return [];
  const result: Address[] = [];
  for (const group of Array.isArray(value) ? value : [value]) {
    for (const entry of group.value) {
      // A group ("Team: a@x, b@x;") lists its members; each is a party of its own.
      for (const member of entry.group ? entry.group : [entry]) {
        if (member.address) result.push({ address: member.address, displayName: member.name ? member.name : null });
      }
    }
  }
  return result;
}

/** An unfolded header value (RFC 5322 section 2.2.3); encoded words are left as they are. */
function headerValue(line: string): string {
  return line.slice(line.indexOf(':') + 1).replace(/\r?\n(?=[ \t])/g, '').trim();
}

function headerMap(parsed: ParsedMail): Map<string, string> {
  const headers = new Map<string, string>();
  for (const { key, line } of parsed.headerLines) {
    if (key !== '' && !headers.has(key)) headers.set(key, headerValue(line));
  }
  return headers;
}

/**
 * Extensions for parts that come without a file name: an attached message reads as one, and an executable sent
 * nameless still meets the blocked-extension rule.
 */
const EXTENSION_BY_TYPE: Record<string, string> = {
  'message/rfc822': 'eml',
  'text/plain': 'txt',
  'text/html': 'html',
  'text/calendar': 'ics',
  'image/png': 'png',
  'image/jpeg': 'jpg',
  'image/gif': 'gif',
  'application/pdf': 'pdf',
  'application/x-msdownload': 'exe',
  'application/x-msdos-program': 'exe',
  'application/x-msi': 'msi',
  'application/javascript': 'js',
  'text/javascript': 'js',
};

function attachmentName(fileName: string | undefined, contentType: string, index: number): string {
  if (fileName && fileName.trim() !== '') return fileName;
  const extension = EXTENSION_BY_TYPE[contentType.toLowerCase()];
  return `attachment-${index + 1}${extension ? `.${extension}` : ''}`;
}

function isoDate(value: Date | undefined | null): string | null {
  return value instanceof Date && !Number.isNaN(value.getTime()) ? value.toISOString() : null;
}

/** The time of the newest Received header (the first; RFC 5321 section 4.4 prepends them): when it arrived. */
function receivedHeaderDate(parsed: ParsedMail): string | null {
  const line = parsed.headerLines.find((h) => h.key === 'received')?.line;
  if (!line) return null;
  const value = headerValue(line);
  const semicolon = value.lastIndexOf(';');
  if (semicolon < 0) return null;
  return isoDate(new Date(value.slice(semicolon + 1).trim()));
}

/**
 * A header section is there when the bytes start with a header field (a name of printable characters and a
 * colon, RFC 5322 section 2.2). mailparser reads anything; bytes that are not a message would otherwise pass as
 * one with no headers and their bytes as the text.
 */
function startsWithHeaderField(parsed: ParsedMail): boolean {
  const first = parsed.headerLines[0];
  return first !== undefined && first.key !== '' && /^[!-9;-~]+:/.test(first.line);
}

export async function parseIncoming(input: IngestInput, now: () => Date = () => new Date()): Promise<ParseResult> {
  const listedId = normalizeMessageId(input.internetMessageId);
  let parsed: ParsedMail;
  try {
    parsed = await simpleParser(input.mime, { skipImageLinks: true, skipTextToHtml: true, skipTextLinks: true });
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    return { ok: false, failure: { code: 'mime.unparseable', message: `the message's MIME could not be read: ${reason}`, internetMessageId: listedId } };
  }
  if (!startsWithHeaderField(parsed)) {
    return {
      ok: false,
      failure: {
        code: 'mime.not-a-message',
        message: `the message's MIME (${input.mime.length} bytes) has no header section: its first line is not a header field`,
        internetMessageId: listedId,
      },
    };
  }

  const headers = headerMap(parsed);
  const mimeId = normalizeMessageId(parsed.messageId);
  const internetMessageId = mimeId ?? listedId ?? derivedMessageId(input.mime);
  const conversationId = input.conversationId || threadIndexConversation(headers.get('thread-index'));
  // mailparser puts the time of parsing in place of a Date header it cannot read; a sent time must be the sender's.
  const dateHeader = headers.get('date');
  const sentAt = dateHeader === undefined ? null : isoDate(new Date(dateHeader.replace(/\s*\([^)]*\)\s*$/, '')));
  const html = typeof parsed.html === 'string' ? parsed.html : null;
  const email: ParsedEmail = {
    internetMessageId,
    derivedId: mimeId === null && listedId === null,
    subject: parsed.subject ?? '',
    from: addressList(parsed.from),
    to: addressList(parsed.to),
    cc: addressList(parsed.cc),
    bcc: addressList(parsed.bcc),
    // A bare id without brackets is read too: some clients write one.
    inReplyTo: messageIdList(parsed.inReplyTo ?? null)[0] ?? normalizeMessageId(parsed.inReplyTo),
    references: messageIdList(parsed.references ?? null),
    conversationId: conversationId || null,
    sentAt,
    receivedAt: input.receivedAt ?? receivedHeaderDate(parsed) ?? sentAt ?? now().toISOString(),
    bodyText: parsed.text ?? null,
    bodyHtml: html,
    attachments: parsed.attachments.map((a, index) => ({
      fileName: attachmentName(a.filename, a.contentType, index),
      contentType: a.contentType,
      content: a.content,
    })),
    headers,
    contentType: headers.get('content-type') ?? 'text/plain',
  };
  return { ok: true, email };
}
