/**
 * The connector's notification and directory operations against the sandbox: pull subscriptions and GetEvents
 * after a delivery, Unsubscribe, ResolveNames (one, several, none) and ConvertId there and back. Every request
 * is checked against Microsoft's schemas before it is sent (operation-call.ts).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ConvertId } from '../../../src/connectors/ews/operations/convert-id.js';
import { GetEvents } from '../../../src/connectors/ews/operations/get-events.js';
import { ResolveNames } from '../../../src/connectors/ews/operations/resolve-names.js';
import { Subscribe } from '../../../src/connectors/ews/operations/subscribe.js';
import { Unsubscribe } from '../../../src/connectors/ews/operations/unsubscribe.js';
import type { EwsClient } from '../../../src/connectors/ews/client.js';
import type { EwsOperation } from '../../../src/connectors/ews/operations/operation.js';
import { buildEnvelope } from '../../../src/connectors/ews/soap/envelope.js';
import { EwsResponseError } from '../../../src/connectors/ews/soap/errors.js';
import type { ExchangeVersion } from '../../../src/connectors/ews/versions.js';
import { validateEwsEnvelope } from '../../../src/xml/ews-schema.js';
import { sandboxClient, type SchemaCheckingTransport } from '../../helpers/ews-client.js';
import { startTestSandbox, type TestSandbox } from '../../helpers/sandbox.js';

/** The envelope a request would travel in, checked against the schemas without sending it. */
function assertValidRequest<Req>(operation: EwsOperation<Req, unknown>, request: Req, version: ExchangeVersion): void {
  const text = buildEnvelope({ version, impersonate: 'alice@contoso.test', body: operation.build(request, { version }) });
  assert.equal(validateEwsEnvelope(text), null, text);
}

