/**
 * Migration 0004 on a store that already holds users, queues, mailboxes and email: users get the users'
 * default incoming filter, queues the queues', mailboxes a free lease with token 0 and no failures, and email
 * activities' Message-IDs become unique. On SQLite and PostgreSQL.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { type Kysely, Migrator } from 'kysely';
import pg from 'pg';
import { openDatabase } from '../src/store/database.js';
import { migrateToLatest } from '../src/store/migrate.js';
import { foundation } from '../src/store/migrations/0001-foundation.js';
import { tokenPrefix } from '../src/store/migrations/0002-token-prefix.js';
import { connectionTests } from '../src/store/migrations/0003-connection-tests.js';
import type { Schema } from '../src/store/schema.js';
import { DATABASES, POSTGRES_URL } from './helpers/stores.js';

for (const kind of DATABASES) {
  describe(`migration 0004 on ${kind.name}`, kind.suite, () => {
    test('existing users, queues, mailboxes and activities get the sync columns with their defaults', async () => {
      const dataDir = mkdtempSync(path.join(tmpdir(), 'liaison-m4-'));
      const schema = `liaison_m4_${process.pid}_${Date.now()}`;
      const options = kind.name === 'postgres' ? { dataDir, databaseUrl: POSTGRES_URL, postgresSchema: schema } : { dataDir };
      const database = await openDatabase(options);
      try {
        const migrator = new Migrator({
          db: database.db,
          provider: {
            getMigrations: async () => ({ '0001-foundation': foundation(database.dialect), '0002-token-prefix': tokenPrefix(), '0003-connection-tests': connectionTests() }),
          },
          ...(kind.name === 'postgres' ? { migrationTableSchema: schema } : {}),
        });
        assert.equal((await migrator.migrateToLatest()).error, undefined);
        const at = new Date().toISOString();
        const db = database.db as unknown as Kysely<Record<string, Record<string, unknown>>>;
        await db.insertInto('users').values({ id: 'u1', name: 'Owner', is_admin: 1, created_at: at, updated_at: at }).execute();
        await db.insertInto('queues').values({ id: 'q1', name: 'Support', owner_id: 'u1', created_at: at, updated_at: at }).execute();
        await db.insertInto('mailboxes').values({
          id: 'm1', user_id: 'u1', approval_status: 'approved', incoming_method: 'server-side-sync', outgoing_method: 'server-side-sync',
          incoming_status: 'success', outgoing_status: 'success', enabled: 1, created_at: at, updated_at: at,
        }).execute();
        const activity = (id: string, messageId: string | null) => ({
          id, mailbox_id: 'm1', owner_id: 'u1', direction: 'outgoing', status: 'draft', subject: id, message_id: messageId, created_at: at, updated_at: at,
        });
        await db.insertInto('email_activities').values([activity('a1', null), activity('a2', null), activity('a3', '<m@x.test>')]).execute();

        const report = await migrateToLatest(database);
        assert.equal(report.applied[0], '0004-sync', 'the sync migration runs on the existing rows');
        const typed = database.db as Kysely<Schema>;
        assert.deepEqual(await typed.selectFrom('users').select('incoming_filter').executeTakeFirstOrThrow(), { incoming_filter: 'responses-to-crm-email' });
        assert.deepEqual(await typed.selectFrom('queues').select('incoming_filter').executeTakeFirstOrThrow(), { incoming_filter: 'all' });
        const mailbox = await typed
          .selectFrom('mailboxes')
          .select(['lease_owner', 'lease_token', 'lease_expires_at', 'next_due_at', 'consecutive_failures', 'last_success_at', 'last_error'])
          .executeTakeFirstOrThrow();
        assert.deepEqual(mailbox, { lease_owner: null, lease_token: 0, lease_expires_at: null, next_due_at: null, consecutive_failures: 0, last_success_at: null, last_error: null });
        // Drafts without a Message-ID stay many; a second activity with a taken one is refused.
        await typed.insertInto('email_activities').values({ ...activity('a4', null), delivery_attempts: 0 } as never).execute();
        await assert.rejects(typed.insertInto('email_activities').values({ ...activity('a5', '<m@x.test>'), delivery_attempts: 0 } as never).execute(), /already exists/);
      } finally {
        await database.close();
        rmSync(dataDir, { recursive: true, force: true });
        if (kind.name === 'postgres') {
          const client = new pg.Client({ connectionString: POSTGRES_URL });
          await client.connect();
          await client.query(`drop schema if exists "${schema}" cascade`);
          await client.end();
        }
      }
    });
  });
}
