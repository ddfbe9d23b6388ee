/**
 * The demo that `liaison serve --sandbox` sets up, against a test sandbox seeded as `--seed demo` and a
 * throw-away store, with the real diagnostics service: everything the first start creates, and nothing more
 * (or different) on the next start.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { DEMO_ONLINE_PROFILE_NAME, DEMO_PROFILE_NAME, type DemoSetup, describeDemo, printEngineEvent, setupDemo } from '../src/cli/demo.js';
import { createDiagnostics } from '../src/diagnostics/index.js';
import type { DiagnosticsContext } from '../src/diagnostics/runs.js';
import type { Store } from '../src/store/store.js';
import type { EngineEvent } from '../src/sync/engine-types.js';
import { startTestSandbox, type TestSandbox } from './helpers/sandbox.js';
import { sandboxResolve } from './helpers/sandbox-connect.js';
import { DATABASES, type TestStore } from './helpers/stores.js';

async function all<T>(list: (after: string | undefined) => Promise<{ items: T[]; nextCursor: string | null }>): Promise<T[]> {
  const items: T[] = [];
  let cursor: string | undefined;
  do {
    const page = await list(cursor);
    items.push(...page.items);
    cursor = page.nextCursor ?? undefined;
  } while (cursor);
  return items;
}

/** Everything setupDemo may create, by id, to compare two starts. */
async function snapshot(store: Store) {
  const page = (after: string | undefined) => ({ limit: 500, after });
  return {
    users: (await all((a) => store.users.list(page(a)))).map((u) => `${u.id} ${u.email} ${u.isAdmin}`).sort(),
    queues: (await all((a) => store.queues.list(page(a)))).map((q) => `${q.id} ${q.email} ${q.ownerId}`).sort(),
    profiles: (await all((a) => store.profiles.list(page(a)))).map((p) => `${p.id} ${p.name} ${p.updatedAt}`).sort(),
    mailboxes: (await all((a) => store.mailboxes.list(page(a)))).map((m) => `${m.id} ${m.emailAddress} ${m.profileId} ${m.approvalStatus} ${m.enabled} ${m.updatedAt}`).sort(),
    contacts: (await all((a) => store.records.list('contact', page(a)))).map((r) => `${r.id} ${r.emailAddresses.join(',')}`).sort(),
    accounts: (await all((a) => store.records.list('account', page(a)))).map((r) => `${r.id} ${r.emailAddresses.join(',')}`).sort(),
    leads: (await all((a) => store.records.list('lead', page(a)))).length,
    alerts: (await all((a) => store.alerts.list(page(a)))).map((x) => x.id).sort(),
    organization: await store.organization.get(),
    filters: (await all((a) => store.users.list(page(a)))).map((u) => `${u.email} ${u.incomingFilter}`).sort(),
  };
}

