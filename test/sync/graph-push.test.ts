/**
 * Push over Microsoft Graph end to end: Liaison's real API server (its POST /graph/notifications route) listens on
 * loopback, the engine is given that URL as its public push endpoint, and the Graph connector subscribes each
 * mailbox's Inbox in the sandbox (which makes the validation handshake against the route). A message delivered
 * then is tracked though the mailbox's next poll is an hour away: only the notification can explain it. A
 * `missed` lifecycle notification makes the engine catch up on mail whose notification never arrived (it was
 * delivered while the API server was down, and the sandbox, like Graph, does not hold a failed notification for
 * a server that is back within the test).
 */
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { buildApi } from '../../src/api/server.js';
import { notificationKey, onGraphLifecycle, type GraphLifecycleEvent } from '../../src/connectors/graph/notifications.js';
import { graphSubscriptions, openGraphWorld, subscriptionFor, type GraphWorld } from '../helpers/graph.js';
import { startTestSandbox, type TestSandbox } from '../helpers/sandbox.js';
import { activityCounts, deliver, messageId, waitUntil } from '../helpers/sync.js';

describe('push over Graph against the sandbox', () => {
  let s: TestSandbox;
  let w: GraphWorld;
  let api: FastifyInstance | null = null;
  let port = 0;
  const lifecycle: GraphLifecycleEvent[] = [];
  let stopListening: () => void = () => undefined;

  const startApi = async () => {
    api = await buildApi({ store: w.store, logger: false, diagnostics: null });
    await api.listen({ host: '127.0.0.1', port });
    port = (api.server.address() as AddressInfo).port;
  };

  before(async () => {
    s = await startTestSandbox();
    // An hour between polls: tracking within the test's deadlines can only come from a notification.
    w = await openGraphWorld(s, { mailboxes: 1, profile: { minPollingIntervalMinutes: 60 } });
    stopListening = onGraphLifecycle((event) => lifecycle.push(event));
    await startApi();
  });
  after(async () => {
    stopListening();
    await w?.close();
    await api?.close();
    await s?.close();
  });

  const nextDueOf = async (mailboxId: string) => {
    const row = await w.store.database.db.selectFrom('mailboxes').select(['next_due_at']).where('id', '=', mailboxId).executeTakeFirstOrThrow();
    return row.next_due_at ? new Date(row.next_due_at) : null;
  };
  const tracked = async (id: string) => ((await activityCounts(w.store, [id])).get(id) === 1 ? true : undefined);

  test('a subscription is made; a notification brings new mail; a missed lifecycle event brings what no notification announced', async () => {
    const [box] = w.mailboxes;
    const firstId = messageId('gpush-initial');
    await deliver(s, [box!.address], { from: 'lee.wong@northwind.test', to: [box!.address], subject: 'Before the engine', messageId: firstId });
    const key = notificationKey(w.store.secretBox);
    w.startEngine({ push: true, pollFloorMs: 60_000, pushEndpoint: { publicUrl: `http://127.0.0.1:${port}`, key } });
    await waitUntil('the initial sync', () => tracked(firstId), { describe: () => JSON.stringify(w.events.slice(-5)) });
    const sub = await waitUntil(
      'a Graph subscription on the mailbox Inbox, at the API server notification route',
      async () => (await graphSubscriptions(s)).find((x) => subscriptionFor(x, box!.address)),
      { timeoutMs: 20_000, describe: async () => `${JSON.stringify(await graphSubscriptions(s))}; events: ${JSON.stringify(w.events.filter((e) => e.type === 'failure').slice(-5))}` },
    );
    assert.equal(sub.notificationUrl, `http://127.0.0.1:${port}/graph/notifications`);
    assert.match(sub.resource, /inbox/i, 'the subscription watches the Inbox');

    // The first cycle is done and the next poll is an hour away.
    await waitUntil('the mailbox to be released after its first cycle', async () => {
      const due = await nextDueOf(box!.id);
      return due !== null && due.getTime() > Date.now() + 30 * 60_000 ? due : undefined;
    });
    const cyclesBefore = w.events.filter((e) => e.type === 'cycle' && e.direction === 'incoming').length;
    const pushed = messageId('gpush-new');
    await deliver(s, [box!.address], { from: 'lee.wong@northwind.test', to: [box!.address], subject: 'Pushed', messageId: pushed });
    await waitUntil('the pushed message to be tracked', () => tracked(pushed), { timeoutMs: 15_000 });
    assert.ok(lifecycle.some((e) => e.address.toLowerCase() === box!.address.toLowerCase() && e.event === 'change'), 'the route received a change notification whose clientState verified, for the mailbox');
    assert.ok(w.events.filter((e) => e.type === 'cycle' && e.direction === 'incoming').length > cyclesBefore, 'a cycle ran because of the notification');

    // Mail whose notification is lost: the API server is down when it arrives.
    await waitUntil('the mailbox to be released after the pushed cycle', async () => {
      const due = await nextDueOf(box!.id);
      return due !== null && due.getTime() > Date.now() + 30 * 60_000 ? due : undefined;
    });
    await api!.close();
    api = null;
    const missed = messageId('gpush-missed');
    await deliver(s, [box!.address], { from: 'lee.wong@northwind.test', to: [box!.address], subject: 'Missed', messageId: missed });
    const lost = await waitUntil('the sandbox to fail to deliver the notification', async () => {
      const found = (await graphSubscriptions(s)).find((x) => x.id === sub.id);
      return found && typeof found.failed === 'number' && found.failed > 0 ? found : undefined;
    }, { describe: async () => JSON.stringify(await graphSubscriptions(s)) });
    assert.ok(lost);
    await startApi();
    assert.equal(await tracked(missed), undefined, 'nothing announced the message, and the next poll is an hour away');
    const answer = await s.control('POST', `/graph/subscriptions/${encodeURIComponent(sub.id)}/lifecycle`, { event: 'missed' });
    assert.ok(answer.status >= 200 && answer.status < 300, `the sandbox sent the lifecycle event: ${answer.status} ${JSON.stringify(answer.json)}`);
    await waitUntil('the missed message to be tracked after the lifecycle event', () => tracked(missed), { timeoutMs: 15_000 });
    assert.ok(lifecycle.some((e) => e.event === 'missed' && e.address.toLowerCase() === box!.address.toLowerCase()), 'the route received the missed lifecycle event');
    const counts = await activityCounts(w.store, [firstId, pushed, missed]);
    assert.deepEqual([...counts.values()], [1, 1, 1], 'each message tracked once');
  });
});
