/**
 * The missing-mail audit's records (migration 0007): each mailbox's audits, the missing messages queued for the
 * next incoming pass, and the schedule (next due audit, on-demand requests). The engine's writes are fenced by the
 * mailbox's lease like every other sync write; the API and the CLI only ask for an audit and read the results.
 */
import type { Kysely } from 'kysely';
import type { AlertInput } from '../domain/alert.js';
import { type AuditOutcome, MISSING_LIST_CAP, type MissingMessage } from '../domain/audit.js';
import { NotFoundError } from '../domain/errors.js';
import { newId } from '../domain/ids.js';
import type { AuditPort, AuditRunInput, AuditSchedule, AuditTrigger, Lease, QueuedMissing } from '../sync/ports.js';
import { AlertRepository } from './alerts.js';
import type { AuditRunsTable, Schema } from './schema.js';
import { holdLease } from './sync.js';

/** An audit as the API, the CLI and the console show it. */
export interface AuditRun {
  id: string;
  mailboxId: string;
  trigger: AuditTrigger;
  status: 'completed' | 'failed';
  startedAt: string;
  finishedAt: string;
  onServer: number;
  tracked: number;
  filtered: number;
  filteredByRule: Record<string, number>;
  failed: number;
  outOfScope: number;
  /** How many are missing (all of them, even past the named list's cap). */
  missing: number;
  /** The first MISSING_LIST_CAP missing messages, oldest first. */
  missingMessages: MissingMessage[];
  gapBeganAt: string | null;
  error: string | null;
}

const CHUNK = 500;

function chunks<T>(values: readonly T[]): T[][] {
  const result: T[][] = [];
  for (let i = 0; i < values.length; i += CHUNK) result.push(values.slice(i, i + CHUNK));
  return result;
}

function toRun(row: AuditRunsTable): AuditRun {
  return {
    id: row.id,
    mailboxId: row.mailbox_id,
    trigger: row.trigger,
    status: row.status,
    startedAt: row.started_at,
    finishedAt: row.finished_at,
    onServer: Number(row.on_server),
    tracked: Number(row.tracked),
    filtered: Number(row.filtered),
    filteredByRule: JSON.parse(row.filtered_by_rule) as Record<string, number>,
    failed: Number(row.failed),
    outOfScope: Number(row.out_of_scope),
    missing: Number(row.missing),
    missingMessages: JSON.parse(row.missing_messages) as MissingMessage[],
    gapBeganAt: row.gap_began_at,
    error: row.error,
  };
}

export class AuditRepository implements AuditPort {
  private readonly alerts: AlertRepository;

  constructor(private readonly db: Kysely<Schema>) {
    this.alerts = new AlertRepository(db);
  }

  async schedule(mailboxId: string): Promise<AuditSchedule> {
    const row = await this.db.selectFrom('mailboxes').select(['audit_due_at', 'audit_requested_at']).where('id', '=', mailboxId).executeTakeFirst();
    if (!row) throw new NotFoundError('mailbox', mailboxId);
    return { dueAt: row.audit_due_at, requestedAt: row.audit_requested_at };
  }

