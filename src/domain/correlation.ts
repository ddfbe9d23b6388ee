/**
 * Correlation rules: how an incoming message is tied to an email the CRM already has. The order is the
 * commercial component's (In-Reply-To, then the tracking token, then the conversation): header matches have no
 * false positives, a token can be edited by people, a conversation is the loosest tie.
 */
import { messageIdList } from './message-id.js';

/**
 * The Message-IDs a message answers, most telling first: In-Reply-To, then References from the newest (the
 * last, RFC 5322 section 3.6.4) to the oldest. Without repeats.
 */
export function answeredMessageIds(inReplyTo: string | null, references: readonly string[]): Array<{ messageId: string; by: 'in-reply-to' | 'references' }> {
  const result: Array<{ messageId: string; by: 'in-reply-to' | 'references' }> = [];
  const seen = new Set<string>();
  const add = (messageId: string, by: 'in-reply-to' | 'references') => {
    if (seen.has(messageId)) return;
    seen.add(messageId);
    result.push({ messageId, by });
  };
  for (const id of messageIdList(inReplyTo)) add(id, 'in-reply-to');
  const refs = references.flatMap((r) => messageIdList(r));
  for (let i = refs.length - 1; i >= 0; i -= 1) add(refs[i]!, 'references');
  return result;
}

/** The 22-byte header block of a conversation index ([MS-OXOMSG] 2.2.1.3): a reserved byte, time, GUID. */
const CONVERSATION_HEADER_BYTES = 22;

/**
 * The conversation a Thread-Index names: its first 22 bytes (what every reply keeps; each reply appends five),
 * base64. null when the value is not base64 of at least that many bytes.
 */
export function threadIndexConversation(threadIndex: string | null | undefined): string | null {
  if (!threadIndex) return null;
  const text = threadIndex.replace(/\s+/g, '');
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(text)) return null;
  const bytes = Buffer.from(text, 'base64');
  if (bytes.length < CONVERSATION_HEADER_BYTES) return null;
  return bytes.subarray(0, CONVERSATION_HEADER_BYTES).toString('base64');
}

