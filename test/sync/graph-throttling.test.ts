/**
 * Throttling over Microsoft Graph: `429 Too Many Requests` with Retry-After (the `http429` fault, on the delta
 * listing and on the MIME fetches) and the per-mailbox limit of 4 requests in flight (a limit of 1 here, so the
 * connector's own concurrency meets it) slow the engine down, but no mailbox is marked failed: no failed cycle,
 * no failure counted, no error alert; and all the mail gets tracked, once. The same for a 429 from the token endpoint.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { openGraphWorld, type GraphWorld } from '../helpers/graph.js';
import { startTestSandbox, type TestSandbox } from '../helpers/sandbox.js';
import { activityCounts, addFault, deliverAll, describeCounts, messageId, waitUntil } from '../helpers/sync.js';

describe('Graph throttling against the sandbox', () => {
  let s: TestSandbox;
  let w: GraphWorld;
  const worlds: GraphWorld[] = [];
  before(async () => {
    s = await startTestSandbox();
  });
  after(async () => {
    for (const x of worlds) await x.close();
    await s?.close();
  });
  const world = async () => {
    w = await openGraphWorld(s, { mailboxes: 3 });
    worlds.push(w);
    return w;
  };

  /** 12 messages to each mailbox of a new world; their Message-IDs. */
  async function mail(): Promise<string[]> {
    const ids: string[] = [];
    const deliveries = w.mailboxes.flatMap((box, i) =>
      Array.from({ length: 12 }, (_, j) => {
        const id = messageId(`gthrottled-${i}-${j}`);
        ids.push(id);
        return { into: [box.address], message: { from: 'raj.patel@adatum.test', to: [box.address], subject: `Throttled ${i}.${j}`, messageId: id } };
      }),
    );
    await deliverAll(s, deliveries);
    return ids;
  }

  /** Starts an engine and checks that all the mail is tracked once, and that no mailbox failed on the way. */
  async function trackedWithoutFailure(ids: string[], faults: Array<{ id: string }>, busy: GraphWorld['mailboxes'][0]) {
    w.startEngine();
    const seen = new Set<string>();
    const counts = await waitUntil(
      'every message to be tracked despite the throttling',
      async () => {
        for (const box of w.mailboxes) {
          const m = await w.store.mailboxes.get(box.id);
          seen.add(`${m.incomingStatus}/${m.consecutiveFailures}/${m.enabled}`);
        }
        const found = await activityCounts(w.store, ids);
        return found.size === ids.length ? found : undefined;
      },
      {
        timeoutMs: 30_000,
        describe: async () => {
          const rows = await w.store.database.db.selectFrom('mailboxes').select(['id', 'next_due_at', 'lease_owner', 'consecutive_failures', 'last_error']).where('id', 'in', w.mailboxes.map((m) => m.id)).execute();
          const busyEvents = w.events.filter((e) => e.type !== 'tracked' && (!('mailboxId' in e) || e.mailboxId === busy!.id || e.mailboxId === null));
          return `${describeCounts(ids, await activityCounts(w.store, ids))}; mailboxes: ${JSON.stringify(rows)}; the busy mailbox's events: ${JSON.stringify(busyEvents.slice(-8))}; faults left: ${JSON.stringify((await s.control('GET', '/faults')).json)}`;
        },
      },
    );
    assert.deepEqual(ids.filter((id) => counts.get(id) !== 1), [], describeCounts(ids, counts));
    const left = (await s.control<Array<{ id: string }>>('GET', '/faults')).json;
    assert.deepEqual(left.filter((f) => faults.some((x) => x.id === f.id)), [], 'every 429 fault was answered');

    const statuses = w.events.flatMap((e) => (e.type === 'cycle' ? [e.status] : []));
    assert.ok(!statuses.includes('failure'), `throttling is not a failure: ${statuses.join(', ')}`);
    for (const box of w.mailboxes) {
      const m = await w.store.mailboxes.get(box.id);
      seen.add(`${m.incomingStatus}/${m.consecutiveFailures}/${m.enabled}`);
      assert.equal(m.lastError ?? null, null, `${box.address} has no last error`);
    }
    assert.deepEqual(
      [...seen].filter((state) => !/^(not-run|success)\/0\/true$/.test(state)),
      [],
      `every mailbox stayed enabled, never in failure, with no failure counted (seen: ${[...seen].join(', ')})`,
    );
    for (const box of w.mailboxes) {
      const alerts = (await w.store.alerts.list({ mailboxId: box.id, level: 'error', limit: 100 })).items;
      assert.deepEqual(alerts.map((a) => `${a.code}: ${a.message}`), [], `no error alert for ${box.address}`);
    }
    const failures = w.events.filter((e) => e.type === 'failure');
    assert.deepEqual(failures, [], 'the engine reported no failure');
  }

  test('429 with Retry-After on the delta and the MIME, and the concurrency limit, slow the engine without failing any mailbox; all mail is tracked', async () => {
    await world();
    const ids = await mail();
    const settings = await s.control('PATCH', '/settings', { graphRetryAfterSeconds: 1, graphConcurrencyLimit: 1 });
    assert.equal(settings.status, 200, JSON.stringify(settings.json));
    try {
      const [busy, fetching] = w.mailboxes;
      const faults = [
        await addFault(s, { kind: 'http429', operation: 'graph.delta', mailbox: busy!.address, times: 3 }),
        await addFault(s, { kind: 'http429', operation: 'graph.value', mailbox: fetching!.address, times: 4 }),
      ];
      await trackedWithoutFailure(ids, faults, busy!);
    } finally {
      await s.control('PATCH', '/settings', { graphConcurrencyLimit: 4, graphRetryAfterSeconds: 2 });
    }
  });

  test('a 429 from the token endpoint slows the engine without failing any mailbox; all mail is tracked', async () => {
    await world();
    const ids = await mail();
    const settings = await s.control('PATCH', '/settings', { graphRetryAfterSeconds: 1 });
    assert.equal(settings.status, 200, JSON.stringify(settings.json));
    try {
      const faults = [await addFault(s, { kind: 'http429', operation: 'graph.token', times: 1 })];
      await trackedWithoutFailure(ids, faults, w.mailboxes[0]!);
    } finally {
      await s.control('PATCH', '/settings', { graphRetryAfterSeconds: 2 });
    }
  });
});