  async scheduleNext(lease: Lease, dueAt: Date): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      await holdLease(trx, lease);
      await trx.updateTable('mailboxes').set({ audit_due_at: dueAt.toISOString() }).where('id', '=', lease.mailboxId).execute();
    });
  }

  async outcomesMatching(mailboxId: string, serverIds: readonly string[], internetMessageIds: readonly string[]): Promise<AuditOutcome[]> {
    const found = new Map<string, AuditOutcome>();
    const add = (rows: Array<{ id: string; server_id: string; internet_message_id: string | null; outcome: AuditOutcome['kind']; rule: string | null }>) => {
      for (const r of rows) found.set(r.id, { serverId: r.server_id, internetMessageId: r.internet_message_id, kind: r.outcome, rule: r.rule });
    };
    const base = () => this.db.selectFrom('message_outcomes').select(['id', 'server_id', 'internet_message_id', 'outcome', 'rule']).where('mailbox_id', '=', mailboxId);
    for (const part of chunks([...new Set(serverIds)])) add(await base().where('server_id', 'in', part).execute());
    for (const part of chunks([...new Set(internetMessageIds)])) add(await base().where('internet_message_id', 'in', part).execute());
    return [...found.values()];
  }

  async recordAudit(lease: Lease, run: AuditRunInput, nextDueAt: Date, alert: AlertInput | null): Promise<string> {
    return this.db.transaction().execute(async (trx) => {
      await holdLease(trx, lease);
      const id = newId();
      await trx
        .insertInto('audit_runs')
        .values({
          id,
          mailbox_id: lease.mailboxId,
          trigger: run.trigger,
          status: run.status,
          started_at: run.startedAt,
          finished_at: run.finishedAt,
          on_server: run.onServer,
          tracked: run.tracked,
          filtered: run.filtered,
          filtered_by_rule: JSON.stringify(run.filteredByRule),
          failed: run.failed,
          out_of_scope: run.outOfScope,
          missing: run.missing.length,
          missing_messages: JSON.stringify(run.missing.slice(0, MISSING_LIST_CAP)),
          gap_began_at: run.gapBeganAt,
          error: run.error,
          served_request: run.servedRequest,
        })
        .execute();
      for (const part of chunks(run.missing)) {
        await trx
          .insertInto('audit_queue')
          .values(part.map((m) => ({ mailbox_id: lease.mailboxId, server_id: m.serverId, internet_message_id: m.internetMessageId, received_at: m.receivedAt, audit_id: id, queued_at: run.finishedAt })))
          .onConflict((oc) => oc.columns(['mailbox_id', 'server_id']).doNothing())
          .execute();
      }
      await trx
        .updateTable('mailboxes')
        .set((eb) => ({
          audit_due_at: nextDueAt.toISOString(),
          // Only the request this audit read is answered (by value: no clocks compared).
          audit_requested_at:
            run.servedRequest === null
              ? eb.ref('audit_requested_at')
              : eb.case().when('audit_requested_at', '=', run.servedRequest).then(null).else(eb.ref('audit_requested_at')).end(),
        }))
        .where('id', '=', lease.mailboxId)
        .execute();
      if (alert) await this.alerts.raise({ ...alert, mailboxId: alert.mailboxId ?? lease.mailboxId }, trx);
      return id;
    });
  }

  async queued(mailboxId: string, limit: number): Promise<QueuedMissing[]> {
    if (limit < 1) return [];
    const rows = await this.db
      .selectFrom('audit_queue')
      .select(['server_id', 'internet_message_id', 'received_at'])
      .where('mailbox_id', '=', mailboxId)
      .orderBy('queued_at')
      .orderBy('received_at')
      .orderBy('server_id')
      .limit(limit)
      .execute();
    return rows.map((r) => ({ serverId: r.server_id, internetMessageId: r.internet_message_id, receivedAt: r.received_at }));
  }

  async dequeue(lease: Lease, serverIds: readonly string[]): Promise<void> {
    if (serverIds.length === 0) return;
    await this.db.transaction().execute(async (trx) => {
      await holdLease(trx, lease);
      for (const part of chunks([...new Set(serverIds)])) {
        await trx.deleteFrom('audit_queue').where('mailbox_id', '=', lease.mailboxId).where('server_id', 'in', part).execute();
      }
    });
  }

  /**
   * Asks for an audit of the mailbox now: the request is remembered and the mailbox made due, so whichever worker
   * leases it next runs the audit right after its incoming pass. Answers the request's time (an earlier one still
   * waiting, if any).
   */
  async request(mailboxId: string, at: Date): Promise<string> {
    const iso = at.toISOString();
    const done = await this.db
      .updateTable('mailboxes')
      .set((eb) => ({
        audit_requested_at: eb.fn.coalesce('audit_requested_at', eb.val(iso)),
        // As a push wake does: due now, and a cycle holding the mailbox keeps it due at once when it releases it.
        next_due_at: eb.case().when(eb.or([eb('next_due_at', 'is', null), eb('next_due_at', '>', iso)])).then(iso).else(eb.ref('next_due_at')).end(),
      }))
      .where('id', '=', mailboxId)
      .returning('audit_requested_at')
      .executeTakeFirst();
    if (!done) throw new NotFoundError('mailbox', mailboxId);
    // An earlier request still waiting is the one kept: the audit that serves it serves this one too.
    return done.audit_requested_at ?? iso;
  }

  /** The mailbox's latest audits, newest first. */
  async recent(mailboxId: string, limit = 10): Promise<AuditRun[]> {
    const rows = await this.db
      .selectFrom('audit_runs')
      .selectAll()
      .where('mailbox_id', '=', mailboxId)
      .orderBy('started_at', 'desc')
      .orderBy('id', 'desc')
      .limit(Math.max(1, Math.min(100, limit)))
      .execute();
    return rows.map(toRun);
  }

  /** The latest audit of each of these mailboxes. */
  async latest(mailboxIds: readonly string[]): Promise<Map<string, AuditRun>> {
    const result = new Map<string, AuditRun>();
    for (const part of chunks([...new Set(mailboxIds)])) {
      const rows = await this.db.selectFrom('audit_runs').selectAll().where('mailbox_id', 'in', part).orderBy('started_at').orderBy('id').execute();
      for (const row of rows) result.set(row.mailbox_id, toRun(row));
    }
    return result;
  }

  /** The audit that served this on-demand request (what request() answered), if it ran. */
  async serving(mailboxId: string, request: string): Promise<AuditRun | null> {
    const row = await this.db
      .selectFrom('audit_runs')
      .selectAll()
      .where('mailbox_id', '=', mailboxId)
      .where('served_request', '=', request)
      .orderBy('started_at')
      .orderBy('id')
      .limit(1)
      .executeTakeFirst();
    return row ? toRun(row) : null;
  }

  /** Whether an on-demand request is still waiting. */
  async pendingRequest(mailboxId: string): Promise<string | null> {
    return (await this.schedule(mailboxId)).requestedAt;
  }

  /** How many missing messages wait in the queue. */
  async queuedCount(mailboxId: string): Promise<number> {
    const row = await this.db.selectFrom('audit_queue').select((eb) => eb.fn.countAll<number>().as('n')).where('mailbox_id', '=', mailboxId).executeTakeFirstOrThrow();
    return Number(row.n);
  }
}
