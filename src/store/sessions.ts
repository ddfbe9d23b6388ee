/**
 * Signing in to the web console: passwords with a lock-out after failures, sessions, and the one-time setup
 * links that give the first administrator a password.
 *
 * A session's secret lives only in the browser's cookie; the database holds its SHA-256. The session's CSRF
 * token is derived from the secret (HMAC-SHA256(secret, "csrf")), so the server can hand it out again after a
 * reload without storing it, and no one without the cookie's secret can compute it.
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Kysely } from 'kysely';
import { sql } from 'kysely';
import { NotFoundError, TooManyAttemptsError, UnauthorizedError, ValidationError } from '../domain/errors.js';
import { flag } from './common.js';
import { explainConflict } from './errors.js';
import { checkPasswordRules, dummyHash, hashPassword, verifyPassword } from './passwords.js';
import type { Schema } from './schema.js';
import type { User, UserRepository } from './users.js';

export const SESSION_LIMITS = {
  /** A session not used for this long ends. */
  idleMs: 12 * 60 * 60 * 1000,
  /** No session lasts longer than this from its sign-in, however much it is used. */
  absoluteMs: 7 * 24 * 60 * 60 * 1000,
  /** Use moves the idle expiry forward, writing at most once in this long. */
  touchEveryMs: 60 * 1000,
  /** Failed sign-ins in a row that lock an account... */
  maxFailedLogins: 5,
  /** ...for this long. */
  lockMs: 15 * 60 * 1000,
  /** How long a setup link stays valid. */
  setupTokenMs: 24 * 60 * 60 * 1000,
} as const;

/** What every refused sign-in says, so that it does not tell an unknown address from a wrong password. */
export const BAD_CREDENTIALS = 'The email address or the password is wrong';

export interface ConsoleSession {
  /** SHA-256 (hex) of the secret. */
  id: string;
  userId: string;
  createdAt: string;
  lastSeenAt: string;
  expiresAt: string;
  /** The session's CSRF token (derived from the secret; never stored). */
  csrfToken: string;
}

/** A session just created: the secret is for the cookie and is not kept. */
export interface NewSession {
  secret: string;
  csrfToken: string;
  expiresAt: string;
  session: ConsoleSession;
}

export type SetupMode = 'create-admin' | 'set-password';

export interface SetupState {
  /** True while no administrator has a password (no one can sign in to administer Liaison). */
  needed: boolean;
  /** create-admin: there is no administrator at all; set-password: there are, none with a password. */
  mode: SetupMode | null;
}

export interface SetupInput {
  token: string;
  password: string;
  email?: string | undefined;
  name?: string | undefined;
}

const sha256 = (text: string): string => createHash('sha256').update(text, 'utf8').digest('hex');
const randomSecret = (): string => randomBytes(32).toString('base64url');

function sameText(a: string, b: string): boolean {
  const x = Buffer.from(a, 'utf8');
  const y = Buffer.from(b, 'utf8');
  return x.length === y.length && timingSafeEqual(x, y);
}

const lockedMessage = (seconds: number): string =>
  `Too many failed sign-ins: this account is locked for ${Math.ceil(seconds / 60)} more minute${Math.ceil(seconds / 60) === 1 ? '' : 's'}. ` +
  'Try again later, or have an administrator set a new password (`liaison user password`)';

const SETUP_TOKEN_REFUSED =
  'This setup link is not valid: it was already used, it expired (links last 24 hours) or it never existed. ' +
  'Restart Liaison for a new link, or set a password with `liaison user password --email <address>`';

export class SessionRepository {
  constructor(
    private readonly db: Kysely<Schema>,
    private readonly users: UserRepository,
    /** The time; tests move it. */
    private readonly clock: () => Date = () => new Date(),
  ) {}

  static hash(secret: string): string {
    return sha256(secret);
  }

  static csrfFor(secret: string): string {
    return createHmac('sha256', secret).update('csrf').digest('base64url');
  }

  private nowMs(): number {
    return this.clock().getTime();
  }

  // ---- sessions ----

