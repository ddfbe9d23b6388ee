/** Users and queues: the CRM records that own a mailbox each. Creating one creates its mailbox. */
import { createHash, randomBytes } from 'node:crypto';
import { ConflictError, NotFoundError, ValidationError } from '../domain/errors.js';
import { newId } from '../domain/ids.js';
import { addressChanged, type MailboxState } from '../domain/mailbox.js';
import { addressesOf, assertMailboxAddressFree, cleanAddresses, deleteAddresses, setAddresses, unlinkParties } from './addresses.js';
import { type Db, flag, isForeignKeyViolation, isSet, isUniqueViolation, keyShareLock, now, type Page, type PageRequest, pageLimit, toPage, updateLock } from './common.js';
import { explainConflict } from './errors.js';
import { newMailboxRow, mailboxStateOf, mailboxStateColumns } from './mailboxes.js';
import type { Kysely } from 'kysely';
import type { IncomingFilterOption } from '../sync/ports.js';
import type { Schema } from './schema.js';

/** Which incoming email of a mailbox is tracked; the CRM's defaults: responses to CRM email for users, all for queues. */
export const INCOMING_FILTER_OPTIONS = ['all', 'responses-to-crm-email', 'from-crm-records', 'from-email-enabled-records', 'none'] as const satisfies readonly IncomingFilterOption[];
export const DEFAULT_INCOMING_FILTER = { user: 'responses-to-crm-email', queue: 'all' } as const satisfies Record<'user' | 'queue', IncomingFilterOption>;

function cleanFilter(value: string | undefined): IncomingFilterOption | undefined {
  if (value === undefined) return undefined;
  if (!(INCOMING_FILTER_OPTIONS as readonly string[]).includes(value)) {
    throw new ValidationError([{ field: 'incomingFilter', message: `must be one of ${INCOMING_FILTER_OPTIONS.join(', ')}` }]);
  }
  return value as IncomingFilterOption;
}

export interface User {
  id: string;
  name: string;
  email: string;
  isAdmin: boolean;
  /** Which incoming email of the user's mailbox is tracked. */
  incomingFilter: IncomingFilterOption;
  mailboxId: string | null;
  createdAt: string;
  updatedAt: string;
}

export interface Queue {
  id: string;
  name: string;
  email: string;
  ownerId: string;
  /** Which incoming email of the queue's mailbox is tracked. */
  incomingFilter: IncomingFilterOption;
  mailboxId: string | null;
  createdAt: string;
  updatedAt: string;
}

export interface UserInput {
  name?: string | undefined;
  email?: string | undefined;
  isAdmin?: boolean | undefined;
  incomingFilter?: IncomingFilterOption | undefined;
}

export interface QueueInput {
  name?: string | undefined;
  email?: string | undefined;
  ownerId?: string | undefined;
  incomingFilter?: IncomingFilterOption | undefined;
}

function cleanName(name: string | undefined, required: boolean): string | undefined {
  if (name === undefined) {
    if (required) throw new ValidationError([{ field: 'name', message: 'is required' }]);
    return undefined;
  }
  const trimmed = name.trim();
  if (trimmed === '' || trimmed.length > 200) throw new ValidationError([{ field: 'name', message: 'must be 1 to 200 characters' }]);
  return trimmed;
}

function cleanEmail(email: string | undefined, required: boolean): string | undefined {
  if (email === undefined) {
    if (required) throw new ValidationError([{ field: 'email', message: 'is required' }]);
    return undefined;
  }
  return cleanAddresses('email', [email], 1)[0];
}

/** A user's or queue's address changed: store it, and make the mailbox start approval over. */
async function changeMailboxAddress(trx: Db, type: 'user' | 'queue', id: string, email: string): Promise<void> {
  const current = (await addressesOf(trx, type, [id])).get(id)?.[0];
  if (current === email) return;
  await assertMailboxAddressFree(trx, email, { type, id });
  await setAddresses(trx, type, id, [email]);
  const mailbox = await trx
    .selectFrom('mailboxes')
    .select(['id', ...mailboxStateColumns])
    .where(type === 'user' ? 'user_id' : 'queue_id', '=', id)
    .executeTakeFirst();
  if (mailbox && current?.toLowerCase() !== email.toLowerCase()) {
    const next: MailboxState = addressChanged(mailboxStateOf(mailbox));
    await trx
      .updateTable('mailboxes')
      .set({
        approval_status: next.approvalStatus,
        enabled: flag(next.enabled),
        incoming_status: next.incomingStatus,
        outgoing_status: next.outgoingStatus,
        // Another address may live on another server: Autodiscover finds it again.
        ews_url: null,
        ews_url_found_at: null,
        updated_at: now(),
      })
      .where('id', '=', mailbox.id)
      .execute();
  }
}

