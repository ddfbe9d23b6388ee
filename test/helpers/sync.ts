/**
 * A world for the sync engine's end-to-end tests: one sandbox per test file, and per test a fresh store, a
 * profile pointing at the sandbox (its EWS URL, its CA, its service account), N users whose mailboxes exist in
 * the sandbox and are enabled, and engines started on that store with every event they emit kept.
 *
 * Mailboxes are enabled directly through store.mailboxes (associate, approve, enable in one change) instead of
 * Test & Enable: the engine is what these tests check, and a Test & Enable per mailbox costs three EWS round
 * trips each (50 mailboxes: seconds). `enable: 'test-and-enable'` runs the real thing when a test wants it.
 */
import { randomUUID } from 'node:crypto';
import { defaultConnectors } from '../../src/connectors/index.js';
import { createDiagnostics } from '../../src/diagnostics/index.js';
import { testAndEnableMailboxes } from '../../src/diagnostics/runs.js';
import type { ProfileInput } from '../../src/domain/profile.js';
import type { Profile } from '../../src/store/profiles.js';
import type { Store } from '../../src/store/store.js';
import type { CrmRecord } from '../../src/store/records.js';
import type { User } from '../../src/store/users.js';
import { createSyncEngine } from '../../src/sync/engine.js';
import type { EngineEvent, EngineOptions, SyncEngine } from '../../src/sync/engine-types.js';
import type { IncomingFilterOption, OrganizationSettings, SyncStore } from '../../src/sync/ports.js';
import type { TestSandbox } from './sandbox.js';
import { sandboxResolve } from './sandbox-connect.js';
import { type DatabaseKind, sqlite, type TestStore } from './stores.js';

export interface WorldMailbox {
  id: string;
  address: string;
  userId: string;
}

export interface WorldOptions {
  /** Default SQLite. */
  kind?: DatabaseKind;
  /** How many mailboxes to create (in the sandbox and the store), all enabled. */
  mailboxes: number;
  /** Overrides of the profile (Move Failed Emails, polling interval, notifications...). */
  profile?: Partial<ProfileInput>;
  /** The incoming filter of every mailbox owner; default 'all', so that every delivered message is tracked. */
  filter?: IncomingFilterOption;
  enable?: 'direct' | 'test-and-enable';
}

export interface World {
  sandbox: TestSandbox;
  db: TestStore;
  store: Store;
  sync: SyncStore;
  owner: User;
  profile: Profile;
  mailboxes: WorldMailbox[];
  /** Every event of every engine this world started, in order. */
  events: EngineEvent[];
  /** `--resolve` entries that reach the sandbox. */
  resolve: string[];
  /** Starts an engine on this world's store (tests' defaults: short poll floor, short lease). */
  startEngine(overrides?: Partial<EngineOptions>): SyncEngine;
  /** Stops every engine still running, and closes the store. */
  close(): Promise<void>;
}

let worlds = 0;

/** Addresses unique to one world, so that the tests of a file share one sandbox without seeing each other's mail. */
function addressesFor(count: number): string[] {
  worlds += 1;
  const tag = `w${process.pid}x${worlds}`;
  return Array.from({ length: count }, (_, i) => `${tag}-box${String(i + 1).padStart(3, '0')}@contoso.test`);
}

export function syncStoreOf(store: Store): SyncStore {
  return store.sync;
}

/** An Exchange profile for the sandbox's service account at its fixed EWS URL (Basic, its CA trusted). */
export async function createSandboxProfile(store: Store, sandbox: TestSandbox, over: Partial<ProfileInput> & Pick<ProfileInput, 'ownerId'>): Promise<Profile> {
  return store.profiles.create({
    name: 'Sandbox',
    serverType: 'exchange',
    autodiscover: false,
    incomingServer: sandbox.info.ews,
    username: sandbox.info.serviceAccount!.username,
    password: sandbox.password,
    authentication: 'basic',
    trustedCaPem: sandbox.sandbox.pki.caCertPem,
    requestTimeoutSeconds: 20,
    ...over,
  });
}

