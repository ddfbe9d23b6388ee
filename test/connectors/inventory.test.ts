/**
 * inventory(): what a folder holds since a date, ids and headers only, for the missing-mail audit. Each server
 * type against a real server (Dovecot for IMAP and POP3) or the sandbox (EWS): paging over more than a page with
 * nothing lost or repeated, mail arriving between two pages, `since`, Message-IDs, the same server ids as
 * listChanges, an empty folder, and failures thrown like any other call.
 */
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, test } from 'node:test';
import type { FolderRef, InventoryEntry, InventoryPage, MailboxSession, WellKnownFolder } from '../../src/connectors/connector.js';
import { EwsConnector } from '../../src/connectors/ews/connector.js';
import { createHttpTransport } from '../../src/connectors/ews/transport/http.js';
import { SchemaCheckingTransport } from '../helpers/ews-client.js';
import { startTestSandbox, type TestSandbox } from '../helpers/sandbox.js';
import { sandboxTransportOptions } from '../helpers/sandbox-connect.js';

type Inventory = NonNullable<MailboxSession['inventory']>;

/** Every page of an inventory, with the pages as they came. */
async function inventoryAll(
  session: MailboxSession,
  folder: WellKnownFolder | FolderRef,
  since: Date | null,
  max: number,
  between?: (pageNumber: number) => Promise<void>,
): Promise<{ entries: InventoryEntry[]; pages: InventoryPage[] }> {
  const inventory: Inventory = session.inventory!.bind(session);
  const pages: InventoryPage[] = [];
  let page: string | null = null;
  for (let n = 0; n < 100; n += 1) {
    const result = await inventory(folder, since, page, max);
    pages.push(result);
    assert.ok(result.entries.length <= max, `a page holds at most ${max} entries`);
    if (result.next === null) return { entries: pages.flatMap((p) => p.entries), pages };
    page = result.next;
    await between?.(n);
  }
  throw new Error('the inventory did not end');
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected the call to fail');
}

function noRepeats(entries: readonly InventoryEntry[]): void {
  const ids = entries.map((e) => e.serverId);
  assert.equal(new Set(ids).size, ids.length, `no entry repeated: ${ids.join(', ')}`);
}

const BOB = 'bob@contoso.test';

