/**
 * Two changes at once. Each race is made to happen every time: the first change pauses right after its check
 * (test/helpers/interleave.ts), the second runs on another connection, then the first goes on. Whichever
 * wins, the loser gets a ConflictError (409) or a ValidationError (400) that names the record, never a
 * database error (500), and no row points at a deleted one.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { sql } from 'kysely';
import { ConflictError, ValidationError } from '../src/domain/errors.js';
import type { Store } from '../src/store/store.js';
import { finishedOrWaiting, Interleave, type Outcome, settle } from './helpers/interleave.js';
import { DATABASES, POSTGRES_URL, type TestStore } from './helpers/stores.js';

/** A loser's answer is one the API turns into 409 or 400; a driver error would be a 500. */
function assertClean(outcome: Outcome<unknown>, what: string): void {
  if (outcome.ok) return;
  assert.ok(
    outcome.error instanceof ConflictError || outcome.error instanceof ValidationError,
    `${what} failed with ${outcome.error.constructor.name}: ${outcome.error.message}`,
  );
}

let counter = 0;
const unique = () => `${process.pid}-${Date.now()}-${(counter += 1)}`;

for (const kind of DATABASES) {
  describe(`races on ${kind.name}`, kind.suite, () => {
    // Races that only one database can have are registered there only (not skipped: a skip would read as a gap).
    const onPostgres = (name: string, body: () => Promise<void>) => {
      if (kind.name === 'postgres') test(name, body);
    };
    let t: TestStore;
    /** The store whose change pauses. */
    let first: Store;
    /** The store that changes something during the pause (its own connection). */
    let second: Store;
    let pause: Interleave;
    let applicationName: string | undefined;
    let adminId: string;

    before(async () => {
      t = await kind.open();
      pause = new Interleave();
      first = await t.reopen({ plugins: [pause] });
      applicationName = kind.name === 'postgres' ? `liaison_race_${process.pid}_${Date.now()}` : undefined;
      second = applicationName ? await t.reopen({ databaseUrl: `${POSTGRES_URL}?application_name=${applicationName}` }) : t.store;
      adminId = (await t.store.users.create({ name: 'Admin', email: `admin-${unique()}@contoso.test`, isAdmin: true })).id;
    });
    after(async () => t?.cleanup());

    /** Runs `other` when `first` has just run the chosen query; answers both outcomes. */
    async function race<A, B>(
      at: { kind: 'select' | 'delete'; table: string },
      change: () => Promise<A>,
      other: () => Promise<B>,
    ): Promise<[Outcome<A>, Outcome<B>]> {
      let second: Promise<Outcome<B>> | undefined;
      pause.after(at.kind, at.table, async () => {
        second = settle(other());
        await finishedOrWaiting(second, applicationName);
      });
      const firstOutcome = await settle(change());
      assert.equal(pause.pending, false, `the change never ran a ${at.kind} on ${at.table}: the race did not happen`);
      return [firstOutcome, await second!];
    }

    async function count(query: string): Promise<number> {
      const result = await sql<{ n: number }>`${sql.raw(query)}`.execute(t.store.database.db);
      return Number(result.rows[0]?.n ?? 0);
    }

    async function newProfile() {
      return t.store.profiles.create({
        name: `Exchange ${unique()}`,
        serverType: 'exchange',
        autodiscover: false,
        incomingServer: 'https://mail.contoso.test/EWS/Exchange.asmx',
        username: 'svc@contoso.test',
        password: 'x',
        ownerId: adminId,
      });
    }

    test('a mailbox associated with a profile while the profile is deleted: one wins, nothing points at a deleted profile', async () => {
      const profile = await newProfile();
      const user = await t.store.users.create({ name: 'Mia', email: `mia-${unique()}@contoso.test` });
      const [associate, remove] = await race(
        { kind: 'select', table: 'email_server_profiles' },
        () => first.mailboxes.updateMany([user.mailboxId!], { profileId: profile.id }),
        () => second.profiles.delete(profile.id),
      );
      assertClean(associate, 'associating');
      assertClean(remove, 'deleting the profile');
      assert.notEqual(associate.ok, remove.ok, 'exactly one of the two changes is saved');
      const loser = associate.ok ? remove : associate;
      assert.ok(!loser.ok && loser.error instanceof ConflictError, 'the loser is told of a conflict');
      assert.match((loser as { error: Error }).error.message, new RegExp(associate.ok ? `profile "${profile.name}" is used by 1 mailbox` : `mailbox ${user.mailboxId}`));
      const mailbox = await t.store.mailboxes.get(user.mailboxId!);
      if (mailbox.profileId) await t.store.profiles.get(mailbox.profileId);
      assert.equal(mailbox.profileId === null, remove.ok);
    });

    test('a token issued while its user is deleted: no 500, and no token outlives its user', async () => {
      const user = await t.store.users.create({ name: 'Tom', email: `tom-${unique()}@contoso.test` });
      const [issue, remove] = await race(
        { kind: 'select', table: 'users' },
        () => first.tokens.issue(user.id),
        () => second.users.delete(user.id),
      );
      assertClean(issue, 'issuing the token');
      assertClean(remove, 'deleting the user');
      assert.equal(remove.ok, true, 'the user is deleted either way');
      if (!issue.ok) assert.match(issue.error.message, new RegExp(`user ${user.id}`));
      assert.equal(await count(`select count(*) as n from api_tokens where user_id = '${user.id}'`), 0);
      if (issue.ok) assert.equal(await t.store.tokens.authenticate(issue.value.token), null, 'the token does not sign in');
    });

    test('a queue created for a user while the user is deleted: one wins, no queue without an owner', async () => {
      const user = await t.store.users.create({ name: 'Quinn', email: `quinn-${unique()}@contoso.test` });
      const name = `Support ${unique()}`;
      const [create, remove] = await race(
        { kind: 'select', table: 'users' },
        () => first.queues.create({ name, email: `support-${unique()}@contoso.test`, ownerId: user.id }),
        () => second.users.delete(user.id),
      );
      assertClean(create, 'creating the queue');
      assertClean(remove, 'deleting the user');
      assert.notEqual(create.ok, remove.ok, 'exactly one of the two changes is saved');
      const loser = create.ok ? remove : create;
      assert.match((loser as { error: Error }).error.message, create.ok ? new RegExp(`still owns queue "${name}"`) : new RegExp(`queue "${name}" was not created`));
      assert.equal(await count('select count(*) as n from queues where owner_id not in (select id from users)'), 0);
    });

    test('a user deleted while a queue is created for them (the other order): one wins, no queue without an owner', async () => {
      const user = await t.store.users.create({ name: 'Rae', email: `rae-${unique()}@contoso.test` });
      const name = `Sales ${unique()}`;
      const [remove, create] = await race(
        { kind: 'select', table: 'queues' },
        () => first.users.delete(user.id),
        () => second.queues.create({ name, email: `sales-${unique()}@contoso.test`, ownerId: user.id }),
      );
      assertClean(remove, 'deleting the user');
      assertClean(create, 'creating the queue');
      assert.notEqual(create.ok, remove.ok, 'exactly one of the two changes is saved');
      const loser = create.ok ? remove : create;
      assert.match((loser as { error: Error }).error.message, create.ok ? new RegExp(`user ${user.id} was not deleted|still owns queue "${name}"`) : new RegExp(`no user has id ${user.id}`));
      assert.equal(await count('select count(*) as n from queues where owner_id not in (select id from users)'), 0);
    });

    test('two users created with one address at once: one gets it, the other a 409 that names the address', async () => {
      const email = `twin-${unique()}@contoso.test`;
      const [one, two] = await race(
        { kind: 'select', table: 'email_addresses' },
        () => first.users.create({ name: 'One', email }),
        () => second.users.create({ name: 'Two', email }),
      );
      assertClean(one, 'creating the first');
      assertClean(two, 'creating the second');
      assert.notEqual(one.ok, two.ok, 'exactly one has the address');
      const loser = one.ok ? two : one;
      assert.ok(!loser.ok && loser.error instanceof ConflictError);
      assert.match(loser.error.message, new RegExp(email.replace(/[.]/g, '\\.')));
      assert.equal(await count(`select count(*) as n from email_addresses where address_key = '${email}'`), 1);
    });

    test('a draft regarding a contact composed while the contact is deleted: no draft regards a deleted contact', async () => {
      const contact = await t.store.records.create('contact', { name: 'Carla', emailAddresses: [] });
      const sender = await t.store.users.create({ name: 'Sam', email: `sam-${unique()}@contoso.test` });
      const [compose, remove] = await race(
        { kind: 'select', table: 'crm_records' },
        () => first.activities.createDraft(sender.mailboxId!, sender.id, { subject: 'Hello', regarding: { type: 'contact', id: contact.id } }),
        () => second.records.delete('contact', contact.id),
      );
      assertClean(compose, 'composing');
      assertClean(remove, 'deleting the contact');
      assert.equal(remove.ok, true, 'the contact is deleted either way');
      if (compose.ok) assert.equal((await t.store.activities.get(compose.value.id)).regarding, null, 'the draft lost its link, as drafts of deleted records do');
      else assert.match(compose.error.message, /the draft was not saved/);
      assert.equal(await count("select count(*) as n from email_activities where regarding_id is not null and regarding_id not in (select id from crm_records)"), 0);
    });

    // SQLite runs one writer at a time: there is no deadlock to have, so the test exists on PostgreSQL only.
    onPostgres('a deadlock between two transactions is a conflict (409) for the one PostgreSQL undoes', async () => {
      const one = await t.store.users.create({ name: 'One', email: `dl1-${unique()}@contoso.test` });
      const two = await t.store.users.create({ name: 'Two', email: `dl2-${unique()}@contoso.test` });
      let firstLocked!: () => void;
      const locked = new Promise<void>((resolve) => (firstLocked = resolve));
      const rename = (db: Store['database']['db'], id: string) => db.updateTable('users').set({ name: 'x' }).where('id', '=', id).execute();
      // Each locks one user, then wants the other's: PostgreSQL undoes one of the two (40P01).
      const a = settle(
        first.database.db.transaction().execute(async (trx) => {
          await sql`set local deadlock_timeout = '10ms'`.execute(trx);
          await rename(trx, one.id);
          firstLocked();
          await finishedOrWaiting(new Promise(() => undefined), applicationName);
          await rename(trx, two.id);
        }),
      );
      const b = settle(
        second.database.db.transaction().execute(async (trx) => {
          await locked;
          await rename(trx, two.id);
          await rename(trx, one.id);
        }),
      );
      const outcomes = [await a, await b];
      const failed = outcomes.filter((o) => !o.ok);
      assert.equal(failed.length, 1, 'one transaction is undone');
      const error = (failed[0] as { error: Error }).error;
      assert.ok(error instanceof ConflictError, `${error.constructor.name}: ${error.message}`);
      assert.match(error.message, /another change to the same records was saved at the same moment/);
    });

    // On SQLite the draft's transaction has written (the email) before it resolves its parties, so another
    // connection cannot delete in between: it waits for the write lock. The interleaving exists on PostgreSQL.
    // PostgreSQL only: on SQLite the draft has written before it looks its recipients up, so no other connection
    // can delete in between (see the comment).
    onPostgres('a draft to a contact composed while the contact is deleted: no party links a deleted contact', async () => {
      const address = `carl-${unique()}@fabrikam.test`;
      const contact = await t.store.records.create('contact', { name: 'Carl', emailAddresses: [address] });
      const sender = await t.store.users.create({ name: 'Sue', email: `sue-${unique()}@contoso.test` });
      const [compose, remove] = await race(
        { kind: 'select', table: 'email_addresses' },
        () => first.activities.createDraft(sender.mailboxId!, sender.id, { subject: 'Hi', to: [address] }),
        () => second.records.delete('contact', contact.id),
      );
      assertClean(compose, 'composing');
      assertClean(remove, 'deleting the contact');
      assert.equal(compose.ok && remove.ok, true);
      const draft = await t.store.activities.get((compose as { value: { id: string } }).value.id);
      assert.deepEqual(draft.to.map((p) => [p.address, p.record]), [[address, null]], 'the address stays, unlinked');
      assert.equal(
        await count("select count(*) as n from activity_parties where record_type = 'contact' and record_id not in (select id from crm_records)"),
        0,
      );
    });
  });
}
