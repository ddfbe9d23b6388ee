/**
 * The dashboard and the alerts page in a real Chromium, with the Exchange sandbox and the sync engine running:
 * mail the sandbox receives shows on the open dashboard without a reload (the live event stream), and the
 * alerts page shows an alert with the server's response and the fix, filtered through the address.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { browserMissing, type ConsoleWorld, openBrowser, screenshot, signIn, startConsole, type TestBrowser } from '../helpers/console.js';
import { deliver } from '../helpers/engine-harness.js';
import { addFault, createEnabledMailboxes, createSandboxMailboxes, createSandboxProfile } from '../helpers/sync.js';

const missing = browserMissing();

describe('the dashboard and alerts pages', { skip: missing ?? false }, () => {
  let world: ConsoleWorld;
  let browser: TestBrowser;
  let addresses: string[];
  let mailboxIds: string[];
  let profileId: string;

  before(async () => {
    world = await startConsole({ sandbox: true });
    const sandbox = world.sandbox!;
    addresses = [`dash-a-${process.pid}@${sandbox.info.domain}`, `dash-b-${process.pid}@${sandbox.info.domain}`];
    await createSandboxMailboxes(sandbox, addresses);
    const profile = await createSandboxProfile(world.store, sandbox, { name: 'Sandbox Exchange', ownerId: world.admin.user.id });
    profileId = profile.id;
    mailboxIds = (await createEnabledMailboxes(world.store, profile.id, addresses)).map((m) => m.id);
    world.startEngine();
    browser = await openBrowser();
  });
  after(async () => {
    await browser?.close();
    await world?.close();
  });

  test('the tracked count rises as the sandbox receives mail, without a reload', async () => {
    const page = await browser.page();
    await signIn(page, world, world.admin);
    await page.getByRole('heading', { name: 'Dashboard', level: 1 }).waitFor();
    await page.getByTestId('updated').filter({ hasText: 'live' }).waitFor();
    const tracked = page.getByTestId('tracked-today');
    assert.equal((await tracked.textContent())?.trim(), '0');
    // A mark on the window: a reload would lose it.
    await page.evaluate(() => {
      (globalThis as unknown as { dashboardMark: number }).dashboardMark = 42;
    });

    await deliver(world.sandbox!, addresses[0]!, { subject: 'Dashboard test one' });
    await deliver(world.sandbox!, addresses[1]!, { subject: 'Dashboard test two' });
    await page.getByTestId('tracked-today').filter({ hasText: /^\s*2\s*$/ }).waitFor({ timeout: 30_000 });
    assert.equal(await page.evaluate(() => (globalThis as unknown as { dashboardMark?: number }).dashboardMark), 42, 'the page was not reloaded');
    assert.equal((await page.getByTestId('tracked-24h').textContent())?.trim(), '2');

    // The chart says what it shows, and its numbers are there as a table for those who cannot see it.
    const chart = page.getByRole('img', { name: /Email tracked per hour/ });
    assert.match((await chart.getAttribute('aria-label')) ?? '', /2 in all/);
    assert.equal(await page.locator('svg rect.bar').count(), 24);
    assert.equal(await page.locator('table.visually-hidden tbody tr').count(), 24);

    // The profile's row: both mailboxes succeed once the engine has synchronized them, each count a link to the list.
    const row = page.getByRole('row', { name: /Sandbox Exchange/ });
    await row.getByRole('link', { name: '2 Sandbox Exchange mailboxes succeeding' }).waitFor({ timeout: 30_000 });
    assert.equal(
      await row.getByRole('link', { name: '2 Sandbox Exchange mailboxes succeeding' }).getAttribute('href'),
      `/mailboxes?profileId=${profileId}&status=success&enabled=true`,
    );
    assert.equal(await page.getByTestId('failing-total').textContent(), '0');

    // A mailbox whose server starts failing shows up among the failing ones, live, with the engine's last error.
    // (Incoming only: a cycle whose outgoing half succeeds would clear the incoming half's error.)
    await world.store.mailboxes.update(mailboxIds[1]!, { outgoingMethod: 'none' });
    await addFault(world.sandbox!, { kind: 'malformed', mailbox: addresses[1]! });
    const failing = page.getByRole('table', { name: /Failing mailboxes/ }).getByRole('row').filter({ hasText: addresses[1]! });
    await failing.waitFor({ timeout: 30_000 });
    assert.equal(await failing.getByRole('link', { name: addresses[1]! }).getAttribute('href'), `/mailboxes/${mailboxIds[1]}`);
    assert.ok(((await failing.locator('td.last-error').textContent()) ?? '').trim().length > 3, 'the last error is shown');
    assert.notEqual(await page.getByTestId('failing-total').textContent(), '0');
    await screenshot(page, 'dashboard');
    await world.sandbox!.control('DELETE', '/faults');

    const phone = await browser.page({ width: 390, height: 844 });
    await signIn(phone, world, world.admin);
    await phone.getByTestId('tracked-today').waitFor();
    await screenshot(phone, 'dashboard-phone');
  });

  test("a member's dashboard counts only their own mailbox, and links no profile page", async () => {
    const page = await browser.page();
    await signIn(page, world, world.member);
    await page.getByTestId('updated').filter({ hasText: 'live' }).waitFor();
    assert.equal(await page.getByTestId('mailboxes-total').textContent(), '1');
    assert.equal((await page.getByTestId('tracked-today').textContent())?.trim(), '0');
    await page.getByText('No mailbox is failing.').waitFor();
    assert.equal(await page.locator('a[href^="/profiles/"]').count(), 0);
  });

  test('the alerts page shows an alert with its links, the server response and the fix; filters live in the address', async () => {
    await world.store.alerts.raise({
      level: 'error',
      scope: 'mailbox',
      profileId,
      mailboxId: mailboxIds[1]!,
      code: 'ews.unauthorized',
      message: `Liaison could not sign in to ${addresses[1]}`,
      serverResponse: 'HTTP/1.1 401 Unauthorized\nWWW-Authenticate: Basic realm="sandbox"',
      fix: "Check the profile's service account password, then run Test & Enable again.",
    });
    await world.store.alerts.raise({ level: 'information', scope: 'profile', profileId, code: 'profile.tested', message: 'The profile passed its connection test' });

    const page = await browser.page();
    await signIn(page, world, world.admin);
    await page.goto(`${world.base}/alerts`);
    const item = page.locator('li.alert-item').filter({ hasText: 'ews.unauthorized' });
    await item.waitFor();
    await item.getByText(`Liaison could not sign in to ${addresses[1]}`).waitFor();
    assert.match((await item.locator('pre').textContent()) ?? '', /401 Unauthorized/);
    await item.getByText("Check the profile's service account password").waitFor();
    assert.equal(await item.getByRole('link', { name: addresses[1]! }).getAttribute('href'), `/mailboxes/${mailboxIds[1]}`);
    assert.equal(await item.getByRole('link', { name: 'Sandbox Exchange' }).getAttribute('href'), `/profiles/${profileId}`);
    // Newest first: the information alert was raised after the error.
    const codes = await page.locator('li.alert-item code.alert-code').allTextContents();
    assert.ok(codes.indexOf('profile.tested') >= 0 && codes.indexOf('profile.tested') < codes.indexOf('ews.unauthorized'), codes.join(', '));
    await screenshot(page, 'alerts');

    await page.getByLabel('Level').selectOption('error');
    await page.waitForURL(/level=error/);
    await page.locator('li.alert-item').filter({ hasText: 'profile.tested' }).waitFor({ state: 'detached' });
    // The list may be between two answers (emptied, then filled): wait for the error alert before counting.
    await page.locator('li.alert-item').filter({ hasText: 'ews.unauthorized' }).waitFor();
    assert.equal(await page.locator('li.alert-item').filter({ hasText: 'ews.unauthorized' }).count(), 1);
    // The filter is in the address: opening it anew gives the same list.
    await page.reload();
    await page.locator('li.alert-item').filter({ hasText: 'ews.unauthorized' }).waitFor();
    assert.equal(await page.locator('li.alert-item').filter({ hasText: 'profile.tested' }).count(), 0);
    assert.equal(await page.getByLabel('Level').inputValue(), 'error');
    await page.getByLabel('Level').selectOption('warning');
    await page.getByText('No alert matches these filters.').waitFor();
  });
});
