/**
 * The missing-mail audit on an exchange-online mailbox, end to end: mail is synchronized over Graph; `liaison
 * audit` (a separate process, asking this test's engine, which holds the lease) reports the server's and the
 * store's counts and nothing missing; then one message goes missing from the store (its outcome and activity
 * removed, as a lost write would leave it; the delta link is past it, so no pass lists it again); the audit
 * reports that message missing (exit 1), it is tracked once by the next pass, and the re-audit finds nothing.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Store } from '../../src/store/store.js';
import { liaison } from '../helpers/cli.js';
import { openGraphWorld, type GraphWorld } from '../helpers/graph.js';
import { startTestSandbox, type TestSandbox } from '../helpers/sandbox.js';
import { activityCounts, deliver, describeCounts, messageId, waitUntil } from '../helpers/sync.js';

async function loseMessage(store: Store, mailboxId: string, internetMessageId: string): Promise<void> {
  const db = store.database.db;
  const outcome = await db.selectFrom('message_outcomes').select(['id', 'activity_id']).where('mailbox_id', '=', mailboxId).where('internet_message_id', '=', internetMessageId).executeTakeFirstOrThrow();
  await db.deleteFrom('message_outcomes').where('id', '=', outcome.id).execute();
  if (outcome.activity_id) await db.deleteFrom('email_activities').where('id', '=', outcome.activity_id).execute();
}

describe('missing-mail audit over Graph against the sandbox', () => {
  let s: TestSandbox;
  let w: GraphWorld;
  before(async () => {
    s = await startTestSandbox();
    w = await openGraphWorld(s, { mailboxes: 1 });
  });
  after(async () => {
    await w?.close();
    await s?.close();
  });

  test('after sync the audit counts the server and the store and finds nothing missing; a lost message is reported, then tracked once', async () => {
    const mailbox = w.mailboxes[0]!;
    const ids = [1, 2, 3, 4].map((i) => messageId(`graph-audit${i}`));
    for (const [i, id] of ids.entries()) await deliver(s, [mailbox.address], { from: 'customer@fabrikam.test', to: [mailbox.address], subject: `Audit graph ${i + 1}`, messageId: id });
    const engine = w.startEngine({ auditIntervalMs: 0 });
    await waitUntil(
      'four tracked',
      async () => {
        const c = await activityCounts(w.store, ids);
        return c.size === 4 ? c : undefined;
      },
      { timeoutMs: 60_000, describe: async () => `${describeCounts(ids, await activityCounts(w.store, ids))}; ${JSON.stringify(w.events.slice(-5))}` },
    );
    const env = { LIAISON_DATA: w.db.dataDir };

    const clean = await liaison(['audit', '--mailbox', mailbox.address, '--wait', '60', '--json'], { env });
    assert.equal(clean.code, 0, clean.stdout + clean.stderr);
    const [entry] = JSON.parse(clean.stdout) as Array<{ audit: { onServer: number; tracked: number; missing: number } }>;
    assert.deepEqual([entry!.audit.onServer, entry!.audit.tracked, entry!.audit.missing], [4, 4, 0], clean.stdout);

    const lost = ids[2]!;
    await loseMessage(w.store, mailbox.id, lost);
    const first = await liaison(['audit', '--mailbox', mailbox.address, '--wait', '60'], { env });
    assert.equal(first.code, 1, first.stdout + first.stderr);
    assert.match(first.stdout, /: 4 on the server, 3 tracked, 0 filtered, 0 failed, 1 missing; the gap began /);
    assert.ok(first.stdout.includes(lost), `the missing message is named: ${first.stdout}`);
    const [audit] = await w.store.audits.recent(mailbox.id, 1);
    assert.equal(audit!.missingMessages[0]!.internetMessageId, lost);
    const alerts = await w.store.alerts.list({ mailboxId: mailbox.id });
    assert.ok(alerts.items.some((a) => a.code === 'audit.missing-mail' && a.message.includes(lost)), 'an alert names the missing message');

    await waitUntil(
      'the missing message tracked again',
      async () => ((await w.store.audits.queuedCount(mailbox.id)) === 0 && (await activityCounts(w.store, [lost])).get(lost) === 1 ? true : undefined),
      { timeoutMs: 60_000 },
    );
    const counts = await activityCounts(w.store, ids);
    assert.deepEqual([...counts.values()], [1, 1, 1, 1], describeCounts(ids, counts));
    const second = await liaison(['audit', '--mailbox', mailbox.address, '--wait', '60', '--json'], { env });
    assert.equal(second.code, 0, second.stdout + second.stderr);
    const [again] = JSON.parse(second.stdout) as Array<{ audit: { onServer: number; tracked: number; missing: number } }>;
    assert.deepEqual([again!.audit.onServer, again!.audit.tracked, again!.audit.missing], [4, 4, 0]);
    await w.stopEngine(engine);
  });
});
