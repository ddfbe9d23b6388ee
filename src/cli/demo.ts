/**
 * `liaison serve --sandbox` with nothing else to do: the demo's administrator, users and queue for the sandbox's
 * demo mailboxes, an Exchange profile pointing at the sandbox's EWS side and an Exchange Online profile pointing at
 * its Graph side (a hybrid organization: one mailbox is in Exchange Online), those mailboxes associated, approved,
 * tested and enabled, and the CRM records the demo mail's senders resolve to. Every start runs it; what exists is kept, so a
 * second start creates nothing and changes nothing.
 */
import { readFileSync } from 'node:fs';
import { Agent, request } from 'undici';
import type { DiagnosticsContext } from '../diagnostics/runs.js';
import { testAndEnableMailboxes } from '../diagnostics/runs.js';
import type { Mailbox } from '../store/mailboxes.js';
import type { Profile } from '../store/profiles.js';
import type { CrmRecordType } from '../store/records.js';
import type { Store } from '../store/store.js';
import type { Queue, User } from '../store/users.js';
import type { EngineEvent } from '../sync/engine-types.js';
import type { IncomingFilterOption } from '../sync/ports.js';

/** What the demo needs of the sandbox: what `startSandbox` reports once it listens with `--seed demo`. */
export interface DemoSandboxInfo {
  domain: string;
  /** Path of the sandbox's CA certificate (PEM): the profile trusts it. */
  caCert: string;
  /** The control API's base URL (`…/_sandbox`), for the demo mailboxes' display names. */
  control: string;
  serviceAccount?: { username: string; password: string };
  mailboxes?: string[];
  /** The Graph side: its URL, authority and tenant, and the demo app (without it, every demo mailbox is on the Exchange profile). */
  graph?: { url: string; authority: string; tenantId: string; clientId?: string; clientSecret?: string };
}

export const DEMO_PROFILE_NAME = 'Sandbox Exchange';
export const DEMO_ONLINE_PROFILE_NAME = 'Sandbox Exchange Online';

/** Local parts of the demo mailboxes that the demo puts on the Exchange Online profile, as a hybrid organization would. */
const DEMO_ONLINE = new Set(['bob']);

/**
 * The demo users' incoming filter: the demo mail comes from the CRM's contacts and accounts, so this tracks it,
 * and shows the filter at work on mail from anyone else. (A user's default tracks only replies to CRM email.)
 */
export const DEMO_USER_FILTER = 'from-crm-records' satisfies IncomingFilterOption;

/** Local parts of the sandbox's demo mailboxes that are shared mailboxes: a CRM queue each, not a user. */
const DEMO_QUEUES = new Set(['sales']);

/**
 * The CRM records that the seeded mail's senders (src/sandbox/seed.ts) resolve to: two contacts, and an account
 * whose address is its buyer's, so that both kinds of record show up on tracked email.
 */
const DEMO_RECORDS: ReadonlyArray<{ type: CrmRecordType; name: string; address: string }> = [
  { type: 'contact', name: 'Jane Doe', address: 'jane.doe@fabrikam.test' },
  { type: 'contact', name: 'Raj Patel', address: 'raj.patel@adatum.test' },
  { type: 'account', name: 'Northwind Traders', address: 'lee.wong@northwind.test' },
];

export interface DemoMailbox {
  address: string;
  kind: 'user' | 'queue';
  mailboxId: string;
  /** The user or queue was created by this run. */
  created: boolean;
  /** What this run did about enabling it. */
  outcome: 'already-enabled' | 'enabled' | 'failed' | 'refused' | 'left-alone';
  /** Why it is not enabled (failed, refused, left alone). */
  problem: string | null;
}

export interface DemoProfile {
  id: string;
  name: string;
  created: boolean;
  updated: boolean;
}

export interface DemoSetup {
  administrator: { id: string; email: string; created: boolean; promoted: boolean; token: string | null };
  /** The Exchange profile (EWS). */
  profile: DemoProfile;
  /** The Exchange Online profile (Microsoft Graph), when the sandbox has its demo app. */
  onlineProfile: DemoProfile | null;
  mailboxes: DemoMailbox[];
  records: Array<{ type: CrmRecordType; id: string; name: string; address: string; created: boolean }>;
  /** The organization's system notification mailbox (the owner's failure email comes from it), and whether this run named it. */
  notificationMailbox: { id: string; address: string | null; set: boolean };
  /** What the demo could not set up, and what to do about it: one line each. */
  notes: string[];
}

