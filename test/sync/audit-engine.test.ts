/**
 * The missing-mail audit in the engine, against a fake server: audits run on demand and on schedule under the
 * mailbox's lease right after a completed incoming pass; mail that arrives just before the inventory is never
 * called missing; what the cursor skipped is reported (oldest first, with when the gap began), queued, and
 * tracked exactly once by the next pass; a throttled inventory obeys the back-off without touching the mailbox's
 * status, a transient one is recorded and retried later, a permanent one disables the mailbox.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ConnectorRegistry } from '../../src/connectors/registry.js';
import { createSyncEngine } from '../../src/sync/engine.js';
import type { EngineEvent } from '../../src/sync/engine-types.js';
import { connector, Denied, FakeServer, Throttled } from '../helpers/audit-fake-server.js';
import { waitFor } from '../helpers/engine-harness.js';
import { MemorySyncStore, testProfile } from '../helpers/memory-sync-store.js';

function setup(server: FakeServer, options: { processEmailFrom?: string; auditIntervalMs?: number } = {}) {
  const sync = new MemorySyncStore();
  const profile = sync.addProfile(testProfile({ serverType: 'fake-mail' as never, processEmailFrom: options.processEmailFrom ?? null }));
  const mailbox = sync.addMailbox('user@contoso.test', profile.id, { outgoing: false });
  const events: EngineEvent[] = [];
  const engine = createSyncEngine({
    sync,
    connectors: new ConnectorRegistry().register('fake-mail', () => connector(server)),
    resolve: [],
    pollFloorMs: 20,
    leaseMs: 5_000,
    push: false,
    ...(options.auditIntervalMs !== undefined ? { auditIntervalMs: options.auditIntervalMs } : {}),
    onEvent: (e) => events.push(e),
  });
  const tracked = () => [...sync.outcomesOf(mailbox.id).values()].filter((m) => m.kind === 'tracked').length;
  const incomingCycles = () => events.filter((e) => e.type === 'cycle' && e.direction === 'incoming').length;
  return { sync, profile, mailbox, engine, events, tracked, incomingCycles };
}

describe('missing-mail audit in the engine', () => {
  test('a message the cursor skipped is reported missing, queued, then tracked exactly once; a re-audit finds nothing', async () => {
    const server = new FakeServer();
    for (let n = 1; n <= 5; n += 1) server.deliver(n);
    server.skipped.add('id-2');
    server.skipped.add('id-4');
    const t = setup(server);
    t.engine.start();
    try {
      await waitFor('three tracked', () => t.tracked() === 3);
      assert.equal(server.inventories, 0, 'no audit before one is asked for or due');
      t.sync.audit.request(t.mailbox.id);
      await waitFor('the audit', () => t.sync.audit.runsOf(t.mailbox.id).length === 1);
      const run = t.sync.audit.runsOf(t.mailbox.id)[0]!;
      assert.equal(run.trigger, 'on-demand');
      assert.equal(run.status, 'completed');
      assert.equal(run.onServer, 5);
      assert.equal(run.tracked, 3);
      assert.equal(run.filtered, 0);
      assert.equal(run.failed, 0);
      assert.deepEqual(run.missing.map((m) => m.serverId), ['id-2', 'id-4'], 'oldest first');
      assert.equal(run.gapBeganAt, server.messages[1]!.receivedAt);
      assert.ok(server.inventories >= 3, 'five entries in pages of two');
      const alert = t.sync.alerts.find((a) => a.code === 'audit.missing-mail');
      assert.ok(alert, 'an alert');
      assert.match(alert.message, /found 2 of 5 messages/);
      assert.ok(alert.message.indexOf('Message 2') < alert.message.indexOf('Message 4'), 'named oldest first');
      assert.match(alert.message, new RegExp(`gap began ${server.messages[1]!.receivedAt}`));

      await waitFor('the missing two tracked by a later pass', () => t.tracked() === 5);
      await waitFor('the queue emptied', () => t.sync.audit.queueOf(t.mailbox.id).size === 0);
      assert.equal(t.sync.activities.size, 5, 'one activity each');
      const fetchedMissing = server.fetches.flat().filter((id) => id === 'id-2' || id === 'id-4');
      assert.deepEqual(fetchedMissing.sort(), ['id-2', 'id-4'], 'fetched by server id, once each');

      t.sync.audit.request(t.mailbox.id);
      await waitFor('the second audit', () => t.sync.audit.runsOf(t.mailbox.id).length === 2);
      const again = t.sync.audit.runsOf(t.mailbox.id)[1]!;
      assert.equal(again.missing.length, 0);
      assert.equal(again.tracked, 5);
      assert.equal(t.sync.alerts.filter((a) => a.code === 'audit.missing-mail').length, 1, 'no alert when nothing is missing');
    } finally {
      await t.engine.stop();
    }
  });

  test('mail that arrives just before (or while) the inventory is listed is never reported missing', async () => {
    const server = new FakeServer();
    server.deliver(1);
    const t = setup(server);
    let arrived = 1;
    // Each inventory call: a new message lands on the server after the incoming pass listed the Inbox.
    server.beforeInventory = () => {
      arrived += 1;
      server.deliver(arrived, `Arrived ${arrived}`, new Date().toISOString());
    };
    server.pageSize = 100;
    t.engine.start();
    try {
      await waitFor('the first tracked', () => t.tracked() === 1);
      for (let round = 1; round <= 3; round += 1) {
        t.sync.audit.request(t.mailbox.id);
        await waitFor(`audit ${round}`, () => t.sync.audit.runsOf(t.mailbox.id).length === round);
      }
      for (const run of t.sync.audit.runsOf(t.mailbox.id)) {
        assert.equal(run.status, 'completed');
        assert.deepEqual(run.missing, [], 'nothing missing');
        assert.equal(run.onServer, run.tracked);
      }
      assert.equal(t.sync.alerts.filter((a) => a.code === 'audit.missing-mail').length, 0);
      await waitFor('every arrival tracked', () => t.tracked() === server.messages.length);
      assert.equal(t.sync.activities.size, server.messages.length, 'each tracked once');
    } finally {
      await t.engine.stop();
    }
  });

  test('out of scope before Process Email From; filtered and failed messages are accounted for', async () => {
    const server = new FakeServer();
    server.deliver(1, 'Old', '2025-01-01T00:00:00.000Z');
    server.deliver(2, 'New');
    server.deliver(3, 'Skipped');
    server.skipped.add('id-1');
    server.skipped.add('id-3');
    const t = setup(server, { processEmailFrom: '2026-01-01T00:00:00.000Z' });
    t.engine.start();
    try {
      await waitFor('one tracked', () => t.tracked() === 1);
      t.sync.audit.request(t.mailbox.id);
      await waitFor('the audit', () => t.sync.audit.runsOf(t.mailbox.id).length === 1);
      const run = t.sync.audit.runsOf(t.mailbox.id)[0]!;
      assert.equal(run.onServer, 2, 'the old message is out of scope');
      assert.deepEqual(run.missing.map((m) => m.subject), ['Skipped']);
    } finally {
      await t.engine.stop();
    }
  });

  test('scheduled: the first audit is one interval after the first cycle, then every interval', async () => {
    const server = new FakeServer();
    server.deliver(1);
    const t = setup(server, { auditIntervalMs: 300 });
    t.engine.start();
    try {
      await waitFor('first cycle', () => t.incomingCycles() >= 1);
      assert.ok((await t.sync.audit.schedule(t.mailbox.id)).dueAt, 'the first audit is scheduled');
      await waitFor('two scheduled audits', () => t.sync.audit.runsOf(t.mailbox.id).length >= 2);
      assert.ok(t.sync.audit.runsOf(t.mailbox.id).every((r) => r.trigger === 'scheduled' && r.missing.length === 0));
    } finally {
      await t.engine.stop();
    }
  });

  test('a throttled inventory waits as the server asks and leaves the status; a transient one is recorded, nothing disabled', async () => {
    for (const kind of ['throttled', 'transient'] as const) {
      const server = new FakeServer();
      server.deliver(1);
      const t = setup(server);
      t.engine.start();
      try {
        await waitFor('tracked', () => t.tracked() === 1);
        server.inventoryError = kind === 'throttled' ? new Throttled('busy') : new Error('connection reset');
        const before = Date.now();
        t.sync.audit.request(t.mailbox.id);
        await waitFor('the failed audit', () => t.sync.audit.runsOf(t.mailbox.id).length === 1);
        await waitFor('released', () => t.sync.mailboxes.get(t.mailbox.id)!.leasedBy === null);
        const run = t.sync.audit.runsOf(t.mailbox.id)[0]!;
        assert.equal(run.status, 'failed');
        assert.match(run.error ?? '', kind === 'throttled' ? /fake\.busy/ : /fake\.error/);
        const m = t.sync.mailboxes.get(t.mailbox.id)!;
        assert.equal(m.enabled, true);
        assert.equal(m.incomingStatus, 'success');
        assert.equal(m.consecutiveFailures, 0);
        if (kind === 'throttled') assert.ok(new Date(m.nextDueAt!).getTime() >= before + 120_000, 'the back-off is obeyed');
        assert.equal((await t.sync.audit.schedule(t.mailbox.id)).requestedAt, null, 'the request was answered (failed)');
        assert.ok(new Date((await t.sync.audit.schedule(t.mailbox.id)).dueAt!).getTime() > Date.now() + 60_000, 'tried again later');
        assert.equal(t.sync.alerts.filter((a) => a.code === 'audit.missing-mail').length, 0);
      } finally {
        await t.engine.stop();
      }
    }
  });

  test('a permanent inventory error disables the mailbox with an alert', async () => {
    const server = new FakeServer();
    server.deliver(1);
    const t = setup(server);
    t.engine.start();
    try {
      await waitFor('tracked', () => t.tracked() === 1);
      server.inventoryError = new Denied('denied');
      t.sync.audit.request(t.mailbox.id);
      await waitFor('disabled', () => !t.sync.mailboxes.get(t.mailbox.id)!.enabled);
      assert.equal(t.sync.audit.runsOf(t.mailbox.id)[0]!.status, 'failed');
      assert.ok(t.sync.alerts.some((a) => a.code === 'fake.denied' && /disabled/.test(a.message)));
    } finally {
      await t.engine.stop();
    }
  });

  test('a worker that lost the lease during the audit writes nothing: no audit, no queue, no alert', async () => {
    const server = new FakeServer();
    server.deliver(1);
    server.deliver(2);
    server.skipped.add('id-2');
    const t = setup(server);
    t.engine.start();
    try {
      await waitFor('tracked', () => t.tracked() === 1);
      server.beforeInventory = () => t.sync.steal(t.mailbox.id);
      t.sync.audit.request(t.mailbox.id);
      await waitFor('the lease loss noticed', () => t.events.some((e) => e.type === 'lease-lost'));
      assert.equal(t.sync.audit.runsOf(t.mailbox.id).length, 0);
      assert.equal(t.sync.audit.queueOf(t.mailbox.id).size, 0);
      assert.equal(t.sync.alerts.filter((a) => a.code === 'audit.missing-mail').length, 0);
      assert.notEqual((await t.sync.audit.schedule(t.mailbox.id)).requestedAt, null, 'the request still waits for the next holder');
    } finally {
      await t.engine.stop();
    }
  });
});
