/**
 * Structural edits of a stored MIME message: adding an attachment part and removing one, leaving every other
 * byte as it was (headers, bodies, the other parts). Parts are named as IMAP and mailparser number them
 * ("2", "1.3"). Bytes are handled as latin1 strings, which map one to one.
 */
import { randomBytes } from 'node:crypto';
import { simpleParser } from 'mailparser';

interface Entity {
  /** The header block, without the blank line that ends it. */
  header: string;
  /** The line ending the message uses. */
  eol: string;
  /** Where the body starts in the entity's text. */
  bodyStart: number;
  text: string;
}

function entity(text: string): Entity {
  const match = /\r?\n\r?\n/.exec(text);
  if (!match) return { header: text, eol: text.includes('\r\n') ? '\r\n' : '\n', bodyStart: text.length, text };
  const eol = match[0].startsWith('\r\n') ? '\r\n' : '\n';
  return { header: text.slice(0, match.index), eol, bodyStart: match.index + match[0].length, text };
}

/** A header's value, its folded lines joined. */
function headerValue(header: string, name: string): string | undefined {
  const lines = header.split(/\r?\n/);
  for (let i = 0; i < lines.length; i += 1) {
    const colon = lines[i]!.indexOf(':');
    if (colon < 0 || lines[i]!.slice(0, colon).trim().toLowerCase() !== name) continue;
    let value = lines[i]!.slice(colon + 1);
    while (i + 1 < lines.length && /^[ \t]/.test(lines[i + 1]!)) value += lines[(i += 1)]!;
    return value.trim();
  }
  return undefined;
}

function contentType(header: string): { type: string; boundary: string | null } {
  const value = headerValue(header, 'content-type') ?? 'text/plain';
  const type = value.split(';')[0]!.trim().toLowerCase();
  const boundary = /;\s*boundary\s*=\s*(?:"([^"]+)"|([^\s;]+))/i.exec(value);
  return { type, boundary: boundary ? (boundary[1] ?? boundary[2]!) : null };
}

const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Where the delimiter lines of a multipart body are: one per part, then the closing one (-1 when missing). */
function delimiters(text: string, from: number, boundary: string): { parts: number[]; close: number } {
  const pattern = new RegExp(`(^|\\r?\\n)--${escape(boundary)}(--)?[ \\t]*(?=\\r?\\n|$)`, 'g');
  pattern.lastIndex = from;
  const parts: number[] = [];
  let close = -1;
  for (let match = pattern.exec(text); match; match = pattern.exec(text)) {
    const at = match.index + match[1]!.length;
    if (match[2]) {
      close = at;
      break;
    }
    parts.push(at);
  }
  return { parts, close };
}

/** The start of a part's own text (after its delimiter line) and its end (the line break before the next one). */
function partSpan(text: string, delimiterAt: number, next: number): [number, number] {
  const lineEnd = text.indexOf('\n', delimiterAt);
  const start = lineEnd < 0 ? text.length : lineEnd + 1;
  let end = next;
  if (text[end - 1] === '\n') end -= 1;
  if (text[end - 1] === '\r') end -= 1;
  return [start, Math.max(start, end)];
}

export class MimeStructureError extends Error {}

/** Removes the part with this IMAP-style number. */
export function removePart(mime: Buffer, partId: string): Buffer {
  return Buffer.from(removeFrom(mime.toString('latin1'), partId.split('.').map(Number)), 'latin1');
}

function removeFrom(text: string, path: number[]): string {
  const e = entity(text);
  const { boundary, type } = contentType(e.header);
  if (!type.startsWith('multipart/') || !boundary) throw new MimeStructureError('the part is not in a multipart entity');
  const { parts, close } = delimiters(text, e.bodyStart > 0 ? e.bodyStart - e.eol.length : 0, boundary);
  const index = path[0]! - 1;
  if (index < 0 || index >= parts.length) throw new MimeStructureError('no such part');
  const next = index + 1 < parts.length ? parts[index + 1]! : close >= 0 ? close : text.length;
  if (path.length === 1) return text.slice(0, parts[index]) + text.slice(next);
  const [start, end] = partSpan(text, parts[index]!, next);
  return text.slice(0, start) + removeFrom(text.slice(start, end), path.slice(1)) + text.slice(end);
}

