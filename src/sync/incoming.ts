/**
 * The incoming half of a mailbox's cycle: the Inbox from its cursor, page by page (512 changes), each page's
 * new messages fetched, run through the pipeline and committed with that page's cursor in one transaction; then
 * the messages that failed before, tried again. Every listed message ends in one outcome: known already
 * (skipped), filtered (received before Process Email From, or by the pipeline), tracked, failed (retried), or
 * moved to Undeliverable after MAX_MESSAGE_ATTEMPTS when the profile says so.
 */
import type { ChangePage, ClassifiedError, FetchedMessage, FolderRef, MessageChange, MessageFailure } from '../connectors/connector.js';
import type { AlertInput } from '../domain/alert.js';
import { MAX_MESSAGE_ATTEMPTS } from '../domain/failure-policy.js';
import { BEFORE_PROCESS_EMAIL_FROM, effectiveProcessEmailFrom, receivedBefore } from '../domain/schedule.js';
import { processQueued } from './audit.js';
import { checkLease, type CycleContext } from './cycle-context.js';
import { chunk, mapLimit } from './limit.js';
import type { IngestInput, PipelineContext } from './pipeline/types.js';
import type { CommitResult, IncomingOutcome, PendingFailure } from './ports.js';

export const INBOX = 'inbox';
export const PAGE_SIZE = 512;
/** GetItem's batch: the session's fetch sends this many ids per request. */
export const FETCH_BATCH = 50;
/** Cycles a message may fail in before it is given up on (moved to Undeliverable, or left failed with an alert). */
export { MAX_MESSAGE_ATTEMPTS };
/** Failed messages retried per cycle. */
export const RETRIES_PER_CYCLE = 100;
export const UNDELIVERABLE_PATH = ['Undeliverable'] as const;

export interface IncomingCounts {
  tracked: number;
  linked: number;
  filtered: number;
  failed: number;
}

/** Thrown when the server rejected the cursor a second time in one cycle: a failure, not a loop. */
export class InvalidCursorAgainError extends Error {
  constructor(override readonly cause: unknown) {
    super('the server refused the synchronization state again after it was reset to start from scratch');
    this.name = 'InvalidCursorAgainError';
  }
}

/** `retries: false`: the listing and the audit's queue only (the audit's second listing, src/sync/audit.ts). */
export async function runIncoming(context: CycleContext, options: { retries?: boolean } = {}): Promise<IncomingCounts> {
  const counts: IncomingCounts = { tracked: 0, linked: 0, filtered: 0, failed: 0 };
  const { sync, mailbox, lease } = context;
  const pipeline: PipelineContext = {
    mailbox,
    organization: context.organization,
    filter: await sync.incomingFilter(mailbox.id),
    lookups: sync.lookups,
  };
  const from = effectiveProcessEmailFrom(context.profile.processEmailFrom, mailbox.processEmailFrom);

  let cursor = await sync.cursor(mailbox.id, INBOX);
  let restarted = false;
  // The next page is listed and fetched while this one goes through the pipeline and is committed: the
  // server's time and Liaison's overlap. Its cursor is stored only with its own outcomes, after this page's.
  let ahead: Promise<LoadedPage> | null = null;
  try {
    for (;;) {
      checkLease(context);
      let loaded: LoadedPage;
      try {
        loaded = await (ahead ?? loadPage(context, cursor, from));
      } catch (error) {
        ahead = null;
        const classified = context.connector.classify(error);
        if (classified.kind !== 'invalid-cursor') throw error;
        if (restarted) throw new InvalidCursorAgainError(error);
        // From scratch: every message is listed again; those with an outcome are skipped, so none is tracked twice.
        restarted = true;
        await sync.resetCursor(lease, INBOX);
        cursor = null;
        continue;
      }
      ahead = null;
      const { page } = loaded;
      if (!page.complete) {
        ahead = loadPage(context, page.cursor, from);
        // Read on the next turn; if this page fails first, the cycle ends and that failure is the one reported.
        ahead.catch(() => undefined);
      }
      const outcomes = [...loaded.filtered, ...(await ingestFetched(context, pipeline, loaded.fetched, from, loaded.listedMessageId))];
      checkLease(context);
      const result = await sync.commitIncoming(lease, { folder: INBOX, outcomes, cursor: page.cursor });
      await report(context, outcomes, result, counts);
      cursor = page.cursor;
      if (page.complete) break;
    }
  } finally {
    // A page listed ahead when this one failed: the cycle ends only once that work has, so nothing keeps
    // calling the server for a mailbox this worker may no longer hold.
    if (ahead) await (ahead as Promise<LoadedPage>).catch(() => undefined);
  }

  // Messages a missing-mail audit found, fetched by server id like the retries.
  await processQueued(context, pipeline, from, counts);
  if (options.retries !== false) await retryFailures(context, pipeline, from, counts);
  return counts;
}

