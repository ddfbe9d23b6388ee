/**
 * The Exchange Online connector's mailbox session against the Graph sandbox: delta listing (initial, incremental,
 * expired), fetch through $batch, the audit's inventory, folders and moves, throttling and the concurrency limit.
 */
import assert from 'node:assert/strict';
import { after, before, beforeEach, test } from 'node:test';
import type { ChangePage, FetchedMessage, MailboxSession, MessageFailure } from '../../../src/connectors/connector.js';
import type { GraphConnector } from '../../../src/connectors/graph/connector.js';
import type { HttpTransport } from '../../../src/connectors/ews/transport/types.js';
import { sandboxTransport } from '../../helpers/sandbox-connect.js';
import { connectorFor, deliver, type GraphSandbox, mime, startGraphSandbox } from './support.js';

let s: GraphSandbox;
let connector: GraphConnector;
before(async () => {
  s = await startGraphSandbox();
  connector = connectorFor(s);
});
after(async () => {
  await connector.close();
  await s.close();
});
beforeEach(async () => {
  await s.control('DELETE', '/faults');
});

async function drain(session: MailboxSession, cursor: string | null, max = 50): Promise<{ pages: ChangePage[]; cursor: string }> {
  const pages: ChangePage[] = [];
  let at = cursor;
  for (let i = 0; i < 100; i++) {
    const page = await session.listChanges('inbox', at, max);
    pages.push(page);
    at = page.cursor;
    if (page.complete) return { pages, cursor: at };
  }
  throw new Error('delta never completed');
}

test('delta: the initial listing pages by nextLink to a deltaLink; the next round reports only what arrived since', async () => {
  const address = 'carol@contoso.test';
  for (let i = 0; i < 5; i++) await deliver(s, address, `Initial ${i}`);
  const session = await connector.open(address);
  const first = await drain(session, null, 2);
  assert.ok(first.pages.length >= 3, 'pages of 2 were asked for');
  assert.ok(first.pages.slice(0, -1).every((p) => !p.complete && /\$skiptoken=/i.test(p.cursor)));
  assert.match(first.cursor, /\$deltatoken=/i);
  const ids = first.pages.flatMap((p) => p.changes.filter((c) => c.kind === 'created').map((c) => c.serverId));
  assert.equal(new Set(ids).size, ids.length);
  assert.ok(ids.length >= 5);
  const created = first.pages.flatMap((p) => p.changes);
  assert.ok(created.every((c) => c.internetMessageId && c.receivedAt));

  const none = await session.listChanges('inbox', first.cursor, 50);
  assert.equal(none.complete, true);
  assert.equal(none.changes.length, 0);

  const newId = await deliver(s, address, 'Later one');
  const next = await drain(session, none.cursor);
  const changes = next.pages.flatMap((p) => p.changes);
  assert.deepEqual(
    changes.map((c) => [c.kind, c.internetMessageId]),
    [['created', newId]],
  );
});

test('delta: an expired delta token is SyncStateNotFound, classified invalid-cursor', async () => {
  const session = await connector.open('bob@contoso.test');
  const { cursor } = await drain(session, null);
  await s.control('POST', '/faults', { kind: 'expireDelta', operation: 'graph.delta', times: 1 });
  const error = await session.listChanges('inbox', cursor, 50).then(
    () => assert.fail('an expired token was accepted'),
    (e: unknown) => e,
  );
  const classified = connector.classify(error);
  assert.equal(classified.kind, 'invalid-cursor');
  assert.equal(classified.code, 'graph.SyncStateNotFound');
  // Started again from scratch, the listing works.
  const again = await drain(session, null);
  assert.match(again.cursor, /\$deltatoken=/i);
});

