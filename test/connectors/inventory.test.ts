/**
 * inventory(): what a folder holds since a date, ids and headers only, for the missing-mail audit. Each server
 * type against a real server (Dovecot for IMAP and POP3) or the sandbox (EWS): paging over more than a page with
 * nothing lost or repeated, mail arriving between two pages, `since`, Message-IDs, the same server ids as
 * listChanges, an empty folder, and failures thrown like any other call.
 */
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, test } from 'node:test';
import type { FolderRef, InventoryEntry, InventoryPage, MailboxSession, WellKnownFolder } from '../../src/connectors/connector.js';
import { ImapFlow } from 'imapflow';
import { EwsClient } from '../../src/connectors/ews/client.js';
import { EwsConnector } from '../../src/connectors/ews/connector.js';
import { EwsMailboxSession } from '../../src/connectors/ews/mailbox.js';
import { EwsProtocolError } from '../../src/connectors/ews/soap/errors.js';
import type { HttpRequest, HttpResponse, HttpTransport } from '../../src/connectors/ews/transport/types.js';
import { validateEwsEnvelope } from '../../src/xml/ews-schema.js';
import { createHttpTransport } from '../../src/connectors/ews/transport/http.js';
import { ImapSmtpConnector } from '../../src/connectors/imap/connector.js';
import { uidSet } from '../../src/connectors/imap/inventory.js';
import { InvalidCursorError } from '../../src/connectors/imap/session.js';
import { parseDateHeader } from '../../src/connectors/mail/inventory.js';
import { Pop3SmtpConnector } from '../../src/connectors/pop3/connector.js';
import { entryFromHeaders, HEADER_LIMIT } from '../../src/connectors/pop3/inventory.js';
import type { Profile } from '../../src/store/profiles.js';
import { SchemaCheckingTransport } from '../helpers/ews-client.js';
import { mailServersSkip, startMailServers, type MailServers, type MailUser } from '../helpers/mail-servers.js';
import { message } from '../helpers/mail-world.js';
import { testProfile } from '../helpers/memory-sync-store.js';
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

/** An Exchange that answers every FindItem with the RootFolder given (the shape of the ms-docs FindItem answer). */
class ScriptedFindItem implements HttpTransport {
  readonly bodies: string[] = [];
  constructor(private readonly rootFolder: (index: number) => string) {}
  async request(req: HttpRequest): Promise<HttpResponse> {
    const body = String(req.body);
    assert.equal(validateEwsEnvelope(body), null);
    this.bodies.push(body);
    const xml =
      '<?xml version="1.0" encoding="utf-8"?><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body>' +
      '<m:FindItemResponse xmlns:m="http://schemas.microsoft.com/exchange/services/2006/messages" xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types">' +
      `<m:ResponseMessages><m:FindItemResponseMessage ResponseClass="Success"><m:ResponseCode>NoError</m:ResponseCode>${this.rootFolder(this.bodies.length - 1)}` +
      '</m:FindItemResponseMessage></m:ResponseMessages></m:FindItemResponse></s:Body></s:Envelope>';
    return { status: 200, headers: { 'content-type': 'text/xml; charset=utf-8' }, headerLists: {}, body: Buffer.from(xml), elapsedMs: 1 };
  }
  stream(): never {
    throw new Error('not used');
  }
  async close(): Promise<void> {}
}

const items = (ids: readonly string[]) => `<t:Items>${ids.map((id) => `<t:Message><t:ItemId Id="${id}" ChangeKey="CK"/><t:Subject>${id}</t:Subject></t:Message>`).join('')}</t:Items>`;
const scriptedSession = (transport: HttpTransport) =>
  new EwsMailboxSession(BOB, new EwsClient({ transport, url: 'https://mail.contoso.test/EWS/Exchange.asmx', credentials: { username: 'svc@contoso.test', password: 'x', method: 'basic' } }));