interface LoadedPage {
  page: ChangePage;
  /** Outcomes known without fetching (received before Process Email From). */
  filtered: IncomingOutcome[];
  fetched: Array<FetchedMessage | MessageFailure>;
  listedMessageId: (serverId: string) => string | null;
}

/** One page listed, its new messages told apart from those with an outcome already, and fetched. */
async function loadPage(context: CycleContext, cursor: string | null, from: Date | null): Promise<LoadedPage> {
  const page = await context.session.listChanges(INBOX, cursor, PAGE_SIZE);
  const seen = new Set<string>();
  const created = page.changes.filter((c) => c.kind === 'created' && !seen.has(c.serverId) && seen.add(c.serverId));
  if (created.length === 0) return { page, filtered: [], fetched: [], listedMessageId: () => null };
  const messageIds = created.flatMap((c) => (c.internetMessageId ? [c.internetMessageId] : []));
  const [knownIds, knownServerIds] = await Promise.all([
    messageIds.length > 0 ? context.sync.knownMessages(context.mailbox.id, messageIds) : Promise.resolve(new Set<string>()),
    context.sync.knownServerIds(context.mailbox.id, created.map((c) => c.serverId)),
  ]);
  const fresh = created.filter((c) => !knownServerIds.has(c.serverId) && !(c.internetMessageId && knownIds.has(c.internetMessageId)));

  const filtered: IncomingOutcome[] = [];
  const toFetch: MessageChange[] = [];
  for (const change of fresh) {
    // Old mail is recorded as filtered without fetching it: an initial sync of a big Inbox costs one listing.
    if (change.internetMessageId && receivedBefore(change.receivedAt, from)) {
      filtered.push({ kind: 'filtered', serverId: change.serverId, internetMessageId: change.internetMessageId, rule: BEFORE_PROCESS_EMAIL_FROM });
    } else toFetch.push(change);
  }
  const known = new Map(toFetch.map((c) => [c.serverId, c]));
  const fetched = await fetchMessages(context, toFetch.map((c) => c.serverId));
  return { page, filtered, fetched, listedMessageId: (id) => known.get(id)?.internetMessageId ?? null };
}

/** Fetches in batches of FETCH_BATCH, at most Maximum Concurrent Connections at once. */
async function fetchMessages(context: CycleContext, serverIds: readonly string[]): Promise<Array<FetchedMessage | MessageFailure>> {
  if (serverIds.length === 0) return [];
  const connections = Math.max(1, context.profile.maxConcurrentConnections);
  const batches = await mapLimit(chunk(serverIds, FETCH_BATCH), connections, (ids) => {
    checkLease(context);
    return fetchBatch(context, ids);
  });
  return batches.flat();
}

/**
 * Answers that can be about what a batch holds rather than the server: too large an answer (one big message
 * among fifty), an answer cut short or unreadable, a timeout on a heavy batch.
 */
const ABOUT_THE_BATCH = new Set(['transport.too-large', 'transport.timeout', 'ews.protocol']);

/**
 * One GetItem batch. When the whole batch fails in a way one message can cause, its messages are fetched one by
 * one, so that one message's failure is that message's (a failed outcome, retried) and does not hold up the
 * page, its cursor and every other message. Anything else (the server down, throttling, credentials) is the
 * cycle's failure, as before.
 */
async function fetchBatch(context: CycleContext, ids: readonly string[]): Promise<Array<FetchedMessage | MessageFailure>> {
  try {
    return await context.session.fetch(ids);
  } catch (error) {
    if (context.signal.aborted || !ABOUT_THE_BATCH.has(context.connector.classify(error).code)) throw error;
    if (ids.length === 1) return [{ serverId: ids[0]!, error: error as Error }];
    const one: Array<FetchedMessage | MessageFailure> = [];
    for (const id of ids) {
      checkLease(context);
      one.push(...(await fetchBatch(context, [id])));
    }
    return one;
  }
}

