/**
 * What the sync engine keeps (sync/ports.ts SyncStore and PipelineLookups): leases on mailboxes, cursors, the
 * outcome of every message, the activities incoming email becomes, the outgoing queue, and each mailbox's health.
 *
 * Every write a leased worker makes runs in a transaction that first checks (and on PostgreSQL locks) the
 * mailbox row with the lease's fencing token and worker: a worker whose lease was re-granted gets
 * LeaseLostError and its transaction writes nothing.
 */
import { type Kysely, PostgresAdapter, sql } from 'kysely';
import type { RegardingType } from '../domain/activity.js';
import type { AlertInput } from '../domain/alert.js';
import { ConflictError, NotFoundError } from '../domain/errors.js';
import { newId } from '../domain/ids.js';
import { MAX_MESSAGE_ATTEMPTS } from '../domain/failure-policy.js';
import { messageIdList, newMessageId } from '../domain/message-id.js';
import { formatTrackingToken } from '../domain/tracking-token.js';
import type { SyncMethod, SyncStatus } from '../domain/mailbox.js';
import {
  type CommitResult,
  type CycleRecord,
  type IncomingBatch,
  type IncomingFilterOption,
  type IncomingOutcome,
  type Lease,
  LeaseLostError,
  type NewIncomingActivity,
  type OrganizationSettings,
  type OutgoingEmail,
  type PendingFailure,
  type PipelineLookups,
  type SyncMailbox,
  type SyncProfile,
  type SyncStore,
} from '../sync/ports.js';
import { cleanAddresses, recordsByAddress } from './addresses.js';
import { referencesText, writeParties } from './activities.js';
import { AlertRepository } from './alerts.js';
import { AuditRepository } from './audits.js';
import { type Db, flag, updateLock } from './common.js';
import { selectMailboxes, toMailbox } from './mailboxes.js';
import { readOrganization } from './organization.js';
import type { ProfileRepository } from './profiles.js';
import type { MessageOutcomesTable, Schema } from './schema.js';
import type { MailboxLogin } from '../connectors/mail/credentials.js';
import type { MailboxRepository } from './mailboxes.js';

/** The settings row that numbers tracking tokens: one counter for the organization, never reused. */
export const TRACKING_TOKEN_COUNTER = 'tracking_token_counter';

/** How often a profile's owner may be told of failures. */
export const OWNER_NOTIFICATION_INTERVAL_MS = 60 * 60 * 1000;

/** IN lists are cut to this many values: well under either database's parameter limit. */
const CHUNK = 500;

function chunks<T>(values: readonly T[]): T[][] {
  const result: T[][] = [];
  for (let i = 0; i < values.length; i += CHUNK) result.push(values.slice(i, i + CHUNK));
  return result;
}

const isPostgres = (db: Db): boolean => db.getExecutor().adapter instanceof PostgresAdapter;

function regardingOf(row: { regarding_type: string | null; regarding_id: string | null }): { type: RegardingType; id: string } | null {
  return row.regarding_type && row.regarding_id ? { type: row.regarding_type as RegardingType, id: row.regarding_id } : null;
}

/**
 * Checks that the lease still holds, locking the mailbox row (PostgreSQL) until the transaction ends: a claim
 * that would re-grant it waits, or skips it, instead of slipping in between the check and the writes.
 */
export async function holdLease(db: Db, lease: Lease): Promise<void> {
  const query = db
    .selectFrom('mailboxes')
    .select('id')
    .where('id', '=', lease.mailboxId)
    .where('lease_token', '=', lease.token)
    .where('lease_owner', '=', lease.workerId);
  const row = await updateLock(db, query).executeTakeFirst();
  if (!row) throw new LeaseLostError(lease.mailboxId, lease.token);
}

function toSyncMailbox(row: Parameters<typeof toMailbox>[0]): SyncMailbox {
  const m = toMailbox(row);
  return {
    id: m.id,
    address: m.emailAddress,
    type: m.type,
    ownerId: m.ownerId,
    profileId: m.profileId ?? '',
    incoming: m.incomingMethod === ('server-side-sync' satisfies SyncMethod),
    outgoing: m.outgoingMethod === ('server-side-sync' satisfies SyncMethod),
    processEmailFrom: m.processEmailFrom,
    ewsUrl: m.ewsUrl,
    ewsUrlFoundAt: m.ewsUrlFoundAt,
    incomingStatus: m.incomingStatus,
    outgoingStatus: m.outgoingStatus,
    consecutiveFailures: m.consecutiveFailures,
    lastSuccessAt: m.lastSuccessAt,
    nextDueAt: m.nextDueAt,
  };
}

type OutcomeRow = Pick<MessageOutcomesTable, 'id' | 'outcome' | 'internet_message_id' | 'server_id' | 'attempts'>;

