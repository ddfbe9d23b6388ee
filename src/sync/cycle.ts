/**
 * One claimed mailbox, one cycle: open it through its profile's connector, run the incoming and outgoing halves,
 * let the failure policy decide what the outcome means, record it, and release the lease with the next due time.
 * A lost lease ends the cycle without writing anything more (the successor owns the mailbox).
 */
import type { ClassifiedError, Connector, MailboxSession } from '../connectors/connector.js';
import { UnsupportedServerTypeError } from '../connectors/registry.js';
import { decideCycle, type Direction, type DirectionOutcome, FAILURE_BACKOFF_BASE_MS } from '../domain/failure-policy.js';
import { pollDelayMs } from '../domain/schedule.js';
import type { ConnectorCache, ConnectorHold } from './connector-cache.js';
import type { CycleContext, CycleSteps } from './cycle-context.js';
import type { EngineEvent } from './engine-types.js';
import { auditIfDue } from './audit.js';
import { InvalidCursorAgainError, runIncoming } from './incoming.js';
import { LeaseKeeper } from './lease-keeper.js';
import { runOutgoing } from './outgoing.js';
import { type Lease, LeaseLostError, type SyncMailbox, type SyncStore } from './ports.js';

export interface CycleOptions {
  sync: SyncStore;
  cache: ConnectorCache;
  steps: CycleSteps;
  leaseMs: number;
  pollFloorMs: number;
  pushHealthy: (profileId: string, address: string) => boolean;
  now: () => Date;
  emit: (event: EngineEvent) => void;
  /** The missing-mail audit's interval (audit.ts); default daily. */
  auditIntervalMs?: number;
  /** How long an email whose attempt timed out is left alone (outgoing.ts); default from the profile's timeout. */
  sendSettleMs?: number;
  /** The first wait after a temporary refusal of an email (outgoing.ts SEND_RETRY_BASE_MS). */
  sendRetryBaseMs?: number;
}

export interface CycleResult {
  /** When the mailbox was released to be due again; null when the lease was lost (or could not be released). */
  nextDueAt: Date | null;
  leaseLost: boolean;
}

type Counts = { tracked: number; linked: number; filtered: number; failed: number; sent: number };

