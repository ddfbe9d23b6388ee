/**
 * POST /api/v1/mailboxes/{id}/audit and GET …/audits over a real store, with an engine (a fake server behind it)
 * holding the lease and running the audit: administrators only; the answer carries the counts and the missing
 * messages; with no worker the request stays queued (202); the last audit shows in GET /mailboxes/{id}.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createSyncEngine } from '../src/sync/engine.js';
import type { SyncEngine } from '../src/sync/engine-types.js';
import { openApi, type TestApi } from './helpers/api.js';
import { FakeServer, fakeRegistry } from './helpers/audit-fake-server.js';
import { waitFor } from './helpers/engine-harness.js';
import { sqlite } from './helpers/stores.js';

describe('missing-mail audit API', () => {
  let api: TestApi;
  let mailboxId: string;
  const server = new FakeServer();
  let engine: SyncEngine | null = null;

  before(async () => {
    api = await openApi(sqlite);
    const store = api.t.store;
    const profile = await store.profiles.create({
      name: 'Fake',
      serverType: 'exchange',
      autodiscover: false,
      incomingServer: 'https://mail.contoso.test/EWS/Exchange.asmx',
      username: 'svc@contoso.test',
      password: 'pw',
      ownerId: api.admin.id,
    });
    const user = await store.users.create({ name: 'Audited', email: 'audited@contoso.test', incomingFilter: 'all' });
    mailboxId = user.mailboxId!;
    await store.mailboxes.update(mailboxId, { profileId: profile.id, approvalStatus: 'approved', enabled: true, outgoingMethod: 'none' });
    for (let n = 1; n <= 4; n += 1) server.deliver(n);
    server.skipped.add('id-3');
  });
  after(async () => {
    await engine?.stop();
    await api?.close();
  });

  test('without a worker the request is queued (202); a plain user may not ask', async () => {
    const denied = await api.call('POST', `/api/v1/mailboxes/${mailboxId}/audit`, { token: api.userToken });
    assert.equal(denied.statusCode, 403);
    const queued = await api.call('POST', `/api/v1/mailboxes/${mailboxId}/audit?wait=0`);
    assert.equal(queued.statusCode, 202, queued.body);
    assert.equal(queued.json().status, 'queued');
    assert.equal(queued.json().audit, null);
    assert.equal((await api.t.store.mailboxes.get(mailboxId)).nextDueAt, queued.json().requestedAt, 'the mailbox is due now');
  });

  test('with a worker the audit runs under its lease and the answer names what is missing; the next pass tracks it', async () => {
    engine = createSyncEngine({ sync: api.t.store.sync, connectors: fakeRegistry(server), resolve: [], pollFloorMs: 50, leaseMs: 5_000, push: false });
    engine.start();
    const answer = await api.call('POST', `/api/v1/mailboxes/${mailboxId}/audit?wait=30`);
    assert.equal(answer.statusCode, 200, answer.body);
    const body = answer.json();
    assert.equal(body.status, 'completed');
    assert.equal(body.audit.onServer, 4);
    assert.equal(body.audit.tracked, 3);
    assert.equal(body.audit.missing, 1);
    assert.deepEqual(body.audit.missingMessages.map((m: { serverId: string }) => m.serverId), ['id-3']);
    assert.equal(body.audit.gapBeganAt, server.messages[2]!.receivedAt);

    const list = await api.call('GET', `/api/v1/mailboxes/${mailboxId}/audits`);
    assert.equal(list.statusCode, 200);
    assert.equal(list.json().items[0].id, body.audit.id);
    const detail = (await api.call('GET', `/api/v1/mailboxes/${mailboxId}`)).json();
    assert.equal(detail.lastAudit.id, body.audit.id);
    const alerts = await api.t.store.alerts.list({ mailboxId });
    assert.ok(alerts.items.some((a) => a.code === 'audit.missing-mail'));

    await waitFor('the missing message processed', async () => (await api.t.store.audits.queuedCount(mailboxId)) === 0);
    const again = (await api.call('POST', `/api/v1/mailboxes/${mailboxId}/audit?wait=30`)).json();
    assert.equal(again.status, 'completed');
    assert.equal(again.audit.missing, 0);
    assert.equal(again.audit.tracked, 4, 'tracked exactly once each');
    const activities = await api.t.store.database.db.selectFrom('email_activities').select('id').execute();
    assert.equal(activities.length, 4);
  });

  test('a mailbox that is not synchronized cannot be audited (409); the operation is in the OpenAPI document', async () => {
    const other = await api.t.store.users.create({ name: 'Idle', email: 'idle@contoso.test' });
    const refused = await api.call('POST', `/api/v1/mailboxes/${other.mailboxId}/audit`);
    assert.equal(refused.statusCode, 409);
    const doc = (await api.call('GET', '/api/v1/openapi.json', { token: null })).json();
    assert.ok(doc.paths['/api/v1/mailboxes/{id}/audit'].post);
    assert.ok(doc.paths['/api/v1/mailboxes/{id}/audits'].get);
  });
});
