/**
 * Mailboxes: one per user and per queue. The rules for approval, association with a profile and enabling.
 */
import { ValidationError } from './errors.js';

export const APPROVAL_STATUSES = ['empty', 'pending', 'approved', 'rejected'] as const;
export type ApprovalStatus = (typeof APPROVAL_STATUSES)[number];

export const SYNC_STATUSES = ['not-run', 'success', 'failure'] as const;
export type SyncStatus = (typeof SYNC_STATUSES)[number];

export const SYNC_METHODS = ['none', 'server-side-sync'] as const;
export type SyncMethod = (typeof SYNC_METHODS)[number];

export interface MailboxState {
  profileId: string | null;
  approvalStatus: ApprovalStatus;
  enabled: boolean;
  incomingMethod: SyncMethod;
  outgoingMethod: SyncMethod;
  incomingStatus: SyncStatus;
  outgoingStatus: SyncStatus;
}

export type MailboxChange = Partial<Pick<MailboxState, 'profileId' | 'approvalStatus' | 'enabled' | 'incomingMethod' | 'outgoingMethod'>>;

/** Why this mailbox cannot be enabled, each with what to do; empty when it can. */
export function enableProblems(state: MailboxState): string[] {
  const problems: string[] = [];
  if (state.approvalStatus !== 'approved') {
    problems.push(
      `the mailbox's email address is ${state.approvalStatus === 'empty' ? 'not approved' : state.approvalStatus}; an administrator must approve it first (approvalStatus: approved)`,
    );
  }
  if (state.profileId === null) problems.push('the mailbox has no email server profile; associate it with one first');
  if (state.incomingMethod === 'none' && state.outgoingMethod === 'none') {
    problems.push('both incomingMethod and outgoingMethod are none, so there is nothing to synchronize');
  }
  return problems;
}

/**
 * The state after a change. Whatever invalidates an earlier test (another profile, an address that is no
 * longer approved) disables the mailbox and resets its statuses to not-run: it must be tested again.
 */
export function applyMailboxChange(current: MailboxState, change: MailboxChange): MailboxState {
  const next: MailboxState = { ...current };
  if (change.incomingMethod !== undefined) next.incomingMethod = change.incomingMethod;
  if (change.outgoingMethod !== undefined) next.outgoingMethod = change.outgoingMethod;
  if (change.profileId !== undefined && change.profileId !== current.profileId) {
    next.profileId = change.profileId;
    Object.assign(next, untested());
  }
  if (change.approvalStatus !== undefined && change.approvalStatus !== current.approvalStatus) {
    next.approvalStatus = change.approvalStatus;
    if (change.approvalStatus !== 'approved') next.enabled = false;
  }
  if (change.enabled === false) next.enabled = false;
  if (change.enabled === true && !next.enabled) {
    const problems = enableProblems(next);
    if (problems.length > 0) {
      throw new ValidationError(problems.map((message) => ({ field: 'enabled', message: `cannot enable: ${message}` })));
    }
    next.enabled = true;
  }
  if (next.incomingMethod === 'none' && next.outgoingMethod === 'none') next.enabled = false;
  return next;
}

/** A mailbox's email address changed: approval starts over and the mailbox must be tested again. */
export function addressChanged(current: MailboxState): MailboxState {
  return { ...current, approvalStatus: 'empty', ...untested() };
}

function untested(): Pick<MailboxState, 'enabled' | 'incomingStatus' | 'outgoingStatus'> {
  return { enabled: false, incomingStatus: 'not-run', outgoingStatus: 'not-run' };
}