describe('the demo of serve --sandbox', () => {
  let s: TestSandbox;
  let context: DiagnosticsContext;
  const addresses = ['alice', 'bob', 'carol', 'dave', 'sales'].map((l) => `${l}@contoso.test`);

  before(async () => {
    s = await startTestSandbox();
    context = { service: createDiagnostics(), resolve: sandboxResolve(s) };
  });
  after(() => s?.close());

  test('the test sandbox has the demo mailboxes this test expects', () => {
    assert.deepEqual([...(s.info.mailboxes ?? [])].sort(), addresses);
  });

  for (const kind of DATABASES) {
    describe(`on ${kind.name}`, kind.suite, () => {
      let t: TestStore;
      let first: DemoSetup;
      before(async () => {
        t = await kind.open();
        first = await setupDemo(t.store, s.info, context);
      });
      after(() => t?.cleanup());

      test('the first start creates an administrator and shows their token, which signs in', async () => {
        assert.equal(first.administrator.email, 'alice@contoso.test');
        assert.equal(first.administrator.created, true);
        assert.ok(first.administrator.token, 'a token is shown for the new administrator');
        const signedIn = await t.store.tokens.authenticate(first.administrator.token);
        assert.equal(signedIn?.id, first.administrator.id);
        assert.equal(signedIn?.isAdmin, true);
        assert.equal(signedIn?.name, 'Alice Adams', "the name comes from the sandbox's directory");
      });

      test('the demo users and the queue have the demo mailboxes, associated with a sandbox profile (Bob with the Exchange Online one), approved and enabled', async () => {
        const profile = await t.store.profiles.get(first.profile.id);
        assert.equal(profile.name, DEMO_PROFILE_NAME);
        assert.equal(profile.serverType, 'exchange');
        assert.equal(profile.autodiscover, true);
        assert.equal(profile.username, s.info.serviceAccount!.username);
        assert.equal((await t.store.profiles.secretsOf(profile.id)).password, s.info.serviceAccount!.password);
        assert.equal(profile.trustedCaPem, s.sandbox.pki.caCertPem.trim());
        assert.equal(profile.ownerId, first.administrator.id);
        // The Graph side: the sandbox's tenant and demo app, its authority and URL, the same CA.
        assert.ok(first.onlineProfile, 'an Exchange Online profile');
        const online = await t.store.profiles.get(first.onlineProfile.id);
        assert.equal(online.name, DEMO_ONLINE_PROFILE_NAME);
        assert.equal(online.serverType, 'exchange-online');
        assert.equal(online.tenantId, s.info.graph.tenantId);
        assert.equal(online.clientId, s.info.graph.clientId);
        assert.equal((await t.store.profiles.secretsOf(online.id)).clientSecret, s.info.graph.clientSecret);
        assert.equal(online.authority, s.info.graph.authority);
        assert.equal(online.incomingServer, s.info.graph.url);
        assert.equal(online.trustedCaPem, s.sandbox.pki.caCertPem.trim());
        assert.equal(online.ownerId, first.administrator.id);

        assert.deepEqual(first.mailboxes.map((m) => `${m.address} ${m.kind} ${m.outcome}`), [
          'alice@contoso.test user enabled',
          'bob@contoso.test user enabled',
          'carol@contoso.test user enabled',
          'dave@contoso.test user enabled',
          'sales@contoso.test queue enabled',
        ]);
        for (const entry of first.mailboxes) {
          const mailbox = await t.store.mailboxes.get(entry.mailboxId);
          assert.equal(mailbox.emailAddress, entry.address);
          assert.equal(mailbox.profileId, entry.address.startsWith('bob@') ? online.id : profile.id, entry.address);
          assert.equal(mailbox.approvalStatus, 'approved');
          assert.equal(mailbox.enabled, true, `${entry.address} is enabled`);
          assert.equal(mailbox.incomingStatus, 'success');
        }
        // Autodiscover found each mailbox on its own server: Dave's is on the second one.
        const dave = await t.store.mailboxes.get(first.mailboxes.find((m) => m.address.startsWith('dave'))!.mailboxId);
        assert.match(dave.ewsUrl ?? '', /^https:\/\/mail2\.contoso\.test:\d+\/EWS\/Exchange\.asmx$/);
        const sales = (await t.store.queues.list({ limit: 10 })).items.find((q) => q.email === 'sales@contoso.test');
        assert.equal(sales?.ownerId, first.administrator.id);
      });

      test("the demo users track mail from CRM records, and the queue's mailbox sends system notifications", async () => {
        for (const address of addresses.filter((a) => !a.startsWith('sales'))) {
          assert.equal((await t.store.users.findByEmail(address))?.incomingFilter, 'from-crm-records', address);
        }
        const sales = first.mailboxes.find((m) => m.address.startsWith('sales'))!;
        assert.deepEqual(first.notificationMailbox, { id: sales.mailboxId, address: 'sales@contoso.test', set: true });
        assert.equal((await t.store.organization.get()).systemNotificationMailboxId, sales.mailboxId);
        assert.deepEqual(first.notes, []);
      });

      test("the demo mail's senders resolve to CRM records", async () => {
        const senders = new Map([
          ['jane.doe@fabrikam.test', 'contact'],
          ['raj.patel@adatum.test', 'contact'],
          ['lee.wong@northwind.test', 'account'],
        ]);
        for (const [address, type] of senders) {
          const found = await t.store.records.list(type as 'contact', { emailAddress: address, limit: 5 });
          assert.equal(found.items.length, 1, `${address} is one ${type}`);
        }
        assert.equal(first.records.length, 3);
        assert.ok(first.records.every((r) => r.created));
      });

      test('a second start changes nothing and duplicates nothing', async () => {
        const before = await snapshot(t.store);
        const second = await setupDemo(t.store, s.info, context);
        assert.deepEqual(await snapshot(t.store), before);
        assert.equal(second.administrator.id, first.administrator.id);
        assert.equal(second.administrator.token, null, 'no new token on a later start');
        assert.equal(second.profile.id, first.profile.id);
        assert.equal(second.profile.created || second.profile.updated, false);
        assert.equal(second.onlineProfile?.id, first.onlineProfile?.id);
        assert.equal(second.onlineProfile?.created || second.onlineProfile?.updated, false);
        assert.deepEqual(second.mailboxes.map((m) => m.mailboxId), first.mailboxes.map((m) => m.mailboxId));
        assert.ok(second.mailboxes.every((m) => m.outcome === 'already-enabled' && !m.created));
        assert.deepEqual(second.records.map((r) => r.id), first.records.map((r) => r.id));
        assert.ok(second.records.every((r) => !r.created));
        assert.equal(before.users.length, 4);
        assert.equal(before.queues.length, 1);
        assert.equal(before.profiles.length, 2);
      });

      test('a mailbox disabled since is tested and enabled again; one moved to another profile is left alone', async () => {
        const bob = first.mailboxes.find((m) => m.address.startsWith('bob'))!;
        const carol = first.mailboxes.find((m) => m.address.startsWith('carol'))!;
        await t.store.mailboxes.update(bob.mailboxId, { enabled: false });
        const other = await t.store.profiles.create({
          name: 'Another Exchange',
          serverType: 'exchange',
          autodiscover: false,
          incomingServer: 'https://exchange.example.com/EWS/Exchange.asmx',
          username: 'svc@example.com',
          password: 'x',
          ownerId: first.administrator.id,
        });
        await t.store.mailboxes.update(carol.mailboxId, { profileId: other.id });
        const again = await setupDemo(t.store, s.info, context);
        assert.equal(again.mailboxes.find((m) => m.address === bob.address)?.outcome, 'enabled');
        assert.equal((await t.store.mailboxes.get(bob.mailboxId)).enabled, true);
        const left = again.mailboxes.find((m) => m.address === carol.address)!;
        assert.equal(left.outcome, 'left-alone');
        assert.match(left.problem ?? '', /another email server profile/);
        assert.equal((await t.store.mailboxes.get(carol.mailboxId)).profileId, other.id);
      });
    });
  }

  describe('with an administrator already there', DATABASES[0]!.suite, () => {
    let t: TestStore;
    before(async () => {
      t = await DATABASES[0]!.open();
    });
    after(() => t?.cleanup());

    test('no token is shown, the demo users are plain users, an existing user keeps their filter, and the profile follows a sandbox whose password changed', async () => {
      const admin = await t.store.users.create({ email: 'admin@example.com', name: 'Admin', isAdmin: true });
      const bob = await t.store.users.create({ email: 'bob@contoso.test', name: 'Bob' });
      const setup = await setupDemo(t.store, s.info, context);
      assert.deepEqual(
        { id: setup.administrator.id, token: setup.administrator.token, created: setup.administrator.created },
        { id: admin.id, token: null, created: false },
      );
      assert.equal((await t.store.users.findByEmail('alice@contoso.test'))?.isAdmin, false);
      // Bob existed with a user's default filter: kept, and said to hide the demo mail.
      assert.equal((await t.store.users.get(bob.id)).incomingFilter, 'responses-to-crm-email');
      assert.equal(setup.notes.length, 1, setup.notes.join('\n'));
      assert.match(setup.notes[0]!, new RegExp(`^bob@contoso\\.test's incoming filter is "responses-to-crm-email".*PATCH /api/v1/users/${bob.id}`));
      assert.equal((await t.store.profiles.get(setup.profile.id)).ownerId, admin.id);

      const username = s.info.serviceAccount!.username;
      const original = s.info.serviceAccount!.password;
      assert.equal((await s.control('PATCH', `/accounts/${encodeURIComponent(username)}`, { password: 'Sbx-changed-password' })).status, 200);
      try {
        const changed = await setupDemo(t.store, { ...s.info, serviceAccount: { username, password: 'Sbx-changed-password' } }, context);
        assert.equal(changed.profile.id, setup.profile.id);
        assert.equal(changed.profile.updated, true);
        assert.equal((await t.store.profiles.secretsOf(setup.profile.id)).password, 'Sbx-changed-password');
      } finally {
        await s.control('PATCH', `/accounts/${encodeURIComponent(username)}`, { password: original });
      }
    });
  });

  test("a store from a demo before Exchange Online keeps Bob on the Exchange profile, and gains the Exchange Online one", DATABASES[0]!.suite, async () => {
    const t = await DATABASES[0]!.open();
    try {
      // Without the Graph demo app, every demo mailbox goes on the Exchange profile, as demos before it did.
      const earlier = await setupDemo(t.store, { ...s.info, graph: { ...s.info.graph, clientId: undefined, clientSecret: undefined } }, context);
      assert.equal(earlier.onlineProfile, null);
      const bob = earlier.mailboxes.find((m) => m.address.startsWith('bob@'))!;
      assert.equal((await t.store.mailboxes.get(bob.mailboxId)).profileId, earlier.profile.id);
      const now = await setupDemo(t.store, s.info, context);
      assert.equal(now.onlineProfile?.created, true);
      assert.equal(now.profile.id, earlier.profile.id);
      assert.deepEqual(now.mailboxes.map((m) => m.outcome), ['already-enabled', 'already-enabled', 'already-enabled', 'already-enabled', 'already-enabled']);
      assert.equal((await t.store.mailboxes.get(bob.mailboxId)).profileId, earlier.profile.id, 'not moved');
    } finally {
      await t.cleanup();
    }
  });

  test('a sandbox without its demo data is refused with why', async () => {
    const kind = DATABASES[0]!;
    const t = await kind.open();
    try {
      await assert.rejects(setupDemo(t.store, { ...s.info, mailboxes: [] }, context), /--seed demo/);
    } finally {
      await t.cleanup();
    }
  });
});

