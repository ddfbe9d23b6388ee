/**
 * The failure policy end to end, against the sandbox and a real store: a message that keeps failing goes to
 * Inbox/Undeliverable with an alert while the others are tracked; a service account whose password changed
 * disables the mailbox with an alert that names the fix; throttling slows the engine down without counting as
 * a failure of the mailbox.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { ExchangeRecord } from '../../src/sandbox/runtime.js';
import { MAX_MESSAGE_ATTEMPTS } from '../../src/sync/incoming.js';
import { startTestSandbox, type TestSandbox } from '../helpers/sandbox.js';
import {
  activityCounts,
  addFault,
  deliver,
  describeCounts,
  folderItems,
  messageId,
  openWorld,
  waitUntil,
  type World,
} from '../helpers/sync.js';

describe('failures against the sandbox', () => {
  let s: TestSandbox;
  const worlds: World[] = [];
  const stamped: Array<{ at: number; record: ExchangeRecord }> = [];
  before(async () => {
    s = await startTestSandbox({ onExchange: (record) => stamped.push({ at: Date.now(), record }) });
  });
  after(async () => {
    for (const w of worlds) await w.close();
    await s?.close();
  });
  const world = async (options: Parameters<typeof openWorld>[1]) => {
    const w = await openWorld(s, options);
    worlds.push(w);
    return w;
  };

  test('a message that keeps failing lands in Inbox/Undeliverable with an alert; the others are tracked', async () => {
    const w = await world({ mailboxes: 1, profile: { moveFailedToUndeliverable: true } });
    const [box] = w.mailboxes;
    const good = Array.from({ length: 10 }, (_, i) => messageId(`good${i}`));
    for (const [i, id] of good.entries()) await deliver(s, [box!.address], { from: 'jane.doe@fabrikam.test', to: [box!.address], subject: `Good ${i}`, messageId: id });
    const badId = messageId('bad');
    // Exchange cannot convert it to MIME: GetItem answers a per-item error for it, every time, and the others succeed.
    await deliver(s, [box!.address], { from: 'jane.doe@fabrikam.test', to: [box!.address], subject: 'Cannot be read', messageId: badId, corrupt: 'ErrorMimeContentConversionFailed' });
    w.startEngine();

    const moved = await waitUntil(
      'the failing message to be moved to Inbox/Undeliverable',
      async () => (await folderItems(s, box!.address, 'Inbox/Undeliverable'))?.find((i) => i.internetMessageId === badId),
      { timeoutMs: 60_000, describe: async () => JSON.stringify(await folderItems(s, box!.address, 'inbox')) },
    );
    assert.equal(moved.subject, 'Cannot be read');
    const inbox = (await folderItems(s, box!.address, 'inbox'))!;
    assert.equal(inbox.filter((i) => i.internetMessageId === badId).length, 0, 'moved, not copied');
    const counts = await waitUntil('the good messages to be tracked', async () => {
      const found = await activityCounts(w.store, good);
      return found.size === good.length ? found : undefined;
    });
    assert.deepEqual(good.filter((id) => counts.get(id) !== 1), [], describeCounts(good, counts));
    assert.equal((await activityCounts(w.store, [badId])).size, 0, 'the failed message is not an activity');
    const alerts = (await w.store.alerts.list({ mailboxId: box!.id, limit: 100 })).items;
    const undeliverable = alerts.filter((a) => /undeliverable/i.test(`${a.code} ${a.message}`));
    assert.ok(undeliverable.length >= 1, `an alert says the message was moved: ${JSON.stringify(alerts.map((a) => [a.code, a.message]))}`);
    assert.ok(
      undeliverable.some((a) => a.message.includes('Cannot be read') || a.message.includes(badId)),
      'the alert names the message, by subject or Message-ID',
    );
    const refusals = stamped.filter((x) => x.record.operation === 'GetItem' && x.record.response.some((r) => r.includes('ErrorMimeContentConversionFailed')));
    assert.equal(refusals.length, MAX_MESSAGE_ATTEMPTS, `it was tried ${MAX_MESSAGE_ATTEMPTS} times before it was set aside, and not after`);
    const mailbox = await w.store.mailboxes.get(box!.id);
    assert.equal(mailbox.enabled, true, 'one bad message does not disable the mailbox');
  });

  test('a service account whose password changed disables the mailbox with an alert that names the fix', async () => {
    const w = await world({ mailboxes: 1 });
    const [box] = w.mailboxes;
    const username = s.info.serviceAccount!.username;
    w.startEngine();
    await waitUntil('a first successful cycle', () => w.events.some((e) => e.type === 'cycle' && e.mailboxId === box!.id && e.status === 'success'));
    const changed = await s.control('PATCH', `/accounts/${encodeURIComponent(username)}`, { password: 'Changed-By-An-Admin-1!' });
    assert.equal(changed.status, 200);
    try {
      const disabled = await waitUntil(
        'the mailbox to be disabled',
        async () => {
          const m = await w.store.mailboxes.get(box!.id);
          return m.enabled ? undefined : m;
        },
        { timeoutMs: 30_000, describe: () => JSON.stringify(w.events.filter((e) => e.type !== 'cycle' || e.status !== 'success').slice(-5)) },
      );
      assert.equal(disabled.incomingStatus, 'failure');
      const alerts = (await w.store.alerts.list({ mailboxId: box!.id, level: 'error', limit: 100 })).items;
      const alert = alerts.find((a) => /401|credential|password|unauthori/i.test(`${a.code} ${a.message}`));
      assert.ok(alert, `an error alert explains the refusal: ${JSON.stringify(alerts)}`);
      assert.match(alert.fix ?? '', /password/i, 'the fix says to correct the service account password in the profile');
      assert.match(alert.fix ?? '', /Test & Enable/i, 'and that Test & Enable brings the mailbox back');
      const cycles = w.events.filter((e) => e.type === 'cycle' && e.mailboxId === box!.id && e.direction === 'incoming' && e.status === 'failure');
      assert.equal(cycles.length, 1, 'a permanent error disables at once, without ten failed cycles first');
    } finally {
      await s.control('PATCH', `/accounts/${encodeURIComponent(username)}`, { password: s.password });
    }
  });

  test('throttling with BackOffMilliseconds slows the engine without failing the mailbox', async () => {
    const w = await world({ mailboxes: 2 });
    const [busy, calm] = w.mailboxes;
    const backOff = 1_500;
    const ids = Array.from({ length: 10 }, (_, i) => messageId(`throttled${i}`));
    for (const [i, id] of ids.entries()) {
      const box = i % 2 === 0 ? busy! : calm!;
      await deliver(s, [box.address], { from: 'raj.patel@adatum.test', to: [box.address], subject: `Throttled ${i}`, messageId: id });
    }
    const from = stamped.length;
    // On the listing, the first request of a cycle: nothing else is in flight for the mailbox when it is refused.
    await addFault(s, { kind: 'serverBusy', operation: 'SyncFolderItems', mailbox: busy!.address, times: 3, backOffMilliseconds: backOff });
    w.startEngine();
    // The mailbox as the API shows it, sampled all along: never failure, never a failure counted.
    const seen = new Set<string>();
    const counts = await waitUntil(
      'every message to be tracked despite the throttling',
      async () => {
        const m = await w.store.mailboxes.get(busy!.id);
        seen.add(`${m.incomingStatus}/${m.consecutiveFailures}/${m.enabled}`);
        const found = await activityCounts(w.store, ids);
        return found.size === ids.length ? found : undefined;
      },
      { timeoutMs: 60_000, describe: async () => describeCounts(ids, await activityCounts(w.store, ids)) },
    );
    assert.deepEqual(ids.filter((id) => counts.get(id) !== 1), [], describeCounts(ids, counts));

    const statuses = w.events.flatMap((e) => (e.type === 'cycle' && e.mailboxId === busy!.id ? [e.status] : []));
    assert.ok(statuses.includes('throttled'), `a throttled cycle is reported as such: ${statuses.join(', ')}`);
    assert.ok(!statuses.includes('failure'), `throttling is not a failure: ${statuses.join(', ')}`);
    const mailbox = await w.store.mailboxes.get(busy!.id);
    seen.add(`${mailbox.incomingStatus}/${mailbox.consecutiveFailures}/${mailbox.enabled}`);
    assert.deepEqual(
      [...seen].filter((state) => !/^(not-run|success)\/0\/true$/.test(state)),
      [],
      `the throttled mailbox stayed enabled, never in failure, with no failure counted (seen: ${[...seen].join(', ')})`,
    );

    // Every request for the busy mailbox that followed a busy answer was sent no sooner than the back-off said.
    const forBusy = stamped.slice(from).filter((x) => x.record.surface === 'ews' && x.record.request.includes(busy!.address));
    const busyAnswers = forBusy.filter((x) => x.record.response.some((r) => r.includes('ErrorServerBusy')));
    assert.equal(busyAnswers.length, 3, 'the sandbox answered busy three times');
    for (const answer of busyAnswers) {
      const next = forBusy.find((x) => x.at > answer.at);
      assert.ok(next, 'the engine asked again after being told to back off');
      // The next answer ends after its request began, so this bound holds only if the request waited.
      assert.ok(next.at - answer.at >= backOff * 0.9, `the next request for the mailbox came ${next.at - answer.at} ms after a ${backOff} ms back-off`);
    }
  });
});
