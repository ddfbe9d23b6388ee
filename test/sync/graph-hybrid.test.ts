/**
 * A hybrid organization, as the seed documents deploy it: one Exchange profile (EWS, the on-premises half) and one
 * Exchange Online profile (Microsoft Graph) in the same store, mailboxes on each (different sandbox mailboxes),
 * and one engine: both profiles' mailboxes sync at once, each message tracked once; a message sent to a mailbox
 * of each half is one activity linked to both.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { graphAddresses, openGraphWorld, type GraphWorld } from '../helpers/graph.js';
import { startTestSandbox, type TestSandbox } from '../helpers/sandbox.js';
import { activitiesByMessageId, activityCounts, createEnabledMailboxes, createSandboxMailboxes, createSandboxProfile, deliverAll, describeCounts, messageId, waitUntil } from '../helpers/sync.js';

describe('a hybrid organization against the sandbox', () => {
  let s: TestSandbox;
  let w: GraphWorld;
  before(async () => {
    s = await startTestSandbox();
    w = await openGraphWorld(s, { mailboxes: 2 });
  });
  after(async () => {
    await w?.close();
    await s?.close();
  });

  test('an Exchange profile and an Exchange Online profile sync at once in one engine, each message once', async () => {
    const onPremises = await createSandboxProfile(w.store, s, { ownerId: w.owner.id, name: 'On-premises Exchange' });
    const ewsAddresses = graphAddresses(2, 'ews');
    await createSandboxMailboxes(s, ewsAddresses);
    const ews = await createEnabledMailboxes(w.store, onPremises.id, ewsAddresses);
    const cloud = w.mailboxes;
    const all = [...ews, ...cloud];
    const deliveries = all.flatMap((box, i) =>
      Array.from({ length: 10 }, (_, j) => ({
        into: [box.address],
        message: { from: 'jane.doe@fabrikam.test', to: [box.address], subject: `Hybrid ${i}.${j}`, messageId: messageId(`ghybrid-${i}-${j}`) },
      })),
    );
    // One message to a mailbox of each half.
    const shared = { into: [ews[0]!.address, cloud[0]!.address], message: { from: 'raj.patel@adatum.test', to: [ews[0]!.address, cloud[0]!.address], subject: 'To both halves', messageId: messageId('ghybrid-both') } };
    await deliverAll(s, [...deliveries, shared]);
    const ids = [...deliveries.map((d) => d.message.messageId), shared.message.messageId];
    const profileOf = new Map(all.map((m) => [m.id, ews.includes(m) ? 'ews' : 'graph']));
    // Each incoming cycle that tracked something, as a span of time: start (end less its duration) to end.
    const spans: Array<{ half: string; start: number; end: number }> = [];
    w.startEngine({
      onEvent: (e) => {
        if (e.type === 'cycle' && e.direction === 'incoming' && e.counts.tracked + e.counts.linked > 0) {
          const end = Date.now();
          spans.push({ half: profileOf.get(e.mailboxId) ?? '?', start: end - e.durationMs, end });
        }
      },
    });
    const counts = await waitUntil(
      'every message of both halves to be tracked',
      async () => {
        const found = await activityCounts(w.store, ids);
        return found.size === ids.length ? found : undefined;
      },
      { timeoutMs: 60_000, describe: async () => `${describeCounts(ids, await activityCounts(w.store, ids))}; ${JSON.stringify(w.events.filter((e) => e.type === 'failure' || (e.type === 'cycle' && e.status !== 'success')).slice(-5))}` },
    );
    assert.deepEqual(ids.filter((id) => counts.get(id) !== 1), [], describeCounts(ids, counts));
    const overlapping = spans.some((a) => a.half === 'ews' && spans.some((b) => b.half === 'graph' && a.start < b.end && b.start < a.end));
    assert.ok(overlapping, `an EWS cycle and a Graph cycle ran at the same time in the one engine: ${JSON.stringify(spans)}`);
    const activities = await activitiesByMessageId(w.store, ids);
    for (const d of deliveries) {
      const box = all.find((m) => m.address === d.into[0])!;
      assert.deepEqual(activities.get(d.message.messageId)!.mailboxIds, [box.id], `${d.message.subject} belongs to ${box.address}`);
    }
    assert.deepEqual([...activities.get(shared.message.messageId)!.mailboxIds].sort(), [ews[0]!.id, cloud[0]!.id].sort(), 'the message to both halves is one activity linked to both mailboxes');
    for (const box of all) {
      const cycles = w.events.filter((e) => e.type === 'cycle' && e.mailboxId === box.id && e.direction === 'incoming');
      assert.ok(cycles.some((c) => c.type === 'cycle' && c.status === 'success'), `${box.address} (${profileOf.get(box.id)}) completed a cycle`);
      assert.ok(!cycles.some((c) => c.type === 'cycle' && c.status === 'failure'), `${box.address} (${profileOf.get(box.id)}) failed no cycle`);
    }
    assert.deepEqual([(await w.store.profiles.get(onPremises.id)).serverType, w.profile.serverType], ['exchange', 'exchange-online']);
  });
});
