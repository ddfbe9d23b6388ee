/**
 * The sync engine's store (store.sync) on SQLite and PostgreSQL: leases and their fencing tokens, one recorded
 * outcome per message, one activity per Message-ID linked to every mailbox that received it, and the cursor
 * written with the outcomes it covers.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { LeaseLostError, type IncomingOutcome, type Lease, type NewIncomingActivity } from '../src/sync/ports.js';
import type { Store } from '../src/store/store.js';
import { DATABASES, type TestStore } from './helpers/stores.js';

const T0 = new Date('2026-03-01T10:00:00.000Z');
const later = (ms: number) => new Date(T0.getTime() + ms);

function incoming(id: string, overrides: Partial<NewIncomingActivity> = {}): NewIncomingActivity {
  return {
    internetMessageId: id,
    subject: `Subject of ${id}`,
    bodyText: 'Hello',
    bodyHtml: null,
    parties: [
      { role: 'from', address: 'customer@fabrikam.test', displayName: 'Customer', record: null },
      { role: 'to', address: 'to@contoso.test', displayName: null, record: null },
    ],
    inReplyTo: null,
    references: [],
    conversationId: null,
    trackingToken: null,
    regarding: null,
    correlatedActivityId: null,
    sentAt: '2026-03-01T09:59:00.000Z',
    receivedAt: '2026-03-01T10:00:00.000Z',
    attachments: [],
    notes: [],
    ...overrides,
  };
}

const tracked = (serverId: string, activity: NewIncomingActivity): IncomingOutcome => ({ kind: 'tracked', serverId, activity });

async function countRows(store: Store, table: 'email_activities' | 'message_outcomes' | 'activity_mailboxes'): Promise<number> {
  const row = await store.database.db.selectFrom(table).select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
  return Number(row.n);
}

for (const kind of DATABASES) {
  describe(`sync store on ${kind.name}`, kind.suite, () => {
    let t: TestStore;
    let store: Store;
    let ownerId: string;
    let profileId: string;
    let seq = 0;

    /** A user with an enabled mailbox on the profile, ready to be claimed. */
    async function syncedMailbox(name = `user${++seq}`): Promise<{ userId: string; mailboxId: string }> {
      const user = await store.users.create({ name, email: `${name}@contoso.test` });
      await store.mailboxes.update(user.mailboxId!, { profileId, approvalStatus: 'approved', enabled: true });
      return { userId: user.id, mailboxId: user.mailboxId! };
    }

    /** Claims exactly this mailbox (others are leased away first by an unrelated worker, far in the future). */
    async function leaseOf(mailboxId: string, workerId = 'w1', at = T0): Promise<Lease> {
      for (let i = 0; i < 50; i += 1) {
        const [granted] = await store.sync.claimDue(workerId, 1, 60_000, at);
        if (!granted) break;
        const { lease } = granted;
        if (lease.mailboxId === mailboxId) return lease;
        await store.sync.release(lease, new Date('2100-01-01T00:00:00.000Z'));
      }
      throw new Error(`mailbox ${mailboxId} was not claimable`);
    }

    before(async () => {
      t = await kind.open();
      store = t.store;
      const owner = await store.users.create({ name: 'Profile Owner', email: 'owner@contoso.test', isAdmin: true });
      ownerId = owner.id;
      const profile = await store.profiles.create({
        name: 'Contoso Exchange',
        serverType: 'exchange',
        autodiscover: false,
        incomingServer: 'https://mail.contoso.test/EWS/Exchange.asmx',
        username: 'svc@contoso.test',
        password: 'service-password',
        notifyOwnerOnFailure: true,
        ownerId,
      });
      profileId = profile.id;
    });
    after(async () => t?.cleanup());

    test('claimDue leases due mailboxes only, with a growing fencing token; an expired lease is granted again with a larger one', async () => {
      const { mailboxId } = await syncedMailbox();
      const disabled = await store.users.create({ name: 'Disabled', email: 'disabled@contoso.test' });
      const first = await leaseOf(mailboxId, 'w1');
      const mailbox = (await store.mailboxes.get(mailboxId));
      assert.equal(first.workerId, 'w1');
      assert.ok(first.token >= 1);
      // Held: no one else gets it before it expires, and a mailbox that is not enabled is never claimed.
      const others = await store.sync.claimDue('w2', 100, 60_000, later(1000));
      assert.ok(!others.some((g) => g.lease.mailboxId === mailboxId || g.lease.mailboxId === disabled.mailboxId));
      for (const g of others) await store.sync.release(g.lease, new Date('2100-01-01T00:00:00.000Z'));
      assert.equal(mailbox.enabled, true);

      const renewed = await store.sync.renew(first, 60_000, later(30_000));
      assert.equal(renewed.expiresAt, later(90_000).toISOString());
      // After expiry another worker takes it over with a larger token; the first worker's lease is lost.
      const taken = await store.sync.claimDue('w2', 10, 60_000, later(91_000));
      const second = taken.find((g) => g.lease.mailboxId === mailboxId);
      assert.ok(second, 'the expired lease is granted again');
      assert.equal(second.lease.workerId, 'w2');
      assert.ok(second.lease.token > first.token);
      assert.equal(second.mailbox.address, mailbox.emailAddress);
      assert.equal(second.mailbox.profileId, profileId);
      assert.equal(second.mailbox.incoming, true);
      await assert.rejects(store.sync.renew(renewed, 60_000, later(92_000)), LeaseLostError);
      // A lost lease's release is ignored: the successor keeps the mailbox.
      await store.sync.release(renewed, later(0));
      assert.deepEqual(await store.sync.claimDue('w3', 10, 60_000, later(93_000)).then((g) => g.filter((x) => x.lease.mailboxId === mailboxId)), []);

      // Released, due at a time: not claimed before it, claimed from it on; wake makes it due now.
      await store.sync.release(second.lease, later(600_000));
      assert.equal((await store.mailboxes.get(mailboxId)).nextDueAt, later(600_000).toISOString());
      const early = await store.sync.claimDue('w1', 10, 60_000, later(200_000));
      assert.ok(!early.some((g) => g.lease.mailboxId === mailboxId));
      await store.sync.wake([mailbox.emailAddress.toUpperCase()], later(200_000));
      const woken = await store.sync.claimDue('w1', 10, 60_000, later(200_000));
      assert.ok(woken.some((g) => g.lease.mailboxId === mailboxId), 'wake made it due');
      // Woken while held: its release keeps it due from the wake on, not from the next poll.
      const held = woken.find((g) => g.lease.mailboxId === mailboxId)!;
      await store.sync.wake([mailbox.emailAddress], later(201_000));
      await store.sync.release(held.lease, later(900_000));
      assert.equal((await store.mailboxes.get(mailboxId)).nextDueAt, later(201_000).toISOString());
      for (const g of woken) if (g !== held) await store.sync.release(g.lease, new Date('2100-01-01T00:00:00.000Z'));
      for (const g of early) await store.sync.release(g.lease, new Date('2100-01-01T00:00:00.000Z'));
      await store.sync.release((await leaseOf(mailboxId, 'w1', later(202_000))), new Date('2100-01-01T00:00:00.000Z'));
    });

    test('commitIncoming records the activity, its parties and attachments, the outcomes and the cursor; committing again writes nothing twice', async () => {
      const { mailboxId, userId } = await syncedMailbox();
      const contact = await store.records.create('contact', { name: 'Customer', emailAddresses: ['customer@fabrikam.test'] });
      const lease = await leaseOf(mailboxId);
      const activity = incoming('<one@fabrikam.test>', {
        parties: [
          { role: 'from', address: 'customer@fabrikam.test', displayName: 'Customer', record: { type: 'contact', id: contact.id } },
          { role: 'to', address: 'someone@contoso.test', displayName: 'Someone', record: null },
        ],
        references: ['<a@x.test>', '<b@x.test>'],
        conversationId: 'conv-1',
        regarding: { type: 'contact', id: contact.id },
        attachments: [{ fileName: 'a.txt', contentType: 'text/plain', content: Buffer.from('attached') }],
        notes: ['"big.zip" was left out: 6 MB is over the 5 MB limit'],
      });
      const batch = {
        folder: 'inbox',
        cursor: 'cursor-1',
        outcomes: [
          tracked('srv-1', activity),
          { kind: 'filtered', serverId: 'srv-2', internetMessageId: '<two@fabrikam.test>', rule: 'auto-reply' } as const,
        ],
      };
      const result = await store.sync.commitIncoming(lease, batch);
      assert.equal(result.created.length, 1);
      assert.deepEqual(result.linked, []);
      assert.equal(await store.sync.cursor(mailboxId, 'inbox'), 'cursor-1');
      const saved = await store.activities.get(result.created[0]!);
      assert.deepEqual([saved.direction, saved.status, saved.ownerId, saved.mailboxId], ['incoming', 'received', userId, mailboxId]);
      assert.deepEqual(saved.mailboxIds, [mailboxId]);
      assert.deepEqual(saved.from, [{ address: 'customer@fabrikam.test', displayName: 'Customer', record: { type: 'contact', id: contact.id } }]);
      assert.deepEqual(saved.to, [{ address: 'someone@contoso.test', displayName: 'Someone', record: null }]);
      assert.deepEqual(saved.references, ['<a@x.test>', '<b@x.test>']);
      assert.equal(saved.conversationId, 'conv-1');
      assert.deepEqual(saved.regarding, { type: 'contact', id: contact.id });
      assert.deepEqual(saved.notes, activity.notes);
      assert.equal(saved.attachments.length, 1);
      assert.equal((await store.activities.attachment(saved.id, saved.attachments[0]!.id)).content.toString(), 'attached');
      assert.deepEqual([...(await store.sync.knownMessages(mailboxId, ['<one@fabrikam.test>', '<two@fabrikam.test>', '<three@x.test>']))].sort(), ['<one@fabrikam.test>', '<two@fabrikam.test>']);
      assert.deepEqual([...(await store.sync.knownServerIds(mailboxId, ['srv-1', 'srv-9']))], ['srv-1']);

      // The same batch again (the answer to the first commit was lost): nothing new, the cursor as given.
      const activitiesBefore = await countRows(store, 'email_activities');
      const outcomesBefore = await countRows(store, 'message_outcomes');
      const again = await store.sync.commitIncoming(lease, { ...batch, cursor: 'cursor-2' });
      assert.deepEqual(again, { created: [], linked: [] });
      assert.equal(await countRows(store, 'email_activities'), activitiesBefore);
      assert.equal(await countRows(store, 'message_outcomes'), outcomesBefore);
      assert.equal(await store.sync.cursor(mailboxId, 'inbox'), 'cursor-2');
      // A null cursor leaves the stored one; resetCursor forgets it.
      await store.sync.commitIncoming(lease, { folder: 'inbox', cursor: null, outcomes: [] });
      assert.equal(await store.sync.cursor(mailboxId, 'inbox'), 'cursor-2');
      await store.sync.resetCursor(lease, 'inbox');
      assert.equal(await store.sync.cursor(mailboxId, 'inbox'), null);

      // The pipeline finds it by Message-ID and conversation.
      const byId = await store.sync.lookups.activitiesByMessageId(['<one@fabrikam.test>', '<nope@x.test>']);
      assert.deepEqual(byId.get('<one@fabrikam.test>'), { activityId: saved.id, regarding: { type: 'contact', id: contact.id }, direction: 'incoming' });
      assert.equal(byId.has('<nope@x.test>'), false);
      assert.equal((await store.sync.lookups.activityByConversation('conv-1'))?.activityId, saved.id);
      assert.equal(await store.sync.lookups.activityByConversation('conv-none'), null);
      const records = await store.sync.lookups.recordsByAddress(['Customer@Fabrikam.test']);
      assert.deepEqual(records.get('customer@fabrikam.test'), [{ type: 'contact', id: contact.id }]);
      await store.sync.release(lease, new Date('2100-01-01T00:00:00.000Z'));
    });

    test('the same email reaching two mailboxes is one activity, linked to both, and each owner sees it', async () => {
      const a = await syncedMailbox();
      const b = await syncedMailbox();
      const email = incoming('<shared@fabrikam.test>');
      const leaseA = await leaseOf(a.mailboxId);
      const first = await store.sync.commitIncoming(leaseA, { folder: 'inbox', cursor: 'a1', outcomes: [tracked('a-srv', email)] });
      const leaseB = await leaseOf(b.mailboxId);
      const second = await store.sync.commitIncoming(leaseB, { folder: 'inbox', cursor: 'b1', outcomes: [tracked('b-srv', email)] });
      assert.equal(first.created.length, 1);
      assert.deepEqual(second, { created: [], linked: first.created });
      const activity = await store.activities.get(first.created[0]!);
      assert.deepEqual(activity.mailboxIds, [a.mailboxId, b.mailboxId]);
      assert.equal(activity.mailboxId, a.mailboxId);
      // The second mailbox's owner reaches it through the link; a third user does not.
      const asB = { userId: b.userId, isAdmin: false };
      assert.equal((await store.activities.get(activity.id, asB)).id, activity.id);
      assert.ok((await store.activities.list({ visibleTo: b.userId })).items.some((i) => i.id === activity.id));
      const stranger = await store.users.create({ name: 'Stranger', email: 'stranger@contoso.test' });
      await assert.rejects(store.activities.get(activity.id, { userId: stranger.id, isAdmin: false }), /mailbox you do not own/);
      assert.equal((await store.sync.knownMessages(b.mailboxId, ['<shared@fabrikam.test>'])).size, 1);
      await store.sync.release(leaseA, new Date('2100-01-01T00:00:00.000Z'));
      await store.sync.release(leaseB, new Date('2100-01-01T00:00:00.000Z'));
    });

    test('the created activities are listed in the order of the batch', async () => {
      const { mailboxId } = await syncedMailbox();
      const lease = await leaseOf(mailboxId);
      const result = await store.sync.commitIncoming(lease, {
        folder: 'inbox',
        cursor: null,
        outcomes: [tracked('o-1', incoming('<zz@order.test>')), tracked('o-2', incoming('<aa@order.test>')), tracked('o-3', incoming('<mm@order.test>'))],
      });
      const ids = await Promise.all(result.created.map(async (id) => (await store.activities.get(id)).messageId));
      assert.deepEqual(ids, ['<zz@order.test>', '<aa@order.test>', '<mm@order.test>']);
      await store.sync.release(lease, new Date('2100-01-01T00:00:00.000Z'));
    });

    test('a stale lease commits nothing: its whole batch is refused', async () => {
      const { mailboxId } = await syncedMailbox();
      const stale = await leaseOf(mailboxId, 'w1');
      await store.sync.release(stale, T0);
      const fresh = await leaseOf(mailboxId, 'w2', later(1000));
      assert.ok(fresh.token > stale.token);
      const before = [await countRows(store, 'email_activities'), await countRows(store, 'message_outcomes'), await countRows(store, 'activity_mailboxes')];
      await assert.rejects(
        store.sync.commitIncoming(stale, { folder: 'inbox', cursor: 'stale', outcomes: [tracked('s-1', incoming('<stale@fabrikam.test>'))] }),
        (error: unknown) => error instanceof LeaseLostError && error.mailboxId === mailboxId && error.token === stale.token,
      );
      assert.deepEqual([await countRows(store, 'email_activities'), await countRows(store, 'message_outcomes'), await countRows(store, 'activity_mailboxes')], before);
      assert.equal(await store.sync.cursor(mailboxId, 'inbox'), null);
      assert.equal((await store.sync.lookups.activitiesByMessageId(['<stale@fabrikam.test>'])).size, 0);
      // Every other leased write is refused the same way.
      await assert.rejects(store.sync.resetCursor(stale, 'inbox'), LeaseLostError);
      await assert.rejects(store.sync.claimOutgoing(stale, 5), LeaseLostError);
      await assert.rejects(
        store.sync.recordCycle(stale, { direction: 'incoming', status: 'failure', consecutiveFailures: 9, lastError: 'x', disable: true, alert: null }, T0),
        LeaseLostError,
      );
      assert.equal((await store.mailboxes.get(mailboxId)).enabled, true);
      // A lease held by another worker with the same token number is not this worker's either.
      await assert.rejects(store.sync.resetCursor({ ...fresh, workerId: 'someone-else' }, 'inbox'), LeaseLostError);
      await store.sync.release(fresh, new Date('2100-01-01T00:00:00.000Z'));
    });

    test('a failure counts attempts until a later outcome replaces it; pendingFailures are oldest first', async () => {
      const { mailboxId } = await syncedMailbox();
      const lease = await leaseOf(mailboxId);
      const fail = (serverId: string, internetMessageId: string | null, message: string): IncomingOutcome => ({
        kind: 'failed',
        serverId,
        internetMessageId,
        error: { code: 'ews.fetch', message, serverResponse: 'ErrorItemNotFound' },
      });
      await store.sync.commitIncoming(lease, { folder: 'inbox', cursor: 'c1', outcomes: [fail('f-1', '<f1@x.test>', 'first'), fail('f-2', null, 'no id')] });
      await store.sync.commitIncoming(lease, { folder: 'inbox', cursor: 'c2', outcomes: [fail('f-1', '<f1@x.test>', 'again')] });
      const pending = await store.sync.pendingFailures(mailboxId, 10);
      assert.deepEqual(
        pending.map((p) => [p.serverId, p.internetMessageId, p.attempts]),
        [['f-2', null, 1], ['f-1', '<f1@x.test>', 2]],
      );
      assert.equal(pending[1]!.lastError, 'ews.fetch: again');
      assert.deepEqual(await store.sync.pendingFailures(mailboxId, 1).then((p) => p.map((x) => x.serverId)), ['f-2']);

      // A message that used up its attempts is settled as failed: it leaves the retries, even at the head of the
      // queue, so newer failures are not crowded out.
      for (const n of [1, 2, 3]) {
        await store.sync.commitIncoming(lease, { folder: 'inbox', cursor: null, outcomes: [fail('f-0', '<f0@x.test>', `try ${n}`)] });
      }
      assert.deepEqual(await store.sync.pendingFailures(mailboxId, 10).then((p) => p.map((x) => x.serverId)), ['f-2', 'f-1']);

      // Tracked on retry (the id now known from the MIME): the failure record becomes the outcome.
      const retried = await store.sync.commitIncoming(lease, { folder: 'inbox', cursor: null, outcomes: [tracked('f-2', incoming('<f2@x.test>'))] });
      assert.equal(retried.created.length, 1);
      await store.sync.commitIncoming(lease, {
        folder: 'inbox',
        cursor: null,
        outcomes: [{ kind: 'undeliverable', serverId: 'f-1', newServerId: 'undeliverable-1', internetMessageId: '<f1@x.test>', error: { code: 'ews.fetch', message: 'gave up' } }],
      });
      assert.deepEqual(await store.sync.pendingFailures(mailboxId, 10), []);
      const rows = await store.database.db.selectFrom('message_outcomes').selectAll().where('mailbox_id', '=', mailboxId).orderBy('server_id').execute();
      assert.deepEqual(rows.map((r) => [r.server_id, r.internet_message_id, r.outcome, r.attempts]), [
        ['f-0', '<f0@x.test>', 'failed', 3],
        ['f-2', '<f2@x.test>', 'tracked', 1],
        ['undeliverable-1', '<f1@x.test>', 'undeliverable', 2],
      ]);
      // A settled message stays settled: a late failure report does not reopen it.
      await store.sync.commitIncoming(lease, { folder: 'inbox', cursor: null, outcomes: [fail('f-2', '<f2@x.test>', 'late')] });
      assert.deepEqual(await store.sync.pendingFailures(mailboxId, 10), []);
      await store.sync.release(lease, new Date('2100-01-01T00:00:00.000Z'));
    });

    test('recordCycle keeps the mailbox health; a pass of Test & Enable resets the failures and makes it due', async () => {
      const { mailboxId } = await syncedMailbox();
      let lease = await leaseOf(mailboxId);
      await store.sync.recordCycle(lease, { direction: 'incoming', status: 'success', consecutiveFailures: 0, lastError: null, disable: false, alert: null }, later(1000));
      let mailbox = await store.mailboxes.get(mailboxId);
      assert.deepEqual([mailbox.incomingStatus, mailbox.lastSuccessAt, mailbox.consecutiveFailures, mailbox.lastError], ['success', later(1000).toISOString(), 0, null]);
      await store.sync.recordCycle(
        lease,
        {
          direction: 'outgoing',
          status: 'failure',
          consecutiveFailures: 3,
          lastError: 'ews.unauthorized: 401',
          disable: true,
          alert: { level: 'error', scope: 'mailbox', code: 'ews.unauthorized', message: 'The service account was refused' },
        },
        later(2000),
      );
      mailbox = await store.mailboxes.get(mailboxId);
      assert.deepEqual([mailbox.outgoingStatus, mailbox.incomingStatus, mailbox.consecutiveFailures, mailbox.lastError, mailbox.enabled], ['failure', 'success', 3, 'ews.unauthorized: 401', false]);
      assert.equal(mailbox.lastSuccessAt, later(1000).toISOString());
      const alerts = await store.alerts.list({ mailboxId });
      assert.deepEqual(alerts.items.map((a) => a.code), ['ews.unauthorized']);
      await store.sync.release(lease, new Date('2100-01-01T00:00:00.000Z'));

      const passed = await store.mailboxes.recordTestOutcome(mailboxId, { profileId, emailAddress: mailbox.emailAddress }, { passed: true });
      assert.deepEqual([passed.enabled, passed.consecutiveFailures, passed.lastError], [true, 0, null]);
      assert.ok(passed.nextDueAt !== null && Date.parse(passed.nextDueAt) <= Date.now());
      lease = await leaseOf(mailboxId, 'w1', new Date());
      assert.equal(lease.mailboxId, mailboxId);
      await store.sync.release(lease, new Date('2100-01-01T00:00:00.000Z'));
    });

    test('failure counts per notifying profile, and one owner notification an hour', async () => {
      const { mailboxId } = await syncedMailbox();
      const since = later(10_000);
      const before = (await store.sync.failureCounts(since)).find((c) => c.profileId === profileId)!;
      const lease = await leaseOf(mailboxId);
      await store.sync.recordCycle(lease, { direction: 'incoming', status: 'failure', consecutiveFailures: 1, lastError: 'x', disable: false, alert: null }, later(20_000));
      const counts = (await store.sync.failureCounts(since)).find((c) => c.profileId === profileId)!;
      assert.equal(counts.ownerId, ownerId);
      assert.deepEqual([counts.processed - before.processed, counts.failed - before.failed], [1, 1]);
      await store.sync.release(lease, new Date('2100-01-01T00:00:00.000Z'));

      const claims = await Promise.all(Array.from({ length: 5 }, () => store.sync.claimOwnerNotification(profileId, T0)));
      assert.equal(claims.filter(Boolean).length, 1, 'exactly one caller wins');
      assert.equal(await store.sync.claimOwnerNotification(profileId, later(59 * 60_000)), false);
      assert.equal(await store.sync.claimOwnerNotification(profileId, later(60 * 60_000)), true);
    });

    test('outgoing: Message-ID and tracking token stored before sending, kept on retry; uncertain sends flagged; a reply threads', async () => {
      const sender = await syncedMailbox('sender');
      const { mailboxId } = sender;
      const contact = await store.records.create('contact', { name: 'Reg', emailAddresses: ['reg@fabrikam.test'] });
      // The email answered: received with references and regarding a contact.
      const lease0 = await leaseOf(mailboxId);
      const got = await store.sync.commitIncoming(lease0, {
        folder: 'inbox',
        cursor: null,
        outcomes: [tracked('in-1', incoming('<question@fabrikam.test>', { references: ['<root@fabrikam.test>'], regarding: { type: 'contact', id: contact.id } }))],
      });
      await store.sync.release(lease0, T0);
      const draft = await store.activities.createDraft(mailboxId, sender.userId, { subject: 'Re: question', bodyText: 'Answer', to: ['Reg@fabrikam.test'], inReplyToActivityId: got.created[0]! });
      assert.equal(draft.inReplyTo, '<question@fabrikam.test>');
      assert.deepEqual(draft.references, ['<root@fabrikam.test>', '<question@fabrikam.test>']);
      assert.deepEqual(draft.regarding, { type: 'contact', id: contact.id });
      await assert.rejects(
        store.activities.createDraft(mailboxId, sender.userId, { inReplyToActivityId: '01234567-89ab-7cde-8f01-23456789abcd' }),
        /no email activity has id/,
      );
      await store.activities.send(draft.id);

      const lease = await leaseOf(mailboxId);
      const [email] = await store.sync.claimOutgoing(lease, 10);
      assert.ok(email);
      assert.equal(email.activityId, draft.id);
      assert.match(email.messageId, /^<[0-9a-f-]+@contoso\.test>$/);
      assert.match(email.trackingToken!, /^CRM:\d{7}$/);
      assert.deepEqual([email.uncertain, email.deliveryAttempts, email.inReplyTo], [false, 1, '<question@fabrikam.test>']);
      assert.deepEqual(email.references, ['<root@fabrikam.test>', '<question@fabrikam.test>']);
      assert.deepEqual(email.to.map((r) => r.address), ['Reg@fabrikam.test']);
      assert.equal(email.from.address, 'sender@contoso.test');
      let stored = await store.activities.get(draft.id);
      assert.deepEqual([stored.status, stored.messageId, stored.trackingToken], ['sending', email.messageId, email.trackingToken]);
      assert.equal((await store.sync.lookups.activityByTrackingToken(email.trackingToken!))?.activityId, draft.id);

      // The worker died mid-send: the next claim finds it in sending, flagged, with the same ids.
      const [again] = await store.sync.claimOutgoing(lease, 10);
      assert.deepEqual([again!.activityId, again!.messageId, again!.trackingToken, again!.uncertain, again!.deliveryAttempts], [draft.id, email.messageId, email.trackingToken, true, 2]);
      await store.sync.markSendFailed(lease, draft.id, 'server busy', false, null);
      stored = await store.activities.get(draft.id);
      assert.deepEqual([stored.status, stored.failureReason], ['pending-send', 'server busy']);
      const [third] = await store.sync.claimOutgoing(lease, 10);
      assert.deepEqual([third!.messageId, third!.trackingToken, third!.uncertain, third!.deliveryAttempts], [email.messageId, email.trackingToken, false, 3]);
      await store.sync.markSent(lease, draft.id, '2026-03-01T10:05:00.000Z');
      stored = await store.activities.get(draft.id);
      assert.deepEqual([stored.status, stored.sentAt, stored.failureReason], ['sent', '2026-03-01T10:05:00.000Z', null]);
      await assert.rejects(store.sync.markSent(lease, draft.id, '2026-03-01T10:06:00.000Z'), /is sent, not sending/);

      // A second email gets the next token; a final failure fails it with the reason and an alert on it.
      const next = await store.activities.createDraft(mailboxId, sender.userId, { subject: 'Second', to: ['x@fabrikam.test'] });
      await store.activities.send(next.id);
      const [second] = await store.sync.claimOutgoing(lease, 10);
      assert.equal(Number(second!.trackingToken!.slice(4)), Number(email.trackingToken!.slice(4)) + 1);
      assert.notEqual(second!.messageId, email.messageId);
      await store.sync.markSendFailed(lease, next.id, 'recipient refused', true, { level: 'error', scope: 'email', code: 'send.refused', message: 'The server refused the recipient' });
      stored = await store.activities.get(next.id);
      assert.deepEqual([stored.status, stored.failureReason], ['failed', 'recipient refused']);
      const alerts = await store.alerts.list({ mailboxId });
      assert.ok(alerts.items.some((a) => a.code === 'send.refused' && a.activityId === next.id));
      assert.deepEqual(await store.sync.claimOutgoing(lease, 10), []);

      // The reply to the sent email, received in another mailbox, is linked by its Message-ID: one activity.
      const incomingCopy = await store.sync.lookups.activitiesByMessageId([email.messageId]);
      assert.equal(incomingCopy.get(email.messageId)?.direction, 'outgoing');
      await store.sync.release(lease, new Date('2100-01-01T00:00:00.000Z'));
    });

    test('without tracking tokens none is generated; system email queues from the notification mailbox', async () => {
      const { mailboxId } = await syncedMailbox();
      assert.equal(await store.sync.queueSystemEmail({ to: 'owner@contoso.test', subject: 'x', bodyText: 'y' }), null, 'no notification mailbox named');
      await store.organization.update({ useTrackingToken: false, systemNotificationMailboxId: mailboxId });
      assert.equal((await store.sync.organization()).useTrackingToken, false);
      const id = await store.sync.queueSystemEmail({ to: 'owner@contoso.test', subject: 'Mailboxes are failing', bodyText: '3 of 10 failed' });
      assert.ok(id);
      const queued = await store.activities.get(id);
      assert.deepEqual([queued.direction, queued.status, queued.mailboxId, queued.subject], ['outgoing', 'pending-send', mailboxId, 'Mailboxes are failing']);
      assert.deepEqual(queued.to.map((p) => [p.address, p.record?.type]), [['owner@contoso.test', 'user']]);
      const lease = await leaseOf(mailboxId);
      const [email] = await store.sync.claimOutgoing(lease, 10);
      assert.equal(email!.activityId, id);
      assert.equal(email!.trackingToken, null);
      await store.sync.release(lease, new Date('2100-01-01T00:00:00.000Z'));
      await store.organization.update({ useTrackingToken: true, systemNotificationMailboxId: null });
    });

    test('profile, filter, location and watched mailboxes', async () => {
      const { mailboxId, userId } = await syncedMailbox();
      const { profile, secrets } = await store.sync.profile(profileId);
      assert.equal(profile.id, profileId);
      assert.equal(secrets.password, 'service-password');
      assert.equal(await store.sync.incomingFilter(mailboxId), 'responses-to-crm-email');
      await store.users.update(userId, { incomingFilter: 'from-crm-records' });
      assert.equal(await store.sync.incomingFilter(mailboxId), 'from-crm-records');
      const queue = await store.queues.create({ name: 'Support', email: 'support@contoso.test', ownerId: userId });
      assert.equal(await store.sync.incomingFilter(queue.mailboxId!), 'all');
      await store.queues.update(queue.id, { incomingFilter: 'none' });
      assert.equal(await store.sync.incomingFilter(queue.mailboxId!), 'none');
      await assert.rejects(store.users.update(userId, { incomingFilter: 'most' as never }), /must be one of/);

      await store.sync.saveLocation(mailboxId, 'https://ex2.contoso.test/EWS/Exchange.asmx', '2026-03-01T11:00:00.000Z');
      const moved = await store.mailboxes.get(mailboxId);
      assert.deepEqual([moved.ewsUrl, moved.ewsUrlFoundAt], ['https://ex2.contoso.test/EWS/Exchange.asmx', '2026-03-01T11:00:00.000Z']);
      const watched = await store.sync.watchedMailboxes();
      assert.ok(watched.some((w) => w.address === moved.emailAddress && w.profileId === profileId));
      assert.ok(!watched.some((w) => w.address === 'support@contoso.test'), 'a mailbox not enabled is not watched');
    });
  });
}

