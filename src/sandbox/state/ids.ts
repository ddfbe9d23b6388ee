/**
 * EWS item and folder ids and change keys, shaped like Exchange's: an id is base64 of
 * 00 03 24 00 + the mailbox GUID in ASCII + 00 + a kind byte + a counter, so it starts "AAMkA" as real ids do;
 * a change key is base64 of a kind, the length of what follows (22), a replica GUID (the mailbox's) and a 6-byte
 * change number, as Exchange's are ("CQAAABYAAAA…" for items, "AQAAABYAAAA…" for folders). Both are opaque to
 * clients.
 */

const PREFIX = Buffer.from([0x00, 0x03, 0x24, 0x00]);
const KIND = { folder: 0x2e, item: 0x46 } as const;
export type IdKind = keyof typeof KIND;
const GUID_LENGTH = 36;
const ID_LENGTH = PREFIX.length + GUID_LENGTH + 2 + 8;

export interface DecodedId {
  kind: IdKind;
  mailboxGuid: string;
  counter: number;
}

export function encodeId(kind: IdKind, mailboxGuid: string, counter: number): string {
  const buffer = Buffer.alloc(ID_LENGTH);
  PREFIX.copy(buffer, 0);
  buffer.write(mailboxGuid, PREFIX.length, 'ascii');
  buffer[PREFIX.length + GUID_LENGTH] = 0;
  buffer[PREFIX.length + GUID_LENGTH + 1] = KIND[kind];
  buffer.writeBigUInt64BE(BigInt(counter), PREFIX.length + GUID_LENGTH + 2);
  return buffer.toString('base64');
}

/** Reads an id; null when it is not one the sandbox could have made (Exchange: ErrorInvalidIdMalformed). */
export function decodeId(id: string): DecodedId | null {
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(id)) return null;
  const buffer = Buffer.from(id, 'base64');
  if (buffer.length !== ID_LENGTH || !buffer.subarray(0, PREFIX.length).equals(PREFIX)) return null;
  const kindByte = buffer[PREFIX.length + GUID_LENGTH + 1];
  const kind = kindByte === KIND.folder ? 'folder' : kindByte === KIND.item ? 'item' : null;
  if (!kind) return null;
  const mailboxGuid = buffer.toString('ascii', PREFIX.length, PREFIX.length + GUID_LENGTH);
  if (!/^[0-9a-f-]{36}$/.test(mailboxGuid)) return null;
  return { kind, mailboxGuid, counter: Number(buffer.readBigUInt64BE(PREFIX.length + GUID_LENGTH + 2)) };
}

const CHANGE_KEY_BODY = 16 + 6;

/** A change key: every change of an object in a mailbox has its own change number, so its own change key. */
export function encodeChangeKey(kind: IdKind, mailboxGuid: string, changeNumber: number): string {
  const buffer = Buffer.alloc(8 + CHANGE_KEY_BODY);
  buffer.writeUInt32LE(kind === 'folder' ? 1 : 9, 0);
  buffer.writeUInt32LE(CHANGE_KEY_BODY, 4);
  Buffer.from(mailboxGuid.replace(/-/g, ''), 'hex').copy(buffer, 8, 0, 16);
  buffer.writeUIntBE(changeNumber, 8 + 16, 6);
  return buffer.toString('base64');
}

/**
 * Whether a change key can be read at all (Exchange: ErrorInvalidChangeKey when not: "invalid base64 content or
 * an empty string"): base64 of a 4-byte kind, a 4-byte length and that many bytes.
 */
export function isWellFormedChangeKey(text: string): boolean {
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(text) || text.length % 4 !== 0) return false;
  const buffer = Buffer.from(text, 'base64');
  return buffer.length >= 8 && buffer.readUInt32LE(4) === buffer.length - 8;
}

/**
 * An attachment id: the id of the item that holds it, then 0x12 and the attachment's path (its key, and for an
 * attachment of an attached message the keys down to it), each key length-prefixed. Like Exchange's, it starts
 * with the item id's bytes, so it names its item and changes when the item moves.
 */
const ATTACHMENT_MARK = 0x12;

export interface DecodedAttachmentId {
  itemId: string;
  path: string[];
}

/** An id shaped as Exchange makes them (a mailbox GUID, then an item's entry id) that names nothing the sandbox made. */
export interface ForeignAttachmentId {
  foreignMailboxGuid: string;
}

export function encodeAttachmentId(itemId: string, path: readonly string[]): string {
  const keys = path.map((key) => Buffer.from(key, 'utf8'));
  return Buffer.concat([Buffer.from(itemId, 'base64'), Buffer.from([ATTACHMENT_MARK]), ...keys.flatMap((k) => [Buffer.from([k.length]), k])]).toString('base64');
}

/** Reads an attachment id; null when it is not one the sandbox could have made (Exchange: ErrorInvalidIdMalformed). */
export function decodeAttachmentId(id: string): DecodedAttachmentId | ForeignAttachmentId | null {
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(id)) return null;
  const buffer = Buffer.from(id, 'base64');
  const guid = buffer.toString('ascii', PREFIX.length, PREFIX.length + GUID_LENGTH);
  const exchangeShaped =
    buffer.length > ID_LENGTH && buffer.subarray(0, PREFIX.length).equals(PREFIX) && /^[0-9a-f-]{36}$/.test(guid) && buffer[PREFIX.length + GUID_LENGTH] === 0 && buffer[PREFIX.length + GUID_LENGTH + 1] === KIND.item;
  if (buffer.length < ID_LENGTH + 3 || buffer[ID_LENGTH] !== ATTACHMENT_MARK) return exchangeShaped ? { foreignMailboxGuid: guid } : null;
  const itemId = buffer.subarray(0, ID_LENGTH).toString('base64');
  const decoded = decodeId(itemId);
  if (!decoded || decoded.kind !== 'item') return null;
  const path: string[] = [];
  let offset = ID_LENGTH + 1;
  while (offset < buffer.length) {
    const length = buffer[offset]!;
    if (length === 0 || offset + 1 + length > buffer.length) return null;
    path.push(buffer.toString('utf8', offset + 1, offset + 1 + length));
    offset += 1 + length;
  }
  return { itemId, path };
}
