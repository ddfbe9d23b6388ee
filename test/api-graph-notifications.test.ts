/**
 * POST /graph/notifications, as Microsoft Graph calls it: the validationToken handshake echoed as text/plain, a
 * notification whose clientState verifies wakes its mailbox (due now in the store) and is emitted on graphLifecycle,
 * lifecycle events are emitted (missed wakes too), a clientState made with another key is ignored and counted in
 * the log without being written there, and a body that is not JSON is 400, one over 1 MiB 413.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { clientStateFor, type GraphLifecycleEvent, onGraphLifecycle } from '../src/connectors/graph/notifications.js';
import { openApi, type TestApi } from './helpers/api.js';
import { sqlite } from './helpers/stores.js';

const FAR = new Date('2100-01-01T00:00:00.000Z');

describe('POST /graph/notifications', () => {
  let api: TestApi;
  let key: Buffer;
  let mailboxId: string;
  let address: string;
  const seen: GraphLifecycleEvent[] = [];
  let stop: () => void;

  before(async () => {
    api = await openApi(sqlite);
    const store = api.t.store;
    key = store.secretBox.derive('graph-notifications');
    const profile = await store.profiles.create({
      name: 'EXO',
      serverType: 'exchange-online',
      tenantId: 'contoso.onmicrosoft.com',
      clientId: '11111111-2222-3333-4444-555555555555',
      clientSecret: 'a-client-secret',
      ownerId: api.admin.id,
    });
    const user = await store.users.create({ name: 'Pushed', email: 'Pushed@Contoso.test', incomingFilter: 'all' });
    address = user.email;
    mailboxId = user.mailboxId!;
    await store.mailboxes.update(mailboxId, { profileId: profile.id, approvalStatus: 'approved', enabled: true, outgoingMethod: 'none' });
    stop = onGraphLifecycle((event) => seen.push(event));
  });
  after(async () => {
    stop();
    await api?.close();
  });

  /** Makes the mailbox due only far in the future, as after a cycle. */
  async function parkMailbox(): Promise<void> {
    const claimed = await api.t.store.sync.claimDue('test-worker', 100, 60_000, new Date());
    for (const { lease } of claimed) await api.t.store.sync.release(lease, FAR);
    assert.equal((await api.t.store.mailboxes.get(mailboxId)).nextDueAt, FAR.toISOString());
  }

  const post = (payload: string | Buffer, contentType = 'application/json', url = '/graph/notifications') =>
    api.app.inject({ method: 'POST', url, headers: { 'content-type': contentType }, payload });

  const notification = (clientState: string, extra: Record<string, unknown> = {}) => ({
    subscriptionId: 'sub-1',
    subscriptionExpirationDateTime: '2100-01-01T00:00:00.0000000Z',
    changeType: 'created',
    resource: 'users/pushed@contoso.test/messages/AAMk',
    tenantId: '84bd8158-6d4d-4958-8b9f-9d6445542f95',
    resourceData: { '@odata.type': '#Microsoft.Graph.Message', '@odata.id': 'Users/x/Messages/AAMk', '@odata.etag': 'W/"x"', id: 'AAMk' },
    clientState,
    ...extra,
  });

  test('the validation handshake echoes the URL-decoded token as text/plain, whatever the body', async () => {
    const token = 'Validation: Testing client application reachability for subscription Request-Id: 4f2c+1/=&é';
    const response = await post('', 'text/plain; charset=utf-8', `/graph/notifications?validationToken=${encodeURIComponent(token)}`);
    assert.equal(response.statusCode, 200);
    assert.match(String(response.headers['content-type']), /^text\/plain/);
    assert.equal(response.body, token);
    // No credentials asked for, no CSRF token needed, a cookie or a bearer token changes nothing.
    const withCookie = await api.app.inject({ method: 'POST', url: '/graph/notifications?validationToken=abc', headers: { cookie: 'liaison_session=nonsense' } });
    assert.equal(withCookie.statusCode, 200);
    assert.equal(withCookie.body, 'abc');
    assert.ok(!api.logs.some((line) => line.includes('Testing client application reachability')), 'the token is not logged');
  });

  test('a notification whose clientState verifies wakes the mailbox and is emitted as a change; answered 202', async () => {
    await parkMailbox();
    seen.length = 0;
    const before = Date.now();
    const response = await post(JSON.stringify({ value: [notification(clientStateFor(key, address))] }));
    assert.equal(response.statusCode, 202, response.body);
    const due = (await api.t.store.mailboxes.get(mailboxId)).nextDueAt;
    assert.ok(due !== null && Date.parse(due) >= before - 1000 && Date.parse(due) <= Date.now(), `due now, not at ${due}`);
    assert.deepEqual(seen, [{ address, event: 'change', subscriptionId: 'sub-1' }]);
  });

  test('a clientState made with another key, or none, is ignored and counted in the log, which does not carry it', async () => {
    await parkMailbox();
    seen.length = 0;
    const forged = clientStateFor(Buffer.alloc(32, 9), address);
    const logsBefore = api.logs.length;
    const response = await post(JSON.stringify({ value: [notification(forged), notification('SecretClientState'), { ...notification(''), clientState: undefined }, 'junk'] }));
    assert.equal(response.statusCode, 202);
    assert.equal((await api.t.store.mailboxes.get(mailboxId)).nextDueAt, FAR.toISOString(), 'not woken');
    assert.deepEqual(seen, []);
    const lines = api.logs.slice(logsBefore);
    const counted = lines.map((line) => JSON.parse(line) as { ignored?: number; received?: number }).find((line) => line.ignored !== undefined);
    assert.deepEqual({ ignored: counted?.ignored, received: counted?.received }, { ignored: 4, received: 4 });
    assert.ok(!lines.some((line) => line.includes(forged) || line.includes('SecretClientState')), 'no clientState in the log');
  });

  test('lifecycle notifications are emitted with their event; missed wakes the mailbox, the others do not', async () => {
    const state = clientStateFor(key, address);
    const lifecycle = (event: string) => ({ subscriptionId: 'sub-2', subscriptionExpirationDateTime: '2100-01-01T00:00:00Z', tenantId: 't', clientState: state, lifecycleEvent: event });
    await parkMailbox();
    seen.length = 0;
    const others = await post(JSON.stringify({ value: [lifecycle('reauthorizationRequired'), lifecycle('subscriptionRemoved'), lifecycle('somethingNew')] }));
    assert.equal(others.statusCode, 202);
    assert.deepEqual(seen.map((e) => e.event), ['reauthorizationRequired', 'subscriptionRemoved']);
    assert.equal((await api.t.store.mailboxes.get(mailboxId)).nextDueAt, FAR.toISOString());
    seen.length = 0;
    const missed = await post(JSON.stringify({ value: [lifecycle('missed')] }));
    assert.equal(missed.statusCode, 202);
    assert.deepEqual(seen, [{ address, event: 'missed', subscriptionId: 'sub-2' }]);
    assert.notEqual((await api.t.store.mailboxes.get(mailboxId)).nextDueAt, FAR.toISOString(), 'missed wakes the mailbox');
  });

  test('a verified notification for an address Liaison has no mailbox for changes nothing and is answered 202', async () => {
    await parkMailbox();
    const response = await post(JSON.stringify({ value: [notification(clientStateFor(key, 'gone@contoso.test'))] }));
    assert.equal(response.statusCode, 202);
    assert.equal((await api.t.store.mailboxes.get(mailboxId)).nextDueAt, FAR.toISOString());
  });

  test('a body that is not JSON, not {value: [...]}, or missing is 400 with a clear message; over 1 MiB is 413', async () => {
    const malformed = await post('{"value": [');
    assert.equal(malformed.statusCode, 400);
    assert.match(malformed.json().message, /not valid JSON/);
    const wrongShape = await post(JSON.stringify({ notifications: [] }));
    assert.equal(wrongShape.statusCode, 400);
    assert.match(wrongShape.json().message, /expected a JSON object \{"value": \[\.\.\.\]\}/);
    const empty = await api.app.inject({ method: 'POST', url: '/graph/notifications' });
    assert.equal(empty.statusCode, 400);
    assert.match(empty.json().message, /body is missing/);
    const big = await post(JSON.stringify({ value: [notification('x'.repeat(1024 * 1024))] }));
    assert.equal(big.statusCode, 413);
    assert.match(big.json().message, /too large.*1,048,576 bytes/);
  });
});