test('EWS: a partial page (EWSFindCountLimit) goes on from the offset Exchange reports, not from the one asked', async () => {
  const transport = new ScriptedFindItem((i) =>
    i === 0 ? `<m:RootFolder IndexedPagingOffset="2" TotalItemsInView="4" IncludesLastItemInRange="false">${items(['a', 'b'])}</m:RootFolder>` : `<m:RootFolder IndexedPagingOffset="4" TotalItemsInView="4" IncludesLastItemInRange="true">${items(['c', 'd'])}</m:RootFolder>`,
  );
  const session = scriptedSession(transport);
  const { entries, pages } = await inventoryAll(session, 'inbox', null, 250);
  assert.deepEqual(entries.map((e) => e.serverId), ['a', 'b', 'c', 'd']);
  assert.deepEqual(pages.map((p) => p.next), ['2', null]);
  assert.match(transport.bodies[1]!, /Offset="2"/);
});

test('EWS: an answer that says more is coming but does not move on is thrown, not asked again forever', async () => {
  const session = scriptedSession(new ScriptedFindItem(() => `<m:RootFolder IndexedPagingOffset="3" TotalItemsInView="9" IncludesLastItemInRange="false"><t:Items/></m:RootFolder>`));
  const error = await rejection(session.inventory('inbox', null, '3', 3));
  assert.ok(error instanceof EwsProtocolError, String(error));
  assert.match(error.message, /does not move past 3/);
});

test('uidSet writes runs of UIDs as ranges', () => {
  assert.equal(uidSet([1, 2, 3, 5, 7, 8, 10]), '1:3,5,7:8,10');
  assert.equal(uidSet([42]), '42');
  assert.equal(uidSet([]), '');
});

test('Date headers: RFC 5322 and its obsolete forms read; anything else left out rather than guessed', () => {
  const iso = (text: string) => parseDateHeader(text)?.toISOString() ?? null;
  assert.equal(iso('Mon, 2 Nov 2026 08:00:00 +0100'), '2026-11-02T07:00:00.000Z');
  assert.equal(iso(' 2 Nov 2026 08:00 -0530 (IST)'), '2026-11-02T13:30:00.000Z');
  assert.equal(iso('Mon,\r\n 02 Nov 26 08:00:00 GMT'), '2026-11-02T08:00:00.000Z');
  assert.equal(iso('Mon, 2 Nov 2026 08:00:00 EST'), '2026-11-02T13:00:00.000Z');
  for (const bad of ['yesterday sometime', '2026-11-02T08:00:00Z', 'Mon, 31 Feb 2026 08:00:00 +0000', 'Mon, 2 Nov 2026 25:00:00 +0000', 'Mon, 2 Nov 2026 08:00:00 +0000 and more', 'Mon, 2 Nov 2026 08:00:00']) {
    assert.equal(iso(bad), null, bad);
  }
});

test('a header section: Message-ID, subject and sender decoded; a Date nobody can read is left out, not made now', async () => {
  const header = (date: string) => Buffer.from(`From: =?utf-8?Q?J=C3=A4ne_Doe?= <jane@fabrikam.test>\r\nSubject: =?utf-8?Q?H=C3=A9llo?=\r\nMessage-ID: <m1@fabrikam.test>\r\nDate: ${date}\r\n\r\n`);
  assert.deepEqual(await entryFromHeaders('u1', header('Mon, 2 Nov 2026 08:00:00 +0000')), {
    serverId: 'u1',
    internetMessageId: '<m1@fabrikam.test>',
    receivedAt: '2026-11-02T08:00:00.000Z',
    subject: 'Héllo',
    from: 'Jäne Doe <jane@fabrikam.test>',
  });
  assert.equal((await entryFromHeaders('u1', header('some day'))).receivedAt, undefined);
});

