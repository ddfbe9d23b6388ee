/** Alerts raised for profiles, mailboxes and emails. */
import type { Kysely } from 'kysely';
import type { AlertInput, AlertLevel, AlertScope } from '../domain/alert.js';
import { NotFoundError } from '../domain/errors.js';
import { newId } from '../domain/ids.js';
import { type Db, now, type Page, type PageRequest, pageLimit, toPage } from './common.js';
import { mailboxesOwnedBy } from './mailboxes.js';
import type { AlertsTable, Schema } from './schema.js';

export interface Alert {
  id: string;
  level: AlertLevel;
  scope: AlertScope;
  profileId: string | null;
  mailboxId: string | null;
  activityId: string | null;
  code: string;
  message: string;
  serverResponse: string | null;
  fix: string | null;
  createdAt: string;
}

export interface AlertFilter extends PageRequest {
  profileId?: string | undefined;
  mailboxId?: string | undefined;
  level?: AlertLevel | undefined;
  scope?: AlertScope | undefined;
  /** Only alerts of mailboxes this user owns (their own, their queues'). */
  visibleTo?: string | undefined;
}

function toAlert(row: AlertsTable): Alert {
  return {
    id: row.id,
    level: row.level as AlertLevel,
    scope: row.scope as AlertScope,
    profileId: row.profile_id,
    mailboxId: row.mailbox_id,
    activityId: row.activity_id,
    code: row.code,
    message: row.message,
    serverResponse: row.server_response,
    fix: row.fix,
    createdAt: row.created_at,
  };
}

export class AlertRepository {
  constructor(private readonly db: Kysely<Schema>) {}

  async raise(input: AlertInput, db: Db = this.db): Promise<Alert> {
    const row: AlertsTable = {
      id: newId(),
      level: input.level,
      scope: input.scope,
      profile_id: input.profileId ?? null,
      mailbox_id: input.mailboxId ?? null,
      activity_id: input.activityId ?? null,
      code: input.code,
      message: input.message,
      server_response: input.serverResponse ?? null,
      fix: input.fix ?? null,
      created_at: now(),
    };
    await db.insertInto('alerts').values(row).execute();
    return toAlert(row);
  }

  async get(id: string): Promise<Alert> {
    const row = await this.db.selectFrom('alerts').selectAll().where('id', '=', id).executeTakeFirst();
    if (!row) throw new NotFoundError('alert', id);
    return toAlert(row);
  }

  /** Newest first. */
  async list(filter: AlertFilter): Promise<Page<Alert>> {
    const limit = pageLimit(filter);
    let query = this.db.selectFrom('alerts').selectAll().orderBy('id', 'desc').limit(limit + 1);
    if (filter.after) query = query.where('id', '<', filter.after);
    if (filter.profileId) query = query.where('profile_id', '=', filter.profileId);
    if (filter.mailboxId) query = query.where('mailbox_id', '=', filter.mailboxId);
    if (filter.level) query = query.where('level', '=', filter.level);
    if (filter.scope) query = query.where('scope', '=', filter.scope);
    if (filter.visibleTo) query = query.where('mailbox_id', 'in', mailboxesOwnedBy(this.db, filter.visibleTo));
    return toPage(await query.execute(), limit, toAlert);
  }
}
