/**
 * What the sync engine needs from the store, as one interface (implemented by store/sync.ts as `store.sync`).
 * Every write that a leased worker makes carries its Lease; the store refuses it (LeaseLostError) when the
 * mailbox's fencing token is no longer the lease's, so a worker that lost its lease (paused, partitioned,
 * killed and replaced) can never write over its successor's work.
 */
import type { RecordRef, RegardingType } from '../domain/activity.js';
import type { AlertInput } from '../domain/alert.js';
import type { AuditOutcome, MissingMessage } from '../domain/audit.js';
import type { SyncStatus } from '../domain/mailbox.js';
import type { Profile, ProfileSecrets } from '../store/profiles.js';
import type { MailboxLogin } from '../connectors/mail/credentials.js';

/** A worker's hold on one mailbox. `token` grows by one at every grant: the fencing token. */
export interface Lease {
  mailboxId: string;
  workerId: string;
  token: number;
  expiresAt: string;
}

export class LeaseLostError extends Error {
  constructor(readonly mailboxId: string, readonly token: number) {
    super(`the lease on mailbox ${mailboxId} (token ${token}) is no longer held; another worker has the mailbox`);
    this.name = 'LeaseLostError';
  }
}

/** A mailbox as a cycle needs it. */
export interface SyncMailbox {
  id: string;
  address: string;
  type: 'user' | 'queue';
  ownerId: string;
  profileId: string;
  incoming: boolean;
  outgoing: boolean;
  /** The mailbox's own Process Email From (the later of it and the profile's applies; domain/schedule.ts). */
  processEmailFrom: string | null;
  ewsUrl: string | null;
  ewsUrlFoundAt: string | null;
  incomingStatus: SyncStatus;
  outgoingStatus: SyncStatus;
  consecutiveFailures: number;
  lastSuccessAt: string | null;
  nextDueAt: string | null;
}

export interface SyncProfile {
  profile: Profile;
  secrets: ProfileSecrets;
}

/** The organization's settings that the engine applies (GET/PATCH /api/v1/organization). */
export interface OrganizationSettings {
  /** Put a tracking token in the subject of email sent from the CRM, and correlate replies by it. */
  useTrackingToken: boolean;
  /** The token's prefix, default "CRM:". */
  trackingTokenPrefix: string;
  /** Digits of the token's number, zero-padded (default 7: "CRM:0000042"). */
  trackingTokenDigits: number;
  /** Attachments over this size are left out of tracked email, with a note (default 5 MB). */
  maxAttachmentBytes: number;
  /** File extensions (lower case, no dot) left out of tracked email. */
  blockedAttachmentExtensions: string[];
  /** The mailbox system notifications (the owner's failure email) are sent from; null: none are sent. */
  systemNotificationMailboxId: string | null;
}

/** The incoming-email filter a mailbox's owner chose (domain/incoming-filter.ts decides with it). */
export type IncomingFilterOption = 'all' | 'responses-to-crm-email' | 'from-crm-records' | 'from-email-enabled-records' | 'none';

/** One party of an email as the pipeline resolved it. */
export interface ResolvedParty {
  role: 'from' | 'to' | 'cc' | 'bcc';
  address: string;
  displayName: string | null;
  /** null: the address stays an unresolved address on the activity. */
  record: RecordRef | null;
}

export interface IncomingAttachment {
  fileName: string;
  contentType: string;
  content: Buffer;
}

/** The email activity an incoming message becomes. */
export interface NewIncomingActivity {
  /** Normalized (`<...>`, as pipeline/parse.ts makes it); a message without one gets a stable derived id. */
  internetMessageId: string;
  subject: string;
  bodyText: string | null;
  bodyHtml: string | null;
  parties: ResolvedParty[];
  inReplyTo: string | null;
  references: string[];
  conversationId: string | null;
  trackingToken: string | null;
  regarding: { type: RegardingType; id: string } | null;
  /** The activity this one answers (correlated by In-Reply-To/References, token or conversation), if any. */
  correlatedActivityId: string | null;
  sentAt: string | null;
  receivedAt: string;
  attachments: IncomingAttachment[];
  /** Why attachments were left out (size, blocked extension), one line each: kept on the activity. */
  notes: string[];
}