  /** Starts a session for the user. */
  async create(userId: string): Promise<NewSession> {
    const secret = randomSecret();
    const at = this.nowMs();
    const row = {
      id: SessionRepository.hash(secret),
      user_id: userId,
      created_at: new Date(at).toISOString(),
      last_seen_at: new Date(at).toISOString(),
      expires_at: new Date(at + Math.min(SESSION_LIMITS.idleMs, SESSION_LIMITS.absoluteMs)).toISOString(),
    };
    // Ended sessions are deleted when next seen; those never seen again go here.
    await this.db.deleteFrom('console_sessions').where('expires_at', '<=', row.created_at).execute();
    await this.db.insertInto('console_sessions').values(row).execute().catch(explainConflict(`no session was started for user ${userId}`));
    const csrfToken = SessionRepository.csrfFor(secret);
    return { secret, csrfToken, expiresAt: row.expires_at, session: this.sessionOf(row, csrfToken) };
  }

  /** The user and session a cookie's secret stands for, or null (an ended session is deleted). */
  async authenticate(secret: string): Promise<{ user: User; session: ConsoleSession } | null> {
    if (typeof secret !== 'string' || secret.length === 0 || secret.length > 256) return null;
    const id = SessionRepository.hash(secret);
    const row = await this.db.selectFrom('console_sessions').selectAll().where('id', '=', id).executeTakeFirst();
    if (!row) return null;
    const at = this.nowMs();
    const absolute = Date.parse(row.created_at) + SESSION_LIMITS.absoluteMs;
    if (Date.parse(row.expires_at) <= at || absolute <= at) {
      await this.db.deleteFrom('console_sessions').where('id', '=', id).execute();
      return null;
    }
    let user: User;
    try {
      user = await this.users.get(row.user_id);
    } catch (error) {
      if (error instanceof NotFoundError) return null;
      throw error;
    }
    if (at - Date.parse(row.last_seen_at) >= SESSION_LIMITS.touchEveryMs) {
      row.last_seen_at = new Date(at).toISOString();
      row.expires_at = new Date(Math.min(at + SESSION_LIMITS.idleMs, absolute)).toISOString();
      await this.db.updateTable('console_sessions').set({ last_seen_at: row.last_seen_at, expires_at: row.expires_at }).where('id', '=', id).execute();
    }
    return { user, session: this.sessionOf(row, SessionRepository.csrfFor(secret)) };
  }

  /** True when the token is the session's CSRF token. */
  checkCsrf(session: ConsoleSession, token: string | undefined | null): boolean {
    return typeof token === 'string' && token.length > 0 && sameText(token, session.csrfToken);
  }

  /** Ends the session the secret stands for (nothing happens for an unknown one). */
  async revoke(secret: string): Promise<void> {
    await this.db.deleteFrom('console_sessions').where('id', '=', SessionRepository.hash(secret)).execute();
  }

  /** Ends every session of the user, but the one named; answers how many ended. */
  async revokeAllFor(userId: string, exceptSessionId?: string): Promise<number> {
    let query = this.db.deleteFrom('console_sessions').where('user_id', '=', userId);
    if (exceptSessionId !== undefined) query = query.where('id', '!=', exceptSessionId);
    return Number((await query.executeTakeFirst()).numDeletedRows);
  }

  private sessionOf(row: { id: string; user_id: string; created_at: string; last_seen_at: string; expires_at: string }, csrfToken: string): ConsoleSession {
    return { id: row.id, userId: row.user_id, createdAt: row.created_at, lastSeenAt: row.last_seen_at, expiresAt: row.expires_at, csrfToken };
  }

  // ---- passwords ----

