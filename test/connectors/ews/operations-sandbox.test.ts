/**
 * The EWS operations against the sandbox, through the connector's client: each round-trips, per-item errors and
 * faults come back typed with the server's words, and every request the client sent validates against
 * Microsoft's schemas.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { EwsClient } from '../../../src/connectors/ews/client.js';
import {
  CreateFolder,
  CreateItem,
  type EwsItem,
  type ExtendedFieldUri,
  extendedValue,
  FindFolder,
  FindItem,
  GetFolder,
  GetItem,
  type ItemId,
  MoveItem,
  type PerItem,
  SendItem,
  SyncFolderHierarchy,
  SyncFolderItems,
  type SyncFolderItemsResult,
  UpdateItem,
} from '../../../src/connectors/ews/operations/index.js';
import { EwsFaultError, EwsHttpError, EwsResponseError } from '../../../src/connectors/ews/soap/errors.js';
import { sandboxClient, type SchemaCheckingTransport } from '../../helpers/ews-client.js';
import { startTestSandbox, type TestSandbox } from '../../helpers/sandbox.js';

const TRACKING: ExtendedFieldUri = { distinguishedPropertySetId: 'PublicStrings', propertyName: 'LiaisonTrackingId', propertyType: 'String' };
const ALICE = 'alice@contoso.test';
const BOB = 'bob@contoso.test';

function ok<T>(result: PerItem<T>): T {
  if (result instanceof EwsResponseError) throw result;
  return result;
}

async function syncAll(client: EwsClient, mailbox: string, syncState: string | null): Promise<SyncFolderItemsResult> {
  const all: SyncFolderItemsResult = { syncState: syncState ?? '', includesLastItemInRange: false, changes: [] };
  let state = syncState;
  for (let page = 0; page < 50; page += 1) {
    const r = await client.call(
      SyncFolderItems,
      { folderId: { distinguishedId: 'inbox' }, syncState: state, maxChangesReturned: 100, properties: ['message:IsRead', 'message:InternetMessageId', 'item:Subject'] },
      { mailbox },
    );
    all.changes.push(...r.changes);
    all.syncState = r.syncState;
    all.includesLastItemInRange = r.includesLastItemInRange;
    state = r.syncState;
    if (r.includesLastItemInRange) return all;
  }
  throw new Error('the sync did not end');
}

for (const method of ['basic', 'ntlm'] as const) describe(`EWS operations against the sandbox (${method})`, () => {
  let t: TestSandbox;
  let client: EwsClient;
  let transport: SchemaCheckingTransport;

  before(async () => {
    t = await startTestSandbox();
    ({ client, transport } = sandboxClient(t, { method }));
  });
  after(async () => {
    await transport?.close();
    await t?.close();
  });

  test('GetFolder opens the impersonated Inbox and keeps the ServerVersionInfo', async () => {
    const [inbox] = await client.call(GetFolder, { folderIds: [{ distinguishedId: 'inbox' }] }, { mailbox: ALICE });
    const folder = ok(inbox!);
    assert.equal(folder.displayName, 'Inbox');
    assert.ok(folder.folderId?.id);
    assert.equal(client.serverVersion?.majorVersion, 15);
    assert.equal(client.serverVersion?.version, 'V2017_07_11');
    const sent = transport.requests.at(-1)!;
    assert.equal(sent.headers['x-anchormailbox'], ALICE);
    assert.equal(sent.headers['content-type'], 'text/xml; charset=utf-8');
    assert.match(sent.body, /<t:PrimarySmtpAddress>alice@contoso\.test<\/t:PrimarySmtpAddress>/);
    assert.match(sent.body, /<t:RequestServerVersion Version="Exchange2013_SP1"\/>/);
    assert.equal(sent.concurrencyKey, ALICE);
  });

  test('X-AnchorMailbox routes a mailbox held by the other server (dave is on mail2) through the same URL', async () => {
    const [inbox] = await client.call(GetFolder, { folderIds: [{ distinguishedId: 'inbox' }] }, { mailbox: 'dave@contoso.test' });
    assert.equal(ok(inbox!).displayName, 'Inbox');
    assert.equal(transport.requests.at(-1)!.headers['x-anchormailbox'], 'dave@contoso.test');
  });

  test('CreateFolder, FindFolder by name, SyncFolderHierarchy see the new folder; a second create is ErrorFolderExists', async () => {
    const start = await client.call(SyncFolderHierarchy, {}, { mailbox: ALICE });
    assert.ok(start.syncState);
    assert.ok(start.changes.some((c) => c.type === 'create' && c.folder.displayName === 'Inbox'));

    const [created] = await client.call(CreateFolder, { parentFolderId: { distinguishedId: 'inbox' }, folders: [{ displayName: 'Liaison Undeliverable', folderClass: 'IPF.Note' }] }, { mailbox: ALICE });
    const id = ok(created!);
    assert.ok(id.id);

    const found = await client.call(
      FindFolder,
      { parentFolderIds: [{ distinguishedId: 'inbox' }], restriction: { op: 'IsEqualTo', path: 'folder:DisplayName', value: 'Liaison Undeliverable' } },
      { mailbox: ALICE },
    );
    assert.deepEqual(found.folders.map((f) => f.folderId?.id), [id.id]);
    assert.equal(found.includesLastItemInRange, true);

    const next = await client.call(SyncFolderHierarchy, { syncState: start.syncState }, { mailbox: ALICE });
    assert.deepEqual(next.changes.map((c) => (c.type === 'delete' ? c.folderId.id : [c.type, c.folder.displayName])), [['create', 'Liaison Undeliverable']]);

    const [again] = await client.call(CreateFolder, { parentFolderId: { distinguishedId: 'inbox' }, folders: [{ displayName: 'Liaison Undeliverable' }] }, { mailbox: ALICE });
    assert.ok(again instanceof EwsResponseError);
    assert.equal(again.responseCode, 'ErrorFolderExists');
    assert.ok(again.details.messageText.length > 0);
  });

  test('mail delivered to the Inbox: sync sees it, GetItem returns the MIME as delivered, read flag, move and delete follow', async () => {
    const baseline = await syncAll(client, ALICE, null);
    assert.ok(baseline.changes.length > 0, 'the demo Inbox has mail');
    assert.ok(baseline.changes.every((c) => c.type === 'create'));

    const mime = Buffer.from(
      [
        'From: Jane Doe <jane.doe@fabrikam.test>',
        'To: Alice <alice@contoso.test>',
        'Subject: Connector round trip',
        'Message-ID: <round-trip-1@fabrikam.test>',
        'Date: Tue, 02 Dec 2025 10:00:00 +0000',
        'MIME-Version: 1.0',
        'Content-Type: text/plain; charset=utf-8',
        '',
        'Hello from the connector test.',
        '',
      ].join('\r\n'),
    );
    const delivered = await t.control<{ itemId: string }>('POST', `/mailboxes/${ALICE}/messages`, { mimeBase64: mime.toString('base64') });
    assert.equal(delivered.status, 201);

    const news = await syncAll(client, ALICE, baseline.syncState);
    assert.equal(news.changes.length, 1);
    const change = news.changes[0]!;
    assert.equal(change.type, 'create');
    assert.ok(change.type === 'create');
    assert.equal(change.item.subject, 'Connector round trip');
    assert.equal(change.item.isRead, false);
    assert.equal(change.item.internetMessageId, '<round-trip-1@fabrikam.test>');
    assert.ok(change.itemId.changeKey);

    const [fetched] = await client.call(GetItem, { itemIds: [change.itemId], includeMimeContent: true, properties: ['message:InternetMessageId'] }, { mailbox: ALICE });
    const item = ok(fetched!);
    assert.deepEqual(item.mimeContent, mime);
    assert.equal(item.internetMessageId, '<round-trip-1@fabrikam.test>');

    // Read flag and a tracking property: one UpdateItem, a new change key, a ReadFlagChange in the next sync.
    const [updated] = await client.call(
      UpdateItem,
      {
        changes: [
          {
            itemId: change.itemId,
            updates: [{ set: 'message:IsRead', value: true }, { set: 'item:Categories', value: ['Tracked in CRM'] }, { setExtended: { path: TRACKING, value: 'act-1' } }],
          },
        ],
      },
      { mailbox: ALICE },
    );
    const newId = ok(updated!);
    assert.equal(newId?.id, change.itemId.id);
    assert.notEqual(newId?.changeKey, change.itemId.changeKey);
    const [reread] = await client.call(GetItem, { itemIds: [change.itemId], properties: ['message:IsRead', 'item:Categories', { extended: TRACKING }] }, { mailbox: ALICE });
    const r = ok(reread!);
    assert.equal(r.isRead, true);
    assert.deepEqual(r.categories, ['Tracked in CRM']);
    assert.equal(extendedValue(r, TRACKING)?.value, 'act-1');

    const afterRead = await syncAll(client, ALICE, news.syncState);
    assert.ok(afterRead.changes.some((c) => c.itemId.id === change.itemId.id && (c.type === 'readFlagChange' ? c.isRead : c.type === 'update')));

    const [folder] = await client.call(CreateFolder, { parentFolderId: { distinguishedId: 'msgfolderroot' }, folders: [{ displayName: 'Tracked' }] }, { mailbox: ALICE });
    const [moved] = await client.call(MoveItem, { toFolderId: ok(folder!), itemIds: [change.itemId] }, { mailbox: ALICE });
    const movedId = ok(moved!);
    assert.ok(movedId && movedId.id !== change.itemId.id);

    const [gone, there] = await client.call(GetItem, { itemIds: [change.itemId, movedId], properties: ['item:Subject'] }, { mailbox: ALICE });
    assert.ok(gone instanceof EwsResponseError);
    assert.equal(gone.responseCode, 'ErrorItemNotFound');
    assert.equal(gone.details.index, 0);
    assert.equal(ok(there!).subject, 'Connector round trip');

    const afterMove = await syncAll(client, ALICE, afterRead.syncState);
    assert.deepEqual(
      afterMove.changes.map((c) => [c.type, c.itemId.id]),
      [['delete', change.itemId.id]],
    );
  });

  test('GetItem of a batch answers in request order, with a typed error for a malformed id', async () => {
    const items = await client.call(FindItem, { parentFolderIds: [{ distinguishedId: 'inbox' }], paging: { offset: 0, maxEntriesReturned: 2 } }, { mailbox: BOB });
    assert.ok(items.items.length >= 1);
    const first = items.items[0]!.itemId!;
    const results = await client.call(GetItem, { itemIds: [first, { id: 'not-an-id' }, first], properties: ['item:Subject'] }, { mailbox: BOB });
    assert.equal(results.length, 3);
    assert.ok(!(results[0] instanceof EwsResponseError));
    assert.ok(results[1] instanceof EwsResponseError);
    assert.equal(results[1].responseCode, 'ErrorInvalidIdMalformed');
    assert.equal(results[1].details.operation, 'GetItem');
    assert.equal(results[1].details.httpStatus, 200);
    assert.ok(results[1].details.messageText);
    assert.equal((results[2] as EwsItem).itemId?.id, first.id);
  });

  test('FindItem pages: the paging attributes carry the view size and where the next page starts', async () => {
    const page = await client.call(FindItem, { parentFolderIds: [{ distinguishedId: 'inbox' }], paging: { offset: 0, maxEntriesReturned: 1 } }, { mailbox: ALICE });
    assert.equal(page.items.length, 1);
    assert.ok((page.totalItemsInView ?? 0) > 1);
    assert.equal(page.includesLastItemInRange, false);
    assert.equal(page.indexedPagingOffset, 1);
  });

  let sentMessageId = '';
  test('CreateItem SendAndSaveCopy: the copy is in Sent Items (found by its tracking property) and the message in the recipient\'s Inbox (found by Message-ID)', async () => {
    const result = await client.call(
      CreateItem,
      {
        disposition: 'SendAndSaveCopy',
        savedItemFolderId: { distinguishedId: 'sentitems' },
        message: {
          subject: 'Quote 1042',
          body: { type: 'HTML', text: '<p>Here is <b>the quote</b>.</p>' },
          to: [{ name: 'Bob', emailAddress: BOB }],
          cc: ['carol@contoso.test'],
          inReplyTo: '<question-7@contoso.test>',
          references: '<question-7@contoso.test>',
          categories: ['CRM'],
          extendedProperties: [{ path: TRACKING, value: 'act-1042' }],
          attachments: [{ name: 'quote.txt', contentType: 'text/plain', content: Buffer.from('total: 42\n') }],
        },
      },
      { mailbox: ALICE },
    );
    assert.equal(result.itemId, null);

    const sent = await client.call(
      FindItem,
      {
        parentFolderIds: [{ distinguishedId: 'sentitems' }],
        restriction: { op: 'IsEqualTo', path: { extended: TRACKING }, value: 'act-1042' },
        shape: { properties: ['message:InternetMessageId', 'item:Subject', { extended: TRACKING }] },
      },
      { mailbox: ALICE },
    );
    assert.equal(sent.items.length, 1);
    const copy = sent.items[0]!;
    assert.equal(copy.subject, 'Quote 1042');
    assert.equal(extendedValue(copy, TRACKING)?.value, 'act-1042');
    assert.ok(copy.internetMessageId);
    sentMessageId = copy.internetMessageId!;

    const [full] = await client.call(
      GetItem,
      { itemIds: [copy.itemId!], properties: ['message:ToRecipients', 'message:CcRecipients', 'item:Attachments', 'item:InReplyTo', 'message:References', 'item:Body'], bodyType: 'HTML' },
      { mailbox: ALICE },
    );
    const c = ok(full!);
    assert.deepEqual(c.toRecipients?.map((m) => m.emailAddress), [BOB]);
    assert.deepEqual(c.ccRecipients?.map((m) => m.emailAddress), ['carol@contoso.test']);
    assert.equal(c.inReplyTo, '<question-7@contoso.test>');
    assert.equal(c.references, '<question-7@contoso.test>');
    assert.deepEqual(c.attachments?.map((a) => [a.kind, a.name]), [['file', 'quote.txt']]);
    assert.match(c.body?.text ?? '', /the quote/);

    const received = await client.call(
      FindItem,
      { parentFolderIds: [{ distinguishedId: 'inbox' }], restriction: { op: 'IsEqualTo', path: 'message:InternetMessageId', value: sentMessageId } },
      { mailbox: BOB },
    );
    assert.equal(received.items.length, 1);
    const none = await client.call(
      FindItem,
      { parentFolderIds: [{ distinguishedId: 'sentitems' }], restriction: { op: 'IsEqualTo', path: { extended: TRACKING }, value: 'act-never-sent' } },
      { mailbox: ALICE },
    );
    assert.deepEqual(none.items, []);
  });

  test('CreateItem SaveOnly from MIME makes a draft; SendItem sends it', async () => {
    const mime = ['From: alice@contoso.test', 'To: bob@contoso.test', 'Subject: Draft from MIME', 'Message-ID: <draft-1@contoso.test>', 'MIME-Version: 1.0', 'Content-Type: text/plain; charset=utf-8', '', 'Draft body.', ''].join('\r\n');
    const saved = await client.call(CreateItem, { disposition: 'SaveOnly', savedItemFolderId: { distinguishedId: 'drafts' }, message: { mime, extendedProperties: [{ path: TRACKING, value: 'act-draft' }] } }, { mailbox: ALICE });
    assert.ok(saved.itemId?.id && saved.itemId.changeKey);
    const [sent] = await client.call(SendItem, { itemIds: [saved.itemId] }, { mailbox: ALICE });
    assert.equal(sent, true);
    const received = await client.call(
      FindItem,
      { parentFolderIds: [{ distinguishedId: 'inbox' }], restriction: { op: 'IsEqualTo', path: 'message:InternetMessageId', value: '<draft-1@contoso.test>' } },
      { mailbox: BOB },
    );
    assert.equal(received.items.length, 1);
    const [again] = await client.call(SendItem, { itemIds: [saved.itemId] }, { mailbox: ALICE });
    assert.ok(again instanceof EwsResponseError, 'a sent draft is gone');
  });

  test('faults are typed: an unknown mailbox, then a service account without the impersonation role', async () => {
    await assert.rejects(
      client.call(GetFolder, { folderIds: [{ distinguishedId: 'inbox' }] }, { mailbox: 'nobody@contoso.test' }),
      (error: unknown) => {
        assert.ok(error instanceof EwsFaultError);
        assert.equal(error.responseCode, 'ErrorNonExistentMailbox');
        assert.equal(error.details.httpStatus, 500);
        assert.match(error.details.faultCode, /ErrorNonExistentMailbox$/);
        assert.ok(error.details.messageText);
        return true;
      },
    );
    const revoke = await t.control('PATCH', '/accounts/svc-liaison@contoso.test', { impersonation: false });
    assert.equal(revoke.status, 200);
    try {
      await assert.rejects(client.call(GetFolder, { folderIds: [{ distinguishedId: 'inbox' }] }, { mailbox: ALICE }), (error: unknown) => {
        assert.ok(error instanceof EwsFaultError);
        assert.equal(error.responseCode, 'ErrorImpersonateUserDenied');
        assert.equal(error.details.operation, 'GetFolder');
        return true;
      });
    } finally {
      await t.control('PATCH', '/accounts/svc-liaison@contoso.test', { impersonation: true });
    }
    // The version was never in question: it stays.
    assert.equal(client.version, 'Exchange2013_SP1');
  });

  test('throttling keeps the back-off hint; a 503 page and a 401 are HTTP errors with their headers', async () => {
    await t.control('POST', '/faults', { kind: 'serverBusy', operation: 'GetFolder', times: 1, backOffMilliseconds: 1234 });
    await assert.rejects(client.call(GetFolder, { folderIds: [{ distinguishedId: 'inbox' }] }, { mailbox: ALICE }), (error: unknown) => {
      assert.ok(error instanceof EwsFaultError);
      assert.equal(error.responseCode, 'ErrorServerBusy');
      assert.equal(error.backOffMs, 1234);
      return true;
    });

    await t.control('POST', '/faults', { kind: 'http503', operation: 'GetFolder', times: 1 });
    await assert.rejects(client.call(GetFolder, { folderIds: [{ distinguishedId: 'inbox' }] }, { mailbox: ALICE }), (error: unknown) => {
      assert.ok(error instanceof EwsHttpError);
      assert.equal(error.details.httpStatus, 503);
      assert.ok(error.details.headers['retry-after']);
      return true;
    });

    const { client: wrong, transport: wrongTransport } = sandboxClient(t, { credentials: { username: 'svc-liaison@contoso.test', password: 'wrong', method } });
    try {
      await assert.rejects(wrong.call(GetFolder, { folderIds: [{ distinguishedId: 'inbox' }] }, { mailbox: ALICE }), (error: unknown) => {
        assert.ok(error instanceof EwsHttpError);
        assert.equal(error.details.httpStatus, 401);
        assert.ok(error.details.authenticate.some((v) => /^Basic\b/.test(v)));
        assert.ok(error.details.authenticate.some((v) => /^NTLM\b/.test(v)));
        return true;
      });
      if (method !== 'basic') return;
      await t.control('PATCH', '/settings', { basicAuth: false });
      await assert.rejects(client.call(GetFolder, { folderIds: [{ distinguishedId: 'inbox' }] }, { mailbox: ALICE }), (error: unknown) => {
        assert.ok(error instanceof EwsHttpError);
        assert.equal(error.details.httpStatus, 401);
        assert.ok(!error.details.authenticate.some((v) => /^Basic\b/i.test(v)), error.details.authenticate.join(' | '));
        return true;
      });
    } finally {
      await t.control('PATCH', '/settings', { basicAuth: true });
      await wrongTransport.close();
    }
  });

  test('the connector moves items it was given ids for, even several at once, each with its own outcome', async () => {
    const page = await client.call(FindItem, { parentFolderIds: [{ distinguishedId: 'inbox' }] }, { mailbox: BOB });
    const ids: ItemId[] = page.items.slice(0, 1).map((i) => i.itemId!);
    const results = await client.call(MoveItem, { toFolderId: { distinguishedId: 'deleteditems' }, itemIds: [...ids, { id: 'not-an-id' }] }, { mailbox: BOB });
    assert.equal(results.length, 2);
    assert.ok(!(results[0] instanceof EwsResponseError) && results[0]?.id);
    assert.ok(results[1] instanceof EwsResponseError);
  });

  test('every request the client sent validates against Microsoft\'s schemas', () => {
    assert.ok(transport.requests.length >= 25, `only ${transport.requests.length} requests`);
    assert.deepEqual(transport.invalid().map((r) => [r.violation, r.body.slice(0, 400)]), []);
  });
});
