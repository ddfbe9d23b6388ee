/**
 * The EWS connector as the engine will use it, against the sandbox through the real transport: a mailbox is
 * located by Autodiscover, read, written to, and followed when it moves to the other server.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { MailboxLocation } from '../../../src/connectors/connector.js';
import { EwsConnector, meansMailboxMoved } from '../../../src/connectors/ews/connector.js';
import { EwsFaultError } from '../../../src/connectors/ews/soap/errors.js';
import { createHttpTransport } from '../../../src/connectors/ews/transport/http.js';
import { TransportError } from '../../../src/connectors/ews/transport/types.js';
import { SchemaCheckingTransport } from '../../helpers/ews-client.js';
import { startTestSandbox, type TestSandbox } from '../../helpers/sandbox.js';
import { sandboxTransportOptions } from '../../helpers/sandbox-connect.js';

describe('EWS connector against the sandbox', () => {
  let s: TestSandbox;
  let transport: SchemaCheckingTransport;
  const locations = new Map<string, MailboxLocation>();
  const changes: Array<{ address: string; url: string; previous: string | null; reason: string }> = [];
  let connector: EwsConnector;

  before(async () => {
    s = await startTestSandbox();
    transport = new SchemaCheckingTransport(createHttpTransport(sandboxTransportOptions(s)));
    connector = new EwsConnector({
      credentials: { username: s.info.serviceAccount!.username, password: s.password, method: 'basic' },
      autodiscover: true,
      transport,
      discover: { resolveSrv: async () => [], httpRedirectProbe: true, srvLookup: false },
      cachedLocation: (address) => locations.get(address) ?? null,
      onLocationChanged: (address, location, previous, reason) => {
        locations.set(address, location);
        changes.push({ address, url: location.url, previous: previous?.url ?? null, reason });
      },
    });
  });
  after(async () => {
    await connector.close();
    await transport.close();
    await s.close();
  });

  const port = () => s.info.listen.port;

  test('opening a mailbox finds its server by Autodiscover and reports the location once', async () => {
    const alice = await connector.open('alice@contoso.test');
    assert.equal(locations.get('alice@contoso.test')?.url, `https://mail.contoso.test:${port()}/EWS/Exchange.asmx`);
    await connector.open('alice@contoso.test');
    assert.equal(changes.filter((c) => c.address === 'alice@contoso.test').length, 1, 'the cached location is used the second time');
    const dave = await connector.open('dave@contoso.test');
    assert.equal(locations.get('dave@contoso.test')?.url, `https://mail2.contoso.test:${port()}/EWS/Exchange.asmx`);
    assert.equal(alice.address, 'alice@contoso.test');
    assert.equal(dave.address, 'dave@contoso.test');
  });

  test('changes page through the Inbox and fetch returns each message exactly as stored', async () => {
    const alice = await connector.open('alice@contoso.test');
    const first = await alice.listChanges('inbox', null, 1);
    assert.equal(first.changes.length, 1);
    assert.equal(first.complete, false, 'alice has more than one message in the seed');
    const rest = await alice.listChanges('inbox', first.cursor, 512);
    assert.equal(rest.complete, true);
    const all = [...first.changes, ...rest.changes];
    assert.ok(all.every((c) => c.kind === 'created' && c.internetMessageId && c.receivedAt));
    const fetched = await alice.fetch([...all.map((c) => c.serverId), 'AAMkADNvdC1hbi1pZA==']);
    assert.equal(fetched.length, all.length + 1);
    const last = fetched.at(-1)!;
    assert.ok('error' in last, 'a message that cannot be read is a failure in its place, not a missing entry');
    for (const [i, message] of fetched.slice(0, -1).entries()) {
      assert.ok('mime' in message);
      assert.equal(message.serverId, all[i]!.serverId);
      assert.match(message.mime.toString('utf8'), new RegExp(`Message-ID: ${all[i]!.internetMessageId!.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`, 'i'));
    }
    const none = await alice.listChanges('inbox', rest.cursor, 512);
    assert.deepEqual(none.changes, []);
  });

  test('send puts the message in Sent Items and the recipient Inbox; findSent sees it by Message-ID', async () => {
    const alice = await connector.open('alice@contoso.test');
    const id = `<connector-send-${Date.now()}@crm.contoso.test>`;
    assert.equal(await alice.findSent(id), false);
    const mime = [`From: alice@contoso.test`, `To: bob@contoso.test`, `Subject: From the CRM`, `Message-ID: ${id}`, `Date: ${new Date().toUTCString()}`, 'MIME-Version: 1.0', 'Content-Type: text/plain; charset=utf-8', '', 'Hello Bob', ''].join('\r\n');
    await alice.send({ mime: Buffer.from(mime), saveCopy: true });
    assert.equal(await alice.findSent(id), true);
    const { json } = await s.control<Array<{ internetMessageId: string }>>('GET', '/mailboxes/bob@contoso.test/folders/inbox/items');
    assert.ok(json.some((i) => i.internetMessageId === id));
  });

  test('ensureFolder creates Inbox/Undeliverable once and finds it after; move puts messages there', async () => {
    const bob = await connector.open('bob@contoso.test');
    const made = await bob.ensureFolder(['Undeliverable']);
    assert.equal(made.created, true);
    const again = await bob.ensureFolder(['Undeliverable']);
    assert.deepEqual({ ...again, created: false }, { ...made, created: false });
    assert.equal(again.created, false);
    const page = await bob.listChanges('inbox', null, 512);
    const [first] = page.changes;
    assert.ok(first);
    const [newId] = await bob.move([first.serverId], made);
    assert.ok(newId && newId !== first.serverId, 'a moved item has a new id');
    const { json } = await s.control<Array<{ subject: string }>>('GET', `/mailboxes/bob@contoso.test/folders/${encodeURIComponent('Inbox/Undeliverable')}/items`);
    assert.equal(json.length, 1);
  });

  test('a mailbox moved to mail2 keeps working: X-AnchorMailbox routes it while the servers proxy', async () => {
    const sales = await connector.open('sales@contoso.test');
    const before = await sales.listChanges('inbox', null, 512);
    assert.equal((await s.control('POST', '/mailboxes/sales@contoso.test/move', { server: 'mail2' })).status, 200);
    const after = await sales.listChanges('inbox', null, 512);
    assert.equal(after.changes.length, before.changes.length);
  });

  test('a mailbox moved where the old server does not proxy is found again by Autodiscover, the move reported', async () => {
    const carol = await connector.open('carol@contoso.test');
    const before = await carol.listChanges('inbox', null, 512);
    assert.equal(locations.get('carol@contoso.test')?.url, `https://mail.contoso.test:${port()}/EWS/Exchange.asmx`);
    assert.equal((await s.control('PATCH', '/settings', { proxyBetweenServers: false })).status, 200);
    try {
      assert.equal((await s.control('POST', '/mailboxes/carol@contoso.test/move', { server: 'mail2' })).status, 200);
      const after = await carol.listChanges('inbox', null, 512);
      assert.equal(after.changes.length, before.changes.length);
      assert.equal(locations.get('carol@contoso.test')?.url, `https://mail2.contoso.test:${port()}/EWS/Exchange.asmx`);
      const change = changes.find((c) => c.address === 'carol@contoso.test' && c.previous !== null);
      assert.ok(change, 'the move was reported');
      assert.match(change.reason, /mail\.contoso\.test.* answered ErrorMailboxMoveInProgress/);
      // A session opened later starts from the stored location: no second Autodiscover.
      const count = changes.length;
      await (await connector.open('carol@contoso.test')).listChanges('inbox', null, 1);
      assert.equal(changes.length, count);
    } finally {
      await s.control('PATCH', '/settings', { proxyBetweenServers: true });
    }
  });

  test('waitForChange resolves true when mail arrives, false when the time is up or the signal ends it', async () => {
    const alice = await connector.open('alice@contoso.test');
    const waiting = alice.waitForChange(['inbox'], 20_000);
    // The subscription exists once Subscribe has answered; deliver after a moment so the stream is open.
    await new Promise((r) => setTimeout(r, 300));
    await s.control('POST', '/mailboxes/alice@contoso.test/messages', { from: 'jane.doe@fabrikam.test', to: ['alice@contoso.test'], subject: 'Wake up', body: 'x' });
    assert.equal(await waiting, true);
    assert.equal(await alice.waitForChange(['inbox'], 300), false);
    const controller = new AbortController();
    const aborted = alice.waitForChange(['inbox'], 20_000, controller.signal);
    setTimeout(() => controller.abort(), 300);
    assert.equal(await aborted, false);
  });

  test('every EWS request the connector sent validates against the schemas', () => {
    const ews = transport.requests.filter((r) => r.url.includes('/EWS/'));
    assert.ok(ews.length > 10);
    assert.deepEqual(ews.filter((r) => r.violation !== null).map((r) => r.violation), []);
  });
});

test('meansMailboxMoved: refused connections, move and non-existence answers, redirects; not timeouts', () => {
  assert.equal(meansMailboxMoved(new TransportError('refused', 'x', { url: 'https://a' })), true);
  assert.equal(meansMailboxMoved(new TransportError('timeout', 'x', { url: 'https://a' })), false);
  const fault = (code: string) => new EwsFaultError({ responseCode: code, messageText: '', messageXml: {}, httpStatus: 500, operation: 'GetFolder', faultCode: code, faultString: '' });
  assert.equal(meansMailboxMoved(fault('ErrorMailboxMoveInProgress')), true);
  assert.equal(meansMailboxMoved(fault('ErrorServerBusy')), false);
});
