/**
 * Outgoing email over Microsoft Graph end to end: an email composed in the CRM is sent from an exchange-online
 * mailbox (a draft carrying Liaison's identifier, then send) and arrives once in the recipient's Inbox and once in
 * the sender's Sent Items, the copy Exchange Online saved itself. Also when the connection drops after the send
 * was carried out (`dropAfter` on graph.send: the outcome is uncertain, Sent Items shows it was sent, nothing is
 * sent again), and when it drops before (`drop`: not carried out; Sent Items does not show it; it is sent once
 * on the next attempt).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { LIAISON_PROPERTY_ID } from '../../src/connectors/graph/mailbox.js';
import { graphCaller, openGraphWorld, type GraphWorld } from '../helpers/graph.js';
import { startTestSandbox, type TestSandbox } from '../helpers/sandbox.js';
import { activityCounts, addFault, folderItems, waitUntil } from '../helpers/sync.js';

describe('outgoing email over Graph against the sandbox', () => {
  let s: TestSandbox;
  const worlds: GraphWorld[] = [];
  before(async () => {
    s = await startTestSandbox();
  });
  after(async () => {
    for (const w of worlds) await w.close();
    await s?.close();
  });

  async function sendOnce(fault: Record<string, unknown> | null) {
    const w = await openGraphWorld(s, { mailboxes: 2 });
    worlds.push(w);
    const [sender, recipient] = w.mailboxes;
    const injected = fault ? await addFault(s, { ...fault, mailbox: sender!.address, times: 1 }) : null;
    const subject = `Proposal ${fault ? `through ${String(fault.kind)}` : 'plainly'}`;
    const draft = await w.store.activities.createDraft(sender!.id, sender!.userId, { subject, bodyText: 'The proposal.', to: [recipient!.address] });
    await w.store.activities.send(draft.id);
    // The sandbox carries out nothing late: no settling time is needed before Sent Items is looked at again.
    w.startEngine({ sendSettleMs: 0, sendRetryBaseMs: 0 });
    const sent = await waitUntil(
      'the email to be sent',
      async () => {
        const now = await w.store.activities.get(draft.id);
        return now.status === 'sent' ? now : undefined;
      },
      { timeoutMs: 30_000, describe: async () => `${JSON.stringify(await w.store.activities.get(draft.id))}; ${JSON.stringify(w.events.filter((e) => e.type !== 'cycle').slice(-5))}` },
    );
    assert.ok(sent.messageId);
    if (injected) {
      const left = (await s.control<Array<{ id: string }>>('GET', '/faults')).json;
      assert.ok(!left.some((f) => f.id === injected.id), 'the send went through the fault');
    }
    await waitUntil(
      'the recipient mailbox to track the email',
      async () => ((await w.store.activities.get(draft.id)).mailboxIds.includes(recipient!.id) ? true : undefined),
      { describe: async () => `the sent activity belongs to ${JSON.stringify((await w.store.activities.get(draft.id)).mailboxIds)}` },
    );
    // A second send would come on a later outgoing cycle: let a few run before counting.
    const cycles = () => w.events.filter((e) => e.type === 'cycle' && e.mailboxId === sender!.id && e.direction === 'outgoing').length;
    const seen = cycles();
    await waitUntil('two more outgoing cycles of the sender', () => cycles() >= seen + 2);

    const inbox = (await folderItems(s, recipient!.address, 'inbox'))!.filter((i) => i.internetMessageId === sent.messageId);
    const sentItems = (await folderItems(s, sender!.address, 'sentitems'))!.filter((i) => i.internetMessageId === sent.messageId);
    assert.equal(inbox.length, 1, "exactly one copy in the recipient's Inbox");
    assert.equal(sentItems.length, 1, "exactly one copy in the sender's Sent Items");
    assert.ok(inbox[0]!.subject.startsWith(subject));
    assert.equal((await activityCounts(w.store, [sent.messageId])).get(sent.messageId), 1, 'one activity for the Message-ID');

    // Seen through Graph itself: the Sent Items copy is found by the Message-ID Liaison generated, and by Liaison's
    // identifier (the single-value extended property the connector marks its drafts with).
    const graph = graphCaller(s, w.graph);
    try {
      const filter = encodeURIComponent(`internetMessageId eq '${sent.messageId}'`);
      const listed = await graph.get<{ value: Array<{ id: string; internetMessageHeaders?: Array<{ name: string; value: string }> }> }>(
        `/v1.0/users/${encodeURIComponent(sender!.address)}/mailFolders/sentitems/messages?$filter=${filter}&$select=id,subject,internetMessageId,internetMessageHeaders`,
      );
      assert.equal(listed.status, 200, listed.text);
      assert.equal(listed.json.value.length, 1, `one Sent Items copy with the Message-ID: ${listed.text}`);
      const property = `singleValueExtendedProperties/any(ep: ep/id eq '${LIAISON_PROPERTY_ID}' and ep/value eq '${sent.messageId}')`;
      const marked = await graph.get<{ value: Array<{ id: string }> }>(
        `/v1.0/users/${encodeURIComponent(sender!.address)}/mailFolders/sentitems/messages?$filter=${encodeURIComponent(property)}&$select=id`,
      );
      assert.equal(marked.status, 200, marked.text);
      assert.deepEqual(marked.json.value.map((m) => m.id), [listed.json.value[0]!.id], "the Sent Items copy carries Liaison's identifier");
      const mime = await graph.get(`/v1.0/users/${encodeURIComponent(sender!.address)}/messages/${listed.json.value[0]!.id}/$value`);
      assert.equal(mime.status, 200);
      assert.ok(mime.text.includes(sent.messageId), 'the copy is the message Liaison composed');
      const drafts = await graph.get<{ value: Array<{ subject: string }> }>(`/v1.0/users/${encodeURIComponent(sender!.address)}/mailFolders/drafts/messages?$select=subject`);
      assert.equal(drafts.status, 200, drafts.text);
      return { sent, events: w.events, drafts: drafts.json.value, listed: listed.json.value[0]! };
    } finally {
      await graph.close();
    }
  }

  test('an email sent from the CRM arrives once in the Inbox and once in Sent Items', async () => {
    const { sent, drafts } = await sendOnce(null);
    assert.equal(sent.deliveryAttempts, 1);
    assert.deepEqual(drafts, [], 'no draft is left behind');
  });

  test('a send whose connection dropped after Graph carried it out is not sent again', async () => {
    const { sent, drafts } = await sendOnce({ kind: 'dropAfter', operation: 'graph.send' });
    assert.equal(sent.deliveryAttempts, 1, 'Sent Items showed it was sent: no second attempt');
    assert.deepEqual(drafts, [], 'no draft is left behind');
  });

  test('a send whose connection dropped before Graph carried it out is sent once on the next attempt', async () => {
    const { sent, drafts } = await sendOnce({ kind: 'drop', operation: 'graph.send' });
    assert.equal(sent.deliveryAttempts, 2, 'the first attempt did not go; the second did');
    assert.deepEqual(drafts, [], 'the draft of the first attempt was sent by the second, not left behind');
  });
});