/** Empties a message that is itself its only attachment (no multipart): what is left is an empty text body. */
export function removeRootContent(mime: Buffer): Buffer {
  const text = mime.toString('latin1');
  const e = entity(text);
  const kept: string[] = [];
  let dropping = false;
  for (const line of e.header.split(/\r?\n/)) {
    if (!/^[ \t]/.test(line)) dropping = isContentHeader(line);
    if (!dropping) kept.push(line);
  }
  kept.push('Content-Type: text/plain; charset=utf-8', 'Content-Transfer-Encoding: 7bit');
  return Buffer.from(`${kept.join(e.eol)}${e.eol}${e.eol}`, 'latin1');
}

/** Header lines about the content (Content-*), which move to the first part when a message is wrapped. */
function isContentHeader(line: string): boolean {
  return /^content-/i.test(line);
}

/**
 * Adds a part (its own headers and body) as the last attachment: into the message's multipart/mixed, or, when
 * the message has none at its root, by wrapping what it has as the first part of a new one.
 */
export function appendPart(mime: Buffer, part: Buffer): Buffer {
  const text = mime.toString('latin1');
  const e = entity(text);
  // The part's own text as given: an empty body still ends its headers with a blank line.
  const partText = part.toString('latin1').replace(/\r?\n/g, e.eol);
  const { type, boundary } = contentType(e.header);
  if (type === 'multipart/mixed' && boundary) {
    const { close } = delimiters(text, e.bodyStart - e.eol.length, boundary);
    if (close >= 0) return Buffer.from(`${text.slice(0, close)}--${boundary}${e.eol}${partText}${e.eol}${text.slice(close)}`, 'latin1');
  }
  const wrapper = `--_sandbox_${randomBytes(8).toString('hex')}`;
  const lines = e.header.split(/\r?\n/);
  const rootLines: string[] = [];
  const contentLines: string[] = [];
  let target = rootLines;
  for (const line of lines) {
    if (!/^[ \t]/.test(line)) target = isContentHeader(line) ? contentLines : rootLines;
    target.push(line);
  }
  if (!rootLines.some((l) => /^mime-version\s*:/i.test(l))) rootLines.push('MIME-Version: 1.0');
  rootLines.push(`Content-Type: multipart/mixed; boundary="${wrapper}"`);
  const body = text.slice(e.bodyStart);
  return Buffer.from(
    [
      rootLines.join(e.eol),
      '',
      `--${wrapper}`,
      ...contentLines,
      '',
      body.replace(new RegExp(`${e.eol}$`), ''),
      `--${wrapper}`,
      partText,
      `--${wrapper}--`,
      '',
    ].join(e.eol),
    'latin1',
  );
}

/** The last part of a multipart message (nodemailer puts a lone attachment there): how a new part is made. */
export function lastPart(mime: Buffer): Buffer {
  const text = mime.toString('latin1');
  const e = entity(text);
  const { boundary } = contentType(e.header);
  if (!boundary) throw new MimeStructureError('not a multipart message');
  const { parts, close } = delimiters(text, e.bodyStart - e.eol.length, boundary);
  const at = parts[parts.length - 1];
  if (at === undefined) throw new MimeStructureError('no parts');
  const [start, end] = partSpan(text, at, close >= 0 ? close : text.length);
  return Buffer.from(text.slice(start, end), 'latin1');
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

export interface ComposeAttachment {
  filename: string;
  contentType: string;
  content: Buffer;
  /** Shown in the body (referenced by its Content-ID) rather than listed. */
  inline?: boolean;
  contentId?: string;
}

/** An attachment as nodemailer writes it. An attached message is always `attachment`, so readers list it rather than show it. */
export function composerAttachment(a: ComposeAttachment) {
  return {
    filename: a.filename,
    contentType: a.contentType,
    content: a.content,
    contentDisposition: (a.inline && a.contentType !== 'message/rfc822' ? 'inline' : 'attachment') as 'inline' | 'attachment',
    ...(a.contentId ? { cid: a.contentId.replace(/^<|>$/g, '') } : {}),
  };
}
