import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { TooManyAttemptsError, UnauthorizedError, ValidationError } from '../src/domain/errors.js';
import { checkPasswordRules, hashPassword, verifyPassword } from '../src/store/passwords.js';
import { SESSION_LIMITS, SessionRepository } from '../src/store/sessions.js';
import type { User } from '../src/store/users.js';
import { DATABASES, type TestStore } from './helpers/stores.js';

describe('console passwords', () => {
  test('a hash names its parameters, is salted, and verifies only its own password', async () => {
    const hash = await hashPassword('a good long password');
    assert.match(hash, /^scrypt\$32768\$8\$1\$[A-Za-z0-9+/]{22}==\$[A-Za-z0-9+/]{43}=$/);
    assert.notEqual(await hashPassword('a good long password'), hash, 'a new salt each time');
    assert.equal(await verifyPassword('a good long password', hash), true);
    assert.equal(await verifyPassword('a good long passwore', hash), false);
    assert.equal(await verifyPassword('', hash), false);
  });

  test('a malformed stored hash verifies false, never throws', async () => {
    const good = await hashPassword('a good long password');
    const parts = good.split('$');
    for (const stored of [
      '',
      'plaintext',
      'scrypt$32768$8$1$onlysalt',
      `bcrypt$${parts.slice(1).join('$')}`,
      ['scrypt', '1000', ...parts.slice(2)].join('$'), // N not a power of two
      ['scrypt', String(2 ** 30), ...parts.slice(2)].join('$'), // N far too large to be ours
      [...parts.slice(0, 4), 'not base64!', parts[5]].join('$'),
      [...parts.slice(0, 5), 'AAAA'].join('$'), // key too short
    ]) {
      assert.equal(await verifyPassword('a good long password', stored), false, stored);
    }
  });

  test('rules: 12 to 1024 characters, not only spaces', () => {
    const field = (f: () => void) => {
      try {
        f();
      } catch (error) {
        assert.ok(error instanceof ValidationError);
        return error.problems[0]!.field;
      }
      return null;
    };
    assert.equal(field(() => checkPasswordRules('x'.repeat(11))), 'password');
    assert.equal(field(() => checkPasswordRules('x'.repeat(1025))), 'password');
    assert.equal(field(() => checkPasswordRules(' \t'.repeat(8))), 'password');
    assert.equal(field(() => checkPasswordRules('x'.repeat(12))), null);
    assert.equal(field(() => checkPasswordRules('x'.repeat(1024))), null);
    assert.equal(field(() => checkPasswordRules('🔑'.repeat(12))), null, 'characters, not UTF-16 units');
  });
});