describe('EWS notifications and directory operations (sandbox)', () => {
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

  /** One call as alice, through the connector's client. */
  const call = <Req, Res>(operation: EwsOperation<Req, Res>, request: Req): Promise<Res> => client.call(operation, request, { mailbox: alice });

  async function deliver(subject: string): Promise<string> {
    const delivered = await s.control<{ itemId: string }>('POST', `/mailboxes/${alice}/messages`, { from: 'jane.doe@fabrikam.test', to: [alice], subject, body: 'Hello.' });
    assert.equal(delivered.status, 201, JSON.stringify(delivered.json));
    return delivered.json.itemId;
  }

  test('pull: Subscribe to the Inbox, a delivery, GetEvents shows NewMail and Created for the item; Unsubscribe ends it', async () => {
    const subscription = await call(Subscribe, {
      kind: 'pull',
      folders: [{ distinguishedId: 'inbox' }],
      eventTypes: ['NewMailEvent', 'CreatedEvent'],
      timeoutMinutes: 5,
    });
    assert.ok(subscription.subscriptionId.length > 0);
    assert.ok(subscription.watermark, 'a pull subscription has a watermark to start from');

    const itemId = await deliver('Pull me');
    const first = await call(GetEvents, { subscriptionId: subscription.subscriptionId, watermark: subscription.watermark });
    assert.equal(first.subscriptionId, subscription.subscriptionId);
    const types = first.events.map((e) => e.type);
    assert.ok(types.includes('NewMailEvent'), `events: ${types.join(', ')}`);
    assert.ok(types.includes('CreatedEvent'), `events: ${types.join(', ')}`);
    for (const event of first.events.filter((e) => e.type !== 'StatusEvent')) {
      assert.equal(event.itemId?.id, itemId, `${event.type} names the delivered item`);
      assert.ok(event.parentFolderId?.id, `${event.type} names the folder`);
      assert.match(event.timestamp ?? '', /^\d{4}-\d\d-\d\dT/);
    }
    assert.ok(first.watermark && first.watermark !== subscription.watermark, 'the watermark moves on');

    // From the new watermark: nothing but the server's StatusEvent.
    const second = await call(GetEvents, { subscriptionId: subscription.subscriptionId, watermark: first.watermark });
    assert.deepEqual(
      second.events.map((e) => e.type).filter((t) => t !== 'StatusEvent'),
      [],
    );

    await call(Unsubscribe, { subscriptionId: subscription.subscriptionId });
    await assert.rejects(
      call(GetEvents, { subscriptionId: subscription.subscriptionId, watermark: first.watermark }),
      (error: unknown) => error instanceof EwsResponseError && error.responseCode === 'ErrorSubscriptionNotFound',
    );
    await assert.rejects(
      call(Unsubscribe, { subscriptionId: subscription.subscriptionId }),
      (error: unknown) => error instanceof EwsResponseError && error.responseCode === 'ErrorSubscriptionNotFound',
    );
  });

  test('Subscribe refuses to build what the server would refuse: no event types, no folders, a timeout out of range, streaming before 2010 SP1', () => {
    const context = { version: 'Exchange2013_SP1' as const };
    assert.throws(() => Subscribe.build({ kind: 'pull', folders: [{ distinguishedId: 'inbox' }], eventTypes: [], timeoutMinutes: 5 }, context), RangeError);
    assert.throws(() => Subscribe.build({ kind: 'pull', eventTypes: ['NewMailEvent'], timeoutMinutes: 5 }, context), RangeError);
    assert.throws(() => Subscribe.build({ kind: 'pull', folders: [{ distinguishedId: 'inbox' }], eventTypes: ['NewMailEvent'], timeoutMinutes: 1441 }, context), RangeError);
    assert.throws(() => Subscribe.build({ kind: 'streaming', folders: [{ distinguishedId: 'inbox' }], eventTypes: ['NewMailEvent'] }, { version: 'Exchange2010' }), /Exchange2010_SP1/);
  });

  test('pull subscription to all folders: a delivery to the Inbox is among its events', async () => {
    const subscription = await call(Subscribe, { kind: 'pull', allFolders: true, eventTypes: ['CreatedEvent'], timeoutMinutes: 5 });
    const itemId = await deliver('All folders');
    const events = await call(GetEvents, { subscriptionId: subscription.subscriptionId, watermark: subscription.watermark! });
    assert.ok(events.events.some((e) => e.type === 'CreatedEvent' && e.itemId?.id === itemId), JSON.stringify(events.events));
    await call(Unsubscribe, { subscriptionId: subscription.subscriptionId });
  });

  test('a pull subscription continuing from a watermark, and a streaming one to all folders, write requests the schema accepts', () => {
    // (The sandbox keeps watermarks per subscription, so continuing is checked as a request only.)
    assertValidRequest(Subscribe, { kind: 'pull', folders: [{ distinguishedId: 'inbox', mailbox: alice }, { id: 'AAMkAD', changeKey: 'AQAAAA==' }], eventTypes: ['NewMailEvent', 'MovedEvent'], timeoutMinutes: 30, watermark: 'AAAAAMAGAAAAAAAAAQ==' }, 'Exchange2013_SP1');
    assertValidRequest(Subscribe, { kind: 'streaming', allFolders: true, eventTypes: ['CreatedEvent', 'DeletedEvent', 'ModifiedEvent', 'CopiedEvent'] }, 'Exchange2010_SP1');
    assertValidRequest(ResolveNames, { entry: 'Alice', searchScope: 'ActiveDirectory' }, 'Exchange2013_SP1');
  });

  describe('ResolveNames', () => {
    test('alice resolves to one mailbox', async () => {
      const result = await call(ResolveNames, { entry: alice });
      assert.equal(result.ambiguous, false);
      assert.equal(result.resolutions.length, 1);
      const [mailbox] = result.resolutions;
      assert.equal(mailbox!.emailAddress.toLowerCase(), alice);
      assert.equal(mailbox!.routingType, 'SMTP');
      assert.equal(mailbox!.mailboxType, 'Mailbox');
      assert.ok(mailbox!.name.length > 0);
    });

    test('the start of a name several people share: the Warning ErrorNameResolutionMultipleResults is a success with all of them', async () => {
      for (const [address, displayName] of [
        ['quentin.one@contoso.test', 'Quentin One'],
        ['quentin.two@contoso.test', 'Quentin Two'],
        ['quentin.three@contoso.test', 'Quentin Three'],
      ]) {
        assert.equal((await s.control('POST', '/mailboxes', { address, displayName })).status, 201);
      }
      const result = await call(ResolveNames, { entry: 'quentin' });
      assert.equal(result.ambiguous, true);
      assert.deepEqual(result.resolutions.map((r) => r.emailAddress.toLowerCase()).sort(), ['quentin.one@contoso.test', 'quentin.three@contoso.test', 'quentin.two@contoso.test']);
    });

    test('nobody: ErrorNameResolutionNoResults as an EwsResponseError', async () => {
      await assert.rejects(
        call(ResolveNames, { entry: 'nobody-by-this-name@contoso.test' }),
        (error: unknown) => error instanceof EwsResponseError && error.responseCode === 'ErrorNameResolutionNoResults' && error.details.operation === 'ResolveNames',
      );
    });
  });

  describe('ConvertId', () => {
    test('an EwsId to HexEntryId and EntryId and back gives the same id; a malformed one fails alone', async () => {
      const itemId = await deliver('Convert me');
      const toHex = await call(ConvertId, {
        destinationFormat: 'HexEntryId',
        ids: [
          { format: 'EwsId', id: itemId, mailbox: alice },
          { format: 'EwsId', id: 'not-an-id', mailbox: alice },
        ],
      });
      assert.equal(toHex.length, 2, 'one result per id');
      const [hex, bad] = toHex;
      assert.ok(hex && !(hex instanceof EwsResponseError) && 'id' in hex, String(hex));
      assert.equal(hex.format, 'HexEntryId');
      assert.match(hex.id, /^[0-9A-F]+$/i);
      assert.ok(bad instanceof EwsResponseError);
      assert.equal(bad.responseCode, 'ErrorInvalidIdMalformed');

      const [back] = await call(ConvertId, { destinationFormat: 'EwsId', ids: [{ format: 'HexEntryId', id: hex.id, mailbox: alice }] });
      assert.ok(back && !(back instanceof EwsResponseError) && 'id' in back);
      assert.equal(back.id, itemId);
      assert.equal(back.mailbox.toLowerCase(), alice);

      const [entry] = await call(ConvertId, { destinationFormat: 'EntryId', ids: [{ format: 'EwsId', id: itemId, mailbox: alice }] });
      assert.ok(entry && !(entry instanceof EwsResponseError) && 'id' in entry);
      assert.equal(Buffer.from(entry.id, 'base64').toString('hex').toUpperCase(), hex.id.toUpperCase(), 'EntryId is the HexEntryId in base64');
    });
  });

  test('every request the client sent validates against the schemas', () => {
    assert.ok(transport.requests.length >= 15, `${transport.requests.length} requests`);
    assert.deepEqual(transport.invalid(), []);
  });
});
