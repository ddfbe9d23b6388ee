/** Email activities with their parties and attachments. */
import { type ExpressionBuilder, type Kysely, sql } from 'kysely';
import {
  ACTIVITY_LIMITS,
  type ActivityStatus,
  attachmentProblem,
  attachmentTotalsProblem,
  type Direction,
  type EmailEnabledType,
  type PartyRole,
  type RecordRef,
  type RegardingType,
  resolveRecipient,
  resolveSender,
  sendProblems,
} from '../domain/activity.js';
import { ConflictError, ForbiddenError, NotFoundError, ValidationError } from '../domain/errors.js';
import { newId } from '../domain/ids.js';
import { messageIdList } from '../domain/message-id.js';
import { cleanAddresses, recordsByAddress } from './addresses.js';
import { type Db, keyShareLock, now, type Page, type PageRequest, pageLimit, toPage } from './common.js';
import { explainConflict } from './errors.js';
import { type MailboxRepository, mailboxesOwnedBy } from './mailboxes.js';
import type { ActivityPartiesTable, EmailActivitiesTable, Schema } from './schema.js';

export interface Party {
  address: string;
  displayName: string | null;
  /** The CRM record the address resolved to, or null when it matched none. */
  record: RecordRef | null;
}

export interface AttachmentInfo {
  id: string;
  fileName: string;
  contentType: string;
  size: number;
}

export interface Activity {
  id: string;
  /** The mailbox the email was sent from or first received in. */
  mailboxId: string | null;
  /** Every mailbox of the organization the email belongs to: the first, and each other that received it. */
  mailboxIds: string[];
  ownerId: string | null;
  direction: Direction;
  status: ActivityStatus;
  subject: string;
  bodyText: string | null;
  bodyHtml: string | null;
  messageId: string | null;
  inReplyTo: string | null;
  /** The References Message-IDs, oldest first. */
  references: string[];
  conversationId: string | null;
  trackingToken: string | null;
  regarding: { type: RegardingType; id: string } | null;
  /** What Liaison noted while tracking it (attachments left out and why), one line each. */
  notes: string[];
  /** Why sending failed (the last attempt); null when it did not. */
  failureReason: string | null;
  deliveryAttempts: number;
  sentAt: string | null;
  receivedAt: string | null;
  createdAt: string;
  updatedAt: string;
  from: Party[];
  to: Party[];
  cc: Party[];
  bcc: Party[];
  attachments: AttachmentInfo[];
}

/** An email as a list carries it: the start of its text body instead of the bodies. */
export type ActivitySummary = Omit<Activity, 'bodyText' | 'bodyHtml'> & {
  /** The first characters of the text body (ACTIVITY_LIMITS.excerptLength), or null without one. */
  bodyExcerpt: string | null;
};

/**
 * Who asks. An administrator reaches every email; another user the email of the mailboxes they own at the
 * moment of asking (their own, their queues'), whoever created it.
 */
export interface Actor {
  userId: string;
  isAdmin: boolean;
}

export interface NewAttachment {
  fileName: string;
  contentType: string;
  content: Buffer;
}

export interface DraftInput {
  subject?: string | undefined;
  bodyText?: string | null | undefined;
  bodyHtml?: string | null | undefined;
  to?: string[] | undefined;
  cc?: string[] | undefined;
  bcc?: string[] | undefined;
  regarding?: { type: RegardingType; id: string } | null | undefined;
  attachments?: NewAttachment[] | undefined;
}

export interface DraftCreateInput extends DraftInput {
  /**
   * The email this draft answers: its Message-ID becomes In-Reply-To, its References and Message-ID the
   * References, and its regarding record the draft's when the draft names none.
   */
  inReplyToActivityId?: string | undefined;
}

