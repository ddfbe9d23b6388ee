/**
 * More than one process: two `liaison worker` processes (run from source, as the other CLI tests run it) on one
 * PostgreSQL database share 50 mailboxes while mail arrives, and every message is tracked exactly once; one
 * killed with SIGKILL in the middle of its cycles leaves its mailboxes to the other once its leases expire,
 * still exactly once.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { start, type Running } from '../helpers/cli.js';
import { startTestSandbox, type TestSandbox } from '../helpers/sandbox.js';
import { POSTGRES_URL, postgres } from '../helpers/stores.js';
import { activityCounts, addFault, deliverAll, describeCounts, messageId, openWorld, waitUntil, type World } from '../helpers/sync.js';

const LEASE_SECONDS = 3;

describe('two workers on PostgreSQL', postgres.suite, () => {
  let s: TestSandbox;
  let w: World;
  const workers: Running[] = [];
  before(async () => {
    s = await startTestSandbox();
    w = await openWorld(s, { kind: postgres, mailboxes: 50 });
  });
  after(async () => {
    for (const worker of workers) {
      if (worker.child.exitCode === null && worker.child.signalCode === null) worker.child.kill('SIGKILL');
    }
    await w?.close();
    await s?.close();
  });

  function worker(name: string): Running {
    const schema = (w.db.options as { postgresSchema?: string }).postgresSchema!;
    const url = new URL(POSTGRES_URL);
    // The test's own schema, through libpq's options parameter, which the pg driver reads from the URL.
    url.searchParams.set('options', `-c search_path=${schema}`);
    const running = start(['worker', '--database-url', url.toString(), '--data', w.db.dataDir, '--lease-seconds', String(LEASE_SECONDS), '--poll-floor-ms', '200'], {
      env: {
        LIAISON_SECRET_KEY: readFileSync(path.join(w.db.dataDir, 'secret.key'), 'utf8').trim(),
        LIAISON_RESOLVE: w.resolve.join(','),
        LIAISON_WORKER_ID: name,
      },
    });
    workers.push(running);
    return running;
  }

  const deliverRound = async (round: string, perMailbox: number) => {
    const deliveries = w.mailboxes.flatMap((box, i) =>
      Array.from({ length: perMailbox }, (_, j) => ({
        into: [box.address],
        message: { from: 'jane.doe@fabrikam.test', to: [box.address], subject: `${round} ${i}.${j}`, messageId: messageId(`${round}-${i}-${j}`) },
      })),
    );
    await deliverAll(s, deliveries);
    return deliveries.map((d) => d.message.messageId);
  };

  const allTracked = (ids: string[], what: string) =>
    waitUntil(
      what,
      async () => {
        const found = await activityCounts(w.store, ids);
        return found.size === ids.length ? found : undefined;
      },
      { timeoutMs: 90_000, intervalMs: 250, describe: async () => `${describeCounts(ids, await activityCounts(w.store, ids))}; workers said:\n${workers.map((x) => x.output().slice(-2000)).join('\n---\n')}` },
    );

  test('every message is tracked exactly once; a worker killed mid-cycle leaves its mailboxes to the other', async () => {
    const first = await deliverRound('before', 2);
    const a = worker('worker-a');
    const b = worker('worker-b');
    // Mail keeps arriving while both run.
    const during = await deliverRound('during', 1);
    const counts = await allTracked([...first, ...during], 'both workers to track the first rounds');
    const ids = [...first, ...during];
    assert.deepEqual(ids.filter((id) => counts.get(id) !== 1), [], describeCounts(ids, counts));

    // Slow fetches make cycles long, so the kill falls inside one; then worker A dies without a word.
    await addFault(s, { kind: 'slow', operation: 'GetItem', delayMs: 400 });
    const late = await deliverRound('late', 1);
    await waitUntil('a cycle to be under way', async () => ((await activityCounts(w.store, late)).size > 0 ? true : undefined), { timeoutMs: 60_000 });
    a.child.kill('SIGKILL');
    await new Promise<void>((resolve) => (a.child.exitCode !== null || a.child.signalCode !== null ? resolve() : a.child.once('close', () => resolve())));
    await s.control('DELETE', '/faults');
    const afterKill = await deliverRound('after-kill', 1);
    const all = [...ids, ...late, ...afterKill];
    const final = await allTracked(all, 'worker B to track everything, worker A\'s mailboxes included');
    assert.deepEqual(all.filter((id) => final.get(id) !== 1), [], describeCounts(all, final));
    // Mail to every one of the 50 mailboxes after the kill was tracked: B serves them all now.
    const leases = await w.store.database.db.selectFrom('mailboxes').select(['id', 'lease_owner']).where('id', 'in', w.mailboxes.map((m) => m.id)).execute();
    assert.ok(leases.every((l) => l.lease_owner !== 'worker-a'), 'no mailbox is left leased to the dead worker');
    assert.equal(b.child.exitCode, null, 'worker B is still running');
    assert.equal(await b.stop(), 0, 'worker B stops cleanly on SIGTERM');
  });
});
