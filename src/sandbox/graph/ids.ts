/**
 * Graph's ids for the sandbox's EWS ids. A REST id is the EWS id made URL-safe (`+` → `-`, `/` → `_`), as
 * Exchange's REST ids are. An immutable id (`Prefer: IdType="ImmutableId"`) is made from the id the item had
 * when first stored, with a different second byte, so it stays the same when the item moves.
 */
import type { Mailbox } from '../state/mailbox.js';
import type { Folder, Item } from '../state/model.js';

export const toRest = (ewsId: string) => ewsId.replace(/\+/g, '-').replace(/\//g, '_');
export const fromRest = (restId: string) => restId.replace(/-/g, '+').replace(/_/g, '/');

const IMMUTABLE_MARK = 0x09;
const EWS_MARK = 0x03;

export function immutableId(item: Item): string {
  const bytes = Buffer.from(item.originalId ?? item.id, 'base64');
  bytes[1] = IMMUTABLE_MARK;
  return toRest(bytes.toString('base64'));
}

export function messageIdFor(item: Item, immutable: boolean): string {
  return immutable ? immutableId(item) : toRest(item.id);
}

export function folderIdFor(folder: Folder): string {
  return toRest(folder.id);
}

/** The live item a Graph id (REST or immutable) names in the mailbox. */
export function findItem(mailbox: Mailbox, graphId: string): Item | undefined {
  const ews = fromRest(graphId);
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(ews)) return undefined;
  const bytes = Buffer.from(ews, 'base64');
  if (bytes.length > 2 && bytes[1] === IMMUTABLE_MARK) {
    bytes[1] = EWS_MARK;
    const original = bytes.toString('base64');
    const direct = mailbox.item(original);
    if (direct && !direct.originalId) return direct;
    for (const item of mailbox.items.values()) if (item.deletedSeq === null && item.originalId === original) return item;
    return undefined;
  }
  return mailbox.item(ews);
}
