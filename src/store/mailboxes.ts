/** Mailboxes: one per user and per queue, created with them; associated with a profile, approved, enabled. */
import type { Kysely } from 'kysely';
import { DATE_TIME_HINT, toIsoDateTime } from '../domain/dates.js';
import { ConflictError, NotFoundError, ValidationError } from '../domain/errors.js';
import { newId } from '../domain/ids.js';
import {
  type ApprovalStatus,
  applyMailboxChange,
  enableProblems,
  type MailboxChange,
  type MailboxState,
  type SyncMethod,
  type SyncStatus,
} from '../domain/mailbox.js';
import { type Db, flag, isSet, keyShareLock, now, type Page, type PageRequest, pageLimit, toPage, updateLock } from './common.js';
import { explainConflict } from './errors.js';
import type { MailboxesTable, Schema } from './schema.js';
import type { SecretBox } from './secrets.js';
import type { MailboxLogin } from '../connectors/mail/credentials.js';

export interface Mailbox extends MailboxState {
  id: string;
  name: string;
  emailAddress: string;
  type: 'user' | 'queue';
  userId: string | null;
  queueId: string | null;
  /** The user who owns the mailbox: the user itself, or the queue's owner. */
  ownerId: string;
  processEmailFrom: string | null;
  lastSyncAt: string | null;
  lastTestAt: string | null;
  /** The EWS URL Autodiscover found for this mailbox, and when; null until found. */
  ewsUrl: string | null;
  ewsUrlFoundAt: string | null;
  /** When a sync cycle last succeeded; null until one did. */
  lastSuccessAt: string | null;
  /** Failed cycles in a row (a success resets it). */
  consecutiveFailures: number;
  /** When the next cycle is due; null: as soon as a worker is free. */
  nextDueAt: string | null;
  /** The last cycle's error, or null when it succeeded. */
  lastError: string | null;
  /** The mailbox's own login (IMAP/POP3 profiles whose credentialSource is mailbox); the password is never shown. */
  loginUsername: string | null;
  loginPasswordSet: boolean;
  createdAt: string;
  updatedAt: string;
}

export interface MailboxFilter extends PageRequest {
  /** A profile id, or 'none' for mailboxes without a profile. */
  profileId?: string | undefined;
  ownerId?: string | undefined;
  type?: 'user' | 'queue' | undefined;
  approvalStatus?: ApprovalStatus | undefined;
  enabled?: boolean | undefined;
  incomingStatus?: SyncStatus | undefined;
  outgoingStatus?: SyncStatus | undefined;
  /** Matches when either direction has this status. */
  status?: SyncStatus | undefined;
}

export const mailboxStateColumns = [
  'profile_id',
  'approval_status',
  'enabled',
  'incoming_method',
  'outgoing_method',
  'incoming_status',
  'outgoing_status',
] as const;

type StateRow = Pick<MailboxesTable, (typeof mailboxStateColumns)[number]>;

export function mailboxStateOf(row: StateRow): MailboxState {
  return {
    profileId: row.profile_id,
    approvalStatus: row.approval_status as ApprovalStatus,
    enabled: isSet(row.enabled),
    incomingMethod: row.incoming_method as SyncMethod,
    outgoingMethod: row.outgoing_method as SyncMethod,
    incomingStatus: row.incoming_status as SyncStatus,
    outgoingStatus: row.outgoing_status as SyncStatus,
  };
}

function stateColumns(state: MailboxState): StateRow {
  return {
    profile_id: state.profileId,
    approval_status: state.approvalStatus,
    enabled: flag(state.enabled),
    incoming_method: state.incomingMethod,
    outgoing_method: state.outgoingMethod,
    incoming_status: state.incomingStatus,
    outgoing_status: state.outgoingStatus,
  };
}

/** A new mailbox: not associated, address not yet submitted for approval, server-side sync both ways, disabled. */
export function newMailboxRow(owner: { userId: string } | { queueId: string }): MailboxesTable {
  const at = now();
  return {
    id: newId(),
    user_id: 'userId' in owner ? owner.userId : null,
    queue_id: 'queueId' in owner ? owner.queueId : null,
    ...stateColumns({
      profileId: null,
      approvalStatus: 'empty',
      enabled: false,
      incomingMethod: 'server-side-sync',
      outgoingMethod: 'server-side-sync',
      incomingStatus: 'not-run',
      outgoingStatus: 'not-run',
    }),
    process_email_from: null,
    last_sync_at: null,
    last_test_at: null,
    ews_url: null,
    ews_url_found_at: null,
    lease_owner: null,
    lease_token: 0,
    lease_expires_at: null,
    next_due_at: null,
    consecutive_failures: 0,
    last_success_at: null,
    last_error: null,
    last_cycle_at: null,
    last_failure_at: null,
    audit_due_at: null,
    audit_requested_at: null,
    login_username: null,
    login_password_enc: null,
    created_at: at,
    updated_at: at,
  };
}

