import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { openApi, type TestApi } from './helpers/api.js';
import { DATABASES } from './helpers/stores.js';

const PASSWORD = 'Sup3r-Secret-Service-Passw0rd';
const CLIENT_SECRET = 'graph~client~secret~value~0123456789';

for (const kind of DATABASES) {
  describe(`REST API on ${kind.name}`, kind.suite, () => {
    let api: TestApi;
    before(async () => {
      api = await openApi(kind);
    });
    after(async () => api?.close());

    test('every /api/v1 call needs a valid token', async () => {
      const none = await api.call('GET', '/api/v1/mailboxes', { token: null });
      assert.equal(none.statusCode, 401);
      assert.match(none.headers['www-authenticate'] as string, /^Bearer/);
      assert.match(none.json().message, /Authorization: Bearer/);
      const wrong = await api.call('GET', '/api/v1/mailboxes', { token: 'lsn_not-a-real-token' });
      assert.equal(wrong.statusCode, 401);
      assert.equal((await api.call('GET', '/api/v1/users/me')).json().email, 'admin@contoso.test');
      assert.equal((await api.call('GET', '/api/v1/users/me', { token: api.userToken })).json().email, 'uma@contoso.test');
    });

    test('an Exchange profile with an http:// URL is refused with a message that names https', async () => {
      const response = await api.call('POST', '/api/v1/email-server-profiles', {
        body: {
          name: 'Plain HTTP',
          serverType: 'exchange',
          autodiscover: false,
          incomingServer: 'http://mail.contoso.test/EWS/Exchange.asmx',
          username: 'svc-crm@contoso.test',
          password: PASSWORD,
        },
      });
      assert.equal(response.statusCode, 400);
      const body = response.json();
      assert.match(body.message, /https/);
      assert.deepEqual(body.problems.map((p: { field: string }) => p.field), ['incomingServer']);
    });

    test('a valid profile is saved with ports and defaults filled in, and no password in the answer', async () => {
      const response = await api.call('POST', '/api/v1/email-server-profiles', {
        body: {
          name: 'Contoso Exchange',
          serverType: 'exchange',
          autodiscover: false,
          incomingServer: 'https://mail.contoso.test/EWS/Exchange.asmx',
          username: 'svc-crm@contoso.test',
          password: PASSWORD,
        },
      });
      assert.equal(response.statusCode, 201, response.body);
      const profile = response.json();
      assert.equal(profile.incomingPort, 443);
      assert.equal(profile.outgoingPort, 443);
      assert.equal(profile.outgoingServer, 'https://mail.contoso.test/EWS/Exchange.asmx');
      assert.equal(profile.maxConcurrentConnections, 27);
      assert.equal(profile.minPollingIntervalMinutes, 0);
      assert.equal(profile.moveFailedToUndeliverable, false);
      assert.equal(profile.notifyOwnerOnFailure, false);
      assert.equal(profile.processEmailFrom, null);
      assert.equal(profile.ownerId, api.admin.id, 'the creator owns it unless told otherwise');
      assert.equal(profile.passwordSet, true);
      assert.equal(profile.password, undefined);

      const imap = await api.call('POST', '/api/v1/email-server-profiles', {
        body: { name: 'Mail', serverType: 'imap-smtp', incomingServer: 'imap.contoso.test', outgoingServer: 'smtp.contoso.test', username: 'u', password: PASSWORD },
      });
      assert.equal(imap.statusCode, 201, imap.body);
      assert.deepEqual([imap.json().incomingPort, imap.json().outgoingPort], [993, 587]);
    });

    test('Exchange Online keeps its client secret write-only too', async () => {
      const response = await api.call('POST', '/api/v1/email-server-profiles', {
        body: { name: 'EXO', serverType: 'exchange-online', tenantId: 'contoso.onmicrosoft.com', clientId: '11111111-2222-3333-4444-555555555555', clientSecret: CLIENT_SECRET },
      });
      assert.equal(response.statusCode, 201, response.body);
      assert.equal(response.json().clientSecretSet, true);
      assert.equal(response.json().incomingServer, 'https://graph.microsoft.com');
    });

    test('bad input is answered 400 with every problem named', async () => {
      const response = await api.call('POST', '/api/v1/email-server-profiles', {
        body: { name: 'x', serverType: 'exchange', maxConcurrentConnections: 301, minPollingIntervalMinutes: -1, autodiscovr: true },
      });
      assert.equal(response.statusCode, 400);
      const fields = response.json().problems.map((p: { field: string }) => p.field).sort();
      assert.deepEqual(fields, ['autodiscovr', 'maxConcurrentConnections', 'minPollingIntervalMinutes']);
      const types = await api.call('POST', '/api/v1/email-server-profiles', { body: { name: 'x', serverType: 'exchange', maxConcurrentConnections: '27' } });
      assert.equal(types.statusCode, 400, 'a number sent as text is an error in a body, not silently converted');
      const json = await api.app.inject({ method: 'POST', url: '/api/v1/contacts', headers: { authorization: `Bearer ${api.adminToken}`, 'content-type': 'application/json' }, payload: '{"name":' });
      assert.equal(json.statusCode, 400);
      assert.match(json.json().message, /not valid JSON/);
    });

    test('profiles: read, list, update, and delete refused while a mailbox uses one', async () => {
      const list = (await api.call('GET', '/api/v1/email-server-profiles?serverType=exchange')).json();
      assert.deepEqual(list.items.map((p: { name: string }) => p.name), ['Contoso Exchange']);
      const id = list.items[0].id;
      const updated = await api.call('PATCH', `/api/v1/email-server-profiles/${id}`, { body: { maxConcurrentConnections: 10, notifyOwnerOnFailure: true } });
      assert.equal(updated.statusCode, 200, updated.body);
      assert.deepEqual([updated.json().maxConcurrentConnections, updated.json().notifyOwnerOnFailure, updated.json().passwordSet], [10, true, true]);

      const associate = await api.call('POST', '/api/v1/mailboxes/associate', { body: { mailboxIds: [api.user.mailboxId], profileId: id } });
      assert.equal(associate.statusCode, 200, associate.body);
      const refused = await api.call('DELETE', `/api/v1/email-server-profiles/${id}`);
      assert.equal(refused.statusCode, 409);
      assert.match(refused.json().message, /used by 1 mailbox/);
      await api.call('POST', '/api/v1/mailboxes/associate', { body: { mailboxIds: [api.user.mailboxId], profileId: null } });
      const scratch = await api.call('POST', '/api/v1/email-server-profiles', {
        body: { name: 'Scratch', serverType: 'pop3-smtp', incomingServer: 'pop.contoso.test', outgoingServer: 'smtp.contoso.test' },
      });
      assert.equal((await api.call('DELETE', `/api/v1/email-server-profiles/${scratch.json().id}`)).statusCode, 204);
      assert.equal((await api.call('GET', `/api/v1/email-server-profiles/${scratch.json().id}`)).statusCode, 404);
    });

    test('a non-admin is refused profiles, other users, other mailboxes and approval', async () => {
      const asUser = { token: api.userToken };
      assert.equal((await api.call('GET', '/api/v1/email-server-profiles', asUser)).statusCode, 403);
      assert.equal((await api.call('POST', '/api/v1/email-server-profiles', { ...asUser, body: { name: 'n', serverType: 'exchange' } })).statusCode, 403);
      assert.equal((await api.call('GET', `/api/v1/users/${api.admin.id}`, asUser)).statusCode, 403);
      assert.equal((await api.call('GET', `/api/v1/mailboxes/${api.admin.mailboxId}`, asUser)).statusCode, 403);
      assert.equal((await api.call('GET', `/api/v1/mailboxes?ownerId=${api.admin.id}`, asUser)).statusCode, 403);
      const approve = await api.call('POST', '/api/v1/mailboxes/approval', { ...asUser, body: { mailboxIds: [api.user.mailboxId], approvalStatus: 'approved' } });
      assert.equal(approve.statusCode, 403);
      assert.match(approve.json().message, /administrator/);
      assert.equal((await api.call('PATCH', `/api/v1/mailboxes/${api.user.mailboxId}`, { ...asUser, body: { approvalStatus: 'approved' } })).statusCode, 403);

      const own = await api.call('GET', `/api/v1/mailboxes/${api.user.mailboxId}`, asUser);
      assert.equal(own.statusCode, 200, 'a user reads their own mailbox');
      const mine = (await api.call('GET', '/api/v1/mailboxes', asUser)).json();
      assert.deepEqual(mine.items.map((m: { id: string }) => m.id), [api.user.mailboxId], 'a user lists only their own');
    });

    test('a new user appears with a mailbox that is associated, approved and enabled through the API', async () => {
      const created = await api.call('POST', '/api/v1/users', { body: { name: 'Nia New', email: 'nia@contoso.test' } });
      assert.equal(created.statusCode, 201, created.body);
      const user = created.json();
      const listed = (await api.call('GET', `/api/v1/mailboxes?ownerId=${user.id}`)).json();
      assert.equal(listed.items.length, 1);
      const mailbox = listed.items[0];
      assert.deepEqual([mailbox.id, mailbox.emailAddress, mailbox.type, mailbox.approvalStatus, mailbox.enabled], [user.mailboxId, 'nia@contoso.test', 'user', 'empty', false]);

      const profile = (await api.call('GET', '/api/v1/email-server-profiles?serverType=imap-smtp')).json().items[0];
      const queue = (await api.call('POST', '/api/v1/queues', { body: { name: 'Sales', email: 'sales@contoso.test' } })).json();
      const associated = await api.call('POST', '/api/v1/mailboxes/associate', { body: { mailboxIds: [mailbox.id, queue.mailboxId], profileId: profile.id } });
      assert.equal(associated.statusCode, 200, associated.body);
      assert.deepEqual(associated.json().items.map((m: { profileId: string }) => m.profileId), [profile.id, profile.id]);

      const early = await api.call('PATCH', `/api/v1/mailboxes/${mailbox.id}`, { body: { enabled: true } });
      assert.equal(early.statusCode, 400);
      assert.match(early.json().message, /approve/);

      const approved = await api.call('POST', '/api/v1/mailboxes/approval', { body: { mailboxIds: [mailbox.id], approvalStatus: 'approved' } });
      assert.equal(approved.json().items[0].approvalStatus, 'approved');
      const enabled = await api.call('PATCH', `/api/v1/mailboxes/${mailbox.id}`, { body: { enabled: true } });
      assert.equal(enabled.statusCode, 200, enabled.body);
      assert.equal(enabled.json().enabled, true);

      const filtered = (await api.call(`GET`, `/api/v1/mailboxes?profileId=${profile.id}&approvalStatus=approved&enabled=true`)).json();
      assert.deepEqual(filtered.items.map((m: { id: string }) => m.id), [mailbox.id]);
      const none = (await api.call('GET', '/api/v1/mailboxes?profileId=none')).json();
      assert.ok(none.items.every((m: { profileId: string | null }) => m.profileId === null));
      const queues = (await api.call('GET', '/api/v1/mailboxes?type=queue')).json();
      assert.deepEqual(queues.items.map((m: { ownerId: string }) => m.ownerId), [api.admin.id]);
    });

    test('a mailbox shows its recent alerts; alerts filter by mailbox and level', async () => {
      await api.t.store.alerts.raise({ level: 'error', scope: 'mailbox', mailboxId: api.user.mailboxId, code: 'imap.login-failed', message: 'Login failed', serverResponse: 'NO [AUTHENTICATIONFAILED]', fix: 'Check the password' });
      await api.t.store.alerts.raise({ level: 'information', scope: 'mailbox', mailboxId: api.admin.mailboxId, code: 'mailbox.enabled', message: 'Enabled' });
      const detail = (await api.call('GET', `/api/v1/mailboxes/${api.user.mailboxId}`, { token: api.userToken })).json();
      assert.deepEqual(detail.recentAlerts.map((a: { code: string }) => a.code), ['imap.login-failed']);
      const errors = (await api.call('GET', '/api/v1/alerts?level=error')).json();
      assert.deepEqual(errors.items.map((a: { serverResponse: string }) => a.serverResponse), ['NO [AUTHENTICATIONFAILED]']);
      const mine = (await api.call('GET', '/api/v1/alerts', { token: api.userToken })).json();
      assert.deepEqual(mine.items.map((a: { code: string }) => a.code), ['imap.login-failed'], "a user sees only their mailboxes' alerts");
    });

    test('contacts, accounts and leads carry up to three addresses', async () => {
      const contact = await api.call('POST', '/api/v1/contacts', { body: { name: 'Carl Contact', emailAddresses: ['carl@fabrikam.test', 'carl.c@fabrikam.test'] } });
      assert.equal(contact.statusCode, 201, contact.body);
      const four = await api.call('POST', '/api/v1/accounts', { body: { name: 'Too many', emailAddresses: ['a@x.test', 'b@x.test', 'c@x.test', 'd@x.test'] } });
      assert.equal(four.statusCode, 400);
      const bad = await api.call('POST', '/api/v1/leads', { body: { name: 'Bad', emailAddresses: ['not-an-address'] } });
      assert.equal(bad.statusCode, 400);
      assert.match(bad.json().message, /not an email address/);
      const found = (await api.call('GET', '/api/v1/contacts?emailAddress=CARL@fabrikam.test', { token: api.userToken })).json();
      assert.deepEqual(found.items.map((c: { name: string }) => c.name), ['Carl Contact']);
      const patched = await api.call('PATCH', `/api/v1/contacts/${contact.json().id}`, { body: { emailAddresses: ['carl@fabrikam.test'] } });
      assert.deepEqual(patched.json().emailAddresses, ['carl@fabrikam.test']);
      assert.equal((await api.call('GET', `/api/v1/accounts/${contact.json().id}`)).statusCode, 404, 'a contact is not an account');
    });

    test('an outgoing email is composed as a draft, read with parties and attachments, and sent to pending send', async () => {
      const carl = (await api.call('GET', '/api/v1/contacts?emailAddress=carl@fabrikam.test')).json().items[0];
      const created = await api.call('POST', '/api/v1/email-activities', {
        token: api.userToken,
        body: {
          subject: 'Your quote',
          bodyHtml: '<p>Attached.</p>',
          to: ['carl@fabrikam.test'],
          cc: ['someone@elsewhere.test'],
          regarding: { type: 'contact', id: carl.id },
          attachments: [{ fileName: 'quote.txt', contentType: 'text/plain', contentBase64: Buffer.from('total: 42').toString('base64') }],
        },
      });
      assert.equal(created.statusCode, 201, created.body);
      const draft = created.json();
      assert.equal(draft.status, 'draft');
      assert.equal(draft.mailboxId, api.user.mailboxId, "the sender's own mailbox by default");
      assert.deepEqual(draft.from.map((p: { record: unknown }) => p.record), [{ type: 'user', id: api.user.id }]);
      assert.deepEqual(draft.to.map((p: { record: unknown }) => p.record), [{ type: 'contact', id: carl.id }]);
      assert.deepEqual(draft.cc.map((p: { record: unknown }) => p.record), [null]);

      const file = await api.call('GET', `/api/v1/email-activities/${draft.id}/attachments/${draft.attachments[0].id}/content`, { token: api.userToken });
      assert.equal(file.statusCode, 200);
      assert.equal(file.body, 'total: 42');
      assert.match(file.headers['content-disposition'] as string, /attachment; filename="quote.txt"/);

      assert.equal((await api.call('GET', `/api/v1/email-activities/${draft.id}`, { token: api.userToken })).json().subject, 'Your quote');
      const other = await api.call('POST', '/api/v1/email-activities', { token: api.userToken, body: { mailboxId: api.admin.mailboxId, to: ['x@y.test'] } });
      assert.equal(other.statusCode, 403, "a user cannot send from another user's mailbox");

      const sent = await api.call('POST', `/api/v1/email-activities/${draft.id}/send`, { token: api.userToken });
      assert.equal(sent.statusCode, 200, sent.body);
      assert.equal(sent.json().status, 'pending-send');
      assert.equal((await api.call('POST', `/api/v1/email-activities/${draft.id}/send`, { token: api.userToken })).statusCode, 409);

      const pending = (await api.call('GET', '/api/v1/email-activities?status=pending-send&direction=outgoing')).json();
      assert.deepEqual(pending.items.map((a: { id: string }) => a.id), [draft.id]);
      const regarding = (await api.call('GET', `/api/v1/email-activities?regardingId=${carl.id}`)).json();
      assert.equal(regarding.items.length, 1);
    });

    test('the OpenAPI document describes the API from the same schemas; /docs renders it', async () => {
      const doc = (await api.call('GET', '/api/v1/openapi.json', { token: null })).json();
      assert.equal(doc.openapi, '3.1.0');
      for (const route of ['/api/v1/email-server-profiles', '/api/v1/mailboxes/associate', '/api/v1/email-activities/{id}/send', '/api/v1/alerts', '/api/v1/contacts', '/api/v1/queues']) {
        assert.ok(doc.paths[route], `${route} is documented`);
      }
      const create = doc.paths['/api/v1/email-server-profiles'].post.requestBody.content['application/json'].schema;
      assert.equal(create.properties.maxConcurrentConnections.maximum, 300);
      assert.equal(create.properties.maxConcurrentConnections.default, 27);
      assert.equal(create.properties.password.writeOnly, true);
      const docs = await api.app.inject({ method: 'GET', url: '/docs/' });
      assert.equal(docs.statusCode, 200);
      assert.match(docs.body, /<html/i);
      const init = await api.app.inject({ method: 'GET', url: '/docs/static/swagger-initializer.js' });
      assert.match(init.body, /\/api\/v1\/openapi\.json/);
    });

    test('/health reports the database; /metrics serves Prometheus text', async () => {
      const health = await api.app.inject({ method: 'GET', url: '/health' });
      assert.equal(health.statusCode, 200);
      assert.deepEqual([health.json().status, health.json().database.dialect, health.json().database.reachable], ['ok', kind.name, true]);
      const metrics = await api.app.inject({ method: 'GET', url: '/metrics' });
      assert.match(metrics.headers['content-type'] as string, /text\/plain/);
      assert.match(metrics.body, /^liaison_database_up 1$/m);
      assert.match(metrics.body, /^liaison_mailboxes\{enabled="true",incoming_status="not-run",outgoing_status="not-run"\} 1$/m);
      assert.match(metrics.body, /liaison_http_request_duration_seconds_count\{method="GET",route="\/api\/v1\/mailboxes",status_code="200"\}/);
    });

    test('no secret appears in any response or log line', async () => {
      for (const body of api.bodies) {
        assert.ok(!body.includes(PASSWORD), 'a response carried the password');
        assert.ok(!body.includes(CLIENT_SECRET), 'a response carried the client secret');
        assert.ok(!body.includes(api.adminToken), 'a response carried a token');
      }
      assert.ok(api.logs.length > 10, 'the server logged');
      for (const line of api.logs) {
        assert.ok(!line.includes(PASSWORD) && !line.includes(CLIENT_SECRET) && !line.includes(api.adminToken), `secret in log: ${line}`);
      }
    });

    if (kind.name === 'sqlite') {
      test('the database file holds no secret in plaintext', async () => {
        await api.t.store.close();
        const dir = api.t.dataDir;
        const files = ['liaison.db', 'liaison.db-wal'].map((f) => path.join(dir, f)).filter((f) => existsSync(f));
        assert.ok(files.length > 0);
        for (const file of files) {
          const bytes = readFileSync(file);
          assert.equal(bytes.indexOf(PASSWORD), -1, `${file} holds the password`);
          assert.equal(bytes.indexOf(CLIENT_SECRET), -1, `${file} holds the client secret`);
          assert.equal(bytes.indexOf(api.adminToken), -1, `${file} holds a token`);
        }
        const bytes = readFileSync(files[0]!);
        assert.notEqual(bytes.indexOf('svc-crm@contoso.test'), -1, 'the file is readable: the profile is in it');
      });
    }
  });
}