describe('inventory over IMAP and POP3 (Dovecot)', mailServersSkip(), () => {
  let servers: MailServers;
  before(async () => {
    servers = await startMailServers();
  });
  after(async () => servers?.stop());

  const profile = (over: Partial<Profile>) =>
    testProfile({
      outgoingServer: `smtp://${servers.host}:${servers.ports.submission}`,
      username: servers.master.username,
      credentialSource: 'profile',
      masterUserSeparator: '*',
      trustedCaPem: servers.caPem,
      requestTimeoutSeconds: 10,
      ...over,
    } as Partial<Profile>);
  const imapConnector = () =>
    new ImapSmtpConnector({
      profile: profile({ serverType: 'imap-smtp', incomingServer: `imaps://${servers.host}:${servers.ports.imaps}` }),
      secrets: { password: servers.master.password, outgoingPassword: null, clientSecret: null },
      resolve: servers.resolve,
    });

  /** APPENDs a message with the INTERNALDATE given (what a delivery at that time would have left), as the user. */
  async function appendAt(user: MailUser, folder: string, mime: string, internalDate: Date): Promise<void> {
    const client = new ImapFlow({
      host: '127.0.0.1',
      port: servers.ports.imaps,
      secure: true,
      servername: servers.host,
      tls: { ca: [servers.caPem], servername: servers.host },
      auth: { user: `${user.address}${servers.master.separator}${servers.master.username}`, pass: servers.master.password },
      logger: false,
    });
    await client.connect();
    try {
      const done = await client.append(folder, mime, [], internalDate);
      assert.ok(done, `appended to ${folder}`);
    } finally {
      await client.logout();
    }
  }

  const base = Date.parse('2026-11-02T08:00:00Z');
  const hours = (h: number) => new Date(base + h * 3_600_000);
  const mail = (user: MailUser, n: number) => message({ from: 'Jane Doe <jane.doe@fabrikam.test>', to: [user.address], subject: `Number ${n}`, messageId: `<imap-${n}-${user.address}>`, date: hours(n) });

  describe('IMAP', () => {
    let user: MailUser;
    let session: MailboxSession;
    let connector: ImapSmtpConnector;
    before(async () => {
      user = await servers.addUser('imapaudit');
      // INTERNALDATEs an hour apart across midnight (UTC), appended out of UID order on purpose: UID order rules.
      for (const n of [0, 20, 5, 14, 18, 23, 30]) await appendAt(user, 'INBOX', mail(user, n), hours(n));
      connector = imapConnector();
      session = await connector.open(user.address);
    });
    after(async () => session?.close?.());

    test('pages of 3 over 7 messages: each once, by UID, with Message-ID, subject, sender, INTERNALDATE and the ids listChanges gives', async () => {
      const { entries, pages } = await inventoryAll(session, 'inbox', null, 3);
      assert.deepEqual(pages.map((p) => p.entries.length), [3, 3, 1]);
      noRepeats(entries);
      const order = [0, 20, 5, 14, 18, 23, 30];
      assert.deepEqual(entries.map((e) => e.internetMessageId), order.map((n) => `<imap-${n}-${user.address}>`));
      assert.deepEqual(entries.map((e) => e.subject), order.map((n) => `Number ${n}`));
      assert.deepEqual(entries.map((e) => e.receivedAt), order.map((n) => hours(n).toISOString()));
      assert.ok(entries.every((e) => e.from === 'Jane Doe <jane.doe@fabrikam.test>'), JSON.stringify(entries[0]));
      const changes = await session.listChanges('inbox', null, 100);
      assert.deepEqual(entries.map((e) => e.serverId), changes.changes.map((c) => c.serverId));
    });

    test('since is exact on INTERNALDATE, though SINCE on the server compares days only', async () => {
      // 22:30 on the 2nd: the day's 08:00, 13:00 and 22:00 are left out though SINCE (by day) lets them through.
      const { entries, pages } = await inventoryAll(session, 'inbox', new Date(base + 14.5 * 3_600_000), 2);
      assert.deepEqual(entries.map((e) => e.subject), ['Number 20', 'Number 18', 'Number 23', 'Number 30']);
      assert.ok(pages.slice(0, -1).every((p) => p.entries.length === 2), 'a page dropped to the exact bound is topped up');
      const atBound = await inventoryAll(session, 'inbox', hours(18), 10);
      assert.deepEqual(atBound.entries.map((e) => e.subject), ['Number 20', 'Number 18', 'Number 23', 'Number 30'], 'the bound itself is in');
      assert.deepEqual((await inventoryAll(session, 'inbox', hours(31), 10)).entries, []);
    });

    test('a message delivered between two pages (by Postfix) comes once, in a later page; nothing listed moves', async () => {
      const late = `<late-${Date.now()}@fabrikam.test>`;
      const { entries } = await inventoryAll(session, 'inbox', null, 3, async (n) => {
        if (n !== 0) return;
        await servers.deliver({ from: 'late@fabrikam.test', to: [user.address] }, message({ from: 'late@fabrikam.test', to: [user.address], subject: 'Late', messageId: late }));
        await servers.waitForMail(user.address, 8);
      });
      noRepeats(entries);
      assert.equal(entries.length, 8);
      assert.equal(entries.at(-1)!.internetMessageId, late);
      assert.ok(Date.parse(entries.at(-1)!.receivedAt!) > Date.now() - 3_600_000, 'its INTERNALDATE is the delivery');
    });

    test('an empty folder is one empty last page; a folder by reference as the other methods take it', async () => {
      assert.deepEqual(await session.inventory!('drafts', null, null, 10), { entries: [], next: null });
      const folder = await session.ensureFolder(['Audit'], 'inbox');
      assert.deepEqual(await session.inventory!(folder, null, null, 10), { entries: [], next: null });
      await appendAt(user, folder.id, mail(user, 40), hours(40));
      const page = await session.inventory!(folder, null, null, 10);
      assert.deepEqual(page.entries.map((e) => e.subject), ['Number 40']);
      assert.match(page.entries[0]!.serverId, /:INBOX\/Audit$/);
    });

    test('a page of another UIDVALIDITY is an invalid cursor (the audit starts again); a page not given is refused', async () => {
      const first = await session.inventory!('inbox', null, null, 2);
      const token = JSON.parse(first.next!) as { v: string; u: number };
      const error = await rejection(session.inventory!('inbox', null, JSON.stringify({ ...token, v: `${token.v}1` }), 2));
      assert.ok(error instanceof InvalidCursorError);
      assert.equal(connector.classify(error).kind, 'invalid-cursor');
      await assert.rejects(session.inventory!('inbox', null, 'nonsense', 2), /not a page/);
    });
  });

  describe('POP3', () => {
    let user: MailUser;
    let connector: Pop3SmtpConnector;
    const pop3Connector = () =>
      new Pop3SmtpConnector({
        profile: profile({ serverType: 'pop3-smtp', incomingServer: `pop3s://${servers.host}:${servers.ports.pop3s}` }),
        secrets: { password: servers.master.password, outgoingPassword: null, clientSecret: null },
        resolve: servers.resolve,
      });
    const popMail = (n: number, date?: string) =>
      message({ from: 'Jane Doe <jane.doe@fabrikam.test>', to: [user.address], subject: `Pop ${n}`, messageId: `<pop-${n}-${user.address}>`, date: hours(n) }).replace(
        /^Date: .*$/m,
        (line) => (date === undefined ? line : `Date: ${date}`),
      );

    before(async () => {
      user = await servers.addUser('popaudit');
      connector = pop3Connector();
      for (const n of [0, 5, 10, 15, 20]) await appendAt(user, 'INBOX', popMail(n), hours(n));
      await appendAt(user, 'INBOX', popMail(25, 'not a date at all'), hours(25));
      await appendAt(user, 'INBOX', popMail(30), hours(30));
    });

    test('pages of 3 over 7 messages: each once, in UIDL order, with the headers and the UIDLs listChanges gives', async () => {
      const session = await connector.open(user.address);
      try {
        const { entries, pages } = await inventoryAll(session, 'inbox', null, 3);
        assert.deepEqual(pages.map((p) => p.entries.length), [3, 3, 1]);
        noRepeats(entries);
        assert.deepEqual(entries.map((e) => e.subject), [0, 5, 10, 15, 20, 25, 30].map((n) => `Pop ${n}`));
        assert.deepEqual(entries.map((e) => e.internetMessageId), [0, 5, 10, 15, 20, 25, 30].map((n) => `<pop-${n}-${user.address}>`));
        assert.ok(entries.every((e) => e.from === 'Jane Doe <jane.doe@fabrikam.test>'));
        assert.equal(entries[1]!.receivedAt, hours(5).toISOString(), 'receivedAt is the Date header');
        assert.equal(entries[5]!.receivedAt, undefined, 'an unreadable Date is left out');
        const changes = await session.listChanges('inbox', null, 100);
        assert.deepEqual(entries.map((e) => e.serverId), changes.changes.map((c) => c.serverId));
      } finally {
        await session.close?.();
      }
    });

    test('since filters on the Date header; a message without a readable one is kept', async () => {
      const session = await connector.open(user.address);
      try {
        const { entries } = await inventoryAll(session, 'inbox', hours(15), 2);
        assert.deepEqual(entries.map((e) => e.subject), ['Pop 15', 'Pop 20', 'Pop 25', 'Pop 30']);
      } finally {
        await session.close?.();
      }
    });

    test('mail arriving between two pages: the session keeps its listing; a later session lists it last, resuming after the page', async () => {
      const first = await connector.open(user.address);
      const page1 = await first.inventory!('inbox', null, null, 4);
      const late = `<pop-late-${Date.now()}@fabrikam.test>`;
      await servers.deliver({ from: 'late@fabrikam.test', to: [user.address] }, message({ from: 'late@fabrikam.test', to: [user.address], subject: 'Late', messageId: late }));
      await servers.waitForMail(user.address, 8);
      const page2 = await first.inventory!('inbox', null, page1.next, 4);
      await first.close?.();
      assert.equal(page2.next, null);
      const run = [...page1.entries, ...page2.entries];
      noRepeats(run);
      assert.equal(run.length, 7, 'what the session listed when it began');

      const second = await connector.open(user.address);
      try {
        const resumed = await inventoryAll(second, 'inbox', null, 4);
        assert.deepEqual(resumed.entries.slice(0, 7).map((e) => e.serverId), run.map((e) => e.serverId));
        assert.equal(resumed.entries.at(-1)!.internetMessageId, late);
        // A token from the first session continues a second one after the same UIDL.
        const continued = await second.inventory!('inbox', null, page1.next, 100);
        assert.deepEqual(continued.entries.map((e) => e.serverId), resumed.entries.slice(4).map((e) => e.serverId));
      } finally {
        await second.close?.();
      }
    });

    test('a header section over 256 KB is cut, the connection kept; lines without end too', async () => {
      const big = await servers.addUser('popbig');
      const filler = Array.from({ length: 400 }, (_, i) => `X-Filler-${i}: ${'f'.repeat(1000)}`).join('\r\n');
      await appendAt(big, 'INBOX', `Message-ID: <big-1@fabrikam.test>\r\nSubject: Many lines\r\n${filler}\r\n\r\nbody\r\n`, hours(1));
      await appendAt(big, 'INBOX', `Message-ID: <big-2@fabrikam.test>\r\nSubject: One long line\r\nX-Long: ${'l'.repeat(400_000)}\r\nX-After: yes\r\n\r\nbody\r\n`, hours(2));
      await appendAt(big, 'INBOX', `Message-ID: <big-3@fabrikam.test>\r\nSubject: Small\r\nDate: Mon, 2 Nov 2026 08:00:00 +0000\r\n\r\nbody\r\n`, hours(3));
      assert.ok(filler.length > HEADER_LIMIT);
      const session = await connector.open(big.address);
      try {
        const { entries } = await inventoryAll(session, 'inbox', null, 10);
        assert.deepEqual(entries.map((e) => [e.internetMessageId, e.subject]), [
          ['<big-1@fabrikam.test>', 'Many lines'],
          ['<big-2@fabrikam.test>', 'One long line'],
          ['<big-3@fabrikam.test>', 'Small'],
        ]);
        assert.equal(entries[2]!.receivedAt, '2026-11-02T08:00:00.000Z', 'the message after the cut ones is read whole');
      } finally {
        await session.close?.();
      }
    });

    test('an empty maildrop is one empty last page; a folder other than the Inbox is refused', async () => {
      const empty = await servers.addUser('popempty');
      const session = await connector.open(empty.address);
      try {
        assert.deepEqual(await session.inventory!('inbox', null, null, 10), { entries: [], next: null });
        await assert.rejects(session.inventory!('sent', null, null, 10), /POP3 has no folders/);
        await assert.rejects(session.inventory!('inbox', null, '{"i":"x"}', 10), /not a page/);
      } finally {
        await session.close?.();
      }
    });
  });
});
