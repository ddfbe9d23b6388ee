/** Graph subscriptions: the validation handshake, a notification on a new message, renewal, lifecycle events, expiry limits. */
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { type GraphSandbox, startGraphSandbox } from './graph-support.js';

let s: GraphSandbox;
let receiver: Server;
let base: string;
/** What the receiver got: validation tokens, and notification bodies by path. */
const validations: string[] = [];
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Entry = Record<string, any>;
const posts: Array<{ path: string; body: { value: Entry[] } }> = [];
const waiters: Array<() => void> = [];
let refuseValidation = false;

function read(req: IncomingMessage): Promise<string> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
  });
}

/** Resolves once a POST to the path has arrived that satisfies the check. */
function arrival(path: string, check: (body: { value: Entry[] }) => boolean) {
  return new Promise<{ value: Entry[] }>((resolve) => {
    const look = () => {
      const found = posts.find((p) => p.path === path && check(p.body));
      if (found) resolve(found.body);
      else waiters.push(look);
    };
    look();
  });
}

before(async () => {
  s = await startGraphSandbox();
  receiver = createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const text = await read(req);
    const token = url.searchParams.get('validationToken');
    if (token !== null) {
      validations.push(token);
      if (refuseValidation) return void res.writeHead(403).end();
      res.writeHead(200, { 'Content-Type': 'text/plain' });
      return void res.end(token);
    }
    posts.push({ path: url.pathname, body: JSON.parse(text) });
    res.writeHead(202).end();
    for (const w of waiters.splice(0)) w();
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
});
after(async () => {
  await s.close();
  await new Promise<void>((r) => receiver.close(() => r()));
});

const inTwoDays = () => new Date(Date.now() + 2 * 24 * 3600 * 1000).toISOString();

