/**
 * The missing-mail audit end to end with the real connectors: the EWS sandbox, and Dovecot over IMAP and POP3.
 * Mail is synchronized; then one message goes missing (its outcome and activity are removed from the store, as a
 * lost write or a restored backup would leave it; the cursor is past it, so no pass lists it again); `liaison
 * audit` (a separate process, asking this test's engine, which holds the lease) reports it with the right counts
 * and exit 1; it is queued and tracked exactly once by the next pass; a second audit finds nothing (exit 0).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Store } from '../../src/store/store.js';
import { liaison } from '../helpers/cli.js';
import { mailServersSkip, startMailServers, type MailServers } from '../helpers/mail-servers.js';
import { message, openMailWorld, type MailWorld } from '../helpers/mail-world.js';
import { startTestSandbox, type TestSandbox } from '../helpers/sandbox.js';
import { activityCounts, deliver, describeCounts, messageId, openWorld, waitUntil, type World } from '../helpers/sync.js';

/** Removes a tracked message's outcome and activity from the mailbox, as if its write had been lost. */
async function loseMessage(store: Store, mailboxId: string, internetMessageId: string): Promise<void> {
  const db = store.database.db;
  const outcome = await db.selectFrom('message_outcomes').select(['id', 'activity_id']).where('mailbox_id', '=', mailboxId).where('internet_message_id', '=', internetMessageId).executeTakeFirstOrThrow();
  await db.deleteFrom('message_outcomes').where('id', '=', outcome.id).execute();
  if (outcome.activity_id) await db.deleteFrom('email_activities').where('id', '=', outcome.activity_id).execute();
}

async function outcomesOf(store: Store, mailboxId: string, internetMessageId: string): Promise<number> {
  const rows = await store.database.db.selectFrom('message_outcomes').select('id').where('mailbox_id', '=', mailboxId).where('internet_message_id', '=', internetMessageId).execute();
  return rows.length;
}

interface Scenario {
  store: Store;
  dataDir: string;
  mailbox: { id: string; address: string };
  deliver(subject: string, id: string): Promise<void>;
  startEngine(): { stop(): Promise<void> };
}

async function missingThenFound(s: Scenario, tag: string): Promise<void> {
  const ids = [1, 2, 3].map((i) => messageId(`${tag}-audit${i}`));
  for (const [i, id] of ids.entries()) await s.deliver(`Audit ${tag} ${i + 1}`, id);
  const engine = s.startEngine();
  try {
    await waitUntil('three tracked', async () => {
      const c = await activityCounts(s.store, ids);
      return c.size === 3 ? c : undefined;
    }, { timeoutMs: 60_000, describe: async () => describeCounts(ids, await activityCounts(s.store, ids)) });
    const lost = ids[1]!;
    await loseMessage(s.store, s.mailbox.id, lost);

    const first = await liaison(['audit', '--mailbox', s.mailbox.address, '--wait', '60'], { env: { LIAISON_DATA: s.dataDir } });
    assert.equal(first.code, 1, first.stdout + first.stderr);
    assert.match(first.stdout, /: 3 on the server, 2 tracked, 0 filtered, 0 failed, 1 missing; the gap began /);
    assert.ok(first.stdout.includes(lost), `the missing message is named: ${first.stdout}`);
    const [audit] = await s.store.audits.recent(s.mailbox.id, 1);
    assert.equal(audit!.missingMessages[0]!.internetMessageId, lost);
    const alerts = await s.store.alerts.list({ mailboxId: s.mailbox.id });
    assert.ok(alerts.items.some((a) => a.code === 'audit.missing-mail' && a.message.includes(lost)));

    await waitUntil('the missing message tracked again', async () => ((await s.store.audits.queuedCount(s.mailbox.id)) === 0 && (await activityCounts(s.store, [lost])).get(lost) === 1 ? true : undefined), { timeoutMs: 60_000 });
    assert.equal(await outcomesOf(s.store, s.mailbox.id, lost), 1, 'one outcome');
    const counts = await activityCounts(s.store, ids);
    assert.deepEqual([...counts.values()], [1, 1, 1], describeCounts(ids, counts));

    const second = await liaison(['audit', '--mailbox', s.mailbox.address, '--json'], { env: { LIAISON_DATA: s.dataDir } });
    assert.equal(second.code, 0, second.stdout + second.stderr);
    const [entry] = JSON.parse(second.stdout) as Array<{ audit: { onServer: number; tracked: number; missing: number } }>;
    assert.deepEqual([entry!.audit.onServer, entry!.audit.tracked, entry!.audit.missing], [3, 3, 0]);
  } finally {
    await engine.stop();
  }
}

describe('missing-mail audit against the EWS sandbox', () => {
  let sandbox: TestSandbox;
  let world: World;
  before(async () => {
    sandbox = await startTestSandbox();
    world = await openWorld(sandbox, { mailboxes: 1 });
  });
  after(async () => {
    await world?.close();
    await sandbox?.close();
  });

  test('a lost message is reported, queued, tracked once; the re-audit finds nothing', async () => {
    const mailbox = world.mailboxes[0]!;
    await missingThenFound(
      {
        store: world.store,
        dataDir: world.db.dataDir,
        mailbox,
        deliver: (subject, id) => deliver(sandbox, [mailbox.address], { from: 'customer@fabrikam.test', to: [mailbox.address], subject, messageId: id }),
        startEngine: () => world.startEngine({ auditIntervalMs: 0 }),
      },
      'ews',
    );
  });
});

describe('missing-mail audit against Dovecot', mailServersSkip(), () => {
  let servers: MailServers;
  const worlds: MailWorld[] = [];
  before(async () => {
    servers = await startMailServers();
  });
  after(async () => {
    for (const w of worlds) await w.close();
    await servers?.stop();
  });

  for (const serverType of ['imap-smtp', 'pop3-smtp'] as const) {
    test(`${serverType}: a lost message is reported, queued, tracked once; the re-audit finds nothing`, async () => {
      const w = await openMailWorld(servers, { serverType, mailboxes: 1 });
      worlds.push(w);
      const mailbox = w.mailboxes[0]!;
      await missingThenFound(
        {
          store: w.store,
          dataDir: w.db.dataDir,
          mailbox,
          deliver: (subject, id) => {
            const to = [mailbox.address];
            return servers.deliver({ from: 'customer@fabrikam.test', to }, message({ from: 'customer@fabrikam.test', to, subject, messageId: id }));
          },
          startEngine: () => w.startEngine({ auditIntervalMs: 0 }),
        },
        serverType,
      );
    });
  }
});
