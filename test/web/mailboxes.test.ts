/**
 * The Mailboxes pages in a real Chromium, against the Exchange sandbox: an administrator associates mailboxes
 * with a profile (the default one too), approves them and Test & Enables them, and reads each row's outcome; a
 * mailbox's page shows its state and alerts, and sets the tracking filter and a mailbox's own login; a
 * non-administrator cannot open another user's mailbox, on the page or by the API with the same session.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Page } from 'playwright-core';
import type { Profile } from '../../src/store/profiles.js';
import { browserMissing, type ConsoleWorld, openBrowser, screenshot, signIn, startConsole, type TestBrowser } from '../helpers/console.js';

const missing = browserMissing();
const DOMAIN = 'contoso.test';
const GINA = `gina@${DOMAIN}`;
const DORA = `dora@${DOMAIN}`;
/** A Liaison user whose mailbox the sandbox does not have: its Test & Enable fails. */
const OTTO = `otto@${DOMAIN}`;

describe('the Mailboxes pages', { skip: missing ?? false }, () => {
  let world: ConsoleWorld;
  let browser: TestBrowser;
  let sandboxProfile: Profile;
  const ids: Record<string, string> = {};

  before(async () => {
    world = await startConsole({ sandbox: true, sandboxMailboxes: [GINA, DORA] });
    browser = await openBrowser();
    const { sandbox, store } = world;
    sandboxProfile = await store.profiles.create({
      name: 'Sandbox Exchange',
      serverType: 'exchange',
      autodiscover: false,
      incomingServer: sandbox!.info.ews,
      username: sandbox!.info.serviceAccount!.username,
      password: sandbox!.password,
      authentication: 'basic',
      trustedCaPem: sandbox!.sandbox.pki.caCertPem,
      requestTimeoutSeconds: 20,
      ownerId: world.admin.user.id,
    });
    for (const [name, email] of [['Gina', GINA], ['Dora', DORA], ['Otto', OTTO], ['Ivy', `ivy@${DOMAIN}`]] as const) {
      ids[name] = (await store.users.create({ name, email })).mailboxId!;
    }
  });
  after(async () => {
    await browser?.close();
    await world?.close();
  });

  const row = (page: Page, address: string) => page.getByRole('row').filter({ has: page.getByRole('checkbox', { name: `Select ${address}` }) });

  test('an administrator associates, approves and Test & Enables mailboxes, and sees per row which were enabled, which failed and which were refused', async () => {
    const page = await browser.page();
    await signIn(page, world, world.admin);
    await page.getByRole('navigation').getByRole('link', { name: 'Mailboxes' }).click();
    await page.getByRole('heading', { name: 'Mailboxes' }).waitFor();
    await row(page, GINA).waitFor();

    // Nothing selected: the action says what to do instead of doing nothing.
    await page.getByRole('button', { name: 'Approve Email' }).click();
    await page.getByRole('status').filter({ hasText: 'Select one or more mailboxes first' }).waitFor();

    for (const address of [GINA, DORA, OTTO]) await page.getByRole('checkbox', { name: `Select ${address}` }).check();
    await page.getByText('3 mailboxes selected').waitFor();
    await page.getByLabel('Profile to associate with').selectOption({ label: 'Sandbox Exchange' });
    await page.getByRole('button', { name: 'Associate with profile' }).click();
    await page.getByText('Associated 3 mailboxes with "Sandbox Exchange"').waitFor();
    assert.match(await row(page, GINA).innerText(), /Sandbox Exchange[\s\S]*associated/);
    assert.equal((await world.store.mailboxes.get(ids.Dora!)).profileId, sandboxProfile.id);

    await page.getByRole('button', { name: 'Approve Email' }).click();
    await page.getByText('Approved the email address of 3 mailboxes').waitFor();
    assert.match(await row(page, DORA).innerText(), /approved[\s\S]*Email address approved/);

    // Ivy has no profile and no approved address: refused, with why.
    await page.getByRole('checkbox', { name: `Select ivy@${DOMAIN}` }).check();
    await page.getByRole('button', { name: 'Test & Enable' }).click();
    await page.getByRole('status').filter({ hasText: 'Testing 4 mailboxes…' }).waitFor();
    await page.getByText('Test & Enable: 2 enabled, 1 failed, 1 refused.').waitFor({ timeout: 60_000 });
    for (const address of [GINA, DORA]) {
      const text = await row(page, address).innerText();
      assert.match(text, /Tested and enabled in/, `${address}: ${text}`);
      assert.match(text, /success\s+success\s+yes/, `${address} shows its refreshed statuses: ${text}`);
    }
    for (const id of [ids.Gina!, ids.Dora!]) assert.equal((await world.store.mailboxes.get(id)).enabled, true);
    const otto = await row(page, OTTO).innerText();
    assert.match(otto, /failed\s+Mailbox connection: /, otto);
    assert.match(otto, /failure\s+failure\s+no/, otto);
    const ivy = await row(page, `ivy@${DOMAIN}`).innerText();
    assert.match(ivy, /refused\s+Not tested:[\s\S]*not approved[\s\S]*no email server profile/, ivy);
    assert.equal((await world.store.mailboxes.get(ids.Otto!)).enabled, false);
    await screenshot(page, 'mailboxes-list');

    // The filters live in the address: the profile filter shows only the profile's mailboxes.
    await page.getByLabel('Profile', { exact: true }).selectOption({ label: 'Sandbox Exchange' });
    await page.waitForURL(new RegExp(`profileId=${sandboxProfile.id}`));
    await page.getByRole('checkbox', { name: `Select ${world.admin.email}` }).waitFor({ state: 'detached' });
    assert.equal(await page.getByRole('checkbox', { name: `Select ${GINA}` }).count(), 1);
    assert.equal(await page.getByRole('checkbox', { name: `Select ivy@${DOMAIN}` }).count(), 0);
    await page.reload();
    await page.getByLabel('Profile', { exact: true }).locator('option', { hasText: 'Sandbox Exchange' }).waitFor({ state: 'attached' });
    assert.equal(await page.getByLabel('Profile', { exact: true }).inputValue(), sandboxProfile.id, 'the filter survives a reload');
    await page.getByRole('checkbox', { name: `Select ${DORA}` }).waitFor();
    await page.context().close();
  });

  test('Apply Default Email Server Profile explains a missing default, and applies it once set', async () => {
    const page = await browser.page();
    await signIn(page, world, world.admin);
    await page.goto(`${world.base}/mailboxes?profileId=none`);
    await page.getByRole('checkbox', { name: `Select ${world.member.email}` }).check();
    await page.getByRole('button', { name: 'Apply Default Email Server Profile' }).click();
    await page.getByRole('status').filter({ hasText: 'No default email server profile is set' }).waitFor();
    assert.equal((await world.store.mailboxes.get(world.member.user.mailboxId!)).profileId, null);

    await page.getByRole('button', { name: 'Default email server profile', exact: true }).click();
    const setting = page.getByLabel('Default email server profile', { exact: true });
    assert.ok(await setting.isVisible(), 'the link opens the setting');
    await setting.selectOption({ label: 'Sandbox Exchange' });
    await page.getByRole('button', { name: 'Save default' }).click();
    await page.getByText('Saved.').waitFor();
    assert.equal((await world.store.organization.get()).defaultProfileId, sandboxProfile.id);

    await page.getByRole('button', { name: 'Apply Default Email Server Profile' }).click();
    await page.getByText('Associated 1 mailbox with "Sandbox Exchange"').waitFor();
    assert.equal((await world.store.mailboxes.get(world.member.user.mailboxId!)).profileId, sandboxProfile.id);
    await page.context().close();
  });

  test("a mailbox's page shows its state and alerts, changes the tracking filter, and keeps the own login's password hidden", async () => {
    const page = await browser.page();
    await signIn(page, world, world.admin);
    await page.goto(`${world.base}/mailboxes`);
    await page.getByRole('link', { name: 'Gina' }).click();
    await page.getByRole('heading', { name: 'Gina', level: 1 }).waitFor();
    // The owner's name is looked up after the mailbox (it shows … until then; failed once in CI): wait for it.
    await page.locator('dl.facts').getByText('Gina (gina@contoso.test)').waitFor();
    const facts = await page.locator('dl.facts').innerText();
    assert.match(facts, /Sandbox Exchange/);
    assert.match(facts, /Gina \(gina@contoso\.test\)/);
    assert.match(facts, /Server-side synchronization/);
    await page.getByRole('heading', { name: 'Alerts' }).waitFor();
    assert.ok((await page.locator('ol.alerts li').count()) >= 1, 'Test & Enable left an alert');
    await page.getByRole('button', { name: 'Disable' }).waitFor();

    await page.getByLabel('Track incoming email').selectOption('all');
    await page.getByRole('button', { name: 'Save filter' }).click();
    await page.getByText('Saved.').waitFor();
    assert.equal((await world.store.users.get((await world.store.mailboxes.get(ids.Gina!)).userId!)).incomingFilter, 'all');
    await screenshot(page, 'mailbox-page');

    // Disabling from the page, and enabling refused with the API's reason once the address is rejected.
    await page.getByRole('button', { name: 'Disable' }).click();
    await page.getByText('The mailbox is disabled.').waitFor();
    await page.getByRole('button', { name: 'Reject Email' }).click();
    await page.getByText('The email address is rejected').waitFor();
    await page.getByRole('button', { name: 'Enable', exact: true }).click();
    await page.getByRole('alert').filter({ hasText: 'cannot enable' }).waitFor();

    // An IMAP profile that takes each mailbox's own login: the user name is shown, the password never.
    const imap = await world.store.profiles.create({
      name: 'Own IMAP logins',
      serverType: 'imap-smtp',
      incomingServer: 'imap.contoso.test',
      outgoingServer: 'smtp.contoso.test',
      credentialSource: 'mailbox',
      ownerId: world.admin.user.id,
    });
    await world.store.mailboxes.update(ids.Ivy!, { profileId: imap.id });
    await page.goto(`${world.base}/mailboxes/${ids.Ivy}`);
    await page.getByRole('heading', { name: "The mailbox's own login" }).waitFor();
    await page.getByText('None is set yet.').waitFor();
    await page.getByLabel('User name').fill('ivy.login');
    await page.getByLabel('Password', { exact: true }).fill('s3cret-imap-pass');
    await page.getByRole('button', { name: 'Save login' }).click();
    await page.getByText('The login is saved.').waitFor();
    await page.getByText('ivy.login', { exact: true }).waitFor();
    assert.match(await page.locator('main').innerText(), /password set/);
    assert.equal(await page.getByLabel('Password', { exact: true }).inputValue(), '', 'the password is not kept in the form');
    assert.ok(!(await page.content()).includes('s3cret-imap-pass'), 'the password is nowhere on the page');
    const stored = await world.store.mailboxes.get(ids.Ivy!);
    assert.deepEqual([stored.loginUsername, stored.loginPasswordSet], ['ivy.login', true]);
    await page.getByRole('button', { name: 'Remove login' }).click();
    await page.getByText('The login is removed.').waitFor();
    assert.equal((await world.store.mailboxes.get(ids.Ivy!)).loginPasswordSet, false);
    await page.context().close();
  });

  test("a non-administrator cannot open another user's mailbox, on the page or by the API; their own they can", async () => {
    const page = await browser.page({ width: 390, height: 844 });
    await signIn(page, world, world.member);
    await page.goto(`${world.base}/mailboxes/${world.admin.user.mailboxId}`);
    const refusal = page.getByRole('alert');
    await refusal.waitFor();
    assert.match(await refusal.innerText(), /Not allowed: Only an administrator may read other users' mailboxes/);
    const api = await page.context().request.get(`${world.base}/api/v1/mailboxes/${world.admin.user.mailboxId}`);
    assert.ok([403, 404].includes(api.status()), `another user's mailbox answered ${api.status()}`);

    await page.goto(`${world.base}/mailboxes`);
    await page.getByRole('link', { name: 'Uma User' }).waitFor();
    assert.equal(await page.getByRole('link', { name: 'Gina' }).count(), 0, 'only their own mailboxes are listed');
    assert.equal(await page.getByRole('button', { name: 'Test & Enable' }).count(), 0, 'no admin actions');
    assert.equal(await page.getByLabel('Owner').count(), 0);

    await page.getByRole('link', { name: 'Uma User' }).click();
    await page.getByLabel('Track incoming email').selectOption('from-crm-records');
    await page.getByRole('button', { name: 'Save filter' }).click();
    await page.getByText('Saved.').waitFor();
    assert.equal((await world.store.users.get(world.member.user.id)).incomingFilter, 'from-crm-records');
    assert.equal(await page.getByRole('button', { name: 'Disable' }).count(), 0);
    await screenshot(page, 'mailbox-page-phone');
    await page.context().close();
  });
});
