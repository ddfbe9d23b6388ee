/**
 * SyncState blobs: gzip of a small signed JSON record (so they start "H4sI" as Exchange's do), naming the
 * mailbox, the folder and the change sequence the client has seen. A blob that was altered, truncated, made for
 * another folder or from the future is ErrorInvalidSyncStateData.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { gunzipSync, gzipSync } from 'node:zlib';
import { EwsError } from './soap.js';

export interface SyncPosition {
  kind: 'items' | 'folders';
  mailbox: string;
  folder: string;
  seq: number;
}

function sign(secret: string, body: string): string {
  return createHmac('sha256', secret).update(body).digest('base64url');
}

export function encodeSyncState(secret: string, position: SyncPosition): string {
  const body = JSON.stringify([position.kind, position.mailbox, position.folder, position.seq]);
  return gzipSync(Buffer.from(JSON.stringify({ b: body, s: sign(secret, body) }))).toString('base64');
}

/** The position, or null when the blob is not a valid state for this mailbox, folder and kind. */
export function decodeSyncState(secret: string, text: string, expected: Omit<SyncPosition, 'seq'>, currentSeq: number): number | null {
  try {
    const record = JSON.parse(gunzipSync(Buffer.from(text.trim(), 'base64'), { maxOutputLength: 4096 }).toString('utf8')) as { b: string; s: string };
    const wanted = Buffer.from(sign(secret, record.b));
    const given = Buffer.from(String(record.s));
    if (wanted.length !== given.length || !timingSafeEqual(wanted, given)) return null;
    const [kind, mailbox, folder, seq] = JSON.parse(record.b) as [string, string, string, number];
    if (kind !== expected.kind || mailbox !== expected.mailbox || folder !== expected.folder) return null;
    if (!Number.isInteger(seq) || seq < 0 || seq > currentSeq) return null;
    return seq;
  } catch {
    return null;
  }
}

/**
 * Where a Sync request starts: 0 without a state (a full synchronization), else the position its state names.
 * A state that does not decode for this mailbox and folder is ErrorInvalidSyncStateData.
 */
export function startPosition(secret: string, stateText: string, expected: Omit<SyncPosition, 'seq'>, currentSeq: number, invalidText: string): number {
  if (stateText === '') return 0;
  const decoded = decodeSyncState(secret, stateText, expected, currentSeq);
  if (decoded === null) throw new EwsError('ErrorInvalidSyncStateData', invalidText);
  return decoded;
}
