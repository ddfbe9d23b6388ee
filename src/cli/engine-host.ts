/**
 * The sync engine as `liaison serve` and `liaison worker` run it over a Store: the EWS connectors, the
 * --resolve entries, one log line per thing done, the metrics, and the owner's address for notifications
 * (looked up here because store.sync's failureCounts names only the owner's id).
 */
import { engineMetrics } from '../api/metrics.js';
import { defaultConnectors } from '../connectors/index.js';
import type { Store } from '../store/store.js';
import { createSyncEngine } from '../sync/engine.js';
import type { EngineEvent, SyncEngine } from '../sync/engine-types.js';
import type { SyncStore } from '../sync/ports.js';

export interface EngineHostOptions {
  resolve: readonly string[];
  concurrency?: number;
  push?: boolean;
  workerId?: string;
  /** Each event, after the metrics saw it (serve --sandbox prints tracked email with it). */
  onEvent?: (event: EngineEvent) => void;
}

/** store.sync, with the owner's address added to the failure counts where the store leaves it out. */
export function syncStoreOf(store: Store): SyncStore {
  const sync = store.sync;
  const withOwners: SyncStore = Object.create(sync) as SyncStore;
  withOwners.failureCounts = async (since) => {
    const rows = await sync.failureCounts(since);
    return Promise.all(
      rows.map(async (row) => {
        if ((row as { ownerAddress?: string | null }).ownerAddress) return row;
        const owner = await store.users.get(row.ownerId).catch(() => null);
        return { ...row, ownerAddress: owner?.email ?? null };
      }),
    );
  };
  return withOwners;
}

export function startEngine(store: Store, options: EngineHostOptions): SyncEngine {
  const metrics = engineMetrics();
  const engine = createSyncEngine({
    sync: syncStoreOf(store),
    connectors: defaultConnectors(),
    resolve: options.resolve,
    ...(options.concurrency !== undefined ? { concurrency: options.concurrency } : {}),
    ...(options.push !== undefined ? { push: options.push } : {}),
    ...(options.workerId !== undefined ? { workerId: options.workerId } : {}),
    onEvent: (event) => {
      metrics.observe(event);
      options.onEvent?.(event);
    },
  });
  engine.start();
  return engine;
}

/** One log line per event worth reading: tracked, sent, failures, lost leases, and cycles that did something. */
export function describeEngineEvent(event: EngineEvent): string | null {
  switch (event.type) {
    case 'tracked':
      return `${event.linked ? 'linked' : 'tracked'} ${event.address}: "${event.subject}" from ${event.from} (activity ${event.activityId})`;
    case 'sent':
      return `sent ${event.address}: "${event.subject}" to ${event.to.join(', ')} (activity ${event.activityId})`;
    case 'failure':
      return `failure ${event.address ?? '(engine)'}: ${event.code}: ${event.message}`;
    case 'lease-lost':
      return `lease lost on mailbox ${event.mailboxId}: another worker has it; this worker's cycle stopped`;
    case 'cycle': {
      const c = event.counts;
      const busy = c.tracked + c.linked + c.filtered + c.failed + c.sent > 0;
      if (event.status === 'success' && !busy) return null;
      return `cycle ${event.direction} ${event.address}: ${event.status} in ${event.durationMs} ms (tracked ${c.tracked}, linked ${c.linked}, filtered ${c.filtered}, failed ${c.failed}, sent ${c.sent})`;
    }
  }
}
