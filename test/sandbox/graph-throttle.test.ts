/** $batch (limit, dependsOn, per-request answers), the per-app-and-mailbox concurrency limit, and faults on the Graph side. */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { graphOf } from '../../src/sandbox/graph/service.js';
import { type GraphSandbox, startGraphSandbox } from './graph-support.js';

let s: GraphSandbox;
before(async () => {
  s = await startGraphSandbox();
});
after(() => s.close());

test('$batch: each request answered with its id and status, JSON bodies inline, $value base64, dependsOn in order', async () => {
  const list = await s.graph('GET', '/users/alice@contoso.test/mailFolders/inbox/messages?$select=id');
  const id = list.json.value[0].id as string;
  const answer = await s.graph('POST', '/$batch', {
    body: {
      requests: [
        { id: '1', method: 'GET', url: '/users/alice@contoso.test/mailFolders/inbox' },
        { id: '2', method: 'GET', url: `/users/alice@contoso.test/messages/${id}/$value` },
        { id: '3', method: 'POST', url: '/users/alice@contoso.test/mailFolders', body: { displayName: 'Batch folder' }, headers: { 'Content-Type': 'application/json' } },
        { id: '4', method: 'GET', url: '/users/alice@contoso.test/mailFolders?$top=100', dependsOn: ['3'] },
        { id: '5', method: 'GET', url: '/users/nobody@contoso.test/messages' },
        { id: '6', method: 'GET', url: '/users/alice@contoso.test/mailFolders/inbox', dependsOn: ['5'] },
      ],
    },
  });
  assert.equal(answer.status, 200);
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const byId = new Map<string, { status: number; body: any; headers: Record<string, string> }>(answer.json.responses.map((r: { id: string }) => [r.id, r]));
  assert.equal(byId.get('1')!.status, 200);
  assert.equal(byId.get('1')!.body.displayName, 'Inbox');
  const mime = Buffer.from(byId.get('2')!.body as string, 'base64').toString('utf8');
  assert.match(mime, /^[\s\S]*Subject: /);
  assert.equal(byId.get('3')!.status, 201);
  assert.ok(byId.get('4')!.body.value.some((f: { displayName: string }) => f.displayName === 'Batch folder'));
  assert.equal(byId.get('5')!.status, 404);
  assert.equal(byId.get('6')!.status, 424);
});

test('$batch of more than 20 requests is 400', async () => {
  const requests = Array.from({ length: 21 }, (_, i) => ({ id: String(i + 1), method: 'GET', url: '/users/alice@contoso.test/mailFolders/inbox' }));
  const answer = await s.graph('POST', '/$batch', { body: { requests } });
  assert.equal(answer.status, 400);
  assert.equal(answer.json.error.code, 'BadRequest');
  assert.match(answer.json.error.message, /20/);
});

test('over the concurrency limit (4 per app and mailbox) the next request is 429 with Retry-After; another mailbox is not affected', async () => {
  // Four slow requests hold the four slots while the fifth comes in.
  await s.control('POST', '/faults', { kind: 'slow', operation: 'graph.list', mailbox: 'bob@contoso.test', times: 4, delayMs: 1000 });
  const held = Array.from({ length: 4 }, () => s.graph('GET', '/users/bob@contoso.test/mailFolders/inbox/messages?$select=id'));
  // Wait until the four are in (not for a fixed time).
  const graph = graphOf(s.sandbox.runtime)!;
  while ((graph.inFlight.get(`${s.clientId}|bob@contoso.test`) ?? 0) < 4) await new Promise((r) => setTimeout(r, 10));
  const fifth = await s.graph('GET', '/users/bob@contoso.test/mailFolders/inbox/messages?$select=id');
  const other = await s.graph('GET', '/users/carol@contoso.test/mailFolders/inbox/messages?$select=id');
  const results = await Promise.all(held);
  assert.deepEqual(results.map((r) => r.status), [200, 200, 200, 200]);
  assert.equal(fifth.status, 429);
  assert.equal(fifth.headers['retry-after'], '2');
  assert.equal(fifth.json.error.code, 'ApplicationThrottled');
  assert.equal(other.status, 200);
  // Freed: the next one passes.
  assert.equal((await s.graph('GET', '/users/bob@contoso.test/mailFolders/inbox/messages?$select=id')).status, 200);
});

