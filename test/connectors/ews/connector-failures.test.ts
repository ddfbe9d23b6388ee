/**
 * The EWS connector's failures as the engine meets them, against the sandbox: each is thrown (never swallowed)
 * and classified: sync states the server refuses, messages whose content cannot be read, sends whose answer is
 * lost, throttling, a changed password, impersonation taken away. Also: fetch returns the ConversationId.
 */
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, test } from 'node:test';
import type { MailboxSession } from '../../../src/connectors/connector.js';
import { EwsConnector } from '../../../src/connectors/ews/connector.js';
import { EwsSendUncertainError } from '../../../src/connectors/ews/send-errors.js';
import { EwsResponseError } from '../../../src/connectors/ews/soap/errors.js';
import { createHttpTransport } from '../../../src/connectors/ews/transport/http.js';
import { SchemaCheckingTransport } from '../../helpers/ews-client.js';
import { startTestSandbox, type TestSandbox } from '../../helpers/sandbox.js';
import { sandboxTransportOptions } from '../../helpers/sandbox-connect.js';

const ALICE = 'alice@contoso.test';
const BOB = 'bob@contoso.test';

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected the call to fail');
}

function outgoing(from: string, to: string, messageId: string): Buffer {
  return Buffer.from(
    [`From: ${from}`, `To: ${to}`, 'Subject: From the CRM', `Message-ID: ${messageId}`, `Date: ${new Date().toUTCString()}`, 'MIME-Version: 1.0', 'Content-Type: text/plain; charset=utf-8', '', 'Hello', ''].join('\r\n'),
  );
}

