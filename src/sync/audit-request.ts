/**
 * An audit "at once" (POST /api/v1/mailboxes/{id}/audit, `liaison audit`): the request is stored and the mailbox
 * made due; whichever worker holds (or next claims) the mailbox's lease runs the audit right after its incoming
 * pass, and the caller waits for the record of the audit that served its request (matched by the
 * request's value, never by comparing the clocks of the API's and the worker's machines). Nothing here touches the mail server or the lease: with any
 * number of worker processes exactly one of them audits the mailbox, under the same fencing as its other writes.
 * When no worker answers in time, the request stays queued and the answer says so.
 */
import { ConflictError } from '../domain/errors.js';
import type { AuditRun } from '../store/audits.js';
import type { Store } from '../store/store.js';

export interface AuditRequestResult {
  /** completed / failed: the audit ran (its record); queued: no worker ran it within the wait. */
  status: 'completed' | 'failed' | 'queued';
  requestedAt: string;
  audit: AuditRun | null;
}

export const DEFAULT_AUDIT_WAIT_MS = 60_000;
const POLL_MS = 200;

/** Why a mailbox cannot be audited now, or null. */
export function notAuditable(mailbox: { enabled: boolean; profileId: string | null; incomingMethod: string }): string | null {
  if (mailbox.incomingMethod !== 'server-side-sync') return 'its incoming email is not synchronized by server-side synchronization';
  if (!mailbox.profileId) return 'it has no email server profile';
  if (!mailbox.enabled) return 'it is not enabled (run Test & Enable first)';
  return null;
}

export async function requestAudit(store: Store, mailboxId: string, options: { waitMs?: number; now?: () => Date; signal?: AbortSignal } = {}): Promise<AuditRequestResult> {
  const mailbox = await store.mailboxes.get(mailboxId);
  const why = notAuditable(mailbox);
  if (why) throw new ConflictError(`The mailbox ${mailbox.emailAddress || mailbox.id} cannot be audited: ${why}`);
  const now = options.now ?? (() => new Date());
  const requestedAt = await store.audits.request(mailboxId, now());
  const deadline = Date.now() + Math.max(0, options.waitMs ?? DEFAULT_AUDIT_WAIT_MS);
  for (;;) {
    const audit = await store.audits.serving(mailboxId, requestedAt);
    if (audit) return { status: audit.status, requestedAt, audit };
    if (Date.now() >= deadline || options.signal?.aborted) return { status: 'queued', requestedAt, audit: null };
    await new Promise((resolve) => setTimeout(resolve, Math.min(POLL_MS, Math.max(1, deadline - Date.now()))));
  }
}
