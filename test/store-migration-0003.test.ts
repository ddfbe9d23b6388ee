/**
 * Migration 0003 on a store that already holds profiles: Exchange profiles saved before there was a choice
 * sign in with Basic, other types have no authentication; every profile gets the 100-second timeout and no
 * test result yet; mailboxes have no cached EWS URL. On SQLite and PostgreSQL.
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
import type { Schema } from '../src/store/schema.js';
import { DATABASES, POSTGRES_URL } from './helpers/stores.js';

for (const kind of DATABASES) {
  describe(`migration 0003 on ${kind.name}`, kind.suite, () => {
    test('existing profiles and mailboxes get the new columns with the values they would have had', async () => {
      const dataDir = mkdtempSync(path.join(tmpdir(), 'liaison-m3-'));
      const schema = `liaison_m3_${process.pid}_${Date.now()}`;
      const options = kind.name === 'postgres' ? { dataDir, databaseUrl: POSTGRES_URL, postgresSchema: schema } : { dataDir };
      const database = await openDatabase(options);
      try {
        const migrator = new Migrator({
          db: database.db,
          provider: { getMigrations: async () => ({ '0001-foundation': foundation(database.dialect), '0002-token-prefix': tokenPrefix() }) },
          ...(kind.name === 'postgres' ? { migrationTableSchema: schema } : {}),
        });
        assert.equal((await migrator.migrateToLatest()).error, undefined);
        const at = new Date().toISOString();
        const db = database.db as unknown as Kysely<Record<string, Record<string, unknown>>>;
        await db.insertInto('users').values({ id: 'u1', name: 'Owner', is_admin: 1, created_at: at, updated_at: at }).execute();
        const profile = (id: string, name: string, serverType: string) => ({
          id, name, server_type: serverType, autodiscover: serverType === 'exchange' ? 1 : 0, use_same_settings_for_outgoing: 1,
          min_polling_interval_minutes: 0, max_concurrent_connections: 27, move_failed_to_undeliverable: 0, notify_owner_on_failure: 0,
          owner_id: 'u1', created_at: at, updated_at: at,
        });
        await db.insertInto('email_server_profiles').values([profile('p1', 'Exchange', 'exchange'), profile('p2', 'IMAP', 'imap-smtp')]).execute();
        await db.insertInto('mailboxes').values({
          id: 'm1', user_id: 'u1', profile_id: 'p1', approval_status: 'approved', incoming_method: 'server-side-sync', outgoing_method: 'server-side-sync',
          incoming_status: 'not-run', outgoing_status: 'not-run', enabled: 0, created_at: at, updated_at: at,
        }).execute();

        const report = await migrateToLatest(database);
        assert.equal(report.applied[0], '0003-connection-tests', 'the later migrations follow it');
        const typed = database.db as Kysely<Schema>;
        const rows = await typed.selectFrom('email_server_profiles').select(['id', 'authentication', 'request_timeout_seconds', 'last_test_result']).orderBy('id').execute();
        assert.deepEqual(rows, [
          { id: 'p1', authentication: 'basic', request_timeout_seconds: 100, last_test_result: null },
          { id: 'p2', authentication: null, request_timeout_seconds: 100, last_test_result: null },
        ]);
        const mailbox = await typed.selectFrom('mailboxes').select(['ews_url', 'ews_url_found_at']).executeTakeFirstOrThrow();
        assert.deepEqual(mailbox, { ews_url: null, ews_url_found_at: null });
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