export class SyncRepository implements SyncStore {
  readonly lookups: PipelineLookups;
  /** The missing-mail audit (store/audits.ts). */
  readonly audit: AuditRepository;
  private readonly alerts: AlertRepository;

  constructor(
    private readonly db: Kysely<Schema>,
    private readonly profiles: ProfileRepository,
    private readonly mailboxes: MailboxRepository,
  ) {
    this.lookups = new SyncLookups(db);
    this.alerts = new AlertRepository(db);
    this.audit = new AuditRepository(db);
  }

  async claimDue(workerId: string, limit: number, leaseMs: number, at: Date): Promise<Array<{ lease: Lease; mailbox: SyncMailbox }>> {
    if (limit < 1) return [];
    const nowIso = at.toISOString();
    const expiresAt = new Date(at.getTime() + leaseMs).toISOString();
    return this.db.transaction().execute(async (trx) => {
      let due = trx
        .selectFrom('mailboxes')
        .select('id')
        .where('enabled', '=', 1)
        .where('profile_id', 'is not', null)
        .where((eb) => eb.or([eb('incoming_method', '<>', 'none'), eb('outgoing_method', '<>', 'none')]))
        .where((eb) => eb.or([eb('next_due_at', 'is', null), eb('next_due_at', '<=', nowIso)]))
        .where((eb) => eb.or([eb('lease_owner', 'is', null), eb('lease_expires_at', '<=', nowIso)]))
        .orderBy(sql`coalesce(next_due_at, '')`)
        .orderBy('id')
        .limit(limit);
      // Workers never wait on each other: a mailbox another claim is granting is simply not this one's.
      if (isPostgres(trx)) due = due.forUpdate().skipLocked();
      const ids = (await due.execute()).map((r) => r.id);
      if (ids.length === 0) return [];
      await trx
        .updateTable('mailboxes')
        // next_due_at is cleared while the mailbox is held: a wake during the cycle sets it, and release keeps it.
        .set({ lease_owner: workerId, lease_token: sql<number>`lease_token + 1`, lease_expires_at: expiresAt, next_due_at: null })
        .where('id', 'in', ids)
        .execute();
      const rows = await selectMailboxes(trx).where('m.id', 'in', ids).orderBy('m.id').execute();
      return rows.map((row) => ({
        lease: { mailboxId: row.id, workerId, token: row.lease_token, expiresAt },
        mailbox: toSyncMailbox(row),
      }));
    });
  }

  async renew(lease: Lease, leaseMs: number, at: Date): Promise<Lease> {
    const expiresAt = new Date(at.getTime() + leaseMs).toISOString();
    const done = await this.db
      .updateTable('mailboxes')
      .set({ lease_expires_at: expiresAt })
      .where('id', '=', lease.mailboxId)
      .where('lease_token', '=', lease.token)
      .where('lease_owner', '=', lease.workerId)
      .executeTakeFirst();
    if (Number(done.numUpdatedRows) === 0) throw new LeaseLostError(lease.mailboxId, lease.token);
    return { ...lease, expiresAt };
  }

  async release(lease: Lease, nextDueAt: Date): Promise<void> {
    // The token stays: it only ever grows, so a later grant is always larger than any earlier one. New mail
    // announced while the cycle ran (wake) keeps the mailbox due at once, not at the next poll.
    const due = nextDueAt.toISOString();
    await this.db
      .updateTable('mailboxes')
      .set({
        lease_owner: null,
        lease_expires_at: null,
        next_due_at: sql<string>`case when next_due_at is not null and next_due_at < ${due} then next_due_at else ${due} end`,
      })
      .where('id', '=', lease.mailboxId)
      .where('lease_token', '=', lease.token)
      .where('lease_owner', '=', lease.workerId)
      .execute();
  }

  async wake(addresses: readonly string[], at: Date): Promise<void> {
    const keys = [...new Set(addresses.map((a) => a.trim().toLowerCase()).filter((a) => a !== ''))];
    const nowIso = at.toISOString();
    for (const part of chunks(keys)) {
      const holders = (type: 'user' | 'queue') =>
        this.db.selectFrom('email_addresses').select('record_id').where('record_type', '=', type).where('address_key', 'in', part);
      await this.db
        .updateTable('mailboxes')
        .set({ next_due_at: nowIso })
        .where((eb) => eb.or([eb('user_id', 'in', holders('user')), eb('queue_id', 'in', holders('queue'))]))
        .where((eb) =>
          eb.or([
            eb('next_due_at', '>', nowIso),
            // Held by a cycle that may have listed already: remembered for its release.
            eb.and([eb('next_due_at', 'is', null), eb('lease_owner', 'is not', null)]),
          ]),
        )
        .execute();
    }
  }