/** What deleting a user did besides deleting them and their mailbox. */
export interface UserDeletion {
  /** What the user named in `transferTo` took over: queue ids, profile ids, how many email activities. */
  transferred: { queues: string[]; profiles: string[]; activities: number };
  tokensRevoked: number;
}

export class UserRepository {
  constructor(private readonly db: Kysely<Schema>) {}

  async create(input: UserInput): Promise<User> {
    const name = cleanName(input.name, true)!;
    const email = cleanEmail(input.email, true)!;
    const incomingFilter = cleanFilter(input.incomingFilter) ?? DEFAULT_INCOMING_FILTER.user;
    const id = newId();
    const at = now();
    await this.db.transaction().execute(async (trx) => {
      await assertMailboxAddressFree(trx, email);
      await trx.insertInto('users').values({ id, name, is_admin: flag(input.isAdmin ?? false), incoming_filter: incomingFilter, created_at: at, updated_at: at }).execute();
      await setAddresses(trx, 'user', id, [email]);
      await trx.insertInto('mailboxes').values(newMailboxRow({ userId: id })).execute();
    }).catch(rethrowAddressConflict(email)).catch(explainConflict(`user ${email} was not created`));
    return this.get(id);
  }

  async get(id: string): Promise<User> {
    const user = (await this.fetch([id]))[0];
    if (!user) throw new NotFoundError('user', id);
    return user;
  }

  async findByEmail(email: string): Promise<User | null> {
    const row = await this.db
      .selectFrom('email_addresses')
      .select('record_id')
      .where('record_type', '=', 'user')
      .where('address_key', '=', email.trim().toLowerCase())
      .executeTakeFirst();
    return row ? this.get(row.record_id) : null;
  }

  async list(page: PageRequest & { isAdmin?: boolean | undefined }): Promise<Page<User>> {
    const limit = pageLimit(page);
    let query = this.db.selectFrom('users').select('id').orderBy('id').limit(limit + 1);
    if (page.after) query = query.where('id', '>', page.after);
    if (page.isAdmin !== undefined) query = query.where('is_admin', '=', flag(page.isAdmin));
    const ids = (await query.execute()).map((r) => r.id);
    const users = await this.fetch(ids);
    return toPage(users, limit, (u) => u);
  }

  async update(id: string, input: UserInput): Promise<User> {
    const name = cleanName(input.name, false);
    const email = cleanEmail(input.email, false);
    const incomingFilter = cleanFilter(input.incomingFilter);
    await this.db.transaction().execute(async (trx) => {
      const exists = await updateLock(trx, trx.selectFrom('users').select(['id', 'is_admin']).where('id', '=', id)).executeTakeFirst();
      if (!exists) throw new NotFoundError('user', id);
      if (input.isAdmin === false && isSet(exists.is_admin)) await assertAnotherAdmin(trx, id, 'remove their administrator role');
      await trx
        .updateTable('users')
        .set({
          ...(name !== undefined ? { name } : {}),
          ...(input.isAdmin !== undefined ? { is_admin: flag(input.isAdmin) } : {}),
          ...(incomingFilter !== undefined ? { incoming_filter: incomingFilter } : {}),
          updated_at: now(),
        })
        .where('id', '=', id)
        .execute();
      if (email !== undefined) await changeMailboxAddress(trx, 'user', id, email);
    }).catch(rethrowAddressConflict(email)).catch(explainConflict(`user ${id} was not changed`));
    return this.get(id);
  }

