/** Prometheus metrics: HTTP traffic, process health, and the mailboxes' states read at scrape time. */
import type { FastifyInstance } from 'fastify';
import { collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { Store } from '../store/store.js';

export function registerMetrics(app: FastifyInstance, store: Store): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'liaison_' });

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
    help: 'Mailboxes by enabled flag and incoming/outgoing status',
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