  async watchedMailboxes(): Promise<Array<{ profileId: string; address: string }>> {
    const rows = await selectMailboxes(this.db)
      .where('m.enabled', '=', 1)
      .where('m.profile_id', 'is not', null)
      .where('m.incoming_method', '=', 'server-side-sync')
      .orderBy('m.id')
      .execute();
    return rows.filter((r) => r.email_address).map((r) => ({ profileId: r.profile_id!, address: r.email_address! }));
  }

  async profile(profileId: string): Promise<SyncProfile> {
    const profile = await this.profiles.get(profileId);
    return { profile, secrets: await this.profiles.secretsOf(profileId) };
  }

  organization(): Promise<OrganizationSettings> {
    return readOrganization(this.db);
  }

  async incomingFilter(mailboxId: string): Promise<IncomingFilterOption> {
    const row = await this.db
      .selectFrom('mailboxes as m')
      .leftJoin('users as u', 'u.id', 'm.user_id')
      .leftJoin('queues as q', 'q.id', 'm.queue_id')
      .select(['u.incoming_filter as user_filter', 'q.incoming_filter as queue_filter'])
      .where('m.id', '=', mailboxId)
      .executeTakeFirst();
    if (!row) throw new NotFoundError('mailbox', mailboxId);
    const filter = row.user_filter ?? row.queue_filter;
    if (!filter) throw new NotFoundError('owner of mailbox', mailboxId);
    return filter as IncomingFilterOption;
  }

  mailboxLogin(mailboxId: string): Promise<MailboxLogin | null> {
    return this.mailboxes.loginOf(mailboxId);
  }

  async saveLocation(mailboxId: string, url: string, foundAt: string): Promise<void> {
    const done = await this.db.updateTable('mailboxes').set({ ews_url: url, ews_url_found_at: foundAt }).where('id', '=', mailboxId).executeTakeFirst();
    if (Number(done.numUpdatedRows) === 0) throw new NotFoundError('mailbox', mailboxId);
  }

  async cursor(mailboxId: string, folder: string): Promise<string | null> {
    const row = await this.db.selectFrom('sync_states').select('cursor').where('mailbox_id', '=', mailboxId).where('folder', '=', folder).executeTakeFirst();
    return row?.cursor ?? null;
  }

