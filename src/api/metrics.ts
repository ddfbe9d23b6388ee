/**
 * Prometheus metrics: HTTP traffic, process health, the mailboxes' states read at scrape time, and what the
 * sync engine of this process did (cycles, items by outcome, failures by code, arrival-to-activity latency).
 */
import type { FastifyInstance } from 'fastify';
import { collectDefaultMetrics, Counter, Gauge, Histogram, type Metric, Registry } from 'prom-client';
import type { Store } from '../store/store.js';
import type { EngineEvent } from '../sync/engine-types.js';

export interface EngineMetrics {
  observe(event: EngineEvent): void;
  readonly metrics: Metric[];
}

let engine: EngineMetrics | null = null;

/**
 * The engine's metrics, one set per process (the engine and the API of `serve` share it; a `worker` has no
 * HTTP server, so its metrics are counted but not served).
 */
export function engineMetrics(): EngineMetrics {
  if (engine) return engine;
  const cycles = new Counter({
    name: 'liaison_sync_cycles_total',
    help: 'Mailbox cycles by direction and how they ended (success, failure, throttled)',
    labelNames: ['direction', 'status'] as const,
    registers: [],
  });
  const cycleSeconds = new Histogram({
    name: 'liaison_sync_cycle_duration_seconds',
    help: 'How long a mailbox cycle took, by direction',
    labelNames: ['direction'] as const,
    buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    registers: [],
  });
  const items = new Counter({
    name: 'liaison_sync_items_total',
    help: 'Messages by outcome: tracked, linked (already tracked by another mailbox), filtered, failed, sent',
    labelNames: ['outcome'] as const,
    registers: [],
  });
  const failures = new Counter({
    name: 'liaison_sync_failures_total',
    help: 'Failures by code (e.g. http.401, ews.ErrorServerBusy, transport.timeout)',
    labelNames: ['code'] as const,
    registers: [],
  });
  const leases = new Counter({ name: 'liaison_sync_leases_lost_total', help: 'Cycles stopped because another worker took the lease', registers: [] });
  const latency = new Histogram({
    name: 'liaison_sync_arrival_to_activity_seconds',
    help: 'From the server receiving a message to its email activity being recorded',
    buckets: [0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 900, 3600],
    registers: [],
  });
  engine = {
    metrics: [cycles, cycleSeconds, items, failures, leases, latency],
    observe(event) {
      switch (event.type) {
        case 'cycle':
          cycles.inc({ direction: event.direction, status: event.status });
          cycleSeconds.observe({ direction: event.direction }, event.durationMs / 1000);
          for (const [outcome, n] of Object.entries(event.counts)) if (n > 0) items.inc({ outcome }, n);
          return;
        case 'failure':
          failures.inc({ code: event.code });
          return;
        case 'lease-lost':
          leases.inc();
          return;
        case 'tracked': {
          const received = event.receivedAt ? new Date(event.receivedAt).getTime() : NaN;
          // Only new arrivals: an initial sync of old mail says nothing about latency.
          const seconds = (Date.now() - received) / 1000;
          if (!event.linked && Number.isFinite(seconds) && seconds >= 0 && seconds < 3600) latency.observe(seconds);
          return;
        }
        case 'sent':
          return;
      }
    },
  };
  return engine;
}

export function registerMetrics(app: FastifyInstance, store: Store): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'liaison_' });
  for (const metric of engineMetrics().metrics) registry.registerMetric(metric);

  const requests = new Histogram({
    name: 'liaison_http_request_duration_seconds',
    help: 'HTTP requests by route template, method and status code',
    labelNames: ['method', 'route', 'status_code'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });

  new Gauge({
    name: 'liaison_database_up',
    help: '1 when the database answered at scrape time',
    registers: [registry],
    async collect() {
      this.set((await store.health()).reachable ? 1 : 0);
    },
  });

  new Gauge({
    name: 'liaison_mailboxes',
    help: 'Mailboxes by enabled flag and incoming/outgoing status (read from the store at scrape time)',
    labelNames: ['enabled', 'incoming_status', 'outgoing_status'] as const,
    registers: [registry],
    async collect() {
      this.reset();
      for (const row of await store.mailboxes.countByState()) {
        this.set({ enabled: String(row.enabled), incoming_status: row.incomingStatus, outgoing_status: row.outgoingStatus }, row.count);
      }
    },
  });

  app.addHook('onResponse', async (request, reply) => {
    // The route template (not the path) keeps the label set bounded.
    const route = request.routeOptions.url ?? 'unmatched';
    requests.observe({ method: request.method, route, status_code: String(reply.statusCode) }, reply.elapsedTime / 1000);
  });

  return registry;
}