/** The recorded outcome of one message of a synchronized folder. Every listed message gets exactly one. */
export type IncomingOutcome =
  | { kind: 'tracked'; serverId: string; activity: NewIncomingActivity }
  | { kind: 'filtered'; serverId: string; internetMessageId: string; rule: string }
  | {
      kind: 'failed';
      serverId: string;
      /** Known from the listing or the MIME; null when neither said. */
      internetMessageId: string | null;
      error: { code: string; message: string; serverResponse: string | null };
    }
  /** A message that kept failing, moved to the Undeliverable folder (its id there). */
  | { kind: 'undeliverable'; serverId: string; newServerId: string; internetMessageId: string | null; error: { code: string; message: string } };

export interface IncomingBatch {
  folder: string;
  outcomes: IncomingOutcome[];
  /** The cursor after the listed changes; null leaves the stored one as it is. */
  cursor: string | null;
}

export interface CommitResult {
  /** Activities created by this batch (a message already tracked in another mailbox is linked, not created). */
  created: string[];
  /** Activities that existed (another mailbox tracked the same Message-ID) and are now linked to this one too. */
  linked: string[];
  /**
   * Which activity each tracked outcome became, by Internet Message-ID (what the engine's `tracked` events
   * name). Optional for backward compatibility; without it the engine looks the activities up by Message-ID.
   */
  activities?: Array<{ internetMessageId: string; activityId: string; linked: boolean }>;
}

/** A message that failed earlier and is due for another try. */
export interface PendingFailure {
  serverId: string;
  internetMessageId: string | null;
  attempts: number;
  lastError: string;
}

/** An email the outgoing sync sends, as the store hands it over (already in `sending`). */
export interface OutgoingEmail {
  activityId: string;
  /** Generated and stored before the first attempt: the same for every attempt. */
  messageId: string;
  subject: string;
  trackingToken: string | null;
  bodyText: string | null;
  bodyHtml: string | null;
  from: { address: string; displayName: string | null };
  to: Array<{ address: string; displayName: string | null }>;
  cc: Array<{ address: string; displayName: string | null }>;
  bcc: Array<{ address: string; displayName: string | null }>;
  inReplyTo: string | null;
  references: string[];
  attachments: IncomingAttachment[];
  /** Attempts so far, this one included. */
  deliveryAttempts: number;
  /** True when an earlier attempt may have reached the server (the email was found in `sending`): look first. */
  uncertain: boolean;
}

/** How a cycle of one direction ended, as the failure policy (domain/failure-policy.ts) decided. */
export interface CycleRecord {
  direction: 'incoming' | 'outgoing';
  status: SyncStatus;
  /** A successful cycle resets the count; a failed one adds one; a throttled one leaves it. */
  consecutiveFailures: number;
  lastError: string | null;
  /** Disable the mailbox (permanent error, or too many failed cycles). */
  disable: boolean;
  alert: AlertInput | null;
}

export interface SyncStore {
  /** What the incoming pipeline looks up (the same store, read-only). */
  readonly lookups: PipelineLookups;

  /**
   * Leases up to `limit` mailboxes that are enabled, have a profile, are due (next due time passed or never
   * set), and whose lease is free or expired. PostgreSQL: FOR UPDATE SKIP LOCKED, so workers never wait on
   * each other. Each grant increments the mailbox's fencing token.
   */
  claimDue(workerId: string, limit: number, leaseMs: number, now: Date): Promise<Array<{ lease: Lease; mailbox: SyncMailbox }>>;
  /** Extends a held lease; throws LeaseLostError when it is held no more. */
  renew(lease: Lease, leaseMs: number, now: Date): Promise<Lease>;
  /** Gives the mailbox up, due again at `nextDueAt`. A lost lease is ignored (the successor owns it). */
  release(lease: Lease, nextDueAt: Date): Promise<void>;
  /** Makes these mailboxes due now (push: new mail). Cheap and safe to call often. */
  wake(addresses: readonly string[], now: Date): Promise<void>;
  /** Every enabled mailbox with incoming sync, by profile: what the push feeds watch. */
  watchedMailboxes(): Promise<Array<{ profileId: string; address: string }>>;

