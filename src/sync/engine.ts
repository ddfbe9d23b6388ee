/**
 * The sync engine: a loop that claims due mailboxes (up to `concurrency` in hand), runs each one's cycle while
 * its lease is renewed, and releases it with its next due time. When nothing is due it sleeps until the
 * earliest due time it knows of, a push wake, or a cycle ending, whichever comes first, and never longer than
 * IDLE_CHECK_MS, since other workers and the API make mailboxes due too. Never a busy loop: every claim that
 * finds nothing is followed by a sleep.
 */
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { DEFAULT_POLL_FLOOR_MS } from '../domain/schedule.js';
import { ConnectorCache } from './connector-cache.js';
import type { CycleSteps } from './cycle-context.js';
import { runMailboxCycle } from './cycle.js';
import type { EngineEvent, EngineOptions, SyncEngine } from './engine-types.js';
import { buildOutgoingMime } from './outgoing-mime.js';
import { OwnerNotifier } from './owner-notifications.js';
import { ingest } from './pipeline/ingest.js';
import { PushFeeds } from './push.js';

export const DEFAULT_LEASE_MS = 60_000;
export const DEFAULT_CONCURRENCY = 16;
/** The longest the loop sleeps without asking the store what is due. */
export const IDLE_CHECK_MS = 1_000;
/** After the store failed to answer a claim. */
const CLAIM_RETRY_MS = 5_000;

export function createSyncEngine(options: EngineOptions): SyncEngine {
  return new Engine(options, { ingest, buildOutgoingMime });
}

/** The engine with its pipeline steps given (tests that need a pipeline of their own use this). */
export function createSyncEngineWith(options: EngineOptions, steps: CycleSteps): SyncEngine {
  return new Engine(options, steps);
}

export function defaultWorkerId(): string {
  return `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;
}

class Engine implements SyncEngine {
  readonly workerId: string;
  private readonly leaseMs: number;
  private readonly concurrency: number;
  private readonly pollFloorMs: number;
  private readonly now: () => Date;
  private readonly cache: ConnectorCache;
  private readonly push: PushFeeds | null;
  private readonly notifier: OwnerNotifier;
  private readonly inHand = new Map<string, Promise<void>>();
  /** Next due times this worker released with: the earliest one bounds the sleep. */
  private readonly dueTimes = new Map<string, number>();
  private running = false;
  private loopDone: Promise<void> | null = null;
  private wakeUp: (() => void) | null = null;
  private woken = false;

  constructor(
    private readonly options: EngineOptions,
    private readonly steps: CycleSteps,
  ) {
    this.workerId = options.workerId ?? defaultWorkerId();
    this.leaseMs = Math.max(1_000, options.leaseMs ?? DEFAULT_LEASE_MS);
    this.concurrency = Math.max(1, options.concurrency ?? DEFAULT_CONCURRENCY);
    this.pollFloorMs = Math.max(1, options.pollFloorMs ?? DEFAULT_POLL_FLOOR_MS);
    this.now = options.now ?? (() => new Date());
    this.cache = new ConnectorCache({ sync: options.sync, registry: options.connectors, resolve: options.resolve, pushEndpoint: options.pushEndpoint, emit: (e) => this.emit(e) });
    this.push =
      options.push === false
        ? null
        : new PushFeeds({ sync: options.sync, cache: this.cache, wakeLoop: () => this.wake(), now: this.now, emit: (e) => this.emit(e) });
    this.notifier = new OwnerNotifier(options.sync, this.now, (e) => this.emit(e));
  }

  start(): void {
    if (this.running || this.loopDone) return;
    this.running = true;
    this.push?.start();
    this.notifier.start();
    this.loopDone = this.loop();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.wake();
    await this.loopDone;
    // The cycles in hand finish and release their leases themselves.
    await Promise.all([...this.inHand.values()]);
    await this.push?.close();
    await this.notifier.stop();
    await this.cache.closeAll();
  }

  private emit(event: EngineEvent): void {
    try {
      this.options.onEvent?.(event);
    } catch {
      // A listener's bug must not stop mail synchronization.
    }
  }

  private wake(): void {
    this.woken = true;
    const wake = this.wakeUp;
    this.wakeUp = null;
    wake?.();
  }

  private async loop(): Promise<void> {
    while (this.running) {
      const free = this.concurrency - this.inHand.size;
      let claimedAll = false;
      if (free > 0) {
        this.woken = false;
        try {
          const claims = await this.options.sync.claimDue(this.workerId, free, this.leaseMs, this.now());
          for (const claim of claims) this.begin(claim);
          claimedAll = claims.length === free;
        } catch (error) {
          this.emit({ type: 'failure', mailboxId: null, address: null, code: 'store.claim', message: (error as Error).message });
          await this.sleep(CLAIM_RETRY_MS);
          continue;
        }
      }
      // Every slot filled: more may be due; claim again once one frees up (a cycle's end wakes the loop).
      if (claimedAll && this.inHand.size < this.concurrency) continue;
      await this.sleep(this.idleDelay());
    }
  }

  private begin(claim: Parameters<typeof runMailboxCycle>[0]): void {
    const id = claim.mailbox.id;
    this.dueTimes.delete(id);
    const cycle = runMailboxCycle(claim, {
      sync: this.options.sync,
      cache: this.cache,
      steps: this.steps,
      leaseMs: this.leaseMs,
      pollFloorMs: this.pollFloorMs,
      pushHealthy: (profileId, address) => this.push?.healthy(profileId, address) ?? false,
      now: this.now,
      emit: (e) => this.emit(e),
      ...(this.options.auditIntervalMs !== undefined ? { auditIntervalMs: this.options.auditIntervalMs } : {}),
      ...(this.options.sendSettleMs !== undefined ? { sendSettleMs: this.options.sendSettleMs } : {}),
      ...(this.options.sendRetryBaseMs !== undefined ? { sendRetryBaseMs: this.options.sendRetryBaseMs } : {}),
    })
      .then((result) => {
        if (result.nextDueAt) this.dueTimes.set(id, result.nextDueAt.getTime());
      })
      .catch((error: unknown) => {
        this.emit({ type: 'failure', mailboxId: id, address: claim.mailbox.address, code: 'engine.cycle', message: (error as Error).message });
      })
      .finally(() => {
        this.inHand.delete(id);
        this.wake();
      });
    this.inHand.set(id, cycle);
  }

  private idleDelay(): number {
    const now = this.now().getTime();
    let earliest = Infinity;
    for (const [id, at] of this.dueTimes) {
      // A due time that has come was claimed (by this worker or another) or will be found by the next claim.
      if (at <= now) this.dueTimes.delete(id);
      else earliest = Math.min(earliest, at);
    }
    return Math.max(10, Math.min(IDLE_CHECK_MS, earliest - now));
  }

  private sleep(ms: number): Promise<void> {
    if (this.woken || !this.running) {
      this.woken = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.wakeUp = null;
        resolve();
      }, ms);
      this.wakeUp = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }
}