describe('inventory over EWS (sandbox)', () => {
  let s: TestSandbox;
  let transport: SchemaCheckingTransport;
  let connector: EwsConnector;
  let bob: MailboxSession;
  let audit: FolderRef;
  const base = Date.parse('2026-11-02T08:00:00Z');
  const at = (minutes: number) => new Date(base + minutes * 60_000).toISOString();

  before(async () => {
    s = await startTestSandbox();
    transport = new SchemaCheckingTransport(createHttpTransport(sandboxTransportOptions(s)));
    connector = new EwsConnector({
      credentials: { username: s.info.serviceAccount!.username, password: s.password, method: 'basic' },
      autodiscover: false,
      url: `https://mail.contoso.test:${s.info.listen.port}/EWS/Exchange.asmx`,
      transport,
    });
    bob = await connector.open(BOB);
    audit = await bob.ensureFolder(['Audit']);
    // Delivered out of order: the inventory lists them by the time the server received them.
    for (const minute of [30, 0, 50, 10, 40, 20, 60]) {
      const delivered = await s.control('POST', `/mailboxes/${BOB}/messages`, {
        folder: 'Inbox/Audit',
        from: { name: 'Jane Doe', address: 'jane.doe@fabrikam.test' },
        to: [BOB],
        subject: `Minute ${minute}`,
        body: 'x',
        messageId: `<audit-${minute}@fabrikam.test>`,
        receivedAt: at(minute),
      });
      assert.equal(delivered.status, 201, JSON.stringify(delivered.json));
    }
  });
  afterEach(async () => {
    await s.control('DELETE', '/faults');
  });
  after(async () => {
    await connector?.close();
    await transport?.close();
    await s?.close();
  });

  test('pages of 3 over 7 messages: each once, oldest first, with Message-ID, subject, sender and the ids listChanges gives', async () => {
    const { entries, pages } = await inventoryAll(bob, audit, null, 3);
    assert.deepEqual(pages.map((p) => p.entries.length), [3, 3, 1]);
    noRepeats(entries);
    assert.deepEqual(entries.map((e) => e.internetMessageId), [0, 10, 20, 30, 40, 50, 60].map((m) => `<audit-${m}@fabrikam.test>`));
    assert.deepEqual(entries.map((e) => e.subject), [0, 10, 20, 30, 40, 50, 60].map((m) => `Minute ${m}`));
    assert.ok(entries.every((e) => e.from === 'Jane Doe <jane.doe@fabrikam.test>'), JSON.stringify(entries[0]));
    assert.deepEqual(entries.map((e) => Date.parse(e.receivedAt!)), [0, 10, 20, 30, 40, 50, 60].map((m) => Date.parse(at(m))));
    const changes = await bob.listChanges(audit, null, 512);
    assert.deepEqual(
      entries.map((e) => e.serverId).sort(),
      changes.changes.map((c) => c.serverId).sort(),
      'the audit compares by the id the sync recorded',
    );
  });

  test('since leaves out what the server received before it (the bound itself is in)', async () => {
    const { entries } = await inventoryAll(bob, audit, new Date(at(30)), 2);
    assert.deepEqual(entries.map((e) => e.subject), ['Minute 30', 'Minute 40', 'Minute 50', 'Minute 60']);
  });

  test('a message arriving between two pages is neither lost nor repeated, nor does it push one out', async () => {
    const arrivedAt = new Date().toISOString();
    const { entries } = await inventoryAll(bob, audit, null, 3, async (n) => {
      if (n === 0) {
        await s.control('POST', `/mailboxes/${BOB}/messages`, { folder: 'Inbox/Audit', from: 'late@fabrikam.test', to: [BOB], subject: 'Late', body: 'x', receivedAt: arrivedAt });
      }
    });
    noRepeats(entries);
    assert.deepEqual(entries.map((e) => e.subject), [...[0, 10, 20, 30, 40, 50, 60].map((m) => `Minute ${m}`), 'Late']);
  });

  test('an empty folder is one empty last page', async () => {
    const empty = await bob.ensureFolder(['Audit empty']);
    assert.deepEqual(await bob.inventory!(empty, null, null, 10), { entries: [], next: null });
  });

  test('a well-known folder works as listChanges does; a page larger than Exchange serves is capped', async () => {
    const before = transport.requests.length;
    const page = await bob.inventory!('inbox', null, null, 5000);
    assert.ok(page.entries.length > 0);
    const body = transport.requests.at(-1)!.body;
    assert.equal(transport.requests.length, before + 1);
    assert.match(body, /MaxEntriesReturned="1000"/);
    assert.match(body, /<t:DistinguishedFolderId Id="inbox"><t:Mailbox><t:EmailAddress>bob@contoso\.test<\/t:EmailAddress>/);
  });

  test('the request: impersonated, IdOnly plus the five properties, sorted ascending, restricted on DateTimeReceived', async () => {
    await bob.inventory!(audit, new Date('2026-11-02T08:30:00.250Z'), '2', 2);
    const sent = transport.requests.at(-1)!;
    assert.equal(sent.headers['x-anchormailbox'], BOB);
    assert.match(sent.body, /<t:ExchangeImpersonation><t:ConnectingSID><t:PrimarySmtpAddress>bob@contoso\.test</);
    assert.match(sent.body, /<m:FindItem Traversal="Shallow">/);
    assert.match(
      sent.body,
      /<t:BaseShape>IdOnly<\/t:BaseShape><t:AdditionalProperties><t:FieldURI FieldURI="message:InternetMessageId"\/><t:FieldURI FieldURI="item:DateTimeReceived"\/><t:FieldURI FieldURI="item:Subject"\/><t:FieldURI FieldURI="message:From"\/><\/t:AdditionalProperties>/,
    );
    assert.match(sent.body, /<m:IndexedPageItemView MaxEntriesReturned="2" Offset="2" BasePoint="Beginning"\/>/);
    assert.match(sent.body, /<t:IsGreaterThanOrEqualTo><t:FieldURI FieldURI="item:DateTimeReceived"\/><t:FieldURIOrConstant><t:Constant Value="2026-11-02T08:30:00Z"\/>/);
    assert.match(sent.body, /<m:SortOrder><t:FieldOrder Order="Ascending"><t:FieldURI FieldURI="item:DateTimeReceived"\/><\/t:FieldOrder><\/m:SortOrder>/);
  });

  test('throttling is thrown and classified like any other call; a page this connector did not give is refused', async () => {
    await s.control('POST', '/faults', { kind: 'serverBusy', operation: 'FindItem', times: 1, backOffMilliseconds: 1500 });
    const busy = connector.classify(await rejection(bob.inventory!(audit, null, null, 3)));
    assert.deepEqual([busy.kind, busy.backOffMs], ['throttled', 1500]);
    await assert.rejects(bob.inventory!(audit, null, 'x', 3), /not an offset/);
  });

  test('every request validates against the schemas', () => {
    assert.ok(transport.requests.length > 5);
    assert.deepEqual(transport.invalid().map((r) => r.violation), []);
  });
});
