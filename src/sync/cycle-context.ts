/** What one mailbox's cycle works with: its lease, the mailbox and profile as claimed, the open session. */
import type { Connector, MailboxSession } from '../connectors/connector.js';
import type { Profile } from '../store/profiles.js';
import type { EngineEvent } from './engine-types.js';
import type { Ingest } from './pipeline/types.js';
import type { Lease, OrganizationSettings, OutgoingEmail, SyncMailbox, SyncStore } from './ports.js';

/** The pieces of the pipeline a cycle calls; the engine passes the real ones, a test may pass its own. */
export interface CycleSteps {
  ingest: Ingest;
  buildOutgoingMime: (email: OutgoingEmail, organization: OrganizationSettings) => Buffer | Promise<Buffer>;
}

export interface CycleContext {
  sync: SyncStore;
  lease: Lease;
  mailbox: SyncMailbox;
  profile: Profile;
  connector: Connector;
  session: MailboxSession;
  organization: OrganizationSettings;
  steps: CycleSteps;
  /** Aborted when the lease is lost: the cycle stops writing at its next step. */
  signal: AbortSignal;
  now: () => Date;
  emit: (event: EngineEvent) => void;
  /** Overrides how long an email whose attempt timed out is left alone (outgoing.ts sendSettleMs); tests shorten it. */
  sendSettleMs?: number;
  /** Overrides the first wait after a temporary refusal of an email (outgoing.ts SEND_RETRY_BASE_MS). */
  sendRetryBaseMs?: number;
}

/** Throws the signal's reason (a LeaseLostError) when the lease is gone. */
export function checkLease(context: Pick<CycleContext, 'signal'>): void {
  if (context.signal.aborted) throw context.signal.reason;
}
