/**
 * A PostgreSQL connection cut while the store holds it (in a transaction, between two queries) fails that work and
 * nothing else: the process lives on and the next query gets a new connection. Found by the fault soak, where a
 * cut killed a worker (pg emitted the error on the checked-out client, which had no listener).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import pg from 'pg';
import { sql } from 'kysely';
import { POSTGRES_URL, postgres } from './helpers/stores.js';

describe('PostgreSQL connection cut', postgres.suite, () => {
  test('a connection cut inside a transaction fails the transaction, not the process; the store goes on', async () => {
    const t = await postgres.open();
    const admin = new pg.Client({ connectionString: POSTGRES_URL });
    await admin.connect();
    try {
      const db = t.store.database.db;
      const outcome = db.transaction().execute(async (trx) => {
        const { rows } = await sql<{ pid: number }>`select pg_backend_pid() as pid`.execute(trx);
        // Cut this very connection from outside while the transaction holds it, idle between two queries.
        await admin.query('select pg_terminate_backend($1)', [rows[0]!.pid]);
        await new Promise((r) => setTimeout(r, 300));
        await sql`select 1`.execute(trx);
      });
      await assert.rejects(outcome, /terminat|Connection|closed/i);
      // The store is usable: the broken client is gone from the pool.
      const user = await t.store.users.create({ name: 'After The Cut', email: 'after@contoso.test' });
      assert.equal((await t.store.users.get(user.id)).name, 'After The Cut');
    } finally {
      await admin.end();
      await t.cleanup();
    }
  });
});
