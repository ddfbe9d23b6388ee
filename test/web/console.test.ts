/**
 * The console's frame in a real Chromium: signing in and out, the lock-out's message, the first administrator's
 * setup link, and what a non-administrator may open, by the pages and by the API with the same session.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { browserMissing, type ConsoleWorld, openBrowser, screenshot, signIn, startConsole, type TestBrowser } from '../helpers/console.js';

const missing = browserMissing();

describe('the console frame', { skip: missing ?? false }, () => {
  let world: ConsoleWorld;
  let browser: TestBrowser;
  before(async () => {
    world = await startConsole();
    browser = await openBrowser();
  });
  after(async () => {
    await browser?.close();
    await world?.close();
  });

  test('serves the console at every page path with its security headers, and keeps the API its JSON 404', async () => {
    const page = await fetch(`${world.base}/mailboxes/some-id`);
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-type') ?? '', /text\/html/);
    assert.match(page.headers.get('content-security-policy') ?? '', /script-src 'self'/);
    assert.match(await page.text(), /<div id="app">/);
    const miss = await fetch(`${world.base}/api/v1/nothing-here`);
    assert.equal(miss.status, 404);
    assert.match(miss.headers.get('content-type') ?? '', /json/);
  });

  test('a wrong password is refused on the page; the right one opens the console; signing out ends it', async () => {
    const page = await browser.page();
    await page.goto(world.base + '/');
    await page.getByLabel('Email').fill(world.admin.email);
    await page.getByLabel('Password').fill('not the password at all');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('alert').filter({ hasText: 'wrong' }).waitFor();
    await screenshot(page, 'sign-in-refused');
    await page.getByLabel('Password').fill(world.admin.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('button', { name: 'Sign out' }).waitFor();
    const cookies = await page.context().cookies();
    const session = cookies.find((c) => c.name === 'liaison_session');
    assert.ok(session, 'the session cookie is set');
    assert.equal(session.httpOnly, true);
    assert.equal(session.sameSite, 'Strict');
    // The session survives a reload: the console asks the API who is signed in.
    await page.reload();
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('button', { name: 'Sign in' }).waitFor();
    const after = await page.context().request.get(`${world.base}/api/v1/users/me`);
    assert.equal(after.status(), 401);
    await page.context().close();
  });

  test('a non-administrator sees no admin pages, and the API answers their session 403', async () => {
    const page = await browser.page();
    await signIn(page, world, world.member);
    assert.equal(await page.getByRole('link', { name: 'Email Server Profiles' }).count(), 0);
    await page.goto(world.base + '/profiles');
    await page.getByRole('alert').filter({ hasText: 'Only an administrator' }).waitFor();
    const users = await page.context().request.get(`${world.base}/api/v1/users`);
    assert.equal(users.status(), 403);
    const adminsMailbox = await page.context().request.get(`${world.base}/api/v1/mailboxes/${world.admin.user.mailboxId}`);
    assert.ok([403, 404].includes(adminsMailbox.status()), `another user's mailbox answered ${adminsMailbox.status()}`);
    // A state change with the cookie but without the CSRF token is refused.
    const forged = await page.context().request.post(`${world.base}/api/v1/contacts`, { data: { name: 'Forged' } });
    assert.equal(forged.status(), 403);
    await page.context().close();
  });

  test('the first administrator sets a password through the one-time setup link', async () => {
    const fresh = await startConsole();
    try {
      // No administrator can sign in: take the admin's password away, as on a first start.
      await fresh.db.store.database.db.updateTable('users').set({ password_hash: null }).where('id', '=', fresh.admin.user.id).execute();
      const token = await fresh.store.sessions.issueSetupToken();
      assert.ok(token, 'a setup token is issued while no administrator has a password');
      const page = await browser.page({ width: 390, height: 844 });
      await page.goto(`${fresh.base}/setup#${token}`);
      await page.getByLabel('Password', { exact: true }).fill('a brand new passphrase');
      await page.getByLabel('Password again').fill('a brand new passphrase');
      await screenshot(page, 'setup-phone');
      await page.getByRole('button', { name: 'Save and sign in' }).click();
      await page.getByRole('button', { name: 'Sign out' }).waitFor();
      assert.equal(new URL(page.url()).hash, '', 'the spent token is kept out of the address');
      await page.context().close();
    } finally {
      await fresh.close();
    }
  });
});
