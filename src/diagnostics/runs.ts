/**
 * Test Connection and Test & Enable as the API (and later the console and the engine) run them: the target
 * built from the store, the steps run by the DiagnosticsService, the outcome written back to the store: the
 * profile's last result, the mailbox's statuses and cached EWS URL, and an alert that says what to fix. Exchange
 * and IMAP/POP3/SMTP profiles run through the same code: the target knows which steps it needs.
 */
import { ConflictError, NotFoundError, ValidationError } from '../domain/errors.js';
import { enableProblems } from '../domain/mailbox.js';
import type { Mailbox } from '../store/mailboxes.js';
import type { Profile, ProfileSecrets } from '../store/profiles.js';
import type { Store } from '../store/store.js';
import { MissingLoginError, type MailboxLogin } from '../connectors/mail/credentials.js';
import { describeServerResponse, failedStep, stepLabel } from './format.js';
import type { DiagnosticTarget, DiagnosticsService, MailboxTestResult } from './service.js';
import { targetOf, untestableProfile, type MailDirection } from './target.js';
import type { ConnectionTestResult, StepEvent } from './types.js';

export interface DiagnosticsContext {
  service: DiagnosticsService;
  /** The host-name overrides Liaison was started with (`--resolve`, LIAISON_RESOLVE), in curl's syntax. */
  resolve: readonly string[];
}

/**
 * Runs Test Connection for a profile, for `mailbox` or (when not given) its owner's address, and keeps the
 * result as the profile's last one.
 */
export async function testProfileConnection(
  store: Store,
  context: DiagnosticsContext,
  profileId: string,
  mailbox?: string,
  onEvent?: (e: StepEvent) => void,
): Promise<ConnectionTestResult> {
  const profile = await store.profiles.get(profileId);
  const problem = untestableProfile(profile);
  if (problem) throw new ConflictError(`Test Connection cannot run: ${problem}`);
  const address = mailbox ?? (await store.users.get(profile.ownerId)).email;
  const mailboxLogin = profile.credentialSource === 'mailbox' ? await loginOfAddress(store, profile, address) : null;
  const target = buildTarget(profile, await store.profiles.secretsOf(profile.id), address, { resolve: context.resolve, mailboxLogin });
  const result = await context.service.testConnection(target, onEvent);
  await store.profiles.recordTestResult(profile.id, result);
  return result;
}

/** The target, with a missing login said as what it is: the profile's or the mailbox's setting to fix (409). */
function buildTarget(profile: Profile, secrets: ProfileSecrets, address: string, input: Parameters<typeof targetOf>[3]): DiagnosticTarget {
  try {
    return targetOf(profile, secrets, address, input);
  } catch (error) {
    if (error instanceof MissingLoginError) throw new ConflictError(`Cannot test: ${error.message}. ${error.fix}`);
    throw error;
  }
}

/**
 * A profile whose mailboxes each log in with their own login is tested as one of its mailboxes: the one with the
 * address tested. Test Connection is an administrator's action, so reading the profile's mailboxes page by page
 * to find it is affordable.
 */
async function loginOfAddress(store: Store, profile: Profile, address: string): Promise<MailboxLogin | null> {
  const wanted = address.toLowerCase();
  for (let after: string | undefined; ; ) {
    const page = await store.mailboxes.list({ profileId: profile.id, limit: 500, after });
    const found = page.items.find((m) => m.emailAddress.toLowerCase() === wanted);
    if (found) return store.mailboxes.loginOf(found.id);
    if (!page.nextCursor) break;
    after = page.nextCursor;
  }
  throw new ConflictError(
    `Cannot test: profile "${profile.name}" logs in with each mailbox's own login, and no mailbox of the profile has the address ${address}; ` +
      "give Test Connection the address of one of the profile's mailboxes whose login is set (mailbox), or run Test & Enable on the mailbox",
  );
}

/** The servers Test & Enable checks for a mailbox: those of the directions it synchronizes. */
function directionsOf(mailbox: Mailbox): MailDirection[] {
  const directions: MailDirection[] = [];
  if (mailbox.incomingMethod !== 'none') directions.push('incoming');
  if (mailbox.outgoingMethod !== 'none') directions.push('outgoing');
  return directions;
}

