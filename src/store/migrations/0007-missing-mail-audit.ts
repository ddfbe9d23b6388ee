import { sql, type Kysely } from 'kysely';

/**
 * The missing-mail audit (issue 11). A mailbox remembers when its next scheduled audit is due and whether an
 * on-demand one was asked for (the API and the CLI set it and make the mailbox due; the worker holding the lease
 * runs it). `audit_runs` keeps every audit: trigger, status, the counts (on the server, tracked, filtered with
 * per-rule counts, failed, out of scope, missing), when the gap began, the first missing messages by name (the
 * total always kept) the error when the audit itself failed, and the
 * on-demand request it served (matched by value, so no clocks of different machines are compared). `audit_queue` holds the missing messages until
 * an incoming pass gives them an outcome: one row per mailbox and server id.
 */
export function missingMailAudit() {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema.alterTable('mailboxes').addColumn('audit_due_at', 'text').execute();
      await db.schema.alterTable('mailboxes').addColumn('audit_requested_at', 'text').execute();
      await db.schema
        .createTable('audit_runs')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('mailbox_id', 'text', (c) => c.notNull().references('mailboxes.id').onDelete('cascade'))
        .addColumn('trigger', 'text', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('started_at', 'text', (c) => c.notNull())
        .addColumn('finished_at', 'text', (c) => c.notNull())
        .addColumn('on_server', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('tracked', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('filtered', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('filtered_by_rule', 'text', (c) => c.notNull().defaultTo('{}'))
        .addColumn('failed', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('out_of_scope', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('missing', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('missing_messages', 'text', (c) => c.notNull().defaultTo('[]'))
        .addColumn('gap_began_at', 'text')
        .addColumn('error', 'text')
        .addColumn('served_request', 'text')
        .addCheckConstraint('audit_runs_trigger', sql`trigger in ('scheduled', 'on-demand')`)
        .addCheckConstraint('audit_runs_status', sql`status in ('completed', 'failed')`)
        .execute();
      await db.schema.createIndex('audit_runs_mailbox').on('audit_runs').columns(['mailbox_id', 'started_at', 'id']).execute();
      await db.schema
        .createTable('audit_queue')
        .addColumn('mailbox_id', 'text', (c) => c.notNull().references('mailboxes.id').onDelete('cascade'))
        .addColumn('server_id', 'text', (c) => c.notNull())
        .addColumn('internet_message_id', 'text')
        .addColumn('received_at', 'text')
        .addColumn('audit_id', 'text', (c) => c.notNull().references('audit_runs.id').onDelete('cascade'))
        .addColumn('queued_at', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('audit_queue_pk', ['mailbox_id', 'server_id'])
        .execute();
    },
  };
}