/** Fetches and runs the pipeline. */
export async function fetchAndIngest(
  context: CycleContext,
  pipeline: PipelineContext,
  serverIds: readonly string[],
  from: Date | null,
  listedMessageId: (serverId: string) => string | null,
): Promise<IncomingOutcome[]> {
  return ingestFetched(context, pipeline, await fetchMessages(context, serverIds), from, listedMessageId);
}

/** The pipeline over fetched messages; one that could not be fetched is a failed outcome. */
async function ingestFetched(
  context: CycleContext,
  pipeline: PipelineContext,
  fetched: ReadonlyArray<FetchedMessage | MessageFailure>,
  from: Date | null,
  listedMessageId: (serverId: string) => string | null,
): Promise<IncomingOutcome[]> {
  if (fetched.length === 0) return [];
  const inputs: IngestInput[] = [];
  const slots: Array<IncomingOutcome | number> = [];
  for (const item of fetched) {
    if (isFailure(item)) {
      slots.push(failedOutcome(context, item.serverId, listedMessageId(item.serverId), item.error));
      continue;
    }
    slots.push(inputs.length);
    inputs.push(toInput(item));
  }
  const ingested = inputs.length > 0 ? await context.steps.ingest(inputs, pipeline) : [];
  if (ingested.length !== inputs.length) throw new Error(`the pipeline returned ${ingested.length} outcomes for ${inputs.length} messages`);
  return slots.map((slot) => {
    if (typeof slot !== 'number') return slot;
    const outcome = ingested[slot]!;
    const input = inputs[slot]!;
    // Listed without a time (or without an id): the fetched message's own time decides now.
    if (outcome.kind === 'tracked' && receivedBefore(input.receivedAt ?? outcome.activity.receivedAt, from)) {
      return { kind: 'filtered', serverId: outcome.serverId, internetMessageId: outcome.activity.internetMessageId, rule: BEFORE_PROCESS_EMAIL_FROM };
    }
    return outcome;
  });
}

function isFailure(item: FetchedMessage | MessageFailure): item is MessageFailure {
  return (item as MessageFailure).error !== undefined;
}

function toInput(message: FetchedMessage): IngestInput {
  const input: IngestInput = { serverId: message.serverId, mime: message.mime };
  if (message.internetMessageId) input.internetMessageId = message.internetMessageId;
  if (message.receivedAt) input.receivedAt = message.receivedAt;
  if (message.conversationId) input.conversationId = message.conversationId;
  return input;
}

function failedOutcome(context: CycleContext, serverId: string, internetMessageId: string | null, error: unknown): IncomingOutcome {
  const classified = context.connector.classify(error);
  return { kind: 'failed', serverId, internetMessageId, error: { code: classified.code, message: classified.message, serverResponse: classified.serverResponse } };
}

/**
 * Messages that failed in earlier cycles, fetched again. One that fails its last attempt is moved to the
 * Undeliverable folder (when the profile says so) or left failed; either way an alert on the email says why,
 * once. Those past the limit are not fetched again.
 */
async function retryFailures(context: CycleContext, pipeline: PipelineContext, from: Date | null, counts: IncomingCounts): Promise<void> {
  checkLease(context);
  const pending = (await context.sync.pendingFailures(context.mailbox.id, RETRIES_PER_CYCLE)).filter((p) => p.attempts < MAX_MESSAGE_ATTEMPTS);
  if (pending.length === 0) return;
  const byId = new Map(pending.map((p) => [p.serverId, p]));
  const outcomes = await fetchAndIngest(context, pipeline, pending.map((p) => p.serverId), from, (id) => byId.get(id)?.internetMessageId ?? null);

  const alerts: AlertInput[] = [];
  let folder: FolderRef | null = null;
  const final: IncomingOutcome[] = [];
  for (const outcome of outcomes) {
    const before = byId.get(outcome.serverId)!;
    if (outcome.kind !== 'failed' || before.attempts + 1 < MAX_MESSAGE_ATTEMPTS) {
      final.push(outcome);
      continue;
    }
    if (!context.profile.moveFailedToUndeliverable) {
      final.push(outcome);
      alerts.push(messageAlert(context, before, outcome.error, null));
      continue;
    }
    try {
      checkLease(context);
      folder ??= await context.session.ensureFolder(UNDELIVERABLE_PATH, INBOX);
      const [newServerId] = await context.session.move([outcome.serverId], folder);
      final.push({ kind: 'undeliverable', serverId: outcome.serverId, newServerId: newServerId!, internetMessageId: outcome.internetMessageId, error: { code: outcome.error.code, message: outcome.error.message } });
      alerts.push(messageAlert(context, before, outcome.error, folder));
    } catch (error) {
      if (context.signal.aborted) throw context.signal.reason;
      // The move failed: the message stays failed (one more attempt counted) and the move is tried again next cycle.
      const moveError: ClassifiedError = context.connector.classify(error);
      final.push({ ...outcome, error: { ...outcome.error, message: `${outcome.error.message}; moving it to Undeliverable failed too: ${moveError.message}` } });
    }
  }
  checkLease(context);
  const result = await context.sync.commitIncoming(context.lease, { folder: INBOX, outcomes: final, cursor: null });
  await report(context, final, result, counts);
  for (const alert of alerts) await context.sync.raiseAlert(alert);
}

