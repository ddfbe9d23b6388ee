/**
 * Incoming email end to end over Microsoft Graph, against the sandbox's Graph side and a real store: 200 messages
 * delivered to three mailboxes of an exchange-online profile are tracked exactly once each (one activity per
 * Message-ID, one outcome per mailbox and message), their parties resolved to the CRM records that own the
 * addresses, replies correlated to what they answer (by In-Reply-To, and by tracking token alone); a second
 * engine, started on the store opened again, tracks nothing new (the delta link is the cursor).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type GraphWorld, openGraphWorld } from '../helpers/graph.js';
import { startTestSandbox, type TestSandbox } from '../helpers/sandbox.js';
import { activitiesByMessageId, activityCounts, deliver, deliverAll, describeCounts, incomingPlan, messageId, setOrganization, syncStoreOf, waitUntil } from '../helpers/sync.js';

describe('incoming email over Graph against the sandbox', () => {
  let s: TestSandbox;
  let w: GraphWorld;
  before(async () => {
    s = await startTestSandbox();
    w = await openGraphWorld(s, { mailboxes: 3 });
  });
  after(async () => {
    await w?.close();
    await s?.close();
  });

  test('200 messages to three mailboxes are tracked once each, parties resolved, replies correlated; a second pass tracks nothing', async () => {
    const [a, b, c] = w.mailboxes as [GraphWorld['mailboxes'][0], GraphWorld['mailboxes'][0], GraphWorld['mailboxes'][0]];
    await setOrganization(w.store, { useTrackingToken: true, trackingTokenPrefix: 'CRM:', trackingTokenDigits: 7 });
    const boxes = [a, b, c] as const;
    const { contacts, accounts, plan, replies } = await incomingPlan(w.store, boxes, 'g');
    assert.equal(plan.length, 200);
    await deliverAll(s, plan.slice(0, 100));
    const first = w.startEngine();
    // The other half arrives while the engine runs (the replies after what they answer).
    await deliverAll(s, plan.slice(100, 180));
    await deliverAll(s, plan.slice(180));

    // An email sent from the CRM over Graph, about an account; the replies to it correlate by In-Reply-To and by token alone.
    const regarding = { type: 'account' as const, id: accounts[0]!.id };
    const draft = await w.store.activities.createDraft(a.id, a.userId, { subject: 'Your quote', bodyText: 'Here is the quote.', to: [contacts[0]!.emailAddresses[0]!], regarding });
    await w.store.activities.send(draft.id);
    const sent = await waitUntil(
      'the CRM email to be sent over Graph',
      async () => {
        const now = await w.store.activities.get(draft.id);
        return now.status === 'sent' ? now : undefined;
      },
      { timeoutMs: 30_000, describe: async () => JSON.stringify(await w.store.activities.get(draft.id)) },
    );
    assert.ok(sent.messageId && sent.trackingToken);
    const byHeader = messageId('greply-header');
    const byToken = messageId('greply-token');
    await deliver(s, [a.address], { from: contacts[0]!.emailAddresses[0]!, to: [a.address], subject: 'RE: Your quote', messageId: byHeader, inReplyTo: sent.messageId, references: sent.messageId });
    await deliver(s, [a.address], { from: contacts[0]!.emailAddresses[0]!, to: [a.address], subject: `Re: Your quote ${sent.trackingToken}`, messageId: byToken });

    const expected = [...plan.map((p) => p.message.messageId), byHeader, byToken];
    const counts = await waitUntil(
      'every delivered message to be tracked',
      async () => {
        const found = await activityCounts(w.store, expected);
        return found.size === expected.length ? found : undefined;
      },
      {
        timeoutMs: 60_000,
        describe: async () =>
          `${describeCounts(expected, await activityCounts(w.store, expected))}; last failures: ${JSON.stringify(w.events.filter((e) => e.type === 'failure' || (e.type === 'cycle' && e.status !== 'success')).slice(-5))}`,
      },
    );
    assert.deepEqual(expected.filter((id) => counts.get(id) !== 1), [], `each Message-ID is one activity: ${describeCounts(expected, counts)}`);
    assert.equal((await activityCounts(w.store, [sent.messageId])).get(sent.messageId), 1, 'the CRM email is one activity');

    // One outcome per mailbox and message: 150 + 2 × 30 + 20 (the replies go where what they answer went) = 230.
    const outcomes = await w.store.database.db
      .selectFrom('message_outcomes')
      .select(['mailbox_id', 'internet_message_id'])
      .where('internet_message_id', 'in', plan.map((p) => p.message.messageId))
      .execute();
    const perPair = new Map<string, number>();
    for (const o of outcomes) perPair.set(`${o.mailbox_id} ${o.internet_message_id}`, (perPair.get(`${o.mailbox_id} ${o.internet_message_id}`) ?? 0) + 1);
    const wantedPairs = plan.flatMap((p) => p.into.map((address) => `${boxes.find((m) => m.address === address)!.id} ${p.message.messageId}`));
    assert.equal(wantedPairs.length, 230);
    assert.deepEqual(wantedPairs.filter((k) => perPair.get(k) !== 1), [], 'every mailbox recorded one outcome for each message it received');
    assert.equal(outcomes.length, 230, 'and no others');

    const activities = await activitiesByMessageId(w.store, expected);
    for (const p of plan) {
      const activity = activities.get(p.message.messageId)!;
      assert.equal(activity.direction, 'incoming');
      assert.deepEqual(
        activity.from.map((party) => [party.address, party.record]),
        [[p.sender.emailAddresses[0], { type: p.sender.type, id: p.sender.id }]],
        `the sender of ${p.message.subject} resolves to the ${p.sender.type} that has the address`,
      );
      const recipients = [...activity.to, ...activity.cc];
      for (const address of p.into) {
        const box = boxes.find((m) => m.address === address)!;
        assert.deepEqual(recipients.find((r) => r.address === address)?.record, { type: 'user', id: box.userId }, `the receiving mailbox's address on ${p.message.subject} resolves to its user`);
      }
      const ids = p.into.map((address) => boxes.find((m) => m.address === address)!.id);
      assert.deepEqual([...activity.mailboxIds].sort(), [...ids].sort(), `${p.message.subject} belongs to the mailboxes that received it`);
    }
    const reports = new Map<string, number>();
    for (const e of w.events) if (e.type === 'tracked') reports.set(`${e.mailboxId} ${e.activityId}`, (reports.get(`${e.mailboxId} ${e.activityId}`) ?? 0) + 1);
    assert.deepEqual([...reports].filter(([, n]) => n > 1), [], 'each mailbox tracked each message once');
    for (const reply of replies) assert.equal(activities.get(reply.id)!.inReplyTo, reply.answers, 'a reply keeps the Message-ID it answers');
    const headerReply = activities.get(byHeader)!;
    assert.equal(headerReply.inReplyTo, sent.messageId);
    assert.deepEqual(headerReply.regarding, regarding, 'a reply by In-Reply-To inherits the regarding record of the CRM email');
    const tokenReply = activities.get(byToken)!;
    assert.equal(tokenReply.inReplyTo, null);
    assert.equal(tokenReply.trackingToken, sent.trackingToken);
    assert.deepEqual(tokenReply.regarding, regarding, 'a reply by tracking token alone inherits the regarding record of the CRM email');
    const failures = w.events.filter((e) => e.type === 'cycle' && e.status === 'failure');
    assert.deepEqual(failures, [], 'no cycle failed');

    // A second pass: a new engine on the store opened again, nothing carried over but the stored delta links.
    await w.stopEngine(first);
    const eventsBefore = w.events.length;
    const reopened = await w.db.reopen();
    w.startEngine({ sync: syncStoreOf(reopened) });
    const successes = () => new Set(w.events.slice(eventsBefore).flatMap((e) => (e.type === 'cycle' && e.direction === 'incoming' && e.status === 'success' ? [e.mailboxId] : [])));
    await waitUntil('every mailbox to complete an incoming cycle of the second engine', () => boxes.every((m) => successes().has(m.id)), {
      describe: () => JSON.stringify(w.events.slice(eventsBefore).slice(-5)),
    });
    const again = w.events.slice(eventsBefore).filter((e) => e.type === 'tracked');
    assert.deepEqual(again, [], 'the second pass tracked nothing');
    const after = await activityCounts(w.store, expected);
    assert.deepEqual(expected.filter((id) => after.get(id) !== 1), [], describeCounts(expected, after));
  });
});
