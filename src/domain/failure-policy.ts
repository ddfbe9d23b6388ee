/**
 * The failure policy: how a mailbox's cycle ended (per direction: fine, or the classified error that stopped it)
 * decides its statuses, its count of consecutive failed cycles, whether it is disabled, the alert an administrator
 * reads, and when it is due again. Pure: the engine applies the answer.
 *
 * - throttled: the server asked to slow down. Not a failure: the count and the status stay, the mailbox waits at
 *   least as long as the server's back-off hint.
 * - transient (and uncertain, and an invalid cursor that came back after a restart): a failed cycle. Status
 *   failure, the count grows, back-off doubles up to a cap; an error alert when the mailbox starts failing;
 *   disabled with an alert after MAX_CONSECUTIVE_FAILURES.
 * - permanent: only an administrator can fix it. Disabled at once, with the fix in the alert.
 * - success resets the count.
 */
import type { ClassifiedError } from '../connectors/connector.js';
import type { AlertInput } from './alert.js';
import type { SyncStatus } from './mailbox.js';

export const MAX_CONSECUTIVE_FAILURES = 10;
/** Tries of one message that fails (unreadable, refused by the server) before it is set aside. */
export const MAX_MESSAGE_ATTEMPTS = 3;
/** The first retry after a failed cycle; doubled each further failure. */
export const FAILURE_BACKOFF_BASE_MS = 15_000;
export const FAILURE_BACKOFF_CAP_MS = 30 * 60_000;
/** How long a throttled mailbox waits when the server gave no hint. */
export const THROTTLE_DEFAULT_MS = 30_000;
/** A server's hint is obeyed, but one that says hours is read as this (it comes from hostile input too). */
export const THROTTLE_CAP_MS = 15 * 60_000;

export type Direction = 'incoming' | 'outgoing';

export type DirectionOutcome = { ok: true } | { ok: false; error: ClassifiedError };

export interface CycleInput {
  mailbox: { id: string; address: string; profileId: string; incomingStatus: SyncStatus; outgoingStatus: SyncStatus };
  /** The count before this cycle. */
  consecutiveFailures: number;
  /** Each direction that ran; one that did not run is left out and keeps its state. */
  outcomes: Partial<Record<Direction, DirectionOutcome>>;
  /** When the mailbox is due after a good cycle (domain/schedule.ts). */
  pollDelayMs: number;
}

export interface DirectionRecord {
  direction: Direction;
  status: SyncStatus;
  consecutiveFailures: number;
  lastError: string | null;
  disable: boolean;
  alert: AlertInput | null;
}

export interface CycleDecision {
  records: DirectionRecord[];
  /** How long from now until the mailbox is due again. */
  delayMs: number;
  consecutiveFailures: number;
  disable: boolean;
  /** The error that decided the cycle (permanent over transient over throttled), null when every direction was fine. */
  decidingError: ClassifiedError | null;
  throttled: boolean;
}

const SEVERITY: Record<ClassifiedError['kind'], number> = { permanent: 3, transient: 2, uncertain: 2, 'invalid-cursor': 2, throttled: 1 };

export function failureBackoffMs(consecutiveFailures: number, pollDelayMs: number): number {
  const exponent = Math.max(0, Math.min(30, consecutiveFailures - 1));
  return Math.max(pollDelayMs, Math.min(FAILURE_BACKOFF_CAP_MS, FAILURE_BACKOFF_BASE_MS * 2 ** exponent));
}

export function throttleDelayMs(backOffMs: number | null, pollDelayMs: number): number {
  const hint = backOffMs !== null && Number.isFinite(backOffMs) && backOffMs > 0 ? Math.min(backOffMs, THROTTLE_CAP_MS) : THROTTLE_DEFAULT_MS;
  return Math.max(pollDelayMs, hint);
}

