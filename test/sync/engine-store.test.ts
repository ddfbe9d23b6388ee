/**
 * The engine over the real store (SQLite and PostgreSQL), with the demo's profile and mailboxes set up against
 * a test sandbox (one mailbox on its Exchange Online profile): new mail tracked once across a restart, and an
 * email sent through the store's outgoing queue arriving once.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setupDemo } from '../../src/cli/demo.js';

import { diagnosticsService } from '../../src/cli/diagnostics.js';
import type { Store } from '../../src/store/store.js';
import { deliver, folderItems, runEngine, waitFor } from '../helpers/engine-harness.js';
import { sandboxResolve } from '../helpers/sandbox-connect.js';
import { startTestSandbox, type TestSandbox } from '../helpers/sandbox.js';
import { DATABASES, type TestStore } from '../helpers/stores.js';

let s: TestSandbox;
before(async () => {
  s = await startTestSandbox();
});
after(async () => {
  await s.close();
});

async function subjects(store: Store): Promise<string[]> {
  const page = await store.activities.list({ limit: 200 });
  return page.items.map((a) => a.subject);
}

for (const kind of DATABASES) {
  describe(`engine over the ${kind.name} store`, kind.suite, () => {
    let t: TestStore;
    before(async () => {
      t = await kind.open();
    });
    after(async () => {
      await t?.cleanup();
    });

    test('new mail is tracked once across a restart; an email from the CRM is sent once', async () => {
      const demo = await setupDemo(t.store, s.sandbox.info, { service: diagnosticsService(), resolve: sandboxResolve(s) });
      const alice = demo.mailboxes.find((m) => m.address.startsWith('alice@'));
      assert.ok(alice && (alice.outcome === 'enabled' || alice.outcome === 'already-enabled'), JSON.stringify(demo.mailboxes));
      const tag = `${kind.name}-${Date.now()}`;
      // From a CRM contact of the demo, so the demo users' filter tracks it.
      await deliver(s, alice.address, { subject: `Engine first ${tag}`, from: 'jane.doe@fabrikam.test' });

      const sync = t.store.sync;
      const first = runEngine(s, sync);
      await waitFor('the first message tracked', async () => (await subjects(t.store)).includes(`Engine first ${tag}`));
      // Bob's mailbox is on the demo's Exchange Online profile: his seeded mail comes in over Microsoft Graph.
      await waitFor("Bob's mail tracked over Graph", async () => (await subjects(t.store)).includes('Signed contract'));
      const bob = demo.mailboxes.find((m) => m.address.startsWith('bob@'))!;
      assert.equal((await t.store.mailboxes.get(bob.mailboxId)).profileId, demo.onlineProfile?.id);
      assert.ok(first.events.some((e) => e.type === 'tracked' && e.address === bob.address && e.subject === 'Signed contract'), 'tracked from Bob\'s mailbox');
      await first.stop();

      await deliver(s, alice.address, { subject: `Engine second ${tag}`, from: 'jane.doe@fabrikam.test' });
      const user = await t.store.users.findByEmail(alice.address);
      assert.ok(user);
      const draft = await t.store.activities.createDraft(alice.mailboxId, user.id, { subject: `Engine send ${tag}`, bodyText: 'Hello Bob', to: [`bob@${s.info.domain}`] });
      await t.store.activities.send(draft.id);

      const second = runEngine(s, sync);
      await waitFor('the second message tracked', async () => (await subjects(t.store)).includes(`Engine second ${tag}`));
      await waitFor('the email sent', async () => (await t.store.activities.get(draft.id)).status === 'sent');
      await second.stop();

      const all = await subjects(t.store);
      assert.equal(all.filter((x) => x === `Engine first ${tag}`).length, 1);
      assert.equal(all.filter((x) => x === `Engine second ${tag}`).length, 1);
      const tracked = [...first.events, ...second.events].filter((e) => e.type === 'tracked' && e.subject.endsWith(tag));
      assert.deepEqual(tracked.map((e) => e.type === 'tracked' && e.subject).sort(), [`Engine first ${tag}`, `Engine second ${tag}`]);
      assert.ok(tracked.every((e) => e.type === 'tracked' && e.activityId.length > 0));
      assert.equal((await folderItems(s, `bob@${s.info.domain}`, 'inbox')).filter((i) => i.subject.includes(`Engine send ${tag}`)).length, 1);
      assert.equal((await folderItems(s, alice.address, 'sentitems')).filter((i) => i.subject.includes(`Engine send ${tag}`)).length, 1);
    });
  });
}
