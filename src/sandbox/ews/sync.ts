/**
 * The change computation behind SyncFolderItems and SyncFolderHierarchy. A sync state is a position in the
 * mailbox's change sequence. From there, the changes up to a new position are reduced to one per item
 * (or folder), judged by whether it existed at the old and at the new position: appeared (Create), vanished
 * (Delete), changed (Update, or ReadFlagChange when only the read flag moved). A page that stops early sets
 * its new position just before the first change it leaves out, so nothing is skipped and nothing is lost.
 */
import type { ChangeEntry, ChangeKind } from '../state/model.js';

export interface NetChange {
  id: string;
  change: 'create' | 'update' | 'read' | 'delete';
}

export interface SyncPage {
  changes: NetChange[];
  position: number;
  last: boolean;
}

interface Lifetime {
  createdSeq: number;
  deletedSeq: number | null;
}

function existedAt(target: Lifetime, seq: number): boolean {
  return target.createdSeq <= seq && !(target.deletedSeq !== null && target.deletedSeq <= seq);
}

/** Index of the first entry with seq > after (the log is in sequence order). */
function firstAfter(log: readonly ChangeEntry[], after: number): number {
  let low = 0;
  let high = log.length;
  while (low < high) {
    const middle = (low + high) >> 1;
    if (log[middle]!.seq <= after) low = middle + 1;
    else high = middle;
  }
  return low;
}

export function computeSync(
  log: readonly ChangeEntry[],
  from: number,
  now: number,
  max: number,
  lifetime: (id: string) => Lifetime | undefined,
  include: (id: string) => boolean = () => true,
): SyncPage {
  const kinds = new Map<string, Set<ChangeKind>>();
  let position = now;
  let last = true;
  for (let index = firstAfter(log, from); index < log.length; index += 1) {
    const entry = log[index]!;
    if (!include(entry.id)) continue;
    let seen = kinds.get(entry.id);
    if (!seen) {
      if (kinds.size === max) {
        position = entry.seq - 1;
        last = false;
        break;
      }
      seen = new Set();
      kinds.set(entry.id, seen);
    }
    seen.add(entry.kind);
  }
  const changes: NetChange[] = [];
  for (const [id, seen] of kinds) {
    const target = lifetime(id);
    if (!target) continue;
    const before = existedAt(target, from);
    const after = existedAt(target, position);
    if (!before && after) changes.push({ id, change: 'create' });
    else if (before && !after) changes.push({ id, change: 'delete' });
    else if (before && after) changes.push({ id, change: [...seen].every((k) => k === 'read') ? 'read' : 'update' });
  }
  return { changes, position, last };
}
