/**
 * The missing-mail audit, run by the worker that holds the mailbox's lease, right after an incoming pass that
 * completed (cycle.ts): the Inbox's inventory since Process Email From (ids and headers only, page by page), a
 * second listing from the stored cursor so that mail that simply arrived since the pass has its outcome before
 * anything is judged, then the comparison (domain/audit.ts). The audit, its missing messages (queued) and its
 * alert are one fenced write. The queue is worked off by the next incoming pass (`processQueued`, called from
 * incoming.ts): each message fetched by its server id through the same pipeline, one outcome each.
 */
import type { ClassifiedError, InventoryEntry } from '../connectors/connector.js';
import { compareInventory, DEFAULT_AUDIT_INTERVAL_MS, missingMailAlert } from '../domain/audit.js';
import { FAILURE_BACKOFF_CAP_MS, throttleDelayMs } from '../domain/failure-policy.js';
import { effectiveProcessEmailFrom } from '../domain/schedule.js';
import { checkLease, type CycleContext } from './cycle-context.js';
import { fetchAndIngest, INBOX, type IncomingCounts, report, runIncoming, RETRIES_PER_CYCLE } from './incoming.js';
import type { PipelineContext } from './pipeline/types.js';
import type { AuditTrigger } from './ports.js';

/** Entries asked for per inventory page. */
export const INVENTORY_PAGE = 500;
/** An inventory longer than this many pages is refused (a server that never says "last page"). */
export const MAX_INVENTORY_PAGES = 10_000;
/** After an audit failed on a transient error: tried again this much later (or the server's hint, if longer). */
export const AUDIT_RETRY_MS = FAILURE_BACKOFF_CAP_MS;

export { DEFAULT_AUDIT_INTERVAL_MS };

export interface AuditOutcomeForCycle {
  /** An audit ran (completed or failed). */
  ran: boolean;
  /** The audit failed on a permanent error: the cycle treats it as the incoming direction's failure. */
  permanent: ClassifiedError | null;
  /** The server asked to slow down: the mailbox is not due before this long. */
  delayMs: number;
  /** What the second listing tracked, for the cycle's counts. */
  counts: IncomingCounts;
}

class InventoryError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InventoryError';
  }
}

/**
 * Runs the mailbox's audit if one is asked for (on demand) or due (scheduled every `intervalMs`; 0: never
 * scheduled). The first scheduled one is set one interval after the mailbox's first cycle. A lost lease is
 * thrown; any other failure of the audit is recorded as a failed audit and, unless permanent, leaves the
 * mailbox's synchronization status alone.
 */
export async function auditIfDue(context: CycleContext, intervalMs: number = DEFAULT_AUDIT_INTERVAL_MS): Promise<AuditOutcomeForCycle> {
  const none: AuditOutcomeForCycle = { ran: false, permanent: null, delayMs: 0, counts: { tracked: 0, linked: 0, filtered: 0, failed: 0 } };
  const port = context.sync.audit;
  if (!port || !context.session.inventory) return none;
  const { mailbox, lease } = context;
  const schedule = await port.schedule(mailbox.id);
  const at = context.now();
  let trigger: AuditTrigger;
  if (schedule.requestedAt !== null) trigger = 'on-demand';
  else if (intervalMs <= 0) return none;
  else if (schedule.dueAt === null) {
    checkLease(context);
    await port.scheduleNext(lease, new Date(at.getTime() + intervalMs));
    return none;
  } else if (new Date(schedule.dueAt).getTime() <= at.getTime()) trigger = 'scheduled';
  else return none;

  const startedAt = at.toISOString();
  const from = effectiveProcessEmailFrom(context.profile.processEmailFrom, mailbox.processEmailFrom);
  const counts: IncomingCounts = { tracked: 0, linked: 0, filtered: 0, failed: 0 };
  try {
    const entries = await inventory(context, from);
    // Mail that arrived between the incoming pass and the inventory is listed now and gets its outcome first:
    // whatever the inventory holds existed before this listing started, so the cursor covers it unless it
    // really was skipped.
    checkLease(context);
    Object.assign(counts, await runIncoming(context, { retries: false }));
    const outcomes = await port.outcomesMatching(
      mailbox.id,
      entries.map((e) => e.serverId),
      entries.flatMap((e) => (e.internetMessageId ? [e.internetMessageId] : [])),
    );
    const comparison = compareInventory(entries, outcomes, from);
    const alert = missingMailAlert({ id: mailbox.id, address: mailbox.address, profileId: context.profile.id }, comparison);
    checkLease(context);
    const finishedAt = context.now();
    await port.recordAudit(
      lease,
      { trigger, startedAt, finishedAt: finishedAt.toISOString(), status: 'completed', ...comparison, error: null, servedRequest: schedule.requestedAt },
      nextScheduled(finishedAt, intervalMs),
      alert,
    );
    context.emit({ type: 'audit', mailboxId: mailbox.id, address: mailbox.address, status: 'completed', onServer: comparison.onServer, missing: comparison.missing.length });
    return { ran: true, permanent: null, delayMs: 0, counts };
  } catch (error) {
    if (context.signal.aborted) throw context.signal.reason;
    if ((error as Error)?.name === 'LeaseLostError') throw error;
    const classified: ClassifiedError =
      error instanceof InventoryError
        ? { kind: 'transient', code: 'audit.inventory', message: error.message, serverResponse: null, fix: null, backOffMs: null }
        : context.connector.classify(error);
    const throttled = classified.kind === 'throttled';
    const waitMs = throttled ? throttleDelayMs(classified.backOffMs, 0) : 0;
    const finishedAt = context.now();
    const retryAt = new Date(finishedAt.getTime() + Math.max(AUDIT_RETRY_MS, waitMs, classified.backOffMs ?? 0));
    checkLease(context);
    await port.recordAudit(
      lease,
      {
        trigger,
        startedAt,
        finishedAt: finishedAt.toISOString(),
        status: 'failed',
        onServer: 0,
        tracked: 0,
        filtered: 0,
        filteredByRule: {},
        failed: 0,
        outOfScope: 0,
        missing: [],
        gapBeganAt: null,
        error: `${classified.code}: ${classified.message}`,
        servedRequest: schedule.requestedAt,
      },
      retryAt,
      null,
    );
    context.emit({ type: 'audit', mailboxId: mailbox.id, address: mailbox.address, status: 'failed', onServer: 0, missing: 0 });
    return { ran: true, permanent: classified.kind === 'permanent' ? classified : null, delayMs: waitMs, counts };
  }
}

