/**
 * An expired delta link over Microsoft Graph: after a first sync has stored the Inbox's @odata.deltaLink as the
 * cursor, the sandbox answers the next delta request with 410 SyncStateNotFound (the `expireDelta` fault, as Graph
 * does when a delta token is too old), and later because the stored delta links outlived the delta token lifetime. The folder starts again
 * from scratch: mail that arrived meanwhile is tracked, and what was tracked before is not tracked a second time.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { graphCaller, openGraphWorld, type GraphWorld } from '../helpers/graph.js';
import { startTestSandbox, type TestSandbox } from '../helpers/sandbox.js';
import { activityCounts, addFault, deliverAll, describeCounts, messageId, waitUntil } from '../helpers/sync.js';

describe('an expired Graph delta link against the sandbox', () => {
  let s: TestSandbox;
  let w: GraphWorld;
  before(async () => {
    s = await startTestSandbox();
    w = await openGraphWorld(s, { mailboxes: 2 });
  });
  after(async () => {
    await s?.control('PATCH', '/settings', { graphDeltaTokenLifetimeSeconds: null });
    await w?.close();
    await s?.close();
  });

  const round = async (tag: string, perMailbox: number) => {
    const deliveries = w.mailboxes.flatMap((box, i) =>
      Array.from({ length: perMailbox }, (_, j) => ({
        into: [box.address],
        message: { from: 'jane.doe@fabrikam.test', to: [box.address], subject: `${tag} ${i}.${j}`, messageId: messageId(`${tag}-${i}-${j}`) },
      })),
    );
    await deliverAll(s, deliveries);
    return deliveries.map((d) => d.message.messageId);
  };
  const allTracked = (ids: string[], what: string) =>
    waitUntil(
      what,
      async () => {
        const found = await activityCounts(w.store, ids);
        return found.size === ids.length ? found : undefined;
      },
      { timeoutMs: 60_000, describe: async () => `${describeCounts(ids, await activityCounts(w.store, ids))}; ${JSON.stringify(w.events.filter((e) => e.type === 'failure' || (e.type === 'cycle' && e.status !== 'success')).slice(-5))}` },
    );

  test('the folder restarts from scratch: new mail is tracked, nothing is tracked twice', async () => {
    const first = await round('gdelta-first', 5);
    const engine = w.startEngine();
    await allTracked(first, 'the first sync');
    // Every mailbox completes a cycle after its first one: its delta link is the stored cursor now.
    const successes = (from: number) => new Set(w.events.slice(from).flatMap((e) => (e.type === 'cycle' && e.direction === 'incoming' && e.status === 'success' ? [e.mailboxId] : [])));
    let mark = w.events.length;
    await waitUntil('a cycle of each mailbox on its delta link', () => w.mailboxes.every((m) => successes(mark).has(m.id)));

    // One mailbox's next delta request answers 410 SyncStateNotFound.
    const [expired, other] = w.mailboxes;
    mark = w.events.length;
    const fault = await addFault(s, { kind: 'expireDelta', operation: 'graph.delta', mailbox: expired!.address, times: 1 });
    const second = await round('gdelta-second', 4);
    const both = [...first, ...second];
    const counts = await allTracked(both, 'the mail that arrived after the delta link expired');
    const left = (await s.control<Array<{ id: string }>>('GET', '/faults')).json;
    assert.ok(!left.some((f) => f.id === fault.id), 'a delta request of the mailbox was answered 410 SyncStateNotFound');
    assert.deepEqual(both.filter((id) => counts.get(id) !== 1), [], describeCounts(both, counts));
    const created = w.events.slice(mark).filter((e) => e.type === 'tracked' && !e.linked);
    assert.equal(created.length, second.length, 'only the new mail made activities after the restart');
    const failed = w.events.slice(mark).filter((e) => e.type === 'cycle' && e.status === 'failure');
    assert.deepEqual(failed, [], 'an expired delta link is not a failure of the mailbox');
    const alerts = (await w.store.alerts.list({ mailboxId: expired!.id, level: 'error', limit: 100 })).items;
    assert.deepEqual(alerts.map((a) => a.code), [], 'and raises no error alert');

    // The same through the delta token lifetime, as Graph forgets a delta token not used for a long time: the
    // engine stops, its stored delta links age past the lifetime, mail arrives, a new engine starts.
    await w.stopEngine(engine);
    const settings = await s.control('PATCH', '/settings', { graphDeltaTokenLifetimeSeconds: 2 });
    assert.equal(settings.status, 200, JSON.stringify(settings.json));
    const graph = graphCaller(s, w.graph);
    try {
      // A delta link of the caller's own, as old as the engine's: the proof that the lifetime applies.
      let link = `/v1.0/users/${encodeURIComponent(other!.address)}/mailFolders/inbox/messages/delta?$select=id`;
      for (;;) {
        const page = await graph.get<{ '@odata.nextLink'?: string; '@odata.deltaLink'?: string }>(link.replace(w.graph.url, ''));
        assert.equal(page.status, 200, page.text);
        if (page.json['@odata.deltaLink']) {
          link = page.json['@odata.deltaLink'];
          break;
        }
        link = page.json['@odata.nextLink']!;
      }
      // Not a timed assertion: the delta links must be older than the lifetime before the engine comes back.
      await new Promise((resolve) => setTimeout(resolve, 2_500));
      const old = await graph.get(link.replace(w.graph.url, ''));
      assert.equal(old.status, 410, `a delta link older than the lifetime is gone: ${old.text}`);
      assert.match(old.text, /syncStateNotFound/i);
    } finally {
      await graph.close();
    }
    mark = w.events.length;
    const third = await round('gdelta-third', 3);
    w.startEngine();
    const all = [...both, ...third];
    const final = await allTracked(all, 'the mail after every delta link expired');
    assert.deepEqual(all.filter((id) => final.get(id) !== 1), [], describeCounts(all, final));
    assert.equal(w.events.slice(mark).filter((e) => e.type === 'tracked' && !e.linked).length, third.length, 'again only the new mail made activities');
    assert.deepEqual(w.events.slice(mark).filter((e) => e.type === 'cycle' && e.status === 'failure'), [], 'and no cycle failed');
    const reports = new Map<string, number>();
    for (const e of w.events) if (e.type === 'tracked') reports.set(`${e.mailboxId} ${e.activityId}`, (reports.get(`${e.mailboxId} ${e.activityId}`) ?? 0) + 1);
    assert.deepEqual([...reports].filter(([, n]) => n > 1), [], 'no mailbox reported a message twice across the restarts');
  });
});
