import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { BEFORE_PROCESS_EMAIL_FROM } from '../../src/domain/schedule.js';
import { MAX_MESSAGE_ATTEMPTS } from '../../src/sync/incoming.js';
import { deliver, folderItems, MemorySyncStore, newSandboxMailbox, runEngine, sandboxProfile, waitFor } from '../helpers/engine-harness.js';
import { startTestSandbox, type TestSandbox } from '../helpers/sandbox.js';

let s: TestSandbox;
before(async () => {
  s = await startTestSandbox();
});
after(async () => {
  await s.close();
});

function trackedCount(sync: MemorySyncStore, mailboxId: string): number {
  return [...sync.outcomesOf(mailboxId).values()].filter((m) => m.kind === 'tracked').length;
}

describe('engine: incoming email against the sandbox', () => {
  test('messages are tracked once, across a restart and a sync from scratch after an invalid sync state', async () => {
    const sync = new MemorySyncStore();
    const profile = sync.addProfile(sandboxProfile(s), { password: s.password });
    const address = await newSandboxMailbox(s);
    const mailbox = sync.addMailbox(address, profile.id);
    for (let i = 1; i <= 5; i += 1) await deliver(s, address, { subject: `First batch ${i}` });

    const first = runEngine(s, sync);
    await waitFor('the first five tracked', () => trackedCount(sync, mailbox.id) === 5);
    await first.stop();
    assert.equal(first.events.filter((e) => e.type === 'tracked').length, 5);
    assert.equal(sync.mailboxes.get(mailbox.id)!.leasedBy, null, 'stop() released the lease');
    const cursor = sync.cursors.get(`${mailbox.id}/inbox`);
    assert.ok(cursor, 'the cursor was stored with the outcomes');

    for (let i = 1; i <= 3; i += 1) await deliver(s, address, { subject: `Second batch ${i}` });
    // A damaged sync state: the server refuses it, the engine starts from scratch and skips what it knows.
    sync.cursors.set(`${mailbox.id}/inbox`, Buffer.from('not a sync state').toString('base64'));
    const second = runEngine(s, sync);
    await waitFor('all eight tracked', () => trackedCount(sync, mailbox.id) === 8);
    // Another cycle after that tracks nothing new.
    await waitFor('a further cycle', () => second.events.filter((e) => e.type === 'cycle' && e.direction === 'incoming').length >= 2);
    await second.stop();

    assert.equal(sync.activities.size, 8, 'one activity per message');
    const subjects = [...sync.activities.values()].map((a) => a.activity.subject).sort();
    assert.deepEqual(subjects, [1, 2, 3, 4, 5].map((i) => `First batch ${i}`).concat([1, 2, 3].map((i) => `Second batch ${i}`)).sort());
    assert.equal(second.events.filter((e) => e.type === 'tracked').length, 3, 'the restart tracked only the new ones');
    const m = sync.mailboxes.get(mailbox.id)!;
    assert.equal(m.incomingStatus, 'success');
    assert.equal(m.consecutiveFailures, 0);
    assert.deepEqual(sync.alerts.filter((a) => a.level === 'error'), []);
  });

  test('mail received before Process Email From is recorded as filtered without being fetched', async () => {
    const sync = new MemorySyncStore();
    const profile = sync.addProfile(sandboxProfile(s, { processEmailFrom: '2026-01-01T00:00:00.000Z' }), { password: s.password });
    const address = await newSandboxMailbox(s);
    const mailbox = sync.addMailbox(address, profile.id);
    await deliver(s, address, { subject: 'Old news', receivedAt: '2025-06-01T10:00:00Z', messageId: '<old-news@fabrikam.test>' });
    await deliver(s, address, { subject: 'Fresh news' });
    const gets = () => s.records.filter((r) => r.operation === 'GetItem').length;
    const getsBefore = gets();
    const run = runEngine(s, sync);
    await waitFor('both messages have an outcome', () => sync.outcomesOf(mailbox.id).size === 2);
    await run.stop();
    const outcomes = [...sync.outcomesOf(mailbox.id).values()];
    const old = outcomes.find((o) => o.internetMessageId === '<old-news@fabrikam.test>');
    assert.equal(old?.kind, 'filtered');
    assert.equal(old?.rule, BEFORE_PROCESS_EMAIL_FROM);
    assert.deepEqual([...sync.activities.values()].map((a) => a.activity.subject), ['Fresh news']);
    assert.equal(gets() - getsBefore, 1, 'one GetItem, for the fresh message only');
    const getItem = s.records.filter((r) => r.operation === 'GetItem').at(-1)!;
    assert.equal((getItem.request.match(/<t:ItemId /g) ?? []).length, 1);
  });

  for (const move of [true, false]) {
    test(`a message that cannot be read never stops the others, and after ${MAX_MESSAGE_ATTEMPTS} cycles ${move ? 'lands in Undeliverable' : 'stays failed'} with one alert`, async () => {
      const sync = new MemorySyncStore();
      const profile = sync.addProfile(sandboxProfile(s, { moveFailedToUndeliverable: move }), { password: s.password });
      const address = await newSandboxMailbox(s);
      const mailbox = sync.addMailbox(address, profile.id);
      await deliver(s, address, { subject: 'Good one' });
      await deliver(s, address, { subject: 'Broken one', corrupt: true, messageId: '<broken@fabrikam.test>' });
      await deliver(s, address, { subject: 'Good two' });
      const run = runEngine(s, sync);
      await waitFor('the good ones tracked', () => trackedCount(sync, mailbox.id) === 2);
      const settled = () => {
        const broken = [...sync.outcomesOf(mailbox.id).values()].find((o) => o.internetMessageId === '<broken@fabrikam.test>');
        return move ? broken?.kind === 'undeliverable' : (broken?.attempts ?? 0) >= MAX_MESSAGE_ATTEMPTS;
      };
      await waitFor('the broken one given up on', settled);
      // A few more cycles: nothing more happens to it.
      const cyclesNow = run.events.filter((e) => e.type === 'cycle').length;
      await waitFor('further cycles', () => run.events.filter((e) => e.type === 'cycle').length >= cyclesNow + 4);
      await run.stop();

      const alerts = sync.alerts.filter((a) => a.scope === 'email');
      assert.equal(alerts.length, 1, 'one alert on the email');
      assert.equal(alerts[0]!.code, move ? 'incoming.undeliverable' : 'incoming.failed');
      assert.match(alerts[0]!.message, /<broken@fabrikam\.test>/);
      const undeliverable = await folderItems(s, address, 'Inbox/Undeliverable').catch(() => []);
      const inbox = await folderItems(s, address, 'inbox');
      if (move) {
        assert.deepEqual(undeliverable.map((i) => i.subject), ['Broken one']);
        assert.ok(!inbox.some((i) => i.subject === 'Broken one'));
      } else {
        assert.ok(inbox.some((i) => i.subject === 'Broken one'));
        assert.equal(undeliverable.length, 0);
      }
      const m = sync.mailboxes.get(mailbox.id)!;
      assert.equal(m.incomingStatus, 'success', 'a bad message is not a failure of the mailbox');
      assert.equal(m.enabled, true);
    });
  }

  test('throttling (ErrorServerBusy with BackOffMilliseconds) slows the mailbox without failing it', async () => {
    const sync = new MemorySyncStore();
    const profile = sync.addProfile(sandboxProfile(s), { password: s.password });
    const address = await newSandboxMailbox(s);
    const mailbox = sync.addMailbox(address, profile.id);
    await deliver(s, address, { subject: 'Despite the throttling' });
    const fault = await s.control('POST', '/faults', { kind: 'serverBusy', operation: 'SyncFolderItems', mailbox: address, times: 2, backOffMilliseconds: 700 });
    assert.ok(fault.status < 300, JSON.stringify(fault.json));
    const releases: number[] = [];
    const release = sync.release.bind(sync);
    sync.release = async (lease, nextDueAt) => {
      releases.push(nextDueAt.getTime() - Date.now());
      return release(lease, nextDueAt);
    };
    const run = runEngine(s, sync);
    await waitFor('tracked once the server lets it', () => trackedCount(sync, mailbox.id) === 1);
    await run.stop();
    const cycles = run.events.filter((e) => e.type === 'cycle' && e.direction === 'incoming');
    assert.ok(cycles.some((e) => e.type === 'cycle' && e.status === 'throttled'), 'a throttled cycle was seen');
    assert.ok(!cycles.some((e) => e.type === 'cycle' && e.status === 'failure'), 'no cycle failed');
    assert.ok(sync.cycles.every((c) => c.record.status !== 'failure' && c.record.consecutiveFailures === 0));
    assert.ok(releases.some((ms) => ms >= 600), `a throttled cycle waited for the server's back-off (${releases.join(', ')} ms)`);
    assert.equal(sync.mailboxes.get(mailbox.id)!.enabled, true);
    assert.deepEqual(sync.alerts.filter((a) => a.level !== 'information'), []);
  });

  test('a changed service account password disables the mailbox with an alert that names the fix', async () => {
    const sync = new MemorySyncStore();
    const profile = sync.addProfile(sandboxProfile(s), { password: s.password });
    const address = await newSandboxMailbox(s);
    const mailbox = sync.addMailbox(address, profile.id);
    await deliver(s, address, { subject: 'Before the change' });
    // The mailbox has been synchronizing (its server found and stored) when the password changes.
    const first = runEngine(s, sync);
    await waitFor('the first message tracked', () => trackedCount(sync, mailbox.id) === 1);
    await first.stop();
    assert.ok(sync.mailboxes.get(mailbox.id)!.ewsUrl, 'the location was stored');

    const username = s.info.serviceAccount!.username;
    const changed = await s.control('PATCH', `/accounts/${encodeURIComponent(username)}`, { password: 'a-new-password-1!' });
    assert.ok(changed.status < 300, JSON.stringify(changed.json));
    try {
      sync.mailboxes.get(mailbox.id)!.nextDueAt = null;
      const run = runEngine(s, sync);
      await waitFor('the mailbox disabled', () => !sync.mailboxes.get(mailbox.id)!.enabled);
      await run.stop();
      const m = sync.mailboxes.get(mailbox.id)!;
      assert.equal(m.incomingStatus, 'failure');
      assert.equal(m.consecutiveFailures, 1, 'disabled at the first failed cycle');
      const alert = sync.alerts.find((a) => a.mailboxId === mailbox.id && a.level === 'error');
      assert.ok(alert, 'an error alert on the mailbox');
      assert.equal(alert.code, 'http.401');
      assert.match(alert.message, /disabled/);
      assert.match(alert.fix ?? '', /password/i);
      assert.match(alert.fix ?? '', /Test & Enable/);
      // A disabled mailbox is not claimed again.
      assert.equal(run.events.filter((e) => e.type === 'cycle' && e.direction === 'incoming').length, 1);
    } finally {
      await s.control('PATCH', `/accounts/${encodeURIComponent(username)}`, { password: s.password });
    }
  });
});
