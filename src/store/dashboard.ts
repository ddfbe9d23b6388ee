/**
 * The console's dashboard: how the mailboxes are doing, how much email is being tracked, what waits to be sent.
 * A handful of aggregate queries, each bounded by an index or by the number of mailboxes (never by all the email
 * ever tracked), so the live view can recompute it every few seconds.
 */
import { type ExpressionBuilder, type Kysely, sql } from 'kysely';
import type { SyncMethod, SyncStatus } from '../domain/mailbox.js';
import { flag, isSet } from './common.js';
import { mailboxesOwnedBy, selectMailboxes } from './mailboxes.js';
import type { Schema } from './schema.js';
import { SESSION_LIMITS } from './sessions.js';

/** What the dashboard counts a mailbox as. */
export const DASHBOARD_STATUSES = ['success', 'failure', 'not-run', 'disabled'] as const;
export type DashboardStatus = (typeof DASHBOARD_STATUSES)[number];

/**
 * One status per mailbox: disabled when it is not enabled; otherwise only the directions it synchronizes
 * (method server-side-sync) count: failure when one of them failed, success when all of them succeeded, and
 * not-run when one has not run yet.
 */
export function dashboardStatus(m: {
  enabled: boolean;
  incomingMethod: SyncMethod;
  outgoingMethod: SyncMethod;
  incomingStatus: SyncStatus;
  outgoingStatus: SyncStatus;
}): DashboardStatus {
  if (!m.enabled) return 'disabled';
  const synced: SyncStatus[] = [];
  if (m.incomingMethod === 'server-side-sync') synced.push(m.incomingStatus);
  if (m.outgoingMethod === 'server-side-sync') synced.push(m.outgoingStatus);
  if (synced.includes('failure')) return 'failure';
  if (synced.length > 0 && synced.every((s) => s === 'success')) return 'success';
  return 'not-run';
}

/** Whose dashboard: everything (an administrator), or the mailboxes one user owns (their own, their queues'). */
export type DashboardScope = { all: true } | { ownerId: string };

export interface StatusCounts {
  success: number;
  failure: number;
  notRun: number;
  disabled: number;
}

export interface ProfileStatusRow {
  /** null: the mailboxes with no profile. */
  profileId: string | null;
  profileName: string | null;
  total: number;
  counts: StatusCounts;
}

export interface FailingMailbox {
  id: string;
  name: string;
  emailAddress: string;
  profileId: string | null;
  profileName: string | null;
  consecutiveFailures: number;
  lastError: string | null;
  lastSuccessAt: string | null;
  lastFailureAt: string | null;
}

export interface OldestUnsynced {
  id: string;
  name: string;
  emailAddress: string;
  profileId: string | null;
  profileName: string | null;
  lastSuccessAt: string | null;
  /** What the age counts from: the last success, or (never synced) the last Test & Enable, or the mailbox's creation. */
  since: string;
  ageMs: number;
}

export interface Dashboard {
  generatedAt: string;
  totals: {
    mailboxes: number;
    enabled: number;
    failing: number;
    /** Incoming email recorded since 00:00 UTC today. */
    trackedToday: number;
    /** The sum of trackedPerHour. */
    trackedLast24Hours: number;
  };
  profiles: ProfileStatusRow[];
  failing: FailingMailbox[];
  trackedPerHour: Array<{ hour: string; count: number }>;
  oldestUnsynced: OldestUnsynced | null;
  pendingSend: {
    /** pending-send and sending together. */
    count: number;
    sending: number;
    oldestSince: string | null;
    oldestAgeMs: number | null;
    deliveryUncertain: number;
  };
}

export const DASHBOARD_LIMITS = { failing: 20, hours: 24 } as const;

const HOUR_MS = 3_600_000;

/**
 * Record ids are UUIDv7, whose first 48 bits are the creation time in milliseconds: the smallest id minted at
 * `ms` bounds a time range on the primary key's index. Callers keep an exact test on created_at as well.
 */
