/** Internet Message-IDs as Liaison compares and stores them: one canonical form, "<local@domain>". */
import { createHash } from 'node:crypto';

/** The canonical form of a Message-ID header value, or null when it holds none. Case is kept (RFC 5322). */
export function normalizeMessageId(value: string | null | undefined): string | null {
  if (!value) return null;
  const trimmed = value.trim();
  const bracketed = /<([^<>\s]+)>/.exec(trimmed);
  const inner = bracketed ? bracketed[1]! : trimmed.replace(/^<|>$/g, '');
  if (inner === '' || /\s/.test(inner)) return null;
  return `<${inner}>`;
}

/** Every Message-ID in a References or In-Reply-To value, in order, without repeats. */
export function messageIdList(value: string | readonly string[] | null | undefined): string[] {
  if (!value) return [];
  const text = typeof value === 'string' ? value : value.join(' ');
  const found = [...text.matchAll(/<[^<>\s]+>/g)].map((m) => m[0]);
  return [...new Set(found)];
}

/**
 * A stable id for a message that has no Message-ID header, derived from its bytes: the same message read again
 * (after a restart, a re-sync, in another mailbox) gets the same id, so it is still tracked once.
 */
export function derivedMessageId(mime: Buffer): string {
  return `<${createHash('sha256').update(mime).digest('hex').slice(0, 40)}@no-message-id.liaison.invalid>`;
}

/** A new Message-ID for email Liaison sends: unique, under the sender's domain. */
export function newMessageId(senderAddress: string, unique: string): string {
  const at = senderAddress.lastIndexOf('@');
  const domain = at >= 0 ? senderAddress.slice(at + 1).toLowerCase() : 'liaison.invalid';
  return `<${unique}@${domain}>`;
}
