/**
 * The console's email and records pages in a real Chromium, as an administrator uses them: a contact created
 * on its form, an email composed to it and sent from a mailbox on the Exchange sandbox (the engine sends it),
 * the email's parties resolved to the contact by name, the list filtered by party, the HTML body kept in a
 * sandboxed frame, and the API's field errors shown next to their fields.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { browserMissing, type ConsoleWorld, openBrowser, screenshot, signIn, startConsole, type TestBrowser } from '../helpers/console.js';
import { createSandboxMailboxes, createSandboxProfile, waitUntil } from '../helpers/sync.js';

const missing = browserMissing();

describe('the console’s email and records pages', { skip: missing ?? false }, () => {
  let world: ConsoleWorld;
  let browser: TestBrowser;
  before(async () => {
    world = await startConsole({ sandbox: true });
    const sandbox = world.sandbox!;
    await createSandboxMailboxes(sandbox, [world.admin.email]);
    const profile = await createSandboxProfile(world.store, sandbox, { ownerId: world.admin.user.id });
    await world.store.mailboxes.update(world.admin.user.mailboxId!, { profileId: profile.id, approvalStatus: 'approved', enabled: true });
    world.startEngine();
    browser = await openBrowser();
  });
  after(async () => {
    await browser?.close();
    await world?.close();
  });

  test('a contact made on its form, an email sent to it, its party resolved by name, the list filtered by party', async () => {
    const page = await browser.page();
    await signIn(page, world, world.admin);

    // The contact, on the records form.
    await page.goto(`${world.base}/records/contacts/new`);
    await page.getByLabel('Name').fill('Carla Contact');
    await page.getByLabel('Email addresses').fill('carla@fabrikam.test\nc.contact@fabrikam.test');
    await page.getByRole('button', { name: 'Create contact' }).click();
    await page.getByRole('heading', { name: 'Carla Contact' }).waitFor();
    const contactId = page.url().split('/').pop()!;
    assert.deepEqual((await world.store.records.get('contact', contactId)).emailAddresses, ['carla@fabrikam.test', 'c.contact@fabrikam.test']);
    await page.getByRole('link', { name: 'Back to contacts' }).click();
    const contactRow = page.getByRole('row').filter({ hasText: 'Carla Contact' });
    await contactRow.filter({ hasText: 'c.contact@fabrikam.test' }).waitFor();
    await screenshot(page, 'records-contacts');

    // An email to somebody else, which the party filter must leave out.
    await world.store.activities.createDraft(world.admin.user.mailboxId!, world.admin.user.id, { subject: 'Lunch on Friday', to: ['bob@northwind.test'] });

    // Composing: a bad address is refused next to its field, and nothing is saved.
    await page.getByRole('link', { name: 'Email activities' }).click();
    await page.getByRole('link', { name: 'New email' }).click();
    await page.getByRole('heading', { name: 'New email' }).waitFor();
    assert.match(await page.getByLabel('From mailbox').locator('option:checked').innerText(), new RegExp(world.admin.email.replace('.', '\\.')));
    await page.getByLabel('To').fill('not-an-address');
    await page.getByRole('button', { name: 'Save draft' }).click();
    const toError = page.locator('.field-error[data-field="to"]');
    await toError.waitFor();
    assert.match(await toError.innerText(), /address/i);
    assert.equal((await world.store.activities.list({ party: 'not-an-address' })).items.length, 0);

    await page.getByLabel('To').fill('Carla@Fabrikam.test');
    await page.getByLabel('Subject').fill('Your quote for March');
    await page.getByLabel('Message').fill('Hello Carla,\n\nthe quote is attached.\n\nAda');
    await page.getByLabel('Record type').selectOption('contact');
    await page.getByLabel('Record', { exact: true }).selectOption({ label: 'Carla Contact (carla@fabrikam.test)' });
    await page.getByLabel('Attachments').setInputFiles({ name: 'quote.txt', mimeType: 'text/plain', buffer: Buffer.from('Quote: 3 widgets, 42 EUR') });
    await page.getByText('1 file(s), 24 bytes together').waitFor();
    await screenshot(page, 'activity-compose');
    await page.getByRole('button', { name: 'Send', exact: true }).click();
    await page.waitForURL(/\/activities\/[0-9a-f-]{36}$/);
    const activityId = page.url().split('/').pop()!;

    // The engine sends it from the sandbox mailbox.
    await waitUntil('the email is sent', async () => (await world.store.activities.get(activityId)).status === 'sent', {
      timeoutMs: 30_000,
      describe: async () => JSON.stringify(await world.store.activities.get(activityId).then((a) => [a.status, a.failureReason])),
    });
    await page.reload();
    await page.getByRole('heading', { name: 'Your quote for March' }).waitFor();
    await page.locator('.page-header .status', { hasText: 'sent' }).waitFor();

    const parties = page.getByRole('region', { name: 'Parties' });
    const to = parties.getByTestId('party').and(page.locator('[data-role="to"]'));
    assert.equal(await to.count(), 1);
    assert.match(await to.innerText(), /Carla@Fabrikam\.test/);
    const resolved = to.getByRole('link', { name: 'Carla Contact' });
    await resolved.waitFor();
    assert.equal(await resolved.getAttribute('href'), `/records/contacts/${contactId}`);
    const from = parties.getByTestId('party').and(page.locator('[data-role="from"]'));
    await from.getByRole('link', { name: 'Ada Admin' }).waitFor();
    // Regarding the contact, and the attachment downloads with the session cookie.
    await page.locator('dl.facts').getByRole('link', { name: 'Carla Contact' }).waitFor();
    const download = page.getByRole('link', { name: 'quote.txt' });
    assert.equal(await download.getAttribute('download'), 'quote.txt');
    const file = await page.context().request.get(world.base + (await download.getAttribute('href'))!);
    assert.equal(file.status(), 200);
    assert.equal(await file.text(), 'Quote: 3 widgets, 42 EUR');
    assert.match(await page.locator('pre.body-text').innerText(), /the quote is attached/);
    assert.equal(await page.getByRole('button', { name: 'Delete draft' }).count(), 0, 'a sent email is not deleted');
    await screenshot(page, 'activity');

    // Reply: the answer goes to the same recipient, RE: the subject, regarding the same contact.
    await page.getByRole('link', { name: 'Reply' }).click();
    await page.getByRole('heading', { name: 'Reply' }).waitFor();
    assert.equal(await page.getByLabel('To').inputValue(), 'Carla@Fabrikam.test');
    assert.match(await page.getByLabel('Subject').inputValue(), /^RE: .*Your quote for March/);
    assert.equal(await page.getByLabel('Record type').inputValue(), 'contact');
    await page.getByLabel('Record', { exact: true }).locator('option:checked', { hasText: 'Carla Contact' }).waitFor({ state: 'attached' });
    await page.getByRole('button', { name: 'Save draft' }).click();
    await page.waitForURL((url) => /^\/activities\/[0-9a-f-]{36}$/.test(url.pathname) && !url.pathname.endsWith(activityId));
    const reply = await world.store.activities.get(page.url().split('/').pop()!);
    assert.equal(reply.status, 'draft');
    assert.deepEqual(reply.regarding, { type: 'contact', id: contactId });
    assert.equal(reply.inReplyTo, (await world.store.activities.get(activityId)).messageId);
    // Its page links the email it answers.
    await page.getByRole('region', { name: 'Conversation' }).getByRole('link', { name: 'Your quote for March', exact: true }).waitFor();

    // The list, filtered by a part of the contact's address, kept in the address.
    await page.goto(`${world.base}/activities`);
    await page.getByRole('link', { name: 'Lunch on Friday' }).waitFor();
    await page.getByLabel('Party').fill('carla@fab');
    await page.getByRole('button', { name: 'Search' }).click();
    await page.waitForURL(/party=carla%40fab/);
    const row = page.getByRole('row').filter({ has: page.getByRole('link', { name: 'Your quote for March', exact: true }) });
    await row.waitFor();
    await page.getByRole('link', { name: 'Lunch on Friday' }).waitFor({ state: 'detached' });
    assert.match(await row.innerText(), /outgoing/);
    assert.match(await row.innerText(), /sent/);
    assert.equal((await row.locator('td.number').innerText()).trim(), '1');
    assert.equal(await page.getByRole('link', { name: 'Your quote for March', exact: true }).getAttribute('href'), `/activities/${activityId}`);
    // The reply drafted above is to Carla too.
    await page.getByRole('link', { name: 'RE: Your quote for March' }).waitFor();
    await screenshot(page, 'activities-list');
    // The filter survives a reload (it is in the address), and a direction that excludes it empties the list.
    await page.reload();
    assert.equal(await page.getByLabel('Party').inputValue(), 'carla@fab');
    await page.getByLabel('Direction').selectOption('incoming');
    await page.getByRole('button', { name: 'Search' }).click();
    await page.getByText('No email matches these filters.').waitFor();
    await page.context().close();
  });

  test('an administrator creates a user and sets their password on the users form; the user signs in with it', async () => {
    const page = await browser.page();
    await signIn(page, world, world.admin);
    await page.goto(`${world.base}/records/users/new`);
    await page.getByLabel('Name').fill('Sam Second');
    await page.getByLabel('Email address').fill('sam@contoso.test');
    await page.getByLabel('Set password').fill('short');
    await page.getByRole('button', { name: 'Create user' }).click();
    // The user is made, and their page says why the password was refused (too short), next to its field.
    await page.getByText('The user was created, but the password was not set.').waitFor();
    await page.locator('.field-error[data-field="password"]').waitFor();
    const sam = (await world.store.users.list({})).items.find((u) => u.email === 'sam@contoso.test');
    assert.ok(sam, 'the user was created before the password was refused');
    assert.equal(new URL(page.url()).pathname, `/records/users/${sam.id}`);
    await page.getByLabel('Set password').fill('a perfectly long passphrase');
    await page.getByRole('button', { name: 'Save' }).click();
    await page.getByText('the new password is set').waitFor();
    await page.goto(`${world.base}/records/users`);
    await page.getByRole('row').filter({ hasText: 'sam@contoso.test' }).waitFor();
    await screenshot(page, 'records-users');
    await page.context().close();

    const samPage = await browser.page();
    await signIn(samPage, world, { user: sam, email: 'sam@contoso.test', password: 'a perfectly long passphrase' });
    // Not an administrator: of the users only themselves, and no "New user".
    await samPage.goto(`${world.base}/records/users`);
    await samPage.getByText('this is you').waitFor();
    // The subtitle comes before the list has loaded: wait for their own row.
    await samPage.getByRole('row').filter({ hasText: 'sam@contoso.test' }).waitFor();
    assert.equal(await samPage.getByRole('row').count(), 2, 'a header row and their own');
    assert.equal(await samPage.getByRole('link', { name: 'New user' }).count(), 0);
    await samPage.goto(`${world.base}/records/queues`);
    await samPage.getByRole('heading', { name: 'Queues' }).waitFor();
    assert.equal(await samPage.getByRole('link', { name: 'New queue' }).count(), 0);
    await samPage.context().close();
  });

  test('a draft’s HTML body is shown in a sandboxed frame, on a phone, and the draft is deleted from its page', async () => {
    const draft = await world.store.activities.createDraft(world.admin.user.mailboxId!, world.admin.user.id, {
      subject: 'HTML draft',
      bodyHtml: '<p id="hello">Hello <b>there</b></p><script>parent.document.title = "scripted"</script>',
      to: ['nobody@northwind.test'],
    });
    const page = await browser.page({ width: 390, height: 844 });
    await signIn(page, world, world.admin);
    await page.goto(`${world.base}/activities/${draft.id}`);
    await page.getByRole('heading', { name: 'HTML draft' }).waitFor();
    const frame = page.locator('iframe.body-html');
    assert.equal(await frame.getAttribute('sandbox'), '');
    assert.equal(await page.frameLocator('iframe.body-html').locator('#hello').innerText(), 'Hello there');
    assert.notEqual(await page.title(), 'scripted', 'the email’s script did not run');
    const to = page.getByRole('region', { name: 'Parties' }).getByTestId('party').and(page.locator('[data-role="to"]'));
    assert.match(await to.innerText(), /not resolved/);
    await screenshot(page, 'activity-draft-phone');
    page.once('dialog', (dialog) => void dialog.accept());
    await page.getByRole('button', { name: 'Delete draft' }).click();
    await page.waitForURL(/\/activities$/);
    await assert.rejects(world.store.activities.get(draft.id), /does not exist/);
    await page.context().close();
  });

  test('a list longer than a page loads the rest with Load more, each record once', async () => {
    for (let i = 0; i < 55; i += 1) await world.store.records.create('lead', { name: `Paged Lead ${String(i).padStart(2, '0')}` });
    const page = await browser.page();
    await signIn(page, world, world.admin);
    await page.goto(`${world.base}/records/leads`);
    const rows = page.getByRole('row').filter({ hasText: 'Paged Lead' });
    await rows.nth(49).waitFor();
    assert.equal(await rows.count(), 50, 'the first page holds 50');
    await page.getByRole('button', { name: 'Load more' }).click();
    await rows.nth(54).waitFor();
    await page.getByRole('button', { name: 'Load more' }).waitFor({ state: 'detached' });
    const names = await rows.locator('td:first-child').allInnerTexts();
    assert.equal(names.length, 55);
    assert.equal(new Set(names).size, 55, 'no record is listed twice');
    await page.context().close();
  });
});
