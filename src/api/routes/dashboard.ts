/**
 * /dashboard and /events: the console's overview, and the same overview live as server-sent events.
 *
 * The stream polls the store rather than listening to events inside this process: the sync workers may run in
 * other processes (or on other machines), and the store is what they all share.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { FastifyRequest } from 'fastify';
import type { ServerResponse } from 'node:http';
import { NotFoundError } from '../../domain/errors.js';
import { type Dashboard as DashboardData, dashboardFingerprint, DashboardQueries, type DashboardScope } from '../../store/dashboard.js';
import type { Store } from '../../store/store.js';
import type { User } from '../../store/users.js';
import { currentUser } from '../auth.js';
import { Dashboard, errorResponses } from '../schemas.js';

export interface LiveTiming {
  /** How often a stream recomputes its caller's dashboard. */
  pollMs: number;
  /** How often a stream sends a comment line, so that proxies and the browser keep an idle stream open. */
  keepAliveMs: number;
}

export const LIVE_TIMING: LiveTiming = { pollMs: 2_000, keepAliveMs: 15_000 };

function scopeOf(user: User): DashboardScope {
  return user.isAdmin ? { all: true } : { ownerId: user.id };
}

export function dashboardRoutes(store: Store, timing: LiveTiming = LIVE_TIMING): FastifyPluginAsyncTypebox {
  return async (app) => {
    const tags = ['dashboard'];
    const queries = new DashboardQueries(store.database.db);

    /**
     * Streams of the same scope (every administrator's, one user's tabs) share a computation made less than
     * half a poll ago, so many open consoles cost the database about one dashboard per scope and poll.
     */
    const recent = new Map<string, { at: number; result: Promise<DashboardData> }>();
    function compute(scope: DashboardScope): Promise<DashboardData> {
      const key = 'ownerId' in scope ? `owner:${scope.ownerId}` : 'all';
      const at = Date.now();
      const cached = recent.get(key);
      if (cached && at - cached.at < timing.pollMs / 2) return cached.result;
      const result = queries.compute(scope, new Date(at));
      recent.set(key, { at, result });
      result.catch(() => recent.delete(key));
      // Forget old scopes (users who closed their consoles) as new computations come in.
      for (const [k, v] of recent) if (at - v.at > timing.pollMs * 5) recent.delete(k);
      return result;
    }

    /** The caller as they are now, or null when their session ended or their token was revoked meanwhile. */
    async function callerNow(request: FastifyRequest, first: User): Promise<User | null> {
      try {
        if (request.consoleSession) {
          const userId = await queries.sessionUser(request.consoleSession.id);
          return userId === first.id ? await store.users.get(userId) : null;
        }
        const match = /^Bearer\s+(\S+)\s*$/i.exec(request.headers.authorization ?? '');
        const user = match ? await store.tokens.authenticate(match[1]!) : null;
        return user && user.id === first.id ? user : null;
      } catch (error) {
        if (error instanceof NotFoundError) return null;
        throw error;
      }
    }

    app.get('/dashboard', {
      schema: {
        tags,
        summary: 'The overview of the mailboxes, the tracked email and what waits to be sent',
        description: Dashboard.description,
        response: { 200: Dashboard, ...errorResponses },
      },
    }, async (request) => queries.compute(scopeOf(currentUser(request))));

    const open = new Set<{ end(reason: string): void }>();

    app.get('/events', {
      schema: {
        tags,
        summary: "The dashboard, live (server-sent events)",
        description:
          'A text/event-stream for the console (EventSource sends the session cookie; an API token works too). ' +
          `Every ${timing.pollMs / 1000} s the server recomputes the caller's dashboard (as GET /dashboard) and sends it as ` +
          '`event: dashboard` with the JSON as data when it changed (the first at once; a change of the ages alone is not a change); a comment ' +
          `line \`: keep-alive\` every ${timing.keepAliveMs / 1000} s. The stream ends with \`event: end\` when the caller's session ends or ` +
          'their token is revoked, and when the server stops. It reads the store, so it sees the work of sync workers in other processes.',
        produces: ['text/event-stream'],
        response: {
          200: Type.String({ description: 'event: dashboard\\ndata: {…the Dashboard…}\\n\\n, repeated; : keep-alive lines between' }),
          ...errorResponses,
        },
      },
    }, async (request, reply) => {
      const first = currentUser(request);
      reply.hijack();
      const res: ServerResponse = reply.raw;
      const headers: Record<string, string | number | string[]> = {};
      for (const [name, value] of Object.entries(reply.getHeaders())) if (value !== undefined) headers[name] = value;
      res.writeHead(200, {
        ...headers,
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache, no-transform',
        'x-accel-buffering': 'no',
        connection: 'keep-alive',
      });
      res.flushHeaders();

      let timer: NodeJS.Timeout | null = null;
      let last: string | null = null;
      let ended = false;
      const write = (text: string) => {
        if (!ended && !res.writableEnded) res.write(text);
      };
      const stream = {
        end(reason: string) {
          if (ended) return;
          write(`event: end\ndata: ${JSON.stringify({ reason })}\n\n`);
          ended = true;
          cleanup();
          res.end();
        },
      };
      const keepAlive = setInterval(() => write(': keep-alive\n\n'), timing.keepAliveMs);
      function cleanup() {
        ended = true;
        clearInterval(keepAlive);
        if (timer) clearTimeout(timer);
        timer = null;
        open.delete(stream);
      }
      open.add(stream);
      // The client went away (or the socket broke): stop polling for it.
      res.on('close', cleanup);

      const tick = async () => {
        timer = null;
        try {
          const user = await callerNow(request, first);
          if (ended) return;
          if (!user) return stream.end('your session has ended or your API token was revoked: sign in again');
          const dashboard = await compute(scopeOf(user));
          if (ended) return;
          const fingerprint = dashboardFingerprint(dashboard);
          if (fingerprint !== last) {
            last = fingerprint;
            write(`event: dashboard\ndata: ${JSON.stringify(dashboard)}\n\n`);
          }
        } catch (error) {
          // A database that is briefly away: say nothing to the client, try again at the next poll.
          request.log.warn({ err: error }, 'the live dashboard could not be computed');
        }
        if (!ended) timer = setTimeout(() => void tick(), timing.pollMs);
      };
      await tick();
    });

    // preClose runs before the server stops accepting and waits for its connections: an open stream would
    // keep app.close() waiting forever, so every stream is ended first.
    app.addHook('preClose', async () => {
      for (const stream of [...open]) stream.end('the server is stopping');
    });
    app.addHook('onClose', async () => {
      for (const stream of [...open]) stream.end('the server is stopping');
      recent.clear();
    });
  };
}