  profile(profileId: string): Promise<SyncProfile>;
  organization(): Promise<OrganizationSettings>;
  /** The incoming filter of the mailbox's user, or of its queue (queues have their own, default all). */
  incomingFilter(mailboxId: string): Promise<IncomingFilterOption>;
  /** Stores a mailbox's server location (the connector found it again); the caller raises the alert. */
  saveLocation(mailboxId: string, url: string, foundAt: string): Promise<void>;
  /** The mailbox's own login, decrypted (IMAP/POP3 profiles whose credentialSource is mailbox); null when none. */
  mailboxLogin(mailboxId: string): Promise<MailboxLogin | null>;

  /** The stored cursor of a folder, null when none (or after resetCursor). */
  cursor(mailboxId: string, folder: string): Promise<string | null>;
  /** Forgets a folder's cursor (the server said it is invalid): the next listing starts from scratch. */
  resetCursor(lease: Lease, folder: string): Promise<void>;
  /** Of these Internet Message-IDs, those that already have an outcome in this mailbox (skip them). */
  knownMessages(mailboxId: string, internetMessageIds: readonly string[]): Promise<Set<string>>;
  /** Of these server ids, those that already have an outcome in this mailbox (for messages listed without an id). */
  knownServerIds(mailboxId: string, serverIds: readonly string[]): Promise<Set<string>>;
  /**
   * Records the outcomes and the cursor that covers them in one transaction, checking the lease. A tracked
   * message whose Internet Message-ID already has an activity in the organization is linked to it, not
   * created again. A failure adds an attempt to the message's failure record; a later outcome replaces it.
   */
  commitIncoming(lease: Lease, batch: IncomingBatch): Promise<CommitResult>;
  /** Failed messages due for another try, oldest first. */
  pendingFailures(mailboxId: string, limit: number): Promise<PendingFailure[]>;

  /**
   * Moves up to `limit` of the mailbox's emails in pending send to sending (counting the attempt, generating
   * and storing the Message-ID and tracking token first), plus those left in sending by an earlier attempt
   * (flagged uncertain), and returns them; an email whose `retryAt`/`notBefore` has not come yet is left for later.
   */
  claimOutgoing(lease: Lease, limit: number): Promise<OutgoingEmail[]>;
  markSent(lease: Lease, activityId: string, sentAt: string): Promise<void>;
  /** Back to pending send for another try, or (final) failed with the reason and an alert on the email. */
  markSendFailed(lease: Lease, activityId: string, reason: string, final: boolean, alert: AlertInput | null, retryAt?: Date | null): Promise<void>;
  /**
   * An attempt whose outcome is not known yet (it timed out; Sent Items does not show it): the email stays in
   * sending, and is neither looked for again nor sent before `notBefore` (the server may still carry it out).
   */
  settleSending(lease: Lease, activityId: string, reason: string, notBefore: Date): Promise<void>;
  /**
   * An attempt is about to go to the server: until `notBefore` (the longest the server may take to carry it out)
   * no other cycle looks for the email or sends it, even if this one never records how the attempt ended (its
   * worker was killed, or it could not ask Sent Items afterwards). How the attempt ends replaces the time.
   */
  startAttempt(lease: Lease, activityId: string, notBefore: Date): Promise<void>;
  /**
   * The send's outcome cannot be known (the server's answer was lost and nothing on the server can tell): the
   * email leaves sending for delivery-uncertain, never claimed again, with the alert that asks a person to decide.
   */
  markDeliveryUncertain(lease: Lease, activityId: string, reason: string, alert: AlertInput): Promise<void>;

  /** Records how a cycle ended: statuses, failures, last success, disabling, the alert. */
  recordCycle(lease: Lease, record: CycleRecord, now: Date): Promise<void>;
  raiseAlert(alert: AlertInput): Promise<void>;