interface OutcomeBase {
  mailboxId: string;
  emailAddress: string;
  /** The mailbox as it is after the outcome was recorded. */
  mailbox: Mailbox;
}

/** What Test & Enable did with one mailbox. */
export type TestAndEnableOutcome =
  | (OutcomeBase & { outcome: 'enabled'; result: MailboxTestResult; alertId: string })
  | (OutcomeBase & { outcome: 'failed'; result: MailboxTestResult | null; error: string | null; alertId: string })
  | (OutcomeBase & { outcome: 'refused'; problems: string[]; result: MailboxTestResult | null });

/**
 * Tests and enables mailboxes. Each is first checked as enabling checks it (approved address, a profile,
 * something to synchronize, a server type Liaison can test); those that pass run in parallel, at most the
 * profile's Maximum Concurrent Connections at a time per profile. Unknown ids are refused before anything runs.
 * Outcomes come back in the order of `ids`; a fault in one test does not stop the others.
 */
export async function testAndEnableMailboxes(
  store: Store,
  context: DiagnosticsContext,
  ids: readonly string[],
): Promise<TestAndEnableOutcome[]> {
  const unique = [...new Set(ids)];
  const mailboxes: Mailbox[] = [];
  const missing: string[] = [];
  for (const id of unique) {
    try {
      mailboxes.push(await store.mailboxes.get(id));
    } catch (error) {
      // Only an unknown id is the caller's mistake; a store that fails is not turned into "no such mailbox".
      if (!(error instanceof NotFoundError)) throw error;
      missing.push(id);
    }
  }
  if (missing.length > 0) throw new ValidationError([{ field: 'ids', message: `no mailbox has id ${missing.join(', ')}` }]);

  const profiles = new Map<string, Profile>();
  // Decrypted once per profile for the whole call, not once per mailbox.
  const secretsByProfile = new Map<string, Promise<ProfileSecrets>>();
  const secrets = (profile: Profile): Promise<ProfileSecrets> => {
    let found = secretsByProfile.get(profile.id);
    if (!found) secretsByProfile.set(profile.id, (found = store.profiles.secretsOf(profile.id)));
    return found;
  };
  const outcomes = new Map<string, Promise<TestAndEnableOutcome>>();
  const queues = new Map<string, Array<() => Promise<void>>>();
  for (const mailbox of mailboxes) {
    const problems = enableProblems(mailbox);
    if (!mailbox.emailAddress) problems.push('the mailbox has no email address; give its user or queue one first');
    let profile: Profile | undefined;
    if (mailbox.profileId !== null) {
      profile = profiles.get(mailbox.profileId) ?? (await store.profiles.get(mailbox.profileId));
      profiles.set(profile.id, profile);
      const untestable = untestableProfile(profile);
      if (untestable) problems.push(untestable);
    }
    if (problems.length > 0 || !profile) {
      outcomes.set(mailbox.id, Promise.resolve({ ...base(mailbox, mailbox), outcome: 'refused', problems, result: null }));
      continue;
    }
    const chosen = profile;
    let settle!: (outcome: TestAndEnableOutcome) => void;
    outcomes.set(mailbox.id, new Promise((resolve) => (settle = resolve)));
    const queue = queues.get(chosen.id) ?? [];
    queue.push(async () => settle(await testOne(store, context, chosen, mailbox, secrets)));
    queues.set(chosen.id, queue);
  }
  await Promise.all([...queues.entries()].map(([profileId, jobs]) => runPool(jobs, profiles.get(profileId)!.maxConcurrentConnections)));
  return Promise.all(unique.map((id) => outcomes.get(id)!));
}

function base(mailbox: Mailbox, after: Mailbox): OutcomeBase {
  return { mailboxId: mailbox.id, emailAddress: mailbox.emailAddress, mailbox: after };
}

/** Runs the jobs, at most `limit` at a time. */
async function runPool(jobs: ReadonlyArray<() => Promise<void>>, limit: number): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < jobs.length) {
      const job = jobs[next++]!;
      await job();
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, jobs.length)) }, worker));
}

