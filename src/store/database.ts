/**
 * Opens the database: embedded SQLite (a file in the data folder) by default, PostgreSQL when a URL is given.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { Kysely, PostgresDialect, SqliteDialect, sql } from 'kysely';
import pg from 'pg';
import type { Schema } from './schema.js';

export type DialectName = 'sqlite' | 'postgres';

export interface Database {
  db: Kysely<Schema>;
  dialect: DialectName;
  /** Where the data lives, with any password removed: safe to print. */
  location: string;
  close(): Promise<void>;
}

export interface DatabaseOptions {
  /** The data folder; the SQLite file lives here when no URL is given. */
  dataDir: string;
  /** postgres:// or postgresql:// URL; null or empty for the embedded SQLite database. */
  databaseUrl?: string | null;
  /** PostgreSQL schema to use instead of the default search path (the tests use one schema each). */
  postgresSchema?: string;
}

export const SQLITE_FILE = 'liaison.db';

// COUNT(*) and other BIGINT results arrive as strings from node-postgres; our counts fit in a double.
pg.types.setTypeParser(pg.types.builtins.INT8, (value) => Number(value));

export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return '(unreadable URL)';
  }
}

export class DatabaseConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DatabaseConfigError';
  }
}

export async function openDatabase(options: DatabaseOptions): Promise<Database> {
  const url = options.databaseUrl?.trim();
  if (url) return openPostgres(url, options.postgresSchema);
  return openSqlite(options.dataDir);
}

function openSqlite(dataDir: string): Database {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const file = path.join(dataDir, SQLITE_FILE);
  let connection: BetterSqlite3.Database;
  try {
    connection = new BetterSqlite3(file);
  } catch (error) {
    throw new DatabaseConfigError(`Cannot open the SQLite database ${file}: ${(error as Error).message}`);
  }
  connection.pragma('journal_mode = WAL');
  connection.pragma('foreign_keys = ON');
  connection.pragma('busy_timeout = 5000');
  connection.pragma('synchronous = NORMAL');
  const db = new Kysely<Schema>({ dialect: new SqliteDialect({ database: connection }) });
  return {
    db,
    dialect: 'sqlite',
    location: file,
    close: () => db.destroy(),
  };
}

async function openPostgres(url: string, schema?: string): Promise<Database> {
  if (!/^postgres(ql)?:\/\//i.test(url)) {
    throw new DatabaseConfigError(
      `The database URL must start with postgres:// or postgresql:// (got "${redactUrl(url)}"); leave it out to use the embedded SQLite database in the data folder`,
    );
  }
  if (schema !== undefined && !/^[a-z_][a-z0-9_]*$/.test(schema)) throw new DatabaseConfigError(`Bad schema name ${schema}`);
  const pool = new pg.Pool({
    connectionString: url,
    max: 10,
    connectionTimeoutMillis: 10_000,
    ...(schema ? { options: `-c search_path=${schema}` } : {}),
  });
  // An idle client that loses its connection must not crash the process; the next query reconnects.
  pool.on('error', () => undefined);
  const db = new Kysely<Schema>({ dialect: new PostgresDialect({ pool }) });
  try {
    if (schema) await sql`create schema if not exists ${sql.id(schema)}`.execute(db);
    await sql`select 1`.execute(db);
  } catch (error) {
    await db.destroy();
    throw new DatabaseConfigError(
      `Cannot reach PostgreSQL at ${redactUrl(url)}: ${(error as Error).message}. Check --database-url (or DATABASE_URL) and that the server is running`,
    );
  }
  return {
    db,
    dialect: 'postgres',
    location: redactUrl(url),
    close: () => db.destroy(),
  };
}

/** True when the database answers a trivial query. */
export async function ping(database: Database): Promise<void> {
  await sql`select 1`.execute(database.db);
}