  async resetCursor(lease: Lease, folder: string): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      await holdLease(trx, lease);
      await trx.deleteFrom('sync_states').where('mailbox_id', '=', lease.mailboxId).where('folder', '=', folder).execute();
    });
  }

  async knownMessages(mailboxId: string, internetMessageIds: readonly string[]): Promise<Set<string>> {
    const known = new Set<string>();
    for (const part of chunks([...new Set(internetMessageIds)])) {
      const rows = await this.db
        .selectFrom('message_outcomes')
        .select('internet_message_id')
        .where('mailbox_id', '=', mailboxId)
        .where('internet_message_id', 'in', part)
        .execute();
      for (const row of rows) if (row.internet_message_id) known.add(row.internet_message_id);
    }
    return known;
  }

  async knownServerIds(mailboxId: string, serverIds: readonly string[]): Promise<Set<string>> {
    const known = new Set<string>();
    for (const part of chunks([...new Set(serverIds)])) {
      const rows = await this.db.selectFrom('message_outcomes').select('server_id').where('mailbox_id', '=', mailboxId).where('server_id', 'in', part).execute();
      for (const row of rows) known.add(row.server_id);
    }
    return known;
  }

  async commitIncoming(lease: Lease, batch: IncomingBatch): Promise<CommitResult> {
    return this.db.transaction().execute(async (trx) => {
      await holdLease(trx, lease);
      const owner = await trx
        .selectFrom('mailboxes as m')
        .leftJoin('queues as q', 'q.id', 'm.queue_id')
        .select((eb) => eb.fn.coalesce('q.owner_id', 'm.user_id').as('owner_id'))
        .where('m.id', '=', lease.mailboxId)
        .executeTakeFirstOrThrow();
      const result: CommitResult = { created: [], linked: [] };
      const at = new Date().toISOString();
      // In Message-ID order: two mailboxes committing overlapping batches take the activities' unique keys in
      // the same order, so one waits for the other instead of both deadlocking.
      // The result keeps the batch's order.
      const ordered = [...batch.outcomes].sort((a, b) => compareText(messageIdOf(a), messageIdOf(b)));
      const tracked = new Map<IncomingOutcome, { id: string; created: boolean }>();
      for (const outcome of ordered) {
        const activity = await recordOutcome(trx, lease.mailboxId, owner.owner_id, batch.folder, outcome, at);
        if (activity) tracked.set(outcome, activity);
      }
      for (const outcome of batch.outcomes) {
        const activity = tracked.get(outcome);
        if (activity) (activity.created ? result.created : result.linked).push(activity.id);
      }
      if (batch.cursor !== null) {
        await trx
          .insertInto('sync_states')
          .values({ mailbox_id: lease.mailboxId, folder: batch.folder, cursor: batch.cursor, updated_at: at })
          .onConflict((oc) => oc.columns(['mailbox_id', 'folder']).doUpdateSet({ cursor: batch.cursor!, updated_at: at }))
          .execute();
      }
      return result;
    });
  }

  async pendingFailures(mailboxId: string, limit: number): Promise<PendingFailure[]> {
    if (limit < 1) return [];
    const rows = await this.db
      .selectFrom('message_outcomes')
      .select(['server_id', 'internet_message_id', 'attempts', 'error_code', 'error_message'])
      .where('mailbox_id', '=', mailboxId)
      .where('outcome', '=', 'failed')
      // Those that used up their attempts are settled as failed: they must not crowd newer failures out.
      .where('attempts', '<', MAX_MESSAGE_ATTEMPTS)
      .orderBy('updated_at')
      .orderBy('id')
      .limit(limit)
      .execute();
    return rows.map((r) => ({
      serverId: r.server_id,
      internetMessageId: r.internet_message_id,
      attempts: r.attempts,
      lastError: r.error_code ? `${r.error_code}: ${r.error_message ?? ''}` : (r.error_message ?? ''),
    }));
  }

  async claimOutgoing(lease: Lease, limit: number): Promise<OutgoingEmail[]> {
    return this.db.transaction().execute(async (trx) => {
      await holdLease(trx, lease);
      const mailboxRow = await selectMailboxes(trx).where('m.id', '=', lease.mailboxId).executeTakeFirstOrThrow();
      const mailbox = toMailbox(mailboxRow);
      const organization = await readOrganization(trx);
      const mine = () =>
        trx.selectFrom('email_activities').where('mailbox_id', '=', lease.mailboxId).where('direction', '=', 'outgoing');
      // Found in sending: an attempt was under way when its worker stopped, and may have reached the server. One
      // whose attempt timed out is left alone until its settling time has passed (the server may still carry it
      // out), as is one in pending send waiting out a temporary refusal.
      const nowIso = new Date().toISOString();
      const ready = (qb: ReturnType<typeof mine>) => qb.where((eb) => eb.or([eb('send_not_before', 'is', null), eb('send_not_before', '<=', nowIso)]));
      const uncertain = (await ready(mine()).select('id').where('status', '=', 'sending').orderBy('id').execute()).map((r) => r.id);
      const pending = limit < 1 ? [] : await ready(mine()).select(['id', 'message_id', 'tracking_token']).where('status', '=', 'pending-send').orderBy('id').limit(limit).execute();
      if (uncertain.length > 0) {
        await trx
          .updateTable('email_activities')
          .set({ delivery_attempts: sql<number>`delivery_attempts + 1`, updated_at: new Date().toISOString() })
          .where('id', 'in', uncertain)
          .execute();
      }
      const claimed: string[] = [];
      for (const row of pending) {
        // Both are stored before the email leaves: a retry sends the same Message-ID and token, so the
        // server (and the reply that comes back) always names the one activity.
        const messageId = row.message_id ?? newMessageId(mailbox.emailAddress, newId());
        const token =
          row.tracking_token ??
          (organization.useTrackingToken
            ? formatTrackingToken({ prefix: organization.trackingTokenPrefix, digits: organization.trackingTokenDigits }, await nextTokenNumber(trx))
            : null);
        const moved = await trx
          .updateTable('email_activities')
          .set({
            status: 'sending',
            delivery_attempts: sql<number>`delivery_attempts + 1`,
            message_id: messageId,
            tracking_token: token,
            updated_at: new Date().toISOString(),
          })
          .where('id', '=', row.id)
          .where('status', '=', 'pending-send')
          .executeTakeFirst();
        // Changed since it was read (sent elsewhere, taken back): not this cycle's to send.
        if (Number(moved.numUpdatedRows) === 1) claimed.push(row.id);
      }
      const ids = [...uncertain, ...claimed];
      return outgoingEmails(trx, ids, new Set(uncertain), { address: mailbox.emailAddress, displayName: mailbox.name || null });
    });
  }

  async markSent(lease: Lease, activityId: string, sentAt: string): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      await holdLease(trx, lease);
      await moveSending(trx, lease, activityId, { status: 'sent', sent_at: sentAt, failure_reason: null });
    });
  }

  async markSendFailed(lease: Lease, activityId: string, reason: string, final: boolean, alert: AlertInput | null, retryAt: Date | null = null): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      await holdLease(trx, lease);
      await moveSending(trx, lease, activityId, { status: final ? 'failed' : 'pending-send', failure_reason: reason, send_not_before: final ? null : (retryAt?.toISOString() ?? null) });
      if (final && alert) await this.alerts.raise({ ...alert, activityId: alert.activityId ?? activityId, mailboxId: alert.mailboxId ?? lease.mailboxId }, trx);
    });
  }

  async startAttempt(lease: Lease, activityId: string, notBefore: Date): Promise<void> {
    await this.holdInSending(lease, activityId, notBefore, {});
  }

  async settleSending(lease: Lease, activityId: string, reason: string, notBefore: Date): Promise<void> {
    await this.holdInSending(lease, activityId, notBefore, { failure_reason: reason });
  }

  /** Keeps an email in sending, not looked at by any cycle before `notBefore`; a conflict if it is not in sending. */
  private async holdInSending(lease: Lease, activityId: string, notBefore: Date, set: { failure_reason?: string }): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      await holdLease(trx, lease);
      const done = await trx
        .updateTable('email_activities')
        .set({ ...set, send_not_before: notBefore.toISOString(), updated_at: new Date().toISOString() })
        .where('id', '=', activityId)
        .where('mailbox_id', '=', lease.mailboxId)
        .where('status', '=', 'sending')
        .executeTakeFirst();
      if (Number(done.numUpdatedRows) === 0) throw new ConflictError(`email activity ${activityId} is not in sending`);
    });
  }

  async markDeliveryUncertain(lease: Lease, activityId: string, reason: string, alert: AlertInput): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      await holdLease(trx, lease);
      await moveSending(trx, lease, activityId, { status: 'delivery-uncertain', failure_reason: reason });
      await this.alerts.raise({ ...alert, activityId: alert.activityId ?? activityId, mailboxId: alert.mailboxId ?? lease.mailboxId }, trx);
    });
  }

  async recordCycle(lease: Lease, record: CycleRecord, at: Date): Promise<void> {
    const nowIso = at.toISOString();
    const status: SyncStatus = record.status;
    await this.db.transaction().execute(async (trx) => {
      await holdLease(trx, lease);
      await trx
        .updateTable('mailboxes')
        .set({
          ...(record.direction === 'incoming' ? { incoming_status: status } : { outgoing_status: status }),
          consecutive_failures: record.consecutiveFailures,
          last_error: record.lastError,
          last_cycle_at: nowIso,
          ...(status === 'success' ? { last_success_at: nowIso, last_sync_at: nowIso } : {}),
          ...(status === 'failure' ? { last_failure_at: nowIso } : {}),
          ...(record.disable ? { enabled: flag(false) } : {}),
        })
        .where('id', '=', lease.mailboxId)
        .execute();
      if (record.alert) await this.alerts.raise({ ...record.alert, mailboxId: record.alert.mailboxId ?? lease.mailboxId }, trx);
    });
  }

  async raiseAlert(alert: AlertInput): Promise<void> {
    await this.alerts.raise(alert);
  }

  async failureCounts(since: Date): Promise<Array<{ profileId: string; ownerId: string; processed: number; failed: number; ownerAddress: string | null }>> {
    const sinceIso = since.toISOString();
    const rows = await this.db
      .selectFrom('email_server_profiles as p')
      .leftJoin('mailboxes as m', 'm.profile_id', 'p.id')
      .select([
        'p.id',
        'p.owner_id',
        sql<number>`count(case when m.last_cycle_at >= ${sinceIso} then 1 end)`.as('processed'),
        sql<number>`count(case when m.last_failure_at >= ${sinceIso} then 1 end)`.as('failed'),
      ])
      .where('p.notify_owner_on_failure', '=', 1)
      .groupBy(['p.id', 'p.owner_id'])
      .orderBy('p.id')
      .execute();
    // The owner's own address (a user's first), where the notification goes: one indexed query for all owners.
    const ownerIds = [...new Set(rows.map((r) => r.owner_id))];
    const addresses = ownerIds.length === 0
      ? []
      : await this.db
          .selectFrom('email_addresses')
          .select(['record_id', 'address'])
          .where('record_type', '=', 'user')
          .where('record_id', 'in', ownerIds)
          .orderBy('position')
          .execute();
    const ownerAddress = new Map<string, string>();
    for (const a of addresses) if (!ownerAddress.has(a.record_id)) ownerAddress.set(a.record_id, a.address);
    return rows.map((r) => ({
      profileId: r.id,
      ownerId: r.owner_id,
      processed: Number(r.processed),
      failed: Number(r.failed),
      ownerAddress: ownerAddress.get(r.owner_id) ?? null,
    }));
  }

  async claimOwnerNotification(profileId: string, at: Date): Promise<boolean> {
    const cutoff = new Date(at.getTime() - OWNER_NOTIFICATION_INTERVAL_MS).toISOString();
    // One conditional update: of callers racing, the database lets exactly one see the old time.
    const done = await this.db
      .updateTable('email_server_profiles')
      .set({ owner_notified_at: at.toISOString() })
      .where('id', '=', profileId)
      .where((eb) => eb.or([eb('owner_notified_at', 'is', null), eb('owner_notified_at', '<=', cutoff)]))
      .executeTakeFirst();
    return Number(done.numUpdatedRows) > 0;
  }

  async queueSystemEmail(input: { to: string; subject: string; bodyText: string }): Promise<string | null> {
    const to = cleanAddresses('to', [input.to], 1);
    return this.db.transaction().execute(async (trx) => {
      const organization = await readOrganization(trx);
      const mailboxId = organization.systemNotificationMailboxId;
      if (!mailboxId) return null;
      const row = await selectMailboxes(trx).where('m.id', '=', mailboxId).executeTakeFirst();
      if (!row) {
        throw new NotFoundError('system notification mailbox', mailboxId);
      }
      const mailbox = toMailbox(row);
      const id = newId();
      const at = new Date().toISOString();
      await trx
        .insertInto('email_activities')
        .values({
          id,
          mailbox_id: mailbox.id,
          owner_id: mailbox.ownerId || null,
          direction: 'outgoing',
          status: 'pending-send',
          subject: input.subject,
          body_text: input.bodyText,
          body_html: null,
          message_id: null,
          in_reply_to: null,
          message_references: null,
          conversation_id: null,
          tracking_token: null,
          regarding_type: null,
          regarding_id: null,
          notes: null,
          failure_reason: null,
          delivery_attempts: 0,
          sent_at: null,
          received_at: null,
          created_at: at,
          updated_at: at,
        })
        .execute();
      await writeParties(trx, id, { from: [mailbox.emailAddress], to });
      return id;
    });
  }
}

