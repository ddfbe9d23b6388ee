/** Contacts, accounts and leads: the CRM records (besides users and queues) that email addresses resolve to. */
import type { Kysely } from 'kysely';
import { NotFoundError, ValidationError } from '../domain/errors.js';
import { newId } from '../domain/ids.js';
import { addressesOf, cleanAddresses, deleteAddresses, setAddresses, unlinkParties } from './addresses.js';
import { now, type Page, type PageRequest, pageLimit, toPage } from './common.js';
import type { Schema } from './schema.js';

export const CRM_RECORD_TYPES = ['contact', 'account', 'lead'] as const;
export type CrmRecordType = (typeof CRM_RECORD_TYPES)[number];
export const MAX_RECORD_ADDRESSES = 3;

export interface CrmRecord {
  id: string;
  type: CrmRecordType;
  name: string;
  emailAddresses: string[];
  createdAt: string;
  updatedAt: string;
}

export interface CrmRecordInput {
  name?: string | undefined;
  emailAddresses?: string[] | undefined;
}

export interface CrmRecordFilter extends PageRequest {
  /** Only records with this address (case-insensitive). */
  emailAddress?: string | undefined;
}

function cleanName(name: string | undefined): string | undefined {
  if (name === undefined) return undefined;
  const trimmed = name.trim();
  if (trimmed === '' || trimmed.length > 200) throw new ValidationError([{ field: 'name', message: 'must be 1 to 200 characters' }]);
  return trimmed;
}

export class CrmRecordRepository {
  constructor(private readonly db: Kysely<Schema>) {}

  async create(type: CrmRecordType, input: CrmRecordInput): Promise<CrmRecord> {
    const name = cleanName(input.name);
    if (name === undefined) throw new ValidationError([{ field: 'name', message: 'is required' }]);
    const addresses = cleanAddresses('emailAddresses', input.emailAddresses ?? [], MAX_RECORD_ADDRESSES);
    const id = newId();
    const at = now();
    await this.db.transaction().execute(async (trx) => {
      await trx.insertInto('crm_records').values({ id, type, name, created_at: at, updated_at: at }).execute();
      await setAddresses(trx, type, id, addresses);
    });
    return this.get(type, id);
  }

  async get(type: CrmRecordType, id: string): Promise<CrmRecord> {
    const row = await this.db.selectFrom('crm_records').selectAll().where('id', '=', id).where('type', '=', type).executeTakeFirst();
    if (!row) throw new NotFoundError(type, id);
    const addresses = await addressesOf(this.db, type, [id]);
    return { id: row.id, type, name: row.name, emailAddresses: addresses.get(id) ?? [], createdAt: row.created_at, updatedAt: row.updated_at };
  }

  async exists(type: CrmRecordType, id: string): Promise<boolean> {
    const row = await this.db.selectFrom('crm_records').select('id').where('id', '=', id).where('type', '=', type).executeTakeFirst();
    return row !== undefined;
  }

  async list(type: CrmRecordType, filter: CrmRecordFilter): Promise<Page<CrmRecord>> {
    const limit = pageLimit(filter);
    let query = this.db.selectFrom('crm_records').selectAll().where('type', '=', type).orderBy('id').limit(limit + 1);
    if (filter.after) query = query.where('id', '>', filter.after);
    if (filter.emailAddress) {
      const key = filter.emailAddress.trim().toLowerCase();
      query = query.where('id', 'in', (eb) =>
        eb.selectFrom('email_addresses').select('record_id').where('record_type', '=', type).where('address_key', '=', key),
      );
    }
    const rows = await query.execute();
    const addresses = await addressesOf(this.db, type, rows.map((r) => r.id));
    return toPage(rows, limit, (row) => ({
      id: row.id,
      type,
      name: row.name,
      emailAddresses: addresses.get(row.id) ?? [],
      createdAt: row.created_at,
      updatedAt: row.updated_at,
    }));
  }

  async update(type: CrmRecordType, id: string, input: CrmRecordInput): Promise<CrmRecord> {
    const name = cleanName(input.name);
    const addresses = input.emailAddresses === undefined ? undefined : cleanAddresses('emailAddresses', input.emailAddresses, MAX_RECORD_ADDRESSES);
    await this.db.transaction().execute(async (trx) => {
      const result = await trx
        .updateTable('crm_records')
        .set({ ...(name !== undefined ? { name } : {}), updated_at: now() })
        .where('id', '=', id)
        .where('type', '=', type)
        .executeTakeFirst();
      if (result.numUpdatedRows === 0n) throw new NotFoundError(type, id);
      if (addresses !== undefined) await setAddresses(trx, type, id, addresses);
    });
    return this.get(type, id);
  }

  async delete(type: CrmRecordType, id: string): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      const result = await trx.deleteFrom('crm_records').where('id', '=', id).where('type', '=', type).executeTakeFirst();
      if (result.numDeletedRows === 0n) throw new NotFoundError(type, id);
      await deleteAddresses(trx, type, id);
      await unlinkParties(trx, type, id);
      await trx.updateTable('email_activities').set({ regarding_type: null, regarding_id: null }).where('regarding_type', '=', type).where('regarding_id', '=', id).execute();
    });
  }
}