for (const kind of DATABASES) {
  describe(`console sessions in the store on ${kind.name}`, kind.suite, () => {
    let t: TestStore;
    let user: User;
    let clock = Date.parse('2030-01-01T08:00:00.000Z');
    let sessions: SessionRepository;
    before(async () => {
      t = await kind.open();
      user = await t.store.users.create({ name: 'Sam', email: 'sam@contoso.test' });
      sessions = new SessionRepository(t.store.database.db, t.store.users, () => new Date(clock));
      await sessions.setPassword(user.id, 'Sam-has-a-password');
    });
    after(async () => t?.cleanup());

    test('a session: random secret and CSRF token, only the hash stored; sliding idle expiry, absolute limit', async () => {
      const created = await sessions.create(user.id);
      assert.match(created.secret, /^[A-Za-z0-9_-]{43}$/);
      assert.match(created.csrfToken, /^[A-Za-z0-9_-]{43}$/);
      assert.notEqual(created.secret, created.csrfToken);
      assert.equal(created.expiresAt, new Date(clock + SESSION_LIMITS.idleMs).toISOString());
      const row = await t.store.database.db.selectFrom('console_sessions').selectAll().where('user_id', '=', user.id).executeTakeFirstOrThrow();
      assert.equal(row.id, SessionRepository.hash(created.secret));

      const found = await sessions.authenticate(created.secret);
      assert.equal(found?.user.id, user.id);
      assert.equal(sessions.checkCsrf(found!.session, created.csrfToken), true);
      assert.equal(sessions.checkCsrf(found!.session, created.secret), false);
      assert.equal(sessions.checkCsrf(found!.session, ''), false);
      assert.equal(sessions.checkCsrf(found!.session, undefined), false);
      assert.equal(await sessions.authenticate('not-a-secret'), null);

      // Within a minute, use writes nothing; later it moves the expiry 12 hours past the use.
      clock += 30_000;
      assert.equal((await sessions.authenticate(created.secret))!.session.expiresAt, created.expiresAt);
      // Use every 11 hours keeps it alive...
      const absolute = Date.parse(row.created_at) + SESSION_LIMITS.absoluteMs;
      for (let use = 1; clock + 11 * 60 * 60 * 1000 < absolute; use++) {
        clock += 11 * 60 * 60 * 1000;
        const again = await sessions.authenticate(created.secret);
        assert.ok(again, `alive after ${use} uses`);
        assert.equal(again.session.expiresAt, new Date(Math.min(clock + SESSION_LIMITS.idleMs, absolute)).toISOString());
      }
      // ...up to 7 days after it started, however recent the use.
      clock = absolute - 1000;
      assert.ok(await sessions.authenticate(created.secret));
      clock += 1000;
      assert.equal(await sessions.authenticate(created.secret), null);
      assert.equal(await t.store.database.db.selectFrom('console_sessions').select('id').where('id', '=', row.id).executeTakeFirst(), undefined);

      // Idle for 12 hours: ended.
      const idle = await sessions.create(user.id);
      clock += SESSION_LIMITS.idleMs;
      assert.equal(await sessions.authenticate(idle.secret), null);
    });

    test('revoke ends one session; revokeAllFor every one of the user but the one kept', async () => {
      const [a, b, c] = [await sessions.create(user.id), await sessions.create(user.id), await sessions.create(user.id)];
      await sessions.revoke(a.secret);
      assert.equal(await sessions.authenticate(a.secret), null);
      assert.equal(await sessions.revokeAllFor(user.id, b.session.id), 1);
      assert.ok(await sessions.authenticate(b.secret));
      assert.equal(await sessions.authenticate(c.secret), null);
      assert.equal(await sessions.revokeAllFor(user.id), 1);
      assert.equal(await sessions.authenticate(b.secret), null);
    });

    test('lock-out: the fifth failure in a row locks for 15 minutes; the lock ends; a success resets the count', async () => {
      await assert.rejects(sessions.login('nobody@contoso.test', 'Sam-has-a-password'), UnauthorizedError);
      for (let i = 0; i < 4; i++) await assert.rejects(sessions.login('sam@contoso.test', 'wrong password'), UnauthorizedError);
      await sessions.login('sam@contoso.test', 'Sam-has-a-password');
      for (let i = 0; i < 4; i++) await assert.rejects(sessions.login('sam@contoso.test', 'wrong password'), UnauthorizedError);
      await assert.rejects(sessions.login('sam@contoso.test', 'wrong password'), (error: unknown) => {
        assert.ok(error instanceof TooManyAttemptsError);
        assert.equal(error.retryAfterSeconds, 15 * 60);
        return true;
      });
      clock += 10 * 60 * 1000;
      await assert.rejects(sessions.login('sam@contoso.test', 'Sam-has-a-password'), (error: unknown) => error instanceof TooManyAttemptsError && error.retryAfterSeconds === 5 * 60);
      await assert.rejects(sessions.checkCurrentPassword(user.id, 'Sam-has-a-password'), TooManyAttemptsError);
      clock += 5 * 60 * 1000;
      // The lock is over, and the count started over with it: one failure does not lock again.
      await assert.rejects(sessions.login('sam@contoso.test', 'wrong password'), UnauthorizedError);
      const signed = await sessions.login('sam@contoso.test', 'Sam-has-a-password');
      assert.equal(signed.user.id, user.id);
      // A wrong current password counts too.
      for (let i = 0; i < 4; i++) await assert.rejects(sessions.checkCurrentPassword(user.id, 'wrong password'), ValidationError);
      await assert.rejects(sessions.checkCurrentPassword(user.id, 'wrong password'), TooManyAttemptsError);
      // Setting a password lifts the lock.
      await sessions.setPassword(user.id, 'Sam-has-a-new-password');
      await sessions.login('sam@contoso.test', 'Sam-has-a-new-password');
    });

    test('a setup token: only while no administrator can sign in, once, for 24 hours', async () => {
      assert.deepEqual(await sessions.setupState(), { needed: true, mode: 'create-admin' });
      const token = (await sessions.issueSetupToken())!;
      assert.match(token, /^[A-Za-z0-9_-]{43}$/);
      const stored = await t.store.database.db.selectFrom('console_setup_tokens').selectAll().execute();
      assert.ok(!stored.some((r) => r.id === token), 'only the hash is stored');
      assert.equal(stored[0]!.expires_at, new Date(clock + SESSION_LIMITS.setupTokenMs).toISOString());
      clock += SESSION_LIMITS.setupTokenMs;
      await assert.rejects(sessions.completeSetup({ token, password: 'admin password 1', email: 'a@contoso.test', name: 'A' }), UnauthorizedError);
      const fresh = (await sessions.issueSetupToken())!;
      // A refused creation (the address is Sam's) leaves the token usable.
      await assert.rejects(sessions.completeSetup({ token: fresh, password: 'admin password 1', email: 'sam@contoso.test', name: 'A' }));
      const done = await sessions.completeSetup({ token: fresh, password: 'admin password 1', email: 'a@contoso.test', name: 'A' });
      assert.equal(done.user.isAdmin, true);
      assert.equal(await sessions.hasPassword(done.user.id), true);
      assert.deepEqual(await sessions.setupState(), { needed: false, mode: null });
      assert.equal(await sessions.issueSetupToken(), null);
    });
  });
}