describe('printEngineEvent', () => {
  const print = (event: EngineEvent) => {
    let text = '';
    printEngineEvent(event, { write: (chunk: string) => (text += chunk) });
    return text;
  };

  test('one line per tracked, linked and sent email and per failure', () => {
    assert.equal(
      print({ type: 'tracked', mailboxId: 'm1', address: 'alice@contoso.test', activityId: 'a1', subject: 'Quote for 40 licences', from: 'jane.doe@fabrikam.test', linked: false }),
      'tracked  alice@contoso.test  "Quote for 40 licences" from jane.doe@fabrikam.test  (activity a1)\n',
    );
    assert.match(print({ type: 'tracked', mailboxId: 'm2', address: 'sales@contoso.test', activityId: 'a1', subject: 'RE: x', from: 'j@f.test', linked: true }), /^linked {3}sales@contoso\.test {2}"RE: x"/);
    assert.equal(
      print({ type: 'sent', mailboxId: 'm1', address: 'alice@contoso.test', activityId: 'a2', subject: 'Your quote', to: ['jane.doe@fabrikam.test', 'bob@contoso.test'] }),
      'sent     alice@contoso.test  "Your quote" to jane.doe@fabrikam.test, bob@contoso.test  (activity a2)\n',
    );
    assert.equal(
      print({ type: 'failure', mailboxId: 'm1', address: 'alice@contoso.test', code: 'http.401', message: 'the service account was refused' }),
      'FAILED   alice@contoso.test  http.401: the service account was refused\n',
    );
    assert.match(print({ type: 'failure', mailboxId: null, address: null, code: 'store.error', message: 'x' }), /^FAILED {3}\(no mailbox\) {2}store\.error: x\n$/);
  });

  test("an email's subject cannot break the line or move the cursor, and a long one is cut", () => {
    const line = print({ type: 'tracked', mailboxId: 'm', address: 'a@b.test', activityId: 'x', subject: `a\r\nb\u001b[2Jc${'z'.repeat(200)}`, from: 'f@g.test', linked: false });
    assert.equal(line.split('\n').length, 2, 'one line');
    assert.ok(!line.includes('\u001b'));
    assert.match(line, /"a\?\?b\?\[2Jcz+…"/);
  });

  test('cycles and lease changes print nothing', () => {
    assert.equal(print({ type: 'cycle', mailboxId: 'm', address: 'a@b.test', direction: 'incoming', status: 'success', durationMs: 3, counts: { tracked: 0, linked: 0, filtered: 0, failed: 0, sent: 0 } }), '');
    assert.equal(print({ type: 'lease-lost', mailboxId: 'm' }), '');
  });
});