/**
 * Sets the demo up against a sandbox seeded with `--seed demo`. Idempotent: existing users, queues, records
 * and the profile are found by address or name and kept; a mailbox that an administrator associated with
 * another profile, or rejected, is left as it is (and said so).
 */
export async function setupDemo(store: Store, info: DemoSandboxInfo, context: DiagnosticsContext): Promise<DemoSetup> {
  const account = info.serviceAccount;
  const addresses = info.mailboxes ?? [];
  if (!account || addresses.length === 0) {
    throw new Error('the sandbox was started without its demo data (--seed demo), so there is no demo to set up');
  }
  const caPem = readFileSync(info.caCert, 'utf8');
  const names = await displayNames(info, caPem);
  const notes: string[] = [];

  const userAddresses = addresses.filter((a) => !DEMO_QUEUES.has(localPart(a)));
  const queueAddresses = addresses.filter((a) => DEMO_QUEUES.has(localPart(a)));
  const administrator = await ensureAdministrator(store, userAddresses[0] ?? addresses[0]!, names);

  const owners = new Map<string, { kind: 'user' | 'queue'; record: User | Queue; created: boolean }>();
  for (const address of userAddresses) {
    const found = await store.users.findByEmail(address);
    if (found) owners.set(address, { kind: 'user', record: found, created: administrator.created && found.id === administrator.id });
    else {
      const user = await store.users.create({ email: address, name: nameOf(address, names), incomingFilter: DEMO_USER_FILTER });
      owners.set(address, { kind: 'user', record: user, created: true });
    }
  }
  // Set when the demo creates a user; one that existed keeps the filter its administrator chose, said if it hides the demo mail.
  for (const [address, owner] of owners) {
    const filter = owner.record.incomingFilter;
    if (filter === 'responses-to-crm-email' || filter === 'none') {
      notes.push(
        `${address}'s incoming filter is "${filter}", so the demo mail in its Inbox is not tracked; ` +
          `PATCH /api/v1/${owner.kind === 'user' ? 'users' : 'queues'}/${owner.record.id} with {"incomingFilter":"${DEMO_USER_FILTER}"} to track it`,
      );
    }
  }
  for (const address of queueAddresses) {
    const found = await findQueue(store, address);
    if (found) owners.set(address, { kind: 'queue', record: found, created: false });
    else {
      const queue = await store.queues.create({ email: address, name: nameOf(address, names), ownerId: administrator.id });
      owners.set(address, { kind: 'queue', record: queue, created: true });
    }
  }

  const profile = await ensureProfile(store, administrator.id, account, caPem);
  const graph = info.graph?.clientId && info.graph.clientSecret ? { ...info.graph, clientId: info.graph.clientId, clientSecret: info.graph.clientSecret } : null;
  const online = graph ? await ensureOnlineProfile(store, administrator.id, graph, caPem) : null;
  /** The profile the demo gives a mailbox. */
  const profileFor = (address: string): Profile => (online && DEMO_ONLINE.has(localPart(address)) ? online.profile : profile.profile);
  // A mailbox already on either demo profile stays where it is (an earlier demo, or an administrator, put it there).
  const demoProfileIds = new Set([profile.profile.id, ...(online ? [online.profile.id] : [])]);
  const isDemoProfile = (id: string | null): boolean => id === null || demoProfileIds.has(id);

  const mailboxes = new Map<string, Mailbox>();
  for (const [address, owner] of owners) {
    if (!owner.record.mailboxId) throw new Error(`the ${owner.kind} ${address} has no mailbox; every user and queue gets one when created`);
    mailboxes.set(address, await store.mailboxes.get(owner.record.mailboxId));
  }
  for (const target of new Set([...mailboxes.keys()].map((a) => profileFor(a).id))) {
    const unassociated = [...mailboxes].filter(([a, m]) => m.profileId === null && profileFor(a).id === target).map(([, m]) => m.id);
    if (unassociated.length > 0) await store.mailboxes.updateMany(unassociated, { profileId: target });
  }
  const unapproved = [...mailboxes]
    .filter(([, m]) => isDemoProfile(m.profileId) && (m.approvalStatus === 'empty' || m.approvalStatus === 'pending'))
    .map(([, m]) => m.id);
  if (unapproved.length > 0) await store.mailboxes.updateMany(unapproved, { approvalStatus: 'approved' });
  for (const [address, mailbox] of mailboxes) mailboxes.set(address, await store.mailboxes.get(mailbox.id));

  const results = new Map<string, DemoMailbox>();
  const toTest: string[] = [];
  for (const [address, mailbox] of mailboxes) {
    const owner = owners.get(address)!;
    const entry: DemoMailbox = { address, kind: owner.kind, mailboxId: mailbox.id, created: owner.created, outcome: 'already-enabled', problem: null };
    results.set(address, entry);
    if (!isDemoProfile(mailbox.profileId)) {
      entry.outcome = 'left-alone';
      entry.problem = `associated with another email server profile (${mailbox.profileId}), so the demo leaves it as it is`;
    } else if (mailbox.approvalStatus !== 'approved') {
      entry.outcome = 'left-alone';
      entry.problem = `its address is ${mailbox.approvalStatus}, so the demo leaves it as it is`;
    } else if (!mailbox.enabled) {
      toTest.push(mailbox.id);
    }
  }
  if (toTest.length > 0) {
    const byId = new Map([...results.values()].map((r) => [r.mailboxId, r]));
    for (const outcome of await testAndEnableMailboxes(store, context, toTest)) {
      const entry = byId.get(outcome.mailboxId)!;
      entry.outcome = outcome.outcome;
      if (outcome.outcome === 'failed') entry.problem = outcome.error ?? failedSummary(outcome.result);
      if (outcome.outcome === 'refused') entry.problem = outcome.problems.join('; ');
    }
  }

  // The queue's mailbox sends the owner's failure email, unless the organization already names one.
  const named = (await store.organization.get()).systemNotificationMailboxId;
  let notificationMailbox: DemoSetup['notificationMailbox'];
  if (named) {
    notificationMailbox = { id: named, address: [...mailboxes].find(([, m]) => m.id === named)?.[0] ?? null, set: false };
  } else {
    const address = queueAddresses[0] ?? addresses[0]!;
    notificationMailbox = { id: mailboxes.get(address)!.id, address, set: true };
    await store.organization.update({ systemNotificationMailboxId: notificationMailbox.id });
  }

  const records = [];
  for (const wanted of DEMO_RECORDS) {
    const existing = (await store.records.list(wanted.type, { emailAddress: wanted.address, limit: 1 })).items[0];
    const record = existing ?? (await store.records.create(wanted.type, { name: wanted.name, emailAddresses: [wanted.address] }));
    records.push({ type: wanted.type, id: record.id, name: record.name, address: wanted.address, created: existing === undefined });
  }

  return {
    administrator,
    profile: demoProfile(profile),
    onlineProfile: online ? demoProfile(online) : null,
    mailboxes: addresses.map((a) => results.get(a)!),
    records,
    notificationMailbox,
    notes,
  };
}

