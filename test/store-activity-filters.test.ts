/**
 * The email list's filters on SQLite and PostgreSQL: by party (address or display name, any role, case aside),
 * by subject, by conversation, and by time (received for incoming email, sent or else created for outgoing),
 * each one kept while a page cursor walks the list.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ValidationError } from '../src/domain/errors.js';
import { newId } from '../src/domain/ids.js';
import type { ActivityFilter } from '../src/store/activities.js';
import type { Store } from '../src/store/store.js';
import { DATABASES, type TestStore } from './helpers/stores.js';

interface Received {
  subject: string;
  receivedAt: string | null;
  from: { address: string; displayName?: string | null };
  to?: string[];
  cc?: string[];
  conversationId?: string | null;
}

/** An incoming email as the sync engine writes one (rows of its own: the list reads nothing else). */
async function receive(store: Store, mailboxId: string, ownerId: string, email: Received): Promise<string> {
  const id = newId();
  const at = new Date().toISOString();
  await store.database.db
    .insertInto('email_activities')
    .values({
      id,
      mailbox_id: mailboxId,
      owner_id: ownerId,
      direction: 'incoming',
      status: 'received',
      subject: email.subject,
      body_text: 'hello',
      body_html: null,
      message_id: `<${id}@fabrikam.test>`,
      in_reply_to: null,
      message_references: null,
      conversation_id: email.conversationId ?? null,
      tracking_token: null,
      regarding_type: null,
      regarding_id: null,
      notes: null,
      failure_reason: null,
      delivery_attempts: 0,
      sent_at: null,
      received_at: email.receivedAt,
      created_at: at,
      updated_at: at,
    })
    .execute();
  const parties = [
    { role: 'from', address: email.from.address, display_name: email.from.displayName ?? null },
    ...(email.to ?? []).map((address) => ({ role: 'to', address, display_name: null })),
    ...(email.cc ?? []).map((address) => ({ role: 'cc', address, display_name: null })),
  ];
  await store.database.db
    .insertInto('activity_parties')
    .values(parties.map((p, i) => ({ id: newId(), activity_id: id, position: i + 1, record_type: null, record_id: null, ...p })))
    .execute();
  return id;
}