test('fetch: the MIME through $batch is byte for byte the message delivered, with its ids; a missing one is a MessageFailure', async () => {
  const address = 'alice@contoso.test';
  const urls: string[] = [];
  const inner = sandboxTransport(s);
  const recording: HttpTransport = { ...inner, request: (r) => (urls.push(`${r.method} ${new URL(r.url).pathname}`), inner.request(r)) };
  const c = connectorFor(s, { transport: recording });
  try {
    const wanted: Array<{ mid: string; bytes: Buffer }> = [];
    for (let i = 0; i < 12; i++) {
      const mid = `<fetch-${i}-${Date.now()}@fabrikam.test>`;
      // Latin-1 bytes that are not UTF-8 and a long line: what a base64 round trip through JSON must keep.
      const bytes = Buffer.concat([mime('jane.doe@fabrikam.test', address, `Fetch ${i}`, mid), Buffer.from([0xe9, 0x0d, 0x0a]), Buffer.from(`${'x'.repeat(900)}\r\n`)]);
      await s.control('POST', `/mailboxes/${address}/messages`, { mimeBase64: bytes.toString('base64') });
      wanted.push({ mid, bytes });
    }
    const session = await c.open(address);
    const { pages } = await drain(session, null, 1000);
    const byMid = new Map(pages.flatMap((p) => p.changes).map((x) => [x.internetMessageId, x.serverId]));
    const ids = wanted.map((w) => byMid.get(w.mid)!);
    urls.length = 0;
    const fetched = await session.fetch([...ids, 'AAMkAGnotthere-0000']);
    assert.equal(fetched.length, 13);
    for (let i = 0; i < 12; i++) {
      const entry = fetched[i] as FetchedMessage;
      assert.ok(!('error' in entry), `message ${i} fetched`);
      assert.equal(entry.serverId, ids[i]);
      assert.equal(entry.internetMessageId, wanted[i]!.mid);
      assert.ok(entry.conversationId);
      assert.ok(entry.receivedAt);
      assert.deepEqual(entry.mime, wanted[i]!.bytes);
    }
    const failure = fetched[12] as MessageFailure;
    assert.ok(failure.error);
    assert.equal(c.classify(failure.error).code, 'graph.ErrorItemNotFound');
    // 13 messages: two batches (10 + 3), nothing fetched one by one.
    assert.equal(urls.filter((u) => u === 'POST /v1.0/$batch').length, 2);
    assert.ok(!urls.some((u) => u.endsWith('/$value')), 'no message was fetched one by one');
  } finally {
    await c.close();
  }
});

test('inventory: received since a date, oldest first, paged by nextLink', async () => {
  const address = 'sales@contoso.test';
  const since = new Date(Date.now() - 60_000);
  await deliver(s, address, 'Old one', { receivedAt: new Date(Date.now() - 3_600_000).toISOString() });
  const mids = [];
  for (let i = 0; i < 5; i++) mids.push(await deliver(s, address, `Inventory ${i}`, { receivedAt: new Date(Date.now() - 50_000 + i * 1000).toISOString() }));
  const session = await connector.open(address);
  const seen: string[] = [];
  let page: string | null = null;
  let pages = 0;
  do {
    const answer = await session.inventory!('inbox', since, page, 2);
    assert.ok(answer.entries.length <= 2);
    seen.push(...answer.entries.map((e) => e.internetMessageId!));
    assert.ok(answer.entries.every((e) => e.subject?.startsWith('Inventory') && e.from?.includes('jane.doe@fabrikam.test')));
    page = answer.next;
    pages += 1;
  } while (page !== null && pages < 20);
  assert.deepEqual(seen, mids);
  assert.equal(pages, 3);
});

