/**
 * The EWS connector's change feed against the sandbox: mailboxes on both servers grouped by Autodiscover's EWS
 * URL and GroupingInformation, one streaming connection per group with notification affinity (the anchor's
 * X-BackEndOverrideCookie carried on the group's later requests), deliveries reported per mailbox, lost
 * subscriptions made again, watch() adding and removing mailboxes, close() leaving nothing on the server.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { ClassifiedError, MailboxLocation } from '../../../src/connectors/connector.js';
import { affinityCookieOf, groupKeyOf } from '../../../src/connectors/ews/change-feed.js';
import { EwsConnector } from '../../../src/connectors/ews/connector.js';
import { createHttpTransport } from '../../../src/connectors/ews/transport/http.js';
import { SchemaCheckingTransport } from '../../helpers/ews-client.js';
import { startTestSandbox, type TestSandbox } from '../../helpers/sandbox.js';
import { sandboxTransportOptions } from '../../helpers/sandbox-connect.js';
import { testTraffic } from '../../helpers/traffic.js';

const MAIL = ['alice@contoso.test', 'bob@contoso.test', 'carol@contoso.test', 'feed1@contoso.test', 'feed2@contoso.test'];
const MAIL2 = ['dave@contoso.test', 'feed3@contoso.test', 'feed4@contoso.test', 'feed5@contoso.test'];
const ALL = [...MAIL, ...MAIL2];

type Listing = {
  subscriptions: Array<{ id: string; mailbox: string; server: string }>;
  connections: Array<{ server: string; anchor: string; mailboxes: string[] }>;
};

/** Waits for a condition with a generous deadline (not a timed assertion: only a bound on a hang). */
async function until<T>(what: string, check: () => T | null | undefined | false | Promise<T | null | undefined | false>, ms = 15_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('EWS change feed against the sandbox', () => {
  let s: TestSandbox;
  let transport: SchemaCheckingTransport;
  let connector: EwsConnector;
  const locations = new Map<string, MailboxLocation>();
  const changes: string[] = [];
  const errors: Array<{ address: string | null; error: ClassifiedError }> = [];

  const listing = async () => (await s.control<Listing>('GET', '/subscriptions')).json;
  const deliver = (address: string, subject: string) => s.control('POST', `/mailboxes/${address}/messages`, { from: 'jane.doe@fabrikam.test', to: [address], subject, body: 'x' });
  const seen = (address: string, after: number) => changes.slice(after).includes(address);

  before(async () => {
    s = await startTestSandbox();
    for (const [address, server] of [...MAIL.slice(3).map((a) => [a, 'mail']), ...MAIL2.slice(1).map((a) => [a, 'mail2'])]) {
      assert.equal((await s.control('POST', '/mailboxes', { address, server })).status, 201);
    }
    transport = new SchemaCheckingTransport(createHttpTransport(sandboxTransportOptions(s)));
    connector = new EwsConnector({
      credentials: { username: s.info.serviceAccount!.username, password: s.password, method: 'basic' },
      autodiscover: true,
      transport,
      discover: { resolveSrv: async () => [], httpRedirectProbe: true, srvLookup: false },
      cachedLocation: (address) => locations.get(address) ?? null,
      onLocationChanged: (address, location) => void locations.set(address, location),
      changeFeed: { retryInitialMs: 50, retryMaxMs: 400 },
    });
  });
  after(async () => {
    await connector?.close();
    await transport?.close();
    await s?.close();
  });

  test('the affinity cookie is read from Set-Cookie; groups are keyed by GroupingInformation and the EWS URL', () => {
    assert.equal(affinityCookieOf(['exchangecookie=ddb8; path=/', 'X-BackEndOverrideCookie=CO1PR06MB222.namprd06.prod.outlook.com~1941996295; path=/; secure; HttpOnly']), 'X-BackEndOverrideCookie=CO1PR06MB222.namprd06.prod.outlook.com~1941996295');
    assert.equal(affinityCookieOf(['exchangecookie=1; path=/']), null);
    assert.equal(affinityCookieOf(undefined), null);
    const url = 'https://outlook.contoso.test/EWS/Exchange.asmx';
    assert.notEqual(groupKeyOf({ url, foundAt: '', groupingInformation: 'CONTOSO-1' }), groupKeyOf({ url, foundAt: '', groupingInformation: 'CONTOSO-2' }));
    assert.equal(groupKeyOf({ url, foundAt: '', groupingInformation: 'CONTOSO-1' }), groupKeyOf({ url: url.toUpperCase(), foundAt: 'x', groupingInformation: 'CONTOSO-1' }));
  });

  test('mailboxes on both servers: one connection per server group, and a delivery to any of them is reported for it', async () => {
    const feed = connector.changeFeed(['inbox'], { onChange: (a) => changes.push(a), onError: (address, error) => errors.push({ address, error }) });
    try {
      feed.watch([...ALL].reverse());
      const groups = await until('every mailbox subscribed', () => {
        const d = feed.describe();
        return d.length === 2 && d.every((g) => g.subscribed === g.members.length) && d.reduce((n, g) => n + g.subscribed, 0) === ALL.length && d;
      });
      for (const group of groups) {
        const expected = group.members.includes('alice@contoso.test') ? MAIL : MAIL2;
        assert.deepEqual([...group.members].sort(), [...expected].sort());
        assert.equal(group.anchor, [...expected].sort()[0], "the group's first mailbox by name anchors it");
        assert.match(group.cookie ?? '', /^X-BackEndOverrideCookie=mail2?\.contoso\.test~\d+$/);
        assert.match(group.groupingInformation, /^CONTOSO-[12]$/, 'Autodiscover gave the GroupingInformation');
      }
      const open = await until('one connection per group', async () => {
        const l = await listing();
        return l.connections.length === 2 && l.connections.every((c) => c.mailboxes.length > 0) && l;
      });
      for (const connection of open.connections) {
        const expected = connection.server === 'mail' ? MAIL : MAIL2;
        assert.deepEqual([...connection.mailboxes].sort(), [...expected].sort(), `the ${connection.server} connection carries its group`);
        assert.equal(connection.anchor, [...expected].sort()[0]);
      }

      const start = changes.length;
      for (const address of ALL) await deliver(address, `Push to ${address}`);
      await until('a change reported for every mailbox', () => ALL.every((a) => seen(a, start)));
      assert.ok((await listing()).connections.length <= 2, 'connections stay one per group');

      // Affinity on the wire: the anchor's Subscribe has no cookie, every later request of the group carries it.
      const ews = transport.requests.filter((r) => /<m:(Subscribe|GetStreamingEvents)>/.test(r.body));
      assert.ok(ews.length >= ALL.length + 2);
      for (const r of ews) {
        assert.equal(r.headers['x-preferserveraffinity'], 'true');
        const anchor = r.headers['x-anchormailbox'];
        assert.ok(anchor === [...MAIL].sort()[0] || anchor === [...MAIL2].sort()[0], `X-AnchorMailbox is a group's anchor: ${anchor}`);
        const impersonated = /<t:PrimarySmtpAddress>([^<]+)</.exec(r.body)?.[1];
        if (/<m:Subscribe>/.test(r.body) && impersonated === anchor && !r.headers.cookie) continue;
        assert.match(r.headers.cookie ?? '', /^X-BackEndOverrideCookie=/, `${impersonated}'s request carries the group's cookie`);
      }
    } finally {
      await feed.close();
    }
    const left = await listing();
    assert.deepEqual([left.connections.length, left.subscriptions.length], [0, 0], 'close() unsubscribes and closes everything');
  });

  test('a subscription the server loses is made again and reports changes again; onError is told', async () => {
    const watched = ['alice@contoso.test', 'bob@contoso.test', 'dave@contoso.test'];
    const feed = connector.changeFeed(['inbox'], { onChange: (a) => changes.push(a), onError: (address, error) => errors.push({ address, error }) });
    try {
      feed.watch(watched);
      await until('subscribed', () => feed.describe().reduce((n, g) => n + g.subscribed, 0) === 3 && feed.describe());
      await until('connections open', async () => (await listing()).connections.length === 2);
      const before = (await listing()).subscriptions.find((x) => x.mailbox === 'bob@contoso.test')!.id;
      const errorsBefore = errors.length;
      const dropped = await s.control<{ subscriptions: number; connections: number }>('DELETE', '/subscriptions?mailbox=bob@contoso.test');
      assert.deepEqual(dropped.json, { subscriptions: 1, connections: 1 });
      const again = await until('bob subscribed again', async () => {
        const l = await listing();
        const bob = l.subscriptions.find((x) => x.mailbox === 'bob@contoso.test');
        return bob && bob.id !== before && l.connections.some((c) => c.mailboxes.includes('bob@contoso.test')) && bob;
      });
      assert.notEqual(again.id, before);
      assert.ok(errors.slice(errorsBefore).some((e) => e.error.kind === 'transient' || e.error.code === 'ews.ErrorSubscriptionNotFound'), 'the loss was reported');
      const start = changes.length;
      await deliver('bob@contoso.test', 'After the loss');
      await until('bob reported again', () => seen('bob@contoso.test', start));
    } finally {
      await feed.close();
    }
  });

  test('watch() replaces the set: a mailbox left out is unsubscribed and its mail no longer reported, one added is', async () => {
    const feed = connector.changeFeed(['inbox'], { onChange: (a) => changes.push(a) });
    try {
      feed.watch(['alice@contoso.test', 'bob@contoso.test', 'carol@contoso.test']);
      await until('three subscribed', () => feed.describe().reduce((n, g) => n + g.subscribed, 0) === 3);
      feed.watch(['alice@contoso.test', 'carol@contoso.test', 'feed5@contoso.test']);
      await until('bob unsubscribed, feed5 subscribed', async () => {
        const l = await listing();
        const mailboxes = l.subscriptions.map((x) => x.mailbox);
        return !mailboxes.includes('bob@contoso.test') && mailboxes.includes('feed5@contoso.test') && l.connections.some((c) => c.mailboxes.includes('feed5@contoso.test')) && l.connections.some((c) => c.mailboxes.includes('carol@contoso.test') && !c.mailboxes.includes('bob@contoso.test'));
      });
      const start = changes.length;
      // Bob's mail goes first; carol shares bob's server and connection, so once hers is reported bob's would have been.
      await deliver('bob@contoso.test', 'Not watched');
      await deliver('carol@contoso.test', 'Watched');
      await deliver('feed5@contoso.test', 'Newly watched');
      await until('carol and feed5 reported', () => seen('carol@contoso.test', start) && seen('feed5@contoso.test', start));
      assert.equal(seen('bob@contoso.test', start), false, 'a mailbox no longer watched is not reported');
      assert.deepEqual(feed.describe().map((g) => g.members.length).sort(), [1, 2]);
    } finally {
      await feed.close();
    }
  });

  test('groups hold at most maxPerConnection mailboxes; still one connection per group', async () => {
    const small = new EwsConnector({
      credentials: { username: s.info.serviceAccount!.username, password: s.password, method: 'basic' },
      autodiscover: true,
      transport,
      discover: { resolveSrv: async () => [], httpRedirectProbe: true, srvLookup: false },
      cachedLocation: (address) => locations.get(address) ?? null,
      changeFeed: { maxPerConnection: 2, retryInitialMs: 50, retryMaxMs: 400 },
    });
    const feed = small.changeFeed(['inbox'], { onChange: (a) => changes.push(a) });
    try {
      feed.watch(MAIL);
      const groups = await until('all subscribed', () => {
        const d = feed.describe();
        return d.reduce((n, g) => n + g.subscribed, 0) === MAIL.length && d;
      });
      assert.deepEqual(groups.map((g) => g.members.length).sort(), [1, 2, 2]);
      await until('three connections', async () => (await listing()).connections.length === 3);
      const start = changes.length;
      await deliver(MAIL[4]!, 'In the last group');
      await until('reported', () => seen(MAIL[4]!, start));
    } finally {
      await small.close();
    }
    assert.equal((await listing()).subscriptions.length, 0, "closing the connector closes its feeds");
  });

  test('every request the feed sent validates against the schemas', () => {
    assert.deepEqual(transport.invalid(), []);
  });

  testTraffic(() => s.records, 20);
});