function messageIdOf(outcome: IncomingOutcome): string {
  return (outcome.kind === 'tracked' ? outcome.activity.internetMessageId : outcome.internetMessageId) ?? '';
}

const compareText = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** The next tracking token number: one counter in the settings table, incremented where it is read. */
async function nextTokenNumber(db: Db): Promise<number> {
  await db.insertInto('settings').values({ key: TRACKING_TOKEN_COUNTER, value: '0' }).onConflict((oc) => oc.column('key').doNothing()).execute();
  const row = await db
    .updateTable('settings')
    .set({ value: sql<string>`cast(cast(value as integer) + 1 as text)` })
    .where('key', '=', TRACKING_TOKEN_COUNTER)
    .returning('value')
    .executeTakeFirstOrThrow();
  return Number(row.value);
}

/** An email of the lease's mailbox leaves `sending`; one in any other state is not the worker's to move. */
async function moveSending(
  db: Db,
  lease: Lease,
  activityId: string,
  set: { status: 'sent' | 'failed' | 'pending-send' | 'delivery-uncertain'; sent_at?: string; failure_reason: string | null; send_not_before?: string | null },
): Promise<void> {
  const done = await db
    .updateTable('email_activities')
    .set({ send_not_before: null, ...set, updated_at: new Date().toISOString() })
    .where('id', '=', activityId)
    .where('mailbox_id', '=', lease.mailboxId)
    .where('status', '=', 'sending')
    .executeTakeFirst();
  if (Number(done.numUpdatedRows) === 0) {
    const row = await db.selectFrom('email_activities').select(['status', 'mailbox_id']).where('id', '=', activityId).executeTakeFirst();
    if (!row) throw new NotFoundError('email activity', activityId);
    throw new ConflictError(
      row.mailbox_id !== lease.mailboxId
        ? `email activity ${activityId} is not sent from mailbox ${lease.mailboxId}`
        : `email activity ${activityId} is ${row.status}, not sending; it was changed while it was being sent`,
    );
  }
}

