/**
 * What the sync engine's tests need from the sandbox: a connection cut after the request was carried out
 * (dropAfter), a message whose content GetItem cannot give (corrupt), sync states Exchange would refuse, and
 * subscriptions that can be listed and lost as a server loses them. Every answer validates against the schemas.
 */
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, test } from 'node:test';
import { request } from 'undici';
import { child } from '../../src/xml/parse.js';
import { envelope, find, ids, M, ok, responseClass, responseCode, responseMessages, startTestSandbox, type TestSandbox } from '../helpers/sandbox.js';
import { testTraffic } from '../helpers/traffic.js';

const ALICE = 'alice@contoso.test';
const BOB = 'bob@contoso.test';
const DAVE = 'dave@contoso.test'; // on mail2

function syncRequest(folder: string, state: string | null): string {
  return (
    '<m:SyncFolderItems><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape></m:ItemShape>' +
    `<m:SyncFolderId><t:DistinguishedFolderId Id="${folder}"/></m:SyncFolderId>` +
    (state === null ? '' : `<m:SyncState>${state}</m:SyncState>`) +
    '<m:MaxChangesReturned>512</m:MaxChangesReturned></m:SyncFolderItems>'
  );
}

function getItem(id: string, mime: boolean, base = 'IdOnly'): string {
  return (
    `<m:GetItem><m:ItemShape><t:BaseShape>${base}</t:BaseShape>${mime ? '<t:IncludeMimeContent>true</t:IncludeMimeContent>' : ''}</m:ItemShape>` +
    `<m:ItemIds><t:ItemId Id="${id}"/></m:ItemIds></m:GetItem>`
  );
}

const subscribe =
  '<m:Subscribe><m:StreamingSubscriptionRequest><t:FolderIds><t:DistinguishedFolderId Id="inbox"/></t:FolderIds>' +
  '<t:EventTypes><t:EventType>NewMailEvent</t:EventType></t:EventTypes></m:StreamingSubscriptionRequest></m:Subscribe>';

