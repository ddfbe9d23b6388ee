import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify';
import { buildApi } from '../src/api/server.js';
import { BAD_CREDENTIALS, SESSION_LIMITS } from '../src/store/sessions.js';
import { openApi, type TestApi } from './helpers/api.js';
import { DATABASES, type DatabaseKind, type TestStore } from './helpers/stores.js';

const ADMIN_PASSWORD = 'correct horse battery staple';
const USER_PASSWORD = 'Uma-has-a-long-passphrase';

interface Signed {
  secret: string;
  csrf: string;
  response: LightMyRequestResponse;
}

/** The session cookie's value and attributes from a Set-Cookie answer. */
function sessionCookie(response: LightMyRequestResponse): { value: string; attributes: string[] } | null {
  const header = response.headers['set-cookie'];
  const lines = header === undefined ? [] : Array.isArray(header) ? header : [header];
  const line = lines.find((l) => l.startsWith('liaison_session='));
  if (!line) return null;
  const [pair, ...attributes] = line.split(/;\s*/);
  return { value: pair!.slice('liaison_session='.length), attributes };
}

/** A request as a browser with the console open sends it. */
function browser(app: FastifyInstance, method: InjectOptions['method'], url: string, options: { secret?: string; csrf?: string; body?: unknown; origin?: string } = {}) {
  return app.inject({
    method,
    url,
    headers: {
      ...(options.secret ? { cookie: `liaison_session=${options.secret}` } : {}),
      ...(options.csrf ? { 'x-csrf-token': options.csrf } : {}),
      ...(options.origin ? { origin: options.origin } : {}),
    },
    ...(options.body !== undefined ? { payload: options.body as never } : {}),
  });
}

async function signIn(app: FastifyInstance, email: string, password: string): Promise<Signed> {
  const response = await browser(app, 'POST', '/api/v1/session', { body: { email, password } });
  assert.equal(response.statusCode, 200, response.body);
  const cookie = sessionCookie(response);
  assert.ok(cookie, 'signing in sets the session cookie');
  return { secret: cookie.value, csrf: response.json().csrfToken, response };
}

