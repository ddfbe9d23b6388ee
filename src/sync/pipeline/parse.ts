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
        if (member.address) result.push({ address: oneLine(member.address), displayName: member.name ? oneLine(member.name) : null });
      }
    }
  }
  return result;
}

/**
 * Text from a message, as data. A NUL byte (U+0000) becomes U+FFFD, the replacement character: a database text
 * column (PostgreSQL's) refuses it, and one byte must not make a whole batch's commit fail.
 */
export function textData(value: string): string {
  return value.replaceAll('\u0000', '\uFFFD');
}

/**
 * A value that is one line by nature (a subject, a display name, an address, a header value): line breaks (CR,
 * LF, NEL, the Unicode line and paragraph separators) and other control characters become spaces, so a name
 * decoded from an encoded word cannot carry a header of its own into anything that writes it out again (a
 * reply, an export), and NUL becomes U+FFFD as in textData.
 */
export function oneLine(value: string): string {
  // eslint-disable-next-line no-control-regex -- control characters are what this removes
  return textData(value).replace(/[\u0001-\u0008\u000a-\u001f\u007f\u0085\u2028\u2029]/g, ' ');
}

function oneLineOrNull(value: string | null | undefined): string | null {
  return value === null || value === undefined ? null : oneLine(value);
}

/** An unfolded header value (RFC 5322 section 2.2.3); encoded words are left as they are. */
function headerValue(line: string): string {
  return line.slice(line.indexOf(':') + 1).replace(/\r?\n(?=[ \t])/g, '').trim();
}

function headerMap(parsed: ParsedMail): Map<string, string> {
  const headers = new Map<string, string>();
  for (const { key, line } of parsed.headerLines) {
    if (key !== '' && !headers.has(key)) headers.set(oneLine(key), oneLine(headerValue(line)));
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

function fallbackName(contentType: string, index: number): string {
  const extension = EXTENSION_BY_TYPE[contentType.toLowerCase()];
  return `attachment-${index + 1}${extension ? `.${extension}` : ''}`;
}

/** Characters that change the direction text is shown in (Unicode bidi controls) or are invisible. */
const BIDI_AND_INVISIBLE = /[\u061c\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]/g;
const MAX_FILE_NAME = 255;

/**
 * The name an attachment is kept under: only the last part of a path (a sender's "../../x" or "C:\\x\\y" is
 * "x" or "y"), without bidi overrides (which make "invoice\u202Efdp.exe" show as "invoiceexe.pdf"), invisible or
 * control characters, trailing dots and spaces, at most 255 characters keeping the extension. What is left
 * empty, "." or ".." gets a name from the content type. Attachments are stored in the database, never as files;
 * the name is cleaned for whoever saves it later, and the original is kept in a note (renamedFrom).
 */
export function safeFileName(fileName: string | undefined, contentType: string, index: number): { fileName: string; renamedFrom?: string } {
  if (fileName === undefined || fileName.trim() === '') return { fileName: fallbackName(contentType, index) };
  let name = oneLine(fileName).replace(BIDI_AND_INVISIBLE, '');
  name = name.split(/[\\/]/).pop() ?? '';
  name = name.replace(/^[a-z]:/i, '').replace(/[. ]+$/, '').trim();
  if (name.length > MAX_FILE_NAME) {
    const dot = name.lastIndexOf('.');
    const extension = dot > 0 && name.length - dot <= 16 ? name.slice(dot) : '';
    name = name.slice(0, MAX_FILE_NAME - extension.length) + extension;
  }
  if (name === '' || name === '.' || name === '..') name = fallbackName(contentType, index);
  return name === fileName ? { fileName: name } : { fileName: name, renamedFrom: fileName };
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
  const parsedId = normalizeMessageId(parsed.messageId);
  const mimeId = parsedId === null ? null : oneLine(parsedId);
  const internetMessageId = mimeId ?? listedId ?? derivedMessageId(input.mime);
  const conversationId = input.conversationId || threadIndexConversation(headers.get('thread-index'));
  // mailparser puts the time of parsing in place of a Date header it cannot read; a sent time must be the sender's.
  const dateHeader = headers.get('date');
  const sentAt = dateHeader === undefined ? null : isoDate(new Date(dateHeader.replace(/\s*\([^)]*\)\s*$/, '')));
  const html = typeof parsed.html === 'string' ? parsed.html : null;
  const email: ParsedEmail = {
    internetMessageId,
    derivedId: mimeId === null && listedId === null,
    subject: oneLine(parsed.subject ?? ''),
    from: addressList(parsed.from),
    to: addressList(parsed.to),
    cc: addressList(parsed.cc),
    bcc: addressList(parsed.bcc),
    // A bare id without brackets is read too: some clients write one.
    inReplyTo: oneLineOrNull(messageIdList(parsed.inReplyTo ?? null)[0] ?? normalizeMessageId(parsed.inReplyTo)),
    references: messageIdList(parsed.references ?? null).map(oneLine),
    conversationId: conversationId || null,
    sentAt,
    receivedAt: input.receivedAt ?? receivedHeaderDate(parsed) ?? sentAt ?? now().toISOString(),
    bodyText: parsed.text === undefined ? null : textData(parsed.text),
    bodyHtml: html === null ? null : textData(html),
    attachments: parsed.attachments.map((a, index) => ({
      ...safeFileName(a.filename, a.contentType, index),
      contentType: oneLine(a.contentType),
      content: a.content,
    })),
    headers,
    contentType: headers.get('content-type') ?? 'text/plain',
  };
  return { ok: true, email };
}