function demoProfile(found: { profile: Profile; created: boolean; updated: boolean }): DemoProfile {
  return { id: found.profile.id, name: found.profile.name, created: found.created, updated: found.updated };
}

function localPart(address: string): string {
  return address.slice(0, address.indexOf('@')).toLowerCase();
}

function nameOf(address: string, names: Map<string, string>): string {
  return names.get(address.toLowerCase()) ?? localPart(address).replace(/^./, (c) => c.toUpperCase());
}

/** The demo mailboxes' display names, as the sandbox's directory has them. */
async function displayNames(info: DemoSandboxInfo, caPem: string): Promise<Map<string, string>> {
  const agent = new Agent({ connect: { ca: caPem } });
  try {
    const response = await request(`${info.control}/mailboxes`, { dispatcher: agent });
    const text = await response.body.text();
    if (response.statusCode !== 200) {
      throw new Error(`the sandbox's control API answered ${response.statusCode} to GET ${info.control}/mailboxes: ${text.slice(0, 300)}`);
    }
    const list = JSON.parse(text) as Array<{ address: string; displayName: string }>;
    return new Map(list.map((m) => [m.address.toLowerCase(), m.displayName]));
  } finally {
    await agent.close();
  }
}

/**
 * The demo's administrator: the first administrator there is, or else the first demo user, made one (created
 * if needed) with an API token that is shown this once.
 */