export interface ActivityFilter extends PageRequest {
  mailboxId?: string | undefined;
  direction?: Direction | undefined;
  status?: ActivityStatus | undefined;
  regardingId?: string | undefined;
  /** Only the activities of this conversation (the server's conversation id), exactly. */
  conversationId?: string | undefined;
  /** Only the activity of this Message-ID (with its angle brackets), exactly: what an In-Reply-To names. */
  messageId?: string | undefined;
  /**
   * Only activities with a party (from, to, cc or bcc) whose address or display name contains this text, case
   * aside (ASCII letters only on SQLite, whose lower() folds no others).
   */
  party?: string | undefined;
  /** Only activities whose subject contains this text, case aside (as party). */
  q?: string | undefined;
  /** Only activities at or after this moment (see activityTime). */
  since?: string | undefined;
  /** Only activities before this moment (see activityTime). */
  until?: string | undefined;
  /** Only activities this user may see now: those of the mailboxes they own (see Actor). */
  visibleTo?: string | undefined;
}

/**
 * The moment since/until compare: when an incoming email was received, when an outgoing one was sent, and when
 * either was created while it has no such time (a draft, an email waiting to be sent). Stored times are
 * ISO-8601 UTC text, some with milliseconds and some (the server's own, as EWS gives them) without, so they
 * compare as text to the second: their first 19 characters.
 */
const activityTime = sql<string>`substr(case when direction = 'incoming' then coalesce(received_at, created_at) else coalesce(sent_at, created_at) end, 1, 19)`;

