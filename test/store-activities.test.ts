/**
 * The email store keeps the same rules as the API when called directly: body and attachment limits, lists
 * without bodies, and rights from the mailbox's current owner. On SQLite and PostgreSQL.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ACTIVITY_LIMITS, ATTACHMENT_POLICY } from '../src/domain/activity.js';
import { ForbiddenError, NotFoundError, ValidationError } from '../src/domain/errors.js';
import { DATABASES, type TestStore } from './helpers/stores.js';

for (const kind of DATABASES) {
  describe(`email store rules on ${kind.name}`, kind.suite, () => {
    let t: TestStore;
    before(async () => {
      t = await kind.open();
    });
    after(async () => t?.cleanup());

    test('bodies over their length and attachments over the per-email totals are refused', async () => {
      const owner = await t.store.users.create({ name: 'Olga Owner', email: 'olga@contoso.test' });
      await assert.rejects(
        t.store.activities.createDraft(owner.mailboxId!, owner.id, { bodyText: 'x'.repeat(ACTIVITY_LIMITS.bodyMaxLength + 1) }),
        (error: unknown) => error instanceof ValidationError && error.problems[0]?.field === 'bodyText',
      );
      // Characters, not UTF-16 units: a body of emoji at the limit is taken.
      const emoji = '\u{1F600}'.repeat(ACTIVITY_LIMITS.bodyMaxLength);
      const wide = await t.store.activities.createDraft(owner.mailboxId!, owner.id, { bodyText: emoji });
      assert.equal((await t.store.activities.get(wide.id)).bodyText, emoji);

      const tiny = (i: number) => ({ fileName: `f${i}.txt`, contentType: 'text/plain', content: Buffer.from('x') });
      const full = await t.store.activities.createDraft(owner.mailboxId!, owner.id, {
        attachments: Array.from({ length: ATTACHMENT_POLICY.maxCount }, (_, i) => tiny(i)),
      });
      await assert.rejects(t.store.activities.updateDraft(full.id, { attachments: [tiny(99)] }), /at most 50 attachments/);
      await assert.rejects(
        t.store.activities.createDraft(owner.mailboxId!, owner.id, { attachments: Array.from({ length: ATTACHMENT_POLICY.maxCount + 1 }, (_, i) => tiny(i)) }),
        /at most 50 attachments; this one would have 51/,
      );
    });

    test('a list carries an excerpt of the text body and neither body', async () => {
      const owner = await t.store.users.create({ name: 'Lena List', email: 'lena@contoso.test' });
      const text = `${'\u00e9'.repeat(ACTIVITY_LIMITS.excerptLength - 1)}\u{1F600}and more`;
      const draft = await t.store.activities.createDraft(owner.mailboxId!, owner.id, { bodyText: text, bodyHtml: '<p>html</p>' });
      const item = (await t.store.activities.list({ visibleTo: owner.id })).items.find((a) => a.id === draft.id)!;
      assert.equal(item.bodyExcerpt, [...text].slice(0, ACTIVITY_LIMITS.excerptLength).join(''), 'cut at characters, the emoji whole');
      assert.ok(!('bodyText' in item) && !('bodyHtml' in item));
    });

    test('an actor reaches an email through its mailbox’s current owner only', async () => {
      const first = await t.store.users.create({ name: 'First Owner', email: 'first@contoso.test' });
      const second = await t.store.users.create({ name: 'Second Owner', email: 'second@contoso.test' });
      const admin = { userId: (await t.store.users.create({ name: 'An Admin', email: 'an.admin@contoso.test', isAdmin: true })).id, isAdmin: true };
      const queue = await t.store.queues.create({ name: 'Billing', email: 'billing@contoso.test', ownerId: first.id });
      const asFirst = { userId: first.id, isAdmin: false };
      const asSecond = { userId: second.id, isAdmin: false };
      await assert.rejects(t.store.activities.createDraft(queue.mailboxId!, second.id, { subject: 'no' }, asSecond), ForbiddenError);
      const draft = await t.store.activities.createDraft(queue.mailboxId!, first.id, { subject: 'mine', to: ['a@b.test'], attachments: [{ fileName: 'a.txt', contentType: 'text/plain', content: Buffer.from('a') }] }, asFirst);
      assert.equal((await t.store.activities.get(draft.id, asFirst)).subject, 'mine');
      await assert.rejects(t.store.activities.get(draft.id, asSecond), ForbiddenError);

      await t.store.queues.update(queue.id, { ownerId: second.id });
      for (const attempt of [
        () => t.store.activities.get(draft.id, asFirst),
        () => t.store.activities.updateDraft(draft.id, { subject: 'taken' }, asFirst),
        () => t.store.activities.send(draft.id, asFirst),
        () => t.store.activities.deleteDraft(draft.id, asFirst),
        () => t.store.activities.attachment(draft.id, draft.attachments[0]!.id, asFirst),
      ]) {
        await assert.rejects(attempt(), ForbiddenError);
      }
      assert.equal((await t.store.activities.list({ visibleTo: first.id })).items.some((a) => a.id === draft.id), false);
      assert.equal((await t.store.activities.get(draft.id, asSecond)).subject, 'mine');
      assert.equal((await t.store.activities.get(draft.id, admin)).subject, 'mine');
      await assert.rejects(t.store.activities.get('01234567-89ab-7cde-8f01-23456789abcd', asSecond), NotFoundError);
      assert.equal((await t.store.activities.send(draft.id, asSecond)).status, 'pending-send');
    });
  });
}
