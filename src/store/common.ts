/** Small helpers shared by the store's repositories. */
import { type Kysely, PostgresAdapter, type Transaction } from 'kysely';
import { ValidationError } from '../domain/errors.js';
import { isConflictOf } from './errors.js';
import type { Schema } from './schema.js';

export type Db = Kysely<Schema> | Transaction<Schema>;

export function now(): string {
  return new Date().toISOString();
}

export const flag = (value: boolean): number => (value ? 1 : 0);
export const isSet = (value: number | boolean | null | undefined): boolean => value === 1 || value === true;

export interface PageRequest {
  limit?: number | undefined;
  /** The id of the last item of the previous page. */
  after?: string | undefined;
}

export interface Page<T> {
  items: T[];
  /** Pass as `after` to read the next page; null on the last page. */
  nextCursor: string | null;
}

export const PAGE_LIMIT = { default: 50, max: 500 } as const;

export function pageLimit(request: PageRequest): number {
  const limit = request.limit ?? PAGE_LIMIT.default;
  if (!Number.isInteger(limit) || limit < 1 || limit > PAGE_LIMIT.max) {
    throw new ValidationError([{ field: 'limit', message: `must be a whole number from 1 to ${PAGE_LIMIT.max}` }]);
  }
  return limit;
}

/** Builds a page from rows fetched with limit + 1 (the extra row only says whether there is a next page). */
export function toPage<R extends { id: string }, T>(rows: R[], limit: number, map: (row: R) => T): Page<T> {
  const more = rows.length > limit;
  const kept = more ? rows.slice(0, limit) : rows;
  return { items: kept.map(map), nextCursor: more ? kept[kept.length - 1]!.id : null };
}

/** True when the error is a unique-constraint violation, on either database (mapped in `errors.ts`). */
export function isUniqueViolation(error: unknown): boolean {
  return isConflictOf(error, 'unique');
}

/** True when the error is a foreign-key violation, on either database (mapped in `errors.ts`). */
export function isForeignKeyViolation(error: unknown): boolean {
  return isConflictOf(error, 'foreign-key');
}

/**
 * Takes a shared lock on the rows a change refers to, on PostgreSQL, so that they cannot be deleted before the
 * change commits (FOR KEY SHARE: it blocks DELETE, not ordinary updates). SQLite needs none: a transaction
 * that has read and then finds another connection wrote in between is refused (SQLITE_BUSY_SNAPSHOT), which
 * `errors.ts` reports as a conflict, and within one process Kysely runs one transaction at a time.
 */
export function keyShareLock<Q extends { forKeyShare(): Q }>(db: Db, query: Q): Q {
  return db.getExecutor().adapter instanceof PostgresAdapter ? query.forKeyShare() : query;
}

/** As keyShareLock, but an exclusive row lock (FOR UPDATE), for a row the change will update or delete. */
export function updateLock<Q extends { forUpdate(): Q }>(db: Db, query: Q): Q {
  return db.getExecutor().adapter instanceof PostgresAdapter ? query.forUpdate() : query;
}
