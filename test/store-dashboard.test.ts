/**
 * The dashboard's queries on SQLite and PostgreSQL: one status per mailbox, per profile; the failing mailboxes in
 * their order; tracked email per hour with its zeros; the oldest unsynced mailbox; what waits to be sent; and
 * what a user who is not an administrator sees of it.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { v7 as uuidv7 } from 'uuid';
import { DashboardQueries, dashboardFingerprint, dashboardStatus, idFloor } from '../src/store/dashboard.js';
import type { MailboxesTable } from '../src/store/schema.js';
import type { Store } from '../src/store/store.js';
import { DATABASES, type TestStore } from './helpers/stores.js';

const AT = new Date('2026-03-01T10:30:00.000Z');
const ago = (ms: number) => new Date(AT.getTime() - ms).toISOString();
const HOUR = 3_600_000;

test('the status rule: disabled first, then only the directions the mailbox synchronizes count', () => {
  const base = { enabled: true, incomingMethod: 'server-side-sync', outgoingMethod: 'server-side-sync', incomingStatus: 'success', outgoingStatus: 'success' } as const;
  assert.equal(dashboardStatus(base), 'success');
  assert.equal(dashboardStatus({ ...base, enabled: false, incomingStatus: 'failure' }), 'disabled');
  assert.equal(dashboardStatus({ ...base, outgoingStatus: 'failure' }), 'failure');
  assert.equal(dashboardStatus({ ...base, incomingStatus: 'not-run', outgoingStatus: 'failure' }), 'failure');
  assert.equal(dashboardStatus({ ...base, outgoingStatus: 'not-run' }), 'not-run');
  assert.equal(dashboardStatus({ ...base, outgoingMethod: 'none', outgoingStatus: 'failure' }), 'success', 'a direction it does not synchronize is left out');
  assert.equal(dashboardStatus({ ...base, incomingMethod: 'none', outgoingMethod: 'none' }), 'not-run');
});

test('idFloor is the smallest UUIDv7 of its millisecond', () => {
  const ms = Date.UTC(2026, 2, 1, 10);
  const floor = idFloor(ms);
  assert.match(floor, /^[0-9a-f]{8}-[0-9a-f]{4}-0000-0000-000000000000$/);
  assert.ok(uuidv7({ msecs: ms }) >= floor);
  assert.ok(uuidv7({ msecs: ms - 1 }) < floor);
});

for (const kind of DATABASES) {
  describe(`dashboard queries on ${kind.name}`, kind.suite, () => {
    let t: TestStore;
    let store: Store;
    let queries: DashboardQueries;
    let alphaId: string;
    let betaId: string;
    let xId: string;
    const box: Record<string, string> = {};

    async function setMailbox(id: string, values: Partial<MailboxesTable>): Promise<void> {
      await store.database.db.updateTable('mailboxes').set(values).where('id', '=', id).execute();
    }

    /** An email activity recorded at `createdAt`, with an id minted then (as Liaison's are). */
    async function activity(values: { mailboxId: string | null; createdAt: string; direction?: string; status?: string; ownerId?: string | null; updatedAt?: string }): Promise<string> {
      const id = uuidv7({ msecs: Date.parse(values.createdAt) });
      await store.database.db
        .insertInto('email_activities')
        .values({
          id,
          mailbox_id: values.mailboxId,
          owner_id: values.ownerId ?? null,
          direction: values.direction ?? 'incoming',
          status: values.status ?? 'received',
          subject: 'Subject',
          body_text: null,
          body_html: null,
          message_id: `<${id}@fabrikam.test>`,
          in_reply_to: null,
          tracking_token: null,
          regarding_type: null,
          regarding_id: null,
          conversation_id: null,
          message_references: null,
          notes: null,
          failure_reason: null,
          delivery_attempts: 0,
          sent_at: null,
          received_at: values.createdAt,
          created_at: values.createdAt,
          updated_at: values.updatedAt ?? values.createdAt,
        })
        .execute();
      if (values.mailboxId) await store.database.db.insertInto('activity_mailboxes').values({ activity_id: id, mailbox_id: values.mailboxId, created_at: values.createdAt }).execute();
      return id;
    }

    before(async () => {
      t = await kind.open();
      store = t.store;
      queries = new DashboardQueries(store.database.db);
      const admin = await store.users.create({ name: 'Admin', email: 'admin@contoso.test', isAdmin: true });
      const profile = (name: string) =>
        store.profiles.create({ name, serverType: 'imap-smtp', incomingServer: 'imap.contoso.test', outgoingServer: 'smtp.contoso.test', ownerId: admin.id });
      alphaId = (await profile('Alpha')).id;
      betaId = (await profile('Beta')).id;
      await store.mailboxes.update(admin.mailboxId!, { profileId: null });
      box.admin = admin.mailboxId!;
      for (const name of ['ok', 'failing3', 'failing5', 'failingNever', 'outNone', 'notRun', 'disabled', 'x']) {
        const user = await store.users.create({ name, email: `${name}@contoso.test` });
        box[name] = user.mailboxId!;
        if (name === 'x') xId = user.id;
        if (name !== 'x') await store.mailboxes.update(user.mailboxId!, { profileId: alphaId, approvalStatus: 'approved', enabled: name !== 'disabled' });
      }
      const queue = await store.queues.create({ name: 'Support', email: 'support@contoso.test', ownerId: xId });
      box.queue = queue.mailboxId!;
      await store.mailboxes.update(box.queue, { profileId: alphaId, approvalStatus: 'approved', enabled: true });

      const success = { incoming_status: 'success', outgoing_status: 'success' };
      await setMailbox(box.ok!, { ...success, last_success_at: ago(5 * 60_000) });
      await setMailbox(box.failing3!, { incoming_status: 'failure', outgoing_status: 'success', consecutive_failures: 3, last_success_at: ago(2 * HOUR), last_error: 'EWS said 401', last_failure_at: ago(60_000) });
      await setMailbox(box.failingNever!, { incoming_status: 'failure', outgoing_status: 'not-run', consecutive_failures: 3, last_error: 'no route to host', last_test_at: ago(9 * HOUR) });
      await setMailbox(box.failing5!, { incoming_status: 'success', outgoing_status: 'failure', consecutive_failures: 5, last_success_at: ago(HOUR), last_error: 'SMTP 535' });
      await setMailbox(box.outNone!, { incoming_status: 'success', outgoing_method: 'none', outgoing_status: 'failure', last_success_at: ago(3 * HOUR) });
      await setMailbox(box.notRun!, { incoming_status: 'not-run', outgoing_status: 'success', last_success_at: ago(10 * 60_000) });
      await setMailbox(box.disabled!, { incoming_status: 'failure', outgoing_status: 'failure', consecutive_failures: 9 });
      await setMailbox(box.queue!, { ...success, last_success_at: ago(HOUR / 2) });
    });
    after(async () => t?.cleanup());

    test('an administrator sees every profile, with one status per mailbox, and the totals', async () => {
      const d = await queries.compute({ all: true }, AT);
      assert.equal(d.generatedAt, AT.toISOString());
      assert.deepEqual(
        d.profiles.map((p) => [p.profileName, p.total, p.counts]),
        [
          ['Alpha', 8, { success: 3, failure: 3, notRun: 1, disabled: 1 }],
          ['Beta', 0, { success: 0, failure: 0, notRun: 0, disabled: 0 }],
          [null, 2, { success: 0, failure: 0, notRun: 0, disabled: 2 }],
        ],
      );
      assert.equal(d.profiles[0]!.profileId, alphaId);
      assert.equal(d.profiles[1]!.profileId, betaId);
      assert.equal(d.profiles[2]!.profileId, null);
      assert.deepEqual([d.totals.mailboxes, d.totals.enabled, d.totals.failing], [10, 7, 3]);
    });

    test('the failing mailboxes: most consecutive failures first, then the oldest last success (never first), with their errors', async () => {
      const d = await queries.compute({ all: true }, AT);
      assert.deepEqual(
        d.failing.map((f) => [f.id, f.consecutiveFailures, f.lastError]),
        [
          [box.failing5, 5, 'SMTP 535'],
          [box.failingNever, 3, 'no route to host'],
          [box.failing3, 3, 'EWS said 401'],
        ],
      );
      const first = d.failing[2]!;
      assert.equal(first.emailAddress, 'failing3@contoso.test');
      assert.equal(first.profileName, 'Alpha');
      assert.equal(first.lastSuccessAt, ago(2 * HOUR));
      assert.equal(first.lastFailureAt, ago(60_000));
    });

    test('the oldest unsynced mailbox is the enabled one that never succeeded, aged from its last test', async () => {
      const d = await queries.compute({ all: true }, AT);
      assert.equal(d.oldestUnsynced?.id, box.failingNever);
      assert.equal(d.oldestUnsynced?.lastSuccessAt, null);
      assert.equal(d.oldestUnsynced?.since, ago(9 * HOUR));
      assert.equal(d.oldestUnsynced?.ageMs, 9 * HOUR);
    });

    test('tracked email: 24 hourly buckets of incoming activities by created_at, zeros included; today counts from midnight UTC', async () => {
      const before = await queries.compute({ all: true }, AT);
      assert.equal(before.trackedPerHour.length, 24);
      assert.ok(before.trackedPerHour.every((b) => b.count === 0));
      await activity({ mailboxId: box.ok!, createdAt: '2026-03-01T10:05:00.000Z' });
      await activity({ mailboxId: box.ok!, createdAt: '2026-03-01T10:29:59.000Z' });
      await activity({ mailboxId: box.queue!, createdAt: '2026-03-01T09:10:00.000Z' });
      await activity({ mailboxId: box.ok!, createdAt: '2026-02-28T11:00:00.000Z' });
      await activity({ mailboxId: box.ok!, createdAt: '2026-02-28T10:59:59.999Z' });
      await activity({ mailboxId: box.ok!, createdAt: '2026-03-01T10:10:00.000Z', direction: 'outgoing', status: 'sent' });
      await activity({ mailboxId: box.ok!, createdAt: '2026-03-01T10:40:00.000Z' });
      const d = await queries.compute({ all: true }, AT);
      assert.equal(d.trackedPerHour[0]!.hour, '2026-02-28T11:00:00.000Z');
      assert.equal(d.trackedPerHour[23]!.hour, '2026-03-01T10:00:00.000Z');
      const counted = Object.fromEntries(d.trackedPerHour.filter((b) => b.count > 0).map((b) => [b.hour, b.count]));
      assert.deepEqual(counted, { '2026-02-28T11:00:00.000Z': 1, '2026-03-01T09:00:00.000Z': 1, '2026-03-01T10:00:00.000Z': 3 });
      assert.equal(d.totals.trackedToday, 4);
      assert.equal(d.totals.trackedLast24Hours, 5);
    });

    test('a user sees only their own mailbox and their queue\'s, and their email', async () => {
      const d = await queries.compute({ ownerId: xId }, AT);
      assert.deepEqual(
        d.profiles.map((p) => [p.profileName, p.total, p.counts]),
        [
          ['Alpha', 1, { success: 1, failure: 0, notRun: 0, disabled: 0 }],
          [null, 1, { success: 0, failure: 0, notRun: 0, disabled: 1 }],
        ],
      );
      assert.deepEqual(d.failing, []);
      assert.equal(d.oldestUnsynced?.id, box.queue);
      assert.equal(d.totals.trackedLast24Hours, 1, 'the one email of the queue');
      // An email first tracked by someone else's mailbox that also reached the queue is theirs to see too.
      const shared = await activity({ mailboxId: box.ok!, createdAt: '2026-03-01T10:20:00.000Z' });
      await store.database.db.insertInto('activity_mailboxes').values({ activity_id: shared, mailbox_id: box.queue!, created_at: '2026-03-01T10:21:00.000Z' }).execute();
      const again = await queries.compute({ ownerId: xId }, AT);
      assert.equal(again.totals.trackedLast24Hours, 2);
      assert.equal((await queries.compute({ all: true }, AT)).totals.trackedLast24Hours, 6, 'one email, however many mailboxes it reached');
    });

    test('pending send: pending-send and sending with the oldest wait, and the uncertain deliveries', async () => {
      const empty = await queries.compute({ all: true }, AT);
      assert.deepEqual(empty.pendingSend, { count: 0, sending: 0, oldestSince: null, oldestAgeMs: null, deliveryUncertain: 0 });
      await activity({ mailboxId: box.ok!, createdAt: ago(5 * HOUR), updatedAt: ago(20 * 60_000), direction: 'outgoing', status: 'pending-send' });
      await activity({ mailboxId: box.ok!, createdAt: ago(HOUR), updatedAt: ago(30 * 60_000), direction: 'outgoing', status: 'sending' });
      await activity({ mailboxId: box.queue!, createdAt: ago(HOUR), updatedAt: ago(60_000), direction: 'outgoing', status: 'pending-send' });
      await activity({ mailboxId: box.ok!, createdAt: ago(HOUR), direction: 'outgoing', status: 'delivery-uncertain' });
      await activity({ mailboxId: box.ok!, createdAt: ago(HOUR), direction: 'outgoing', status: 'draft' });
      const d = await queries.compute({ all: true }, AT);
      assert.deepEqual(d.pendingSend, { count: 3, sending: 1, oldestSince: ago(30 * 60_000), oldestAgeMs: 30 * 60_000, deliveryUncertain: 1 });
      const mine = await queries.compute({ ownerId: xId }, AT);
      assert.deepEqual(mine.pendingSend, { count: 1, sending: 0, oldestSince: ago(60_000), oldestAgeMs: 60_000, deliveryUncertain: 0 });
    });

    test('a draft sent through the store is pending send at once', async () => {
      const x = await store.users.get(xId);
      const draft = await store.activities.createDraft(x.mailboxId!, xId, { subject: 'Hello', to: ['someone@fabrikam.test'] });
      const before = (await queries.compute({ ownerId: xId })).pendingSend.count;
      await store.activities.send(draft.id);
      const after = await queries.compute({ ownerId: xId });
      assert.equal(after.pendingSend.count, before + 1);
      assert.ok(after.pendingSend.oldestSince);
    });

    test('the fingerprint ignores the clock, and sees a change', async () => {
      const one = await queries.compute({ all: true }, AT);
      const two = await queries.compute({ all: true }, new Date(AT.getTime() + 5_000));
      assert.notEqual(one.generatedAt, two.generatedAt);
      assert.notEqual(one.oldestUnsynced?.ageMs, two.oldestUnsynced?.ageMs);
      assert.equal(dashboardFingerprint(one), dashboardFingerprint(two));
      await setMailbox(box.notRun!, { incoming_status: 'failure', consecutive_failures: 1 });
      const three = await queries.compute({ all: true }, AT);
      assert.notEqual(dashboardFingerprint(three), dashboardFingerprint(one));
      assert.equal(three.totals.failing, 4);
    });

    test('a console session is read without moving its expiry; an expired one is no one', async () => {
      const x = await store.users.get(xId);
      const created = await store.sessions.create(x.id);
      const before = await store.database.db.selectFrom('console_sessions').selectAll().where('id', '=', created.session.id).executeTakeFirstOrThrow();
      assert.equal(await queries.sessionUser(created.session.id, new Date(Date.parse(before.last_seen_at) + 120_000)), x.id);
      const after = await store.database.db.selectFrom('console_sessions').selectAll().where('id', '=', created.session.id).executeTakeFirstOrThrow();
      assert.deepEqual(after, before);
      assert.equal(await queries.sessionUser(created.session.id, new Date(Date.parse(before.expires_at) + 1)), null);
      assert.equal(await queries.sessionUser('no-such-session'), null);
    });
  });
}
