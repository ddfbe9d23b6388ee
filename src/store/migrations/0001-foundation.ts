import { sql, type Kysely } from 'kysely';
import type { DialectName } from '../database.js';

/**
 * Users, queues, CRM records and their addresses; email server profiles and mailboxes; email activities with
 * parties and attachments; alerts; settings.
 */
export function foundation(dialect: DialectName) {
  const blob = dialect === 'postgres' ? 'bytea' : 'blob';
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema
        .createTable('users')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('is_admin', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .execute();

      await db.schema
        .createTable('api_tokens')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('user_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
        .addColumn('token_hash', 'text', (c) => c.notNull().unique())
        .addColumn('label', 'text')
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('last_used_at', 'text')
        .execute();
      await db.schema.createIndex('api_tokens_user').on('api_tokens').column('user_id').execute();

      await db.schema
        .createTable('queues')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('owner_id', 'text', (c) => c.notNull().references('users.id').onDelete('restrict'))
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('queues_owner').on('queues').column('owner_id').execute();

      await db.schema
        .createTable('crm_records')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('type', 'text', (c) => c.notNull())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('crm_records_type').on('crm_records').columns(['type', 'id']).execute();

      await db.schema
        .createTable('email_addresses')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('record_type', 'text', (c) => c.notNull())
        .addColumn('record_id', 'text', (c) => c.notNull())
        .addColumn('position', 'integer', (c) => c.notNull())
        .addColumn('address', 'text', (c) => c.notNull())
        .addColumn('address_key', 'text', (c) => c.notNull())
        .addUniqueConstraint('email_addresses_slot', ['record_type', 'record_id', 'position'])
        .execute();
      await db.schema.createIndex('email_addresses_key').on('email_addresses').column('address_key').execute();
      // A user and a queue may not share an address: mail to it could not say whose mailbox it is for.
      await db.schema
        .createIndex('email_addresses_mailbox_owner')
        .on('email_addresses')
        .column('address_key')
        .unique()
        .where(sql.ref('record_type'), 'in', ['user', 'queue'])
        .execute();

      await db.schema
        .createTable('email_server_profiles')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('description', 'text')
        .addColumn('server_type', 'text', (c) => c.notNull())
        .addColumn('autodiscover', 'integer', (c) => c.notNull())
        .addColumn('incoming_server', 'text')
        .addColumn('incoming_port', 'integer')
        .addColumn('outgoing_server', 'text')
        .addColumn('outgoing_port', 'integer')
        .addColumn('use_same_settings_for_outgoing', 'integer', (c) => c.notNull())
        .addColumn('username', 'text')
        .addColumn('password_enc', 'text')
        .addColumn('outgoing_username', 'text')
        .addColumn('outgoing_password_enc', 'text')
        .addColumn('tenant_id', 'text')
        .addColumn('client_id', 'text')
        .addColumn('client_secret_enc', 'text')
        .addColumn('trusted_ca_pem', 'text')
        .addColumn('process_email_from', 'text')
        .addColumn('min_polling_interval_minutes', 'integer', (c) => c.notNull())
        .addColumn('max_concurrent_connections', 'integer', (c) => c.notNull())
        .addColumn('move_failed_to_undeliverable', 'integer', (c) => c.notNull())
        .addColumn('notify_owner_on_failure', 'integer', (c) => c.notNull())
        .addColumn('owner_id', 'text', (c) => c.notNull().references('users.id').onDelete('restrict'))
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('email_server_profiles_name').on('email_server_profiles').expression(sql`lower(name)`).unique().execute();
      await db.schema.createIndex('email_server_profiles_owner').on('email_server_profiles').column('owner_id').execute();

      await db.schema
        .createTable('mailboxes')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('user_id', 'text', (c) => c.unique().references('users.id').onDelete('cascade'))
        .addColumn('queue_id', 'text', (c) => c.unique().references('queues.id').onDelete('cascade'))
        .addColumn('profile_id', 'text', (c) => c.references('email_server_profiles.id').onDelete('restrict'))
        .addColumn('approval_status', 'text', (c) => c.notNull())
        .addColumn('incoming_method', 'text', (c) => c.notNull())
        .addColumn('outgoing_method', 'text', (c) => c.notNull())
        .addColumn('incoming_status', 'text', (c) => c.notNull())
        .addColumn('outgoing_status', 'text', (c) => c.notNull())
        .addColumn('enabled', 'integer', (c) => c.notNull())
        .addColumn('process_email_from', 'text')
        .addColumn('last_sync_at', 'text')
        .addColumn('last_test_at', 'text')
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .addCheckConstraint('mailboxes_one_owner', sql`(user_id is null) <> (queue_id is null)`)
        .execute();
      await db.schema.createIndex('mailboxes_profile').on('mailboxes').column('profile_id').execute();

      await db.schema
        .createTable('email_activities')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('mailbox_id', 'text', (c) => c.references('mailboxes.id').onDelete('set null'))
        .addColumn('owner_id', 'text', (c) => c.references('users.id').onDelete('set null'))
        .addColumn('direction', 'text', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('subject', 'text', (c) => c.notNull())
        .addColumn('body_text', 'text')
        .addColumn('body_html', 'text')
        .addColumn('message_id', 'text')
        .addColumn('in_reply_to', 'text')
        .addColumn('tracking_token', 'text')
        .addColumn('regarding_type', 'text')
        .addColumn('regarding_id', 'text')
        .addColumn('delivery_attempts', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('sent_at', 'text')
        .addColumn('received_at', 'text')
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('email_activities_mailbox').on('email_activities').columns(['mailbox_id', 'id']).execute();
      await db.schema.createIndex('email_activities_status').on('email_activities').columns(['status', 'id']).execute();
      await db.schema.createIndex('email_activities_regarding').on('email_activities').column('regarding_id').execute();
      await db.schema.createIndex('email_activities_message_id').on('email_activities').column('message_id').execute();

      await db.schema
        .createTable('activity_parties')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('activity_id', 'text', (c) => c.notNull().references('email_activities.id').onDelete('cascade'))
        .addColumn('role', 'text', (c) => c.notNull())
        .addColumn('position', 'integer', (c) => c.notNull())
        .addColumn('address', 'text', (c) => c.notNull())
        .addColumn('display_name', 'text')
        .addColumn('record_type', 'text')
        .addColumn('record_id', 'text')
        .execute();
      await db.schema.createIndex('activity_parties_activity').on('activity_parties').column('activity_id').execute();
      await db.schema.createIndex('activity_parties_record').on('activity_parties').column('record_id').execute();

      await db.schema
        .createTable('attachments')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('activity_id', 'text', (c) => c.notNull().references('email_activities.id').onDelete('cascade'))
        .addColumn('position', 'integer', (c) => c.notNull())
        .addColumn('file_name', 'text', (c) => c.notNull())
        .addColumn('content_type', 'text', (c) => c.notNull())
        .addColumn('size', 'integer', (c) => c.notNull())
        .addColumn('content', blob, (c) => c.notNull())
        .execute();
      await db.schema.createIndex('attachments_activity').on('attachments').column('activity_id').execute();

      await db.schema
        .createTable('alerts')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('level', 'text', (c) => c.notNull())
        .addColumn('scope', 'text', (c) => c.notNull())
        .addColumn('profile_id', 'text', (c) => c.references('email_server_profiles.id').onDelete('cascade'))
        .addColumn('mailbox_id', 'text', (c) => c.references('mailboxes.id').onDelete('cascade'))
        .addColumn('activity_id', 'text', (c) => c.references('email_activities.id').onDelete('cascade'))
        .addColumn('code', 'text', (c) => c.notNull())
        .addColumn('message', 'text', (c) => c.notNull())
        .addColumn('server_response', 'text')
        .addColumn('fix', 'text')
        .addColumn('created_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('alerts_profile').on('alerts').columns(['profile_id', 'id']).execute();
      await db.schema.createIndex('alerts_mailbox').on('alerts').columns(['mailbox_id', 'id']).execute();

      await db.schema
        .createTable('settings')
        .addColumn('key', 'text', (c) => c.primaryKey())
        .addColumn('value', 'text', (c) => c.notNull())
        .execute();
    },
  };
}
