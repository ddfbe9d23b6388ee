/**
 * The database's own refusals, mapped once for every query: a foreign-key or unique violation, a serialization
 * failure or a deadlock means that another change was saved at the same moment (or that the request refers to
 * something that is gone). Each becomes the domain's ConflictError (409) with what happened, never a 500.
 */
import type { DatabaseConnection, Driver, QueryResult, TransactionSettings } from 'kysely';
import type { CompiledQuery } from 'kysely';
import { ConflictError } from '../domain/errors.js';

export type ConflictKind = 'foreign-key' | 'unique' | 'concurrent-change';

/** A conflict the database itself reported; `cause` is the driver's error. */
export class DatabaseConflictError extends ConflictError {
  constructor(
    readonly kind: ConflictKind,
    message: string,
    options: { cause: unknown },
  ) {
    super(message);
    this.name = 'DatabaseConflictError';
    this.cause = options.cause;
  }
}

/** What the tables hold, in the CRM's words, for messages. */
const RECORD_NAMES: Record<string, string> = {
  users: 'user',
  queues: 'queue',
  api_tokens: 'API token',
  console_sessions: 'console session',
  email_server_profiles: 'email server profile',
  mailboxes: 'mailbox',
  crm_records: 'CRM record',
  email_addresses: 'email address',
  email_activities: 'email activity',
  activity_parties: 'email party',
  attachments: 'attachment',
  alerts: 'alert',
};

const recordName = (table: string | undefined): string => (table ? (RECORD_NAMES[table] ?? table) : 'record');

const CONCURRENT =
  'another change to the same records was saved at the same moment; this one was undone, so nothing is half-saved. Read the records again and retry';

interface DriverError {
  code?: string;
  message?: string;
  detail?: string;
  table?: string;
}

/** The ConflictError a driver error stands for, or the error itself when it is not a conflict. */
export function mapDatabaseError(error: unknown): unknown {
  if (error instanceof ConflictError || typeof error !== 'object' || error === null) return error;
  const e = error as DriverError;
  const code = e.code ?? '';
  // PostgreSQL: https://www.postgresql.org/docs/current/errcodes-appendix.html
  if (code === '23503') {
    // "Key (profile_id)=(…) is not present in table "email_server_profiles"." or
    // "Key (id)=(…) is still referenced from table "mailboxes"."
    const missing = /^Key \((\w+)\)=\(([^)]*)\) is not present in table "(\w+)"/.exec(e.detail ?? '');
    if (missing) {
      return new DatabaseConflictError('foreign-key', `${recordName(missing[3])} ${missing[2]} does not exist (it was deleted while this change was being saved)`, { cause: error });
    }
    const referenced = /^Key \((\w+)\)=\(([^)]*)\) is still referenced from table "(\w+)"/.exec(e.detail ?? '');
    if (referenced) {
      return new DatabaseConflictError(
        'foreign-key',
        `${recordName(e.table)} ${referenced[2]} is still in use by a ${recordName(referenced[3])} (one was added while this change was being saved)`,
        { cause: error },
      );
    }
    return new DatabaseConflictError('foreign-key', `a record this change refers to was deleted, or one it deletes is still in use: ${e.detail ?? e.message}`, { cause: error });
  }
  if (code === '23505') {
    const key = /^Key \(([^)]*)\)=\(([^)]*)\) already exists/.exec(e.detail ?? '');
    return new DatabaseConflictError(
      'unique',
      key ? `a ${recordName(e.table)} with ${key[1]} ${key[2]} already exists` : `the ${recordName(e.table)} already exists`,
      { cause: error },
    );
  }
  if (code === '40001' || code === '40P01') return new DatabaseConflictError('concurrent-change', CONCURRENT, { cause: error });
  // SQLite (better-sqlite3 reports extended result codes): https://www.sqlite.org/rescode.html
  if (code === 'SQLITE_CONSTRAINT_FOREIGNKEY') {
    return new DatabaseConflictError('foreign-key', 'a record this change refers to was deleted, or one it deletes is still in use', { cause: error });
  }
  if (code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY') {
    // "UNIQUE constraint failed: email_addresses.address_key"
    const column = /constraint failed: (\w+)\.(\w+)/.exec(e.message ?? '');
    return new DatabaseConflictError('unique', column ? `a ${recordName(column[1])} with that ${column[2]} already exists` : 'the record already exists', { cause: error });
  }
  // SQLITE_BUSY_SNAPSHOT: another connection wrote after this transaction read, so it may not write on what it
  // read. SQLITE_BUSY: another connection held the write lock for longer than the busy timeout.
  if (code.startsWith('SQLITE_BUSY') || code === 'SQLITE_LOCKED') return new DatabaseConflictError('concurrent-change', CONCURRENT, { cause: error });
  return error;
}

