import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { notifyOwners, OWNER_NOTIFICATION_CODE } from '../../src/sync/owner-notifications.js';
import { MemorySyncStore, testProfile } from '../helpers/memory-sync-store.js';

function storeWith(rows: Array<{ processed: number; failed: number }>, systemMailbox = true) {
  const sync = new MemorySyncStore();
  const profiles = rows.map((row, i) => ({ ...row, profile: sync.addProfile(testProfile({ name: `Profile ${i + 1}`, ownerId: `owner-${i + 1}` })) }));
  const sender = sync.addMailbox('notifications@contoso.test', profiles[0]!.profile.id);
  if (systemMailbox) sync.organizationSettings.systemNotificationMailboxId = sender.id;
  sync.failureCounts = async () =>
    profiles.map(({ profile, processed, failed }) => ({ profileId: profile.id, ownerId: profile.ownerId, processed, failed, ownerAddress: `${profile.ownerId}@contoso.test` }));
  return { sync, profiles };
}

describe('owner notifications', () => {
  test("the seed table: 15/10 and 40/30 email the owner and raise a profile alert, 1000/300 does not", async () => {
    const { sync, profiles } = storeWith([
      { processed: 15, failed: 10 },
      { processed: 40, failed: 30 },
      { processed: 1000, failed: 300 },
    ]);
    const now = new Date('2026-03-01T10:00:00Z');
    const notified = await notifyOwners(sync, now);
    assert.deepEqual(notified, [profiles[0]!.profile.id, profiles[1]!.profile.id]);
    assert.deepEqual(sync.systemEmails.map((e) => e.to), ['owner-1@contoso.test', 'owner-2@contoso.test']);
    assert.match(sync.systemEmails[0]!.subject, /67%/);
    assert.match(sync.systemEmails[1]!.bodyText, /30 of the 40 mailboxes/);
    const alerts = sync.alerts.filter((a) => a.code === OWNER_NOTIFICATION_CODE);
    assert.deepEqual(alerts.map((a) => [a.scope, a.profileId]), [['profile', profiles[0]!.profile.id], ['profile', profiles[1]!.profile.id]]);
    // The email goes out through the outgoing queue, from the system notification mailbox.
    assert.equal([...sync.outgoing.values()].filter((o) => o.status === 'pending-send').length, 2);
  });

  test('at most one email an hour per profile', async () => {
    const { sync } = storeWith([{ processed: 15, failed: 10 }]);
    await notifyOwners(sync, new Date('2026-03-01T10:00:00Z'));
    await notifyOwners(sync, new Date('2026-03-01T10:30:00Z'));
    assert.equal(sync.systemEmails.length, 1);
    await notifyOwners(sync, new Date('2026-03-01T11:00:01Z'));
    assert.equal(sync.systemEmails.length, 2);
  });

  test('without a system notification mailbox the alert says no email was sent', async () => {
    const { sync } = storeWith([{ processed: 15, failed: 10 }], false);
    await notifyOwners(sync, new Date('2026-03-01T10:00:00Z'));
    assert.equal(sync.systemEmails.length, 0);
    const alert = sync.alerts.find((a) => a.code === OWNER_NOTIFICATION_CODE);
    assert.match(alert?.message ?? '', /No email was sent: the organization settings name no mailbox for system notifications/);
  });

  test('an email that cannot be queued still leaves the alert, which says why', async () => {
    const { sync } = storeWith([{ processed: 15, failed: 10 }]);
    sync.queueSystemEmail = async () => {
      throw new Error('the system notification mailbox was deleted');
    };
    const notified = await notifyOwners(sync, new Date('2026-03-01T10:00:00Z'));
    assert.equal(notified.length, 1);
    const alert = sync.alerts.find((a) => a.code === OWNER_NOTIFICATION_CODE);
    assert.match(alert?.message ?? '', /No email could be queued to the owner, owner-1@contoso\.test: the system notification mailbox was deleted/);
  });
});
