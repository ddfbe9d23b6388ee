/**
 * The sync engine as `liaison serve` and `liaison worker` run it over a Store: the EWS connectors, the
 * --resolve entries, one log line per thing done, and the metrics.
 */
import { engineMetrics } from '../api/metrics.js';
import { notificationKey } from '../connectors/graph/notifications.js';
import { defaultConnectors } from '../connectors/index.js';
import type { Store } from '../store/store.js';
import { createSyncEngine } from '../sync/engine.js';
import type { EngineEvent, SyncEngine } from '../sync/engine-types.js';

export interface EngineHostOptions {
  resolve: readonly string[];
  concurrency?: number;
  push?: boolean;
  workerId?: string;
  /** How long a lease lasts without renewal (a killed worker's mailboxes wait this long for another). */
  leaseMs?: number;
  /** Each event, after the metrics saw it (serve --sandbox prints tracked email with it). */
  onEvent?: (event: EngineEvent) => void;
  /** The missing-mail audit's interval; default LIAISON_AUDIT_INTERVAL_HOURS, or daily. 0: on demand only. */
  auditIntervalMs?: number;
  /** `--public-url`: where Microsoft Graph reaches the API server; none: Exchange Online mailboxes are polled. */
  publicUrl?: string | null;
}

/** What the engine needs to have Graph push to the API server: the public URL and the store's clientState key. */
export function pushEndpointOf(store: Pick<Store, 'secretBox'>, publicUrl: string | null | undefined): { publicUrl: string; key: Buffer } | null {
  return publicUrl ? { publicUrl, key: notificationKey(store.secretBox) } : null;
}

/** LIAISON_AUDIT_INTERVAL_HOURS (hours, 0 turns scheduled audits off); undefined when unset. */
export function auditIntervalFromEnv(env: NodeJS.ProcessEnv = process.env): number | undefined {
  const raw = env.LIAISON_AUDIT_INTERVAL_HOURS;
  if (raw === undefined || raw.trim() === '') return undefined;
  const hours = Number(raw);
  if (!Number.isFinite(hours) || hours < 0) throw new Error(`LIAISON_AUDIT_INTERVAL_HOURS must be a number of hours (0 or more), not "${raw}"`);
  return hours * 60 * 60 * 1000;
}

export function startEngine(store: Store, options: EngineHostOptions): SyncEngine {
  const metrics = engineMetrics();
  const pushEndpoint = pushEndpointOf(store, options.publicUrl);
  const engine = createSyncEngine({
    sync: store.sync,
    connectors: defaultConnectors(),
    resolve: options.resolve,
    ...(options.concurrency !== undefined ? { concurrency: options.concurrency } : {}),
    ...(options.push !== undefined ? { push: options.push } : {}),
    ...(options.workerId !== undefined ? { workerId: options.workerId } : {}),
    ...(options.leaseMs !== undefined ? { leaseMs: options.leaseMs } : {}),
    ...(pushEndpoint ? { pushEndpoint } : {}),
    ...((options.auditIntervalMs ?? auditIntervalFromEnv()) !== undefined ? { auditIntervalMs: options.auditIntervalMs ?? auditIntervalFromEnv()! } : {}),
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
    case 'audit':
      return event.status === 'failed'
        ? `audit ${event.address}: failed (see GET /api/v1/mailboxes/${event.mailboxId}/audits)`
        : `audit ${event.address}: ${event.onServer} on the server, ${event.missing} missing`;
  }
}