async function ensureAdministrator(store: Store, address: string, names: Map<string, string>): Promise<DemoSetup['administrator']> {
  const admin = (await store.users.list({ isAdmin: true, limit: 1 })).items[0];
  if (admin) return { id: admin.id, email: admin.email, created: false, promoted: false, token: null };
  const existing = await store.users.findByEmail(address);
  const user = existing
    ? await store.users.update(existing.id, { isAdmin: true })
    : await store.users.create({ email: address, name: nameOf(address, names), isAdmin: true, incomingFilter: DEMO_USER_FILTER });
  const { token } = await store.tokens.issue(user.id, 'demo');
  return { id: user.id, email: user.email, created: !existing, promoted: existing !== null, token };
}

async function findQueue(store: Store, address: string): Promise<Queue | null> {
  const key = address.toLowerCase();
  let after: string | undefined;
  do {
    const page = await store.queues.list({ limit: 500, after });
    const found = page.items.find((q) => q.email.toLowerCase() === key);
    if (found) return found;
    after = page.nextCursor ?? undefined;
  } while (after);
  return null;
}

/**
 * The profile named DEMO_PROFILE_NAME: created when missing; when it exists, its service account and CA are set
 * to the sandbox's only when they differ (a sandbox started over with a new data folder has new ones).
 */
async function ensureProfile(
  store: Store,
  ownerId: string,
  account: { username: string; password: string },
  caPem: string,
): Promise<{ profile: Profile; created: boolean; updated: boolean }> {
  let after: string | undefined;
  let found: Profile | undefined;
  do {
    const page = await store.profiles.list({ limit: 500, after });
    found = page.items.find((p) => p.name === DEMO_PROFILE_NAME);
    after = found ? undefined : (page.nextCursor ?? undefined);
  } while (after);
  if (!found) {
    const profile = await store.profiles.create({
      name: DEMO_PROFILE_NAME,
      description: 'The Exchange sandbox that `liaison serve --sandbox` runs, with its demo mailboxes',
      serverType: 'exchange',
      autodiscover: true,
      authentication: 'basic',
      username: account.username,
      password: account.password,
      trustedCaPem: caPem,
      requestTimeoutSeconds: 30,
      moveFailedToUndeliverable: true,
      notifyOwnerOnFailure: true,
      ownerId,
    });
    return { profile, created: true, updated: false };
  }
  const secrets = await store.profiles.secretsOf(found.id);
  const change = {
    ...(found.username !== account.username ? { username: account.username } : {}),
    ...(secrets.password !== account.password ? { password: account.password } : {}),
    // Saved trimmed (domain/profile.ts), so compared trimmed.
    ...(found.trustedCaPem !== caPem.trim() ? { trustedCaPem: caPem } : {}),
  };
  if (Object.keys(change).length === 0) return { profile: found, created: false, updated: false };
  return { profile: await store.profiles.update(found.id, change), created: false, updated: true };
}

/**
 * The profile named DEMO_ONLINE_PROFILE_NAME, for the sandbox's Graph side and its demo app: created when missing;
 * when it exists, its tenant, app, secret, authority, Graph URL and CA follow the sandbox's when they differ.
 */
async function ensureOnlineProfile(
  store: Store,
  ownerId: string,
  graph: { url: string; authority: string; tenantId: string; clientId: string; clientSecret: string },
  caPem: string,
): Promise<{ profile: Profile; created: boolean; updated: boolean }> {
  let after: string | undefined;
  let found: Profile | undefined;
  do {
    const page = await store.profiles.list({ limit: 500, after });
    found = page.items.find((p) => p.name === DEMO_ONLINE_PROFILE_NAME);
    after = found ? undefined : (page.nextCursor ?? undefined);
  } while (after);
  if (!found) {
    const profile = await store.profiles.create({
      name: DEMO_ONLINE_PROFILE_NAME,
      description: 'The Microsoft Graph side of the sandbox that `liaison serve --sandbox` runs, with its demo app (Mail.ReadWrite, Mail.Send)',
      serverType: 'exchange-online',
      tenantId: graph.tenantId,
      clientId: graph.clientId,
      clientSecret: graph.clientSecret,
      authority: graph.authority,
      incomingServer: graph.url,
      trustedCaPem: caPem,
      requestTimeoutSeconds: 30,
      moveFailedToUndeliverable: true,
      notifyOwnerOnFailure: true,
      ownerId,
    });
    return { profile, created: true, updated: false };
  }
  const secrets = await store.profiles.secretsOf(found.id);
  const change = {
    ...(found.tenantId !== graph.tenantId ? { tenantId: graph.tenantId } : {}),
    ...(found.clientId !== graph.clientId ? { clientId: graph.clientId } : {}),
    ...(secrets.clientSecret !== graph.clientSecret ? { clientSecret: graph.clientSecret } : {}),
    ...(found.authority !== graph.authority ? { authority: graph.authority } : {}),
    ...(found.incomingServer !== graph.url ? { incomingServer: graph.url } : {}),
    ...(found.trustedCaPem !== caPem.trim() ? { trustedCaPem: caPem } : {}),
  };
  if (Object.keys(change).length === 0) return { profile: found, created: false, updated: false };
  return { profile: await store.profiles.update(found.id, change), created: false, updated: true };
}

