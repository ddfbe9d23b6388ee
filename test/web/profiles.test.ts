/**
 * The Email Server Profiles pages in a real Chromium, against the Exchange sandbox: an administrator creates an
 * Exchange profile, sees an http:// URL refused next to its field, runs Test Connection and watches the three steps
 * come in, then sees step 2 fail with its fix once the sandbox switches Basic off; the list, a refused delete, and
 * the fields that follow the server type.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Page } from 'playwright-core';
import { browserMissing, type ConsoleWorld, openBrowser, screenshot, signIn, startConsole, type TestBrowser } from '../helpers/console.js';

const missing = browserMissing();

describe('the Email Server Profiles pages', { skip: missing ?? false }, () => {
  let world: ConsoleWorld;
  let browser: TestBrowser;
  let page: Page;
  let profileId: string;
  before(async () => {
    world = await startConsole({ sandbox: true });
    browser = await openBrowser();
    page = await browser.page();
    await signIn(page, world, world.admin);
  });
  after(async () => {
    await browser?.close();
    await world?.close();
  });

  const sandbox = () => world.sandbox!;
  const domain = () => sandbox().info.domain;
  const fieldError = (field: string) => page.locator(`.field-error[data-field="${field}"]`);
  const steps = () => page.locator('ol.steps > li');

  test('creating an Exchange profile: an http:// URL is refused next to its field, even with Autodiscover on; then it is created', async () => {
    await page.getByRole('link', { name: 'Email Server Profiles' }).click();
    await page.getByText('No email server profile yet').waitFor();
    await page.getByRole('link', { name: 'New profile' }).click();
    await page.getByRole('heading', { name: 'New email server profile' }).waitFor();

    assert.equal(await page.getByLabel('Server type').inputValue(), 'exchange');
    assert.equal(await page.getByLabel('Use Autodiscover').isChecked(), true);
    // Fields of other server types are not on the form.
    for (const other of ['Tenant ID', 'Client ID', 'Credential source', 'Master user separator']) assert.equal(await page.getByLabel(other).count(), 0, other);
    // The limits come from the API's own documentation.
    await page.getByText('From 1 to 300; empty: 27 (the default).').waitFor();

    await page.getByLabel('Name', { exact: true }).fill('Contoso sandbox');
    await page.getByLabel('EWS URL', { exact: true }).fill(`http://mail.${domain()}/EWS/Exchange.asmx`);
    await page.getByLabel('Username (service account)').fill(sandbox().info.serviceAccount!.username);
    await page.getByLabel('Password', { exact: true }).fill(sandbox().password);
    await page.getByLabel('Trusted CA certificates (PEM)').fill(sandbox().sandbox.pki.caCertPem);
    await page.getByRole('button', { name: 'Create profile' }).click();

    await fieldError('incomingServer').waitFor();
    assert.match(await fieldError('incomingServer').innerText(), /must start with https:\/\/.*http:\/\/.*not saved/);
    assert.equal(await page.getByLabel('EWS URL', { exact: true }).getAttribute('aria-invalid'), 'true');
    assert.equal(await page.getByLabel('EWS URL', { exact: true }).evaluate((el) => el === el.ownerDocument.activeElement), true, 'the refused field has the focus');
    await page.getByRole('alert').filter({ hasText: 'The profile was not created' }).waitFor();
    assert.match(await page.locator('.field', { has: page.getByLabel('EWS URL', { exact: true }) }).innerText(), /Not used while Autodiscover is on/);
    assert.equal((await world.store.profiles.list({})).items.length, 0, 'nothing was saved');
    await screenshot(page, 'profile-form-http-refused');

    // With Autodiscover on the URL is not needed: left empty, the profile is created, and its page opens.
    await page.getByLabel('EWS URL', { exact: true }).fill('');
    await page.getByRole('button', { name: 'Create profile' }).click();
    await page.getByRole('heading', { name: 'Contoso sandbox' }).waitFor();
    const match = /\/profiles\/([0-9a-f-]{36})$/.exec(page.url());
    assert.ok(match, `the address is the new profile's: ${page.url()}`);
    profileId = match[1]!;
    const stored = await world.store.profiles.get(profileId);
    assert.deepEqual([stored.serverType, stored.autodiscover, stored.incomingServer, stored.ownerId], ['exchange', true, null, world.admin.user.id]);
    assert.equal(await page.getByLabel('Password (set)', { exact: true }).inputValue(), '', 'the password is never shown');
    await page.getByText('Test Connection has not run for this profile yet.').waitFor();
  });

  test('Test Connection shows the three steps as they complete, each with its time, request and summary', async () => {
    await page.getByLabel('Mailbox to open in step 3').fill(`alice@${domain()}`);
    // Notes how many steps the page showed, and whether the result was there, at every change of the page.
    // (Scripts as text: the tests are compiled without the DOM's types.)
    await page.evaluate(`(() => {
      const seen = (window.seen = []);
      new MutationObserver(() => {
        const state = document.querySelectorAll('ol.steps > li').length + (document.querySelector('.test-summary') ? '+result' : '');
        if (seen[seen.length - 1] !== state) seen.push(state);
      }).observe(document.body, { childList: true, subtree: true, characterData: true });
    })()`);
    await page.getByRole('button', { name: 'Test Connection' }).click();
    await page.locator('.test-summary').filter({ hasText: 'Result:' }).waitFor({ timeout: 30_000 });
    const seen = (await page.evaluate('window.seen')) as string[];
    assert.ok(seen.includes('1') && seen.includes('2'), `the steps appeared one by one before the result: ${seen.join(' → ')}`);

    assert.equal(await steps().count(), 3);
    const titles = ['Autodiscover / HTTPS connection', 'EWS connection', 'Mailbox connection'];
    for (const [index, title] of titles.entries()) {
      const step = steps().nth(index);
      const text = await step.innerText();
      assert.match(text, new RegExp(`Step ${index + 1}:\\s+${title.replace(/[/]/g, '\\/')}`));
      assert.match(text, /\bsuccess\b/);
      assert.match(text, /\d+(\.\d+)? (ms|s)\b/, `step ${index + 1} shows its time`);
      assert.match(text, /Request\s+POST https:\/\//);
    }
    assert.match(await steps().nth(0).innerText(), /by Autodiscover/);
    assert.match(await steps().nth(1).innerText(), /\(Basic\)/);
    assert.match(await steps().nth(2).innerText(), new RegExp(`Opened the Inbox of alice@${domain().replace(/\./g, '\\.')}`));
    assert.match(await page.locator('.test-summary').innerText(), new RegExp(`success\\s+for\\s+alice@${domain().replace(/\./g, '\\.')}`));
    const stored = await world.store.profiles.get(profileId);
    assert.equal(stored.lastTestResult?.status, 'success', 'the result is kept as the last one');
    await screenshot(page, 'profile-form-test-success');

    // On a new visit the page shows the last result.
    await page.reload();
    await page.locator('.test-summary').filter({ hasText: 'Last test:' }).waitFor();
    assert.equal(await steps().count(), 3);
  });

  test('with Basic switched off in the sandbox, step 2 fails and the page shows the server answer and the fix', async () => {
    // A fixed EWS URL, so that step 1 (HTTPS) passes without signing in and step 2 is the one refused.
    await page.getByLabel('Use Autodiscover').uncheck();
    await page.getByLabel('EWS URL', { exact: true }).fill(`http://mail.${domain()}:${sandbox().info.listen.port}/EWS/Exchange.asmx`);
    await page.getByRole('button', { name: 'Save changes' }).click();
    await fieldError('incomingServer').waitFor();
    assert.match(await fieldError('incomingServer').innerText(), /must start with https:\/\//);
    await page.getByLabel('EWS URL', { exact: true }).fill(`https://mail.${domain()}:${sandbox().info.listen.port}/EWS/Exchange.asmx`);
    await page.getByRole('button', { name: 'Save changes' }).click();
    await page.getByText('Saved the profile "Contoso sandbox".').waitFor();
    assert.equal((await world.store.profiles.get(profileId)).autodiscover, false);

    assert.equal((await sandbox().control('PATCH', '/settings', { basicAuth: false })).status, 200);
    try {
      await page.getByRole('button', { name: 'Test Connection' }).click();
      await page.locator('.test-summary').filter({ hasText: 'Result:' }).waitFor({ timeout: 30_000 });
    } finally {
      await sandbox().control('PATCH', '/settings', { basicAuth: true });
    }
    const statuses = await steps().locator('h3 .status').allInnerTexts();
    assert.deepEqual(statuses, ['success', 'failure', 'skipped']);
    const failed = steps().nth(1);
    const text = await failed.innerText();
    assert.match(text, /Basic authentication is not enabled/);
    assert.match(text, /Fix: .*NTLM/);
    assert.match(text, /HTTP 401/);
    assert.match(text, /www-authenticate: .*NTLM/i);
    assert.match(text, /basic-auth-disabled/);
    // The mailbox field was left empty this time: step 3 would have opened the owner's mailbox.
    assert.match(await page.locator('.test-summary').innerText(), new RegExp(`failure\\s+for\\s+${world.admin.email.replace(/\./g, '\\.')}`));
    await failed.scrollIntoViewIfNeeded();
    await screenshot(page, 'profile-form-test-basic-off');
  });

  test('the list shows the profile with its type, server, owner and last test; a profile in use cannot be deleted', async () => {
    await page.getByRole('link', { name: 'All email server profiles' }).click();
    const row = page.locator('tbody tr', { hasText: 'Contoso sandbox' });
    await row.waitFor();
    const text = await row.innerText();
    assert.match(text, /Exchange Server \(EWS\)/);
    assert.match(text, new RegExp(`https://mail\\.${domain().replace(/\./g, '\\.')}:\\d+/EWS/Exchange\\.asmx`));
    assert.match(text, /Ada Admin/);
    assert.match(text, /failure/);
    await screenshot(page, 'profiles-list');

    await world.store.mailboxes.update(world.member.user.mailboxId!, { profileId });
    await row.getByRole('link', { name: 'Contoso sandbox' }).click();
    await page.getByRole('button', { name: 'Delete' }).click();
    await page.getByRole('button', { name: 'Yes, delete it' }).click();
    await page.getByRole('alert').filter({ hasText: 'is used by 1 mailbox' }).waitFor();
    assert.ok(await world.store.profiles.get(profileId), 'the profile is still there');
  });

  test('the form follows the server type: IMAP shows its credential source and master user, Exchange Online its app registration', async () => {
    await page.goto(`${world.base}/profiles/new`);
    await page.getByLabel('Server type').selectOption('imap-smtp');
    assert.equal(await page.getByLabel('Use Autodiscover').count(), 0);
    await page.getByLabel('Credential source').waitFor();
    assert.equal(await page.getByLabel('Master user', { exact: true }).count(), 1);
    assert.equal(await page.getByLabel('The SMTP server saves sent email').count(), 1);
    await page.getByLabel('Credential source').selectOption('mailbox');
    assert.equal(await page.getByLabel('Master user', { exact: true }).count(), 0, "each mailbox's own login: no master user");
    await page.getByLabel('Use the same settings for outgoing email').uncheck();
    await page.getByLabel('Outgoing username').waitFor();
    await page.getByLabel('Server type').selectOption('pop3-smtp');
    assert.equal(await page.getByLabel('Move Failed Emails to Undeliverable Folder').count(), 0, 'POP3 has no folders');
    await page.getByLabel('Delete email from the server after tracking').waitFor();
    await page.getByLabel('Server type').selectOption('exchange-online');
    await page.getByLabel('Tenant ID').waitFor();
    assert.equal(await page.getByLabel('Username (service account)').count(), 0);
    // The API's rules for the app registration show next to their fields.
    await page.getByLabel('Name', { exact: true }).fill('Online');
    await page.getByLabel('Client ID').fill('not-a-guid');
    await page.getByRole('button', { name: 'Create profile' }).click();
    await fieldError('clientId').filter({ hasText: 'is not a GUID' }).waitFor();
    await fieldError('tenantId').filter({ hasText: 'is required' }).waitFor();
    await fieldError('clientSecret').filter({ hasText: 'is required, or clientCertificate instead' }).waitFor();
    // A client certificate instead of a secret, and the authority: a key that is not the certificate's is refused next to its field.
    await page.getByLabel('Client certificate (PEM)').waitFor();
    await page.getByLabel('Client certificate (PEM)').fill('-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n');
    await page.getByLabel('Authority').fill('http://login.contoso.test/contoso.test');
    await page.getByRole('button', { name: 'Create profile' }).click();
    await fieldError('clientCertificate').filter({ hasText: 'no private key' }).waitFor();
    await fieldError('authority').filter({ hasText: 'must start with https://' }).waitFor();
  });

  test('on a phone the form and its steps fit the screen', async () => {
    const phone = await browser.page({ width: 390, height: 844 });
    await signIn(phone, world, world.admin);
    await phone.goto(`${world.base}/profiles/${profileId}`);
    await phone.locator('ol.steps > li').first().waitFor();
    const overflow = (await phone.evaluate('document.documentElement.scrollWidth - document.documentElement.clientWidth')) as number;
    const wide = (await phone.evaluate(`Array.from(document.querySelectorAll('main *'))
      .filter((el) => el.getBoundingClientRect().right > document.documentElement.clientWidth + 1)
      .slice(0, 5)
      .map((el) => el.tagName + '.' + el.className + ': ' + Math.round(el.getBoundingClientRect().right))`)) as string[];
    assert.ok(overflow <= 0, `no sideways scrolling: ${overflow}px too wide (${wide.join(', ')})`);
    await screenshot(phone, 'profile-form-phone');
    await phone.context().close();
  });
});