export function decideCycle(input: CycleInput): CycleDecision {
  const directions = (['incoming', 'outgoing'] as const).filter((d) => input.outcomes[d] !== undefined);
  const errors = directions.flatMap((d) => {
    const outcome = input.outcomes[d]!;
    return outcome.ok ? [] : [{ direction: d, error: outcome.error }];
  });
  const deciding = errors.reduce<(typeof errors)[number] | null>((worst, e) => (worst === null || SEVERITY[e.error.kind] > SEVERITY[worst.error.kind] ? e : worst), null);
  const kind = deciding?.error.kind ?? null;
  const failed = kind !== null && kind !== 'throttled';
  const consecutiveFailures = kind === null ? 0 : failed ? input.consecutiveFailures + 1 : input.consecutiveFailures;
  const disable = kind === 'permanent' || (failed && consecutiveFailures >= MAX_CONSECUTIVE_FAILURES);

  let delayMs = input.pollDelayMs;
  if (kind === 'throttled') delayMs = throttleDelayMs(deciding!.error.backOffMs, input.pollDelayMs);
  else if (failed) {
    delayMs = failureBackoffMs(consecutiveFailures, input.pollDelayMs);
    // A transient error that carries a hint (a 503 with Retry-After) is obeyed too.
    if (deciding!.error.backOffMs !== null) delayMs = Math.max(delayMs, throttleDelayMs(deciding!.error.backOffMs, 0));
  }

  // The mailbox keeps one last error: the one that decided the cycle, whichever direction recorded last. A direction
  // that succeeded beside one that failed must not clear it (the mailbox would look healthy while it fails).
  const lastError = deciding ? describeError(deciding.error) : null;
  const records = directions.map((direction): DirectionRecord => {
    const outcome = input.outcomes[direction]!;
    const previous = direction === 'incoming' ? input.mailbox.incomingStatus : input.mailbox.outgoingStatus;
    if (outcome.ok) return { direction, status: 'success', consecutiveFailures, lastError, disable, alert: null };
    const error = outcome.error;
    if (error.kind === 'throttled') {
      return { direction, status: previous, consecutiveFailures, lastError, disable, alert: null };
    }
    return { direction, status: 'failure', consecutiveFailures, lastError, disable, alert: alertFor(input, direction, error, consecutiveFailures, disable) };
  });

  return { records, delayMs, consecutiveFailures, disable, decidingError: deciding?.error ?? null, throttled: kind === 'throttled' };
}

function describeError(error: ClassifiedError): string {
  return `${error.code}: ${error.message}`;
}

/**
 * An alert when the mailbox starts failing and when it is disabled; the cycles in between keep the status and the
 * count up to date without repeating the same alert every few seconds.
 */
function alertFor(input: CycleInput, direction: Direction, error: ClassifiedError, failures: number, disable: boolean): AlertInput | null {
  const base = {
    scope: 'mailbox' as const,
    profileId: input.mailbox.profileId,
    mailboxId: input.mailbox.id,
    code: error.code,
    serverResponse: error.serverResponse,
  };
  const what = `${direction === 'incoming' ? 'Incoming' : 'Outgoing'} synchronization of ${input.mailbox.address}`;
  if (error.kind === 'permanent') {
    return {
      ...base,
      level: 'error',
      message: `${what} failed and the mailbox was disabled: ${error.message}`,
      fix: `${error.fix ?? 'Correct the cause named above.'} Then run Test & Enable on the mailbox to synchronize it again.`,
    };
  }
  if (disable) {
    return {
      ...base,
      level: 'error',
      message: `${what} failed ${failures} cycles in a row and the mailbox was disabled; the last error: ${error.message}`,
      fix: `${error.fix ?? 'Check that the server is reachable and answering.'} Then run Test & Enable on the mailbox to synchronize it again.`,
    };
  }
  if (failures !== 1) return null;
  return {
    ...base,
    level: 'error',
    message: `${what} failed: ${error.message}. Liaison retries with back-off and disables the mailbox after ${MAX_CONSECUTIVE_FAILURES} failed cycles in a row.`,
    fix: error.fix ?? 'Usually none: the error is expected to pass. If it keeps failing, check that the server is reachable and answering.',
  };
}