test('ensureFolder makes a path once and finds it after; move returns ids that fetch reads in the new folder', async () => {
  const address = 'dave@contoso.test';
  const mid = await deliver(s, address, 'To be moved');
  const session = await connector.open(address);
  const made = await session.ensureFolder(['Liaison', 'Undeliverable']);
  assert.equal(made.created, true);
  assert.equal(made.displayName, 'Undeliverable');
  const again = await session.ensureFolder(['Liaison', 'Undeliverable']);
  assert.deepEqual(again, { ...made, created: false });
  const folders = (await s.control<Array<{ path: string }>>('GET', `/mailboxes/${address}/folders`)).json;
  assert.equal(folders.filter((f) => /Liaison\/Undeliverable$/.test(f.path)).length, 1);

  const { pages } = await drain(session, null, 1000);
  const id = pages.flatMap((p) => p.changes).find((c) => c.internetMessageId === mid)!.serverId;
  const [moved] = await session.move([id], made);
  assert.ok(moved);
  const [fetched] = await session.fetch([moved!]);
  assert.equal((fetched as FetchedMessage).internetMessageId, mid);
  const inbox = (await s.control<Array<{ internetMessageId: string }>>('GET', `/mailboxes/${address}/folders/inbox/items`)).json;
  assert.ok(!inbox.some((m) => m.internetMessageId === mid), 'the message left the Inbox');
});

test('429 with Retry-After is waited out and the call succeeds; a long Retry-After is thrown as throttled with its back-off', async () => {
  const waits: number[] = [];
  const c = connectorFor(s, { client: { onThrottle: (t) => waits.push(t.waitMs) } });
  try {
    const session = await c.open('alice@contoso.test');
    await s.control('POST', '/faults', { kind: 'http429', operation: 'graph.delta', times: 1, backOffMilliseconds: 1000 });
    const page = await session.listChanges('inbox', null, 5);
    assert.ok(page.changes.length > 0);
    assert.deepEqual(waits, [1000]);

    await s.control('POST', '/faults', { kind: 'http429', operation: 'graph.delta', times: 1, backOffMilliseconds: 120_000 });
    const error = await session.listChanges('inbox', null, 5).then(
      () => assert.fail('a two-minute Retry-After was waited out'),
      (e: unknown) => e,
    );
    const classified = c.classify(error);
    assert.equal(classified.kind, 'throttled');
    assert.equal(classified.code, 'http.429');
    assert.equal(classified.backOffMs, 120_000);
  } finally {
    await c.close();
  }
});

test('at most 4 requests in flight per mailbox: 30 fetches at once stay inside the sandbox limit (which would answer 429)', async () => {
  // A Retry-After of a minute: one 429 would fail the call instead of being waited out.
  await s.control('PATCH', '/settings', { graphRetryAfterSeconds: 60, graphConcurrencyLimit: 4 });
  const waits: number[] = [];
  const c = connectorFor(s, { client: { onThrottle: (t) => waits.push(t.waitMs) } });
  try {
    const session = await c.open('alice@contoso.test');
    const { changes } = await session.listChanges('inbox', null, 30);
    const ids = changes.map((x) => x.serverId).slice(0, 30);
    const results = await Promise.all(ids.map((id) => session.fetch([id])));
    assert.ok(results.every(([r]) => r && !('error' in r)), JSON.stringify(results.flat().filter((r) => 'error' in r).map((r) => (r as MessageFailure).error.message)));
    assert.deepEqual(waits, []);
  } finally {
    await s.control('PATCH', '/settings', { graphRetryAfterSeconds: 2 });
    await c.close();
  }
});

test('an application access policy that excludes the mailbox is permanent, with the PowerShell fix', async () => {
  const policy = await s.control<{ id: string }>('POST', '/graph/access-policies', { appId: s.clientId, accessRight: 'DenyAccess', mailboxes: ['bob@contoso.test'] });
  try {
    const session = await connector.open('bob@contoso.test');
    const error = await session.listChanges('inbox', null, 5).then(
      () => assert.fail('the policy was not applied'),
      (e: unknown) => e,
    );
    const classified = connector.classify(error);
    assert.equal(classified.kind, 'permanent');
    assert.equal(classified.code, 'graph.ErrorAccessDenied');
    assert.match(classified.message, /application access policy/);
    assert.match(classified.fix!, new RegExp(`Test-ApplicationAccessPolicy -Identity bob@contoso.test -AppId ${s.clientId}`));
    assert.match(classified.serverResponse!, /AccessPolicy/);
  } finally {
    await s.control('DELETE', `/graph/access-policies/${policy.json.id}`);
  }
});