async function outgoingEmails(
  db: Db,
  ids: string[],
  uncertain: ReadonlySet<string>,
  from: { address: string; displayName: string | null },
): Promise<OutgoingEmail[]> {
  if (ids.length === 0) return [];
  const rows = await db.selectFrom('email_activities').selectAll().where('id', 'in', ids).orderBy('id').execute();
  const parties = await db.selectFrom('activity_parties').select(['activity_id', 'role', 'address', 'display_name']).where('activity_id', 'in', ids).orderBy('position').execute();
  const attachments = await db.selectFrom('attachments').select(['activity_id', 'file_name', 'content_type', 'content']).where('activity_id', 'in', ids).orderBy('position').execute();
  return rows.map((row) => {
    // A recipient that matched several records is one party row per record, and one address on the wire.
    const recipients = (role: string) => {
      const seen = new Set<string>();
      const list: Array<{ address: string; displayName: string | null }> = [];
      for (const p of parties) {
        if (p.activity_id !== row.id || p.role !== role || seen.has(p.address.toLowerCase())) continue;
        seen.add(p.address.toLowerCase());
        list.push({ address: p.address, displayName: p.display_name });
      }
      return list;
    };
    return {
      activityId: row.id,
      messageId: row.message_id!,
      subject: row.subject,
      trackingToken: row.tracking_token,
      bodyText: row.body_text,
      bodyHtml: row.body_html,
      from,
      to: recipients('to'),
      cc: recipients('cc'),
      bcc: recipients('bcc'),
      inReplyTo: row.in_reply_to,
      references: messageIdList(row.message_references),
      attachments: attachments
        .filter((a) => a.activity_id === row.id)
        .map((a) => ({ fileName: a.file_name, contentType: a.content_type, content: Buffer.from(a.content) })),
      deliveryAttempts: row.delivery_attempts,
      uncertain: uncertain.has(row.id),
    };
  });
}

