import { Migrator, sql, type Migration } from 'kysely';
import type { Database } from './database.js';
import { foundation } from './migrations/0001-foundation.js';
import { tokenPrefix } from './migrations/0002-token-prefix.js';
import { connectionTests } from './migrations/0003-connection-tests.js';
import { sync } from './migrations/0004-sync.js';
import { mailServers } from './migrations/0005-mail-servers.js';
import { consoleSessions } from './migrations/0006-console-sessions.js';
import { missingMailAudit } from './migrations/0007-missing-mail-audit.js';
import { sendRetryTime } from './migrations/0008-send-retry-time.js';
import { graphCredentials } from './migrations/0009-graph-credentials.js';

/** Every migration, in order. Names sort; never rename or edit one that has shipped, add a new one. */
function migrations(database: Database): Record<string, Migration> {
  return {
    '0001-foundation': foundation(database.dialect),
    '0002-token-prefix': tokenPrefix(),
    '0003-connection-tests': connectionTests(),
    '0004-sync': sync(),
    '0005-mail-servers': mailServers(),
    '0006-console-sessions': consoleSessions(),
    '0007-missing-mail-audit': missingMailAudit(),
    '0008-send-retry-time': sendRetryTime(),
    '0009-graph-credentials': graphCredentials(),
  };
}

export interface MigrationReport {
  applied: string[];
}

/**
 * Brings the schema up to date. Safe to run from several processes at once: Kysely takes a lock (a row lock
 * on PostgreSQL) so one applies and the others wait and find nothing to do.
 */
export async function migrateToLatest(database: Database): Promise<MigrationReport> {
  const migrator = new Migrator({
    db: database.db,
    provider: { getMigrations: async () => migrations(database) },
    // Kysely looks for its bookkeeping tables across every schema it can see; name ours, or another
    // schema's tables (another Liaison, another test) would be mistaken for them.
    ...(database.dialect === 'postgres' ? { migrationTableSchema: await currentSchema(database) } : {}),
  });
  const { error, results } = await migrator.migrateToLatest();
  if (error) {
    const failed = results?.find((r) => r.status === 'Error');
    const detail = error instanceof Error ? error.message : String(error);
    throw new Error(`Database migration ${failed ? `${failed.migrationName} ` : ''}failed: ${detail}`);
  }
  return { applied: (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName) };
}

async function currentSchema(database: Database): Promise<string> {
  const result = await sql<{ schema: string }>`select current_schema() as schema`.execute(database.db);
  const schema = result.rows[0]?.schema;
  if (!schema) throw new Error('PostgreSQL has no current schema: set search_path so that it names a schema Liaison may create tables in');
  return schema;
}
