import { v7 as uuidv7 } from 'uuid';

/**
 * Record ids are UUIDv7: unique without a coordinator (any worker on any machine can mint them) and ordered by
 * creation time, so "newest first" and keyset pagination need no extra column.
 */
export function newId(): string {
  return uuidv7();
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function isId(value: string): boolean {
  return UUID.test(value);
}