  /**
   * Deletes a user with their mailbox (and its alerts), their API tokens and their console sessions. Their email activities stay in the
   * CRM, no longer in a mailbox; the parties that named them keep the address, unlinked. Refused for the last
   * administrator, and while they own a queue or an email server profile, unless `transferTo` names the user
   * who takes over those, and the user's email activities too, in the same transaction.
   */
  async delete(id: string, options: { transferTo?: string | undefined } = {}): Promise<UserDeletion> {
    const transferTo = options.transferTo;
    if (transferTo === id) throw new ValidationError([{ field: 'transferTo', message: 'must be another user than the one deleted' }]);
    return this.db
      .transaction()
      .execute(async (trx) => {
        // Locked first: a queue, profile or token given to the user from now on waits for this to commit.
        const exists = await updateLock(trx, trx.selectFrom('users').select(['id', 'is_admin']).where('id', '=', id)).executeTakeFirst();
        if (!exists) throw new NotFoundError('user', id);
        if (isSet(exists.is_admin)) await assertAnotherAdmin(trx, id, 'delete them');
        const transferred: UserDeletion['transferred'] = { queues: [], profiles: [], activities: 0 };
        if (transferTo !== undefined) {
          await assertUserExists(trx, 'transferTo', transferTo);
          const at = now();
          transferred.queues = (await trx.updateTable('queues').set({ owner_id: transferTo, updated_at: at }).where('owner_id', '=', id).returning('id').execute()).map((r) => r.id);
          transferred.profiles = (
            await trx.updateTable('email_server_profiles').set({ owner_id: transferTo, updated_at: at }).where('owner_id', '=', id).returning('id').execute()
          ).map((r) => r.id);
          const activities = await trx.updateTable('email_activities').set({ owner_id: transferTo, updated_at: at }).where('owner_id', '=', id).executeTakeFirst();
          transferred.activities = Number(activities.numUpdatedRows);
        }
        await assertOwnsNothing(trx, id);
        const tokens = await trx.deleteFrom('api_tokens').where('user_id', '=', id).executeTakeFirst();
        await trx.deleteFrom('console_sessions').where('user_id', '=', id).execute();
        await deleteAddresses(trx, 'user', id);
        await unlinkParties(trx, 'user', id);
        await trx.deleteFrom('users').where('id', '=', id).execute();
        return { transferred, tokensRevoked: Number(tokens.numDeletedRows) };
      })
      .catch(async (error: unknown) => {
        // Something was given to the user after the check above (from a process that read before the lock):
        // say what, as the check would have.
        if (isForeignKeyViolation(error)) await assertOwnsNothing(this.db, id, ' (given to them while they were being deleted)');
        throw error;
      })
      .catch(explainConflict(`user ${id} was not deleted`));
  }

  private async fetch(ids: string[]): Promise<User[]> {
    if (ids.length === 0) return [];
    const rows = await this.db
      .selectFrom('users')
      .leftJoin('mailboxes', 'mailboxes.user_id', 'users.id')
      .select(['users.id', 'users.name', 'users.is_admin', 'users.incoming_filter', 'users.created_at', 'users.updated_at', 'mailboxes.id as mailbox_id'])
      .where('users.id', 'in', ids)
      .orderBy('users.id')
      .execute();
    const emails = await addressesOf(this.db, 'user', ids);
    return rows.map((row) => ({
      id: row.id,
      name: row.name,
      email: emails.get(row.id)?.[0] ?? '',
      isAdmin: isSet(row.is_admin),
      incomingFilter: row.incoming_filter as IncomingFilterOption,
      mailboxId: row.mailbox_id,
      createdAt: row.created_at,
      updatedAt: row.updated_at,
    }));
  }
}

export class QueueRepository {
  constructor(private readonly db: Kysely<Schema>) {}

  async create(input: QueueInput): Promise<Queue> {
    const name = cleanName(input.name, true)!;
    const email = cleanEmail(input.email, true)!;
    if (!input.ownerId) throw new ValidationError([{ field: 'ownerId', message: 'is required' }]);
    const incomingFilter = cleanFilter(input.incomingFilter) ?? DEFAULT_INCOMING_FILTER.queue;
    const id = newId();
    const at = now();
    await this.db.transaction().execute(async (trx) => {
      await assertUserExists(trx, 'ownerId', input.ownerId!);
      await assertMailboxAddressFree(trx, email);
      await trx.insertInto('queues').values({ id, name, owner_id: input.ownerId!, incoming_filter: incomingFilter, created_at: at, updated_at: at }).execute();
      await setAddresses(trx, 'queue', id, [email]);
      await trx.insertInto('mailboxes').values(newMailboxRow({ queueId: id })).execute();
    }).catch(rethrowAddressConflict(email)).catch(explainConflict(`queue "${name}" was not created`));
    return this.get(id);
  }

