/**
 * The missing-mail audit's listing of one IMAP folder: `UID SEARCH` (with `SINCE` when a date is given), then
 * `UID FETCH (UID ENVELOPE INTERNALDATE)` of at most a page of those UIDs, oldest first by UID.
 *
 * SINCE compares dates only, in the server's own time zone (RFC 3501 6.4.4: "internal date (disregarding time and
 * timezone)"), so the search asks from the day before the date in UTC, which no time zone puts after it, and the
 * exact bound is applied here to INTERNALDATE.
 *
 * A page token is the folder's UIDVALIDITY and the last UID the page examined; the next page searches `UID n+1:*`.
 * Mail arriving between two pages has higher UIDs and comes in a later page; nothing already listed moves.
 */
import type { ImapFlow, FetchMessageObject, SearchObject } from 'imapflow';
import type { InventoryEntry, InventoryPage } from '../connector.js';
import { addressText, pageSize } from '../mail/inventory.js';
import { InvalidCursorError, isoOf, messageIdOf, serverIdOf } from './session.js';

const DAY_MS = 86_400_000;

interface PageToken {
  v: string;
  u: number;
}

function parsePage(text: string): PageToken | null {
  try {
    const value = JSON.parse(text) as Partial<PageToken>;
    if (typeof value.v === 'string' && typeof value.u === 'number' && Number.isSafeInteger(value.u) && value.u >= 0) return { v: value.v, u: value.u };
  } catch {
    // fall through
  }
  return null;
}

/** A UID set for a command: runs of consecutive UIDs as `a:b`, so a page of 1000 stays a short line. */
export function uidSet(sortedUids: readonly number[]): string {
  const parts: string[] = [];
  for (let i = 0; i < sortedUids.length; ) {
    let j = i;
    while (j + 1 < sortedUids.length && sortedUids[j + 1] === sortedUids[j]! + 1) j += 1;
    parts.push(i === j ? String(sortedUids[i]) : `${sortedUids[i]}:${sortedUids[j]}`);
    i = j + 1;
  }
  return parts.join(',');
}

function entryOf(path: string, uidValidity: string, message: FetchMessageObject): InventoryEntry {
  const entry: InventoryEntry = { serverId: serverIdOf(path, uidValidity, message.uid) };
  const messageId = messageIdOf(message);
  if (messageId) entry.internetMessageId = messageId;
  const receivedAt = isoOf(message.internalDate);
  if (receivedAt) entry.receivedAt = receivedAt;
  if (message.envelope?.subject !== undefined) entry.subject = message.envelope.subject;
  const sender = message.envelope?.from?.[0];
  const from = addressText(sender?.name, sender?.address);
  if (from) entry.from = from;
  return entry;
}

/** One page of the inventory of `path`, on a client the caller holds for this alone. */
export async function imapInventory(client: ImapFlow, path: string, since: Date | null, pageText: string | null, max: number): Promise<InventoryPage> {
  const lock = await client.getMailboxLock(path, { readOnly: true });
  try {
    const mailbox = client.mailbox;
    if (!mailbox) throw new Error(`${path} could not be selected`);
    const uidValidity = String(mailbox.uidValidity);
    const page = pageText === null ? null : parsePage(pageText);
    if (pageText !== null && page === null) throw new Error(`inventory page "${pageText}" is not a page this connector gave`);
    // The folder was renumbered between two pages: its UIDs name other messages now, the audit starts again.
    if (page && page.v !== uidValidity) throw new InvalidCursorError(path, page.v, uidValidity);
    const after = page?.u ?? 0;
    // A folder that stays selected between two pages is not selected again (imapflow keeps it), and the server
    // tells of mail that came since only when asked to sync: a NOOP first, so that the search sees it.
    await client.noop();

    const query: SearchObject = { uid: `${after + 1}:*` };
    if (since) query.since = new Date(since.getTime() - DAY_MS);
    const found = await client.search(query, { uid: true });
    // imapflow answers a refused SEARCH with false: that is a failure, not an empty folder.
    if (!Array.isArray(found)) throw new Error(`${path}: the server refused UID SEARCH ${after + 1}:*${since ? ' SINCE' : ''}`);
    // `n:*` always names the highest message, even when its UID is below n: keep only what is above the page.
    const uids = [...new Set(found.filter((uid) => uid > after))].sort((a, b) => a - b);

    const size = pageSize(max);
    const entries: InventoryEntry[] = [];
    let examined = 0;
    // Messages before `since` that SINCE let through (the day before) are dropped here; the page is then topped
    // up from the UIDs that follow, so that a page is short only when the folder ends.
    while (entries.length < size && examined < uids.length) {
      const chunk = uids.slice(examined, examined + size - entries.length);
      const listed = new Map<number, FetchMessageObject>();
      for await (const message of client.fetch(uidSet(chunk), { uid: true, envelope: true, internalDate: true }, { uid: true })) listed.set(message.uid, message);
      for (const uid of chunk) {
        const message = listed.get(uid);
        // Expunged between the search and the fetch: no longer on the server, nothing to list.
        if (!message) continue;
        const received = message.internalDate === undefined ? null : new Date(message.internalDate);
        // A message without a readable INTERNALDATE matched SINCE on the server: kept rather than lost.
        if (since && received && !Number.isNaN(received.getTime()) && received.getTime() < since.getTime()) continue;
        entries.push(entryOf(path, uidValidity, message));
      }
      examined += chunk.length;
    }
    const next = examined < uids.length ? JSON.stringify({ v: uidValidity, u: uids[examined - 1]! } satisfies PageToken) : null;
    return { entries, next };
  } finally {
    lock.release();
  }
}