/** Mailboxes with their name, owner and address (a user's own, or the queue's). */
export function selectMailboxes(db: Db) {
  return db
    .selectFrom('mailboxes as m')
    .leftJoin('users as u', 'u.id', 'm.user_id')
    .leftJoin('queues as q', 'q.id', 'm.queue_id')
    .leftJoin('email_addresses as ea', (join) =>
      join
        .on('ea.position', '=', 1)
        .on((eb) =>
          eb.or([
            eb.and([eb('ea.record_type', '=', 'user'), eb('ea.record_id', '=', eb.ref('m.user_id'))]),
            eb.and([eb('ea.record_type', '=', 'queue'), eb('ea.record_id', '=', eb.ref('m.queue_id'))]),
          ]),
        ),
    )
    .selectAll('m')
    .select((eb) => [
      eb.fn.coalesce('u.name', 'q.name').as('name'),
      eb.fn.coalesce('q.owner_id', 'm.user_id').as('owner_id'),
      'ea.address as email_address',
    ]);
}

export function toMailbox(row: MailboxesTable & { name: string | null; owner_id: string | null; email_address: string | null }): Mailbox {
  return {
    id: row.id,
    name: row.name ?? '',
    emailAddress: row.email_address ?? '',
    type: row.user_id ? 'user' : 'queue',
    userId: row.user_id,
    queueId: row.queue_id,
    ownerId: row.owner_id ?? '',
    ...mailboxStateOf(row),
    processEmailFrom: row.process_email_from,
    lastSyncAt: row.last_sync_at,
    lastTestAt: row.last_test_at,
    ewsUrl: row.ews_url,
    ewsUrlFoundAt: row.ews_url_found_at,
    lastSuccessAt: row.last_success_at,
    consecutiveFailures: row.consecutive_failures,
    nextDueAt: row.next_due_at,
    lastError: row.last_error,
    loginUsername: row.login_username,
    loginPasswordSet: row.login_password_enc !== null,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

export interface MailboxUpdate extends MailboxChange {
  processEmailFrom?: string | null | undefined;
}

export class MailboxRepository {
  constructor(
    private readonly db: Kysely<Schema>,
    private readonly secrets?: SecretBox,
  ) {}

  private secretBox(): SecretBox {
    if (!this.secrets) throw new Error('this store was opened without its secret key; mailbox logins cannot be read or written');
    return this.secrets;
  }

  /**
   * Sets (or, with null, removes) the mailbox's own login, for IMAP/POP3 profiles whose credentialSource is
   * mailbox. The password is encrypted like a profile's, with a context of its own: a ciphertext copied from
   * another mailbox or a profile does not decrypt here.
   */
  async setLogin(id: string, login: { username: string; password: string } | null): Promise<Mailbox> {
    await this.get(id);
    await this.db
      .updateTable('mailboxes')
      .set({
        login_username: login ? login.username : null,
        login_password_enc: login ? this.secretBox().encrypt(login.password, loginContext(id)) : null,
        updated_at: now(),
      })
      .where('id', '=', id)
      .execute();
    return this.get(id);
  }

  /** The mailbox's own login, decrypted: for the connectors and the diagnostics only, never for an answer. */
  async loginOf(id: string): Promise<MailboxLogin | null> {
    const row = await this.db.selectFrom('mailboxes').select(['login_username', 'login_password_enc']).where('id', '=', id).executeTakeFirst();
    if (!row) throw new NotFoundError('mailbox', id);
    if (row.login_username === null && row.login_password_enc === null) return null;
    return {
      username: row.login_username,
      password: row.login_password_enc === null ? null : this.secretBox().decrypt(row.login_password_enc, loginContext(id)),
    };
  }

  async get(id: string, db: Db = this.db): Promise<Mailbox> {
    const row = await selectMailboxes(db).where('m.id', '=', id).executeTakeFirst();
    if (!row) throw new NotFoundError('mailbox', id);
    return toMailbox(row);
  }

  async list(filter: MailboxFilter): Promise<Page<Mailbox>> {
    const limit = pageLimit(filter);
    let query = selectMailboxes(this.db).orderBy('m.id').limit(limit + 1);
    if (filter.after) query = query.where('m.id', '>', filter.after);
    if (filter.profileId === 'none') query = query.where('m.profile_id', 'is', null);
    else if (filter.profileId) query = query.where('m.profile_id', '=', filter.profileId);
    if (filter.ownerId) query = query.where('m.id', 'in', mailboxesOwnedBy(this.db, filter.ownerId));
    if (filter.type === 'user') query = query.where('m.user_id', 'is not', null);
    if (filter.type === 'queue') query = query.where('m.queue_id', 'is not', null);
    if (filter.approvalStatus) query = query.where('m.approval_status', '=', filter.approvalStatus);
    if (filter.enabled !== undefined) query = query.where('m.enabled', '=', flag(filter.enabled));
    if (filter.incomingStatus) query = query.where('m.incoming_status', '=', filter.incomingStatus);
    if (filter.outgoingStatus) query = query.where('m.outgoing_status', '=', filter.outgoingStatus);
    if (filter.status) {
      const status = filter.status;
      query = query.where((eb) => eb.or([eb('m.incoming_status', '=', status), eb('m.outgoing_status', '=', status)]));
    }
    const rows = await query.execute();
    return toPage(rows, limit, (row) => toMailbox(row));
  }

  async update(id: string, update: MailboxUpdate): Promise<Mailbox> {
    return this.db.transaction().execute(async (trx) => {
      const current = await this.get(id, trx);
      if (update.profileId) await assertProfileExists(trx, update.profileId);
      const next = applyMailboxChange(current, update);
      let processEmailFrom = update.processEmailFrom;
      if (processEmailFrom) {
        processEmailFrom = toIsoDateTime(processEmailFrom);
        if (processEmailFrom === null) throw new ValidationError([{ field: 'processEmailFrom', message: `must be ${DATE_TIME_HINT}` }]);
      }
      await trx
        .updateTable('mailboxes')
        .set({
          ...stateColumns(next),
          ...(processEmailFrom !== undefined ? { process_email_from: processEmailFrom } : {}),
          ...(next.profileId !== current.profileId ? NO_EWS_URL : {}),
          updated_at: now(),
        })
        .where('id', '=', id)
        .execute();
      return this.get(id, trx);
    }).catch(explainConflict(`mailbox ${id} was not changed`));
  }

  /**
   * Applies one change to many mailboxes, all or none: an unknown id, or a mailbox that refuses the change,
   * leaves every mailbox as it was.
   */
  async updateMany(ids: readonly string[], change: MailboxChange): Promise<Mailbox[]> {
    const unique = [...new Set(ids)];
    if (unique.length === 0) throw new ValidationError([{ field: 'mailboxIds', message: 'must name at least one mailbox' }]);
    return this.db.transaction().execute(async (trx) => {
      if (change.profileId) await assertProfileExists(trx, change.profileId);
      const rows = await trx.selectFrom('mailboxes').select(['id', ...mailboxStateColumns]).where('id', 'in', unique).execute();
      const found = new Set(rows.map((r) => r.id));
      const missing = unique.filter((id) => !found.has(id));
      if (missing.length > 0) {
        throw new ValidationError([{ field: 'mailboxIds', message: `no mailbox has id ${missing.join(', ')}` }]);
      }
      const at = now();
      for (const row of rows) {
        let next: MailboxState;
        try {
          next = applyMailboxChange(mailboxStateOf(row), change);
        } catch (error) {
          if (error instanceof ValidationError) {
            throw new ValidationError(error.problems.map((p) => ({ ...p, message: `mailbox ${row.id}: ${p.message}` })));
          }
          throw error;
        }
        const moved = next.profileId !== row.profile_id ? NO_EWS_URL : {};
        await trx.updateTable('mailboxes').set({ ...stateColumns(next), ...moved, updated_at: at }).where('id', '=', row.id).execute();
      }
      const result: Mailbox[] = [];
      for (const id of unique) result.push(await this.get(id, trx));
      return result;
    }).catch(explainConflict(`mailbox${unique.length === 1 ? '' : 'es'} ${unique.join(', ')} ${unique.length === 1 ? 'was' : 'were'} not changed`));
  }

  /** Caches the EWS URL Autodiscover found for the mailbox (null forgets it), with when it was found. */
  async setEwsUrl(id: string, url: string | null, foundAt: string = now()): Promise<Mailbox> {
    const done = await this.db
      .updateTable('mailboxes')
      .set({ ews_url: url, ews_url_found_at: url === null ? null : foundAt })
      .where('id', '=', id)
      .executeTakeFirst();
    if (Number(done.numUpdatedRows) === 0) throw new NotFoundError('mailbox', id);
    return this.get(id);
  }

  /**
   * Records how Test & Enable went. A pass enables the mailbox, sets the status of each direction it
   * synchronizes to success, caches the EWS URL the test used, resets the consecutive failures and makes the
   * mailbox due now; a failure disables it and sets those statuses
   * to failure. Either way `lastTestAt` is now.
   *
   * The test ran for a while without a lock: what it tested must still be the mailbox, so the row is locked
   * and checked again here. A mailbox associated with another profile, given another address, or no longer
   * approved meanwhile is left alone and a ConflictError says what changed.
   */
  async recordTestOutcome(id: string, tested: TestedMailbox, outcome: { passed: boolean; ewsUrl?: string | null }): Promise<Mailbox> {
    return this.db.transaction().execute(async (trx) => {
      await updateLock(trx, trx.selectFrom('mailboxes').select('id').where('id', '=', id)).executeTakeFirst();
      const current = await this.get(id, trx);
      const changed: string[] = [];
      if (current.profileId !== tested.profileId) changed.push('its email server profile changed');
      if (current.emailAddress.toLowerCase() !== tested.emailAddress.toLowerCase()) changed.push(`its address changed to ${current.emailAddress}`);
      if (outcome.passed) changed.push(...enableProblems(current));
      if (changed.length > 0) {
        throw new ConflictError(`mailbox ${current.emailAddress || id} changed while it was tested (${changed.join('; ')}); run Test & Enable again`);
      }
      const status = outcome.passed ? 'success' : 'failure';
      const at = now();
      await trx
        .updateTable('mailboxes')
        .set({
          enabled: flag(outcome.passed),
          incoming_status: current.incomingMethod === 'server-side-sync' ? status : current.incomingStatus,
          outgoing_status: current.outgoingMethod === 'server-side-sync' ? status : current.outgoingStatus,
          last_test_at: at,
          // A mailbox that passed starts afresh: no failures counted against it, and due at once.
          ...(outcome.passed ? { consecutive_failures: 0, next_due_at: at, last_error: null } : {}),
          ...(outcome.passed && outcome.ewsUrl ? { ews_url: outcome.ewsUrl, ews_url_found_at: current.ewsUrl === outcome.ewsUrl ? current.ewsUrlFoundAt : at } : {}),
          updated_at: at,
        })
        .where('id', '=', id)
        .execute();
      return this.get(id, trx);
    }).catch(explainConflict(`mailbox ${id} was not changed`));
  }

  async countByProfile(profileId: string, db: Db = this.db): Promise<number> {
    const row = await db
      .selectFrom('mailboxes')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('profile_id', '=', profileId)
      .executeTakeFirstOrThrow();
    return Number(row.n);
  }

  /** Mailbox counts by state, for the metrics endpoint. */
  async countByState(): Promise<Array<{ enabled: boolean; incomingStatus: string; outgoingStatus: string; count: number }>> {
    const rows = await this.db
      .selectFrom('mailboxes')
      .select(['enabled', 'incoming_status', 'outgoing_status', (eb) => eb.fn.countAll<number>().as('n')])
      .groupBy(['enabled', 'incoming_status', 'outgoing_status'])
      .execute();
    return rows.map((r) => ({ enabled: isSet(r.enabled), incomingStatus: r.incoming_status, outgoingStatus: r.outgoing_status, count: Number(r.n) }));
  }
}

/** What Test & Enable tested: the mailbox must still be this when the outcome is recorded. */
export interface TestedMailbox {
  profileId: string | null;
  emailAddress: string;
}

/** A mailbox associated with another profile forgets where the old one's Autodiscover found it. */
const NO_EWS_URL = { ews_url: null, ews_url_found_at: null } as const;

/** The ids of the mailboxes a user owns: their own, and their queues'. For `where(…, 'in', …)`. */
export function mailboxesOwnedBy(db: Db, userId: string) {
  return db
    .selectFrom('mailboxes as owned')
    .leftJoin('queues as owned_queue', 'owned_queue.id', 'owned.queue_id')
    .select('owned.id')
    .where((inner) => inner.or([inner('owned.user_id', '=', userId), inner('owned_queue.owner_id', '=', userId)]));
}

/** The profile exists, and (locked) stays until the change that refers to it commits. */
async function assertProfileExists(db: Db, profileId: string): Promise<void> {
  const row = await keyShareLock(db, db.selectFrom('email_server_profiles').select('id').where('id', '=', profileId)).executeTakeFirst();
  if (!row) throw new ValidationError([{ field: 'profileId', message: `no email server profile has id ${profileId}` }]);
}

function loginContext(mailboxId: string): string {
  return `mailboxes:${mailboxId}:login_password`;
}