export function idFloor(ms: number): string {
  const hex = Math.max(0, Math.floor(ms)).toString(16).padStart(12, '0').slice(-12);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-0000-0000-000000000000`;
}

/** The index range starts this much earlier than the time asked for: an id may be minted a moment before its created_at. */
const ID_MARGIN_MS = HOUR_MS;

function failingCondition(eb: ExpressionBuilder<Schema & { m: Schema['mailboxes'] }, 'm'>) {
  return eb.and([
    eb('m.enabled', '=', flag(true)),
    eb.or([
      eb.and([eb('m.incoming_method', '=', 'server-side-sync'), eb('m.incoming_status', '=', 'failure')]),
      eb.and([eb('m.outgoing_method', '=', 'server-side-sync'), eb('m.outgoing_status', '=', 'failure')]),
    ]),
  ]);
}

export class DashboardQueries {
  constructor(private readonly db: Kysely<Schema>) {}

  async compute(scope: DashboardScope, at: Date = new Date()): Promise<Dashboard> {
    const [profiles, failing, tracked, oldestUnsynced, pendingSend] = await Promise.all([
      this.profileRows(scope),
      this.failing(scope),
      this.tracked(scope, at),
      this.oldestUnsynced(scope, at),
      this.pendingSend(scope, at),
    ]);
    const sum = (pick: (r: ProfileStatusRow) => number) => profiles.reduce((n, r) => n + pick(r), 0);
    return {
      generatedAt: at.toISOString(),
      totals: {
        mailboxes: sum((r) => r.total),
        enabled: sum((r) => r.total - r.counts.disabled),
        failing: sum((r) => r.counts.failure),
        trackedToday: tracked.today,
        trackedLast24Hours: tracked.perHour.reduce((n, b) => n + b.count, 0),
      },
      profiles,
      failing,
      trackedPerHour: tracked.perHour,
      oldestUnsynced,
      pendingSend,
    };
  }

  /**
   * The user of a console session that is still open at `at`, or null; unlike signing in with the cookie it does
   * not move the session's idle expiry: a dashboard left open is not someone using the console.
   */
  async sessionUser(sessionId: string, at: Date = new Date()): Promise<string | null> {
    const row = await this.db.selectFrom('console_sessions').select(['user_id', 'created_at', 'expires_at']).where('id', '=', sessionId).executeTakeFirst();
    if (!row) return null;
    const ms = at.getTime();
    if (Date.parse(row.expires_at) <= ms || Date.parse(row.created_at) + SESSION_LIMITS.absoluteMs <= ms) return null;
    return row.user_id;
  }

  /** Restricts a query over `mailboxes as m` to the scope. */
  private mailboxScope(scope: DashboardScope) {
    return (eb: ExpressionBuilder<Schema & { m: Schema['mailboxes'] }, 'm'>) =>
      'ownerId' in scope ? eb('m.id', 'in', mailboxesOwnedBy(this.db, scope.ownerId)) : eb.lit(true);
  }

  /** Activities the scope may see, as the email activities API decides (store/activities.ts visibleTo). */
  private activityScope(scope: DashboardScope) {
    return (eb: ExpressionBuilder<Schema, 'email_activities'>) => {
      if (!('ownerId' in scope)) return eb.lit(true);
      const owned = mailboxesOwnedBy(this.db, scope.ownerId);
      return eb.or([
        eb('email_activities.mailbox_id', 'in', owned),
        eb('email_activities.id', 'in', this.db.selectFrom('activity_mailboxes').select('activity_mailboxes.activity_id').where('activity_mailboxes.mailbox_id', 'in', owned)),
        eb.and([eb('email_activities.mailbox_id', 'is', null), eb('email_activities.owner_id', '=', scope.ownerId)]),
      ]);
    };
  }

  private async profileRows(scope: DashboardScope): Promise<ProfileStatusRow[]> {
    const rows = await this.db
      .selectFrom('mailboxes as m')
      .leftJoin('email_server_profiles as p', 'p.id', 'm.profile_id')
      .select(['m.profile_id', 'p.name', 'm.enabled', 'm.incoming_method', 'm.outgoing_method', 'm.incoming_status', 'm.outgoing_status'])
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where(this.mailboxScope(scope))
      .groupBy(['m.profile_id', 'p.name', 'm.enabled', 'm.incoming_method', 'm.outgoing_method', 'm.incoming_status', 'm.outgoing_status'])
      .execute();
    const byProfile = new Map<string | null, ProfileStatusRow>();
    const entry = (profileId: string | null, profileName: string | null) => {
      let found = byProfile.get(profileId);
      if (!found) {
        found = { profileId, profileName, total: 0, counts: { success: 0, failure: 0, notRun: 0, disabled: 0 } };
        byProfile.set(profileId, found);
      }
      return found;
    };
    // An administrator sees every profile, those without mailboxes too.
    if (!('ownerId' in scope)) {
      for (const p of await this.db.selectFrom('email_server_profiles').select(['id', 'name']).execute()) entry(p.id, p.name);
    }
    for (const r of rows) {
      const target = entry(r.profile_id, r.name);
      const n = Number(r.n);
      const status = dashboardStatus({
        enabled: isSet(r.enabled),
        incomingMethod: r.incoming_method as SyncMethod,
        outgoingMethod: r.outgoing_method as SyncMethod,
        incomingStatus: r.incoming_status as SyncStatus,
        outgoingStatus: r.outgoing_status as SyncStatus,
      });
      target.total += n;
      target.counts[status === 'not-run' ? 'notRun' : status] += n;
    }
    // By name; the mailboxes without a profile last.
    return [...byProfile.values()].sort((a, b) =>
      a.profileId === null ? 1 : b.profileId === null ? -1 : (a.profileName ?? '').localeCompare(b.profileName ?? '') || a.profileId.localeCompare(b.profileId),
    );
  }

  private async failing(scope: DashboardScope): Promise<FailingMailbox[]> {
    const rows = await selectMailboxes(this.db)
      .leftJoin('email_server_profiles as p', 'p.id', 'm.profile_id')
      .select('p.name as profile_name')
      .where(this.mailboxScope(scope))
      .where(failingCondition)
      .orderBy('m.consecutive_failures', 'desc')
      // Never succeeded sorts first (as the oldest) on both databases, which order NULLs differently.
      .orderBy(sql`coalesce(m.last_success_at, '')`)
      .orderBy('m.id')
      .limit(DASHBOARD_LIMITS.failing)
      .execute();
    return rows.map((r) => ({
      id: r.id,
      name: r.name ?? '',
      emailAddress: r.email_address ?? '',
      profileId: r.profile_id,
      profileName: r.profile_name,
      consecutiveFailures: r.consecutive_failures,
      lastError: r.last_error,
      lastSuccessAt: r.last_success_at,
      lastFailureAt: r.last_failure_at,
    }));
  }

  /**
   * Incoming email activities by the hour Liaison recorded them (created_at), over the last 24 hours counting
   * the current one, and since midnight UTC. One email received by several mailboxes is one activity.
   */
  private async tracked(scope: DashboardScope, at: Date): Promise<{ perHour: Array<{ hour: string; count: number }>; today: number }> {
    const currentHour = Math.floor(at.getTime() / HOUR_MS) * HOUR_MS;
    const firstHour = currentHour - (DASHBOARD_LIMITS.hours - 1) * HOUR_MS;
    const midnight = Date.UTC(at.getUTCFullYear(), at.getUTCMonth(), at.getUTCDate());
    const from = Math.min(firstHour, midnight);
    const hourOf = sql<string>`substr(email_activities.created_at, 1, 13)`;
    const rows = await this.db
      .selectFrom('email_activities')
      .select([hourOf.as('hour'), (eb) => eb.fn.countAll<number>().as('n')])
      .where('email_activities.id', '>=', idFloor(from - ID_MARGIN_MS))
      .where('email_activities.created_at', '>=', new Date(from).toISOString())
      .where('email_activities.direction', '=', 'incoming')
      .where(this.activityScope(scope))
      .groupBy(hourOf)
      .execute();
    const counts = new Map(rows.map((r) => [r.hour, Number(r.n)]));
    const perHour: Array<{ hour: string; count: number }> = [];
    for (let hour = firstHour; hour <= currentHour; hour += HOUR_MS) {
      const iso = new Date(hour).toISOString();
      perHour.push({ hour: iso, count: counts.get(iso.slice(0, 13)) ?? 0 });
    }
    let today = 0;
    for (const [hour, n] of counts) if (Date.parse(`${hour}:00:00.000Z`) >= midnight) today += n;
    return { perHour, today };
  }

  /** The enabled mailbox whose last successful sync is the oldest; one that never synced comes first. */
  private async oldestUnsynced(scope: DashboardScope, at: Date): Promise<OldestUnsynced | null> {
    const row = await selectMailboxes(this.db)
      .leftJoin('email_server_profiles as p', 'p.id', 'm.profile_id')
      .select('p.name as profile_name')
      .where(this.mailboxScope(scope))
      .where('m.enabled', '=', flag(true))
      .orderBy(sql`coalesce(m.last_success_at, '')`)
      .orderBy(sql`coalesce(m.last_test_at, m.created_at)`)
      .orderBy('m.id')
      .limit(1)
      .executeTakeFirst();
    if (!row) return null;
    const since = row.last_success_at ?? row.last_test_at ?? row.created_at;
    return {
      id: row.id,
      name: row.name ?? '',
      emailAddress: row.email_address ?? '',
      profileId: row.profile_id,
      profileName: row.profile_name,
      lastSuccessAt: row.last_success_at,
      since,
      ageMs: Math.max(0, at.getTime() - Date.parse(since)),
    };
  }

  /** Email waiting to be sent (pending-send, sending), waiting since its last change; and the uncertain deliveries. */
  private async pendingSend(scope: DashboardScope, at: Date): Promise<Dashboard['pendingSend']> {
    const rows = await this.db
      .selectFrom('email_activities')
      .select(['email_activities.status', (eb) => eb.fn.countAll<number>().as('n'), (eb) => eb.fn.min('email_activities.updated_at').as('oldest')])
      .where('email_activities.status', 'in', ['pending-send', 'sending', 'delivery-uncertain'])
      .where(this.activityScope(scope))
      .groupBy('email_activities.status')
      .execute();
    const of = (status: string) => rows.find((r) => r.status === status);
    const waiting = [of('pending-send'), of('sending')].filter((r) => r !== undefined);
    const oldest = waiting.map((r) => r.oldest as string).sort()[0] ?? null;
    return {
      count: waiting.reduce((n, r) => n + Number(r.n), 0),
      sending: Number(of('sending')?.n ?? 0),
      oldestSince: oldest,
      oldestAgeMs: oldest === null ? null : Math.max(0, at.getTime() - Date.parse(oldest)),
      deliveryUncertain: Number(of('delivery-uncertain')?.n ?? 0),
    };
  }
}

/** The dashboard without what changes by the clock alone (its time, the ages): equal when nothing happened. */
export function dashboardFingerprint(d: Dashboard): string {
  return JSON.stringify({
    ...d,
    generatedAt: null,
    oldestUnsynced: d.oldestUnsynced ? { ...d.oldestUnsynced, ageMs: null } : null,
    pendingSend: { ...d.pendingSend, oldestAgeMs: null },
  });
}

