/**
 * Opens the database: embedded SQLite (a file in the data folder) by default, PostgreSQL when a URL is given.
 */
import { chmodSync, closeSync, existsSync, mkdirSync, openSync, statSync } from 'node:fs';
import path from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { type Dialect, Kysely, type KyselyPlugin, PostgresDialect, SqliteDialect, sql } from 'kysely';
import pg from 'pg';
import { ConflictMappingDriver } from './errors.js';
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
  /**
   * Refuse a data folder or database that holds no Liaison store, creating nothing, instead of starting a new
   * one. Every command but `serve` and `migrate` opens the store this way, so a mistyped --data is an error.
   */
  mustExist?: boolean;
  /** Kysely plugins (tracing; the tests use one to run a change in the middle of another). */
  plugins?: KyselyPlugin[];
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

/** The data folder or database holds no Liaison store (and the command does not create one). */
export class NoStoreError extends DatabaseConfigError {
  constructor(message: string) {
    super(message);
    this.name = 'NoStoreError';
  }
}

/** The driver's conflicts (foreign keys, unique keys, serialization, busy) surface as ConflictError. */
function mappingConflicts(dialect: Dialect): Dialect {
  return {
    createAdapter: () => dialect.createAdapter(),
    createDriver: () => new ConflictMappingDriver(dialect.createDriver()),
    createQueryCompiler: () => dialect.createQueryCompiler(),
    createIntrospector: (db) => dialect.createIntrospector(db),
  };
}

export async function openDatabase(options: DatabaseOptions): Promise<Database> {
  const url = options.databaseUrl?.trim();
  const database = url ? await openPostgres(url, options) : openSqlite(options.dataDir, options);
  if (options.mustExist) {
    try {
      await assertStoreExists(database, url ? 'check --database-url (or DATABASE_URL)' : 'check --data (or LIAISON_DATA)');
    } catch (error) {
      await database.close();
      throw error;
    }
  }
  return database;
}

const CREATE_HINT = 'or create a store there first with `liaison migrate` (or `liaison serve`)';

function openSqlite(dataDir: string, options: DatabaseOptions): Database {
  const file = path.join(dataDir, SQLITE_FILE);
  if (options.mustExist && !existsSync(file)) {
    throw new NoStoreError(`${dataDir} holds no Liaison store (there is no ${SQLITE_FILE} in it): check --data (or LIAISON_DATA), ${CREATE_HINT}`);
  }
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  // Created 0600 before SQLite opens it, whatever the umask or whether the folder existed: it holds the
  // encrypted secrets and every email. SQLite gives its -wal and -shm files the database file's mode. A file
  // an earlier version left readable by others is tightened the same way.
  try {
    closeSync(openSync(file, 'wx', 0o600));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') {
      throw new DatabaseConfigError(`Cannot create the SQLite database ${file}: ${(error as Error).message}`);
    }
    for (const part of [file, `${file}-wal`, `${file}-shm`]) {
      if (existsSync(part) && (statSync(part).mode & 0o077) !== 0) chmodSync(part, 0o600);
    }
  }
  let connection: BetterSqlite3.Database;
  try {
    connection = new BetterSqlite3(file, { fileMustExist: true });
  } catch (error) {
    throw new DatabaseConfigError(`Cannot open the SQLite database ${file}: ${(error as Error).message}`);
  }
  connection.pragma('journal_mode = WAL');
  connection.pragma('foreign_keys = ON');
  connection.pragma('busy_timeout = 5000');
  connection.pragma('synchronous = NORMAL');
  reusePreparedStatements(connection);
  const db = new Kysely<Schema>({ dialect: mappingConflicts(new SqliteDialect({ database: connection })), plugins: options.plugins ?? [] });
  return {
    db,
    dialect: 'sqlite',
    location: file,
    close: () => db.destroy(),
  };
}

async function openPostgres(url: string, options: DatabaseOptions): Promise<Database> {
  const schema = options.postgresSchema;
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
  // Nor may one that is checked out (in a transaction, between two queries) when its connection is cut: pg emits
  // the error on the client, and with no listener the process dies (the fault soak's PostgreSQL cut killed a
  // worker so). Its query in flight fails on its own; the pool drops the broken client when it is released.
  pool.on('connect', (client) => {
    client.on('error', () => undefined);
  });
  const db = new Kysely<Schema>({ dialect: mappingConflicts(new PostgresDialect({ pool })), plugins: options.plugins ?? [] });
  try {
    if (schema && !options.mustExist) await sql`create schema if not exists ${sql.id(schema)}`.execute(db);
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

/** Refuses a database without Liaison's migrations: a mistyped URL or data folder, not a store to start. */
/** Statements kept per connection: the sync engine's commits repeat a few dozen SQL texts thousands of times. */
const PREPARED_CACHE_SIZE = 500;

/**
 * Kysely prepares every query anew, and preparing costs as much as running the small inserts a commit is made
 * of. The connection keeps the statements it prepared, by SQL text (SQLite re-prepares one by itself after a
 * schema change). A statement still being iterated (a streamed query) is busy and is not handed out twice.
 */
function reusePreparedStatements(connection: BetterSqlite3.Database): void {
  const prepare = connection.prepare.bind(connection);
  const cache = new Map<string, BetterSqlite3.Statement>();
  connection.prepare = ((source: string) => {
    const cached = cache.get(source);
    if (cached && !cached.busy) return cached;
    const statement = prepare(source);
    if (!cached) {
      if (cache.size >= PREPARED_CACHE_SIZE) cache.delete(cache.keys().next().value!);
      cache.set(source, statement);
    }
    return statement;
  }) as typeof connection.prepare;
}

async function assertStoreExists(database: Database, hint: string): Promise<void> {
  const found =
    database.dialect === 'postgres'
      ? await sql<{ n: number }>`select count(*) as n from information_schema.tables where table_schema = current_schema() and table_name = 'kysely_migration'`.execute(database.db)
      : await sql<{ n: number }>`select count(*) as n from sqlite_master where type = 'table' and name = 'kysely_migration'`.execute(database.db);
  if (Number(found.rows[0]?.n ?? 0) === 0) {
    throw new NoStoreError(`${database.location} holds no Liaison store (it has none of Liaison's tables): ${hint}, ${CREATE_HINT}`);
  }
}

/** True when the database answers a trivial query. */
export async function ping(database: Database): Promise<void> {
  await sql`select 1`.execute(database.db);
}
