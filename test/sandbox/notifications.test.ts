import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { request } from 'undici';
import { NS } from '../../src/xml/namespaces.js';
import { child, parseXml } from '../../src/xml/parse.js';
import { envelope, find, M, ok, responseCode, responseMessages, startTestSandbox, T, type TestSandbox } from '../helpers/sandbox.js';
import { testTraffic } from '../helpers/traffic.js';

const ALICE = 'alice@contoso.test';

function pullSubscribe(folder = 'inbox', timeout = 10): string {
  return (
    `<m:Subscribe><m:PullSubscriptionRequest><t:FolderIds><t:DistinguishedFolderId Id="${folder}"/></t:FolderIds>` +
    `<t:EventTypes><t:EventType>NewMailEvent</t:EventType><t:EventType>CreatedEvent</t:EventType><t:EventType>MovedEvent</t:EventType></t:EventTypes>` +
    `<t:Timeout>${timeout}</t:Timeout></m:PullSubscriptionRequest></m:Subscribe>`
  );
}

describe('sandbox EWS: notifications', () => {
  let s: TestSandbox;
  before(async () => {
    s = await startTestSandbox({ settings: { streamingKeepAliveSeconds: 1 } });
  });
  after(async () => {
    await s?.close();
  });

  test('pull: events arrive by watermark; an idle queue answers a StatusEvent; Unsubscribe ends it', async () => {
    const subscribed = ok(await s.ews(pullSubscribe(), { as: ALICE }));
    const id = child(subscribed, M, 'SubscriptionId')!.text;
    let watermark = child(subscribed, M, 'Watermark')!.text;
    const getEvents = (mark: string) => s.ews(`<m:GetEvents><m:SubscriptionId>${id}</m:SubscriptionId><m:Watermark>${mark}</m:Watermark></m:GetEvents>`, { as: ALICE });

    const idle = ok(await getEvents(watermark));
    assert.deepEqual(find(idle, 'Notification')[0]!.children.filter((c) => c.local.endsWith('Event')).map((c) => c.local), ['StatusEvent']);

    const delivered = await s.control<{ itemId: string }>('POST', `/mailboxes/${ALICE}/messages`, { from: 'x@fabrikam.test', to: [ALICE], subject: 'Ping' });
    const busy = ok(await getEvents(watermark));
    const events = find(busy, 'Notification')[0]!.children.filter((c) => c.local.endsWith('Event'));
    assert.deepEqual(events.map((e) => e.local).sort(), ['CreatedEvent', 'NewMailEvent']);
    for (const event of events) assert.equal(find(event, 'ItemId')[0]!.attributes.find((a) => a.local === 'Id')!.value, delivered.json.itemId);
    assert.equal(child(find(busy, 'Notification')[0]!, T, 'PreviousWatermark')!.text, watermark);
    watermark = child(events[events.length - 1]!, T, 'Watermark')!.text;
    assert.deepEqual(find(ok(await getEvents(watermark)), 'Notification')[0]!.children.filter((c) => c.local.endsWith('Event')).map((c) => c.local), ['StatusEvent']);

    const bad = responseMessages((await getEvents('bm90LWEtd2F0ZXJtYXJr')).doc())[0]!;
    assert.equal(responseCode(bad), 'ErrorInvalidWatermark');

    ok(await s.ews(`<m:Unsubscribe><m:SubscriptionId>${id}</m:SubscriptionId></m:Unsubscribe>`, { as: ALICE }));
    const gone = responseMessages((await getEvents(watermark)).doc())[0]!;
    assert.equal(responseCode(gone), 'ErrorSubscriptionNotFound');
    assert.equal(child(gone, M, 'MessageText')!.text, 'The specified subscription was not found.');
  });

  test('a subscription belongs to the account that made it', async () => {
    const subscribed = ok(await s.ews(pullSubscribe(), { as: ALICE }));
    const id = child(subscribed, M, 'SubscriptionId')!.text;
    const accounts = await s.control<Array<{ username: string; password: string }>>('GET', '/accounts');
    const alice = accounts.json.find((a) => a.username === ALICE)!;
    const answer = await s.ews(`<m:Unsubscribe><m:SubscriptionId>${id}</m:SubscriptionId></m:Unsubscribe>`, { user: alice.username, password: alice.password });
    assert.equal(responseCode(responseMessages(answer.doc())[0]!), 'ErrorSubscriptionAccessDenied');
  });

  test('streaming: one long answer of several envelopes: OK, the events as they happen, keep-alives', { timeout: 20_000 }, async () => {
    const subscribed = ok(
      await s.ews(
        '<m:Subscribe><m:StreamingSubscriptionRequest><t:FolderIds><t:DistinguishedFolderId Id="inbox"/></t:FolderIds>' +
          '<t:EventTypes><t:EventType>NewMailEvent</t:EventType></t:EventTypes></m:StreamingSubscriptionRequest></m:Subscribe>',
        { as: 'bob@contoso.test' },
      ),
    );
    const id = child(subscribed, M, 'SubscriptionId')!.text;
    assert.equal(child(subscribed, M, 'Watermark'), undefined, 'streaming subscriptions have no watermark');

    const body = envelope(
      `<m:GetStreamingEvents><m:SubscriptionIds><t:SubscriptionId>${id}</t:SubscriptionId></m:SubscriptionIds><m:ConnectionTimeout>1</m:ConnectionTimeout></m:GetStreamingEvents>`,
      { as: 'bob@contoso.test' },
    );
    const auth = `Basic ${Buffer.from(`${s.info.serviceAccount!.username}:${s.password}`).toString('base64')}`;
    const response = await request(`https://mail.contoso.test:${s.info.listen.port}/EWS/Exchange.asmx`, {
      method: 'POST',
      body,
      headers: { authorization: auth, 'content-type': 'text/xml; charset=utf-8' },
      dispatcher: s.agent,
    });
    assert.equal(response.statusCode, 200);
    assert.equal(response.headers['transfer-encoding'], 'chunked');

    let buffer = '';
    const documents: string[] = [];
    let delivered = false;
    for await (const chunk of response.body) {
      buffer += chunk.toString();
      let end: number;
      while ((end = buffer.indexOf('</Envelope>')) >= 0) {
        documents.push(buffer.slice(0, end + '</Envelope>'.length));
        buffer = buffer.slice(end + '</Envelope>'.length);
      }
      if (documents.length >= 1 && !delivered) {
        delivered = true;
        await s.control('POST', '/mailboxes/bob@contoso.test/messages', { from: 'x@fabrikam.test', to: ['bob@contoso.test'], subject: 'Streamed' });
      }
      const statuses = documents.map((d) => find(parseXml(d), 'ConnectionStatus')[0]?.text ?? null);
      if (documents.some((d) => d.includes('NewMailEvent')) && statuses.filter((x) => x === 'OK').length >= 2) break;
    }
    response.body.destroy();

    assert.ok(documents[0]!.startsWith('<?xml'), 'the first document carries the XML declaration');
    assert.ok(documents.slice(1).every((d) => !d.trimStart().startsWith('<?xml')), 'later documents do not, so one XML reader can read them all');
    const notification = documents.find((d) => d.includes('NewMailEvent'))!;
    const doc = parseXml(notification);
    const element = find(doc, 'Notification')[0]!;
    assert.equal(element.ns, NS.messages, 'Exchange sends m:Notification in streaming answers');
    assert.equal(child(element, T, 'SubscriptionId')!.text, id);
    assert.equal(find(doc, 'ConnectionStatus').length, 0);
  });

  test('streaming with an unknown subscription: one document, Error, the id listed, connection Closed', async () => {
    const unknown = Buffer.from(`${randomUUID()}|${randomUUID()}`).toString('base64');
    const answer = await s.ews(
      `<m:GetStreamingEvents><m:SubscriptionIds><t:SubscriptionId>${unknown}</t:SubscriptionId></m:SubscriptionIds><m:ConnectionTimeout>1</m:ConnectionTimeout></m:GetStreamingEvents>`,
      { as: ALICE },
    );
    const message = responseMessages(answer.doc())[0]!;
    assert.equal(responseCode(message), 'ErrorSubscriptionNotFound');
    assert.equal(find(message, 'SubscriptionId')[0]!.text, unknown);
    assert.equal(child(message, M, 'ConnectionStatus')!.text, 'Closed');
  });

  test('streaming connections count against HangingConnectionLimit', async () => {
    await s.control('PATCH', '/settings', { hangingConnectionLimit: 1 });
    const subscribe = async () =>
      child(
        ok(
          await s.ews(
            '<m:Subscribe><m:StreamingSubscriptionRequest SubscribeToAllFolders="true"><t:EventTypes><t:EventType>NewMailEvent</t:EventType></t:EventTypes></m:StreamingSubscriptionRequest></m:Subscribe>',
            { as: ALICE },
          ),
        ),
        M,
        'SubscriptionId',
      )!.text;
    const [a, b] = [await subscribe(), await subscribe()];
    const auth = `Basic ${Buffer.from(`${s.info.serviceAccount!.username}:${s.password}`).toString('base64')}`;
    const open = (id: string) =>
      request(`https://mail.contoso.test:${s.info.listen.port}/EWS/Exchange.asmx`, {
        method: 'POST',
        body: envelope(`<m:GetStreamingEvents><m:SubscriptionIds><t:SubscriptionId>${id}</t:SubscriptionId></m:SubscriptionIds><m:ConnectionTimeout>1</m:ConnectionTimeout></m:GetStreamingEvents>`, { as: ALICE }),
        headers: { authorization: auth, 'content-type': 'text/xml; charset=utf-8' },
        dispatcher: s.agent,
      });
    const first = await open(a);
    for await (const _chunk of first.body) break;
    const second = await open(b);
    const text = await second.body.text();
    assert.equal(second.statusCode, 500);
    assert.match(text, /ErrorExceededConnectionCount/);
    first.body.destroy();
    await s.control('PATCH', '/settings', { hangingConnectionLimit: 10 });
  });

  testTraffic(() => s.records, 10);
});