export async function createSandboxMailboxes(sandbox: TestSandbox, addresses: readonly string[]): Promise<void> {
  for (const address of addresses) {
    const created = await sandbox.control('POST', '/mailboxes', { address, displayName: address.split('@')[0] });
    if (created.status !== 201) throw new Error(`the sandbox did not create ${address}: ${JSON.stringify(created.json)}`);
  }
}

export async function openWorld(sandbox: TestSandbox, options: WorldOptions): Promise<World> {
  const kind = options.kind ?? sqlite;
  const db = await kind.open();
  const store = db.store;
  const engines: SyncEngine[] = [];
  try {
    const sync = syncStoreOf(store);
    const addresses = addressesFor(options.mailboxes + 1);
    const ownerAddress = addresses.pop()!;
    await createSandboxMailboxes(sandbox, [...addresses, ownerAddress]);
    const owner = await store.users.create({ name: 'Profile Owner', email: ownerAddress, isAdmin: true });
    const profile = await createSandboxProfile(store, sandbox, { ownerId: owner.id, ...options.profile });
    const filter = options.filter ?? 'all';
    await store.users.update(owner.id, { incomingFilter: filter });
    const mailboxes = await createEnabledMailboxes(store, profile.id, addresses, filter);
    if (options.enable === 'test-and-enable') {
      const ids = mailboxes.map((m) => m.id);
      await store.mailboxes.updateMany(ids, { enabled: false });
      const outcomes = await testAndEnableMailboxes(store, { service: createDiagnostics(), resolve: sandboxResolve(sandbox) }, ids);
      const failed = outcomes.filter((o) => o.outcome !== 'enabled');
      if (failed.length > 0) throw new Error(`Test & Enable did not enable every mailbox: ${JSON.stringify(failed.map((f) => [f.emailAddress, f.outcome]))}`);
    }
    const events: EngineEvent[] = [];
    const resolve = sandboxResolve(sandbox);
    return {
      sandbox,
      db,
      store,
      sync,
      owner,
      profile,
      mailboxes,
      events,
      resolve,
      startEngine(overrides = {}) {
        const engine = createSyncEngine({
          sync,
          connectors: defaultConnectors(),
          resolve,
          leaseMs: 5_000,
          pollFloorMs: 200,
          push: false,
          ...overrides,
          onEvent: (event) => {
            events.push(event);
            overrides.onEvent?.(event);
          },
        });
        engines.push(engine);
        engine.start();
        return engine;
      },
      async close() {
        await Promise.allSettled(engines.map((e) => e.stop()));
        await db.cleanup();
      },
    };
  } catch (error) {
    await Promise.allSettled(engines.map((e) => e.stop()));
    await db.cleanup();
    throw error;
  }
}

/**
 * Users with these addresses, their mailboxes associated with the profile, approved and enabled: what Test &
 * Enable leaves behind, without its round trips.
 */
export async function createEnabledMailboxes(store: Store, profileId: string, addresses: readonly string[], filter: IncomingFilterOption = 'all'): Promise<WorldMailbox[]> {
  const mailboxes: WorldMailbox[] = [];
  for (const address of addresses) {
    const user = await store.users.create({ name: address.split('@')[0]!, email: address, incomingFilter: filter });
    mailboxes.push({ id: user.mailboxId!, address, userId: user.id });
  }
  for (let i = 0; i < mailboxes.length; i += 500) {
    await store.mailboxes.updateMany(mailboxes.slice(i, i + 500).map((m) => m.id), { profileId, approvalStatus: 'approved', enabled: true });
  }
  return mailboxes;
}

export async function setOrganization(store: Store, change: Partial<OrganizationSettings>): Promise<OrganizationSettings> {
  return store.organization.update(change);
}

// ---- waiting and reading ----

/**
 * Polls `check` until it returns something other than undefined/false, or fails after `timeoutMs` with `what`
 * and the last value seen (`describe`). A deadline, not a timed assertion: it only bounds a hang.
 */
export async function waitUntil<T>(
  what: string,
  check: () => Promise<T | undefined | false> | T | undefined | false,
  options: { timeoutMs?: number; intervalMs?: number; describe?: () => Promise<string> | string } = {},
): Promise<T> {
  const deadline = Date.now() + (options.timeoutMs ?? 30_000);
  let lastError: unknown = null;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined && value !== false) return value;
      lastError = null;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > deadline) {
      const state = options.describe ? await options.describe() : '';
      throw new Error(`timed out waiting for ${what}${state ? `; ${state}` : ''}${lastError ? `; last error: ${(lastError as Error).stack ?? String(lastError)}` : ''}`);
    }
    await new Promise((resolve) => setTimeout(resolve, options.intervalMs ?? 100));
  }
}

