/**
 * The owner notification, at the level of the store and the hourly job: the seed documents' table (15 processed
 * / 10 failed and 40 / 30 email the owner, 1000 / 300 does not), the email queued from the organization's system
 * notification mailbox to the profile's owner only, at most one an hour. Instead of running 1000 real
 * mailboxes, their rows are written in one transaction (users.create takes ~9 ms each on SQLite: 9 s for the
 * last row) and their cycles recorded through the engine's store port, a lease and a cycle record each.
 */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { newId } from '../../src/domain/ids.js';
import { flag } from '../../src/store/common.js';
import { newMailboxRow } from '../../src/store/mailboxes.js';
import type { Store } from '../../src/store/store.js';
import { notifyOwners } from '../../src/sync/owner-notifications.js';
import type { CycleRecord } from '../../src/sync/ports.js';
import { setOrganization, syncStoreOf } from '../helpers/sync.js';
import { sqlite, type TestStore } from '../helpers/stores.js';

const failedCycle: CycleRecord = {
  direction: 'incoming',
  status: 'failure',
  consecutiveFailures: 1,
  lastError: 'the server answered 503',
  disable: false,
  alert: null,
};
const goodCycle: CycleRecord = { direction: 'incoming', status: 'success', consecutiveFailures: 0, lastError: null, disable: false, alert: null };

interface Setup {
  db: TestStore;
  store: Store;
  profileId: string;
  ownerAddress: string;
  notifierMailboxId: string;
}

let counter = 0;

/** Users with enabled mailboxes of the profile, the rows the user and mailbox repositories write, 100 at a time. */
async function bulkEnabledMailboxes(store: Store, profileId: string, addresses: readonly string[]): Promise<string[]> {
  const at = new Date().toISOString();
  const ids: string[] = [];
  await store.database.db.transaction().execute(async (trx) => {
    for (let i = 0; i < addresses.length; i += 100) {
      const users = addresses.slice(i, i + 100).map((address) => ({ id: newId(), address }));
      await trx.insertInto('users').values(users.map((u) => ({ id: u.id, name: u.address, is_admin: flag(false), incoming_filter: 'all', created_at: at, updated_at: at }))).execute();
      await trx
        .insertInto('email_addresses')
        .values(users.map((u) => ({ id: newId(), record_type: 'user' as const, record_id: u.id, position: 1, address: u.address, address_key: u.address.toLowerCase() })))
        .execute();
      const rows = users.map((u) => ({ ...newMailboxRow({ userId: u.id }), profile_id: profileId, approval_status: 'approved', enabled: flag(true) }));
      await trx.insertInto('mailboxes').values(rows).execute();
      ids.push(...rows.map((r) => r.id));
    }
  });
  return ids;
}