  /**
   * Per profile with Email Notifications on: mailboxes processed in the last hour and those that failed, with
   * the owner's email address (the notification goes there; optional for backward compatibility, but without it
   * no email can be sent, only the alert raised).
   */
  failureCounts(since: Date): Promise<Array<{ profileId: string; ownerId: string; processed: number; failed: number; ownerAddress?: string | null }>>;
  /**
   * Claims the right to notify a profile's owner: true for exactly one caller per hour across all workers
   * (a conditional update of the profile's last notification time).
   */
  claimOwnerNotification(profileId: string, now: Date): Promise<boolean>;
  /**
   * Queues an email from the system notification mailbox (pending send, so the outgoing sync sends it);
   * null when the organization names no such mailbox.
   */
  queueSystemEmail(input: { to: string; subject: string; bodyText: string }): Promise<string | null>;

  /** The missing-mail audit's store (src/sync/audit.ts); absent: this store keeps no audits and none run. */
  readonly audit?: AuditPort;
}

export type AuditTrigger = 'scheduled' | 'on-demand';

/** When a mailbox's next audit is due, and whether someone asked for one. */
export interface AuditSchedule {
  /** The next scheduled audit; null: none scheduled yet (the engine schedules the first). */
  dueAt: string | null;
  /** An on-demand request not yet served (API, CLI). */
  requestedAt: string | null;
}

/** One audit as the engine records it. */
export interface AuditRunInput {
  trigger: AuditTrigger;
  startedAt: string;
  finishedAt: string;
  status: 'completed' | 'failed';
  onServer: number;
  tracked: number;
  filtered: number;
  filteredByRule: Record<string, number>;
  failed: number;
  outOfScope: number;
  /** Every missing message, oldest first; the store keeps the first MISSING_LIST_CAP by name and all in the queue. */
  missing: MissingMessage[];
  gapBeganAt: string | null;
  /** Why the audit itself failed (status failed). */
  error: string | null;
  /** The on-demand request (AuditSchedule.requestedAt) this audit serves; null for a scheduled one. */
  servedRequest: string | null;
}

/** A message the audit found missing, waiting for the next incoming pass. */
export interface QueuedMissing {
  serverId: string;
  internetMessageId: string | null;
  receivedAt: string | null;
}

export interface AuditPort {
  schedule(mailboxId: string): Promise<AuditSchedule>;
  /** Sets the next scheduled audit (fenced). */
  scheduleNext(lease: Lease, dueAt: Date): Promise<void>;
  /** The mailbox's outcomes that match these server ids or Internet Message-IDs. */
  outcomesMatching(mailboxId: string, serverIds: readonly string[], internetMessageIds: readonly string[]): Promise<AuditOutcome[]>;
  /**
   * Records the audit, queues its missing messages, schedules the next one, clears the request it served (if it
   * is still the one waiting), and raises the alert: one fenced transaction. Answers the stored run's id.
   */
  recordAudit(lease: Lease, run: AuditRunInput, nextDueAt: Date, alert: AlertInput | null): Promise<string>;
  /** Missing messages queued for processing, oldest first. */
  queued(mailboxId: string, limit: number): Promise<QueuedMissing[]>;
  /** Takes messages off the queue (they have an outcome now, or were processed), fenced. */
  dequeue(lease: Lease, serverIds: readonly string[]): Promise<void>;
}

/**
 * What the incoming pipeline looks up (implemented by the store as `store.sync.lookups`). Each call is one
 * indexed query for a batch; nothing scans a table.
 */
export interface PipelineLookups {
  /** Activities (tracked or sent) by Internet Message-ID, with their regarding record. */
  activitiesByMessageId(messageIds: readonly string[]): Promise<Map<string, { activityId: string; regarding: { type: RegardingType; id: string } | null; direction: 'incoming' | 'outgoing' }>>;
  /** The activity that carries this tracking token (an email sent from the CRM). */
  activityByTrackingToken(token: string): Promise<{ activityId: string; regarding: { type: RegardingType; id: string } | null } | null>;
  /** The latest activity of a conversation (EWS ConversationId, or Thread-Index's conversation part). */
  activityByConversation(conversationId: string): Promise<{ activityId: string; regarding: { type: RegardingType; id: string } | null } | null>;
  /** Every email-enabled record each address (lower-cased) belongs to. */
  recordsByAddress(addresses: readonly string[]): Promise<Map<string, RecordRef[]>>;
}