test('a subscription is validated, then a new message in the Inbox is notified with clientState and resourceData', async () => {
  const created = await s.graph('POST', '/subscriptions', {
    body: {
      changeType: 'created',
      notificationUrl: `${base}/notify`,
      lifecycleNotificationUrl: `${base}/lifecycle`,
      resource: "users/alice@contoso.test/mailFolders('inbox')/messages",
      expirationDateTime: inTwoDays(),
      clientState: 'alice-secret',
    },
  });
  assert.equal(created.status, 201, created.text);
  assert.equal(created.json.applicationId, s.clientId);
  assert.match(created.json.expirationDateTime, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}Z$/);
  assert.equal(validations.length, 2);
  assert.match(validations[0]!, /^Validation: /);

  const { itemId } = (await s.control<{ itemId: string }>('POST', '/mailboxes/alice@contoso.test/messages', { from: 'jane.doe@fabrikam.test', to: 'alice@contoso.test', subject: 'Push me' })).json;
  const restId = itemId.replace(/\+/g, '-').replace(/\//g, '_');
  const body = await arrival('/notify', (b) => b.value.some((v) => v.resourceData?.id === restId));
  const entry = body.value.find((v) => v.resourceData.id === restId)!;
  assert.equal(entry.subscriptionId, created.json.id);
  // Each notification has its own id (changeNotification.id, as webhooks__05 shows).
  assert.equal(typeof entry.id, 'string');
  assert.ok(entry.id.length > 0);
  assert.equal(entry.clientState, 'alice-secret');
  assert.equal(entry.changeType, 'created');
  assert.equal(entry.tenantId, s.tenantId);
  assert.equal(entry.resourceData['@odata.type'], '#Microsoft.Graph.Message');
  assert.match(entry.resourceData['@odata.etag'], /^W\/"/);
  assert.match(entry.resource, /^Users\/[0-9a-f-]{36}\/Messages\//);
  // The id in the notification opens the message.
  assert.equal((await s.graph('GET', `/users/alice@contoso.test/messages/${entry.resourceData.id}?$select=subject`)).json.subject, 'Push me');

  // A message in another folder is not notified on this subscription.
  const listed = await s.control<Array<{ id: string; delivered: number }>>('GET', '/graph/subscriptions');
  assert.equal(listed.json.find((x) => x.id === created.json.id)!.delivered >= 1, true);

  // Renewal.
  const renewed = await s.graph('PATCH', `/subscriptions/${created.json.id}`, { body: { expirationDateTime: new Date(Date.now() + 3600_000).toISOString() } });
  assert.equal(renewed.status, 200);
  assert.notEqual(renewed.json.expirationDateTime, created.json.expirationDateTime);

  // Lifecycle events go to the lifecycle URL; subscriptionRemoved also removes it.
  assert.equal((await s.control('POST', `/graph/subscriptions/${created.json.id}/lifecycle`, { event: 'missed' })).status, 200);
  const missed = await arrival('/lifecycle', (b) => b.value.some((v) => v.lifecycleEvent === 'missed'));
  assert.equal(missed.value[0]!.clientState, 'alice-secret');
  assert.equal(missed.value[0]!.subscriptionId, created.json.id);
  await s.control('POST', `/graph/subscriptions/${created.json.id}/lifecycle`, { event: 'reauthorizationRequired' });
  await arrival('/lifecycle', (b) => b.value.some((v) => v.lifecycleEvent === 'reauthorizationRequired'));
  // The challenge is answered by the bound action reauthorize (204, expiry unchanged), or by a renewal.
  const pending = async () => (await s.control<Array<{ id: string; reauthorizationRequired: boolean }>>('GET', '/graph/subscriptions')).json.find((x) => x.id === created.json.id)!.reauthorizationRequired;
  assert.equal(await pending(), true);
  const expiryBefore = (await s.graph('GET', `/subscriptions/${created.json.id}`)).json.expirationDateTime;
  const reauthorized = await s.graph('POST', `/subscriptions/${created.json.id}/reauthorize`);
  assert.equal(reauthorized.status, 204, reauthorized.text);
  assert.equal(reauthorized.text, '');
  assert.equal(await pending(), false);
  assert.equal((await s.graph('GET', `/subscriptions/${created.json.id}`)).json.expirationDateTime, expiryBefore);
  await s.control('POST', `/graph/subscriptions/${created.json.id}/lifecycle`, { event: 'reauthorizationRequired' });
  assert.equal(await pending(), true);
  assert.equal((await s.graph('PATCH', `/subscriptions/${created.json.id}`, { body: { expirationDateTime: new Date(Date.now() + 7200_000).toISOString() } })).status, 200);
  assert.equal(await pending(), false, 'a renewal reauthorizes too');
  const unknown = await s.graph('POST', '/subscriptions/7a1d4c2e-0000-4000-8000-000000000000/reauthorize');
  assert.equal(unknown.status, 404);
  assert.equal(unknown.json.error.code, 'ResourceNotFound');
  assert.equal((await s.graph('GET', `/subscriptions/${created.json.id}/reauthorize`)).status, 405);
  await s.control('POST', `/graph/subscriptions/${created.json.id}/lifecycle`, { event: 'subscriptionRemoved' });
  await arrival('/lifecycle', (b) => b.value.some((v) => v.lifecycleEvent === 'subscriptionRemoved'));
  assert.equal((await s.graph('GET', `/subscriptions/${created.json.id}`)).status, 404);
});

test('validation refused, https required (http only on loopback when allowed), expiration at most 4230 minutes', async () => {
  const resource = 'users/bob@contoso.test/mailFolders/inbox/messages';
  refuseValidation = true;
  try {
    const refused = await s.graph('POST', '/subscriptions', { body: { changeType: 'created', notificationUrl: `${base}/notify`, resource, expirationDateTime: inTwoDays() } });
    assert.equal(refused.status, 400);
    assert.match(refused.json.error.message, /^Subscription validation request failed/);
  } finally {
    refuseValidation = false;
  }
  const remote = await s.graph('POST', '/subscriptions', { body: { changeType: 'created', notificationUrl: 'http://example.test/notify', resource, expirationDateTime: inTwoDays() } });
  assert.equal(remote.status, 400);
  await s.control('PATCH', '/settings', { graphAllowHttpNotificationUrl: false });
  try {
    const strict = await s.graph('POST', '/subscriptions', { body: { changeType: 'created', notificationUrl: `${base}/notify`, resource, expirationDateTime: inTwoDays() } });
    assert.equal(strict.status, 400);
  } finally {
    await s.control('PATCH', '/settings', { graphAllowHttpNotificationUrl: true });
  }
  const tooLong = await s.graph('POST', '/subscriptions', {
    body: { changeType: 'created', notificationUrl: `${base}/notify`, resource, expirationDateTime: new Date(Date.now() + 4231 * 60_000).toISOString() },
  });
  assert.equal(tooLong.status, 400);
  const okay = await s.graph('POST', '/subscriptions', { body: { changeType: 'created', notificationUrl: `${base}/notify`, resource, expirationDateTime: new Date(Date.now() + 4229 * 60_000).toISOString() } });
  assert.equal(okay.status, 201);
  const mine = await s.graph('GET', '/subscriptions');
  assert.ok(mine.json.value.some((v: { id: string }) => v.id === okay.json.id));
  assert.equal((await s.graph('DELETE', `/subscriptions/${okay.json.id}`)).status, 204);
});

test('an access policy that excludes the mailbox refuses the subscription', async () => {
  const policy = await s.control<{ id: string }>('POST', '/graph/access-policies', { appId: s.clientId, accessRight: 'DenyAccess', mailboxes: ['carol@contoso.test'] });
  try {
    const denied = await s.graph('POST', '/subscriptions', { body: { changeType: 'created', notificationUrl: `${base}/notify`, resource: 'users/carol@contoso.test/mailFolders/inbox/messages', expirationDateTime: inTwoDays() } });
    assert.equal(denied.status, 403);
    assert.equal(denied.json.error.code, 'ErrorAccessDenied');
  } finally {
    await s.control('DELETE', `/graph/access-policies/${policy.json.id}`);
  }
});

test('changeType created,updated and the resource users/{id}/messages: created and updated notified where watched; deleted refused clearly', async () => {
  const user = 'dave@contoso.test';
  const subscribe = async (path: string, resource: string, changeType: string) => {
    const created = await s.graph('POST', '/subscriptions', { body: { changeType, notificationUrl: `${base}${path}`, resource, expirationDateTime: inTwoDays(), clientState: path } });
    assert.equal(created.status, 201, created.text);
    assert.equal(created.json.changeType, changeType);
    return created.json.id as string;
  };
  const all = await subscribe('/all', `/users/${user}/messages`, 'created,updated');
  const inbox = await subscribe('/inbox-cu', `/users/${user}/mailfolders('inbox')/messages`, 'created,updated');
  await subscribe('/created-only', `users/${user}/mailFolders/inbox/messages`, 'created');
  const folder = await s.graph('POST', `/users/${user}/mailFolders`, { body: { displayName: 'Watched elsewhere' } });

  const { itemId } = (await s.control<{ itemId: string }>('POST', `/mailboxes/${user}/messages`, { from: 'jane.doe@fabrikam.test', to: user, subject: 'Watch me' })).json;
  const restId = itemId.replace(/\+/g, '-').replace(/\//g, '_');
  const has = (changeType: string, id: string) => (b: { value: Entry[] }) => b.value.some((v) => v.changeType === changeType && v.resourceData.id === id);
  for (const path of ['/all', '/inbox-cu', '/created-only']) await arrival(path, has('created', restId));

  // Marked read: updated, to both created,updated subscriptions.
  assert.equal((await s.graph('PATCH', `/users/${user}/messages/${restId}`, { body: { isRead: true } })).status, 200);
  const updated = await arrival('/inbox-cu', has('updated', restId));
  assert.equal(updated.value.find((v) => v.changeType === 'updated')!.subscriptionId, inbox);
  await arrival('/all', has('updated', restId));

  // Moved to another folder: within users/{id}/messages an update (new id); out of the Inbox's scope otherwise.
  const moved = await s.graph('POST', `/users/${user}/messages/${restId}/move`, { body: { destinationId: folder.json.id } });
  assert.equal(moved.status, 201);
  const after = await arrival('/all', has('updated', moved.json.id));
  assert.equal(after.value.find((v) => v.resourceData.id === moved.json.id)!.subscriptionId, all);
  // A message delivered now: the created-only subscription gets it, and never got an updated one.
  const second = (await s.control<{ itemId: string }>('POST', `/mailboxes/${user}/messages`, { from: 'jane.doe@fabrikam.test', to: user, subject: 'Second' })).json.itemId.replace(/\+/g, '-').replace(/\//g, '_');
  await arrival('/created-only', has('created', second));
  assert.ok(posts.filter((p) => p.path === '/created-only').every((p) => p.body.value.every((v) => v.changeType === 'created')));
  assert.ok(!posts.filter((p) => p.path === '/inbox-cu').some((p) => p.body.value.some((v) => v.resourceData.id === moved.json.id)), 'the Inbox subscription does not follow the message out');

  const refused = async (changeType: string, pattern: RegExp) => {
    const answer = await s.graph('POST', '/subscriptions', { body: { changeType, notificationUrl: `${base}/x`, resource: `/users/${user}/messages`, expirationDateTime: inTwoDays() } });
    assert.equal(answer.status, 400, `${changeType}: ${answer.text}`);
    assert.equal(answer.json.error.code, 'ValidationError');
    assert.match(answer.json.error.message, pattern);
  };
  // A documented difference (docs/SANDBOX.md): deleted is not notified by the sandbox, so it is refused.
  await refused('created,deleted', /changeType 'deleted' is not supported by the sandbox/);
  await refused('created,bogus', /changeType 'bogus' is not supported by the sandbox/);
  await refused('', /changeType is required/);
  await refused('created,created', /twice/);
  const me = await s.graph('POST', '/subscriptions', { body: { changeType: 'created', notificationUrl: `${base}/x`, resource: 'me/messages', expirationDateTime: inTwoDays() } });
  assert.equal(me.status, 400);
  assert.match(me.json.error.message, /delegated/);
});
