/**
 * What the fault soak (bench/soak/, docs/RELIABILITY.md) found, as small reproductions against the sandbox.
 *
 * A send whose request timed out while the server was still carrying it out: the engine looks in Sent Items, does
 * not find it yet (the server has not finished), and sends it again on its next cycle, a moment later; then the
 * first request completes too and the recipient has two copies. Exchange carries out a request whose client has
 * gone (the sandbox's `slow` fault does the same: it waits, then carries the request out). Fixed: after an attempt
 * that timed out the email is left in sending for several request timeouts (sendSettleMs) before Sent Items is
 * looked at again and anything is resent (soak seed 1 hit it).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startTestSandbox, type TestSandbox } from '../helpers/sandbox.js';
import { addFault, folderItems, openWorld, waitUntil, type World } from '../helpers/sync.js';

describe('found by the fault soak', () => {
  let s: TestSandbox;
  let w: World | undefined;
  before(async () => {
    s = await startTestSandbox();
  });
  after(async () => {
    await w?.close();
    await s?.close();
  });

  test('a send that timed out while the server was still carrying it out is not sent again', async () => {
    w = await openWorld(s, { mailboxes: 2, profile: { requestTimeoutSeconds: 1 } });
    const [sender, recipient] = w.mailboxes;
    await addFault(s, { kind: 'slow', operation: 'CreateItem', mailbox: sender!.address, delayMs: 2_500, times: 1 });
    const draft = await w.store.activities.createDraft(sender!.id, sender!.userId, { subject: 'Late but carried out', bodyText: 'Once.', to: [recipient!.address] });
    await w.store.activities.send(draft.id);
    w.startEngine();
    const settled = await waitUntil('the send to settle', async () => {
      const now = await w!.store.activities.get(draft.id);
      return now.status === 'sent' || now.status === 'delivery-uncertain' || now.status === 'failed' ? now : undefined;
    });
    // The slow request completes 2.5 s after it started, whatever the engine did meanwhile.
    await new Promise((r) => setTimeout(r, 4_000));
    const copies = ((await folderItems(s, recipient!.address, 'inbox')) ?? []).filter((i) => i.internetMessageId === settled.messageId);
    assert.equal(copies.length, 1, `one copy at the recipient (status ${settled.status}, ${settled.deliveryAttempts} attempts)`);
  });
});
