/**
 * The missing-mail audit's listing of a POP3 maildrop: the UIDL listing in order (the maildrop's own, oldest first
 * as delivered), a page of it at a time, and `TOP n 0` for the headers of each message of the page (Message-ID,
 * Date, Subject, From). POP3 keeps no received time: `receivedAt` is the Date header, left out when it cannot be
 * read, and `since` compares with it (a message without a readable date is kept: nothing is left out unseen).
 *
 * A page token is the position where the next page starts and the UIDL before it; the next page starts after that
 * UIDL where it still is (another client deleted messages before it), else at the position.
 */
import { simpleParser } from 'mailparser';
import type { InventoryEntry, InventoryPage } from '../connector.js';
import { addressText, pageSize, parseDateHeader } from '../mail/inventory.js';
import { Pop3Error, type Pop3Client } from './client.js';

/** The most of a header section kept; the rest is read and dropped (`Pop3Client.topHeaders`). */
export const HEADER_LIMIT = 256 * 1024;

interface PageToken {
  /** Where the next page starts in the UIDL listing. */
  i: number;
  /** The last UIDL of the page before. */
  after: string;
}

function parsePage(text: string): PageToken | null {
  try {
    const value = JSON.parse(text) as Partial<PageToken>;
    if (typeof value.i === 'number' && Number.isSafeInteger(value.i) && value.i >= 0 && typeof value.after === 'string') return { i: value.i, after: value.after };
  } catch {
    // fall through
  }
  return null;
}

/** What a header section says, as an entry (the serverId given). */
export async function entryFromHeaders(serverId: string, header: Buffer): Promise<InventoryEntry> {
  // A section cut at the limit has no blank line after it: one is added so that nothing is read as a body.
  const parsed = await simpleParser(Buffer.concat([header, Buffer.from('\r\n\r\n')]), { skipHtmlToText: true, skipTextToHtml: true, skipImageLinks: true, skipTextLinks: true });
  const entry: InventoryEntry = { serverId };
  const messageId = parsed.messageId?.trim();
  if (messageId) entry.internetMessageId = messageId;
  // mailparser puts the time of parsing in place of a Date it cannot read: the header's own text is read here.
  const dateLine = parsed.headerLines.find((h) => h.key === 'date')?.line;
  const date = dateLine === undefined ? null : parseDateHeader(dateLine.slice(dateLine.indexOf(':') + 1));
  if (date) entry.receivedAt = date.toISOString();
  if (parsed.subject !== undefined) entry.subject = parsed.subject;
  const sender = parsed.from?.value[0];
  const from = addressText(sender?.name, sender?.address);
  if (from) entry.from = from;
  return entry;
}

/**
 * One page of the inventory, from the session's UIDL listing (`listing`: UIDL and message number, in order). A
 * message the server refuses TOP for (gone since the listing) is listed with its id alone; a connection lost
 * fails the page.
 */
export async function pop3Inventory(client: Pop3Client, listing: ReadonlyArray<readonly [string, number]>, since: Date | null, pageText: string | null, max: number): Promise<InventoryPage> {
  const page = pageText === null ? null : parsePage(pageText);
  if (pageText !== null && page === null) throw new Error(`inventory page "${pageText}" is not a page this connector gave`);
  let start = 0;
  if (page) {
    const at = listing.findIndex(([uid]) => uid === page.after);
    start = at >= 0 ? at + 1 : Math.min(page.i, listing.length);
  }
  const slice = listing.slice(start, start + pageSize(max));
  const entries: InventoryEntry[] = [];
  for (const [uid, number] of slice) {
    let entry: InventoryEntry;
    try {
      const { header } = await client.topHeaders(number, HEADER_LIMIT);
      entry = await entryFromHeaders(uid, header);
    } catch (error) {
      if (!(error instanceof Pop3Error) || error.kind !== 'server' || client.closed) throw error;
      entry = { serverId: uid };
    }
    if (since && entry.receivedAt && Date.parse(entry.receivedAt) < since.getTime()) continue;
    entries.push(entry);
  }
  const end = start + slice.length;
  return { entries, next: end < listing.length ? JSON.stringify({ i: end, after: slice.at(-1)![0] } satisfies PageToken) : null };
}