function failedSummary(result: { steps: Array<{ status: string; summary: string }> } | null): string {
  const step = result?.steps.find((s) => s.status === 'failure');
  return step ? step.summary : 'the test failed without saying at which step';
}

interface Out {
  write(text: string): unknown;
}

/** What the demo set up, for the terminal that ran `serve --sandbox`. */
export function describeDemo(setup: DemoSetup, base: string, out: Out): void {
  const enabled = setup.mailboxes.filter((m) => m.outcome === 'enabled' || m.outcome === 'already-enabled');
  const profiles = [setup.profile, ...(setup.onlineProfile ? [setup.onlineProfile] : [])]
    .map((p) => `"${p.name}" (${p.id}${p.created ? ', created' : p.updated ? ', updated to the sandbox' : ''})`)
    .join(' and ');
  const lines = [
    `Demo: profile${setup.onlineProfile ? 's' : ''} ${profiles}, ` +
      `${enabled.length} of ${setup.mailboxes.length} demo mailboxes enabled: ${enabled.map((m) => m.address).join(', ')}`,
    ...(setup.onlineProfile
      ? [`  ${setup.mailboxes.filter((m) => DEMO_ONLINE.has(localPart(m.address))).map((m) => m.address).join(', ')} on "${setup.onlineProfile.name}" (Microsoft Graph), the others on "${setup.profile.name}" (EWS)`]
      : []),
    ...setup.mailboxes.filter((m) => m.problem !== null).map((m) => `  ${m.address}: ${m.outcome}: ${m.problem}`),
    `  CRM records the demo mail resolves to: ${setup.records.map((r) => `${r.type} ${r.name} <${r.address}>`).join(', ')}`,
    ...(setup.notificationMailbox.set ? [`  System notifications (the owner's failure email) are sent from ${setup.notificationMailbox.address ?? `mailbox ${setup.notificationMailbox.id}`}`] : []),
    ...setup.notes.map((n) => `  ${n}`),
  ];
  if (setup.administrator.token) {
    lines.push(
      `${setup.administrator.created ? 'Created' : 'Made'} administrator ${setup.administrator.email} (id ${setup.administrator.id}).`,
      'API token (shown only now; store it safely, Liaison keeps only its hash):',
      setup.administrator.token,
      `  export TOKEN=${setup.administrator.token}`,
      `  curl -s ${base}/api/v1/email-activities -H "Authorization: Bearer $TOKEN"`,
    );
  } else {
    lines.push(`Administrator: ${setup.administrator.email}; a new API token for them: npm run -s liaison -- user token --email ${setup.administrator.email}`);
  }
  out.write(`${lines.join('\n')}\n`);
}

const MAX_SUBJECT = 60;

/** Text from an email, safe for one terminal line: control characters shown as "?", long subjects cut. */
function clean(text: string, max = MAX_SUBJECT): string {
  // eslint-disable-next-line no-control-regex
  const flat = text.replace(/[\u0000-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/g, '?');
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

/** One short line per tracked and sent email and per failure; cycles and lease changes are left to the log. */
export function printEngineEvent(event: EngineEvent, out: Out): void {
  switch (event.type) {
    case 'tracked':
      out.write(
        `${event.linked ? 'linked ' : 'tracked'}  ${event.address}  "${clean(event.subject)}" from ${clean(event.from, 100)}  (activity ${event.activityId})\n`,
      );
      return;
    case 'sent':
      out.write(`sent     ${event.address}  "${clean(event.subject)}" to ${clean(event.to.join(', '), 100)}  (activity ${event.activityId})\n`);
      return;
    case 'failure':
      out.write(`FAILED   ${event.address ?? '(no mailbox)'}  ${event.code}: ${clean(event.message, 200)}\n`);
      return;
    case 'cycle':
    case 'lease-lost':
      return;
  }
}