/** A profile with Email Notifications on, `processed` mailboxes that each ran one cycle now, `failed` of them failing. */
async function profileWithCycles(processed: number, failed: number, now: Date): Promise<Setup> {
  const db = await sqlite.open();
  const store = db.store;
  counter += 1;
  const owner = await store.users.create({ name: 'Owner', email: `owner${counter}@contoso.test`, isAdmin: true });
  const bystander = await store.users.create({ name: 'Someone else', email: `bystander${counter}@contoso.test` });
  const notifier = await store.queues.create({ name: 'Notifications', email: `notifications${counter}@contoso.test`, ownerId: bystander.id });
  const profile = await store.profiles.create({
    name: `Profile ${counter}`,
    serverType: 'exchange',
    autodiscover: false,
    incomingServer: 'https://mail.contoso.test/EWS/Exchange.asmx',
    username: 'svc-liaison@contoso.test',
    password: 'Secret-1!',
    notifyOwnerOnFailure: true,
    ownerId: owner.id,
  });
  await store.mailboxes.updateMany([notifier.mailboxId!], { profileId: profile.id, approvalStatus: 'approved', enabled: true });
  await setOrganization(store, { systemNotificationMailboxId: notifier.mailboxId! });
  const addresses = Array.from({ length: processed }, (_, i) => `m${counter}-${i}@contoso.test`);
  const ids = await bulkEnabledMailboxes(store, profile.id, addresses);
  const sync = syncStoreOf(store);
  if (processed <= 100) {
    // Through the engine's port: a lease and a cycle record each, as a worker leaves them.
    const mailboxes = new Set(ids);
    const claimed = await sync.claimDue('test-cycles', processed + 10, 60_000, now);
    const leases = claimed.filter((c) => mailboxes.has(c.mailbox.id));
    assert.equal(leases.length, processed, 'every mailbox was due and leased');
    for (const [i, { lease }] of leases.entries()) await sync.recordCycle(lease, i < failed ? failedCycle : goodCycle, now);
  } else {
    // A thousand cycle records through the port take seconds: the columns recordCycle writes, written at once.
    const at = now.toISOString();
    await store.database.db.updateTable('mailboxes').set({ last_cycle_at: at }).where('id', 'in', ids).execute();
    await store.database.db.updateTable('mailboxes').set({ last_failure_at: at, consecutive_failures: 1, incoming_status: 'failure' }).where('id', 'in', ids.slice(0, failed)).execute();
  }
  // The notification mailbox ran no cycle: it is not counted.
  return { db, store, profileId: profile.id, ownerAddress: owner.email, notifierMailboxId: notifier.mailboxId! };
}

async function notificationsOf(setup: Setup) {
  const page = await setup.store.activities.list({ mailboxId: setup.notifierMailboxId, limit: 100 });
  return page.items;
}

describe('owner notification', () => {
  const opened: TestStore[] = [];
  after(async () => {
    for (const db of opened) await db.cleanup();
  });

  for (const row of [
    { processed: 15, failed: 10, email: true },
    { processed: 40, failed: 30, email: true },
    { processed: 1000, failed: 300, email: false },
  ]) {
    test(`${row.processed} processed, ${row.failed} failed: ${row.email ? 'one email to the owner' : 'no email'}`, async () => {
      const now = new Date();
      const setup = await profileWithCycles(row.processed, row.failed, now);
      opened.push(setup.db);
      const sync = syncStoreOf(setup.store);
      const counts = (await sync.failureCounts(new Date(now.getTime() - 60 * 60_000))).find((c) => c.profileId === setup.profileId);
      assert.deepEqual([counts?.processed, counts?.failed], [row.processed, row.failed], 'the store counts the last hour');

      await notifyOwners(sync, new Date(now.getTime() + 1_000));
      // A second run in the same hour (another worker, or the next tick) sends nothing more.
      await notifyOwners(sync, new Date(now.getTime() + 10 * 60_000));

      const emails = await notificationsOf(setup);
      const alerts = (await setup.store.alerts.list({ profileId: setup.profileId, limit: 100 })).items;
      if (!row.email) {
        assert.deepEqual(emails, [], 'no email below the threshold');
        assert.equal(alerts.filter((a) => a.scope === 'profile').length, 0, 'and no profile alert');
        return;
      }
      assert.equal(emails.length, 1, `one email in the hour (the alerts say: ${alerts.map((a) => a.message).join(' | ')})`);
      const email = emails[0]!;
      assert.equal(email.direction, 'outgoing');
      assert.equal(email.status, 'pending-send', 'queued for the outgoing sync of the notification mailbox');
      assert.deepEqual(email.to.map((p) => p.address), [setup.ownerAddress], 'to the owner');
      assert.deepEqual([email.cc, email.bcc], [[], []], 'and nobody else');
      // The seed documents write 15 / 10 as 66% (cut), a rounding reader 67%: either names the share.
      const share = (row.failed / row.processed) * 100;
      assert.match(email.subject, new RegExp(`(${Math.floor(share)}|${Math.round(share)})%`));
      assert.ok(alerts.some((a) => a.scope === 'profile' && a.profileId === setup.profileId), 'a profile alert records the notification');
    });
  }
});