/** A LIKE pattern that finds the text anywhere, its own % _ and \ taken literally (escape '\'). */
function containsPattern(text: string): string {
  return `%${text.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

/** A time as activityTime reads stored ones (UTC, to the second: a fraction is dropped), for text comparison. */
function storedTime(field: 'since' | 'until', value: string): string {
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) throw new ValidationError([{ field, message: 'must be a date-time (RFC 3339, e.g. 2026-03-01T10:00:00Z)' }]);
  return date.toISOString().slice(0, 19);
}

/** Every column but the bodies, which only the single-email read loads. */
const SUMMARY_COLUMNS = [
  'id',
  'mailbox_id',
  'owner_id',
  'direction',
  'status',
  'subject',
  'message_id',
  'in_reply_to',
  'message_references',
  'conversation_id',
  'tracking_token',
  'regarding_type',
  'regarding_id',
  'notes',
  'failure_reason',
  'delivery_attempts',
  'sent_at',
  'received_at',
  'created_at',
  'updated_at',
] as const;

type SummaryRow = Omit<EmailActivitiesTable, 'body_text' | 'body_html' | 'send_not_before'> & { body_excerpt: string | null };

export class ActivityRepository {
  constructor(
    private readonly db: Kysely<Schema>,
    private readonly mailboxes: MailboxRepository,
  ) {}

  /** Creates an outgoing draft sent from the given mailbox, its parties resolved to CRM records. */
  async createDraft(mailboxId: string, ownerId: string, input: DraftCreateInput, actor?: Actor): Promise<Activity> {
    const draft = checkDraft(input);
    const totals = attachmentTotalsProblem({ count: 0, bytes: 0 }, (draft.attachments ?? []).map((a) => a.content.length));
    if (totals) throw new ValidationError([{ field: 'attachments', message: totals }]);
    const id = newId();
    const at = now();
    await this.db.transaction().execute(async (trx) => {
      const mailbox = await this.mailboxes.get(mailboxId, trx).catch((error: unknown) => {
        if (error instanceof NotFoundError) throw new ValidationError([{ field: 'mailboxId', message: `no mailbox has id ${mailboxId}` }]);
        throw error;
      });
      if (actor && !actor.isAdmin && mailbox.ownerId !== actor.userId) {
        throw new ForbiddenError('You may send only from your own mailbox or a queue you own');
      }
      const sender = mailbox.emailAddress;
      const answered = input.inReplyToActivityId === undefined ? null : await answeredEmail(trx, input.inReplyToActivityId, actor);
      const regarding = draft.regarding ?? answered?.regarding ?? null;
      if (draft.regarding) await assertRegardingExists(trx, draft.regarding);
      await trx
        .insertInto('email_activities')
        .values({
          id,
          mailbox_id: mailboxId,
          owner_id: ownerId,
          direction: 'outgoing',
          status: 'draft',
          subject: draft.subject ?? '',
          body_text: draft.bodyText ?? null,
          body_html: draft.bodyHtml ?? null,
          message_id: null,
          in_reply_to: answered?.messageId ?? null,
          message_references: answered ? referencesText(answered.references) : null,
          conversation_id: answered?.conversationId ?? null,
          tracking_token: null,
          regarding_type: regarding?.type ?? null,
          regarding_id: regarding?.id ?? null,
          notes: null,
          failure_reason: null,
          delivery_attempts: 0,
          sent_at: null,
          received_at: null,
          created_at: at,
          updated_at: at,
        })
        .execute();
      await writeParties(trx, id, { from: [sender], to: draft.to ?? [], cc: draft.cc ?? [], bcc: draft.bcc ?? [] });
      await writeAttachments(trx, id, draft.attachments ?? [], 0);
    }).catch(explainConflict('the draft was not saved'));
    return this.get(id);
  }

  async updateDraft(id: string, input: DraftInput, actor?: Actor): Promise<Activity> {
    const draft = checkDraft(input);
    await this.db.transaction().execute(async (trx) => {
      const row = await reachable(trx, id, actor);
      if (row.status !== 'draft') throw new ConflictError(`the email is ${row.status}; only a draft can be changed`);
      if (draft.regarding) await assertRegardingExists(trx, draft.regarding);
      await trx
        .updateTable('email_activities')
        .set({
          ...(draft.subject !== undefined ? { subject: draft.subject } : {}),
          ...(draft.bodyText !== undefined ? { body_text: draft.bodyText } : {}),
          ...(draft.bodyHtml !== undefined ? { body_html: draft.bodyHtml } : {}),
          ...(draft.regarding !== undefined ? { regarding_type: draft.regarding?.type ?? null, regarding_id: draft.regarding?.id ?? null } : {}),
          updated_at: now(),
        })
        .where('id', '=', id)
        .execute();
      for (const role of ['to', 'cc', 'bcc'] as const) {
        const addresses = draft[role];
        if (addresses === undefined) continue;
        await trx.deleteFrom('activity_parties').where('activity_id', '=', id).where('role', '=', role).execute();
        await writeParties(trx, id, { [role]: addresses });
      }
      if (draft.attachments && draft.attachments.length > 0) {
        const current = await trx
          .selectFrom('attachments')
          .select((eb) => [eb.fn.max('position').as('p'), eb.fn.countAll().as('n'), eb.fn.sum('size').as('bytes')])
          .where('activity_id', '=', id)
          .executeTakeFirst();
        const totals = attachmentTotalsProblem(
          { count: Number(current?.n ?? 0), bytes: Number(current?.bytes ?? 0) },
          draft.attachments.map((a) => a.content.length),
        );
        if (totals) throw new ValidationError([{ field: 'attachments', message: totals }]);
        await writeAttachments(trx, id, draft.attachments, Number(current?.p ?? 0));
      }
    }).catch(explainConflict(`email activity ${id} was not changed`));
    return this.get(id);
  }

  /** Puts a draft (or an email whose sending failed) in pending send, for the outgoing sync to pick up. */
  async send(id: string, actor?: Actor): Promise<Activity> {
    await this.db.transaction().execute(async (trx) => {
      const row = await reachable(trx, id, actor);
      const recipients = await trx
        .selectFrom('activity_parties')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .where('activity_id', '=', id)
        .where('role', 'in', ['to', 'cc', 'bcc'])
        .executeTakeFirstOrThrow();
      const problems = sendProblems({
        status: row.status as ActivityStatus,
        direction: row.direction as Direction,
        recipientCount: Number(recipients.n),
      });
      if (problems.length > 0) throw new ConflictError(`cannot send: ${problems.join('; ')}`);
      // The status guard makes a concurrent second send a no-op instead of a second submission.
      const result = await trx
        .updateTable('email_activities')
        .set({ status: 'pending-send', send_not_before: null, updated_at: now() })
        .where('id', '=', id)
        .where('status', '=', row.status)
        .executeTakeFirst();
      if (result.numUpdatedRows === 0n) throw new ConflictError('the email changed while it was being sent; read it again');
      // The sender's mailbox is due at once, so the email leaves now rather than at the next poll. A mailbox
      // a cycle holds (next due unset while leased) keeps the wake for its release (store/sync.ts).
      const at = now();
      const sender = await trx.selectFrom('email_activities').select('mailbox_id').where('id', '=', id).executeTakeFirstOrThrow();
      if (sender.mailbox_id) {
        await trx
          .updateTable('mailboxes')
          .set({ next_due_at: at })
          .where('id', '=', sender.mailbox_id)
          .where((eb) => eb.or([eb('next_due_at', '>', at), eb.and([eb('next_due_at', 'is', null), eb('lease_owner', 'is not', null)])]))
          .execute();
      }
    });
    return this.get(id);
  }

  /**
   * A person's verdict on an email whose delivery was uncertain: delivered (it becomes sent) or not (back to
   * pending send, and the engine sends it again: the person's decision, never Liaison's).
   */
  async resolveDelivery(id: string, delivered: boolean, actor?: Actor): Promise<Activity> {
    await this.db.transaction().execute(async (trx) => {
      const row = await reachable(trx, id, actor);
      if (row.status !== 'delivery-uncertain') {
        throw new ConflictError(`the email is ${row.status}; only an email whose delivery is uncertain waits for this decision`);
      }
      const at = now();
      const result = await trx
        .updateTable('email_activities')
        .set(delivered ? { status: 'sent', sent_at: at, updated_at: at } : { status: 'pending-send', failure_reason: null, send_not_before: null, updated_at: at })
        .where('id', '=', id)
        .where('status', '=', 'delivery-uncertain')
        .executeTakeFirst();
      if (result.numUpdatedRows === 0n) throw new ConflictError('the email changed meanwhile; read it again');
      if (!delivered) {
        const sender = await trx.selectFrom('email_activities').select('mailbox_id').where('id', '=', id).executeTakeFirstOrThrow();
        if (sender.mailbox_id) {
          await trx.updateTable('mailboxes').set({ next_due_at: at }).where('id', '=', sender.mailbox_id).where('lease_owner', 'is', null).execute();
        }
      }
    });
    return this.get(id);
  }

  async deleteDraft(id: string, actor?: Actor): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      const row = await reachable(trx, id, actor);
      if (row.status !== 'draft') throw new ConflictError(`the email is ${row.status}; only a draft can be deleted`);
      await trx.deleteFrom('email_activities').where('id', '=', id).where('status', '=', 'draft').execute();
    });
  }

  async get(id: string, actor?: Actor): Promise<Activity> {
    await reachable(this.db, id, actor);
    const row = await this.db.selectFrom('email_activities').selectAll().where('id', '=', id).executeTakeFirst();
    if (!row) throw new NotFoundError('email activity', id);
    const [activity] = await this.assemble([row]);
    return { ...activity!, bodyText: row.body_text, bodyHtml: row.body_html };
  }

  /** Newest first, without the bodies: an excerpt of the text body stands for them. */
  async list(filter: ActivityFilter): Promise<Page<ActivitySummary>> {
    const limit = pageLimit(filter);
    let query = this.db
      .selectFrom('email_activities')
      .select(SUMMARY_COLUMNS)
      .select(sql<string | null>`substr(body_text, 1, ${sql.lit(ACTIVITY_LIMITS.excerptLength)})`.as('body_excerpt'))
      .orderBy('id', 'desc')
      .limit(limit + 1);
    if (filter.after) query = query.where('id', '<', filter.after);
    if (filter.mailboxId) {
      const mailboxId = filter.mailboxId;
      // A mailbox's email includes what it received after another mailbox had tracked it (linked).
      query = query.where((eb) =>
        eb.or([
          eb('mailbox_id', '=', mailboxId),
          eb('id', 'in', this.db.selectFrom('activity_mailboxes').select('activity_mailboxes.activity_id').where('activity_mailboxes.mailbox_id', '=', mailboxId)),
        ]),
      );
    }
    if (filter.direction) query = query.where('direction', '=', filter.direction);
    if (filter.status) query = query.where('status', '=', filter.status);
    if (filter.regardingId) query = query.where('regarding_id', '=', filter.regardingId);
    if (filter.conversationId) query = query.where('conversation_id', '=', filter.conversationId);
    if (filter.messageId) query = query.where('message_id', '=', filter.messageId);
    if (filter.party) {
      const pattern = containsPattern(filter.party);
      query = query.where('id', 'in', (eb) =>
        eb
          .selectFrom('activity_parties')
          .select('activity_parties.activity_id')
          .where((p) =>
            p.or([
              sql<boolean>`lower(activity_parties.address) like ${pattern} escape '\\'`,
              sql<boolean>`lower(activity_parties.display_name) like ${pattern} escape '\\'`,
            ]),
          ),
      );
    }
    if (filter.q) query = query.where(sql<boolean>`lower(subject) like ${containsPattern(filter.q)} escape '\\'`);
    const since = filter.since === undefined ? undefined : storedTime('since', filter.since);
    const until = filter.until === undefined ? undefined : storedTime('until', filter.until);
    if (since !== undefined && until !== undefined && since >= until) {
      throw new ValidationError([{ field: 'until', message: 'must be later than since' }]);
    }
    if (since !== undefined) query = query.where(sql<boolean>`${activityTime} >= ${since}`);
    if (until !== undefined) query = query.where(sql<boolean>`${activityTime} < ${until}`);
    if (filter.visibleTo) query = query.where(visibleTo(this.db, filter.visibleTo));
    const rows = await query.execute();
    const page = toPage(rows, limit, (r) => r);
    const assembled = await this.assemble(page.items);
    return { items: assembled.map((a, i) => ({ ...a, bodyExcerpt: page.items[i]!.body_excerpt })), nextCursor: page.nextCursor };
  }

  async attachment(activityId: string, attachmentId: string, actor?: Actor): Promise<NewAttachment> {
    await reachable(this.db, activityId, actor);
    const row = await this.db
      .selectFrom('attachments')
      .select(['file_name', 'content_type', 'content'])
      .where('id', '=', attachmentId)
      .where('activity_id', '=', activityId)
      .executeTakeFirst();
    if (!row) throw new NotFoundError('attachment', attachmentId);
    return { fileName: row.file_name, contentType: row.content_type, content: Buffer.from(row.content) };
  }

  private async assemble(rows: SummaryRow[] | EmailActivitiesTable[]): Promise<Array<Omit<Activity, 'bodyText' | 'bodyHtml'>>> {
    if (rows.length === 0) return [];
    const ids = rows.map((r) => r.id);
    const links = await this.db.selectFrom('activity_mailboxes').select(['activity_id', 'mailbox_id']).where('activity_id', 'in', ids).orderBy('created_at').execute();
    const parties = await this.db.selectFrom('activity_parties').selectAll().where('activity_id', 'in', ids).orderBy('position').execute();
    const attachments = await this.db
      .selectFrom('attachments')
      .select(['id', 'activity_id', 'file_name', 'content_type', 'size'])
      .where('activity_id', 'in', ids)
      .orderBy('position')
      .execute();
    return rows.map((row) => {
      const mine = parties.filter((p) => p.activity_id === row.id);
      const byRole = (role: PartyRole) => groupParties(mine.filter((p) => p.role === role));
      return {
        id: row.id,
        mailboxId: row.mailbox_id,
        mailboxIds: [...new Set([...(row.mailbox_id ? [row.mailbox_id] : []), ...links.filter((l) => l.activity_id === row.id).map((l) => l.mailbox_id)])],
        ownerId: row.owner_id,
        direction: row.direction as Direction,
        status: row.status as ActivityStatus,
        subject: row.subject,
        messageId: row.message_id,
        inReplyTo: row.in_reply_to,
        references: messageIdList(row.message_references),
        conversationId: row.conversation_id,
        trackingToken: row.tracking_token,
        regarding: row.regarding_type && row.regarding_id ? { type: row.regarding_type as RegardingType, id: row.regarding_id } : null,
        notes: readNotes(row.notes),
        failureReason: row.failure_reason,
        deliveryAttempts: row.delivery_attempts,
        sentAt: row.sent_at,
        receivedAt: row.received_at,
        createdAt: row.created_at,
        updatedAt: row.updated_at,
        from: byRole('from'),
        to: byRole('to'),
        cc: byRole('cc'),
        bcc: byRole('bcc'),
        attachments: attachments
          .filter((a) => a.activity_id === row.id)
          .map((a) => ({ id: a.id, fileName: a.file_name, contentType: a.content_type, size: a.size })),
      };
    });
  }
}

/**
 * Activities a user may see: those of the mailboxes they own now (their own, their queues'), the one it was
 * sent from or first received in or any other that received it too, and, for the few with no mailbox, those they
 * own. Who created an email gives no right over it once the mailbox has another owner.
 */
function visibleTo(db: Db, userId: string) {
  return (eb: ExpressionBuilder<Schema, 'email_activities'>) =>
    eb.or([
      eb('email_activities.mailbox_id', 'in', mailboxesOwnedBy(db, userId)),
      eb('email_activities.id', 'in', db.selectFrom('activity_mailboxes').select('activity_mailboxes.activity_id').where('activity_mailboxes.mailbox_id', 'in', mailboxesOwnedBy(db, userId))),
      eb.and([eb('email_activities.mailbox_id', 'is', null), eb('email_activities.owner_id', '=', userId)]),
    ]);
}

/**
 * The email's status and direction when it exists and the actor may reach it; checked inside the transaction
 * that then acts, so a change of owner between the check and the write cannot slip through.
 */
async function reachable(db: Db, id: string, actor: Actor | undefined): Promise<{ status: string; direction: string }> {
  const row = await db.selectFrom('email_activities').select(['status', 'direction']).where('id', '=', id).executeTakeFirst();
  if (!row) throw new NotFoundError('email activity', id);
  if (actor && !actor.isAdmin) {
    const visible = await db.selectFrom('email_activities').select('id').where('id', '=', id).where(visibleTo(db, actor.userId)).executeTakeFirst();
    if (!visible) throw new ForbiddenError('This email belongs to a mailbox you do not own');
  }
  return row;
}

/** One party per matched record: an address that matches a contact and a lead appears twice, once for each. */
function groupParties(rows: ActivityPartiesTable[]): Party[] {
  return rows.map((p) => ({
    address: p.address,
    displayName: p.display_name,
    record: p.record_type && p.record_id ? { type: p.record_type as EmailEnabledType, id: p.record_id } : null,
  }));
}

function checkDraft(input: DraftInput): DraftInput {
  const problems = [];
  const result: DraftInput = { ...input };
  for (const role of ['to', 'cc', 'bcc'] as const) {
    const list = input[role];
    if (list === undefined) continue;
    try {
      result[role] = cleanAddresses(role, list, ACTIVITY_LIMITS.recipientsPerRole);
    } catch (error) {
      if (error instanceof ValidationError) problems.push(...error.problems);
      else throw error;
    }
  }
  if (input.subject !== undefined && [...input.subject].length > ACTIVITY_LIMITS.subjectMaxLength) {
    problems.push({ field: 'subject', message: `must be at most ${ACTIVITY_LIMITS.subjectMaxLength} characters` });
  }
  for (const field of ['bodyText', 'bodyHtml'] as const) {
    const body = input[field];
    // Characters as the API's schema counts them (code points); the length in UTF-16 units is never smaller.
    if (body && body.length > ACTIVITY_LIMITS.bodyMaxLength && [...body].length > ACTIVITY_LIMITS.bodyMaxLength) {
      problems.push({ field, message: `must be at most ${ACTIVITY_LIMITS.bodyMaxLength} characters` });
    }
  }
  for (const [index, attachment] of (input.attachments ?? []).entries()) {
    const name = attachment.fileName.trim();
    if (name === '' || /[\\/\0]/.test(name)) problems.push({ field: `attachments[${index}].fileName`, message: 'must be a file name without folders' });
    const problem = attachmentProblem(name, attachment.content.length);
    if (problem) problems.push({ field: `attachments[${index}]`, message: problem });
  }
  if (problems.length > 0) throw new ValidationError(problems);
  return result;
}

/** The record exists, and (locked) stays until the email that is regarding it commits. */
async function assertRegardingExists(db: Db, regarding: { type: RegardingType; id: string }): Promise<void> {
  const query = db.selectFrom('crm_records').select('id').where('id', '=', regarding.id).where('type', '=', regarding.type);
  const row = await keyShareLock(db, query).executeTakeFirst();
  if (!row) throw new ValidationError([{ field: 'regarding', message: `no ${regarding.type} has id ${regarding.id}` }]);
}

export async function writeParties(db: Db, activityId: string, byRole: Partial<Record<PartyRole, string[]>>): Promise<void> {
  const all = Object.values(byRole).flat();
  const matches = await lockedRecords(db, await recordsByAddress(db, all));
  const rows: ActivityPartiesTable[] = [];
  for (const [role, addresses] of Object.entries(byRole) as Array<[PartyRole, string[]]>) {
    let position = 0;
    for (const address of addresses) {
      const found = matches.get(address.toLowerCase()) ?? [];
      const records = role === 'from' ? [resolveSender(found)] : resolveRecipient(found);
      for (const record of records) {
        position += 1;
        rows.push({
          id: newId(),
          activity_id: activityId,
          role,
          position,
          address,
          display_name: null,
          record_type: record?.type ?? null,
          record_id: record?.id ?? null,
        });
      }
    }
  }
  if (rows.length > 0) await db.insertInto('activity_parties').values(rows).execute();
}

/**
 * Keeps the matches whose record still exists, locked until the email commits: a record deleted meanwhile is
 * not linked (its address stays), and one deleted later waits and then unlinks the email's party.
 */
async function lockedRecords(db: Db, matches: Map<string, RecordRef[]>): Promise<Map<string, RecordRef[]>> {
  const ids = (type: 'users' | 'queues' | 'crm_records') =>
    [...matches.values()].flat().filter((r) => (r.type === 'user' ? 'users' : r.type === 'queue' ? 'queues' : 'crm_records') === type).map((r) => r.id);
  const alive = new Set<string>();
  for (const table of ['users', 'queues', 'crm_records'] as const) {
    const wanted = [...new Set(ids(table))].sort();
    if (wanted.length === 0) continue;
    const rows = await keyShareLock(db, db.selectFrom(table).select('id').where('id', 'in', wanted).orderBy('id')).execute();
    for (const row of rows) alive.add(row.id);
  }
  return new Map([...matches].map(([key, refs]) => [key, refs.filter((r) => alive.has(r.id))]));
}

async function writeAttachments(db: Db, activityId: string, attachments: NewAttachment[], after: number): Promise<void> {
  for (const [index, attachment] of attachments.entries()) {
    await db
      .insertInto('attachments')
      .values({
        id: newId(),
        activity_id: activityId,
        position: after + index + 1,
        file_name: attachment.fileName.trim(),
        content_type: attachment.contentType,
        size: attachment.content.length,
        content: attachment.content,
      })
      .execute();
  }
}

/** References as stored: the header's form, space-separated; null for none. */
export function referencesText(ids: readonly string[]): string | null {
  return ids.length === 0 ? null : ids.join(' ');
}

function readNotes(text: string | null): string[] {
  if (text === null) return [];
  try {
    const value: unknown = JSON.parse(text);
    return Array.isArray(value) ? value.map(String) : [String(value)];
  } catch {
    // Written by the store as JSON only; text that no longer reads is still shown, not dropped.
    return [text];
  }
}

/** What a reply takes from the email it answers; the answered email must be one the actor may see. */
async function answeredEmail(
  db: Db,
  id: string,
  actor: Actor | undefined,
): Promise<{ messageId: string | null; references: string[]; conversationId: string | null; regarding: { type: RegardingType; id: string } | null }> {
  try {
    await reachable(db, id, actor);
  } catch (error) {
    if (error instanceof NotFoundError) throw new ValidationError([{ field: 'inReplyToActivityId', message: `no email activity has id ${id}` }]);
    throw error;
  }
  const row = await db
    .selectFrom('email_activities')
    .select(['message_id', 'message_references', 'conversation_id', 'regarding_type', 'regarding_id'])
    .where('id', '=', id)
    .executeTakeFirstOrThrow();
  const references = messageIdList(row.message_references);
  if (row.message_id && !references.includes(row.message_id)) references.push(row.message_id);
  return {
    messageId: row.message_id,
    references,
    conversationId: row.conversation_id,
    regarding: row.regarding_type && row.regarding_id ? { type: row.regarding_type as RegardingType, id: row.regarding_id } : null,
  };
}