export async function runMailboxCycle(claim: { lease: Lease; mailbox: SyncMailbox }, options: CycleOptions): Promise<CycleResult> {
  const { sync, now, emit } = options;
  const { mailbox } = claim;
  const keeper = new LeaseKeeper(sync, claim.lease, options.leaseMs, now);
  keeper.start();
  let hold: ConnectorHold | null = null;
  let session: MailboxSession | undefined;
  const started = Date.now();
  try {
    const outcomes: Partial<Record<Direction, DirectionOutcome>> = {};
    const counts: Record<Direction, Counts> = { incoming: zero(), outgoing: zero() };
    let auditDelayMs = 0;
    let pollMs = pollDelayMs({ minPollingIntervalMinutes: 0 }, { pollFloorMs: options.pollFloorMs });
    try {
      const profile = await sync.profile(mailbox.profileId);
      pollMs = pollDelayMs(profile.profile, { pollFloorMs: options.pollFloorMs, pushHealthy: options.pushHealthy(profile.profile.id, mailbox.address) });
      options.cache.noteMailbox(mailbox);
      try {
        hold = options.cache.hold(profile);
      } catch (error) {
        throw new ConnectorUnavailable(error);
      }
      const connector = hold.connector;
      const opening = connector.open(mailbox.address).then((opened) => (session = opened));
      const [organization] = await Promise.all([sync.organization(), opening]);
      if (!session) throw new Error('the connector opened no session');
      const context: CycleContext = {
        sync,
        lease: claim.lease,
        mailbox,
        profile: profile.profile,
        connector,
        session,
        organization,
        steps: options.steps,
        signal: keeper.signal,
        now,
        emit,
        ...(options.sendSettleMs !== undefined ? { sendSettleMs: options.sendSettleMs } : {}),
        ...(options.sendRetryBaseMs !== undefined ? { sendRetryBaseMs: options.sendRetryBaseMs } : {}),
      };
      if (mailbox.incoming) {
        try {
          Object.assign(counts.incoming, await runIncoming(context));
          outcomes.incoming = { ok: true };
          // Right after a pass that completed, under the same lease (audit.ts).
          const audit = await auditIfDue(context, options.auditIntervalMs);
          for (const key of ['tracked', 'linked', 'filtered', 'failed'] as const) counts.incoming[key] += audit.counts[key];
          if (audit.permanent) outcomes.incoming = { ok: false, error: audit.permanent };
          auditDelayMs = audit.delayMs;
        } catch (error) {
          rethrowLeaseLoss(error, keeper);
          outcomes.incoming = { ok: false, error: classify(connector, error) };
        }
      }
      // After a permanent error or a request to slow down, the same server is not asked again in this cycle.
      const stop = outcomes.incoming && !outcomes.incoming.ok && ['permanent', 'throttled'].includes(outcomes.incoming.error.kind);
      if (mailbox.outgoing && !stop) {
        try {
          Object.assign(counts.outgoing, await runOutgoing(context));
          outcomes.outgoing = { ok: true };
        } catch (error) {
          rethrowLeaseLoss(error, keeper);
          outcomes.outgoing = { ok: false, error: classify(connector, error) };
        }
      }
    } catch (error) {
      rethrowLeaseLoss(error, keeper);
      // Opening failed (or the store could not say what the mailbox is): every direction that would run fails alike.
      const classified = classify(hold?.connector ?? null, error);
      if (mailbox.incoming) outcomes.incoming = { ok: false, error: classified };
      if (mailbox.outgoing) outcomes.outgoing = { ok: false, error: classified };
    }

    const decision = decideCycle({
      mailbox: { id: mailbox.id, address: mailbox.address, profileId: mailbox.profileId, incomingStatus: mailbox.incomingStatus, outgoingStatus: mailbox.outgoingStatus },
      consecutiveFailures: mailbox.consecutiveFailures,
      outcomes,
      pollDelayMs: pollMs,
    });
    const at = now();
    for (const record of decision.records) {
      if (keeper.signal.aborted) throw keeper.signal.reason;
      await sync.recordCycle(claim.lease, record, at);
    }
    const durationMs = Date.now() - started;
    for (const record of decision.records) {
      const outcome = outcomes[record.direction]!;
      const status = outcome.ok ? 'success' : outcome.error.kind === 'throttled' ? 'throttled' : 'failure';
      emit({ type: 'cycle', mailboxId: mailbox.id, address: mailbox.address, direction: record.direction, status, durationMs, counts: counts[record.direction] });
      if (!outcome.ok) emit({ type: 'failure', mailboxId: mailbox.id, address: mailbox.address, code: outcome.error.code, message: outcome.error.message });
    }
    // An audit the server throttled: the mailbox waits as asked, its status untouched (audit.ts).
    const nextDueAt = new Date(at.getTime() + Math.max(decision.delayMs, auditDelayMs));
    await keeper.stop();
    await sync.release(claim.lease, nextDueAt);
    return { nextDueAt, leaseLost: false };
  } catch (error) {
    await keeper.stop();
    const lost = error instanceof LeaseLostError ? error : keeper.signal.aborted ? (keeper.signal.reason as LeaseLostError) : null;
    if (lost) {
      emit({ type: 'lease-lost', mailboxId: mailbox.id });
      return { nextDueAt: null, leaseLost: true };
    }
    // The store failed while recording: the lease is given back to be tried again soon (or expires by itself).
    emit({ type: 'failure', mailboxId: mailbox.id, address: mailbox.address, code: 'store.error', message: (error as Error).message });
    const nextDueAt = new Date(now().getTime() + FAILURE_BACKOFF_BASE_MS);
    try {
      await sync.release(claim.lease, nextDueAt);
      return { nextDueAt, leaseLost: false };
    } catch {
      return { nextDueAt: null, leaseLost: false };
    }
  } finally {
    // A session holding a connection (IMAP, POP3) lets it go; a failure to say goodbye changes nothing.
    if (session?.close) await session.close().catch(() => undefined);
    hold?.release();
  }
}

function zero(): Counts {
  return { tracked: 0, linked: 0, filtered: 0, failed: 0, sent: 0 };
}

/** A connector could not be built from the profile (a server type without one, a profile missing its password). */
class ConnectorUnavailable extends Error {
  constructor(override readonly cause: unknown) {
    super((cause as Error).message);
    this.name = 'ConnectorUnavailable';
  }
}

function rethrowLeaseLoss(error: unknown, keeper: LeaseKeeper): void {
  if (error instanceof LeaseLostError) {
    keeper.lost(error);
    throw error;
  }
  if (keeper.signal.aborted) throw keeper.signal.reason;
}

function classify(connector: Connector | null, error: unknown): ClassifiedError {
  if (error instanceof ConnectorUnavailable) {
    const unsupported = error.cause instanceof UnsupportedServerTypeError;
    return {
      kind: 'permanent',
      code: unsupported ? 'connector.unsupported-server-type' : 'connector.unavailable',
      message: error.message,
      serverResponse: null,
      fix: unsupported ? 'Associate the mailbox with a profile of a server type this Liaison synchronizes (exchange).' : 'Complete the email server profile (its service account and password), then Test Connection.',
      backOffMs: null,
    };
  }
  if (error instanceof InvalidCursorAgainError) {
    return { kind: 'transient', code: 'sync.invalid-cursor', message: error.message, serverResponse: null, fix: null, backOffMs: null };
  }
  if (connector) return connector.classify(error);
  return { kind: 'transient', code: 'engine.error', message: (error as Error)?.message ?? String(error), serverResponse: null, fix: null, backOffMs: null };
}
