/**
 * The hostile-mail corpus (docs/HOSTILE-MAIL.md) through the real engine: every message delivered to the EWS
 * sandbox and to the real test Dovecot (IMAP), processed by the sync engine into a real store, ends in exactly
 * one outcome (tracked, filtered with its rule, or failed with its reason and then moved to Undeliverable), a
 * forged copy of a Message-ID does not touch the first message's activity, memory stays bounded around a 50 MB
 * message, no attachment name becomes a file and nothing from a message runs. The committed corpus is exactly
 * what the generator writes.
 */
import assert from 'node:assert/strict';
import { chown, mkdir, mkdtemp, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { CORPUS_DIR, corpus, fileNameOf, largeMessages, type HostileMessage, writeCorpus } from '../fixtures/hostile-mail/generate.js';
import { checkCorpusOutcomes, committedCorpus, describeRows, outcomeRows, peakRssGrowth, settled } from '../helpers/hostile-mail.js';
import { mailServersSkip, startMailServers, type MailServers } from '../helpers/mail-servers.js';
import { openMailWorld, type MailWorld } from '../helpers/mail-world.js';
import { startTestSandbox, type TestSandbox } from '../helpers/sandbox.js';
import { postgres, sqlite } from '../helpers/stores.js';
import { deliverRaw, folderItems, openWorld, waitUntil, type World } from '../helpers/sync.js';

/** A generous bound on the growth of this process's memory (the sandbox runs in it too) around the 50 MB message. */
const MEMORY_BOUND = 1.5 * 1024 * 1024 * 1024;

/**
 * Runs the engine of a world (sandbox or Dovecot) until its one 50 MB message has an outcome, and checks what both
 * worlds promise: tracked, the attachment left out with a note naming it, memory bounded. Returns the activity.
 */
async function trackLargeMessage(w: Pick<World, 'store' | 'events' | 'startEngine'>, mailboxId: string) {
  const { peakGrowth, value: rows } = await peakRssGrowth(async () => {
    const engine = w.startEngine();
    try {
      return await waitUntil(
        'the 50 MB message to have an outcome',
        async () => {
          const found = await outcomeRows(w.store, mailboxId);
          return found.length > 0 && settled(found, false) ? found : undefined;
        },
        { timeoutMs: 90_000, intervalMs: 500, describe: async () => JSON.stringify(w.events.filter((e) => e.type !== 'tracked').slice(-3)) },
      );
    } finally {
      await engine.stop();
    }
  });
  assert.equal(rows.length, 1);
  assert.equal(
    rows[0]!.outcome,
    'tracked',
    `the 50 MB message is tracked (a failure here in a connector's size limit belongs to the connector: ${rows[0]!.error_code} ${rows[0]!.error_message})`,
  );
  const activity = await w.store.activities.get(rows[0]!.activity_id!);
  assert.ok(activity.notes.some((n) => n.includes('large.bin')), `a note names the attachment left out: ${JSON.stringify(activity.notes)}`);
  assert.ok(peakGrowth < MEMORY_BOUND, `memory grew by ${Math.round(peakGrowth / 1e6)} MB around a 50 MB message (bound ${MEMORY_BOUND / 1e6} MB)`);
  return activity;
}

describe('the hostile-mail corpus', () => {
  test('holds at least 300 messages covering every category, and the committed files are what the generator writes', async () => {
    const messages = corpus();
    assert.ok(messages.length >= 300, `${messages.length} messages`);
    const categories = new Set(messages.map((m) => m.category));
    for (const c of ['boundary', 'charset', 'encoded-word', 'nesting', 'zip-bomb', 'base64', 'quoted-printable', 'message-id', 'header-injection', 'recipients', 'null-bytes', 'file-name']) {
      assert.ok(categories.has(c as HostileMessage['category']), `the corpus covers ${c}`);
    }
    const large = largeMessages();
    assert.ok(large.some((m) => m.mime.length >= 50_000_000), 'a 50 MB message');
    assert.ok(large.some((m) => (m.mime.toString('latin1').match(/@contoso\.test>/g) ?? []).length >= 10_000), '10,000 recipients');

    const dir = await mkdtemp(join(tmpdir(), 'liaison-hostile-'));
    try {
      writeCorpus(dir, messages);
      const written = (await readdir(dir)).sort();
      const committed = (await readdir(CORPUS_DIR)).sort();
      assert.deepEqual(committed, written, 'the committed corpus has exactly the generated files (run the generator and commit)');
      for (const name of written) {
        assert.ok((await readFile(join(dir, name))).equals(await readFile(join(CORPUS_DIR, name))), `${name} is what the generator writes`);
      }
      const total = (await Promise.all(committed.map(async (n) => (await stat(join(CORPUS_DIR, n))).size))).reduce((a, b) => a + b, 0);
      assert.ok(total < 5 * 1024 * 1024, `the committed corpus stays small (${total} bytes)`);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
    assert.deepEqual(new Set(messages.map(fileNameOf)).size, messages.length, 'one file per message');
  });
});

describe('hostile mail through the EWS sandbox', () => {
  let s: TestSandbox;
  const worlds: World[] = [];
  before(async () => {
    s = await startTestSandbox();
  });
  after(async () => {
    for (const w of worlds) await w.close();
    await s?.close();
  });

  test('every message of the corpus ends in one outcome; the unreadable ones are moved to Undeliverable', async () => {
    // PostgreSQL when it is here: its text columns refuse NUL, which a message must not be able to turn into a
    // failed commit (and a cycle that fails forever); SQLite otherwise.
    const w = await openWorld(s, { mailboxes: 1, kind: postgres.suite.skip ? sqlite : postgres, profile: { moveFailedToUndeliverable: true } });
    worlds.push(w);
    const [box] = w.mailboxes;
    const messages = [...committedCorpus(), ...largeMessages().filter((m) => m.category !== 'size')];
    const delivered: Array<{ message: HostileMessage; serverId?: string }> = [];
    const refused: string[] = [];
    let next = 0;
    await Promise.all(
      Array.from({ length: 6 }, async () => {
        while (next < messages.length) {
          const message = messages[next++]!;
          try {
            const { itemId } = await deliverRaw(s, box!.address, message.mime);
            delivered.push({ message, serverId: itemId });
          } catch (error) {
            refused.push(`${message.name}: ${(error as Error).message.slice(0, 120)}`);
          }
        }
      }),
    );
    // The sandbox refuses an empty message and one its own MIME reader gives up on (a thousand parts), as
    // Exchange refuses to store what it cannot read; every other one is in.
    assert.deepEqual(refused.map((r) => r.split(':')[0]).sort(), ['boundary--thousand-empty-parts', 'structure--empty-file'], refused.join('\n'));

    const engine = w.startEngine();
    const rows = await waitUntil(
      'every delivered message to have a settled outcome',
      async () => {
        const found = await outcomeRows(w.store, box!.id);
        return found.length >= delivered.length && settled(found, true) ? found : undefined;
      },
      { timeoutMs: 90_000, intervalMs: 500, describe: async () => describeRows(await outcomeRows(w.store, box!.id)) },
    );
    await engine.stop();
    await checkCorpusOutcomes({ store: w.store, mailboxId: box!.id, delivered, rows, moveFailed: true });

    const undeliverable = rows.filter((r) => r.outcome === 'undeliverable');
    assert.ok(undeliverable.length >= 3, `a few unreadable messages were set aside: ${describeRows(rows)}`);
    const moved = (await folderItems(s, box!.address, 'Inbox/Undeliverable')) ?? [];
    assert.equal(moved.length, undeliverable.length, 'each one is in Inbox/Undeliverable');
    const crashes = w.events.filter((e) => e.type === 'failure');
    assert.deepEqual(crashes, [], 'no cycle failed');
  });

  test('a 50 MB message is tracked with memory bounded, its 36 MB attachment left out with a note', async () => {
    const w = await openWorld(s, { mailboxes: 1 });
    worlds.push(w);
    const [box] = w.mailboxes;
    const big = largeMessages().find((m) => m.category === 'size')!;
    await deliverRaw(s, box!.address, big.mime);
    const activity = await trackLargeMessage(w, box!.id);
    assert.equal(activity.attachments.length, 0, "the attachment is over the organization's limit (25 MiB at most)");
  });
});

describe('hostile mail through Dovecot (IMAP)', mailServersSkip(), () => {
  let servers: MailServers;
  const worlds: MailWorld[] = [];
  before(async () => {
    servers = await startMailServers();
  });
  after(async () => {
    for (const w of worlds) await w.close();
    await servers?.stop();
  });

  /**
   * Delivered as a local delivery agent does (Maildir: written into tmp/, renamed into new/), not through
   * Postfix: an MTA rewrites or refuses some of these bytes on the way, and the test is about what Dovecot serves.
   */
  async function intoMaildir(maildir: string, messages: readonly HostileMessage[]): Promise<void> {
    for (const sub of ['tmp', 'new', 'cur']) await mkdir(join(maildir, sub), { recursive: true });
    // The mail root (<root>/<domain>/<user>/Maildir) belongs to the user Dovecot runs the mailboxes as.
    const owner = await stat(join(maildir, '..', '..', '..'));
    for (const dir of [join(maildir, '..', '..'), join(maildir, '..'), maildir, ...['tmp', 'new', 'cur'].map((sub) => join(maildir, sub))]) await chown(dir, owner.uid, owner.gid);
    let n = 0;
    for (const message of messages) {
      n += 1;
      const name = `1764756000.M${n}P${process.pid}.hostile,S=${message.mime.length}`;
      await writeFile(join(maildir, 'tmp', name), message.mime);
      await chown(join(maildir, 'tmp', name), owner.uid, owner.gid);
      await rename(join(maildir, 'tmp', name), join(maildir, 'new', name));
    }
  }

  test('every message of the corpus ends in one outcome; the unreadable ones are moved to Undeliverable', async () => {
    const w = await openMailWorld(servers, { serverType: 'imap-smtp', mailboxes: 1, profile: { moveFailedToUndeliverable: true } });
    worlds.push(w);
    const [box] = w.mailboxes;
    const messages = [...committedCorpus(), ...largeMessages().filter((m) => m.category !== 'size')];
    await intoMaildir(box!.user.maildir, messages);
    const delivered = messages.map((message) => ({ message }));

    const engine = w.startEngine();
    const rows = await waitUntil(
      'every delivered message to have a settled outcome',
      async () => {
        const found = await outcomeRows(w.store, box!.id);
        return found.length >= delivered.length && settled(found, true) ? found : undefined;
      },
      {
        timeoutMs: 90_000,
        intervalMs: 500,
        describe: async () => `${describeRows(await outcomeRows(w.store, box!.id))}; events ${JSON.stringify(w.events.filter((e) => e.type !== 'tracked').slice(-3))}`,
      },
    );
    await engine.stop();
    await checkCorpusOutcomes({ store: w.store, mailboxId: box!.id, delivered, rows, moveFailed: true });
    const undeliverable = rows.filter((r) => r.outcome === 'undeliverable');
    assert.ok(undeliverable.length >= 3, `a few unreadable messages were set aside: ${describeRows(rows)}`);
    assert.equal((await servers.messagesIn(box!.address, 'INBOX/Undeliverable')).length, undeliverable.length, 'each one is in the Undeliverable folder');
    assert.deepEqual(w.events.filter((e) => e.type === 'failure'), [], 'no cycle failed');
  });

  test('a 50 MB message is tracked with memory bounded', async () => {
    const w = await openMailWorld(servers, { serverType: 'imap-smtp', mailboxes: 1 });
    worlds.push(w);
    const [box] = w.mailboxes;
    const big = largeMessages().find((m) => m.category === 'size')!;
    await intoMaildir(box!.user.maildir, [big]);
    await trackLargeMessage(w, box!.id);
  });
});