describe('sync store leases across workers on postgres', DATABASES.find((k) => k.name === 'postgres')!.suite, () => {
  let t: TestStore;
  before(async () => {
    t = await DATABASES.find((k) => k.name === 'postgres')!.open();
  });
  after(async () => t?.cleanup());

  test('workers claiming at the same moment never get the same mailbox, and together get every due one', async () => {
    const store = t.store;
    const owner = await store.users.create({ name: 'Owner', email: 'owner@contoso.test', isAdmin: true });
    const profile = await store.profiles.create({ name: 'P', serverType: 'imap-smtp', incomingServer: 'imap.contoso.test', outgoingServer: 'smtp.contoso.test', ownerId: owner.id });
    const ids: string[] = [];
    for (let i = 0; i < 12; i += 1) {
      const user = await store.users.create({ name: `U${i}`, email: `u${i}@contoso.test` });
      await store.mailboxes.update(user.mailboxId!, { profileId: profile.id, approvalStatus: 'approved', enabled: true });
      ids.push(user.mailboxId!);
    }
    // Four processes (a pool each), each with three claims in flight.
    const workers = [store, await t.reopen(), await t.reopen(), await t.reopen()];
    const grants = await Promise.all(
      workers.flatMap((w, wi) => Array.from({ length: 3 }, (_, ci) => w.sync.claimDue(`worker-${wi}-${ci}`, 3, 60_000, T0))),
    );
    const claimed = grants.flat().map((g) => g.lease.mailboxId);
    assert.equal(new Set(claimed).size, claimed.length, 'no mailbox was granted twice');
    const rest = await store.sync.claimDue('late', 100, 60_000, T0);
    assert.deepEqual([...claimed, ...rest.map((g) => g.lease.mailboxId)].sort(), [...ids].sort(), 'every due mailbox was granted once');
    for (const g of grants.flat()) assert.equal(g.lease.token, 1);
  });

  test('two mailboxes committing the same email at the same moment make one activity, linked to both', async () => {
    const store = t.store;
    const profile = (await store.profiles.list({})).items[0]!;
    const mailboxes: string[] = [];
    for (const name of ['race-a', 'race-b']) {
      const user = await store.users.create({ name, email: `${name}@contoso.test` });
      await store.mailboxes.update(user.mailboxId!, { profileId: profile.id, approvalStatus: 'approved', enabled: true });
      mailboxes.push(user.mailboxId!);
    }
    const later2 = new Date('2026-03-02T00:00:00.000Z');
    const leases = (await store.sync.claimDue('racer', 100, 60_000, later2)).filter((g) => mailboxes.includes(g.lease.mailboxId)).map((g) => g.lease);
    assert.equal(leases.length, 2);
    const other = await t.reopen();
    const email = incoming('<race@fabrikam.test>');
    const results = await Promise.all([
      store.sync.commitIncoming(leases[0]!, { folder: 'inbox', cursor: 'r', outcomes: [tracked('r-a', email)] }),
      other.sync.commitIncoming(leases[1]!, { folder: 'inbox', cursor: 'r', outcomes: [tracked('r-b', email)] }),
    ]);
    const created = results.flatMap((r) => r.created);
    const linked = results.flatMap((r) => r.linked);
    assert.equal(created.length, 1);
    assert.deepEqual(linked, created);
    assert.deepEqual((await store.activities.get(created[0]!)).mailboxIds.sort(), [...mailboxes].sort());
  });
});