  async get(id: string): Promise<Queue> {
    const queue = (await this.fetch([id]))[0];
    if (!queue) throw new NotFoundError('queue', id);
    return queue;
  }

  async list(page: PageRequest & { ownerId?: string | undefined }): Promise<Page<Queue>> {
    const limit = pageLimit(page);
    let query = this.db.selectFrom('queues').select('id').orderBy('id').limit(limit + 1);
    if (page.after) query = query.where('id', '>', page.after);
    if (page.ownerId) query = query.where('owner_id', '=', page.ownerId);
    const ids = (await query.execute()).map((r) => r.id);
    return toPage(await this.fetch(ids), limit, (q) => q);
  }

  async update(id: string, input: QueueInput): Promise<Queue> {
    const name = cleanName(input.name, false);
    const email = cleanEmail(input.email, false);
    const incomingFilter = cleanFilter(input.incomingFilter);
    await this.db.transaction().execute(async (trx) => {
      const exists = await updateLock(trx, trx.selectFrom('queues').select('id').where('id', '=', id)).executeTakeFirst();
      if (!exists) throw new NotFoundError('queue', id);
      if (input.ownerId !== undefined) await assertUserExists(trx, 'ownerId', input.ownerId);
      await trx
        .updateTable('queues')
        .set({
          ...(name !== undefined ? { name } : {}),
          ...(input.ownerId !== undefined ? { owner_id: input.ownerId } : {}),
          ...(incomingFilter !== undefined ? { incoming_filter: incomingFilter } : {}),
          updated_at: now(),
        })
        .where('id', '=', id)
        .execute();
      if (email !== undefined) await changeMailboxAddress(trx, 'queue', id, email);
    }).catch(rethrowAddressConflict(email)).catch(explainConflict(`queue ${id} was not changed`));
    return this.get(id);
  }

  async delete(id: string): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      const deleted = await trx.deleteFrom('queues').where('id', '=', id).executeTakeFirst();
      if (deleted.numDeletedRows === 0n) throw new NotFoundError('queue', id);
      await deleteAddresses(trx, 'queue', id);
      await unlinkParties(trx, 'queue', id);
    });
  }

  private async fetch(ids: string[]): Promise<Queue[]> {
    if (ids.length === 0) return [];
    const rows = await this.db
      .selectFrom('queues')
      .leftJoin('mailboxes', 'mailboxes.queue_id', 'queues.id')
      .select(['queues.id', 'queues.name', 'queues.owner_id', 'queues.incoming_filter', 'queues.created_at', 'queues.updated_at', 'mailboxes.id as mailbox_id'])
      .where('queues.id', 'in', ids)
      .orderBy('queues.id')
      .execute();
    const emails = await addressesOf(this.db, 'queue', ids);
    return rows.map((row) => ({
      id: row.id,
      name: row.name,
      email: emails.get(row.id)?.[0] ?? '',
      ownerId: row.owner_id,
      incomingFilter: row.incoming_filter as IncomingFilterOption,
      mailboxId: row.mailbox_id,
      createdAt: row.created_at,
      updatedAt: row.updated_at,
    }));
  }
}

async function assertAnotherAdmin(db: Db, id: string, action: string): Promise<void> {
  const others = await db
    .selectFrom('users')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('is_admin', '=', 1)
    .where('id', '<>', id)
    .executeTakeFirstOrThrow();
  if (Number(others.n) === 0) throw new ConflictError(`this is the last administrator; make another user an administrator before you ${action}`);
}

/** The user exists, and (locked) stays until the change that refers to them commits. */
export async function assertUserExists(db: Db, field: string, id: string): Promise<void> {
  const user = await keyShareLock(db, db.selectFrom('users').select('id').where('id', '=', id)).executeTakeFirst();
  if (!user) throw new ValidationError([{ field, message: `no user has id ${id}` }]);
}