test('inside $batch, requests beyond the limit for one mailbox answer 429 each, the others 200', async () => {
  await s.control('PATCH', '/settings', { graphConcurrencyLimit: 2 });
  await s.control('POST', '/faults', { kind: 'slow', operation: 'graph.get', mailbox: 'carol@contoso.test', times: 2, delayMs: 300 });
  try {
    const requests = Array.from({ length: 4 }, (_, i) => ({ id: String(i + 1), method: 'GET', url: '/users/carol@contoso.test/mailFolders/inbox' }));
    const answer = await s.graph('POST', '/$batch', { body: { requests } });
    const statuses = answer.json.responses.map((r: { status: number }) => r.status).sort();
    assert.deepEqual(statuses, [200, 200, 429, 429]);
    const throttled = answer.json.responses.find((r: { status: number }) => r.status === 429);
    assert.equal(throttled.headers['Retry-After'], '2');
  } finally {
    await s.control('PATCH', '/settings', { graphConcurrencyLimit: 4 });
  }
});

test('faults: http429 and http503 with Retry-After (graphRetryAfterSeconds), malformed, drop, dropAfter (carried out, answer lost)', async () => {
  await s.control('PATCH', '/settings', { graphRetryAfterSeconds: 7 });
  await s.control('POST', '/faults', { kind: 'http429', operation: 'graph.list', times: 1 });
  const throttled = await s.graph('GET', '/users/alice@contoso.test/mailFolders/inbox/messages');
  assert.equal(throttled.status, 429);
  assert.equal(throttled.headers['retry-after'], '7');
  assert.equal(throttled.json.error.code, 'TooManyRequests');
  await s.control('POST', '/faults', { kind: 'http503', operation: 'graph.get', mailbox: 'alice@contoso.test', times: 1 });
  const busy = await s.graph('GET', '/users/alice@contoso.test/mailFolders/inbox');
  assert.equal(busy.status, 503);
  assert.equal(busy.headers['retry-after'], '7');
  await s.control('PATCH', '/settings', { graphRetryAfterSeconds: 2 });

  await s.control('POST', '/faults', { kind: 'malformed', operation: 'graph.get', times: 1 });
  const broken = await s.graph('GET', '/users/alice@contoso.test/mailFolders/inbox');
  assert.equal(broken.status, 200);
  assert.throws(() => JSON.parse(broken.text));

  await s.control('POST', '/faults', { kind: 'drop', operation: 'graph.get', times: 1 });
  await assert.rejects(s.graph('GET', '/users/alice@contoso.test/mailFolders/inbox'));

  const before = (await s.control<unknown[]>('GET', '/mailboxes/bob@contoso.test/folders/inbox/items')).json.length;
  await s.control('POST', '/faults', { kind: 'dropAfter', operation: 'graph.sendMail', times: 1 });
  await assert.rejects(s.graph('POST', '/users/alice@contoso.test/sendMail', { body: { message: { subject: 'Lost answer', toRecipients: [{ emailAddress: { address: 'bob@contoso.test' } }] } } }));
  const afterItems = (await s.control<Array<{ subject: string }>>('GET', '/mailboxes/bob@contoso.test/folders/inbox/items')).json;
  assert.equal(afterItems.length, before + 1);
  assert.ok(afterItems.some((i) => i.subject === 'Lost answer'));
});

test('EWS faults do not take the Graph-only kinds; a Graph-named fault leaves EWS alone', async () => {
  await s.control('POST', '/faults', { kind: 'http429', times: 1 });
  const ews = await s.ews('<m:GetFolder><m:FolderShape><t:BaseShape>IdOnly</t:BaseShape></m:FolderShape><m:FolderIds><t:DistinguishedFolderId Id="inbox"/></m:FolderIds></m:GetFolder>', { as: 'alice@contoso.test' });
  assert.equal(ews.status, 200);
  // Still there for the Graph side.
  assert.equal((await s.graph('GET', '/users/alice@contoso.test/mailFolders/inbox')).status, 429);
});