describe('sandbox: what the engine tests need', () => {
  let s: TestSandbox;
  before(async () => {
    s = await startTestSandbox({ settings: { streamingKeepAliveSeconds: 1 } });
  });
  afterEach(async () => {
    await s.control('DELETE', '/faults');
  });
  after(async () => {
    await s?.close();
  });

  test('a SyncState the server cannot read is ErrorInvalidSyncStateData, shaped as Exchange answers it', async () => {
    const first = ok(await s.ews(syncRequest('inbox', null), { as: ALICE }));
    const inboxState = child(first, M, 'SyncState')!.text;
    const sentState = child(ok(await s.ews(syncRequest('sentitems', null), { as: ALICE })), M, 'SyncState')!.text;
    const bobState = child(ok(await s.ews(syncRequest('inbox', null), { as: BOB })), M, 'SyncState')!.text;
    const refused = [
      ['garbage base64', 'H4sIAAAAAAAEAO29B2AcSZYlJi9tynt/SvX4Bcp'],
      ['not base64 at all', 'this is not a sync state!'],
      ['truncated', inboxState.slice(0, inboxState.length - 12)],
      ["another folder's state", sentState],
      ["another mailbox's state", bobState],
    ];
    for (const [what, state] of refused) {
      const message = responseMessages((await s.ews(syncRequest('inbox', state!), { as: ALICE })).doc())[0]!;
      assert.deepEqual([responseClass(message), responseCode(message)], ['Error', 'ErrorInvalidSyncStateData'], what);
      // syncfolderitems-operation.md, example 3: the text, then an empty SyncState and IncludesLastItemInRange true.
      assert.deepEqual(
        message.children.map((c) => [c.local, c.text.trim()]),
        [
          ['MessageText', 'Synchronization state data is corrupt or otherwise invalid.'],
          ['ResponseCode', 'ErrorInvalidSyncStateData'],
          ['DescriptiveLinkKey', '0'],
          ['SyncState', ''],
          ['IncludesLastItemInRange', 'true'],
        ],
        what,
      );
    }
    ok(await s.ews(syncRequest('inbox', inboxState), { as: ALICE }));
  });

  test('dropAfter: CreateItem sends and saves to Sent Items, then the connection is cut before the answer', async () => {
    const messageId = `<drop-after-${Date.now()}@crm.contoso.test>`;
    const mime = Buffer.from(
      [`From: ${ALICE}`, `To: ${BOB}`, 'Subject: Cut after sending', `Message-ID: ${messageId}`, 'MIME-Version: 1.0', 'Content-Type: text/plain', '', 'Hello', ''].join('\r\n'),
    ).toString('base64');
    const create =
      '<m:CreateItem MessageDisposition="SendAndSaveCopy"><m:SavedItemFolderId><t:DistinguishedFolderId Id="sentitems"/></m:SavedItemFolderId>' +
      `<m:Items><t:Message><t:MimeContent>${mime}</t:MimeContent></t:Message></m:Items></m:CreateItem>`;
    const rule = await s.control<{ kind: string }>('POST', '/faults', { kind: 'dropAfter', operation: 'CreateItem', times: 1 });
    assert.equal(rule.status, 201);
    assert.equal(rule.json.kind, 'dropAfter');
    await assert.rejects(s.ews(create, { as: ALICE }), 'the client sees the connection cut');
    const sent = await s.control<Array<{ internetMessageId: string }>>('GET', `/mailboxes/${ALICE}/folders/sentitems/items`);
    assert.equal(sent.json.filter((i) => i.internetMessageId === messageId).length, 1, 'saved once in Sent Items');
    const received = await s.control<Array<{ internetMessageId: string }>>('GET', `/mailboxes/${BOB}/folders/inbox/items`);
    assert.equal(received.json.filter((i) => i.internetMessageId === messageId).length, 1, 'delivered once');
    // The rule was used up: the next request is answered.
    ok(await s.ews(syncRequest('inbox', null), { as: ALICE }));
  });

  test('a message delivered corrupt: GetItem of its MIME or body is a per-item error, its id alone is not', async () => {
    const delivered = await s.control<{ itemId: string; corrupt: string }>('POST', `/mailboxes/${BOB}/messages`, { from: 'jane.doe@fabrikam.test', to: [BOB], subject: 'Broken', body: 'x', corrupt: true });
    assert.equal(delivered.status, 201);
    assert.equal(delivered.json.corrupt, 'ErrorItemCorrupt');
    const good = await s.control<{ itemId: string }>('POST', `/mailboxes/${BOB}/messages`, { from: 'jane.doe@fabrikam.test', to: [BOB], subject: 'Fine', body: 'y' });
    const both =
      '<m:GetItem><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape><t:IncludeMimeContent>true</t:IncludeMimeContent></m:ItemShape>' +
      `<m:ItemIds><t:ItemId Id="${delivered.json.itemId}"/><t:ItemId Id="${good.json.itemId}"/></m:ItemIds></m:GetItem>`;
    const answer = await s.ews(both, { as: BOB });
    assert.equal(answer.status, 200);
    const [bad, fine] = responseMessages(answer.doc());
    assert.deepEqual([responseClass(bad!), responseCode(bad!)], ['Error', 'ErrorItemCorrupt']);
    assert.deepEqual([responseClass(fine!), responseCode(fine!)], ['Success', 'NoError']);
    assert.equal(find(fine!, 'MimeContent').length, 1);
    assert.equal(responseCode(responseMessages((await s.ews(getItem(delivered.json.itemId, false, 'Default'), { as: BOB })).doc())[0]!), 'ErrorItemCorrupt', 'the body is as unreadable');
    assert.deepEqual(ids(ok(await s.ews(getItem(delivered.json.itemId, false), { as: BOB }))), [delivered.json.itemId]);

    const conversion = await s.control<{ itemId: string }>('POST', `/mailboxes/${BOB}/messages`, { from: 'jane.doe@fabrikam.test', subject: 'No MIME', body: 'z', corrupt: 'ErrorMimeContentConversionFailed' });
    const message = responseMessages((await s.ews(getItem(conversion.json.itemId, true), { as: BOB })).doc())[0]!;
    assert.equal(responseCode(message), 'ErrorMimeContentConversionFailed');
    assert.equal(child(message, M, 'MessageText')!.text, 'MIME content conversion failed.');
    const listed = await s.control<Array<{ itemId: string; corrupt?: string }>>('GET', `/mailboxes/${BOB}/folders/inbox/items`);
    assert.equal(listed.json.find((i) => i.itemId === delivered.json.itemId)?.corrupt, 'ErrorItemCorrupt');
    const refused = await s.control<{ error: string }>('POST', `/mailboxes/${BOB}/messages`, { from: 'a@b.test', subject: 'x', corrupt: 'ErrorSomething' });
    assert.equal(refused.status, 400);
    assert.match(refused.json.error, /"corrupt" must be/);
  });

  test('subscriptions are listed with their connections; dropping them cuts the stream, and they are not found after', async () => {
    const affinity = { 'X-AnchorMailbox': ALICE, 'X-PreferServerAffinity': 'true' };
    const aliceId = child(ok(await s.ews(subscribe, { as: ALICE, headers: affinity })), M, 'SubscriptionId')!.text;
    const bobId = child(ok(await s.ews(subscribe, { as: BOB, headers: affinity })), M, 'SubscriptionId')!.text;
    const auth = `Basic ${Buffer.from(`${s.info.serviceAccount!.username}:${s.password}`).toString('base64')}`;
    const body = envelope(
      `<m:GetStreamingEvents><m:SubscriptionIds><t:SubscriptionId>${aliceId}</t:SubscriptionId><t:SubscriptionId>${bobId}</t:SubscriptionId></m:SubscriptionIds>` +
        '<m:ConnectionTimeout>1</m:ConnectionTimeout></m:GetStreamingEvents>',
    );
    const response = await request(`https://mail.contoso.test:${s.info.listen.port}/EWS/Exchange.asmx`, {
      method: 'POST',
      body,
      headers: { authorization: auth, 'content-type': 'text/xml; charset=utf-8', 'x-anchormailbox': ALICE },
      dispatcher: s.agent,
    });
    assert.equal(response.statusCode, 200);
    const reading = (async () => {
      let text = '';
      try {
        for await (const chunk of response.body) text += chunk.toString();
        return { text, error: null };
      } catch (error) {
        return { text, error };
      }
    })();
    // The connection is registered once its first document is written; wait for it to show.
    type Listing = { subscriptions: Array<{ id: string; mailbox: string; connections: number }>; connections: Array<{ server: string; anchor: string; mailboxes: string[] }> };
    let listing: Listing | null = null;
    for (let i = 0; i < 100; i++) {
      listing = (await s.control<Listing>('GET', '/subscriptions')).json;
      if (listing.connections.length > 0) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.deepEqual(listing!.connections, [{ owner: s.info.serviceAccount!.username.toLowerCase(), server: 'mail', anchor: ALICE, mailboxes: [ALICE, BOB] }]);
    assert.deepEqual(listing!.subscriptions.filter((x) => [aliceId, bobId].includes(x.id)).map((x) => x.connections), [1, 1]);

    const dropped = await s.control<{ subscriptions: number; connections: number }>('DELETE', `/subscriptions?mailbox=${BOB}`);
    assert.deepEqual(dropped.json, { subscriptions: 1, connections: 1 });
    const { text, error } = await reading;
    assert.ok(error, 'the stream was cut, not closed with a last document');
    assert.doesNotMatch(text, /Closed/);
    const again = await s.ews(
      `<m:GetStreamingEvents><m:SubscriptionIds><t:SubscriptionId>${bobId}</t:SubscriptionId></m:SubscriptionIds><m:ConnectionTimeout>1</m:ConnectionTimeout></m:GetStreamingEvents>`,
    );
    assert.equal(responseCode(responseMessages(again.doc())[0]!), 'ErrorSubscriptionNotFound');
    assert.equal((await s.control<Listing>('GET', '/subscriptions')).json.connections.length, 0);
    await s.control('DELETE', '/subscriptions');
  });

  test('HangingConnectionLimit counts connections, not the subscriptions a connection carries', async () => {
    await s.control('PATCH', '/settings', { hangingConnectionLimit: 1 });
    try {
      const idsOf = await Promise.all([ALICE, BOB, 'carol@contoso.test'].map(async (m) => child(ok(await s.ews(subscribe, { as: m })), M, 'SubscriptionId')!.text));
      const auth = `Basic ${Buffer.from(`${s.info.serviceAccount!.username}:${s.password}`).toString('base64')}`;
      const open = (list: string[]) =>
        request(`https://mail.contoso.test:${s.info.listen.port}/EWS/Exchange.asmx`, {
          method: 'POST',
          body: envelope(`<m:GetStreamingEvents><m:SubscriptionIds>${list.map((id) => `<t:SubscriptionId>${id}</t:SubscriptionId>`).join('')}</m:SubscriptionIds><m:ConnectionTimeout>1</m:ConnectionTimeout></m:GetStreamingEvents>`),
          headers: { authorization: auth, 'content-type': 'text/xml; charset=utf-8' },
          dispatcher: s.agent,
        });
      const first = await open(idsOf);
      assert.equal(first.statusCode, 200, 'one connection with three subscriptions is within a limit of one');
      const iterator = first.body[Symbol.asyncIterator]();
      await iterator.next();
      const second = await open(idsOf.slice(0, 1));
      assert.equal(second.statusCode, 500);
      assert.match(await second.body.text(), /ErrorExceededConnectionCount/);
      first.body.destroy();
    } finally {
      await s.control('PATCH', '/settings', { hangingConnectionLimit: 10 });
      await s.control('DELETE', '/subscriptions');
    }
  });

  test('control input for subscriptions is checked', async () => {
    const bad = await s.control<{ error: string }>('DELETE', '/subscriptions?server=mail3');
    assert.equal(bad.status, 400);
    assert.match(bad.json.error, /"server" must be one of/);
    assert.deepEqual((await s.control('DELETE', `/subscriptions?mailbox=${DAVE}`)).json, { subscriptions: 0, connections: 0 });
  });

  testTraffic(() => s.records, 10);
});
