import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { sql } from 'kysely';
import { ConflictError, ValidationError } from '../src/domain/errors.js';
import type { Store } from '../src/store/store.js';
import { DATABASES, type TestStore } from './helpers/stores.js';

for (const kind of DATABASES) {
  describe(`store on ${kind.name}`, kind.suite, () => {
    let t: TestStore;
    let store: Store;
    before(async () => {
      t = await kind.open();
      store = t.store;
    });
    after(async () => t?.cleanup());

    test('creating a user or a queue creates its mailbox', async () => {
      const user = await store.users.create({ name: 'Ann Lee', email: 'ann@contoso.test' });
      assert.ok(user.mailboxId);
      const mailbox = await store.mailboxes.get(user.mailboxId);
      assert.equal(mailbox.emailAddress, 'ann@contoso.test');
      assert.equal(mailbox.type, 'user');
      assert.equal(mailbox.ownerId, user.id);
      assert.deepEqual([mailbox.approvalStatus, mailbox.enabled, mailbox.incomingStatus, mailbox.outgoingStatus], ['empty', false, 'not-run', 'not-run']);

      const queue = await store.queues.create({ name: 'Support', email: 'support@contoso.test', ownerId: user.id });
      const queueMailbox = await store.mailboxes.get(queue.mailboxId!);
      assert.equal(queueMailbox.type, 'queue');
      assert.equal(queueMailbox.ownerId, user.id, "a queue's mailbox belongs to the queue's owner");
      assert.equal(queueMailbox.name, 'Support');
    });

    test('a user and a queue cannot share an address, in any case', async () => {
      await assert.rejects(store.queues.create({ name: 'Dup', email: 'ANN@contoso.test', ownerId: (await store.users.findByEmail('ann@contoso.test'))!.id }), ConflictError);
      await assert.rejects(store.users.create({ name: 'Dup', email: 'Support@Contoso.test' }), ConflictError);
    });

    test("changing a user's address starts approval over", async () => {
      const user = await store.users.create({ name: 'Bo', email: 'bo@contoso.test' });
      const profile = await store.profiles.create({ name: 'imap-bo', serverType: 'imap-smtp', incomingServer: 'imap.contoso.test', outgoingServer: 'smtp.contoso.test', ownerId: user.id });
      await store.mailboxes.update(user.mailboxId!, { profileId: profile.id, approvalStatus: 'approved', enabled: true });
      await store.users.update(user.id, { email: 'bo.b@contoso.test' });
      const mailbox = await store.mailboxes.get(user.mailboxId!);
      assert.deepEqual([mailbox.emailAddress, mailbox.approvalStatus, mailbox.enabled], ['bo.b@contoso.test', 'empty', false]);
    });

    test('profile secrets are stored encrypted and decrypt for the connectors', async () => {
      const owner = await store.users.create({ name: 'Owner', email: 'owner@contoso.test', isAdmin: true });
      const profile = await store.profiles.create({
        name: 'Contoso Exchange',
        serverType: 'exchange',
        autodiscover: false,
        incomingServer: 'https://mail.contoso.test/EWS/Exchange.asmx',
        username: 'svc-crm@contoso.test',
        password: 'Pa55-word-of-the-service-account',
        ownerId: owner.id,
      });
      assert.equal(profile.passwordSet, true);
      assert.equal('password' in profile, false);
      const rows = await sql<Record<string, unknown>>`select * from email_server_profiles where id = ${profile.id}`.execute(store.database.db);
      const raw = JSON.stringify(rows.rows);
      assert.doesNotMatch(raw, /Pa55-word/);
      assert.match(String(rows.rows[0]!.password_enc), /^v1:/);
      assert.equal((await store.profiles.secretsOf(profile.id)).password, 'Pa55-word-of-the-service-account');

      const updated = await store.profiles.update(profile.id, { description: 'no password change' });
      assert.equal(updated.passwordSet, true, 'leaving the password out keeps it');
      await assert.rejects(store.profiles.update(profile.id, { password: null }), ValidationError, 'an Exchange profile cannot lose its password');
    });

    test('a ciphertext moved to another row does not decrypt', async () => {
      const owner = (await store.users.findByEmail('owner@contoso.test'))!;
      const a = await store.profiles.create({ name: 'A', serverType: 'imap-smtp', incomingServer: 'a.test', outgoingServer: 'a.test', username: 'a', password: 'secret-a', ownerId: owner.id });
      const b = await store.profiles.create({ name: 'B', serverType: 'imap-smtp', incomingServer: 'b.test', outgoingServer: 'b.test', username: 'b', password: 'secret-b', ownerId: owner.id });
      const row = await store.database.db.selectFrom('email_server_profiles').select('password_enc').where('id', '=', a.id).executeTakeFirstOrThrow();
      await store.database.db.updateTable('email_server_profiles').set({ password_enc: row.password_enc }).where('id', '=', b.id).execute();
      await assert.rejects(store.profiles.secretsOf(b.id), /integrity check/);
    });

    test('profile names are unique regardless of case', async () => {
      const owner = (await store.users.findByEmail('owner@contoso.test'))!;
      await assert.rejects(
        store.profiles.create({ name: 'contoso exchange', serverType: 'imap-smtp', incomingServer: 'x.test', outgoingServer: 'x.test', ownerId: owner.id }),
        ConflictError,
      );
    });

    test('a profile in use cannot be deleted; associating is all or nothing', async () => {
      const owner = (await store.users.findByEmail('owner@contoso.test'))!;
      const profile = await store.profiles.create({ name: 'Shared', serverType: 'imap-smtp', incomingServer: 'imap.test', outgoingServer: 'smtp.test', ownerId: owner.id });
      const users = await Promise.all([1, 2, 3].map((n) => store.users.create({ name: `U${n}`, email: `u${n}@contoso.test` })));
      const ids = users.map((u) => u.mailboxId!);

      await assert.rejects(store.mailboxes.updateMany([...ids, '01a21a44-0000-7000-8000-000000000000'], { profileId: profile.id }), ValidationError);
      for (const id of ids) assert.equal((await store.mailboxes.get(id)).profileId, null, 'nothing changed');

      const associated = await store.mailboxes.updateMany(ids, { profileId: profile.id });
      assert.deepEqual(associated.map((m) => m.profileId), [profile.id, profile.id, profile.id]);
      await assert.rejects(store.profiles.delete(profile.id), (error: unknown) => error instanceof ConflictError && /3 mailboxes/.test(error.message));

      const page = await store.mailboxes.list({ profileId: profile.id, limit: 2 });
      assert.equal(page.items.length, 2);
      assert.ok(page.nextCursor);
      const rest = await store.mailboxes.list({ profileId: profile.id, limit: 2, after: page.nextCursor! });
      assert.equal(rest.items.length, 1);
      assert.equal(rest.nextCursor, null);

      await store.mailboxes.updateMany(ids, { profileId: null });
      await store.profiles.delete(profile.id);
    });

    test('contacts resolve as parties of a draft; sending makes it pending send', async () => {
      const owner = (await store.users.findByEmail('owner@contoso.test'))!;
      const contact = await store.records.create('contact', { name: 'Carol', emailAddresses: ['carol@fabrikam.test', 'CAROL@fabrikam.test', 'c2@fabrikam.test'] });
      assert.deepEqual(contact.emailAddresses, ['carol@fabrikam.test', 'c2@fabrikam.test'], 'duplicates in another case are dropped');
      const lead = await store.records.create('lead', { name: 'Carol (lead)', emailAddresses: ['carol@fabrikam.test'] });

      const draft = await store.activities.createDraft(owner.mailboxId!, owner.id, {
        subject: 'Quote',
        bodyText: 'Hello',
        to: ['Carol@Fabrikam.test', 'stranger@elsewhere.test'],
        regarding: { type: 'contact', id: contact.id },
        attachments: [{ fileName: 'quote.pdf', contentType: 'application/pdf', content: Buffer.from('%PDF-1.4') }],
      });
      assert.equal(draft.status, 'draft');
      assert.deepEqual(draft.from.map((p) => p.record), [{ type: 'user', id: owner.id }]);
      assert.deepEqual(
        draft.to.map((p) => [p.address, p.record?.type ?? null]),
        [['Carol@Fabrikam.test', 'contact'], ['Carol@Fabrikam.test', 'lead'], ['stranger@elsewhere.test', null]],
      );
      assert.equal(draft.to[1]!.record!.id, lead.id);
      assert.deepEqual(draft.attachments.map((a) => [a.fileName, a.size]), [['quote.pdf', 8]]);
      assert.equal((await store.activities.attachment(draft.id, draft.attachments[0]!.id)).content.toString(), '%PDF-1.4');

      const sent = await store.activities.send(draft.id);
      assert.equal(sent.status, 'pending-send');
      await assert.rejects(store.activities.send(draft.id), ConflictError, 'a second send is refused');
      await assert.rejects(store.activities.updateDraft(draft.id, { subject: 'x' }), ConflictError);
    });

    test('a draft without recipients cannot be sent; blocked attachments are refused', async () => {
      const owner = (await store.users.findByEmail('owner@contoso.test'))!;
      const draft = await store.activities.createDraft(owner.mailboxId!, owner.id, { subject: 'empty' });
      await assert.rejects(store.activities.send(draft.id), /no recipients/);
      await assert.rejects(
        store.activities.createDraft(owner.mailboxId!, owner.id, { attachments: [{ fileName: 'run.exe', contentType: 'application/octet-stream', content: Buffer.from('MZ') }] }),
        /\.exe files are blocked/,
      );
    });

    test('alerts are listed newest first and filtered', async () => {
      const owner = (await store.users.findByEmail('owner@contoso.test'))!;
      await store.alerts.raise({ level: 'warning', scope: 'mailbox', mailboxId: owner.mailboxId, code: 'test.first', message: 'first' });
      await store.alerts.raise({ level: 'error', scope: 'mailbox', mailboxId: owner.mailboxId, code: 'test.second', message: 'second', fix: 'do this' });
      const all = await store.alerts.list({ mailboxId: owner.mailboxId! });
      assert.deepEqual(all.items.map((a) => a.code), ['test.second', 'test.first']);
      const errors = await store.alerts.list({ mailboxId: owner.mailboxId!, level: 'error' });
      assert.deepEqual(errors.items.map((a) => a.fix), ['do this']);
    });

    test('the last administrator cannot be removed', async () => {
      const admins = await store.users.list({ isAdmin: true });
      for (const admin of admins.items.slice(1)) await store.users.update(admin.id, { isAdmin: false });
      const last = (await store.users.list({ isAdmin: true })).items[0]!;
      await assert.rejects(store.users.update(last.id, { isAdmin: false }), /last administrator/);
    });

    test('reopening runs no migration twice and keeps the data', async () => {
      const again = await t.reopen();
      assert.deepEqual(again.migrations.applied, []);
      assert.ok(await again.users.findByEmail('ann@contoso.test'));
    });

    test('a different secret key is refused at open, with what to do', async () => {
      await assert.rejects(
        t.reopen({ env: { LIAISON_SECRET_KEY: Buffer.alloc(32, 7).toString('base64') } }),
        /not the key this database's secrets were encrypted with/,
      );
    });

    test('a malformed secret key is refused with how to make one', async () => {
      await assert.rejects(t.reopen({ env: { LIAISON_SECRET_KEY: 'short' } }), /openssl rand -base64 32/);
    });
  });
}