async function assertOwnsNothing(db: Db, id: string, how = ''): Promise<void> {
  const profiles = await db.selectFrom('email_server_profiles').select('name').where('owner_id', '=', id).execute();
  const queues = await db.selectFrom('queues').select('name').where('owner_id', '=', id).execute();
  if (profiles.length > 0 || queues.length > 0) {
    const owned = [...profiles.map((p) => `profile "${p.name}"`), ...queues.map((q) => `queue "${q.name}"`)];
    throw new ConflictError(`the user still owns ${owned.join(', ')}${how}; give them another owner first, or name one to take them over (transferTo)`);
  }
}

/** Two requests racing for one address: the unique index decides, and the loser gets the same answer. */
function rethrowAddressConflict(email: string | undefined) {
  return (error: unknown): never => {
    if (isUniqueViolation(error)) throw new ConflictError(`${email ?? 'the address'} is already the address of another user or queue`);
    throw error;
  };
}

/** What a list of tokens shows: never the token or its hash. */
export interface TokenInfo {
  id: string;
  userId: string;
  label: string | null;
  /** The token's first characters, to tell it apart; null for tokens issued before Liaison kept them. */
  prefix: string | null;
  createdAt: string;
  lastUsedAt: string | null;
}

/** `lsn_` and four of the 43 random characters: enough to recognise a token, far too few to guess the rest. */
export const TOKEN_PREFIX_LENGTH = 8;

/** API tokens: random, shown once, stored as a SHA-256 hash. */
export class TokenRepository {
  constructor(private readonly db: Kysely<Schema>) {}

  static hash(token: string): string {
    return createHash('sha256').update(token, 'utf8').digest('hex');
  }

  async issue(userId: string, label: string | null = null): Promise<{ id: string; token: string }> {
    const token = `lsn_${randomBytes(32).toString('base64url')}`;
    const id = newId();
    await this.db
      .transaction()
      .execute(async (trx) => {
        await assertUserExists(trx, 'userId', userId);
        await trx
          .insertInto('api_tokens')
          .values({
            id,
            user_id: userId,
            token_hash: TokenRepository.hash(token),
            token_prefix: token.slice(0, TOKEN_PREFIX_LENGTH),
            label,
            created_at: now(),
            last_used_at: null,
          })
          .execute();
      })
      .catch(explainConflict(`no token was issued for user ${userId}`));
    return { id, token };
  }

  /** The user a token belongs to, or null. Records the use at most once a minute per token. */
  async authenticate(token: string): Promise<User | null> {
    const row = await this.db
      .selectFrom('api_tokens')
      .select(['id', 'user_id', 'last_used_at'])
      .where('token_hash', '=', TokenRepository.hash(token))
      .executeTakeFirst();
    if (!row) return null;
    const at = now();
    if (!row.last_used_at || Date.parse(at) - Date.parse(row.last_used_at) > 60_000) {
      await this.db.updateTable('api_tokens').set({ last_used_at: at }).where('id', '=', row.id).execute();
    }
    return new UserRepository(this.db).get(row.user_id);
  }

  /** A user's tokens, oldest first. */
  async list(userId: string, page: PageRequest = {}): Promise<Page<TokenInfo>> {
    const limit = pageLimit(page);
    await new UserRepository(this.db).get(userId);
    let query = this.db
      .selectFrom('api_tokens')
      .select(['id', 'user_id', 'label', 'token_prefix', 'created_at', 'last_used_at'])
      .where('user_id', '=', userId)
      .orderBy('id')
      .limit(limit + 1);
    if (page.after) query = query.where('id', '>', page.after);
    return toPage(await query.execute(), limit, (row) => ({
      id: row.id,
      userId: row.user_id,
      label: row.label,
      prefix: row.token_prefix,
      createdAt: row.created_at,
      lastUsedAt: row.last_used_at,
    }));
  }

  /** Revokes one of the user's tokens: it stops working at once. */
  async revoke(userId: string, tokenId: string): Promise<void> {
    const result = await this.db.deleteFrom('api_tokens').where('id', '=', tokenId).where('user_id', '=', userId).executeTakeFirst();
    if (result.numDeletedRows === 0n) throw new NotFoundError('API token', tokenId);
  }

  async revokeAll(userId: string): Promise<number> {
    const result = await this.db.deleteFrom('api_tokens').where('user_id', '=', userId).executeTakeFirst();
    return Number(result.numDeletedRows);
  }
}