function messageAlert(context: CycleContext, failure: PendingFailure, error: { code: string; message: string; serverResponse?: string | null }, movedTo: FolderRef | null): AlertInput {
  const which = failure.internetMessageId ? `the email ${failure.internetMessageId}` : `an email (server id ${failure.serverId})`;
  return {
    level: 'error',
    scope: 'email',
    profileId: context.profile.id,
    mailboxId: context.mailbox.id,
    code: movedTo ? 'incoming.undeliverable' : 'incoming.failed',
    message:
      `${which} in ${context.mailbox.address} failed ${MAX_MESSAGE_ATTEMPTS} times and is not tracked: ${error.message}` +
      (movedTo ? `; it was moved to the ${movedTo.displayName} folder under the Inbox` : '; it stays in the Inbox'),
    serverResponse: error.serverResponse ?? null,
    fix: movedTo
      ? `Open the message in ${movedTo.displayName} to see what is wrong with it; track it by hand if it matters.`
      : 'Open the message in the Inbox to see what is wrong with it; turn on Move Failed Emails to Undeliverable Folder in the profile to set such messages aside.',
  };
}

/** Counts and tracked events of a committed batch. */
export async function report(context: CycleContext, outcomes: readonly IncomingOutcome[], result: CommitResult, counts: IncomingCounts): Promise<void> {
  counts.tracked += result.created.length;
  counts.linked += result.linked.length;
  for (const outcome of outcomes) {
    if (outcome.kind === 'filtered') counts.filtered += 1;
    else if (outcome.kind === 'failed' || outcome.kind === 'undeliverable') counts.failed += 1;
  }
  const tracked = outcomes.filter((o): o is Extract<IncomingOutcome, { kind: 'tracked' }> => o.kind === 'tracked');
  if (tracked.length === 0) return;
  const byMessageId = new Map(tracked.map((o) => [o.activity.internetMessageId, o.activity]));
  for (const entry of await activitiesOf(context, result, tracked)) {
    const activity = byMessageId.get(entry.internetMessageId);
    if (!activity) continue;
    const from = activity.parties.find((p) => p.role === 'from');
    context.emit({
      type: 'tracked',
      mailboxId: context.mailbox.id,
      address: context.mailbox.address,
      activityId: entry.activityId,
      subject: activity.subject,
      from: from?.address ?? '',
      linked: entry.linked,
      receivedAt: activity.receivedAt,
    });
  }
}

/**
 * Which activity each tracked message became: as the store says in `activities`, or else looked up by
 * Message-ID (one indexed query for the batch), linked when the id is among the result's linked ones.
 */
async function activitiesOf(
  context: CycleContext,
  result: CommitResult,
  tracked: ReadonlyArray<Extract<IncomingOutcome, { kind: 'tracked' }>>,
): Promise<Array<{ internetMessageId: string; activityId: string; linked: boolean }>> {
  if (result.activities) return result.activities;
  const mine = new Set([...result.created, ...result.linked]);
  const linked = new Set(result.linked);
  const found = await context.sync.lookups.activitiesByMessageId(tracked.map((o) => o.activity.internetMessageId));
  return [...found]
    .filter(([, activity]) => mine.has(activity.activityId))
    .map(([internetMessageId, activity]) => ({ internetMessageId, activityId: activity.activityId, linked: linked.has(activity.activityId) }));
}
