/**
 * Incoming email end to end, against the sandbox and a real store: mail delivered to several mailboxes is
 * tracked exactly once (one activity per Message-ID, linked to every mailbox that received it), its parties
 * resolved to the CRM records that own the addresses, replies correlated to what they answer; a restart in the
 * middle neither doubles nor loses anything; push brings new mail without waiting for the next poll.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startTestSandbox, type TestSandbox } from '../helpers/sandbox.js';
import {
  activitiesByMessageId,
  activityCounts,
  deliver,
  deliverAll,
  describeCounts,
  incomingPlan,
  messageId,
  openWorld,
  setOrganization,
  streamedMailboxes,
  syncStoreOf,
  waitUntil,
  type World,
} from '../helpers/sync.js';

describe('incoming email against the sandbox', () => {
  let s: TestSandbox;
  const worlds: World[] = [];
  before(async () => {
    s = await startTestSandbox();
  });
  after(async () => {
    for (const w of worlds) await w.close();
    await s?.close();
  });
  const world = async (...args: Parameters<typeof openWorld> extends [unknown, ...infer R] ? R : never) => {
    const w = await openWorld(s, ...args);
    worlds.push(w);
    return w;
  };

  test('200 messages to three mailboxes are tracked once each, parties resolved, replies correlated', async () => {
    const w = await world({ mailboxes: 3 });
    const [a, b, c] = w.mailboxes as [World['mailboxes'][0], World['mailboxes'][0], World['mailboxes'][0]];
    await setOrganization(w.store, { useTrackingToken: true, trackingTokenPrefix: 'CRM:', trackingTokenDigits: 7 });
    const boxes = [a, b, c] as const;
    const { contacts, accounts, plan, replies } = await incomingPlan(w.store, boxes);
    assert.equal(plan.length, 200);
    await deliverAll(s, plan.slice(0, 100));
    w.startEngine();
    // The other half arrives while the engine runs (the replies after what they answer).
    await deliverAll(s, plan.slice(100, 180));
    await deliverAll(s, plan.slice(180));

    // An email sent from the CRM, about an account; the replies to it correlate by In-Reply-To and by token alone.
    const regarding = { type: 'account' as const, id: accounts[0]!.id };
    const draft = await w.store.activities.createDraft(a.id, a.userId, {
      subject: 'Your quote',
      bodyText: 'Here is the quote.',
      to: [contacts[0]!.emailAddresses[0]!],
      regarding,
    });
    await w.store.activities.send(draft.id);
    const sent = await waitUntil('the CRM email to be sent', async () => {
      const now = await w.store.activities.get(draft.id);
      return now.status === 'sent' ? now : undefined;
    });
    assert.ok(sent.messageId, 'a sent email has the Message-ID Liaison generated');
    assert.ok(sent.trackingToken, 'the organization uses tracking tokens');
    const byHeader = messageId('reply-header');
    const byToken = messageId('reply-token');
    await deliver(s, [a.address], {
      from: contacts[0]!.emailAddresses[0]!,
      to: [a.address],
      subject: 'RE: Your quote',
      messageId: byHeader,
      inReplyTo: sent.messageId,
      references: sent.messageId,
    });
    // A client that dropped In-Reply-To and References: only the token in the subject ties it to the CRM email.
    await deliver(s, [a.address], { from: contacts[0]!.emailAddresses[0]!, to: [a.address], subject: `Re: Your quote ${sent.trackingToken}`, messageId: byToken });

    const expected = [...plan.map((p) => p.message.messageId), byHeader, byToken];
    const counts = await waitUntil(
      'every delivered message to be tracked',
      async () => {
        const found = await activityCounts(w.store, expected);
        return found.size === expected.length ? found : undefined;
      },
      { timeoutMs: 60_000, describe: async () => describeCounts(expected, await activityCounts(w.store, expected)) },
    );
    assert.deepEqual(
      expected.filter((id) => counts.get(id) !== 1),
      [],
      `each Message-ID is one activity: ${describeCounts(expected, counts)}`,
    );
    const own = await activityCounts(w.store, [sent.messageId]);
    assert.equal(own.get(sent.messageId), 1, 'the CRM email is one activity (its Sent Items copy is not tracked as another)');

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
        assert.deepEqual(
          recipients.find((r) => r.address === address)?.record,
          { type: 'user', id: box.userId },
          `the receiving mailbox's address on ${p.message.subject} resolves to its user`,
        );
      }
    }
    // No mailbox reported the same activity twice (a re-listing or retry that tracked again would).
    const reports = new Map<string, number>();
    for (const e of w.events) if (e.type === 'tracked') reports.set(`${e.mailboxId} ${e.activityId}`, (reports.get(`${e.mailboxId} ${e.activityId}`) ?? 0) + 1);
    assert.deepEqual([...reports].filter(([, n]) => n > 1), [], 'each mailbox tracked each message once');
    // A message that reached two mailboxes is one activity, linked to both, that both mailboxes' cycles reported.
    for (const p of plan) {
      const activity = activities.get(p.message.messageId)!;
      const ids = p.into.map((address) => boxes.find((m) => m.address === address)!.id);
      assert.deepEqual([...activity.mailboxIds].sort(), [...ids].sort(), `${p.message.subject} belongs to the mailboxes that received it`);
    }
    for (const reply of replies) {
      const activity = activities.get(reply.id)!;
      assert.equal(activity.inReplyTo, reply.answers, 'a reply keeps the Message-ID it answers');
    }
    const headerReply = activities.get(byHeader)!;
    assert.equal(headerReply.inReplyTo, sent.messageId);
    assert.deepEqual(headerReply.regarding, regarding, 'a reply by In-Reply-To inherits the regarding record of the CRM email');
    const tokenReply = activities.get(byToken)!;
    assert.equal(tokenReply.inReplyTo, null);
    assert.equal(tokenReply.trackingToken, sent.trackingToken);
    assert.deepEqual(tokenReply.regarding, regarding, 'a reply by tracking token alone inherits the regarding record of the CRM email');
    // The engine's own report (what `liaison worker` prints and the bench measures) names the one activity too.
    for (const p of plan.filter((x) => x.into.length === 2)) {
      const activity = activities.get(p.message.messageId)!;
      const reporters = new Set(w.events.flatMap((e) => (e.type === 'tracked' && e.activityId === activity.id ? [e.mailboxId] : [])));
      const ids = p.into.map((address) => boxes.find((m) => m.address === address)!.id);
      assert.deepEqual([...reporters].sort(), [...ids].sort(), `the engine reported ${p.message.subject} from both mailboxes`);
      const linked = w.events.filter((e) => e.type === 'tracked' && e.activityId === activity.id && e.linked).length;
      assert.equal(linked, 1, `${p.message.subject}: created by one mailbox, linked by the other`);
    }
  });

  test('a restart in the middle of a sync tracks nothing twice and misses nothing', async () => {
    const w = await world({ mailboxes: 3 });
    const first = Array.from({ length: 120 }, (_, i) => ({ box: w.mailboxes[i % 3]!, id: messageId(`restart${i}`), subject: `Restart ${i}` }));
    await deliverAll(s, first.map((m) => ({ into: [m.box.address], message: { from: 'jane.doe@fabrikam.test', to: [m.box.address], subject: m.subject, messageId: m.id } })));
    const ids = first.map((m) => m.id);
    // One mailbox at a time, and the engine told to stop as soon as the first one's messages are recorded: the
    // other mailboxes' initial sync has not started, the first one's is done and its cursor stored.
    let stopping: Promise<void> | null = null;
    const engine = w.startEngine({
      concurrency: 1,
      onEvent: (event) => {
        if (event.type === 'tracked' && !stopping) stopping = engine.stop();
      },
    });
    await waitUntil('the first engine to track a message', () => stopping !== null, { timeoutMs: 30_000 });
    await stopping;
    const atStop = await activityCounts(w.store, ids);
    assert.ok(atStop.size > 0 && atStop.size < ids.length, `the stop came in the middle of the sync (${atStop.size}/${ids.length} tracked)`);

    // Mail that arrives while no engine runs is found by the next one too.
    const meanwhile = Array.from({ length: 12 }, (_, i) => ({ box: w.mailboxes[i % 3]!, id: messageId(`meanwhile${i}`), subject: `Meanwhile ${i}` }));
    for (const m of meanwhile) await deliver(s, [m.box.address], { from: 'raj.patel@adatum.test', to: [m.box.address], subject: m.subject, messageId: m.id });
    const all = [...ids, ...meanwhile.map((m) => m.id)];
    const eventsBefore = w.events.length;
    // A new engine on a store opened again: nothing carries over but what the database holds.
    const reopened = await w.db.reopen();
    w.startEngine({ sync: syncStoreOf(reopened) });
    const counts = await waitUntil(
      'the second engine to track the rest',
      async () => {
        const found = await activityCounts(w.store, all);
        return found.size === all.length ? found : undefined;
      },
      { timeoutMs: 60_000, describe: async () => describeCounts(all, await activityCounts(w.store, all)) },
    );
    assert.deepEqual(all.filter((id) => counts.get(id) !== 1), [], describeCounts(all, counts));
    const second = w.events.slice(eventsBefore).filter((e) => e.type === 'tracked' && !e.linked).length;
    assert.equal(second, all.length - atStop.size, 'the second engine created activities for exactly what the first had not tracked');
  });

  test('with push, new mail is tracked without waiting for the next poll', async () => {
    // An hour between polls: only a push notification can explain mail tracked within the test's deadline.
    const w = await world({ mailboxes: 1, profile: { minPollingIntervalMinutes: 60 } });
    const [box] = w.mailboxes;
    const firstId = messageId('push-initial');
    await deliver(s, [box!.address], { from: 'lee.wong@northwind.test', to: [box!.address], subject: 'Before the engine', messageId: firstId });
    w.startEngine({ push: true, pollFloorMs: 60_000 });
    await waitUntil('the initial sync', async () => ((await activityCounts(w.store, [firstId])).size === 1 ? true : undefined));
    await waitUntil('a streaming connection that watches the mailbox', async () => (await streamedMailboxes(s)).has(box!.address.toLowerCase()), { timeoutMs: 15_000 });
    const cyclesBefore = w.events.filter((e) => e.type === 'cycle' && e.direction === 'incoming').length;
    const pushed = messageId('push-new');
    await deliver(s, [box!.address], { from: 'lee.wong@northwind.test', to: [box!.address], subject: 'Pushed', messageId: pushed });
    await waitUntil('the pushed message to be tracked', async () => ((await activityCounts(w.store, [pushed])).size === 1 ? true : undefined), { timeoutMs: 15_000 });
    assert.equal((await activityCounts(w.store, [pushed, firstId])).get(pushed), 1);
    assert.ok(w.events.filter((e) => e.type === 'cycle' && e.direction === 'incoming').length > cyclesBefore, 'a cycle ran because of the notification');
  });
});
