/**
 * The missing-mail audit's rules, pure: what a folder holds on the server (its inventory: ids and a few headers)
 * against the outcomes the engine recorded for the mailbox. A server message is accounted for when an outcome of
 * the mailbox has its server id or its Internet Message-ID (a message moved to Undeliverable has a new server id,
 * and a re-listed message may have a new one too); one received before Process Email From is out of scope; every
 * other message is missing. Missing messages are reported oldest first, and the gap began when the oldest did.
 *
 * The counts add up: onServer = tracked + filtered + failed + missing (out-of-scope messages are not on the list).
 */
import type { AlertInput } from './alert.js';
import { normalizeMessageId } from './message-id.js';
import { receivedBefore } from './schedule.js';

/** One message the server listed (connector InventoryEntry, repeated here so the domain needs no connector). */
export interface AuditServerMessage {
  serverId: string;
  internetMessageId?: string;
  receivedAt?: string;
  subject?: string;
  from?: string;
}

/** One recorded outcome of the mailbox, as the audit compares it. */
export interface AuditOutcome {
  serverId: string;
  internetMessageId: string | null;
  kind: 'tracked' | 'filtered' | 'failed' | 'undeliverable';
  /** The filter rule of a filtered message. */
  rule: string | null;
}

export interface MissingMessage {
  serverId: string;
  internetMessageId: string | null;
  receivedAt: string | null;
  subject: string | null;
  from: string | null;
}

export interface AuditComparison {
  /** Messages on the server in scope (received since Process Email From, or at an unknown time). */
  onServer: number;
  tracked: number;
  filtered: number;
  /** Filtered messages per rule. */
  filteredByRule: Record<string, number>;
  /** Failed, and given up on (undeliverable). */
  failed: number;
  /** Every missing message, oldest first (those with no time last, in the server's order). */
  missing: MissingMessage[];
  /** When the oldest missing message was received; null when none is missing or its time is unknown. */
  gapBeganAt: string | null;
  /** Messages received before Process Email From: not counted anywhere else. */
  outOfScope: number;
}

/** How many missing messages an audit keeps by name (the total is always kept). */
export const MISSING_LIST_CAP = 100;
/** How many an alert names. */
export const ALERT_NAMES_CAP = 10;
/** How often each mailbox is audited when nothing else says (hours). */
export const DEFAULT_AUDIT_INTERVAL_MS = 24 * 60 * 60 * 1000;

export function compareInventory(entries: readonly AuditServerMessage[], outcomes: readonly AuditOutcome[], from: Date | null): AuditComparison {
  const byServerId = new Map<string, AuditOutcome>();
  const byMessageId = new Map<string, AuditOutcome>();
  for (const outcome of outcomes) {
    byServerId.set(outcome.serverId, outcome);
    const id = normalizeMessageId(outcome.internetMessageId);
    if (id) byMessageId.set(id, outcome);
  }
  const result: AuditComparison = { onServer: 0, tracked: 0, filtered: 0, filteredByRule: {}, failed: 0, missing: [], gapBeganAt: null, outOfScope: 0 };
  const seen = new Set<string>();
  for (const entry of entries) {
    if (seen.has(entry.serverId)) continue;
    seen.add(entry.serverId);
    const messageId = normalizeMessageId(entry.internetMessageId);
    const outcome = byServerId.get(entry.serverId) ?? (messageId ? byMessageId.get(messageId) : undefined);
    if (!outcome && receivedBefore(entry.receivedAt, from)) {
      result.outOfScope += 1;
      continue;
    }
    result.onServer += 1;
    if (!outcome) {
      result.missing.push({
        serverId: entry.serverId,
        internetMessageId: messageId,
        receivedAt: validTime(entry.receivedAt),
        subject: entry.subject ?? null,
        from: entry.from ?? null,
      });
    } else if (outcome.kind === 'tracked') result.tracked += 1;
    else if (outcome.kind === 'filtered') {
      result.filtered += 1;
      const rule = outcome.rule ?? 'unknown';
      result.filteredByRule[rule] = (result.filteredByRule[rule] ?? 0) + 1;
    } else result.failed += 1;
  }
  result.missing = oldestFirst(result.missing);
  result.gapBeganAt = result.missing[0]?.receivedAt ?? null;
  return result;
}

/** Oldest first; messages without a time after those with one, in the order given (a stable sort). */
export function oldestFirst(messages: readonly MissingMessage[]): MissingMessage[] {
  return messages
    .map((message, index) => ({ message, index, at: message.receivedAt ? new Date(message.receivedAt).getTime() : Infinity }))
    .sort((a, b) => a.at - b.at || a.index - b.index)
    .map((e) => e.message);
}

function validTime(value: string | undefined): string | null {
  if (!value) return null;
  const at = new Date(value);
  return Number.isNaN(at.getTime()) ? null : at.toISOString();
}

/** One line naming a missing message for an administrator. */
export function describeMissing(message: MissingMessage): string {
  const what = message.subject ? `"${message.subject}"` : message.internetMessageId ?? `server id ${message.serverId}`;
  const from = message.from ? ` from ${message.from}` : '';
  const when = message.receivedAt ? ` received ${message.receivedAt}` : ' (time unknown)';
  const id = message.internetMessageId && message.subject ? ` ${message.internetMessageId}` : '';
  return `${what}${from}${when}${id}`;
}

/** The alert of an audit that found missing mail; null when nothing is missing. */
export function missingMailAlert(
  mailbox: { id: string; address: string; profileId: string },
  comparison: Pick<AuditComparison, 'missing' | 'gapBeganAt' | 'onServer'>,
): AlertInput | null {
  const count = comparison.missing.length;
  if (count === 0) return null;
  const named = comparison.missing.slice(0, ALERT_NAMES_CAP).map(describeMissing);
  const more = count > named.length ? `; and ${count - named.length} more` : '';
  const gap = comparison.gapBeganAt ? ` The gap began ${comparison.gapBeganAt}.` : '';
  return {
    level: 'warning',
    scope: 'mailbox',
    profileId: mailbox.profileId,
    mailboxId: mailbox.id,
    code: 'audit.missing-mail',
    message:
      `The audit of ${mailbox.address} found ${count} of ${comparison.onServer} ${plural(comparison.onServer, 'message')} on the server with no outcome in Liaison, oldest first: ` +
      `${named.join('; ')}${more}.${gap} They are queued and processed by the next synchronization.`,
    fix: 'Usually none: the next cycle tracks them. If audits keep finding missing mail, report it with this alert (the synchronization skipped messages).',
  };
}

function plural(n: number, word: string): string {
  return n === 1 ? word : `${word}s`;
}