/**
 * The outcome rows this message already has in the mailbox: by Message-ID, and (a failure recorded before the
 * id was known) by server id.
 */
async function existingOutcomes(db: Db, mailboxId: string, internetMessageId: string | null, serverId: string): Promise<OutcomeRow[]> {
  return db
    .selectFrom('message_outcomes')
    .select(['id', 'outcome', 'internet_message_id', 'server_id', 'attempts'])
    .where('mailbox_id', '=', mailboxId)
    .where((eb) =>
      internetMessageId === null
        ? eb('server_id', '=', serverId)
        : eb.or([eb('internet_message_id', '=', internetMessageId), eb.and([eb('internet_message_id', 'is', null), eb('server_id', '=', serverId)])]),
    )
    .orderBy('id')
    .execute();
}

async function recordOutcome(
  db: Db,
  mailboxId: string,
  ownerId: string | null,
  folder: string,
  outcome: IncomingOutcome,
  at: string,
): Promise<{ id: string; created: boolean } | null> {
  const internetMessageId = outcome.kind === 'tracked' ? outcome.activity.internetMessageId : outcome.internetMessageId;
  const existing = await existingOutcomes(db, mailboxId, internetMessageId, outcome.serverId);
  // Settled already (a re-listing, a batch committed again after a lost answer): one outcome per message.
  if (existing.some((r) => r.outcome !== 'failed')) return null;
  const failure = existing[0];
  if (existing.length > 1) await db.deleteFrom('message_outcomes').where('id', 'in', existing.slice(1).map((r) => r.id)).execute();

  let row: Omit<MessageOutcomesTable, 'id' | 'created_at'>;
  let activity: { id: string; created: boolean } | null = null;
  const base = { mailbox_id: mailboxId, folder, server_id: outcome.serverId, internet_message_id: internetMessageId ?? failure?.internet_message_id ?? null, updated_at: at };
  const noError = { error_code: null, error_message: null, server_response: null };
  switch (outcome.kind) {
    case 'tracked': {
      activity = await trackActivity(db, mailboxId, ownerId, outcome.activity, at);
      row = { ...base, outcome: 'tracked', rule: null, activity_id: activity.id, ...noError, attempts: failure?.attempts ?? 0 };
      break;
    }
    case 'filtered':
      row = { ...base, outcome: 'filtered', rule: outcome.rule, activity_id: null, ...noError, attempts: failure?.attempts ?? 0 };
      break;
    case 'failed':
      row = {
        ...base,
        outcome: 'failed',
        rule: null,
        activity_id: null,
        error_code: outcome.error.code,
        error_message: outcome.error.message,
        server_response: outcome.error.serverResponse,
        attempts: (failure?.attempts ?? 0) + 1,
      };
      break;
    case 'undeliverable':
      row = {
        ...base,
        server_id: outcome.newServerId,
        outcome: 'undeliverable',
        rule: null,
        activity_id: null,
        error_code: outcome.error.code,
        error_message: outcome.error.message,
        server_response: null,
        attempts: failure?.attempts ?? 0,
      };
      break;
  }
  if (failure) await db.updateTable('message_outcomes').set(row).where('id', '=', failure.id).execute();
  else await db.insertInto('message_outcomes').values({ ...row, id: newId(), created_at: at }).execute();
  return activity;
}

/**
 * The activity of an incoming email: the one the organization already has for its Message-ID (another mailbox
 * received it, or it was sent from the CRM), or a new one; either way linked to this mailbox.
 */
