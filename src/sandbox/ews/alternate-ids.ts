/**
 * Exchange's id layouts, as ConvertId reads and writes them (a pure conversion of bytes; sources: poizan42's
 * "EwsId reverse engineered format" gist, and grommunio/gromox doc/ews_spec.rst with Exchange's own ConvertId
 * answers):
 * - EntryId: base64 of the MAPI PR_ENTRYID (46 bytes for a folder, 70 for a message); HexEntryId: its hex.
 * - StoreId: base64 of the entry id's length (1 byte), the entry id, and the object's type (1 folder, 9 message).
 * - OwaId: the StoreId, URL-encoded.
 * - EwsId: a compression byte (0 none, 1 run-length), then a storage type (3: by mailbox GUID), the mailbox GUID
 *   as text with a 16-bit little-endian length, a processing instruction byte (0), the entry id with a 16-bit length.
 * - EwsLegacyId (Exchange 2007): the same with storage type 0 and the mailbox's SMTP address instead of the GUID.
 */

export type IdFormat = 'EwsId' | 'EwsLegacyId' | 'EntryId' | 'HexEntryId' | 'StoreId' | 'OwaId';

/** What an id names, whatever its format: an entry id, and the mailbox when the format carries one. */
export interface CanonicalId {
  entryId: Buffer;
  mailboxGuid?: string;
  smtpAddress?: string;
}

const FOLDER_ENTRY_ID = 46;
const MESSAGE_ENTRY_ID = 70;
const STORE_TYPE = { [FOLDER_ENTRY_ID]: 1, [MESSAGE_ENTRY_ID]: 9 } as Record<number, number>;
const BY_SMTP_ADDRESS = 0;
const BY_MAILBOX_GUID = 3;
const NORMAL = 0;
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function base64(text: string): Buffer | null {
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(text) || text.length % 4 !== 0) return null;
  return Buffer.from(text, 'base64');
}

function wellFormedEntryId(bytes: Buffer | null): Buffer | null {
  return bytes && (bytes.length === FOLDER_ENTRY_ID || bytes.length === MESSAGE_ENTRY_ID) ? bytes : null;
}

/** Run-length: two equal bytes in a row are followed by how many more of them there are. */
function decompress(bytes: Buffer): Buffer | null {
  const out: number[] = [];
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i]!;
    out.push(b);
    if (i + 1 < bytes.length && bytes[i + 1] === b) {
      if (i + 2 >= bytes.length) return null;
      const more = bytes[i + 2]!;
      for (let k = 0; k < more + 1; k++) out.push(b);
      i += 2;
    }
  }
  return Buffer.from(out);
}

function compress(bytes: Buffer): Buffer {
  const out: number[] = [];
  let i = 0;
  while (i < bytes.length) {
    const b = bytes[i]!;
    let run = 1;
    while (i + run < bytes.length && bytes[i + run] === b && run < 257) run++;
    out.push(b);
    if (run >= 2) out.push(b, run - 2);
    i += run;
  }
  return Buffer.from(out);
}

function counted(bytes: Buffer): Buffer {
  const length = Buffer.alloc(2);
  length.writeUInt16LE(bytes.length);
  return Buffer.concat([length, bytes]);
}

function readEwsId(text: string, storageType: number): CanonicalId | null {
  const raw = base64(text);
  if (!raw || raw.length < 2 || raw[0]! > 1) return null;
  const payload = raw[0] === 1 ? decompress(raw.subarray(1)) : raw.subarray(1);
  if (!payload || payload.length < 3 || payload[0] !== storageType) return null;
  const monikerLength = payload.readUInt16LE(1);
  const moniker = payload.subarray(3, 3 + monikerLength);
  let offset = 3 + monikerLength;
  if (moniker.length !== monikerLength || payload.length < offset + 3 || payload[offset] !== NORMAL) return null;
  const entryLength = payload.readUInt16LE(offset + 1);
  offset += 3;
  if (payload.length !== offset + entryLength) return null;
  const entryId = wellFormedEntryId(Buffer.from(payload.subarray(offset)));
  if (!entryId) return null;
  if (storageType === BY_MAILBOX_GUID) {
    const guid = moniker.toString('ascii');
    return GUID.test(guid) ? { entryId, mailboxGuid: guid.toLowerCase() } : null;
  }
  const address = moniker.toString('utf8');
  return /^[^\s@]+@[^\s@]+$/.test(address) ? { entryId, smtpAddress: address } : null;
}

function readStoreId(text: string): CanonicalId | null {
  const raw = base64(text);
  if (!raw || raw.length < 2 || raw[0] !== raw.length - 2) return null;
  const entryId = wellFormedEntryId(Buffer.from(raw.subarray(1, raw.length - 1)));
  return entryId ? { entryId } : null;
}

/** Reads an id of the given format; null when it is not well-formed (Exchange: ErrorInvalidIdMalformed). */
export function readAlternateId(format: string, id: string): CanonicalId | null {
  switch (format) {
    case 'EwsId':
      return readEwsId(id, BY_MAILBOX_GUID);
    case 'EwsLegacyId':
      return readEwsId(id, BY_SMTP_ADDRESS);
    case 'EntryId': {
      const entryId = wellFormedEntryId(base64(id));
      return entryId ? { entryId } : null;
    }
    case 'HexEntryId': {
      const entryId = /^(?:[0-9A-Fa-f]{2})+$/.test(id) ? wellFormedEntryId(Buffer.from(id, 'hex')) : null;
      return entryId ? { entryId } : null;
    }
    case 'StoreId':
      return readStoreId(id);
    case 'OwaId': {
      // URL-decoded as a form value ('+' is a space); public folder (PSF., PSI.) and archive (AMB.) ids are not read.
      let decoded: string;
      try {
        decoded = decodeURIComponent(id.replace(/\+/g, ' '));
      } catch {
        return null;
      }
      return readStoreId(decoded);
    }
    default:
      return null;
  }
}

function ewsIdText(payload: Buffer): string {
  const packed = compress(payload);
  return (packed.length < payload.length ? Buffer.concat([Buffer.from([1]), packed]) : Buffer.concat([Buffer.from([0]), payload])).toString('base64');
}

function storeIdText(entryId: Buffer): string {
  return Buffer.concat([Buffer.from([entryId.length]), entryId, Buffer.from([STORE_TYPE[entryId.length] ?? 0])]).toString('base64');
}

/** Writes an entry id in a format; the EwsId names the mailbox by its GUID, the EwsLegacyId by its address. */
export function writeAlternateId(format: IdFormat, entryId: Buffer, mailbox: { guid: string; address: string }): string {
  switch (format) {
    case 'EwsId':
      return ewsIdText(Buffer.concat([Buffer.from([BY_MAILBOX_GUID]), counted(Buffer.from(mailbox.guid, 'ascii')), Buffer.from([NORMAL]), counted(entryId)]));
    case 'EwsLegacyId':
      return ewsIdText(Buffer.concat([Buffer.from([BY_SMTP_ADDRESS]), counted(Buffer.from(mailbox.address, 'utf8')), Buffer.from([NORMAL]), counted(entryId)]));
    case 'EntryId':
      return entryId.toString('base64');
    case 'HexEntryId':
      return entryId.toString('hex').toUpperCase();
    case 'StoreId':
      return storeIdText(entryId);
    case 'OwaId':
      return encodeURIComponent(storeIdText(entryId));
  }
}
