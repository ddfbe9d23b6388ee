/**
 * `liaison audit`: a worker (this test's engine, a fake server behind it) holds the mailbox's lease and runs the
 * audit the command asks for; the command prints per mailbox on the server / tracked / filtered by rule / failed /
 * missing, exits 1 when mail is missing, 0 once it is processed, and 2 when no worker ran the audit in time.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createSyncEngine } from '../src/sync/engine.js';
import type { SyncEngine } from '../src/sync/engine-types.js';
import { FakeServer, fakeRegistry } from './helpers/audit-fake-server.js';
import { liaison } from './helpers/cli.js';
import { waitFor } from './helpers/engine-harness.js';
import { sqlite, type TestStore } from './helpers/stores.js';

describe('liaison audit', () => {
  let t: TestStore;
  let mailboxId: string;
  let engine: SyncEngine | null = null;
  const server = new FakeServer();
  const address = 'audited@contoso.test';

  before(async () => {
    t = await sqlite.open();
    const owner = await t.store.users.create({ name: 'Owner', email: 'owner@contoso.test', isAdmin: true });
    const profile = await t.store.profiles.create({
      name: 'Contoso Exchange',
      serverType: 'exchange',
      autodiscover: false,
      incomingServer: 'https://mail.contoso.test/EWS/Exchange.asmx',
      username: 'svc@contoso.test',
      password: 'pw',
      ownerId: owner.id,
      processEmailFrom: '2026-01-01T00:00:00.000Z',
    });
    const user = await t.store.users.create({ name: 'Audited', email: address, incomingFilter: 'all' });
    mailboxId = user.mailboxId!;
    await t.store.mailboxes.update(mailboxId, { profileId: profile.id, approvalStatus: 'approved', enabled: true, outgoingMethod: 'none' });
    const idle = await t.store.users.create({ name: 'Idle', email: 'idle@contoso.test', incomingFilter: 'all' });
    await t.store.mailboxes.update(idle.mailboxId!, { profileId: profile.id, approvalStatus: 'approved', enabled: true, outgoingMethod: 'none' });
    server.deliver(1, 'Old', '2025-05-01T00:00:00.000Z');
    for (let n = 2; n <= 5; n += 1) server.deliver(n);
    server.skipped.add('id-4');
    server.ignoreSince = true;
  });
  after(async () => {
    await engine?.stop();
    await t?.cleanup();
  });

  const env = () => ({ LIAISON_DATA: t.dataDir });

  test('no worker running: exit 2, the audit stays queued', async () => {
    const result = await liaison(['audit', '--mailbox', 'idle@contoso.test', '--wait', '0'], { env: env() });
    assert.equal(result.code, 2, result.stderr);
    assert.match(result.stdout, /not audited yet/);
  });

  test('missing mail: exit 1 with the counts, then exit 0 once the next pass tracked it', async () => {
    engine = createSyncEngine({ sync: t.store.sync, connectors: fakeRegistry(server), resolve: [], pollFloorMs: 50, leaseMs: 5_000, push: false });
    engine.start();
    const first = await liaison(['audit', '--mailbox', address], { env: env() });
    assert.equal(first.code, 1, first.stderr + first.stdout);
    assert.match(first.stdout, /audited@contoso\.test: 5 on the server, 3 tracked, 1 filtered \(before-process-email-from 1\), 0 failed, 1 missing; the gap began 2026-11-01T08:04:00\.000Z/);
    assert.match(first.stdout, /missing: "Message 4" from sender@fabrikam\.test/);

    await waitFor('processed', async () => (await t.store.audits.queuedCount(mailboxId)) === 0);
    const json = await liaison(['audit', '--profile', 'Contoso Exchange', '--json'], { env: env() });
    assert.equal(json.code, 0, json.stderr + json.stdout);
    const entries = JSON.parse(json.stdout) as Array<{ address: string; status: string; audit: { onServer: number; tracked: number; missing: number } }>;
    assert.deepEqual(entries.map((e) => e.address).sort(), ['audited@contoso.test', 'idle@contoso.test'], 'every mailbox of the profile');
    const entry = entries.find((e) => e.address === address);
    assert.equal(entry!.status, 'completed');
    assert.deepEqual([entry!.audit.onServer, entry!.audit.tracked, entry!.audit.missing], [5, 4, 0]);
  });

  test('an unknown mailbox is refused with a clear message', async () => {
    const result = await liaison(['audit', '--mailbox', 'nobody@contoso.test'], { env: env() });
    assert.equal(result.code, 1);
    assert.match(result.stderr, /nobody@contoso\.test/);
  });
});
