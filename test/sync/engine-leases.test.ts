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

describe('engine: leases', () => {
  test('a lease lost mid-cycle stops the cycle: nothing is committed, recorded or released over the successor', async () => {
    const sync = new MemorySyncStore();
    const profile = sync.addProfile(sandboxProfile(s), { password: s.password });
    const address = await newSandboxMailbox(s);
    const mailbox = sync.addMailbox(address, profile.id, { outgoing: false });
    await deliver(s, address, { subject: 'Taken over' });
    let stolen = false;
    // Another worker takes the mailbox just before this one commits (this worker was paused past its lease).
    sync.beforeCommit = () => {
      if (stolen) return;
      stolen = true;
      sync.steal(mailbox.id);
    };
    const run = runEngine(s, sync);
    await waitFor('the lease loss noticed', () => run.events.some((e) => e.type === 'lease-lost'));
    await run.stop();
    assert.equal(sync.commits, 0, 'the commit was refused');
    assert.equal(sync.activities.size, 0);
    assert.deepEqual(sync.cycles, [], 'no cycle recorded');
    const m = sync.mailboxes.get(mailbox.id)!;
    assert.equal(m.leasedBy, 'someone-else', "the successor's lease is untouched");
    assert.equal(m.nextDueAt, null);
    assert.ok(!run.events.some((e) => e.type === 'cycle'));
  });

  test('two engines on one store: each message is tracked once', async () => {
    const sync = new MemorySyncStore();
    const profile = sync.addProfile(sandboxProfile(s), { password: s.password });
    const addresses = await Promise.all([1, 2, 3, 4].map(() => newSandboxMailbox(s)));
    const mailboxes = addresses.map((a) => sync.addMailbox(a, profile.id, { outgoing: false }));
    for (const a of addresses) for (let i = 1; i <= 3; i += 1) await deliver(s, a, { subject: `Shared ${a} ${i}` });
    const one = runEngine(s, sync, { concurrency: 2, workerId: 'one' });
    const two = runEngine(s, sync, { concurrency: 2, workerId: 'two' });
    await waitFor('every message tracked', () => mailboxes.every((m) => [...sync.outcomesOf(m.id).values()].filter((o) => o.kind === 'tracked').length === 3));
    await Promise.all([one.stop(), two.stop()]);
    assert.equal(sync.activities.size, 12);
    const tracked = [...one.events, ...two.events].filter((e) => e.type === 'tracked');
    assert.equal(tracked.length, 12);
    assert.equal(new Set(tracked.map((e) => e.type === 'tracked' && e.activityId)).size, 12);
    assert.ok([...sync.mailboxes.values()].every((m) => m.leasedBy === null), 'both released everything on stop');
  });
});