/** How many email activities each of these Internet Message-IDs has (absent: none). */
export async function activityCounts(store: Store, messageIds: readonly string[]): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  for (let i = 0; i < messageIds.length; i += 500) {
    const rows = await store.database.db
      .selectFrom('email_activities')
      .select(['message_id'])
      .select((eb) => eb.fn.countAll<number | string>().as('n'))
      .where('message_id', 'in', messageIds.slice(i, i + 500))
      .groupBy('message_id')
      .execute();
    for (const row of rows) counts.set(row.message_id!, Number(row.n));
  }
  return counts;
}

/** The activities with these Message-IDs, by Message-ID (the first if there are several). */
export async function activitiesByMessageId(store: Store, messageIds: readonly string[]) {
  const rows = await store.database.db.selectFrom('email_activities').select(['id', 'message_id']).where('message_id', 'in', [...messageIds]).execute();
  const found = new Map<string, Awaited<ReturnType<Store['activities']['get']>>>();
  for (const row of rows) if (!found.has(row.message_id!)) found.set(row.message_id!, await store.activities.get(row.id));
  return found;
}

/** Summarizes counts for a failure message: how many are missing, how many are doubled, a few of each. */
export function describeCounts(expected: readonly string[], counts: Map<string, number>): string {
  const missing = expected.filter((id) => !counts.has(id));
  const doubled = expected.filter((id) => (counts.get(id) ?? 0) > 1);
  return `${expected.length - missing.length}/${expected.length} tracked, ${missing.length} missing (${missing.slice(0, 3).join(' ')}), ${doubled.length} more than once (${doubled.slice(0, 3).join(' ')})`;
}

export function messageId(tag: string): string {
  return `<${tag}-${randomUUID()}@fabrikam.test>`;
}

export interface Delivery {
  from: string;
  to: string[];
  cc?: string[];
  subject: string;
  body?: string;
  messageId: string;
  inReplyTo?: string;
  references?: string;
  /** The sandbox keeps the message unreadable: GetItem answers this per-item error (true: ErrorItemCorrupt). */
  corrupt?: true | 'ErrorItemCorrupt' | 'ErrorMimeContentConversionFailed';
}

/** Delivers one message (composed by the sandbox) to each of `into`: the same bytes, the same Message-ID. */
export async function deliver(sandbox: TestSandbox, into: readonly string[], message: Delivery): Promise<void> {
  for (const address of into) {
    const answer = await sandbox.control('POST', `/mailboxes/${encodeURIComponent(address)}/messages`, { body: 'Hello', ...message });
    if (answer.status !== 201) throw new Error(`the sandbox did not deliver to ${address}: ${JSON.stringify(answer.json)}`);
  }
}

/** Delivers many messages, a few at a time (each as `deliver`); order between them is not kept. */
export async function deliverAll(sandbox: TestSandbox, deliveries: ReadonlyArray<{ into: readonly string[]; message: Delivery }>, concurrency = 8): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < deliveries.length) {
      const d = deliveries[next++]!;
      await deliver(sandbox, d.into, d.message);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
}

/** Delivers raw bytes as a message into a mailbox. */
export async function deliverRaw(sandbox: TestSandbox, address: string, mime: Buffer): Promise<{ itemId: string }> {
  const answer = await sandbox.control<{ itemId: string }>('POST', `/mailboxes/${encodeURIComponent(address)}/messages`, { mimeBase64: mime.toString('base64') });
  if (answer.status !== 201) throw new Error(`the sandbox did not deliver to ${address}: ${JSON.stringify(answer.json)}`);
  return answer.json;
}

export interface SandboxItem {
  itemId: string;
  subject: string;
  internetMessageId: string | null;
  corrupt?: string;
}

