/**
 * From the engine's outgoing MIME to an SMTP submission: the envelope (the mailbox as sender, every To, Cc and
 * Bcc address as a recipient) and the message as it goes on the wire, without its Bcc header (no recipient may see
 * the others' Bcc). The copy kept in Sent keeps the Bcc header, as every mail client's does.
 */
import { simpleParser, type AddressObject } from 'mailparser';
import type { SmtpEnvelope } from '../smtp/types.js';

function addresses(field: AddressObject | AddressObject[] | undefined): string[] {
  const list = field === undefined ? [] : Array.isArray(field) ? field : [field];
  const out: string[] = [];
  const walk = (entries: AddressObject['value']) => {
    for (const entry of entries) {
      if (entry.group) walk(entry.group);
      else if (entry.address) out.push(entry.address);
    }
  };
  for (const object of list) walk(object.value);
  return out;
}

/** The message without its Bcc header (and the header's folded continuation lines); the body untouched. */
export function withoutBcc(mime: Buffer): Buffer {
  const text = mime.toString('latin1');
  const split = /\r?\n\r?\n/.exec(text);
  const headerEnd = split ? split.index : text.length;
  const header = text.slice(0, headerEnd);
  const lines = header.split(/(?<=\n)/);
  const kept: string[] = [];
  let dropping = false;
  for (const line of lines) {
    if (/^[ \t]/.test(line)) {
      if (!dropping) kept.push(line);
      continue;
    }
    dropping = /^bcc\s*:/i.test(line);
    if (!dropping) kept.push(line);
  }
  let head = kept.join('');
  // The last header line may have lost its line end with a dropped Bcc after it.
  if (head.length > 0 && !head.endsWith('\n') && headerEnd < text.length) head = head.replace(/\r?\n?$/, '');
  return Buffer.from(head + text.slice(headerEnd), 'latin1');
}

export class NoRecipientsError extends Error {
  constructor() {
    super('the email has no recipient in To, Cc or Bcc');
    this.name = 'NoRecipientsError';
  }
}

/** The envelope and the bytes to submit for a message sent from `address`. */
export async function submissionOf(mime: Buffer, address: string): Promise<{ envelope: SmtpEnvelope; wire: Buffer }> {
  const parsed = await simpleParser(mime, { skipHtmlToText: true, skipTextToHtml: true, skipImageLinks: true, skipTextLinks: true });
  const seen = new Set<string>();
  const to: string[] = [];
  for (const recipient of [...addresses(parsed.to), ...addresses(parsed.cc), ...addresses(parsed.bcc)]) {
    const key = recipient.toLowerCase();
    if (seen.has(key)) continue;
    seen.add(key);
    to.push(recipient);
  }
  if (to.length === 0) throw new NoRecipientsError();
  return { envelope: { from: address, to }, wire: withoutBcc(mime) };
}
