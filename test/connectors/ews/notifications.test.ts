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
import { EwsResponseError } from '../../../src/connectors/ews/soap/errors.js';
import { callOperation, operationEnvelope } from '../../helpers/operation-call.js';
import { startTestSandbox, type TestSandbox } from '../../helpers/sandbox.js';

describe('EWS notifications and directory operations (sandbox)', () => {
  let s: TestSandbox;
  const alice = 'alice@contoso.test';

  before(async () => {
    s = await startTestSandbox();
  });
  after(async () => {
    await s?.close();
  });

  async function deliver(subject: string): Promise<string> {
    const delivered = await s.control<{ itemId: string }>('POST', `/mailboxes/${alice}/messages`, { from: 'jane.doe@fabrikam.test', to: [alice], subject, body: 'Hello.' });
    assert.equal(delivered.status, 201, JSON.stringify(delivered.json));
    return delivered.json.itemId;
  }

  test('pull: Subscribe to the Inbox, a delivery, GetEvents shows NewMail and Created for the item; Unsubscribe ends it', async () => {
    const subscription = await callOperation(s, Subscribe, {
      kind: 'pull',
      folders: [{ distinguished: 'inbox' }],
      eventTypes: ['NewMailEvent', 'CreatedEvent'],
      timeoutMinutes: 5,
    });
    assert.ok(subscription.subscriptionId.length > 0);
    assert.ok(subscription.watermark, 'a pull subscription has a watermark to start from');

    const itemId = await deliver('Pull me');
    const first = await callOperation(s, GetEvents, { subscriptionId: subscription.subscriptionId, watermark: subscription.watermark });
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
    const second = await callOperation(s, GetEvents, { subscriptionId: subscription.subscriptionId, watermark: first.watermark });
    assert.deepEqual(
      second.events.map((e) => e.type).filter((t) => t !== 'StatusEvent'),
      [],
    );

    await callOperation(s, Unsubscribe, { subscriptionId: subscription.subscriptionId });
    await assert.rejects(
      callOperation(s, GetEvents, { subscriptionId: subscription.subscriptionId, watermark: first.watermark }),
      (error: unknown) => error instanceof EwsResponseError && error.responseCode === 'ErrorSubscriptionNotFound',
    );
    await assert.rejects(
      callOperation(s, Unsubscribe, { subscriptionId: subscription.subscriptionId }),
      (error: unknown) => error instanceof EwsResponseError && error.responseCode === 'ErrorSubscriptionNotFound',
    );
  });

  test('Subscribe refuses to build what the server would refuse: no event types, no folders, a timeout out of range, streaming before 2010 SP1', () => {
    const context = { version: 'Exchange2013_SP1' as const };
    assert.throws(() => Subscribe.build({ kind: 'pull', folders: [{ distinguished: 'inbox' }], eventTypes: [], timeoutMinutes: 5 }, context), RangeError);
    assert.throws(() => Subscribe.build({ kind: 'pull', eventTypes: ['NewMailEvent'], timeoutMinutes: 5 }, context), RangeError);
    assert.throws(() => Subscribe.build({ kind: 'pull', folders: [{ distinguished: 'inbox' }], eventTypes: ['NewMailEvent'], timeoutMinutes: 1441 }, context), RangeError);
    assert.throws(() => Subscribe.build({ kind: 'streaming', folders: [{ distinguished: 'inbox' }], eventTypes: ['NewMailEvent'] }, { version: 'Exchange2010' }), /Exchange2010_SP1/);
  });

  test('pull subscription to all folders: a delivery to the Inbox is among its events', async () => {
    const subscription = await callOperation(s, Subscribe, { kind: 'pull', allFolders: true, eventTypes: ['CreatedEvent'], timeoutMinutes: 5 });
    const itemId = await deliver('All folders');
    const events = await callOperation(s, GetEvents, { subscriptionId: subscription.subscriptionId, watermark: subscription.watermark! });
    assert.ok(events.events.some((e) => e.type === 'CreatedEvent' && e.itemId?.id === itemId), JSON.stringify(events.events));
    await callOperation(s, Unsubscribe, { subscriptionId: subscription.subscriptionId });
  });

  test('a pull subscription continuing from a watermark, and a streaming one to all folders, write requests the schema accepts', () => {
    // (The sandbox keeps watermarks per subscription, so continuing is checked as a request only.)
    operationEnvelope(Subscribe, { kind: 'pull', folders: [{ distinguished: 'inbox', mailbox: alice }, { id: 'AAMkAD', changeKey: 'AQAAAA==' }], eventTypes: ['NewMailEvent', 'MovedEvent'], timeoutMinutes: 30, watermark: 'AAAAAMAGAAAAAAAAAQ==' }, alice, 'Exchange2013_SP1');
    operationEnvelope(Subscribe, { kind: 'streaming', allFolders: true, eventTypes: ['CreatedEvent', 'DeletedEvent', 'ModifiedEvent', 'CopiedEvent'] }, alice, 'Exchange2010_SP1');
    operationEnvelope(ResolveNames, { entry: 'Alice', searchScope: 'ActiveDirectory' }, alice, 'Exchange2013_SP1');
  });

  describe('ResolveNames', () => {
    test('alice resolves to one mailbox', async () => {
      const result = await callOperation(s, ResolveNames, { entry: alice });
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
      const result = await callOperation(s, ResolveNames, { entry: 'quentin' });
      assert.equal(result.ambiguous, true);
      assert.deepEqual(result.resolutions.map((r) => r.emailAddress.toLowerCase()).sort(), ['quentin.one@contoso.test', 'quentin.three@contoso.test', 'quentin.two@contoso.test']);
    });

    test('nobody: ErrorNameResolutionNoResults as an EwsResponseError', async () => {
      await assert.rejects(
        callOperation(s, ResolveNames, { entry: 'nobody-by-this-name@contoso.test' }),
        (error: unknown) => error instanceof EwsResponseError && error.responseCode === 'ErrorNameResolutionNoResults' && error.details.operation === 'ResolveNames',
      );
    });
  });

  describe('ConvertId', () => {
    test('an EwsId to HexEntryId and EntryId and back gives the same id; a malformed one fails alone', async () => {
      const itemId = await deliver('Convert me');
      const toHex = await callOperation(s, ConvertId, {
        destinationFormat: 'HexEntryId',
        ids: [
          { format: 'EwsId', id: itemId, mailbox: alice },
          { format: 'EwsId', id: 'not-an-id', mailbox: alice },
        ],
      });
      assert.equal(toHex.length, 2, 'one result per id');
      const [hex, bad] = toHex;
      assert.ok(hex!.ok && 'id' in hex!.converted);
      assert.equal(hex.converted.format, 'HexEntryId');
      assert.match(hex.converted.id, /^[0-9A-F]+$/i);
      assert.ok(bad && !bad.ok);
      assert.equal(bad.error.responseCode, 'ErrorInvalidIdMalformed');

      const back = await callOperation(s, ConvertId, { destinationFormat: 'EwsId', ids: [{ format: 'HexEntryId', id: hex.converted.id, mailbox: alice }] });
      assert.ok(back[0]!.ok && 'id' in back[0]!.converted);
      assert.equal(back[0].converted.id, itemId);
      assert.equal(back[0].converted.mailbox.toLowerCase(), alice);

      const entry = await callOperation(s, ConvertId, { destinationFormat: 'EntryId', ids: [{ format: 'EwsId', id: itemId, mailbox: alice }] });
      assert.ok(entry[0]!.ok && 'id' in entry[0]!.converted);
      assert.equal(Buffer.from(entry[0].converted.id, 'base64').toString('hex').toUpperCase(), hex.converted.id.toUpperCase(), 'EntryId is the HexEntryId in base64');
    });
  });
});
