/**
 * Incoming email over IMAP, end to end: the real test Dovecot, mail delivered to it through the real test Postfix,
 * the imap-smtp connector logging in with the profile's master user, the engine and a real store. Mail to several
 * mailboxes is tracked once per Message-ID with parties and replies correlated; a UIDVALIDITY change re-tracks
 * nothing; a message Dovecot cannot give whole is a recorded failure while the rest are tracked; IDLE brings new
 * mail without waiting for the next poll.
 */
import assert from 'node:assert/strict';
import { readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { mailServersSkip, startMailServers, type MailServers } from '../helpers/mail-servers.js';
import { message, openMailWorld, type MailWorld } from '../helpers/mail-world.js';
import { activitiesByMessageId, activityCounts, describeCounts, messageId, waitUntil } from '../helpers/sync.js';

describe('incoming email over IMAP against Dovecot', mailServersSkip(), () => {
  let servers: MailServers;
  const worlds: MailWorld[] = [];
  before(async () => {
    servers = await startMailServers();
  });
  after(async () => {
    for (const w of worlds) await w.close();
    await servers?.stop();
  });
  const world = async (mailboxes: number, profile: Parameters<typeof openMailWorld>[1]['profile'] = {}) => {
    const w = await openMailWorld(servers, { serverType: 'imap-smtp', mailboxes, profile });
    worlds.push(w);
    return w;
  };

  test('200 messages to three mailboxes are tracked once each, parties resolved, replies correlated', async () => {
    const w = await world(3);
    const boxes = w.mailboxes;
    const contacts = [];
    for (let i = 0; i < 4; i++) contacts.push(await w.store.records.create('contact', { name: `Contact ${i}`, emailAddresses: [`contact${i}@fabrikam.test`] }));
    const ids: string[] = [];
    const replies = new Map<string, string>();
    let delivered = 0;
    const deliveries: Array<Promise<void>> = [];
    for (let i = 0; i < 200; i++) {
      const from = contacts[i % contacts.length]!.emailAddresses[0]!;
      const to = i % 10 === 0 ? [boxes[0]!.address, boxes[1]!.address] : [boxes[i % 3]!.address];
      const id = messageId(`imap${i}`);
      const inReplyTo = i >= 180 ? ids[i - 180] : undefined;
      if (inReplyTo) replies.set(id, inReplyTo);
      ids.push(id);
      deliveries.push(servers.deliver({ from, to }, message({ from, to, subject: `Message ${i}`, messageId: id, ...(inReplyTo ? { inReplyTo, references: [inReplyTo] } : {}) })).then(() => void (delivered += 1)));
      if (deliveries.length >= 8) await Promise.all(deliveries.splice(0));
    }
    await Promise.all(deliveries);
    assert.equal(delivered, 200);
    const engine = w.startEngine();
    const counts = await waitUntil('200 activities', async () => {
      const c = await activityCounts(w.store, ids);
      return c.size === 200 ? c : undefined;
    }, { timeoutMs: 90_000, describe: async () => describeCounts(ids, await activityCounts(w.store, ids)) });
    await engine.stop();
    assert.deepEqual([...counts.values()].filter((n) => n !== 1), [], describeCounts(ids, counts));
    const byId = await activitiesByMessageId(w.store, ids);
    const first = byId.get(ids[0]!)!;
    assert.equal(first.mailboxIds.length, 2, 'the message to two mailboxes is one activity linked to both');
    assert.deepEqual(first.from[0]!.record, { type: 'contact', id: contacts[0]!.id }, 'the sender resolved to the contact that owns the address');
    for (const [reply, original] of replies) assert.equal(byId.get(reply)!.inReplyTo, original);

    // An email sent from the CRM (through Postfix, its copy appended to Sent), about an account: a reply to it
    // correlates by In-Reply-To and takes its regarding record.
    const account = await w.store.records.create('account', { name: 'Adatum', emailAddresses: ['orders@adatum.test'] });
    const regarding = { type: 'account' as const, id: account.id };
    const draft = await w.store.activities.createDraft(boxes[0]!.id, boxes[0]!.userId, { subject: 'Your quote', bodyText: 'Here is the quote.', to: [boxes[2]!.address], regarding });
    await w.store.activities.send(draft.id);
    const again = w.startEngine();
    const sent = await waitUntil('the CRM email sent', async () => {
      const now = await w.store.activities.get(draft.id);
      return now.status === 'sent' ? now : undefined;
    }, { timeoutMs: 30_000, describe: async () => JSON.stringify(await w.store.activities.get(draft.id)) });
    const replyId = messageId('reply');
    const contact = contacts[1]!.emailAddresses[0]!;
    await servers.deliver({ from: contact, to: [boxes[0]!.address] }, message({ from: contact, to: [boxes[0]!.address], subject: 'RE: Your quote', messageId: replyId, inReplyTo: sent.messageId!, references: [sent.messageId!] }));
    const [reply] = await waitUntil('the reply tracked', async () => {
      const found = await activitiesByMessageId(w.store, [replyId]);
      return found.size === 1 ? [...found.values()] : undefined;
    }, { timeoutMs: 30_000 });
    await again.stop();
    assert.deepEqual(reply!.regarding, regarding, 'a reply by In-Reply-To inherits the regarding record of the CRM email');
    const sentCopies = await servers.messagesIn(boxes[0]!.address, 'Sent');
    assert.equal(sentCopies.length, 1, 'one copy in Sent');
    assert.equal((await activityCounts(w.store, [sent.messageId!])).get(sent.messageId!), 1, 'the recipient mailbox links the CRM email instead of tracking it again');
  });

  test('a UIDVALIDITY change re-reads the Inbox and tracks nothing twice', async () => {
    const w = await world(1);
    const [box] = w.mailboxes;
    const ids = [messageId('uv1'), messageId('uv2')];
    for (const id of ids) await servers.deliver({ from: 'carla@fabrikam.test', to: [box!.address] }, message({ from: 'carla@fabrikam.test', to: [box!.address], subject: id, messageId: id }));
    let engine = w.startEngine();
    await waitUntil('two activities', async () => (await activityCounts(w.store, ids)).size === 2 || undefined, { timeoutMs: 30_000 });
    await engine.stop();
    // Dovecot renumbers a folder whose UID list is gone: UIDVALIDITY changes and every message gets new UIDs.
    const maildir = box!.user.maildir;
    for (const name of await readdir(maildir)) if (name.startsWith('dovecot-uidlist')) await rm(join(maildir, name));
    const third = messageId('uv3');
    await servers.deliver({ from: 'carla@fabrikam.test', to: [box!.address] }, message({ from: 'carla@fabrikam.test', to: [box!.address], subject: third, messageId: third }));
    engine = w.startEngine();
    const all = [...ids, third];
    const counts = await waitUntil('the third activity', async () => {
      const c = await activityCounts(w.store, all);
      return c.size === 3 ? c : undefined;
    }, { timeoutMs: 30_000 });
    await new Promise((r) => setTimeout(r, 1000));
    await engine.stop();
    assert.deepEqual([...(await activityCounts(w.store, all)).values()], [1, 1, 1], describeCounts(all, counts));
  });

  test('a message Dovecot cannot give whole is a recorded failure; the others are tracked', async () => {
    const w = await world(1);
    const [box] = w.mailboxes;
    const good = [messageId('ok1'), messageId('ok2')];
    const bad = messageId('broken');
    await servers.deliver({ from: 'carla@fabrikam.test', to: [box!.address] }, message({ from: 'carla@fabrikam.test', to: [box!.address], subject: 'ok1', messageId: good[0]! }));
    await servers.deliver({ from: 'carla@fabrikam.test', to: [box!.address] }, message({ from: 'carla@fabrikam.test', to: [box!.address], subject: 'broken', messageId: bad, body: 'x'.repeat(5000) }));
    await servers.deliver({ from: 'carla@fabrikam.test', to: [box!.address] }, message({ from: 'carla@fabrikam.test', to: [box!.address], subject: 'ok2', messageId: good[1]! }));
    const files = await servers.waitForMail(box!.address, 3);
    // The middle message's file loses its body behind Dovecot's back: its size (S= in the name) no longer holds.
    let target = files[0]!;
    for (const f of files) if ((await readFile(f, 'utf8')).includes(bad)) target = f;
    const text = await readFile(target, 'utf8');
    await writeFile(target, text.slice(0, text.indexOf('\r\n\r\n') > 0 ? text.indexOf('\r\n\r\n') + 4 : text.indexOf('\n\n') + 2) + 'cut');
    const engine = w.startEngine();
    await waitUntil('the two good messages', async () => (await activityCounts(w.store, good)).size === 2 || undefined, { timeoutMs: 30_000 });
    const failure = await waitUntil('the failure recorded', async () => {
      const rows = await w.store.database.db.selectFrom('message_outcomes').select(['outcome', 'internet_message_id', 'error_code', 'error_message']).where('mailbox_id', '=', box!.id).where('outcome', '=', 'failed').execute();
      return rows.length > 0 ? rows : undefined;
    }, { timeoutMs: 30_000 });
    await engine.stop();
    assert.equal((await activityCounts(w.store, [bad])).size, 0, 'the broken message is not tracked as if it were whole');
    assert.equal(failure.length, 1);
    assert.match(`${failure[0]!.error_code} ${failure[0]!.error_message}`, /imap\.message-unavailable|bytes|would not give/);
  });

  test('IDLE brings a new message without waiting for the next poll', async () => {
    const w = await world(1, { minimumPollingIntervalMinutes: 60 } as never);
    const [box] = w.mailboxes;
    const engine = w.startEngine({ push: true, pollFloorMs: 3_600_000 });
    await waitUntil('the first cycle', () => w.events.some((e) => e.type === 'cycle' && e.direction === 'incoming') || undefined, { timeoutMs: 30_000 });
    await new Promise((r) => setTimeout(r, 1500));
    const id = messageId('idle');
    await servers.deliver({ from: 'carla@fabrikam.test', to: [box!.address] }, message({ from: 'carla@fabrikam.test', to: [box!.address], subject: 'pushed', messageId: id }));
    await waitUntil('the pushed message tracked', async () => (await activityCounts(w.store, [id])).size === 1 || undefined, { timeoutMs: 45_000 });
    await engine.stop();
  });
});