function nextScheduled(finishedAt: Date, intervalMs: number): Date {
  // With scheduled audits off, the date only matters once they are turned on again: a day from now.
  return new Date(finishedAt.getTime() + (intervalMs > 0 ? intervalMs : DEFAULT_AUDIT_INTERVAL_MS));
}

/** Every page of the Inbox's inventory since Process Email From. */
async function inventory(context: CycleContext, from: Date | null): Promise<InventoryEntry[]> {
  const entries: InventoryEntry[] = [];
  const tokens = new Set<string>();
  let page: string | null = null;
  for (let n = 0; ; n += 1) {
    if (n >= MAX_INVENTORY_PAGES) throw new InventoryError(`the server's inventory of the Inbox went on past ${MAX_INVENTORY_PAGES} pages`);
    checkLease(context);
    const answer = await context.session.inventory!(INBOX, from, page, INVENTORY_PAGE);
    entries.push(...answer.entries);
    if (answer.next === null) return entries;
    if (tokens.has(answer.next)) throw new InventoryError('the server gave the same inventory page twice; the audit stopped rather than loop');
    tokens.add(answer.next);
    page = answer.next;
  }
}

/**
 * Missing messages queued by an audit, processed like retries: those that have an outcome by now (the cursor
 * caught up, another pass tracked them) just leave the queue; the others are fetched by server id and run
 * through the pipeline, their outcomes committed (the store records one outcome per message, so none is tracked
 * twice), then they leave the queue. One that cannot be fetched is a failed outcome, retried like any other.
 */
export async function processQueued(context: CycleContext, pipeline: PipelineContext, from: Date | null, counts: IncomingCounts): Promise<void> {
  const port = context.sync.audit;
  if (!port) return;
  checkLease(context);
  const queued = await port.queued(context.mailbox.id, RETRIES_PER_CYCLE);
  if (queued.length === 0) return;
  const known = await port.outcomesMatching(
    context.mailbox.id,
    queued.map((q) => q.serverId),
    queued.flatMap((q) => (q.internetMessageId ? [q.internetMessageId] : [])),
  );
  const knownServerIds = new Set(known.map((k) => k.serverId));
  const knownMessageIds = new Set(known.flatMap((k) => (k.internetMessageId ? [k.internetMessageId] : [])));
  const todo = queued.filter((q) => !knownServerIds.has(q.serverId) && !(q.internetMessageId && knownMessageIds.has(q.internetMessageId)));
  if (todo.length > 0) {
    const byId = new Map(todo.map((q) => [q.serverId, q]));
    const outcomes = await fetchAndIngest(context, pipeline, todo.map((q) => q.serverId), from, (id) => byId.get(id)?.internetMessageId ?? null);
    checkLease(context);
    const result = await context.sync.commitIncoming(context.lease, { folder: INBOX, outcomes, cursor: null });
    await report(context, outcomes, result, counts);
  }
  checkLease(context);
  await port.dequeue(context.lease, queued.map((q) => q.serverId));
}