  /**
   * Signs in with an address and a password: a new session, or UnauthorizedError (the same message for an
   * unknown address and a wrong password, after the same work), or TooManyAttemptsError while the account is
   * locked, even for the right password.
   */
  async login(email: string, password: string): Promise<{ user: User; session: NewSession }> {
    const user = await this.users.findByEmail(email);
    const row = user ? await this.credentialsOf(user.id) : undefined;
    if (!user || !row?.password_hash) {
      await verifyPassword(password, await dummyHash());
      throw new UnauthorizedError(BAD_CREDENTIALS);
    }
    this.assertNotLocked(row.locked_until);
    if (!(await verifyPassword(password, row.password_hash))) {
      await this.recordFailure(user.id);
      throw new UnauthorizedError(BAD_CREDENTIALS);
    }
    await this.recordSuccess(user.id, row.failed_logins);
    return { user, session: await this.create(user.id) };
  }

  /** True when the user has a password (can sign in to the console). */
  async hasPassword(userId: string): Promise<boolean> {
    return Boolean((await this.credentialsOf(userId))?.password_hash);
  }

  /**
   * Checks a user's current password before a change; a wrong one counts toward the lock-out like a failed
   * sign-in. A user without a password has nothing to check.
   */
  async checkCurrentPassword(userId: string, password: string | undefined, field = 'currentPassword'): Promise<void> {
    const row = await this.credentialsOf(userId);
    if (!row) throw new NotFoundError('user', userId);
    if (!row.password_hash) return;
    this.assertNotLocked(row.locked_until);
    if (password === undefined || password === '') throw new ValidationError([{ field, message: 'is required: send your current password' }]);
    if (!(await verifyPassword(password, row.password_hash))) {
      await this.recordFailure(userId);
      throw new ValidationError([{ field, message: 'is not your current password' }]);
    }
    await this.recordSuccess(userId, row.failed_logins);
  }

  /**
   * Sets a user's password (it must meet the rules), lifts any lock, and ends the user's sessions but the one
   * named (the one the change was made from).
   */
  async setPassword(userId: string, password: string, options: { keepSessionId?: string | undefined } = {}): Promise<{ sessionsEnded: number }> {
    checkPasswordRules(password);
    const hash = await hashPassword(password);
    const result = await this.db
      .updateTable('users')
      .set({ password_hash: hash, failed_logins: 0, locked_until: null })
      .where('id', '=', userId)
      .executeTakeFirst();
    if (result.numUpdatedRows === 0n) throw new NotFoundError('user', userId);
    return { sessionsEnded: await this.revokeAllFor(userId, options.keepSessionId) };
  }

  private credentialsOf(userId: string) {
    return this.db.selectFrom('users').select(['password_hash', 'failed_logins', 'locked_until']).where('id', '=', userId).executeTakeFirst();
  }

  private assertNotLocked(lockedUntil: string | null): void {
    if (!lockedUntil) return;
    const left = Date.parse(lockedUntil) - this.nowMs();
    if (left > 0) {
      const seconds = Math.max(1, Math.ceil(left / 1000));
      throw new TooManyAttemptsError(lockedMessage(seconds), seconds);
    }
  }

  /** One more failure in a row; the one that reaches the limit locks the account (and starts the count over). */
  private async recordFailure(userId: string): Promise<void> {
    const until = new Date(this.nowMs() + SESSION_LIMITS.lockMs).toISOString();
    const max = SESSION_LIMITS.maxFailedLogins;
    const row = await this.db
      .updateTable('users')
      .set({
        failed_logins: sql<number>`case when failed_logins + 1 >= ${max} then 0 else failed_logins + 1 end`,
        locked_until: sql<string | null>`case when failed_logins + 1 >= ${max} then ${until} else locked_until end`,
      })
      .where('id', '=', userId)
      .returning('locked_until')
      .executeTakeFirst();
    if (row?.locked_until === until) this.assertNotLocked(until);
  }

  private async recordSuccess(userId: string, failedLogins: number): Promise<void> {
    if (failedLogins === 0) return;
    await this.db.updateTable('users').set({ failed_logins: 0, locked_until: null }).where('id', '=', userId).execute();
  }

  // ---- the first administrator's password ----

  /** Whether an administrator can sign in yet, and if not, what the setup page must ask for. */
  async setupState(): Promise<SetupState> {
    const admins = await this.db.selectFrom('users').select(['id', 'password_hash']).where('is_admin', '=', flag(true)).execute();
    if (admins.length === 0) return { needed: true, mode: 'create-admin' };
    if (admins.some((a) => a.password_hash)) return { needed: false, mode: null };
    return { needed: true, mode: 'set-password' };
  }

