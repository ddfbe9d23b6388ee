import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { folderItems, MemorySyncStore, newSandboxMailbox, runEngine, sandboxProfile, waitFor } from '../helpers/engine-harness.js';
import { startTestSandbox, type TestSandbox } from '../helpers/sandbox.js';

let s: TestSandbox;
before(async () => {
  s = await startTestSandbox();
});
after(async () => {
  await s.close();
});

describe('engine: outgoing email against the sandbox', () => {
  test("an email sent from the CRM arrives in the recipient's Inbox and the sender's Sent Items, once", async () => {
    const sync = new MemorySyncStore();
    const profile = sync.addProfile(sandboxProfile(s), { password: s.password });
    const sender = await newSandboxMailbox(s, 'sender');
    const recipient = await newSandboxMailbox(s, 'recipient');
    const mailbox = sync.addMailbox(sender, profile.id, { incoming: false });
    const email = sync.queueEmail(mailbox.id, { subject: 'Quote for the renewal', to: [{ address: recipient, displayName: 'Recipient' }] });

    const run = runEngine(s, sync);
    await waitFor('the email sent', () => email.status === 'sent');
    // One more cycle: nothing is sent again.
    await waitFor('a further outgoing cycle', () => run.events.filter((e) => e.type === 'cycle' && e.direction === 'outgoing').length >= 2);
    await run.stop();

    const inbox = (await folderItems(s, recipient, 'inbox')).filter((i) => i.subject === 'Quote for the renewal');
    const sent = (await folderItems(s, sender, 'sentitems')).filter((i) => i.subject === 'Quote for the renewal');
    assert.equal(inbox.length, 1);
    assert.equal(sent.length, 1);
    assert.equal(inbox[0]!.internetMessageId, email.email.messageId, 'the stored Message-ID is the one sent');
    assert.equal(email.deliveryAttempts, 1);
    assert.deepEqual(run.events.filter((e) => e.type === 'sent').map((e) => e.type === 'sent' && e.activityId), [email.activityId]);
    assert.equal(sync.mailboxes.get(mailbox.id)!.outgoingStatus, 'success');
  });

  test('a connection dropped during the send: Sent Items is looked at first and the email is not sent twice', async () => {
    const sync = new MemorySyncStore();
    const profile = sync.addProfile(sandboxProfile(s), { password: s.password });
    const sender = await newSandboxMailbox(s, 'sender');
    const recipient = await newSandboxMailbox(s, 'recipient');
    const mailbox = sync.addMailbox(sender, profile.id, { incoming: false });
    const email = sync.queueEmail(mailbox.id, { subject: 'Dropped but delivered', to: [{ address: recipient, displayName: null }] });
    const fault = await s.control('POST', '/faults', { kind: 'drop', operation: 'CreateItem', mailbox: sender, times: 1 });
    assert.ok(fault.status < 300, JSON.stringify(fault.json));

    const run = runEngine(s, sync);
    await waitFor('the email marked sent', () => email.status === 'sent');
    await run.stop();

    // The sandbox cuts the connection before the send is carried out: Sent Items is searched right after the
    // dropped attempt and finds nothing, which is not proof (Exchange may still be carrying the send out), so the
    // email stays in sending; the next cycle searches again, and only then is the email sent again.
    const calls = s.records.filter((r) => (r.operation === 'CreateItem' || r.operation === 'FindItem') && r.request.includes(sender));
    assert.deepEqual(calls.map((r) => r.operation), ['CreateItem', 'FindItem', 'FindItem', 'CreateItem']);
    assert.equal((await folderItems(s, recipient, 'inbox')).filter((i) => i.subject === 'Dropped but delivered').length, 1);
    assert.equal((await folderItems(s, sender, 'sentitems')).filter((i) => i.subject === 'Dropped but delivered').length, 1);
    assert.equal(email.deliveryAttempts, 2);
  });

  test('an email left in sending by a crash after the send is found in Sent Items and not sent again', async () => {
    const sync = new MemorySyncStore();
    const profile = sync.addProfile(sandboxProfile(s), { password: s.password });
    const sender = await newSandboxMailbox(s, 'sender');
    const mailbox = sync.addMailbox(sender, profile.id, { incoming: false });
    const email = sync.queueEmail(mailbox.id, { subject: 'Sent before the crash', to: [{ address: 'someone@fabrikam.test', displayName: null }] });
    // What a worker killed between CreateItem and markSent leaves: the copy in Sent Items, the email in sending.
    const copy = await s.control('POST', `/mailboxes/${encodeURIComponent(sender)}/messages`, {
      from: sender,
      to: ['someone@fabrikam.test'],
      subject: 'Sent before the crash',
      body: 'Hello',
      messageId: email.email.messageId,
      folder: 'sentitems',
    });
    assert.ok(copy.status < 300, JSON.stringify(copy.json));
    email.status = 'sending';
    email.deliveryAttempts = 1;
    const createsBefore = s.records.filter((r) => r.operation === 'CreateItem').length;

    const run = runEngine(s, sync);
    await waitFor('the email marked sent', () => email.status === 'sent');
    await run.stop();
    assert.equal(s.records.filter((r) => r.operation === 'CreateItem').length, createsBefore, 'nothing was sent');
    assert.equal((await folderItems(s, sender, 'sentitems')).filter((i) => i.subject === 'Sent before the crash').length, 1);
  });

  test('a permanent refusal fails the email for good with an alert; the mailbox keeps going', async () => {
    const sync = new MemorySyncStore();
    const profile = sync.addProfile(sandboxProfile(s), { password: s.password });
    const sender = await newSandboxMailbox(s, 'sender');
    const mailbox = sync.addMailbox(sender, profile.id, { incoming: false });
    const email = sync.queueEmail(mailbox.id, { subject: 'No recipients at all', to: [] });
    const run = runEngine(s, sync);
    await waitFor('the email settled', () => email.status === 'failed' || email.status === 'sent');
    await run.stop();
    assert.equal(email.status, 'failed', `reason: ${email.reason}`);
    const alert = sync.alerts.find((a) => a.activityId === email.activityId);
    assert.ok(alert, 'an alert on the email');
    assert.equal(alert.scope, 'email');
    assert.equal(sync.mailboxes.get(mailbox.id)!.enabled, true);
  });
});