for (const kind of DATABASES) {
  describe(`console sign-in on ${kind.name}`, kind.suite, () => {
    let api: TestApi;
    before(async () => {
      api = await openApi(kind);
      await api.t.store.sessions.setPassword(api.admin.id, ADMIN_PASSWORD);
      await api.t.store.sessions.setPassword(api.user.id, USER_PASSWORD);
    });
    after(async () => api?.close());

    test('signing in answers the user, a CSRF token and the expiry, and sets an HttpOnly, SameSite=Strict cookie for /', async () => {
      const { response, secret, csrf } = await signIn(api.app, 'UMA@contoso.test', USER_PASSWORD);
      const body = response.json();
      assert.equal(body.user.id, api.user.id);
      assert.equal(body.user.email, 'uma@contoso.test');
      assert.ok(!('passwordHash' in body.user) && !JSON.stringify(body).includes('scrypt$'), 'the hash never leaves the server');
      assert.match(csrf, /^[A-Za-z0-9_-]{43}$/);
      const expires = Date.parse(body.expiresAt) - Date.now();
      assert.ok(expires > SESSION_LIMITS.idleMs - 60_000 && expires <= SESSION_LIMITS.idleMs, `expires in 12 hours, not ${expires} ms`);
      assert.match(secret, /^[A-Za-z0-9_-]{43}$/);
      const attributes = sessionCookie(response)!.attributes.map((a) => a.toLowerCase());
      assert.ok(attributes.includes('httponly'), attributes.join('; '));
      assert.ok(attributes.includes('samesite=strict'), attributes.join('; '));
      assert.ok(attributes.includes('path=/'), attributes.join('; '));
      // light-my-request injects over plain HTTP, so request.protocol is http here and Secure must be absent;
      // the https case (Secure set) is not exercised by these tests.
      assert.ok(!attributes.includes('secure'), 'no Secure over plain http');
      // Only the hash of the secret is stored.
      const rows = await api.t.store.database.db.selectFrom('console_sessions').select('id').execute();
      assert.ok(rows.some((r) => r.id === createHash('sha256').update(secret).digest('hex')));
      assert.ok(!rows.some((r) => r.id === secret));
    });

    test('an unknown address and a wrong password get the same 401; a malformed body a 400', async () => {
      const wrong = await browser(api.app, 'POST', '/api/v1/session', { body: { email: 'uma@contoso.test', password: 'not-the-password!' } });
      const unknown = await browser(api.app, 'POST', '/api/v1/session', { body: { email: 'nobody@contoso.test', password: 'not-the-password!' } });
      assert.equal(wrong.statusCode, 401);
      assert.equal(unknown.statusCode, 401);
      assert.equal(wrong.json().message, BAD_CREDENTIALS);
      assert.equal(unknown.json().message, wrong.json().message);
      assert.equal(sessionCookie(wrong), null);
      const missing = await browser(api.app, 'POST', '/api/v1/session', { body: { email: 'uma@contoso.test' } });
      assert.equal(missing.statusCode, 400);
      assert.ok(missing.json().problems.some((p: { field: string }) => p.field === 'password'), missing.body);
      const extra = await browser(api.app, 'POST', '/api/v1/session', { body: { email: 'uma@contoso.test', password: 'x', remember: true } });
      assert.equal(extra.statusCode, 400);
      // The failure above counted toward the lock-out; a success starts the count over.
      await signIn(api.app, 'uma@contoso.test', USER_PASSWORD);
      const row = await api.t.store.database.db.selectFrom('users').select('failed_logins').where('id', '=', api.user.id).executeTakeFirstOrThrow();
      assert.equal(row.failed_logins, 0);
    });

    test('GET /session answers for the cookie, 401 without one; signing out ends the session and clears the cookie', async () => {
      const { secret, csrf } = await signIn(api.app, 'uma@contoso.test', USER_PASSWORD);
      const current = await browser(api.app, 'GET', '/api/v1/session', { secret });
      assert.equal(current.statusCode, 200);
      assert.equal(current.json().user.id, api.user.id);
      assert.equal(current.json().csrfToken, csrf, 'after a reload the console gets the same, valid CSRF token');
      assert.equal((await browser(api.app, 'GET', '/api/v1/session')).statusCode, 401);
      assert.equal((await browser(api.app, 'GET', '/api/v1/session', { secret: 'made-up' })).statusCode, 401);
      // The session works on the rest of the API.
      assert.equal((await browser(api.app, 'GET', '/api/v1/users/me', { secret })).json().id, api.user.id);

      assert.equal((await browser(api.app, 'DELETE', '/api/v1/session', { secret })).statusCode, 403, 'signing out needs the CSRF token too');
      const out = await browser(api.app, 'DELETE', '/api/v1/session', { secret, csrf });
      assert.equal(out.statusCode, 204);
      const cleared = sessionCookie(out);
      assert.ok(cleared && cleared.value === '' && cleared.attributes.some((a) => /^(max-age=0|expires=thu, 01 jan 1970)/i.test(a)), JSON.stringify(cleared));
      assert.equal((await browser(api.app, 'GET', '/api/v1/session', { secret })).statusCode, 401);
      const after = await browser(api.app, 'GET', '/api/v1/users/me', { secret });
      assert.equal(after.statusCode, 401);
      assert.match(after.json().message, /sign in again/);
    });

    test('a session ends 12 hours after its last use and 7 days after signing in; use moves the idle expiry forward', async () => {
      const db = api.t.store.database.db;
      const idle = await signIn(api.app, 'uma@contoso.test', USER_PASSWORD);
      const idleId = createHash('sha256').update(idle.secret).digest('hex');
      await db.updateTable('console_sessions').set({ expires_at: new Date(Date.now() - 1000).toISOString() }).where('id', '=', idleId).execute();
      assert.equal((await browser(api.app, 'GET', '/api/v1/session', { secret: idle.secret })).statusCode, 401);
      assert.equal(await db.selectFrom('console_sessions').select('id').where('id', '=', idleId).executeTakeFirst(), undefined, 'the ended session is deleted');

      const old = await signIn(api.app, 'uma@contoso.test', USER_PASSWORD);
      const oldId = createHash('sha256').update(old.secret).digest('hex');
      await db.updateTable('console_sessions').set({ created_at: new Date(Date.now() - SESSION_LIMITS.absoluteMs - 1000).toISOString() }).where('id', '=', oldId).execute();
      assert.equal((await browser(api.app, 'GET', '/api/v1/users/me', { secret: old.secret })).statusCode, 401, 'the absolute limit holds however recent the use');

      const used = await signIn(api.app, 'uma@contoso.test', USER_PASSWORD);
      const usedId = createHash('sha256').update(used.secret).digest('hex');
      const soon = new Date(Date.now() + 60_000).toISOString();
      await db.updateTable('console_sessions').set({ last_seen_at: new Date(Date.now() - 5 * 60_000).toISOString(), expires_at: soon }).where('id', '=', usedId).execute();
      const answer = await browser(api.app, 'GET', '/api/v1/session', { secret: used.secret });
      assert.equal(answer.statusCode, 200);
      assert.ok(Date.parse(answer.json().expiresAt) > Date.now() + SESSION_LIMITS.idleMs - 60_000, `moved forward: ${answer.json().expiresAt}`);
      const row = await db.selectFrom('console_sessions').select('expires_at').where('id', '=', usedId).executeTakeFirstOrThrow();
      assert.equal(row.expires_at, answer.json().expiresAt);
    });

    test('five failed sign-ins lock the account for 15 minutes: 429 with Retry-After, even for the right password', async () => {
      const dora = await api.t.store.users.create({ name: 'Dora', email: 'dora@contoso.test' });
      await api.t.store.sessions.setPassword(dora.id, 'Dora-knows-her-password');
      for (let i = 1; i <= 4; i++) {
        const r = await browser(api.app, 'POST', '/api/v1/session', { body: { email: 'dora@contoso.test', password: `wrong guess ${i}` } });
        assert.equal(r.statusCode, 401, `failure ${i}`);
      }
      const fifth = await browser(api.app, 'POST', '/api/v1/session', { body: { email: 'dora@contoso.test', password: 'wrong guess 5' } });
      assert.equal(fifth.statusCode, 429);
      const retry = Number(fifth.headers['retry-after']);
      assert.ok(retry > 14 * 60 && retry <= 15 * 60, `Retry-After ${fifth.headers['retry-after']}`);
      const right = await browser(api.app, 'POST', '/api/v1/session', { body: { email: 'dora@contoso.test', password: 'Dora-knows-her-password' } });
      assert.equal(right.statusCode, 429);
      assert.ok(Number(right.headers['retry-after']) >= 1);
      assert.match(right.json().message, /locked/);
      assert.equal(sessionCookie(right), null);
      // Others are not affected.
      await signIn(api.app, 'uma@contoso.test', USER_PASSWORD);
      // When the lock ends, the right password works.
      await api.t.store.database.db.updateTable('users').set({ locked_until: new Date(Date.now() - 1000).toISOString() }).where('id', '=', dora.id).execute();
      await signIn(api.app, 'dora@contoso.test', 'Dora-knows-her-password');
    });

    test('a cookie request that changes something needs the X-CSRF-Token header and its own origin; a bearer token needs neither', async () => {
      const { secret, csrf } = await signIn(api.app, 'admin@contoso.test', ADMIN_PASSWORD);
      const record = { name: 'Carla Contact', emailAddresses: ['carla@fabrikam.test'] };
      const without = await browser(api.app, 'POST', '/api/v1/contacts', { secret, body: record });
      assert.equal(without.statusCode, 403);
      assert.match(without.json().message, /missing or wrong CSRF token/);
      const wrongToken = await browser(api.app, 'POST', '/api/v1/contacts', { secret, csrf: `${csrf[0] === 'x' ? 'y' : 'x'}${csrf.slice(1)}`, body: record });
      assert.equal(wrongToken.statusCode, 403);
      const other = await signIn(api.app, 'uma@contoso.test', USER_PASSWORD);
      assert.equal((await browser(api.app, 'POST', '/api/v1/contacts', { secret, csrf: other.csrf, body: record })).statusCode, 403, "another session's token");
      const withToken = await browser(api.app, 'POST', '/api/v1/contacts', { secret, csrf, body: record });
      assert.equal(withToken.statusCode, 201, withToken.body);
      const sameOrigin = await browser(api.app, 'POST', '/api/v1/contacts', { secret, csrf, origin: 'http://localhost:80', body: { ...record, emailAddresses: ['carla2@fabrikam.test'] } });
      assert.equal(sameOrigin.statusCode, 201, `Origin naming the Host (${sameOrigin.body})`);
      const crossOrigin = await browser(api.app, 'POST', '/api/v1/contacts', { secret, csrf, origin: 'https://evil.example', body: record });
      assert.equal(crossOrigin.statusCode, 403);
      assert.match(crossOrigin.json().message, /cross-origin/);
      const crossLogin = await browser(api.app, 'POST', '/api/v1/session', { origin: 'https://evil.example', body: { email: 'uma@contoso.test', password: USER_PASSWORD } });
      assert.equal(crossLogin.statusCode, 403, 'signing in from another site is refused too');
      // Reading needs no CSRF token.
      assert.equal((await browser(api.app, 'GET', '/api/v1/contacts', { secret })).statusCode, 200);
      const bearer = await api.call('POST', '/api/v1/contacts', { body: { ...record, emailAddresses: ['carla3@fabrikam.test'] } });
      assert.equal(bearer.statusCode, 201, bearer.body);
    });

    test("a user's session sees what the user may see, as their token does", async () => {
      const { secret } = await signIn(api.app, 'uma@contoso.test', USER_PASSWORD);
      assert.equal((await browser(api.app, 'GET', '/api/v1/users', { secret })).statusCode, 403);
      const mine = (await browser(api.app, 'GET', '/api/v1/mailboxes', { secret })).json();
      assert.deepEqual(mine.items.map((m: { id: string }) => m.id), [api.user.mailboxId]);
      const viaSession = await browser(api.app, 'GET', `/api/v1/mailboxes/${api.admin.mailboxId}`, { secret });
      const viaToken = await api.call('GET', `/api/v1/mailboxes/${api.admin.mailboxId}`, { token: api.userToken });
      assert.ok([403, 404].includes(viaSession.statusCode), viaSession.body);
      assert.equal(viaSession.statusCode, viaToken.statusCode);
    });

    test('without a token or a cookie the 401 says how to sign in; API tokens keep working', async () => {
      const none = await api.call('GET', '/api/v1/users/me', { token: null });
      assert.equal(none.statusCode, 401);
      assert.match(none.json().message, /Sign in to the console/);
      assert.match(none.json().message, /Authorization: Bearer/);
      assert.equal((await api.call('GET', '/api/v1/users/me', { token: api.userToken })).json().id, api.user.id);
    });

    test('changing a password: your own needs the current one and ends your other sessions; an administrator sets anyone\'s', async () => {
      const vic = await api.t.store.users.create({ name: 'Vic', email: 'vic@contoso.test' });
      await api.t.store.sessions.setPassword(vic.id, 'Vic-first-password');
      const here = await signIn(api.app, 'vic@contoso.test', 'Vic-first-password');
      const elsewhere = await signIn(api.app, 'vic@contoso.test', 'Vic-first-password');
      const url = `/api/v1/users/${vic.id}/password`;
      const noCurrent = await browser(api.app, 'PUT', url, { ...here, body: { password: 'Vic-second-password' } });
      assert.equal(noCurrent.statusCode, 400);
      assert.equal(noCurrent.json().problems[0].field, 'currentPassword');
      const wrongCurrent = await browser(api.app, 'PUT', url, { ...here, body: { password: 'Vic-second-password', currentPassword: 'not it at all' } });
      assert.equal(wrongCurrent.statusCode, 400);
      const short = await browser(api.app, 'PUT', url, { ...here, body: { password: 'short', currentPassword: 'Vic-first-password' } });
      assert.equal(short.statusCode, 400);
      assert.equal(short.json().problems[0].field, 'password');
      const spaces = await browser(api.app, 'PUT', url, { ...here, body: { password: ' '.repeat(20), currentPassword: 'Vic-first-password' } });
      assert.equal(spaces.statusCode, 400);
      assert.equal(spaces.json().problems[0].field, 'password');
      const ok = await browser(api.app, 'PUT', url, { ...here, body: { password: 'Vic-second-password', currentPassword: 'Vic-first-password' } });
      assert.equal(ok.statusCode, 204, ok.body);
      assert.equal((await browser(api.app, 'GET', '/api/v1/session', { secret: here.secret })).statusCode, 200, 'the session it was changed from stays');
      assert.equal((await browser(api.app, 'GET', '/api/v1/session', { secret: elsewhere.secret })).statusCode, 401, 'the others end');
      assert.equal((await browser(api.app, 'POST', '/api/v1/session', { body: { email: 'vic@contoso.test', password: 'Vic-first-password' } })).statusCode, 401);
      await signIn(api.app, 'vic@contoso.test', 'Vic-second-password');

      // Another user's: only an administrator, and without the current password; all of that user's sessions end.
      const asUma = await api.call('PUT', url, { token: api.userToken, body: { password: 'Uma-sets-vic-password' } });
      assert.equal(asUma.statusCode, 403);
      const byAdmin = await api.call('PUT', url, { body: { password: 'Admin-sets-vic-password' } });
      assert.equal(byAdmin.statusCode, 204, byAdmin.body);
      assert.equal((await browser(api.app, 'GET', '/api/v1/session', { secret: here.secret })).statusCode, 401);
      await signIn(api.app, 'vic@contoso.test', 'Admin-sets-vic-password');
      const ownAdmin = await api.call('PUT', `/api/v1/users/${api.admin.id}/password`, { body: { password: 'a new admin password' } });
      assert.equal(ownAdmin.statusCode, 400, 'an administrator changing their own password sends the current one');
      assert.equal((await api.call('PUT', '/api/v1/users/00000000-0000-4000-8000-000000000000/password', { body: { password: 'for nobody at all' } })).statusCode, 404);
    });

    test('deleting a user ends their sessions', async () => {
      const gone = await api.t.store.users.create({ name: 'Gus', email: 'gus@contoso.test' });
      await api.t.store.sessions.setPassword(gone.id, 'Gus-will-be-deleted');
      const { secret } = await signIn(api.app, 'gus@contoso.test', 'Gus-will-be-deleted');
      assert.equal((await api.call('DELETE', `/api/v1/users/${gone.id}`)).statusCode, 204);
      const rows = await api.t.store.database.db.selectFrom('console_sessions').select('id').where('user_id', '=', gone.id).execute();
      assert.deepEqual(rows, []);
      assert.equal((await browser(api.app, 'GET', '/api/v1/session', { secret })).statusCode, 401);
    });

    test('the OpenAPI document lists the session routes, without bearer auth, and the cookie scheme', async () => {
      const doc = (await api.call('GET', '/api/v1/openapi.json')).json();
      assert.deepEqual(doc.components.securitySchemes.cookieAuth, { type: 'apiKey', in: 'cookie', name: 'liaison_session' });
      assert.deepEqual(doc.security, [{ bearerAuth: [] }, { cookieAuth: [] }]);
      for (const [path, method] of [['/api/v1/session', 'post'], ['/api/v1/session', 'get'], ['/api/v1/session', 'delete'], ['/api/v1/session/setup', 'get'], ['/api/v1/session/setup', 'post']] as const) {
        const operation = doc.paths[path]?.[method];
        assert.ok(operation, `${method} ${path}`);
        assert.deepEqual(operation.tags, ['session']);
        assert.deepEqual(operation.security, [], `${method} ${path} needs no token`);
      }
      assert.deepEqual(doc.paths['/api/v1/users/{id}/password'].put.tags, ['session']);
    });

    test('no password reaches the log or an answer', () => {
      for (const secret of [ADMIN_PASSWORD, USER_PASSWORD, 'Vic-first-password', 'Dora-knows-her-password']) {
        assert.ok(!api.logs.some((line) => line.includes(secret)), `log shows ${secret}`);
        assert.ok(!api.bodies.some((body) => body.includes(secret)), `an answer shows ${secret}`);
      }
    });
  });

  describe(`first administrator setup on ${kind.name}`, kind.suite, () => {
    let t: TestStore;
    let app: FastifyInstance;
    before(async () => {
      t = await (kind as DatabaseKind).open();
      app = await buildApi({ store: t.store });
    });
    after(async () => {
      await app?.close();
      await t?.cleanup();
    });

    const setup = (body: unknown) => browser(app, 'POST', '/api/v1/session/setup', { body });

    test('with no administrator: a one-time link creates one and signs them in', async () => {
      assert.deepEqual((await browser(app, 'GET', '/api/v1/session/setup')).json(), { needed: true, mode: 'create-admin' });
      const token = await t.store.sessions.issueSetupToken();
      assert.ok(token);
      assert.equal((await setup({ token: 'not-the-token', password: 'first admin password', email: 'first@contoso.test', name: 'First' })).statusCode, 401);
      const noName = await setup({ token, password: 'first admin password', email: 'first@contoso.test' });
      assert.equal(noName.statusCode, 400);
      assert.deepEqual(noName.json().problems.map((p: { field: string }) => p.field), ['name']);
      const weak = await setup({ token, password: 'too short', email: 'first@contoso.test', name: 'First' });
      assert.equal(weak.statusCode, 400);
      const done = await setup({ token, password: 'first admin password', email: 'first@contoso.test', name: 'First Admin' });
      assert.equal(done.statusCode, 200, done.body);
      assert.equal(done.json().user.email, 'first@contoso.test');
      assert.equal(done.json().user.isAdmin, true);
      const cookie = sessionCookie(done);
      assert.ok(cookie);
      assert.equal((await browser(app, 'GET', '/api/v1/users', { secret: cookie.value })).statusCode, 200, 'signed in as an administrator');
      assert.deepEqual((await browser(app, 'GET', '/api/v1/session/setup')).json(), { needed: false, mode: null });
      const again = await setup({ token, password: 'second admin password', email: 'second@contoso.test', name: 'Second' });
      assert.equal(again.statusCode, 401, 'the token works once');
      assert.match(again.json().message, /already used/);
      assert.equal(await t.store.sessions.issueSetupToken(), null, 'no link once an administrator can sign in');
      assert.equal((await browser(app, 'POST', '/api/v1/session', { body: { email: 'first@contoso.test', password: 'first admin password' } })).statusCode, 200);
    });

    test('with administrators but no password: the link sets one; an expired link is refused', async () => {
      const first = await t.store.users.findByEmail('first@contoso.test');
      // Back to "no administrator can sign in": the first one loses the password, a second has none.
      await t.store.database.db.updateTable('users').set({ password_hash: null }).where('id', '=', first!.id).execute();
      await t.store.users.create({ name: 'Second Admin', email: 'second@contoso.test', isAdmin: true });
      const plain = await t.store.users.create({ name: 'Plain', email: 'plain@contoso.test' });
      assert.deepEqual((await browser(app, 'GET', '/api/v1/session/setup')).json(), { needed: true, mode: 'set-password' });

      const expired = (await t.store.sessions.issueSetupToken())!;
      const expiredId = createHash('sha256').update(expired).digest('hex');
      await t.store.database.db.updateTable('console_setup_tokens').set({ expires_at: new Date(Date.now() - 1000).toISOString() }).where('id', '=', expiredId).execute();
      const late = await setup({ token: expired, password: 'second admin password', email: 'second@contoso.test' });
      assert.equal(late.statusCode, 401);
      assert.match(late.json().message, /expired/);

      const token = (await t.store.sessions.issueSetupToken())!;
      const which = await setup({ token, password: 'second admin password' });
      assert.equal(which.statusCode, 400, 'two administrators without a password: say which');
      assert.equal(which.json().problems[0].field, 'email');
      const notAdmin = await setup({ token, password: 'second admin password', email: plain.email });
      assert.equal(notAdmin.statusCode, 400);
      const done = await setup({ token, password: 'second admin password', email: 'SECOND@contoso.test' });
      assert.equal(done.statusCode, 200, done.body);
      assert.equal(done.json().user.email, 'second@contoso.test');
      assert.ok(sessionCookie(done));
      assert.equal((await setup({ token, password: 'another admin password', email: 'first@contoso.test' })).statusCode, 401, 'used');
      assert.equal((await browser(app, 'POST', '/api/v1/session', { body: { email: 'second@contoso.test', password: 'second admin password' } })).statusCode, 200);
    });
  });
}