/** The items of a folder of a sandbox mailbox (a distinguished id or a path such as "Inbox/Undeliverable"). */
export async function folderItems(sandbox: TestSandbox, address: string, folder: string): Promise<SandboxItem[] | null> {
  const answer = await sandbox.control<SandboxItem[]>('GET', `/mailboxes/${encodeURIComponent(address)}/folders/${encodeURIComponent(folder)}/items`);
  if (answer.status === 404) return null;
  if (answer.status !== 200) throw new Error(`the sandbox did not list ${address} ${folder}: ${JSON.stringify(answer.json)}`);
  return answer.json;
}

/** Mailboxes the sandbox streams notifications for right now (an open GetStreamingEvents connection). */
export async function streamedMailboxes(sandbox: TestSandbox): Promise<Set<string>> {
  const answer = await sandbox.control<{ connections: Array<{ mailboxes: string[] }> }>('GET', '/subscriptions');
  if (answer.status !== 200) throw new Error(`the sandbox did not list its subscriptions: ${JSON.stringify(answer.json)}`);
  return new Set(answer.json.connections.flatMap((c) => c.mailboxes.map((m) => m.toLowerCase())));
}

export async function addFault(sandbox: TestSandbox, fault: Record<string, unknown>): Promise<{ id: string }> {
  const answer = await sandbox.control<{ id: string }>('POST', '/faults', fault);
  if (answer.status !== 201) throw new Error(`the sandbox refused the fault ${JSON.stringify(fault)}: ${JSON.stringify(answer.json)}`);
  return answer.json;
}

/** The CRM records and 200 deliveries of the incoming tests: 150 to one mailbox, 30 to two at once, 20 replies. */
export interface IncomingPlan {
  contacts: CrmRecord[];
  accounts: CrmRecord[];
  plan: Array<{ into: string[]; message: Delivery; sender: CrmRecord }>;
  /** Each reply's Message-ID and the Message-ID it answers (In-Reply-To and References). */
  replies: Array<{ id: string; answers: string }>;
}

/**
 * Five contacts and two accounts as senders, and 200 Message-IDs for three mailboxes (tagged with `tag` so that
 * suites sharing a sandbox do not collide): 150 to one mailbox, 30 to two at once, 20 replies to earlier ones.
 */
export async function incomingPlan(store: Store, boxes: readonly [WorldMailbox, WorldMailbox, WorldMailbox], tag = ''): Promise<IncomingPlan> {
  const contacts: CrmRecord[] = [];
  for (let i = 0; i < 5; i++) contacts.push(await store.records.create('contact', { name: `Contact ${i}`, emailAddresses: [`contact${i}@fabrikam.test`] }));
  const accounts: CrmRecord[] = [];
  for (let i = 0; i < 2; i++) accounts.push(await store.records.create('account', { name: `Account ${i}`, emailAddresses: [`orders${i}@adatum.test`] }));
  const senders = [...contacts, ...accounts];
  const plan: IncomingPlan['plan'] = [];
  for (let i = 0; i < 150; i++) {
    const sender = senders[i % senders.length]!;
    const box = boxes[i % 3]!;
    plan.push({ sender, into: [box.address], message: { from: sender.emailAddresses[0]!, to: [box.address], subject: `Single ${i}`, messageId: messageId(`${tag}single${i}`) } });
  }
  for (let i = 0; i < 30; i++) {
    const sender = senders[i % senders.length]!;
    const pair = [boxes[i % 3]!, boxes[(i + 1) % 3]!];
    plan.push({
      sender,
      into: pair.map((m) => m.address),
      message: { from: sender.emailAddresses[0]!, to: [pair[0]!.address], cc: [pair[1]!.address], subject: `Shared ${i}`, messageId: messageId(`${tag}shared${i}`) },
    });
  }
  const replies: IncomingPlan['replies'] = [];
  for (let i = 0; i < 20; i++) {
    const original = plan[i]!;
    const id = messageId(`${tag}reply${i}`);
    replies.push({ id, answers: original.message.messageId });
    plan.push({
      sender: original.sender,
      into: original.into,
      message: {
        from: original.sender.emailAddresses[0]!,
        to: original.message.to,
        subject: `RE: ${original.message.subject}`,
        messageId: id,
        inReplyTo: original.message.messageId,
        references: original.message.messageId,
      },
    });
  }
  return { contacts, accounts, plan, replies };
}
