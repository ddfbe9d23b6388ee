import type { Kysely } from 'kysely';

/**
 * Signing in to the web console: a password per user (a scrypt hash, never the password), the count of failed
 * sign-ins in a row and how long the account is locked after too many, the console's sessions (stored by the
 * SHA-256 of their secret, which only the browser's cookie holds) and the one-time links that set the first
 * administrator's password (stored the same way).
 *
 * The CSRF token of a session is derived from its secret (store/sessions.ts), so it needs no column.
 */
export function consoleSessions() {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema.alterTable('users').addColumn('password_hash', 'text').execute();
      await db.schema.alterTable('users').addColumn('failed_logins', 'integer', (c) => c.notNull().defaultTo(0)).execute();
      await db.schema.alterTable('users').addColumn('locked_until', 'text').execute();
      await db.schema
        .createTable('console_sessions')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('user_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('last_seen_at', 'text', (c) => c.notNull())
        .addColumn('expires_at', 'text', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('console_sessions_user').on('console_sessions').column('user_id').execute();
      await db.schema.createIndex('console_sessions_expires').on('console_sessions').column('expires_at').execute();
      await db.schema
        .createTable('console_setup_tokens')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('created_at', 'text', (c) => c.notNull())
        .addColumn('expires_at', 'text', (c) => c.notNull())
        .addColumn('used_at', 'text')
        .execute();
    },
  };
}
