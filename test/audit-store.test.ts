/**
 * The missing-mail audit's store (store.audits, the engine's `sync.audit`) on SQLite and PostgreSQL: runs with
 * their counts and capped list, the queue, the schedule and on-demand requests, every engine write fenced.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { MISSING_LIST_CAP, type MissingMessage } from '../src/domain/audit.js';
import { LeaseLostError, type AuditRunInput, type Lease } from '../src/sync/ports.js';
import type { Store } from '../src/store/store.js';
import { DATABASES, type TestStore } from './helpers/stores.js';

const T0 = new Date('2026-03-01T10:00:00.000Z');

function missing(n: number): MissingMessage {
  return { serverId: `s${n}`, internetMessageId: `<m${n}@x.test>`, receivedAt: new Date(T0.getTime() + n * 1000).toISOString(), subject: `S${n}`, from: 'a@x.test' };
}

function run(over: Partial<AuditRunInput> = {}): AuditRunInput {
  return {
    trigger: 'on-demand',
    startedAt: T0.toISOString(),
    finishedAt: new Date(T0.getTime() + 5000).toISOString(),
    status: 'completed',
    onServer: 10,
    tracked: 6,
    filtered: 2,
    filteredByRule: { 'before-process-email-from': 1, 'responses-to-crm-email': 1 },
    failed: 1,
    outOfScope: 3,
    missing: [missing(1)],
    gapBeganAt: missing(1).receivedAt,
    error: null,
    servedRequest: null,
    ...over,
  };
}

for (const kind of DATABASES) {
  describe(`audit store on ${kind.name}`, kind.suite, () => {
    let t: TestStore;
    let store: Store;
    let profileId: string;
    let seq = 0;

    async function leased(): Promise<{ mailboxId: string; lease: Lease }> {
      const user = await store.users.create({ name: `u${++seq}`, email: `u${seq}@contoso.test` });
      await store.mailboxes.update(user.mailboxId!, { profileId, approvalStatus: 'approved', enabled: true });
      for (let i = 0; i < 50; i += 1) {
        const [granted] = await store.sync.claimDue('w1', 1, 60_000, T0);
        if (!granted) break;
        if (granted.lease.mailboxId === user.mailboxId) return { mailboxId: user.mailboxId!, lease: granted.lease };
        await store.sync.release(granted.lease, new Date('2100-01-01T00:00:00.000Z'));
      }
      throw new Error('not claimable');
    }

    before(async () => {
      t = await kind.open();
      store = t.store;
      const owner = await store.users.create({ name: 'Owner', email: 'owner@contoso.test', isAdmin: true });
      const profile = await store.profiles.create({
        name: 'P',
        serverType: 'exchange',
        autodiscover: false,
        incomingServer: 'https://mail.contoso.test/EWS/Exchange.asmx',
        username: 'svc@contoso.test',
        password: 'pw',
        ownerId: owner.id,
      });
      profileId = profile.id;
    });
    after(async () => t?.cleanup());

    test('an audit is recorded with its counts, queues its missing messages once, and raises its alert in one write', async () => {
      const { mailboxId, lease } = await leased();
      const many = Array.from({ length: MISSING_LIST_CAP + 5 }, (_, i) => missing(i + 1));
      const alert = { level: 'warning' as const, scope: 'mailbox' as const, code: 'audit.missing-mail', message: 'missing' };
      const id = await store.audits.recordAudit(lease, run({ missing: many }), new Date('2026-03-02T10:00:00.000Z'), alert);
      const [latest] = await store.audits.recent(mailboxId);
      assert.equal(latest!.id, id);
      assert.equal(latest!.missing, MISSING_LIST_CAP + 5, 'the total is kept');
      assert.equal(latest!.missingMessages.length, MISSING_LIST_CAP, 'the list is capped');
      assert.deepEqual(latest!.missingMessages[0], many[0]);
      assert.deepEqual(latest!.filteredByRule, { 'before-process-email-from': 1, 'responses-to-crm-email': 1 });
      assert.equal(latest!.onServer, 10);
      assert.equal(latest!.outOfScope, 3);
      assert.equal(await store.audits.queuedCount(mailboxId), MISSING_LIST_CAP + 5, 'every missing message is queued');
      // A second audit finding the same messages queues nothing twice.
      await store.audits.recordAudit(lease, run({ startedAt: '2026-03-01T11:00:00.000Z', missing: many.slice(0, 3) }), new Date('2026-03-02T11:00:00.000Z'), null);
      assert.equal(await store.audits.queuedCount(mailboxId), MISSING_LIST_CAP + 5);
      const queued = await store.audits.queued(mailboxId, 2);
      assert.deepEqual(queued.map((q) => q.serverId), ['s1', 's2']);
      await store.audits.dequeue(lease, ['s1', 's2']);
      assert.equal(await store.audits.queuedCount(mailboxId), MISSING_LIST_CAP + 3);
      const alerts = await store.alerts.list({ mailboxId });
      assert.equal(alerts.items.filter((a) => a.code === 'audit.missing-mail').length, 1);
      assert.equal((await store.audits.latest([mailboxId])).get(mailboxId)!.startedAt, '2026-03-01T11:00:00.000Z');
    });

    test('a request makes the mailbox due and is served by the first audit that starts after it', async () => {
      const { mailboxId, lease } = await leased();
      await store.sync.release(lease, new Date('2100-01-01T00:00:00.000Z'));
      const asked = await store.audits.request(mailboxId, new Date('2026-03-01T12:00:00.000Z'));
      assert.equal((await store.mailboxes.get(mailboxId)).nextDueAt, asked, 'due now');
      assert.equal((await store.audits.schedule(mailboxId)).requestedAt, asked);
      const [claim] = (await store.sync.claimDue('w2', 10, 60_000, new Date('2026-03-01T12:00:01.000Z'))).filter((c) => c.lease.mailboxId === mailboxId);
      assert.ok(claim, 'claimed at once');
      // A second request while the first waits is the same request.
      assert.equal(await store.audits.request(mailboxId, new Date('2026-03-01T12:00:00.500Z')), asked);
      // A scheduled audit, or one that served another request, does not answer it.
      await store.audits.recordAudit(claim.lease, run({ trigger: 'scheduled' }), new Date('2026-03-02T00:00:00.000Z'), null);
      await store.audits.recordAudit(claim.lease, run({ servedRequest: '2026-03-01T11:00:00.000Z' }), new Date('2026-03-02T00:00:00.000Z'), null);
      assert.equal((await store.audits.schedule(mailboxId)).requestedAt, asked);
      assert.equal(await store.audits.serving(mailboxId, asked), null);
      // Served whatever the worker's clock says.
      await store.audits.recordAudit(claim.lease, run({ startedAt: '2026-03-01T11:59:00.000Z', servedRequest: asked }), new Date('2026-03-02T12:00:00.000Z'), null);
      assert.deepEqual(await store.audits.schedule(mailboxId), { dueAt: '2026-03-02T12:00:00.000Z', requestedAt: null });
      assert.equal((await store.audits.serving(mailboxId, asked))!.startedAt, '2026-03-01T11:59:00.000Z');
    });

    test('outcomes match by server id or Internet Message-ID; writes of a lost lease are refused', async () => {
      const { mailboxId, lease } = await leased();
      await store.sync.commitIncoming(lease, {
        folder: 'inbox',
        cursor: null,
        outcomes: [
          { kind: 'filtered', serverId: 'a', internetMessageId: '<a@x.test>', rule: 'none' },
          { kind: 'failed', serverId: 'b', internetMessageId: '<b@x.test>', error: { code: 'x', message: 'y', serverResponse: null } },
        ],
      });
      const found = await store.audits.outcomesMatching(mailboxId, ['a', 'zz'], ['<b@x.test>']);
      assert.deepEqual(found.map((f) => [f.serverId, f.kind, f.rule]).sort(), [['a', 'filtered', 'none'], ['b', 'failed', null]]);
      const stale = { ...lease, token: lease.token - 1 };
      await assert.rejects(store.audits.recordAudit(stale, run(), new Date(), null), LeaseLostError);
      await assert.rejects(store.audits.dequeue(stale, ['a']), LeaseLostError);
      await assert.rejects(store.audits.scheduleNext(stale, new Date()), LeaseLostError);
      assert.deepEqual(await store.audits.recent(mailboxId), []);
    });
  });
}
