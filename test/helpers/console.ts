/**
 * The admin console's browser tests: a Liaison API server over a throw-away store, listening on loopback and
 * serving a console build made for this run (so a test never reads a stale dist/web), optionally with the
 * Exchange sandbox and the sync engine; and Debian's Chromium driven by playwright-core.
 *
 * Without /usr/bin/chromium the tests skip with the reason, and in CI (CI=true) that skip is a failure.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import { type Browser, chromium, type Page } from 'playwright-core';
import { buildApi } from '../../src/api/server.js';
import { createDiagnostics } from '../../src/diagnostics/index.js';
import type { Store } from '../../src/store/store.js';
import type { User } from '../../src/store/users.js';
import { createSyncEngine } from '../../src/sync/engine.js';
import type { SyncEngine } from '../../src/sync/engine-types.js';
import { defaultConnectors } from '../../src/connectors/index.js';
import { startTestSandbox, type TestSandbox } from './sandbox.js';
import { sandboxResolve } from './sandbox-connect.js';
import { createSandboxMailboxes, syncStoreOf } from './sync.js';
import { type DatabaseKind, sqlite, type TestStore } from './stores.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const CHROMIUM = process.env.LIAISON_CHROMIUM ?? '/usr/bin/chromium';
/** Where the tests write their screenshots (the main ones are copied into docs/screenshots by hand). */
export const SCREENSHOTS = path.join(ROOT, 'test-results', 'screenshots');

/** Why the browser tests cannot run here, or null. In CI a missing browser is an error, not a skip. */
export function browserMissing(): string | null {
  if (existsSync(CHROMIUM)) return null;
  const reason = `SKIPPED: no Chromium at ${CHROMIUM} (apt-get install chromium); the console's browser tests did not run`;
  if (process.env.CI === 'true') throw new Error(`${reason}, and CI=true makes that a failure`);
  process.stderr.write(`\n*** ${reason} ***\n`);
  return reason;
}

let built: Promise<string> | null = null;

/** One console build per test process, into a temporary folder, with the project's own Vite config. */
export function buildConsole(): Promise<string> {
  built ??= (async () => {
    const { build } = await import('vite');
    const outDir = mkdtempSync(path.join(tmpdir(), 'liaison-web-'));
    await build({ configFile: path.join(ROOT, 'src/web/vite.config.ts'), logLevel: 'error', build: { outDir, emptyOutDir: true, sourcemap: false } });
    process.once('exit', () => rmSync(outDir, { recursive: true, force: true }));
    return outDir;
  })();
  return built;
}

export interface ConsoleUser {
  user: User;
  email: string;
  password: string;
}

export interface ConsoleWorld {
  base: string;
  app: FastifyInstance;
  db: TestStore;
  store: Store;
  admin: ConsoleUser;
  /** A user who is not an administrator, with their own mailbox. */
  member: ConsoleUser;
  sandbox: TestSandbox | null;
  /** Starts the sync engine on this world's store (short poll floor, as the engine's tests use). */
  startEngine(): SyncEngine;
  close(): Promise<void>;
}

export interface ConsoleOptions {
  kind?: DatabaseKind;
  /** Run the Exchange sandbox beside it; Test Connection and Test & Enable reach it without DNS. */
  sandbox?: boolean;
  /** Addresses to create as mailboxes in the sandbox (before any Liaison user has them). */
  sandboxMailboxes?: string[];
}

export const PASSWORDS = { admin: 'correct horse battery staple', member: 'another long passphrase' } as const;

export async function startConsole(options: ConsoleOptions = {}): Promise<ConsoleWorld> {
  const webRoot = await buildConsole();
  const sandbox = options.sandbox ? await startTestSandbox() : null;
  const db = await (options.kind ?? sqlite).open();
  const engines: SyncEngine[] = [];
  try {
    const store = db.store;
    const resolve = sandbox ? sandboxResolve(sandbox) : [];
    if (sandbox && options.sandboxMailboxes?.length) await createSandboxMailboxes(sandbox, options.sandboxMailboxes);
    const app = await buildApi({ store, diagnostics: { service: createDiagnostics(), resolve }, webRoot });
    await app.listen({ host: '127.0.0.1', port: 0 });
    const address = app.server.address();
    const base = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
    const domain = sandbox?.info.domain ?? 'contoso.test';
    const adminUser = await store.users.create({ name: 'Ada Admin', email: `admin@${domain}`, isAdmin: true });
    await store.sessions.setPassword(adminUser.id, PASSWORDS.admin);
    const memberUser = await store.users.create({ name: 'Uma User', email: `uma@${domain}` });
    await store.sessions.setPassword(memberUser.id, PASSWORDS.member);
    return {
      base,
      app,
      db,
      store,
      sandbox,
      admin: { user: adminUser, email: adminUser.email, password: PASSWORDS.admin },
      member: { user: memberUser, email: memberUser.email, password: PASSWORDS.member },
      startEngine() {
        const engine = createSyncEngine({ sync: syncStoreOf(store), connectors: defaultConnectors(), resolve, leaseMs: 5_000, pollFloorMs: 200, push: false });
        engines.push(engine);
        engine.start();
        return engine;
      },
      async close() {
        await Promise.allSettled(engines.map((e) => e.stop()));
        await app.close();
        await db.cleanup();
        await sandbox?.close();
      },
    };
  } catch (error) {
    await db.cleanup();
    await sandbox?.close();
    throw error;
  }
}

export interface TestBrowser {
  browser: Browser;
  /** A new page in its own context (its own cookies), 1280 × 900 unless told. */
  page(viewport?: { width: number; height: number }): Promise<Page>;
  close(): Promise<void>;
}

export async function openBrowser(): Promise<TestBrowser> {
  // playwright-core gives every launch a fresh, empty user data folder of its own (it refuses --user-data-dir).
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
  });
  return {
    browser,
    async page(viewport = { width: 1280, height: 900 }) {
      const context = await browser.newContext({ viewport });
      const page = await context.newPage();
      page.setDefaultTimeout(15_000);
      return page;
    },
    async close() {
      await browser.close();
    },
  };
}

/** Signs in through the sign-in page, as a person would, and waits for the console's frame. */
export async function signIn(page: Page, world: ConsoleWorld, who: ConsoleUser): Promise<void> {
  await page.goto(world.base + '/');
  await page.getByLabel('Email').fill(who.email);
  await page.getByLabel('Password').fill(who.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('button', { name: 'Sign out' }).waitFor();
}

export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  const file = path.join(SCREENSHOTS, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}
