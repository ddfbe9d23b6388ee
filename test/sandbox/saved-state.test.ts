/** A sandbox data folder saved before messages had the newer properties still loads, with their defaults. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Mailbox } from '../../src/sandbox/state/mailbox.js';
import { composeMime, readMime } from '../../src/sandbox/state/mime.js';
import type { MailboxData } from '../../src/sandbox/state/model.js';

test('messages saved without sensitivity, reminders, receipts, culture, flag or extended properties get the defaults', async () => {
  const mailbox = Mailbox.create('6a1c1f9e-2d53-4f0e-9d55-0c7e7d7e0001', 'old@contoso.test', 'Old', 'mail');
  const props = await readMime(await composeMime({ from: { name: 'A', address: 'a@fabrikam.test' }, subject: 'Saved long ago', text: 'x' }), new Date());
  mailbox.addItem(mailbox.distinguishedFolder('inbox')!, 'ref', props, true);
  // As an older sandbox wrote it: none of the newer properties.
  const saved = JSON.parse(JSON.stringify(mailbox.toData())) as MailboxData;
  for (const item of saved.items) {
    for (const key of ['sensitivity', 'reminderIsSet', 'reminderDueBy', 'reminderMinutesBeforeStart', 'isReadReceiptRequested', 'isDeliveryReceiptRequested', 'isResponseRequested', 'culture', 'flag', 'extended']) {
      delete (item.props as unknown as Record<string, unknown>)[key];
    }
  }
  const loaded = Mailbox.fromData(saved);
  const item = [...loaded.items.values()][0]!;
  assert.equal(item.props.subject, 'Saved long ago');
  assert.equal(item.props.sensitivity, 'Normal');
  assert.equal(item.props.reminderIsSet, false);
  assert.equal(item.props.culture, 'en-US');
  assert.equal(item.props.flag.status, 'NotFlagged');
  assert.deepEqual(item.props.extended, []);
});