describe('EWS connector failures against the sandbox', () => {
  let s: TestSandbox;
  let transport: SchemaCheckingTransport;
  let connector: EwsConnector;
  let alice: MailboxSession;
  let bob: MailboxSession;
  const service = () => s.info.serviceAccount!.username;

  before(async () => {
    s = await startTestSandbox();
    transport = new SchemaCheckingTransport(createHttpTransport(sandboxTransportOptions(s)));
    connector = new EwsConnector({ credentials: { username: service(), password: s.password, method: 'basic' }, autodiscover: false, url: `https://mail.contoso.test:${s.info.listen.port}/EWS/Exchange.asmx`, transport });
    alice = await connector.open(ALICE);
    bob = await connector.open(BOB);
  });
  afterEach(async () => {
    await s.control('DELETE', '/faults');
  });
  after(async () => {
    await connector?.close();
    await transport?.close();
    await s?.close();
  });

  test('a cursor the server cannot read is thrown and classified invalid-cursor; from scratch works', async () => {
    const sent = await alice.listChanges('sent', null, 512);
    for (const cursor of ['H4sIAAAAAAAEAO29B2AcSZYlJi9tynt/SvX4Bcp', 'not a sync state', sent.cursor]) {
      const error = await rejection(alice.listChanges('inbox', cursor, 512));
      assert.ok(error instanceof EwsResponseError);
      const classified = connector.classify(error);
      assert.deepEqual([classified.kind, classified.code], ['invalid-cursor', 'ews.ErrorInvalidSyncStateData']);
      assert.match(classified.message, /alice@contoso\.test/);
    }
    const fresh = await alice.listChanges('inbox', null, 512);
    assert.ok(fresh.changes.length > 0 && fresh.complete);
  });

  test('listChanges asks for at most 512 changes, whatever the engine asks', async () => {
    const before = transport.requests.length;
    await alice.listChanges('inbox', null, 5000);
    await alice.listChanges('inbox', null, 0);
    const asked = transport.requests.slice(before).map((r) => /<m:MaxChangesReturned>(\d+)</.exec(r.body)?.[1]);
    assert.deepEqual(asked, ['512', '1']);
  });

  test('fetch returns the ConversationId: the same for a message and its reply', async () => {
    const first = await s.control<{ itemId: string }>('POST', `/mailboxes/${BOB}/messages`, { from: 'jane.doe@fabrikam.test', to: [BOB], subject: 'Quarterly numbers', body: 'a' });
    const reply = await s.control<{ itemId: string }>('POST', `/mailboxes/${BOB}/messages`, { from: 'jane.doe@fabrikam.test', to: [BOB], subject: 'RE: Quarterly numbers', body: 'b' });
    const other = await s.control<{ itemId: string }>('POST', `/mailboxes/${BOB}/messages`, { from: 'jane.doe@fabrikam.test', to: [BOB], subject: 'Something else', body: 'c' });
    const fetched = await bob.fetch([first.json.itemId, reply.json.itemId, other.json.itemId]);
    const ids = fetched.map((m) => ('conversationId' in m ? m.conversationId : undefined));
    assert.ok(ids.every((id) => typeof id === 'string' && id.length > 0), 'every message has its conversation id');
    assert.equal(ids[0], ids[1]);
    assert.notEqual(ids[0], ids[2]);
  });

  test('a message whose content the server cannot read is a failure in its place; the others are fetched', async () => {
    const broken = await s.control<{ itemId: string }>('POST', `/mailboxes/${BOB}/messages`, { from: 'jane.doe@fabrikam.test', to: [BOB], subject: 'Broken', body: 'x', corrupt: true });
    const fine = await s.control<{ itemId: string }>('POST', `/mailboxes/${BOB}/messages`, { from: 'jane.doe@fabrikam.test', to: [BOB], subject: 'Fine', body: 'y' });
    const [bad, good] = await bob.fetch([broken.json.itemId, fine.json.itemId]);
    assert.ok(bad && 'error' in bad && bad.serverId === broken.json.itemId);
    assert.ok(bad.error instanceof EwsResponseError);
    assert.equal(connector.classify(bad.error).code, 'ews.ErrorItemCorrupt');
    assert.ok(good && 'mime' in good && /Subject: Fine/.test(good.mime.toString('utf8')));
  });

  test('a send whose connection is cut after Exchange sent it is uncertain, and findSent then finds it', async () => {
    const id = `<uncertain-${Date.now()}@crm.contoso.test>`;
    await s.control('POST', '/faults', { kind: 'dropAfter', operation: 'CreateItem', times: 1 });
    const error = await rejection(alice.send({ mime: outgoing(ALICE, BOB, id), saveCopy: true }));
    assert.ok(error instanceof EwsSendUncertainError, String(error));
    assert.equal(connector.classify(error).kind, 'uncertain');
    assert.equal(await alice.findSent(id), true, 'it was sent: the engine must not send it again');
    const inbox = await s.control<Array<{ internetMessageId: string }>>('GET', `/mailboxes/${BOB}/folders/inbox/items`);
    assert.equal(inbox.json.filter((m) => m.internetMessageId === id).length, 1);
  });

  test('a send cut before Exchange acted is uncertain too (the client cannot tell), and findSent says it is not there', async () => {
    const id = `<cut-before-${Date.now()}@crm.contoso.test>`;
    await s.control('POST', '/faults', { kind: 'drop', operation: 'CreateItem', times: 1 });
    const error = await rejection(alice.send({ mime: outgoing(ALICE, BOB, id), saveCopy: true }));
    assert.equal(connector.classify(error).kind, 'uncertain');
    assert.equal(await alice.findSent(id), false);
  });

  test('throttling is thrown with the server back-off: ErrorServerBusy and HTTP 503 with Retry-After', async () => {
    await s.control('POST', '/faults', { kind: 'serverBusy', operation: 'SyncFolderItems', times: 1, backOffMilliseconds: 1234 });
    const busy = connector.classify(await rejection(alice.listChanges('inbox', null, 10)));
    assert.deepEqual([busy.kind, busy.backOffMs], ['throttled', 1234]);
    await s.control('POST', '/faults', { kind: 'http503', operation: 'SyncFolderItems', times: 1, backOffMilliseconds: 3000 });
    const unavailable = connector.classify(await rejection(alice.listChanges('inbox', null, 10)));
    assert.deepEqual([unavailable.kind, unavailable.code, unavailable.backOffMs], ['throttled', 'http.503', 3000]);
  });

  test("a changed password and impersonation taken away are permanent, with fixes that say what to do", async () => {
    const account = encodeURIComponent(service());
    await s.control('PATCH', `/accounts/${account}`, { password: 'changed-by-the-admin' });
    try {
      const denied = connector.classify(await rejection(alice.listChanges('inbox', null, 10)));
      assert.deepEqual([denied.kind, denied.code], ['permanent', 'http.401']);
      assert.match(denied.fix ?? '', /password/);
    } finally {
      await s.control('PATCH', `/accounts/${account}`, { password: s.password });
    }
    await s.control('PATCH', `/accounts/${account}`, { impersonation: false });
    try {
      const refused = connector.classify(await rejection(alice.listChanges('inbox', null, 10)));
      assert.deepEqual([refused.kind, refused.code], ['permanent', 'ews.ErrorImpersonateUserDenied']);
      assert.match(refused.fix ?? '', /ApplicationImpersonation/);
      assert.match(refused.message, /alice@contoso\.test/);
    } finally {
      await s.control('PATCH', `/accounts/${account}`, { impersonation: true });
    }
    await alice.listChanges('inbox', null, 1);
  });

  test('a mailbox that does not exist, or was removed, is permanent', async () => {
    const ghost = await connector.open('ghost@contoso.test');
    const missing = connector.classify(await rejection(ghost.listChanges('inbox', null, 10)));
    assert.deepEqual([missing.kind, missing.code], ['permanent', 'ews.ErrorNonExistentMailbox']);

    assert.equal((await s.control('POST', '/mailboxes', { address: 'leaver@contoso.test' })).status, 201);
    const leaver = await connector.open('leaver@contoso.test');
    await leaver.listChanges('inbox', null, 10);
    assert.equal((await s.control('DELETE', '/mailboxes/leaver@contoso.test')).status, 204);
    const gone = connector.classify(await rejection(leaver.listChanges('inbox', null, 10)));
    assert.deepEqual([gone.kind, gone.code], ['permanent', 'ews.ErrorNonExistentMailbox']);
    assert.match(gone.fix ?? '', /primary SMTP address/);
    assert.equal((await s.control('DELETE', '/mailboxes/leaver@contoso.test')).status, 404);
  });

  test('every request the connector sent validates against the schemas', () => {
    assert.deepEqual(transport.invalid(), []);
  });
});
