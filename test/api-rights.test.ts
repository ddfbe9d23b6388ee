/**
 * Rights over email follow the mailbox's current owner and the caller's current role, on every read and write:
 * a queue's former owner loses the drafts they wrote in its mailbox, and an administrator demoted to a user
 * loses administrator rights on the next request with the same token. Every email-activity route and the alert
 * routes, on SQLite and PostgreSQL.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { openApi, type TestApi } from './helpers/api.js';
import { DATABASES } from './helpers/stores.js';

const file = (name: string, text: string) => ({ fileName: name, contentType: 'text/plain', contentBase64: Buffer.from(text).toString('base64') });

for (const kind of DATABASES) {
  describe(`REST API rights on ${kind.name}`, kind.suite, () => {
    let api: TestApi;
    before(async () => {
      api = await openApi(kind);
    });
    after(async () => api?.close());

    async function userWithToken(name: string, email: string, isAdmin = false) {
      const user = await api.t.store.users.create({ name, email, isAdmin });
      return { user, token: (await api.t.store.tokens.issue(user.id)).token };
    }

    /** The routes that read or change one email, as the given token: the status codes (the change sets the recipient). */
    async function reach(token: string, id: string, attachmentId: string, recipient: string) {
      const as = { token };
      return {
        read: (await api.call('GET', `/api/v1/email-activities/${id}`, as)).statusCode,
        attachment: (await api.call('GET', `/api/v1/email-activities/${id}/attachments/${attachmentId}/content`, as)).statusCode,
        update: (await api.call('PATCH', `/api/v1/email-activities/${id}`, { ...as, body: { to: [recipient] } })).statusCode,
        listed: (await api.call('GET', '/api/v1/email-activities?limit=500', as)).json().items.some((a: { id: string }) => a.id === id),
      };
    }

    test('a queue’s former owner loses the drafts they composed in its mailbox; the new owner gains them', async () => {
      const former = await userWithToken('Fran Former', 'fran@contoso.test');
      const next = await userWithToken('Nico Next', 'nico@contoso.test');
      const queue = (await api.call('POST', '/api/v1/queues', { body: { name: 'Support', email: 'support@contoso.test', ownerId: former.user.id } })).json();
      const compose = (token: string, subject: string) =>
        api.call('POST', '/api/v1/email-activities', { token, body: { mailboxId: queue.mailboxId, subject, to: ['carl@fabrikam.test'], attachments: [file('a.txt', subject)] } });
      const created = await compose(former.token, 'Written by Fran');
      assert.equal(created.statusCode, 201, created.body);
      const draft = created.json();
      const spare = (await compose(former.token, 'Another')).json();
      await api.t.store.alerts.raise({ level: 'error', scope: 'mailbox', mailboxId: queue.mailboxId, code: 'ews.login-failed', message: 'Login failed' });
      const alert = (await api.call('GET', `/api/v1/alerts?mailboxId=${queue.mailboxId}`)).json().items[0];

      assert.deepEqual(await reach(former.token, draft.id, draft.attachments[0].id, 'fran-set@fabrikam.test'), { read: 200, attachment: 200, update: 200, listed: true });
      assert.equal((await api.call('GET', `/api/v1/alerts/${alert.id}`, { token: former.token })).statusCode, 200);

      const moved = await api.call('PATCH', `/api/v1/queues/${queue.id}`, { body: { ownerId: next.user.id } });
      assert.equal(moved.statusCode, 200, moved.body);

      // The former owner, with the same token, on every route.
      assert.deepEqual(await reach(former.token, draft.id, draft.attachments[0].id, 'hijack@elsewhere.test'), { read: 403, attachment: 403, update: 403, listed: false });
      const send = await api.call('POST', `/api/v1/email-activities/${draft.id}/send`, { token: former.token });
      assert.equal(send.statusCode, 403);
      assert.match(send.json().message, /mailbox you do not own/);
      assert.equal((await api.call('DELETE', `/api/v1/email-activities/${spare.id}`, { token: former.token })).statusCode, 403);
      assert.equal((await compose(former.token, 'Once more')).statusCode, 403, 'nor can they compose in it any more');
      assert.equal((await api.call('GET', `/api/v1/email-activities?mailboxId=${queue.mailboxId}`, { token: former.token })).json().items.length, 0);
      assert.equal((await api.call('GET', `/api/v1/alerts/${alert.id}`, { token: former.token })).statusCode, 403);
      assert.ok(!(await api.call('GET', '/api/v1/alerts', { token: former.token })).json().items.some((a: { id: string }) => a.id === alert.id));

      // Nothing they tried changed anything.
      const now = (await api.call('GET', `/api/v1/email-activities/${draft.id}`)).json();
      assert.deepEqual([now.status, now.to.map((p: { address: string }) => p.address)], ['draft', ['fran-set@fabrikam.test']]);
      assert.equal((await api.call('GET', `/api/v1/email-activities/${spare.id}`)).statusCode, 200, 'the draft they tried to delete is still there');

      // The new owner reaches all of it.
      assert.deepEqual(await reach(next.token, draft.id, draft.attachments[0].id, 'nico-set@fabrikam.test'), { read: 200, attachment: 200, update: 200, listed: true });
      assert.equal((await api.call('GET', `/api/v1/alerts/${alert.id}`, { token: next.token })).statusCode, 200);
      assert.ok((await api.call('GET', '/api/v1/alerts', { token: next.token })).json().items.some((a: { id: string }) => a.id === alert.id));
      assert.equal((await api.call('POST', `/api/v1/email-activities/${draft.id}/send`, { token: next.token })).statusCode, 200);
      assert.equal((await api.call('DELETE', `/api/v1/email-activities/${spare.id}`, { token: next.token })).statusCode, 204);
    });

    test('an administrator demoted to a user loses administrator rights on the next request with the same token', async () => {
      const demoted = await userWithToken('Dora Demoted', 'dora@contoso.test', true);
      const draft = (
        await api.call('POST', '/api/v1/email-activities', { token: api.userToken, body: { subject: 'Uma’s own', to: ['carl@fabrikam.test'], attachments: [file('u.txt', 'uma')] } })
      ).json();
      const spare = (await api.call('POST', '/api/v1/email-activities', { token: api.userToken, body: { subject: 'Uma’s spare' } })).json();
      await api.t.store.alerts.raise({ level: 'warning', scope: 'mailbox', mailboxId: api.user.mailboxId, code: 'ews.slow', message: 'Slow' });
      const alert = (await api.call('GET', `/api/v1/alerts?mailboxId=${api.user.mailboxId}`)).json().items[0];
      const asDora = { token: demoted.token };

      assert.deepEqual(await reach(demoted.token, draft.id, draft.attachments[0].id, 'dora-set@fabrikam.test'), { read: 200, attachment: 200, update: 200, listed: true });
      assert.equal((await api.call('GET', `/api/v1/alerts/${alert.id}`, asDora)).statusCode, 200);
      assert.equal((await api.call('GET', '/api/v1/email-server-profiles', asDora)).statusCode, 200);

      const demote = await api.call('PATCH', `/api/v1/users/${demoted.user.id}`, { body: { isAdmin: false } });
      assert.equal(demote.statusCode, 200, demote.body);

      assert.deepEqual(await reach(demoted.token, draft.id, draft.attachments[0].id, 'hijack@elsewhere.test'), { read: 403, attachment: 403, update: 403, listed: false });
      assert.equal((await api.call('POST', `/api/v1/email-activities/${draft.id}/send`, asDora)).statusCode, 403);
      assert.equal((await api.call('DELETE', `/api/v1/email-activities/${spare.id}`, asDora)).statusCode, 403);
      const compose = await api.call('POST', '/api/v1/email-activities', { ...asDora, body: { mailboxId: api.user.mailboxId, subject: 'as Uma' } });
      assert.equal(compose.statusCode, 403);
      assert.equal((await api.call('GET', `/api/v1/email-activities?mailboxId=${api.user.mailboxId}`, asDora)).json().items.length, 0);
      assert.equal((await api.call('GET', `/api/v1/alerts/${alert.id}`, asDora)).statusCode, 403);
      assert.ok(!(await api.call('GET', '/api/v1/alerts', asDora)).json().items.some((a: { id: string }) => a.id === alert.id));
      // And every administrator route.
      assert.equal((await api.call('GET', '/api/v1/email-server-profiles', asDora)).statusCode, 403);
      assert.equal((await api.call('POST', '/api/v1/users', { ...asDora, body: { name: 'Eve', email: 'eve@contoso.test' } })).statusCode, 403);
      assert.equal((await api.call('PATCH', `/api/v1/users/${demoted.user.id}`, { ...asDora, body: { isAdmin: true } })).statusCode, 403, 'nor promote herself back');
      assert.equal((await api.call('POST', '/api/v1/mailboxes/approval', { ...asDora, body: { mailboxIds: [api.user.mailboxId], approvalStatus: 'approved' } })).statusCode, 403);

      const still = (await api.call('GET', `/api/v1/email-activities/${draft.id}`)).json();
      assert.deepEqual([still.status, still.to.map((p: { address: string }) => p.address)], ['draft', ['dora-set@fabrikam.test']], 'nothing she tried changed it');
      assert.equal((await api.call('GET', `/api/v1/email-activities/${spare.id}`)).statusCode, 200);

      // Her own mailbox stays hers.
      const own = await api.call('POST', '/api/v1/email-activities', { ...asDora, body: { subject: 'Dora’s own' } });
      assert.equal(own.statusCode, 201, own.body);
      assert.equal((await api.call('GET', `/api/v1/email-activities/${own.json().id}`, asDora)).statusCode, 200);
    });

    test('an email that does not exist is 404 on every route, for users as for administrators', async () => {
      const missing = '01234567-89ab-7cde-8f01-23456789abcd';
      for (const token of [api.userToken, api.adminToken]) {
        assert.equal((await api.call('GET', `/api/v1/email-activities/${missing}`, { token })).statusCode, 404);
        assert.equal((await api.call('PATCH', `/api/v1/email-activities/${missing}`, { token, body: { subject: 'x' } })).statusCode, 404);
        assert.equal((await api.call('POST', `/api/v1/email-activities/${missing}/send`, { token })).statusCode, 404);
        assert.equal((await api.call('DELETE', `/api/v1/email-activities/${missing}`, { token })).statusCode, 404);
        assert.equal((await api.call('GET', `/api/v1/email-activities/${missing}/attachments/${missing}/content`, { token })).statusCode, 404);
      }
    });
  });
}