  /** While no administrator can sign in, a one-time setup token valid 24 hours (only its hash is stored); else null. */
  async issueSetupToken(): Promise<string | null> {
    if (!(await this.setupState()).needed) return null;
    const token = randomSecret();
    const at = this.nowMs();
    await this.db.deleteFrom('console_setup_tokens').where((eb) => eb.or([eb('expires_at', '<=', new Date(at).toISOString()), eb('used_at', 'is not', null)])).execute();
    await this.db
      .insertInto('console_setup_tokens')
      .values({ id: sha256(token), created_at: new Date(at).toISOString(), expires_at: new Date(at + SESSION_LIMITS.setupTokenMs).toISOString(), used_at: null })
      .execute();
    return token;
  }

  /**
   * Uses a setup token: creates the first administrator (no administrator yet: email and name required) or sets
   * the password of an administrator without one (email names them; optional when there is only one), and
   * signs them in. The token works once.
   */
  async completeSetup(input: SetupInput): Promise<{ user: User; session: NewSession }> {
    checkPasswordRules(input.password);
    const tokenId = sha256(input.token);
    const nowIso = new Date(this.nowMs()).toISOString();
    const valid = await this.db
      .selectFrom('console_setup_tokens')
      .select('id')
      .where('id', '=', tokenId)
      .where('used_at', 'is', null)
      .where('expires_at', '>', nowIso)
      .executeTakeFirst();
    if (!valid) throw new UnauthorizedError(SETUP_TOKEN_REFUSED);
    const state = await this.setupState();
    if (!state.needed) {
      throw new ValidationError('An administrator can already sign in, so this setup link is no longer needed: sign in, or set a password with `liaison user password`');
    }
    let existing: User | null = null;
    if (state.mode === 'create-admin') {
      const problems = [];
      if (!input.email) problems.push({ field: 'email', message: 'is required: there is no administrator yet, and this one is created with it' });
      if (!input.name) problems.push({ field: 'name', message: 'is required: there is no administrator yet, and this one is created with it' });
      if (problems.length > 0) throw new ValidationError(problems);
    } else {
      existing = await this.adminWithoutPassword(input.email);
    }
    const hash = await hashPassword(input.password);
    const consumed = await this.db
      .updateTable('console_setup_tokens')
      .set({ used_at: nowIso })
      .where('id', '=', tokenId)
      .where('used_at', 'is', null)
      .where('expires_at', '>', nowIso)
      .executeTakeFirst();
    if (consumed.numUpdatedRows === 0n) throw new UnauthorizedError(SETUP_TOKEN_REFUSED);
    try {
      const user = existing ?? (await this.users.create({ email: input.email, name: input.name, isAdmin: true }));
      await this.db.updateTable('users').set({ password_hash: hash, failed_logins: 0, locked_until: null }).where('id', '=', user.id).execute();
      return { user, session: await this.create(user.id) };
    } catch (error) {
      // Nothing was set up: the link may be used again (with, say, an address that is free).
      await this.db.updateTable('console_setup_tokens').set({ used_at: null }).where('id', '=', tokenId).execute();
      throw error;
    }
  }

  private async adminWithoutPassword(email: string | undefined): Promise<User> {
    if (email !== undefined) {
      const user = await this.users.findByEmail(email);
      if (!user || !user.isAdmin || (await this.hasPassword(user.id))) {
        throw new ValidationError([{ field: 'email', message: 'must be the address of an administrator who has no password yet' }]);
      }
      return user;
    }
    const admins = await this.db
      .selectFrom('users')
      .select('id')
      .where('is_admin', '=', flag(true))
      .where('password_hash', 'is', null)
      .limit(2)
      .execute();
    if (admins.length !== 1) {
      throw new ValidationError([{ field: 'email', message: 'is required: several administrators have no password yet; name the one whose password this sets' }]);
    }
    return this.users.get(admins[0]!.id);
  }
}
