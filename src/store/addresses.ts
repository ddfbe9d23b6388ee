/**
 * The address index of email-enabled records (users, queues, contacts, accounts, leads): stores each record's
 * addresses and answers "which records have this address".
 */
import type { EmailEnabledType, RecordRef } from '../domain/activity.js';
import { addressKey, addressProblem } from '../domain/email-address.js';
import { ConflictError, ValidationError } from '../domain/errors.js';
import { newId } from '../domain/ids.js';
import type { Db } from './common.js';

/** Checks and de-duplicates a record's addresses (case-insensitively), keeping their order. */
export function cleanAddresses(field: string, addresses: readonly string[], max: number): string[] {
  const seen = new Set<string>();
  const result: string[] = [];
  const problems = [];
  for (const raw of addresses) {
    const address = raw.trim();
    const problem = addressProblem(address);
    if (problem) problems.push({ field, message: problem });
    else if (!seen.has(addressKey(address))) {
      seen.add(addressKey(address));
      result.push(address);
    }
  }
  if (result.length > max) problems.push({ field, message: `at most ${max} addresses` });
  if (problems.length > 0) throw new ValidationError(problems);
  return result;
}

/** Replaces a record's addresses. */
export async function setAddresses(db: Db, type: EmailEnabledType, recordId: string, addresses: readonly string[]): Promise<void> {
  await db.deleteFrom('email_addresses').where('record_type', '=', type).where('record_id', '=', recordId).execute();
  if (addresses.length === 0) return;
  await db
    .insertInto('email_addresses')
    .values(
      addresses.map((address, index) => ({
        id: newId(),
        record_type: type,
        record_id: recordId,
        position: index + 1,
        address,
        address_key: addressKey(address),
      })),
    )
    .execute();
}

export async function deleteAddresses(db: Db, type: EmailEnabledType, recordId: string): Promise<void> {
  await db.deleteFrom('email_addresses').where('record_type', '=', type).where('record_id', '=', recordId).execute();
}

/** The addresses of many records of one type, in their order. */
export async function addressesOf(db: Db, type: EmailEnabledType, ids: readonly string[]): Promise<Map<string, string[]>> {
  const result = new Map<string, string[]>(ids.map((id) => [id, []]));
  if (ids.length === 0) return result;
  const rows = await db
    .selectFrom('email_addresses')
    .select(['record_id', 'address'])
    .where('record_type', '=', type)
    .where('record_id', 'in', [...ids])
    .orderBy('position')
    .execute();
  for (const row of rows) result.get(row.record_id)?.push(row.address);
  return result;
}

/** The records each address belongs to, keyed by the lower-cased address. */
export async function recordsByAddress(db: Db, addresses: readonly string[]): Promise<Map<string, RecordRef[]>> {
  const keys = [...new Set(addresses.map(addressKey))];
  const result = new Map<string, RecordRef[]>(keys.map((key) => [key, []]));
  if (keys.length === 0) return result;
  const rows = await db
    .selectFrom('email_addresses')
    .select(['address_key', 'record_type', 'record_id'])
    .where('address_key', 'in', keys)
    .execute();
  for (const row of rows) result.get(row.address_key)?.push({ type: row.record_type, id: row.record_id });
  return result;
}

/** Refuses an address that another user's or queue's mailbox already has. */
export async function assertMailboxAddressFree(db: Db, address: string, self?: RecordRef): Promise<void> {
  const holder = await db
    .selectFrom('email_addresses')
    .select(['record_type', 'record_id'])
    .where('address_key', '=', addressKey(address))
    .where('record_type', 'in', ['user', 'queue'])
    .executeTakeFirst();
  if (holder && !(self && holder.record_type === self.type && holder.record_id === self.id)) {
    throw new ConflictError(
      `${address} is already the address of ${holder.record_type} ${holder.record_id}; every user's and queue's mailbox needs an address of its own, or mail to it could not say whose mailbox it belongs to`,
    );
  }
}

/** Emails stay when a record goes; their parties keep the address and lose the link. */
export async function unlinkParties(db: Db, type: string, id: string): Promise<void> {
  await db.updateTable('activity_parties').set({ record_type: null, record_id: null }).where('record_type', '=', type).where('record_id', '=', id).execute();
}