for (const kind of DATABASES) {
  describe(`email list filters on ${kind.name}`, kind.suite, () => {
    let t: TestStore;
    let store: Store;
    let owner: { id: string; mailboxId: string };
    let other: { id: string; mailboxId: string };

    /** Every id the filter lists, walking pages of `limit`; asserts the pages are newest first and disjoint. */
    async function walk(filter: Omit<ActivityFilter, 'after' | 'limit'>, limit = 2): Promise<string[]> {
      const ids: string[] = [];
      let after: string | undefined;
      for (let pages = 0; pages < 50; pages += 1) {
        const page = await store.activities.list({ ...filter, limit, ...(after ? { after } : {}) });
        assert.ok(page.items.length <= limit);
        ids.push(...page.items.map((a) => a.id));
        if (!page.nextCursor) break;
        after = page.nextCursor;
      }
      assert.deepEqual(ids, [...ids].sort().reverse(), 'newest first');
      assert.equal(new Set(ids).size, ids.length, 'no email on two pages');
      return ids;
    }

    before(async () => {
      t = await kind.open();
      store = t.store;
      const o = await store.users.create({ name: 'Olga Owner', email: 'olga@contoso.test' });
      const p = await store.users.create({ name: 'Piet Other', email: 'piet@contoso.test' });
      owner = { id: o.id, mailboxId: o.mailboxId! };
      other = { id: p.id, mailboxId: p.mailboxId! };
    });
    after(async () => t?.cleanup());

    test('party finds an address or a display name in any role, case aside, across pages', async () => {
      const fromAlice = await receive(store, owner.mailboxId, owner.id, {
        subject: 'one',
        receivedAt: '2026-03-01T10:00:00Z',
        from: { address: 'Alice.Smith@Fabrikam.test', displayName: 'Alice Smith' },
      });
      const noise1 = await receive(store, owner.mailboxId, owner.id, { subject: 'noise', receivedAt: '2026-03-01T10:01:00Z', from: { address: 'bob@northwind.test' } });
      const ccAlice = await receive(store, owner.mailboxId, owner.id, {
        subject: 'two',
        receivedAt: '2026-03-01T10:02:00Z',
        from: { address: 'carol@northwind.test', displayName: 'Carol' },
        cc: ['alice.smith@fabrikam.test'],
      });
      const named = await receive(store, owner.mailboxId, owner.id, {
        subject: 'three',
        receivedAt: '2026-03-01T10:03:00Z',
        from: { address: 'a.s@elsewhere.test', displayName: 'ALICE from accounts' },
      });
      const draftToAlice = (await store.activities.createDraft(owner.mailboxId, owner.id, { subject: 'four', to: ['alice.smith@fabrikam.test', 'x@y.test'] })).id;
      await receive(store, owner.mailboxId, owner.id, { subject: 'noise', receivedAt: '2026-03-01T10:04:00Z', from: { address: 'dave@northwind.test' } });

      assert.deepEqual(await walk({ party: 'alice' }), [draftToAlice, named, ccAlice, fromAlice]);
      assert.deepEqual(await walk({ party: 'SMITH@fabrikam' }, 1), [draftToAlice, ccAlice, fromAlice]);
      // The sender of an outgoing email is a party too (its mailbox's address).
      assert.ok((await walk({ party: 'olga@contoso' })).includes(draftToAlice));
      assert.deepEqual(await walk({ party: 'bob@' }), [noise1]);
      // An address with two matching parties is listed once.
      assert.deepEqual(await walk({ party: 'fabrikam.test', q: 'two' }), [ccAlice]);
      assert.deepEqual(await walk({ party: 'nobody-like-this' }), []);
    });

    test('% and _ in party and q are plain characters, not wildcards', async () => {
      const odd = await receive(store, owner.mailboxId, owner.id, { subject: '100% off_now', receivedAt: '2026-03-02T10:00:00Z', from: { address: 'per_cent@odd.test' } });
      await receive(store, owner.mailboxId, owner.id, { subject: '100 off now', receivedAt: '2026-03-02T10:01:00Z', from: { address: 'perXcent@odd.test' } });
      assert.deepEqual(await walk({ party: 'per_cent' }), [odd]);
      assert.deepEqual(await walk({ q: '0% OFF_' }), [odd]);
      assert.deepEqual(await walk({ q: '%' }), [odd]);
    });

    test('q finds text in the subject, case aside', async () => {
      const quote = await receive(store, owner.mailboxId, owner.id, { subject: 'Your Quote for March', receivedAt: '2026-03-03T10:00:00Z', from: { address: 'q@q.test' } });
      const draft = (await store.activities.createDraft(owner.mailboxId, owner.id, { subject: 'RE: your quote' })).id;
      assert.deepEqual(await walk({ q: 'your quote' }, 1), [draft, quote]);
      assert.deepEqual(await walk({ q: 'quote', direction: 'incoming' }), [quote]);
    });

    test('since and until: received time for incoming, sent or else created time for outgoing, to the second', async () => {
      const early = await receive(store, other.mailboxId, other.id, { subject: 'early', receivedAt: '2026-01-10T08:00:00Z', from: { address: 'e@t.test' } });
      const middle = await receive(store, other.mailboxId, other.id, { subject: 'middle', receivedAt: '2026-01-15T12:30:00.250Z', from: { address: 'm@t.test' } });
      const late = await receive(store, other.mailboxId, other.id, { subject: 'late', receivedAt: '2026-01-20T23:59:59Z', from: { address: 'l@t.test' } });
      const sent = await store.activities.createDraft(other.mailboxId, other.id, { subject: 'sent', to: ['s@t.test'] });
      await store.database.db.updateTable('email_activities').set({ status: 'sent', sent_at: '2026-01-16T09:00:00.000Z' }).where('id', '=', sent.id).execute();
      // A draft: its created time, now.
      const draft = await store.activities.createDraft(other.mailboxId, other.id, { subject: 'draft' });
      const mine = { mailboxId: other.mailboxId };

      assert.deepEqual(await walk({ ...mine, since: '2026-01-15T00:00:00Z', until: '2026-01-20T00:00:00Z' }), [sent.id, middle]);
      assert.deepEqual(await walk({ ...mine, until: '2026-01-15T12:30:00Z' }), [early], 'until is exclusive');
      assert.deepEqual(await walk({ ...mine, since: '2026-01-15T12:30:00Z', until: '2026-01-15T12:30:01Z' }), [middle], 'since is inclusive, to the second');
      assert.deepEqual(await walk({ ...mine, since: '2026-01-20T23:59:59.900Z' }, 1), [draft.id, late], 'the fraction of since is dropped');
      // Another zone is the same moment.
      assert.deepEqual(await walk({ ...mine, since: '2026-01-21T00:59:59+01:00', until: '2026-01-21T01:00:00+01:00' }), [late]);
      const today = new Date(Date.now() - 60_000).toISOString();
      assert.deepEqual(await walk({ ...mine, since: today }), [draft.id]);
      assert.deepEqual(await walk({ ...mine, since: '2026-01-01T00:00:00Z', direction: 'outgoing' }), [draft.id, sent.id]);
    });

    test('since not before until, or not a time, is refused with the field named', async () => {
      await assert.rejects(
        store.activities.list({ since: '2026-02-01T00:00:00Z', until: '2026-02-01T00:00:00Z' }),
        (error: unknown) => error instanceof ValidationError && error.problems[0]?.field === 'until',
      );
      await assert.rejects(
        store.activities.list({ since: 'yesterday' }),
        (error: unknown) => error instanceof ValidationError && error.problems[0]?.field === 'since',
      );
    });

    test('conversationId lists one conversation; a reply drafted from an email joins it', async () => {
      const first = await receive(store, owner.mailboxId, owner.id, { subject: 'thread', receivedAt: '2026-03-04T10:00:00Z', from: { address: 'th@t.test' }, conversationId: 'conv-A' });
      await receive(store, owner.mailboxId, owner.id, { subject: 'other thread', receivedAt: '2026-03-04T10:01:00Z', from: { address: 'th@t.test' }, conversationId: 'conv-B' });
      const second = await receive(store, owner.mailboxId, owner.id, { subject: 'RE: thread', receivedAt: '2026-03-04T10:02:00Z', from: { address: 'th@t.test' }, conversationId: 'conv-A' });
      const reply = await store.activities.createDraft(owner.mailboxId, owner.id, { subject: 'RE: thread', inReplyToActivityId: second });
      assert.equal(reply.conversationId, 'conv-A');
      assert.deepEqual(await walk({ conversationId: 'conv-A' }, 1), [reply.id, second, first]);
      assert.deepEqual(await walk({ conversationId: 'conv-a' }), [], 'exactly, case and all');
      // The email a reply answers, by its Message-ID.
      assert.deepEqual(await walk({ messageId: reply.inReplyTo! }), [second]);
      assert.deepEqual(await walk({ messageId: '<nothing@t.test>' }), []);
    });

    test('the filters keep to what the user may see', async () => {
      const hers = await receive(store, other.mailboxId, other.id, { subject: 'private', receivedAt: '2026-03-05T10:00:00Z', from: { address: 'secret@t.test' } });
      assert.deepEqual(await walk({ party: 'secret@', visibleTo: owner.id }), []);
      assert.deepEqual(await walk({ party: 'secret@', visibleTo: other.id }), [hers]);
    });
  });
}
