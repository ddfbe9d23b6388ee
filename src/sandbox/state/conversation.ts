/**
 * Conversations as Exchange keeps them ([MS-OXOMSG] 2.2.1.2 and 2.2.1.3): a conversation index (a header with
 * a time and a GUID, then a 5-byte block per reply), and the 16 bytes a conversation id names.
 */
import { createHash, randomBytes } from 'node:crypto';

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