async function testOne(
  store: Store,
  context: DiagnosticsContext,
  profile: Profile,
  mailbox: Mailbox,
  secrets: (profile: Profile) => Promise<ProfileSecrets>,
): Promise<TestAndEnableOutcome> {
  const tested = { profileId: mailbox.profileId, emailAddress: mailbox.emailAddress };
  let result: MailboxTestResult | null = null;
  let error: string | null = null;
  try {
    // The mailbox's own login, when its profile takes each mailbox's: what the connector will log in with.
    const mailboxLogin = profile.credentialSource === 'mailbox' ? await store.mailboxes.loginOf(mailbox.id) : null;
    let target: DiagnosticTarget;
    try {
      target = targetOf(profile, await secrets(profile), mailbox.emailAddress, { resolve: context.resolve, mailboxLogin, directions: directionsOf(mailbox) });
    } catch (caught) {
      // A login nobody set is the mailbox's (or the profile's) setting to fix, not a failed test: refused, with the fix.
      if (!(caught instanceof MissingLoginError)) throw caught;
      return { ...base(mailbox, mailbox), outcome: 'refused', problems: [`${caught.message}. ${caught.fix}`], result: null };
    }
    result = await context.service.testMailbox(target, { createUndeliverable: profile.moveFailedToUndeliverable, cachedEwsUrl: mailbox.ewsUrl });
  } catch (caught) {
    error = caught instanceof Error ? caught.message : String(caught);
  }
  const passed = result?.status === 'success';
  let after: Mailbox;
  try {
    after = await store.mailboxes.recordTestOutcome(mailbox.id, tested, { passed, ewsUrl: result?.ewsUrl ?? null });
  } catch (caught) {
    if (!(caught instanceof ConflictError)) throw caught;
    // Changed (or deleted) while it was tested: what was tested is no longer the mailbox, so nothing is recorded.
    const now = await store.mailboxes.get(mailbox.id).catch(() => mailbox);
    return { ...base(mailbox, now), outcome: 'refused', problems: [caught.message], result };
  }
  if (passed) {
    if (mailbox.ewsUrl && result!.ewsUrl && result!.ewsUrl !== mailbox.ewsUrl) {
      // Autodiscover found the mailbox somewhere else than it was last time: say so, it explains a change of server.
      await store.alerts.raise({
        level: 'information',
        scope: 'mailbox',
        profileId: profile.id,
        mailboxId: mailbox.id,
        code: 'mailbox.location-changed',
        message: `Autodiscover found ${mailbox.emailAddress} at ${result!.ewsUrl}; it was at ${mailbox.ewsUrl}`,
      });
    }
    const alert = await store.alerts.raise({
      level: 'information',
      scope: 'mailbox',
      profileId: profile.id,
      mailboxId: mailbox.id,
      code: 'mailbox.enabled',
      message: `Test & Enable passed for ${mailbox.emailAddress}: the mailbox is enabled${result!.ewsUrl ? ` (EWS ${result!.ewsUrl})` : ''}`,
    });
    return { ...base(mailbox, after), outcome: 'enabled', result: result!, alertId: alert.id };
  }
  const alert = await store.alerts.raise(failureAlert(profile, mailbox, result, error));
  return { ...base(mailbox, after), outcome: 'failed', result, error, alertId: alert.id };
}

function failureAlert(profile: Profile, mailbox: Mailbox, result: MailboxTestResult | null, error: string | null) {
  const common = { level: 'error', scope: 'mailbox', profileId: profile.id, mailboxId: mailbox.id } as const;
  const step = result ? failedStep(result.steps) : undefined;
  if (!result || !step) {
    return {
      ...common,
      code: 'test-and-enable.error',
      message: `Test & Enable could not finish for ${mailbox.emailAddress}: ${error ?? 'the test reported failure without a failed step'}; the mailbox stays disabled`,
      fix: 'This is a fault in Liaison, not in the mail server: run Test & Enable again, and report it with the server log if it repeats',
    };
  }
  return {
    ...common,
    code: `test-and-enable.${step.code ?? step.step}`,
    message: `Test & Enable failed for ${mailbox.emailAddress} at ${stepLabel(step, result.steps)}: ${step.summary}; the mailbox stays disabled`,
    serverResponse: describeServerResponse(step),
    fix: step.fix ?? null,
  };
}