async function trackActivity(db: Db, mailboxId: string, ownerId: string | null, activity: NewIncomingActivity, at: string): Promise<{ id: string; created: boolean }> {
  const link = async (activityId: string) => {
    await db
      .insertInto('activity_mailboxes')
      .values({ activity_id: activityId, mailbox_id: mailboxId, created_at: at })
      .onConflict((oc) => oc.columns(['activity_id', 'mailbox_id']).doNothing())
      .execute();
  };
  const find = () => db.selectFrom('email_activities').select('id').where('message_id', '=', activity.internetMessageId).executeTakeFirst();
  const found = await find();
  if (found) {
    await link(found.id);
    return { id: found.id, created: false };
  }
  const id = newId();
  // Another mailbox may be committing the same email right now: the unique Message-ID decides, and the
  // loser (after the winner commits) links to the winner's activity.
  const inserted = await db
    .insertInto('email_activities')
    .values({
      id,
      mailbox_id: mailboxId,
      owner_id: ownerId,
      direction: 'incoming',
      status: 'received',
      subject: activity.subject,
      body_text: activity.bodyText,
      body_html: activity.bodyHtml,
      message_id: activity.internetMessageId,
      in_reply_to: activity.inReplyTo,
      message_references: referencesText(activity.references),
      conversation_id: activity.conversationId,
      tracking_token: activity.trackingToken,
      regarding_type: activity.regarding?.type ?? null,
      regarding_id: activity.regarding?.id ?? null,
      notes: activity.notes.length > 0 ? JSON.stringify(activity.notes) : null,
      failure_reason: null,
      delivery_attempts: 0,
      sent_at: activity.sentAt,
      received_at: activity.receivedAt,
      created_at: at,
      updated_at: at,
    })
    .onConflict((oc) => oc.column('message_id').doNothing())
    .returning('id')
    .executeTakeFirst();
  if (!inserted) {
    const winner = await find();
    if (!winner) throw new ConflictError(`the email ${activity.internetMessageId} was being tracked by another mailbox at the same moment; it will be tracked at the next cycle`);
    await link(winner.id);
    return { id: winner.id, created: false };
  }
  const positions = new Map<string, number>();
  const parties = activity.parties.map((p) => {
    const position = (positions.get(p.role) ?? 0) + 1;
    positions.set(p.role, position);
    return {
      id: newId(),
      activity_id: id,
      role: p.role,
      position,
      address: p.address,
      display_name: p.displayName,
      record_type: p.record?.type ?? null,
      record_id: p.record?.id ?? null,
    };
  });
  for (const part of chunks(parties)) await db.insertInto('activity_parties').values(part).execute();
  for (const [index, attachment] of activity.attachments.entries()) {
    await db
      .insertInto('attachments')
      .values({
        id: newId(),
        activity_id: id,
        position: index + 1,
        file_name: attachment.fileName,
        content_type: attachment.contentType,
        size: attachment.content.length,
        content: attachment.content,
      })
      .execute();
  }
  await link(id);
  return { id, created: true };
}

/** The pipeline's look-ups: one indexed query per call. */
class SyncLookups implements PipelineLookups {
  constructor(private readonly db: Kysely<Schema>) {}

  async activitiesByMessageId(messageIds: readonly string[]) {
    const result = new Map<string, { activityId: string; regarding: { type: RegardingType; id: string } | null; direction: 'incoming' | 'outgoing' }>();
    for (const part of chunks([...new Set(messageIds)])) {
      const rows = await this.db
        .selectFrom('email_activities')
        .select(['id', 'message_id', 'regarding_type', 'regarding_id', 'direction'])
        .where('message_id', 'in', part)
        .execute();
      for (const row of rows) {
        result.set(row.message_id!, { activityId: row.id, regarding: regardingOf(row), direction: row.direction as 'incoming' | 'outgoing' });
      }
    }
    return result;
  }

  async activityByTrackingToken(token: string) {
    // The email sent from the CRM carries the token; replies that quote it must not stand in for it.
    const row = await this.db
      .selectFrom('email_activities')
      .select(['id', 'regarding_type', 'regarding_id'])
      .where('tracking_token', '=', token)
      .where('direction', '=', 'outgoing')
      .orderBy('id', 'desc')
      .limit(1)
      .executeTakeFirst();
    return row ? { activityId: row.id, regarding: regardingOf(row) } : null;
  }

  async activityByConversation(conversationId: string) {
    const row = await this.db
      .selectFrom('email_activities')
      .select(['id', 'regarding_type', 'regarding_id'])
      .where('conversation_id', '=', conversationId)
      .orderBy('id', 'desc')
      .limit(1)
      .executeTakeFirst();
    return row ? { activityId: row.id, regarding: regardingOf(row) } : null;
  }

  recordsByAddress(addresses: readonly string[]) {
    return recordsByAddress(this.db, addresses);
  }
}
