import { sql, type Kysely } from 'kysely';

/**
 * What the sync engine keeps.
 *
 * A mailbox carries its lease (owner, expiry and the fencing token that grows at every grant, so a worker that
 * lost the lease can be refused) and its schedule and health: when it is due, consecutive failures, the last
 * success, the last error, when a cycle last ran and last failed (the owner's hourly failure email counts those).
 *
 * `sync_states` is the server's cursor per mailbox and folder. `message_outcomes` is the one recorded outcome of
 * every message of a synchronized folder (tracked, filtered, failed, undeliverable), unique per mailbox and
 * Internet Message-ID: what makes a re-listing, a retry or a crash track nothing twice. `activity_mailboxes`
 * links an email to every mailbox of the organization that received it; the Message-ID becomes unique across
 * email activities, so the same email reaching two mailboxes is one activity (NULLs, drafts, stay allowed).
 *
 * Activities get their conversation, References, notes (why attachments were left out) and why sending failed.
 * A profile remembers when its owner was last told of failures (at most hourly); users and queues choose which
 * incoming email is tracked. Existing users get the CRM's default for users (responses to CRM email), existing
 * queues the default for queues (all).
 */
export function sync() {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema.alterTable('mailboxes').addColumn('lease_owner', 'text').execute();
      await db.schema.alterTable('mailboxes').addColumn('lease_token', 'integer', (c) => c.notNull().defaultTo(0)).execute();
      await db.schema.alterTable('mailboxes').addColumn('lease_expires_at', 'text').execute();
      await db.schema.alterTable('mailboxes').addColumn('next_due_at', 'text').execute();
      await db.schema.alterTable('mailboxes').addColumn('consecutive_failures', 'integer', (c) => c.notNull().defaultTo(0)).execute();
      await db.schema.alterTable('mailboxes').addColumn('last_success_at', 'text').execute();
      await db.schema.alterTable('mailboxes').addColumn('last_error', 'text').execute();
      await db.schema.alterTable('mailboxes').addColumn('last_cycle_at', 'text').execute();
      await db.schema.alterTable('mailboxes').addColumn('last_failure_at', 'text').execute();
      await db.schema.createIndex('mailboxes_due').on('mailboxes').columns(['enabled', 'next_due_at']).execute();

      await db.schema.alterTable('email_server_profiles').addColumn('owner_notified_at', 'text').execute();
      await db.schema.alterTable('users').addColumn('incoming_filter', 'text', (c) => c.notNull().defaultTo('responses-to-crm-email')).execute();
      await db.schema.alterTable('queues').addColumn('incoming_filter', 'text', (c) => c.notNull().defaultTo('all')).execute();

      await db.schema.alterTable('email_activities').addColumn('conversation_id', 'text').execute();
      await db.schema.alterTable('email_activities').addColumn('message_references', 'text').execute();
      await db.schema.alterTable('email_activities').addColumn('notes', 'text').execute();
      await db.schema.alterTable('email_activities').addColumn('failure_reason', 'text').execute();
      await db.schema.dropIndex('email_activities_message_id').execute();
      await db.schema.createIndex('email_activities_message_id').on('email_activities').column('message_id').unique().execute();
      await db.schema.createIndex('email_activities_conversation').on('email_activities').columns(['conversation_id', 'id']).execute();
      await db.schema.createIndex('email_activities_tracking_token').on('email_activities').columns(['tracking_token', 'id']).execute();
      await db.schema.createIndex('email_activities_sending').on('email_activities').columns(['mailbox_id', 'status', 'id']).execute();

      await db.schema
        .createTable('activity_mailboxes')
        .addColumn('activity_id', 'text', (c) => c.notNull().references('email_activities.id').onDelete('cascade'))
        .addColumn('mailbox_id', 'text', (c) => c.notNull().references('mailboxes.id').onDelete('cascade'))
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('activity_mailboxes_pk', ['activity_id', 'mailbox_id'])
        .execute();
      await db.schema.createIndex('activity_mailboxes_mailbox').on('activity_mailboxes').columns(['mailbox_id', 'activity_id']).execute();

      await db.schema
        .createTable('sync_states')
        .addColumn('mailbox_id', 'text', (c) => c.notNull().references('mailboxes.id').onDelete('cascade'))
        .addColumn('folder', 'text', (c) => c.notNull())
        .addColumn('cursor', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('sync_states_pk', ['mailbox_id', 'folder'])
        .execute();

      await db.schema
        .createTable('message_outcomes')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('mailbox_id', 'text', (c) => c.notNull().references('mailboxes.id').onDelete('cascade'))
        .addColumn('folder', 'text', (c) => c.notNull())
        .addColumn('server_id', 'text', (c) => c.notNull())
        .addColumn('internet_message_id', 'text')
        .addColumn('outcome', 'text', (c) => c.notNull())
        .addColumn('rule', 'text')
        .addColumn('activity_id', 'text', (c) => c.references('email_activities.id').onDelete('set null'))
        .addColumn('error_code', 'text')
        .addColumn('error_message', 'text')
        .addColumn('server_response', 'text')
        .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .addCheckConstraint('message_outcomes_kind', sql`outcome in ('tracked', 'filtered', 'failed', 'undeliverable')`)
        .execute();
      await db.schema.createIndex('message_outcomes_message').on('message_outcomes').columns(['mailbox_id', 'internet_message_id']).unique().execute();
      await db.schema.createIndex('message_outcomes_server_id').on('message_outcomes').columns(['mailbox_id', 'server_id']).execute();
      await db.schema.createIndex('message_outcomes_pending').on('message_outcomes').columns(['mailbox_id', 'outcome', 'updated_at']).execute();
      await db.schema.createIndex('message_outcomes_activity').on('message_outcomes').column('activity_id').execute();
    },
  };
}
