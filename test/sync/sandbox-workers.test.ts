/**
 * More than one process: two `liaison worker` processes (run from source, as the other CLI tests run it) on one
 * PostgreSQL database share 50 mailboxes while mail arrives, and every message is tracked exactly once; one
 * killed with SIGKILL in the middle of its cycles leaves its mailboxes to the other once its leases expire,
 * still exactly once.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { start, type Running } from '../helpers/cli.js';
import { startTestSandbox, type TestSandbox } from '../helpers/sandbox.js';
import { POSTGRES_URL, postgres } from '../helpers/stores.js';
import { activityCounts, addFault, deliverAll, describeCounts, messageId, openWorld, waitUntil, type World } from '../helpers/sync.js';

/**
 * `liaison worker` has no flag for the lease length yet, so a killed worker's mailboxes wait out the default
 * 60 s lease: the deadline after the kill allows for it. A short lease (e.g. --lease-ms) would make this fast.
 */
const LEASE_FLAGS: string[] = ['--lease-seconds', '5'];
const LEASE_MS = 5_000;

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

  function worker(id: string): Running {
    const schema = (w.db.options as { postgresSchema?: string }).postgresSchema!;
    const url = new URL(POSTGRES_URL);
    // The test's own schema, through libpq's options parameter, which the pg driver reads from the URL.
    url.searchParams.set('options', `-c search_path=${schema}`);
    // The data folder holds the store's secret key; the database is the test's PostgreSQL schema.
    const running = start(['worker', '--database-url', url.toString(), '--data', w.db.dataDir, '--worker-id', id, ...LEASE_FLAGS], {
      env: { LIAISON_RESOLVE: w.resolve.join(',') },
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

  const allTracked = (ids: string[], what: string, timeoutMs = 90_000) =>
    waitUntil(
      what,
      async () => {
        const found = await activityCounts(w.store, ids);
        return found.size === ids.length ? found : undefined;
      },
      { timeoutMs, intervalMs: 250, describe: async () => `${describeCounts(ids, await activityCounts(w.store, ids))}; workers said:\n${workers.map((x) => x.output().slice(-2000)).join('\n---\n')}` },
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

    // Slow fetches make cycles long; worker A is killed while it holds leases, i.e. in the middle of cycles.
    await addFault(s, { kind: 'slow', operation: 'GetItem', delayMs: 400 });
    const late = await deliverRound('late', 1);
    const heldByA = () =>
      w.store.database.db.selectFrom('mailboxes').select(['id']).where('lease_owner', '=', 'worker-a').execute();
    const held = await waitUntil('worker A to be in the middle of a cycle', async () => {
      const rows = await heldByA();
      return rows.length > 0 ? rows.map((r) => r.id) : undefined;
    }, { timeoutMs: 60_000, intervalMs: 25 });
    a.child.kill('SIGKILL');
    await new Promise<void>((resolve) => (a.child.exitCode !== null || a.child.signalCode !== null ? resolve() : a.child.once('close', () => resolve())));
    await s.control('DELETE', '/faults');
    const afterKill = await deliverRound('after-kill', 1);
    const all = [...ids, ...late, ...afterKill];
    const final = await allTracked(all, "worker B to track everything, worker A's mailboxes included", LEASE_MS + 90_000);
    assert.deepEqual(all.filter((id) => final.get(id) !== 1), [], describeCounts(all, final));
    // Mail to every mailbox after the kill was tracked, so B took over the ones A died holding, once their leases expired.
    assert.deepEqual((await heldByA()).map((r) => r.id), [], `no mailbox is left leased to the dead worker (it held ${held.length})`);
    const failing = (await Promise.all(w.mailboxes.map((m) => w.store.mailboxes.get(m.id)))).filter((m) => m.incomingStatus === 'failure' || !m.enabled);
    assert.deepEqual(failing.map((m) => [m.emailAddress, m.lastError]), [], 'no mailbox failed along the way (a doubled commit would have)');
    assert.equal(b.child.exitCode, null, 'worker B is still running');
    assert.equal(await b.stop(), 0, 'worker B stops cleanly on SIGTERM');
  });
});
