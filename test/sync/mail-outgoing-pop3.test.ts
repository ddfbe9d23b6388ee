/**
 * POP3 tracking and SMTP sending end to end against the real test Dovecot and Postfix: POP3 mail is tracked once by
 * its UIDL and left on the server (or deleted after tracking when the profile says so); a send through Postfix
 * arrives in the recipient's Inbox and the sender's Sent folder once, also when the connection is cut after the
 * message's final dot; a 550 from Postfix is a permanent failure with its text; on POP3, where no Sent folder can
 * tell, a send cut after the dot is delivery uncertain and is not sent again.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import { startCutAfterDataProxy, type CutProxy } from '../helpers/cut-proxy.js';
import { mailServersSkip, startMailServers, type MailServers } from '../helpers/mail-servers.js';
import { message, openMailWorld, type MailWorld } from '../helpers/mail-world.js';
import { activityCounts, messageId, waitUntil } from '../helpers/sync.js';

describe('POP3 and SMTP against Dovecot and Postfix', mailServersSkip(), () => {
  let servers: MailServers;
  let proxy: CutProxy;
  const worlds: MailWorld[] = [];
  before(async () => {
    servers = await startMailServers();
    proxy = await startCutAfterDataProxy({ host: servers.host, ca: servers.ca, targetPort: servers.ports.smtps, caPem: servers.caPem });
  });
  after(async () => {
    for (const w of worlds) await w.close();
    await proxy?.close();
    await servers?.stop();
  });
  const world = async (serverType: 'imap-smtp' | 'pop3-smtp', mailboxes: number, profile: Parameters<typeof openMailWorld>[1]['profile'] = {}) => {
    const w = await openMailWorld(servers, { serverType, mailboxes, profile });
    worlds.push(w);
    return w;
  };
  const to = (address: string, id: string, subject = id) => servers.deliver({ from: 'carla@fabrikam.test', to: [address] }, message({ from: 'carla@fabrikam.test', to: [address], subject, messageId: id }));
  const sendFrom = async (w: MailWorld, recipient: string, subject: string) => {
    const box = w.mailboxes[0]!;
    const draft = await w.store.activities.createDraft(box.id, box.userId, { subject, bodyText: 'Hello from the CRM', to: [recipient] });
    await w.store.activities.send(draft.id);
    return draft.id;
  };

  test('POP3: mail is tracked once by its UIDL and left on the server; later mail is tracked too', async () => {
    const w = await world('pop3-smtp', 1);
    const box = w.mailboxes[0]!;
    const ids = [messageId('pop1'), messageId('pop2'), messageId('pop3')];
    for (const id of ids) await to(box.address, id);
    const engine = w.startEngine();
    await waitUntil('three activities', async () => (await activityCounts(w.store, ids)).size === 3 || undefined, { timeoutMs: 30_000 });
    const later = messageId('pop4');
    await to(box.address, later);
    await waitUntil('the fourth', async () => (await activityCounts(w.store, [later])).size === 1 || undefined, { timeoutMs: 30_000 });
    await new Promise((r) => setTimeout(r, 1000));
    await engine.stop();
    assert.deepEqual([...(await activityCounts(w.store, [...ids, later])).values()], [1, 1, 1, 1]);
    assert.equal((await servers.messagesIn(box.address, 'INBOX')).length, 4, 'left on the server');
  });

  test('POP3 with delete after tracking: tracked mail is removed from the server, nothing is tracked twice', async () => {
    const w = await world('pop3-smtp', 1, { deleteAfterTracking: true });
    const box = w.mailboxes[0]!;
    const ids = [messageId('del1'), messageId('del2')];
    for (const id of ids) await to(box.address, id);
    const engine = w.startEngine();
    await waitUntil('two activities', async () => (await activityCounts(w.store, ids)).size === 2 || undefined, { timeoutMs: 30_000 });
    await waitUntil('the server emptied', async () => (await servers.messagesIn(box.address, 'INBOX')).length === 0 || undefined, { timeoutMs: 30_000 });
    await engine.stop();
    assert.deepEqual([...(await activityCounts(w.store, ids)).values()], [1, 1]);
  });

  test('IMAP/SMTP: a send arrives in the recipient\'s Inbox and the sender\'s Sent folder once', async () => {
    const w = await world('imap-smtp', 2, {});
    const [sender, recipient] = w.mailboxes;
    const id = await sendFrom(w, recipient!.address, 'Quote 1');
    const engine = w.startEngine();
    const sent = await waitUntil('sent', async () => {
      const a = await w.store.activities.get(id);
      return a.status === 'sent' ? a : undefined;
    }, { timeoutMs: 30_000 });
    const [file] = await servers.waitForMail(recipient!.address, 1);
    await engine.stop();
    const arrived = await readFile(file!, 'utf8');
    assert.ok(arrived.includes(sent.messageId!), 'the recipient has the message with its Message-ID');
    assert.equal((await servers.messagesIn(sender!.address, 'Sent')).length, 1);
  });

  test('IMAP/SMTP: a send whose answer is cut after the final dot is delivered once, kept in Sent once, and not sent again', async () => {
    const w = await world('imap-smtp', 2, { outgoingServer: `smtps://${servers.host}:${proxy.port}` });
    const [sender, recipient] = w.mailboxes;
    const id = await sendFrom(w, recipient!.address, 'Cut after DATA');
    const cutsBefore = proxy.cuts;
    const engine = w.startEngine({ resolve: [...servers.resolve, `${servers.host}:${proxy.port}:127.0.0.1`] });
    const settled = await waitUntil('the send settled', async () => {
      const a = await w.store.activities.get(id);
      return a.status !== 'pending-send' && a.status !== 'sending' && a.status !== 'draft' ? a : undefined;
    }, { timeoutMs: 30_000 });
    await servers.waitForMail(recipient!.address, 1);
    await new Promise((r) => setTimeout(r, 2000));
    await engine.stop();
    assert.equal(proxy.cuts - cutsBefore, 1, 'the one attempt was cut, and no other was made');
    assert.equal((await servers.messagesIn(recipient!.address, 'INBOX')).length, 1, 'delivered once');
    assert.equal((await servers.messagesIn(sender!.address, 'Sent')).length, 1, 'kept in Sent once');
    assert.equal(settled.status, 'delivery-uncertain', 'the Sent copy says the message may have gone; a person says whether it did');
  });

  test('a 550 from Postfix is a permanent failure with its text', async () => {
    const w = await world('imap-smtp', 1);
    const id = await sendFrom(w, `nobody-${process.pid}@liaison.test`, 'To nobody');
    const engine = w.startEngine();
    const failed = await waitUntil('failed', async () => {
      const a = await w.store.activities.get(id);
      return a.status === 'failed' ? a : undefined;
    }, { timeoutMs: 30_000 });
    await engine.stop();
    assert.match(failed.failureReason ?? '', /550 5\.1\.1 .*User unknown in virtual mailbox table/);
    assert.equal(failed.deliveryAttempts, 1, 'not retried');
  });

  test('POP3/SMTP: a send cut after the final dot is delivery uncertain, with an alert, and is not sent again', async () => {
    const w = await world('pop3-smtp', 2, { outgoingServer: `smtps://${servers.host}:${proxy.port}` });
    const [, recipient] = w.mailboxes;
    const id = await sendFrom(w, recipient!.address, 'Cut on POP3');
    const cutsBefore = proxy.cuts;
    const engine = w.startEngine({ resolve: [...servers.resolve, `${servers.host}:${proxy.port}:127.0.0.1`] });
    await waitUntil('delivery uncertain', async () => (await w.store.activities.get(id)).status === 'delivery-uncertain' || undefined, { timeoutMs: 30_000 });
    await new Promise((r) => setTimeout(r, 2000));
    await engine.stop();
    assert.equal(proxy.cuts - cutsBefore, 1);
    assert.equal((await servers.messagesIn(recipient!.address, 'INBOX')).length, 1, 'delivered once');
    const alerts = await w.store.alerts.list({ mailboxId: w.mailboxes[0]!.id });
    const alert = alerts.items.find((a) => a.code === 'send.delivery-uncertain');
    assert.ok(alert, 'an alert asks a person to decide');
    assert.equal(alert.activityId, id);
  });
});
