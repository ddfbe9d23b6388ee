/**
 * POST /graph/notifications: where Microsoft Graph delivers change notifications for the subscriptions the Graph
 * change feed makes (concepts/webhooks.md, webhooks-lifecycle.md). Microsoft calls it, so it carries no Liaison
 * authentication and is outside /api/v1 (no session, no CSRF check); what proves a notification is its
 * clientState, an HMAC under the store's key (connectors/graph/notifications.ts).
 *
 * - `?validationToken=…`: the handshake Graph makes when a subscription is created. The token, URL-decoded (the
 *   query parser does that), is answered at once as 200 text/plain, byte for byte, without reading the body.
 * - Otherwise the body is `{"value":[…]}`. Each entry whose clientState verifies wakes its mailbox (an ordinary
 *   notification, or the lifecycle event `missed`) and is emitted on graphLifecycle for the feeds of this process;
 *   entries whose clientState does not verify are ignored and counted in one log line (never the clientState
 *   itself). The answer is 202, also when waking fails (polling stays the source of truth; Graph's retries for
 *   hours would not help); a body that is not JSON or not `{value: [...]}` is 400, more than 1 MiB is 413.
 *
 * The route logs at warn and above only: Fastify's request lines would carry the validation token in the URL.
 */
import type { FastifyInstance, FastifyPluginAsync } from 'fastify';
import {
  addressFromClientState,
  graphLifecycle,
  type GraphLifecycleEvent,
  type GraphLifecycleKind,
  notificationKey,
  notificationPath,
} from '../../connectors/graph/notifications.js';
import type { Store } from '../../store/store.js';
import { send } from '../errors.js';

/** Graph batches notifications; a megabyte holds hundreds of them. */
export const GRAPH_NOTIFICATION_BODY_LIMIT = 1024 * 1024;

const LIFECYCLE_EVENTS = new Set<GraphLifecycleKind>(['missed', 'reauthorizationRequired', 'subscriptionRemoved']);

export interface GraphNotificationOptions {
  /** The clock the wake uses (tests). */
  now?: () => Date;
}

interface Outcome {
  events: GraphLifecycleEvent[];
  ignored: number;
}

/** Reads the entries of a notification body: the verified ones as events, the rest counted. */
export function readNotifications(key: Buffer, value: unknown[]): Outcome {
  const events: GraphLifecycleEvent[] = [];
  let ignored = 0;
  for (const entry of value) {
    if (typeof entry !== 'object' || entry === null) {
      ignored += 1;
      continue;
    }
    const fields = entry as Record<string, unknown>;
    const address = addressFromClientState(key, fields.clientState);
    const lifecycle = fields.lifecycleEvent;
    const event: GraphLifecycleKind | null =
      lifecycle === undefined || lifecycle === null ? 'change' : LIFECYCLE_EVENTS.has(lifecycle as GraphLifecycleKind) ? (lifecycle as GraphLifecycleKind) : null;
    if (address === null || event === null) {
      ignored += 1;
      continue;
    }
    events.push({ address, event, subscriptionId: typeof fields.subscriptionId === 'string' ? fields.subscriptionId : null });
  }
  return { events, ignored };
}

export function graphNotificationRoutes(store: Store, options: GraphNotificationOptions = {}): FastifyPluginAsync {
  const key = notificationKey(store.secretBox);
  const now = options.now ?? (() => new Date());
  return async (app: FastifyInstance) => {
    // Graph's handshake comes as text/plain, its notifications as application/json: read every body as bytes here
    // (this plugin only) and parse it below, so nothing is refused for its content type.
    app.removeAllContentTypeParsers();
    app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: GRAPH_NOTIFICATION_BODY_LIMIT }, (_request, body, done) => {
      done(null, body);
    });

    app.post(
      notificationPath,
      { schema: { hide: true }, bodyLimit: GRAPH_NOTIFICATION_BODY_LIMIT, logLevel: 'warn' },
      async (request, reply) => {
        const query = request.query as Record<string, string | string[] | undefined>;
        const token = query.validationToken;
        if (token !== undefined) {
          if (typeof token !== 'string') return send(reply, 400, 'validationToken was given more than once');
          return reply.code(200).header('Content-Type', 'text/plain; charset=utf-8').header('X-Content-Type-Options', 'nosniff').send(token);
        }
        const body = request.body;
        if (!Buffer.isBuffer(body) || body.length === 0) {
          return send(reply, 400, 'The request body is missing: Microsoft Graph sends notifications as a JSON object {"value": [...]}');
        }
        let parsed: unknown;
        try {
          parsed = JSON.parse(body.toString('utf8'));
        } catch (error) {
          return send(reply, 400, `The request body is not valid JSON: ${(error as Error).message}`);
        }
        const value = typeof parsed === 'object' && parsed !== null ? (parsed as { value?: unknown }).value : undefined;
        if (!Array.isArray(value)) {
          return send(reply, 400, 'The request body is not a Graph notification: expected a JSON object {"value": [...]}');
        }
        const { events, ignored } = readNotifications(key, value);
        if (ignored > 0) {
          request.log.warn(
            { received: value.length, ignored },
            'Graph notifications ignored: their clientState does not verify with this store’s key (or they are not notifications)',
          );
        }
        const due = [...new Set(events.filter((e) => e.event === 'change' || e.event === 'missed').map((e) => e.address))];
        if (due.length > 0) {
          try {
            await store.sync.wake(due, now());
          } catch (error) {
            request.log.error({ err: { message: (error as Error).message }, mailboxes: due.length }, 'Graph notifications: the mailboxes could not be woken; polling will find the change');
          }
        }
        for (const event of events) {
          try {
            graphLifecycle.emit('event', event);
          } catch (error) {
            request.log.error({ err: { message: (error as Error).message } }, 'a Graph change feed failed on a notification');
          }
        }
        return reply.code(202).send();
      },
    );
  };
}
