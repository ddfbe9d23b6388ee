import assert from 'node:assert/strict';
import { after, afterEach, before, describe, test } from 'node:test';
import { child } from '../../src/xml/parse.js';
import { type EwsAnswer, faultCode, find, M, ok, responseClass, responseCode, responseMessages, startTestSandbox, type TestSandbox } from '../helpers/sandbox.js';
import { testTraffic } from '../helpers/traffic.js';

const ALICE = 'alice@contoso.test';
const inbox = '<m:GetFolder><m:FolderShape><t:BaseShape>IdOnly</t:BaseShape></m:FolderShape><m:FolderIds><t:DistinguishedFolderId Id="inbox"/></m:FolderIds></m:GetFolder>';
const sync =
  '<m:SyncFolderItems><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape></m:ItemShape><m:SyncFolderId><t:DistinguishedFolderId Id="inbox"/></m:SyncFolderId><m:MaxChangesReturned>10</m:MaxChangesReturned></m:SyncFolderItems>';

function values(answer: EwsAnswer): Record<string, string> {
  return Object.fromEntries(find(answer.doc(), 'Value').map((v) => [v.attributes.find((a) => a.local === 'Name')!.value, v.text]));
}

describe('sandbox EWS: throttling and injected faults', () => {
  let s: TestSandbox;
  before(async () => {
    s = await startTestSandbox();
  });
  afterEach(async () => {
    await s.control('DELETE', '/faults');
    await s.control('PATCH', '/settings', { concurrencyLimit: 27, concurrentSyncCallsLimit: null, backOffMilliseconds: 5000 });
  });
  after(async () => {
    await s?.close();
  });

  test('over the concurrency budget an account gets ErrorServerBusy with BackOffMilliseconds; others are not affected', async () => {
    await s.control('PATCH', '/settings', { concurrencyLimit: 2, backOffMilliseconds: 1500 });
    // Three slow requests at once: two fit the budget, the third is refused at once.
    await s.control('POST', '/faults', { kind: 'slow', delayMs: 400, times: 3, mailbox: ALICE });
    const answers = await Promise.all([1, 2, 3].map(() => s.ews(inbox, { as: ALICE })));
    const busy = answers.filter((a) => a.status === 500);
    assert.equal(busy.length, 1);
    assert.equal(faultCode(busy[0]!), 'ErrorServerBusy');
    assert.match(busy[0]!.text, /<faultstring xml:lang="en-US">The server cannot service this request right now\. Try again later\.<\/faultstring>/);
    assert.deepEqual(
      { backOff: values(busy[0]!).BackOffMilliseconds, policy: values(busy[0]!).Policy, limit: values(busy[0]!).MaxConcurrencyLimit },
      { backOff: '1500', policy: 'MaxConcurrency', limit: '2' },
    );
    assert.equal(answers.filter((a) => a.status === 200).length, 2);
    // The budget is per account: a user signing in as themselves is unaffected.
    const accounts = await s.control<Array<{ username: string; password: string }>>('GET', '/accounts');
    const bob = accounts.json.find((a) => a.username === 'bob@contoso.test')!;
    ok(await s.ews(inbox, { user: bob.username, password: bob.password }));
  });

  test('a serverBusy fault answers with the back-off it is given, as many times as asked', async () => {
    await s.control('POST', '/faults', { kind: 'serverBusy', times: 2, backOffMilliseconds: 297749 });
    for (let n = 0; n < 2; n += 1) {
      const answer = await s.ews(inbox, { as: ALICE });
      assert.deepEqual([answer.status, faultCode(answer), values(answer).BackOffMilliseconds], [500, 'ErrorServerBusy', '297749']);
    }
    ok(await s.ews(inbox, { as: ALICE }));
  });

  test('ConcurrentSyncCalls: the sync call is answered in the message (HTTP 200) with the back-off and an empty state', async () => {
    await s.control('POST', '/faults', { kind: 'concurrentSyncCalls', operation: 'SyncFolderItems', times: 1 });
    ok(await s.ews(inbox, { as: ALICE }));
    const answer = await s.ews(sync, { as: ALICE });
    assert.equal(answer.status, 200);
    const message = responseMessages(answer.doc())[0]!;
    assert.deepEqual([responseClass(message), responseCode(message)], ['Error', 'ErrorServerBusy']);
    assert.match(child(message, M, 'MessageText')!.text, /policy part 'ConcurrentSyncCalls'/);
    assert.equal(values(answer).BackOffMilliseconds, '5000');
    assert.equal(child(message, M, 'SyncState')!.text, '');
    assert.equal(child(message, M, 'IncludesLastItemInRange')!.text, 'true');
    ok(await s.ews(sync, { as: ALICE }));
  });

  test('ConcurrentSyncCalls as a budget: sync calls beyond it at once are refused, other calls are not', async () => {
    await s.control('PATCH', '/settings', { concurrentSyncCallsLimit: 1 });
    await s.control('POST', '/faults', { kind: 'slow', delayMs: 300, times: 2, operation: 'SyncFolderItems' });
    const [first, second] = await Promise.all([s.ews(sync, { as: ALICE }), s.ews(sync, { as: ALICE })]);
    const codes = [first!, second!].map((a) => responseCode(responseMessages(a.doc())[0]!)).sort();
    assert.deepEqual(codes, ['ErrorServerBusy', 'NoError']);
  });

  test('HTTP 503, a dropped connection, malformed XML and a slow answer, each for the next request only', async () => {
    await s.control('POST', '/faults', { kind: 'http503', times: 1 });
    const unavailable = await s.ews(inbox, { as: ALICE });
    assert.equal(unavailable.status, 503);
    assert.ok(unavailable.headers['retry-after']);

    await s.control('POST', '/faults', { kind: 'drop', times: 1 });
    await assert.rejects(s.ews(inbox, { as: ALICE }), 'the connection is cut mid-answer');

    await s.control('POST', '/faults', { kind: 'malformed', times: 1 });
    const malformed = await s.ews(inbox, { as: ALICE });
    assert.equal(malformed.status, 200);
    assert.throws(() => malformed.doc(), 'the answer is not well-formed XML');

    await s.control('POST', '/faults', { kind: 'slow', delayMs: 300, times: 1 });
    const started = Date.now();
    ok(await s.ews(inbox, { as: ALICE }));
    assert.ok(Date.now() - started >= 250, 'the slow answer waited');
    ok(await s.ews(inbox, { as: ALICE }));
  });

  test('faults can target an operation, a mailbox or a host; the list shows what is left', async () => {
    const created = await s.control<{ id: string; remaining: number }>('POST', '/faults', { kind: 'serverBusy', operation: 'FindItem', mailbox: 'bob@contoso.test', times: 5 });
    assert.equal(created.status, 201);
    ok(await s.ews(inbox, { as: 'bob@contoso.test' }));
    const find = '<m:FindItem Traversal="Shallow"><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape></m:ItemShape><m:ParentFolderIds><t:DistinguishedFolderId Id="inbox"/></m:ParentFolderIds></m:FindItem>';
    ok(await s.ews(find, { as: ALICE }));
    assert.equal(faultCode(await s.ews(find, { as: 'bob@contoso.test' })), 'ErrorServerBusy');
    const list = await s.control<Array<{ id: string; remaining: number }>>('GET', '/faults');
    assert.deepEqual(list.json.map((f) => f.remaining), [4]);
    assert.equal((await s.control('DELETE', `/faults/${created.json.id}`)).status, 204);
    ok(await s.ews(find, { as: 'bob@contoso.test' }));

    await s.control('POST', '/faults', { kind: 'http503', host: 'mail2.contoso.test' });
    ok(await s.ews(inbox, { as: ALICE }));
    assert.equal((await s.ews(inbox, { as: 'dave@contoso.test', host: 'mail2.contoso.test' })).status, 503);
  });

  test('a mailbox moved to the other server is refused where it was and served where it is', async () => {
    ok(await s.ews(inbox, { as: 'carol@contoso.test' }));
    assert.equal((await s.control('POST', '/mailboxes/carol@contoso.test/move', { server: 'mail2' })).status, 200);
    assert.equal(faultCode(await s.ews(inbox, { as: 'carol@contoso.test' })), 'ErrorMailboxMoveInProgress');
    ok(await s.ews(inbox, { as: 'carol@contoso.test', host: 'mail2.contoso.test' }));
    await s.control('POST', '/mailboxes/carol@contoso.test/move', { server: 'mail' });
  });

  test('bad control API input is refused with what to fix', async () => {
    const kind = await s.control<{ error: string }>('POST', '/faults', { kind: 'meteor' });
    assert.equal(kind.status, 400);
    assert.match(kind.json.error, /"kind" must be one of http503, serverBusy/);
    const setting = await s.control<{ error: string }>('PATCH', '/settings', { concurencyLimit: 3 });
    assert.equal(setting.status, 400);
    assert.match(setting.json.error, /not a setting/);
    const range = await s.control<{ error: string }>('PATCH', '/settings', { concurrencyLimit: 0 });
    assert.equal(range.status, 400);
  });

  testTraffic(() => s.records, 20);
});
