import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { deliver, MemorySyncStore, newSandboxMailbox, runEngine, sandboxProfile, waitFor } from '../helpers/engine-harness.js';
import { startTestSandbox, type TestSandbox } from '../helpers/sandbox.js';

let s: TestSandbox;
before(async () => {
  s = await startTestSandbox();
});
after(async () => {
  await s.close();
});

describe('engine: push', () => {
  test('new mail wakes the mailbox through the change feed long before the next poll', async () => {
    const sync = new MemorySyncStore();
    const profile = sync.addProfile(sandboxProfile(s), { password: s.password });
    const address = await newSandboxMailbox(s);
    const mailbox = sync.addMailbox(address, profile.id, { outgoing: false });
    // Polling every 10 minutes: only a push can bring the message in within the wait below.
    const run = runEngine(s, sync, { push: true, pollFloorMs: 600_000 });
    try {
      await waitFor('the first cycle', () => run.events.some((e) => e.type === 'cycle'));
      await waitFor('the subscription', async () => {
        const live = await s.control<{ subscriptions: Array<{ mailbox: string }>; connections: Array<{ mailboxes: string[] }> }>('GET', '/subscriptions');
        return live.status === 200 && live.json.connections.some((c) => c.mailboxes.includes(address));
      });
      assert.ok(new Date(sync.mailboxes.get(mailbox.id)!.nextDueAt!).getTime() > Date.now() + 60_000, 'the next poll is far away');
      await deliver(s, address, { subject: 'Pushed' });
      await waitFor('the message tracked', () => [...sync.activities.values()].some((a) => a.activity.subject === 'Pushed'), 30_000);
      assert.ok(sync.wakes.includes(address), 'the feed woke the mailbox');
    } finally {
      await run.stop();
    }
  });
});