describe('describeDemo', () => {
  test('prints the token once, with what to do with it, or how to get one', () => {
    const base: DemoSetup = {
      administrator: { id: 'u1', email: 'alice@contoso.test', created: true, promoted: false, token: 'lsn_secret' },
      profile: { id: 'p1', name: DEMO_PROFILE_NAME, created: true, updated: false },
      onlineProfile: null,
      mailboxes: [{ address: 'alice@contoso.test', kind: 'user', mailboxId: 'm1', created: true, outcome: 'enabled', problem: null }],
      records: [],
      notificationMailbox: { id: 'm1', address: 'sales@contoso.test', set: true },
      notes: [],
    };
    let text = '';
    describeDemo(base, 'http://127.0.0.1:8080', { write: (c: string) => (text += c) });
    assert.match(text, /^lsn_secret$/m);
    assert.match(text, /1 of 1 demo mailboxes enabled/);
    text = '';
    describeDemo({ ...base, administrator: { ...base.administrator, token: null, created: false } }, 'http://127.0.0.1:8080', { write: (c: string) => (text += c) });
    assert.doesNotMatch(text, /lsn_/);
    assert.match(text, /npm run -s liaison -- user token --email alice@contoso\.test/);
    text = '';
    const hybrid: DemoSetup = {
      ...base,
      onlineProfile: { id: 'p2', name: DEMO_ONLINE_PROFILE_NAME, created: true, updated: false },
      mailboxes: [...base.mailboxes, { address: 'bob@contoso.test', kind: 'user', mailboxId: 'm2', created: true, outcome: 'enabled', problem: null }],
    };
    describeDemo(hybrid, 'http://127.0.0.1:8080', { write: (c: string) => (text += c) });
    assert.match(text, /profiles "Sandbox Exchange" \(p1, created\) and "Sandbox Exchange Online" \(p2, created\), 2 of 2 demo mailboxes enabled/);
    assert.match(text, /bob@contoso\.test on "Sandbox Exchange Online" \(Microsoft Graph\), the others on "Sandbox Exchange" \(EWS\)/);
  });
});