/** True when the error is (or was mapped from) a violation of this kind. */
export function isConflictOf(error: unknown, kind: ConflictKind): boolean {
  return error instanceof DatabaseConflictError && error.kind === kind;
}

/** A connection whose errors are mapped; the driver's own connection stays inside for the driver. */
class MappedConnection implements DatabaseConnection {
  constructor(readonly inner: DatabaseConnection) {}

  async executeQuery<R>(query: CompiledQuery): Promise<QueryResult<R>> {
    try {
      return await this.inner.executeQuery<R>(query);
    } catch (error) {
      throw mapDatabaseError(error);
    }
  }

  async *streamQuery<R>(query: CompiledQuery, chunkSize?: number): AsyncIterableIterator<QueryResult<R>> {
    try {
      yield* this.inner.streamQuery<R>(query, chunkSize);
    } catch (error) {
      throw mapDatabaseError(error);
    }
  }
}

const innerOf = (connection: DatabaseConnection): DatabaseConnection => (connection instanceof MappedConnection ? connection.inner : connection);

async function mapped<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    throw mapDatabaseError(error);
  }
}

/** Wraps a Kysely driver so that every query, commit and rollback reports conflicts as ConflictError. */
export class ConflictMappingDriver implements Driver {
  constructor(private readonly inner: Driver) {}

  init(): Promise<void> {
    return this.inner.init();
  }

  async acquireConnection(): Promise<DatabaseConnection> {
    return new MappedConnection(await this.inner.acquireConnection());
  }

  beginTransaction(connection: DatabaseConnection, settings: TransactionSettings): Promise<void> {
    return mapped(() => this.inner.beginTransaction(innerOf(connection), settings));
  }

  commitTransaction(connection: DatabaseConnection): Promise<void> {
    return mapped(() => this.inner.commitTransaction(innerOf(connection)));
  }

  rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    return mapped(() => this.inner.rollbackTransaction(innerOf(connection)));
  }

  savepoint(...[connection, name, compile]: Parameters<NonNullable<Driver['savepoint']>>): Promise<void> {
    return mapped(async () => this.inner.savepoint?.(innerOf(connection), name, compile));
  }

  rollbackToSavepoint(...[connection, name, compile]: Parameters<NonNullable<Driver['rollbackToSavepoint']>>): Promise<void> {
    return mapped(async () => this.inner.rollbackToSavepoint?.(innerOf(connection), name, compile));
  }

  releaseSavepoint(...[connection, name, compile]: Parameters<NonNullable<Driver['releaseSavepoint']>>): Promise<void> {
    return mapped(async () => this.inner.releaseSavepoint?.(innerOf(connection), name, compile));
  }

  releaseConnection(connection: DatabaseConnection): Promise<void> {
    return this.inner.releaseConnection(innerOf(connection));
  }

  destroy(): Promise<void> {
    return this.inner.destroy();
  }
}

/** Puts what was being done in front of a database conflict's message, so that it names the records. */
export function explainConflict(what: string) {
  return (error: unknown): never => {
    if (error instanceof DatabaseConflictError) throw new DatabaseConflictError(error.kind, `${what}: ${error.message}`, { cause: error.cause });
    throw error;
  };
}
