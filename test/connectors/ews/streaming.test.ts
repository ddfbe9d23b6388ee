/**
 * GetStreamingEvents: the splitter that cuts a streamed answer into envelopes (prefixes, declarations, chunks
 * cut anywhere, the size cap, junk, an answer cut short), the reader of each document, and a real stream from
 * the sandbox: a notification after a delivery, then cancel; an unknown subscription as an error item.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Subscribe } from '../../../src/connectors/ews/operations/subscribe.js';
import { Unsubscribe } from '../../../src/connectors/ews/operations/unsubscribe.js';
import { EwsFaultError, EwsProtocolError, EwsResponseError } from '../../../src/connectors/ews/soap/errors.js';
import { EnvelopeSplitter, GetStreamingEvents, readStreamDocument, streamEvents, type StreamingItem } from '../../../src/connectors/ews/streaming.js';
import type { EwsClient } from '../../../src/connectors/ews/client.js';
import type { EwsOperation } from '../../../src/connectors/ews/operations/operation.js';
import { NS } from '../../../src/xml/namespaces.js';
import { sandboxClient, sandboxEwsUrl, type SchemaCheckingTransport } from '../../helpers/ews-client.js';
import { startTestSandbox, type TestSandbox } from '../../helpers/sandbox.js';

const context = { version: 'Exchange2013_SP1' as const, operation: 'GetStreamingEvents', httpStatus: 200 };

const doc = (prefix: string, message: string, declaration = false) => {
  const p = prefix ? `${prefix}:` : '';
  const xmlns = prefix ? `xmlns:${prefix}="${NS.soap}"` : `xmlns="${NS.soap}"`;
  return (
    (declaration ? '<?xml version="1.0" encoding="utf-8"?>' : '') +
    `<${p}Envelope ${xmlns}><${p}Body><m:GetStreamingEventsResponse xmlns:m="${NS.messages}" xmlns:t="${NS.types}"><m:ResponseMessages>${message}</m:ResponseMessages></m:GetStreamingEventsResponse></${p}Body></${p}Envelope>`
  );
};
const status = (value: string) => `<m:GetStreamingEventsResponseMessage ResponseClass="Success"><m:ResponseCode>NoError</m:ResponseCode><m:ConnectionStatus>${value}</m:ConnectionStatus></m:GetStreamingEventsResponseMessage>`;
const notification = (ns: 'm' | 't', subject: string) =>
  `<m:GetStreamingEventsResponseMessage ResponseClass="Success"><m:ResponseCode>NoError</m:ResponseCode><m:Notifications><${ns}:Notification><t:SubscriptionId>sub-1</t:SubscriptionId>` +
  `<t:NewMailEvent><t:Watermark>w1</t:Watermark><t:TimeStamp>2024-01-01T00:00:00Z</t:TimeStamp><t:ItemId Id="item-${subject}" ChangeKey="ck"/><t:ParentFolderId Id="inbox-id"/></t:NewMailEvent>` +
  `<t:FutureEvent><t:Whatever/></t:FutureEvent></${ns}:Notification></m:Notifications></m:GetStreamingEventsResponseMessage>`;

function split(text: string | Buffer, chunkSize: number, max?: number): string[] {
  const bytes = Buffer.isBuffer(text) ? text : Buffer.from(text, 'utf8');
  const splitter = new EnvelopeSplitter('GetStreamingEvents', max);
  const out: string[] = [];
  for (let i = 0; i < bytes.length; i += chunkSize) out.push(...splitter.push(bytes.subarray(i, i + chunkSize)).map((b) => b.toString('utf8')));
  splitter.end();
  return out;
}

describe('GetStreamingEvents: cutting the answer into envelopes', () => {
  const stream = doc('', status('OK'), true) + '\r\n' + doc('soap11', notification('m', 'Grüße ✉'), false) + doc('s', notification('t', 'two')) + '  ' + doc('', status('Closed'));

  test('four documents with three prefixes, one declaration, cut into chunks of every size from 1 byte', () => {
    const expected = split(stream, stream.length);
    assert.equal(expected.length, 4);
    for (const size of [1, 2, 3, 7, 13, 64, 1000]) assert.deepEqual(split(stream, size), expected, `chunks of ${size}`);
    // Multi-byte UTF-8 survives a cut inside it.
    assert.match(expected[1]!, /Grüße ✉/);
  });

  test('each document reads: OK, the notification (m: and t: Notification, an unknown event skipped), Closed', () => {
    const items = split(stream, 5).flatMap((d) => readStreamDocument(d, context));
    assert.deepEqual(
      items.map((i) => (i.kind === 'connection' ? i.status : i.kind === 'notification' ? i.notification.events.map((e) => `${e.type} ${e.itemId?.id}`).join() : i.kind)),
      ['OK', 'NewMailEvent item-Grüße ✉', 'NewMailEvent item-two', 'Closed'],
    );
    const n = items[1]!;
    assert.ok(n.kind === 'notification');
    assert.deepEqual(n.notification.events[0], { type: 'NewMailEvent', watermark: 'w1', timestamp: '2024-01-01T00:00:00Z', itemId: { id: 'item-Grüße ✉', changeKey: 'ck' }, parentFolderId: { id: 'inbox-id' } });
  });

  test('MovedEvent and ModifiedEvent: the old ids and the unread count are read', () => {
    const moved =
      '<m:GetStreamingEventsResponseMessage ResponseClass="Success"><m:ResponseCode>NoError</m:ResponseCode><m:Notifications><m:Notification><t:SubscriptionId>s</t:SubscriptionId>' +
      '<t:MovedEvent><t:TimeStamp>2024-01-01T00:00:00Z</t:TimeStamp><t:ItemId Id="new"/><t:ParentFolderId Id="junk"/><t:OldItemId Id="old"/><t:OldParentFolderId Id="inbox"/></t:MovedEvent>' +
      '<t:ModifiedEvent><t:TimeStamp>2024-01-01T00:00:01Z</t:TimeStamp><t:FolderId Id="inbox"/><t:ParentFolderId Id="root"/><t:UnreadCount>3</t:UnreadCount></t:ModifiedEvent>' +
      '</m:Notification></m:Notifications></m:GetStreamingEventsResponseMessage>';
    const [item] = readStreamDocument(doc('s', moved), context);
    assert.ok(item?.kind === 'notification');
    assert.deepEqual(item.notification.events, [
      { type: 'MovedEvent', timestamp: '2024-01-01T00:00:00Z', itemId: { id: 'new' }, parentFolderId: { id: 'junk' }, oldItemId: { id: 'old' }, oldParentFolderId: { id: 'inbox' } },
      { type: 'ModifiedEvent', timestamp: '2024-01-01T00:00:01Z', folderId: { id: 'inbox' }, parentFolderId: { id: 'root' }, unreadCount: 3 },
    ]);
  });

  test('a byte-order mark and a declaration before every document are accepted', () => {
    const withBom = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(doc('s', status('OK'), true) + doc('s', status('OK'), true))]);
    assert.equal(split(withBom, 1).length, 2);
  });

  test('a closing tag of another prefix, or one that only starts the same, does not end the document', () => {
    const tricky = `<a:Envelope xmlns:a="${NS.soap}"><a:Body><x:Envelope xmlns:x="urn:x"></x:Envelope><a:EnvelopeX xmlns:a="urn:y"></a:EnvelopeX></a:Body></a:Envelope >`;
    assert.deepEqual(split(tricky, 3), [tricky]);
  });

  test('a document larger than the cap fails the stream, whatever the chunking', () => {
    const big = doc('s', notification('m', 'x'.repeat(5000)));
    assert.throws(() => split(big, 100, 4096), (e: unknown) => e instanceof EwsProtocolError && /longer than 4096 bytes/.test(e.message));
    assert.equal(split(big, 100, 8192).length, 1);
  });

  test('something other than an envelope, and an answer cut inside a document, fail', () => {
    assert.throws(() => split('<html><body>Service unavailable</body></html>', 4), (e: unknown) => e instanceof EwsProtocolError && /other than SOAP envelopes/.test(e.message));
    assert.throws(() => split('garbage' + doc('s', status('OK')), 50), EwsProtocolError);
    assert.throws(() => split(doc('s', status('OK')) + doc('s', status('OK')).slice(0, 80), 16), (e: unknown) => e instanceof EwsProtocolError && /ended inside a document/.test(e.message));
  });

  test('a document with an error per subscription: EwsResponseError with the ErrorSubscriptionIds, then Closed', () => {
    const message =
      '<m:GetStreamingEventsResponseMessage ResponseClass="Error"><m:MessageText>The specified subscription was not found.</m:MessageText><m:ResponseCode>ErrorSubscriptionNotFound</m:ResponseCode><m:DescriptiveLinkKey>0</m:DescriptiveLinkKey>' +
      '<m:ErrorSubscriptionIds><t:SubscriptionId>gone-1</t:SubscriptionId><t:SubscriptionId>gone-2</t:SubscriptionId></m:ErrorSubscriptionIds><m:ConnectionStatus>Closed</m:ConnectionStatus></m:GetStreamingEventsResponseMessage>';
    const items = readStreamDocument(doc('', message), context);
    assert.equal(items.length, 2);
    const [error, closed] = items;
    assert.ok(error?.kind === 'error' && error.error instanceof EwsResponseError);
    assert.equal(error.error.responseCode, 'ErrorSubscriptionNotFound');
    assert.equal(error.error.details.messageText, 'The specified subscription was not found.');
    assert.deepEqual(error.subscriptionIds, ['gone-1', 'gone-2']);
    assert.deepEqual(closed, { kind: 'connection', status: 'Closed' });
  });

  test('a fault inside the stream is thrown as EwsFaultError with its code and MessageXml', () => {
    const fault = `<s:Envelope xmlns:s="${NS.soap}"><s:Body><s:Fault><faultcode xmlns:a="${NS.types}">a:ErrorServerBusy</faultcode><faultstring>busy</faultstring><detail><e:ResponseCode xmlns:e="${NS.errors}">ErrorServerBusy</e:ResponseCode><e:Message xmlns:e="${NS.errors}">The server cannot service this request right now.</e:Message><t:MessageXml xmlns:t="${NS.types}"><t:Value Name="BackOffMilliseconds">1200</t:Value></t:MessageXml></detail></s:Fault></s:Body></s:Envelope>`;
    assert.throws(() => readStreamDocument(fault, context), (e: unknown) => e instanceof EwsFaultError && e.responseCode === 'ErrorServerBusy' && e.backOffMs === 1200 && e.details.faultCode === 'a:ErrorServerBusy');
  });

  test('a document with a DTD is refused', () => {
    const evil = `<!DOCTYPE s:Envelope [<!ENTITY x "boom">]>${doc('s', status('OK'))}`;
    assert.throws(() => readStreamDocument(evil, context), (e: unknown) => e instanceof EwsProtocolError && /DOCTYPE/.test(e.message));
  });

  test('GetStreamingEvents refuses a ConnectionTimeout the schema does not allow, and no ids', () => {
    assert.throws(() => GetStreamingEvents.build({ subscriptionIds: ['a'], connectionTimeoutMinutes: 31 }, context), RangeError);
    assert.throws(() => GetStreamingEvents.build({ subscriptionIds: [], connectionTimeoutMinutes: 1 }, context), RangeError);
  });
});

describe('GetStreamingEvents against the sandbox', () => {
  let s: TestSandbox;
  let client: EwsClient;
  let transport: SchemaCheckingTransport;
  const alice = 'alice@contoso.test';
  before(async () => {
    s = await startTestSandbox();
    ({ client, transport } = sandboxClient(s));
  });
  after(async () => {
    await transport?.close();
    await s?.close();
  });

  const call = <Req, Res>(operation: EwsOperation<Req, Res>, request: Req): Promise<Res> => client.call(operation, request, { mailbox: alice });

  /** The stream, through the same (schema-checking) transport as the client's calls. */
  function open(subscriptionIds: string[]) {
    return streamEvents({
      transport,
      url: sandboxEwsUrl(s),
      credentials: { username: s.info.serviceAccount!.username, password: s.password, method: 'basic' },
      mailbox: alice,
      version: client.version,
      subscriptionIds,
      connectionTimeoutMinutes: 1,
    });
  }

  /** The next item, or a failure after a few seconds (a stream that says nothing must not hang the test). */
  async function next(iterator: AsyncIterator<StreamingItem>, what: string): Promise<StreamingItem> {
    let timer: NodeJS.Timeout | undefined;
    const result = await Promise.race([
      iterator.next(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no ${what} within 5 s`)), 5000);
      }),
    ]).finally(() => clearTimeout(timer));
    assert.ok(!result.done, `the stream ended before ${what}`);
    return result.value;
  }

  test('streaming subscription: OK, then the notification of a delivery, then cancel ends the iteration', async () => {
    const { subscriptionId, watermark } = await call(Subscribe, { kind: 'streaming', folders: [{ distinguishedId: 'inbox' }], eventTypes: ['NewMailEvent', 'CreatedEvent'] });
    assert.equal(watermark, null, 'streaming subscriptions have no watermark');
    const events = await open([subscriptionId]);
    try {
      assert.equal(events.status, 200);
      const iterator = events[Symbol.asyncIterator]();
      assert.deepEqual(await next(iterator, 'ConnectionStatus OK'), { kind: 'connection', status: 'OK' });

      const delivered = await s.control<{ itemId: string }>('POST', `/mailboxes/${alice}/messages`, { from: 'jane.doe@fabrikam.test', to: [alice], subject: 'Stream me', body: 'Hi.' });
      assert.equal(delivered.status, 201);
      // Keep-alives may come in between; the events may come in one notification or several.
      const seen: string[] = [];
      while (!seen.includes('NewMailEvent') || !seen.includes('CreatedEvent')) {
        const item = await next(iterator, 'the notification');
        if (item.kind === 'connection') continue;
        assert.ok(item.kind === 'notification', JSON.stringify(item));
        assert.equal(item.notification.subscriptionId, subscriptionId);
        for (const event of item.notification.events) {
          seen.push(event.type);
          assert.equal(event.itemId?.id, delivered.json.itemId, `${event.type} names the delivered item`);
        }
      }

      events.cancel();
      assert.equal(events.cancelled, true);
      const after = await iterator.next();
      assert.equal(after.done, true, 'after cancel the iteration ends without an error');
    } finally {
      events.cancel();
    }
    await call(Unsubscribe, { subscriptionId });
  });

  test('a subscription that is gone: an error item naming it (ErrorSubscriptionNotFound), then Closed', async () => {
    const { subscriptionId } = await call(Subscribe, { kind: 'streaming', folders: [{ distinguishedId: 'inbox' }], eventTypes: ['NewMailEvent'] });
    await call(Unsubscribe, { subscriptionId });
    const items: StreamingItem[] = [];
    for await (const item of await open([subscriptionId])) items.push(item);
    assert.equal(items.length, 2, JSON.stringify(items));
    const [error, closed] = items;
    assert.ok(error?.kind === 'error');
    assert.equal(error.error.responseCode, 'ErrorSubscriptionNotFound');
    assert.deepEqual(error.subscriptionIds, [subscriptionId]);
    assert.deepEqual(closed, { kind: 'connection', status: 'Closed' });
  });

  test('breaking out of for-await closes the connection (the sandbox sees no open stream after)', async () => {
    const { subscriptionId } = await call(Subscribe, { kind: 'streaming', folders: [{ distinguishedId: 'inbox' }], eventTypes: ['NewMailEvent'] });
    await s.control('PATCH', '/settings', { hangingConnectionLimit: 1 });
    try {
      for (let round = 0; round < 2; round += 1) {
        // With a limit of one streaming connection, the second round only opens if the first was closed.
        for await (const item of await open([subscriptionId])) {
          assert.deepEqual(item, { kind: 'connection', status: 'OK' });
          break;
        }
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    } finally {
      await s.control('PATCH', '/settings', { hangingConnectionLimit: 10 });
    }
    await call(Unsubscribe, { subscriptionId });
  });

  test('one streaming connection too many: the HTTP 500 fault is thrown as EwsFaultError ErrorExceededConnectionCount', async () => {
    const { subscriptionId } = await call(Subscribe, { kind: 'streaming', folders: [{ distinguishedId: 'inbox' }], eventTypes: ['NewMailEvent'] });
    await s.control('PATCH', '/settings', { hangingConnectionLimit: 1 });
    const first = await open([subscriptionId]);
    try {
      const iterator = first[Symbol.asyncIterator]();
      await next(iterator, 'ConnectionStatus OK');
      await assert.rejects(open([subscriptionId]), (e: unknown) => e instanceof EwsFaultError && e.responseCode === 'ErrorExceededConnectionCount' && e.details.httpStatus === 500);
    } finally {
      first.cancel();
      await s.control('PATCH', '/settings', { hangingConnectionLimit: 10 });
    }
    await call(Unsubscribe, { subscriptionId });
  });

  test('every request sent (calls and streams) validates against the schemas', () => {
    assert.ok(transport.requests.some((r) => r.body.includes('GetStreamingEvents')));
    assert.deepEqual(transport.invalid(), []);
  });
});
