/**
 * Authentication and the two roles: administrators, and users who see what they own.
 *
 * A request proves who sent it with `Authorization: Bearer <API token>` or with the web console's session
 * cookie. A cookie is sent by the browser on its own, so a state-changing request made with one must also
 * carry the session's CSRF token (X-CSRF-Token), which a page of another site cannot read, and must not come
 * from another origin. A bearer token is only ever sent on purpose and needs neither.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ForbiddenError } from '../domain/errors.js';
import type { ConsoleSession } from '../store/sessions.js';
import type { Store } from '../store/store.js';
import type { User } from '../store/users.js';
import { send } from './errors.js';

export const SESSION_COOKIE = 'liaison_session';
export const CSRF_HEADER = 'x-csrf-token';

declare module 'fastify' {
  interface FastifyRequest {
    user: User | null;
    /** The console session the request came with; null for a bearer token. */
    consoleSession: ConsoleSession | null;
  }
  interface FastifyContextConfig {
    /** The route authenticates (or not) on its own: the authenticate hook lets it through. */
    public?: boolean;
  }
}

const STATE_CHANGING = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

export const CSRF_REFUSED =
  'missing or wrong CSRF token: a request made with the session cookie that changes something must send the X-CSRF-Token header ' +
  'with the csrfToken of POST or GET /api/v1/session';

const NOT_SIGNED_IN =
  'Sign in to the console (POST /api/v1/session), or send an API token: Authorization: Bearer <token> ' +
  '(create one with `liaison user create` or `liaison user token`)';

const SESSION_ENDED = 'Your console session has ended (you signed out, it expired, or your password was changed): sign in again';

/** Why a request from the browser must be refused for coming from another site, or null. */
export function crossOriginProblem(request: FastifyRequest): string | null {
  const origin = request.headers.origin;
  if (origin === undefined) return null;
  try {
    // Both through URL, so that a default port (http://host:80) compares equal to none.
    const from = new URL(origin);
    if (from.host === new URL(`${from.protocol}//${request.host}`).host) return null;
  } catch {
    // "null" (a sandboxed page, a file) or garbage: not this server.
  }
  return `cross-origin request refused: it comes from ${origin}, not from this server (${request.host})`;
}

/** Refuses (403) a state-changing request made with a session cookie from another origin or without the CSRF token. */
function sessionRequestProblem(store: Store, request: FastifyRequest, session: ConsoleSession): string | null {
  if (!STATE_CHANGING.has(request.method)) return null;
  const crossOrigin = crossOriginProblem(request);
  if (crossOrigin) return crossOrigin;
  const header = request.headers[CSRF_HEADER];
  return store.sessions.checkCsrf(session, typeof header === 'string' ? header : null) ? null : CSRF_REFUSED;
}

export function setSessionCookie(request: FastifyRequest, reply: FastifyReply, secret: string): void {
  reply.setCookie(SESSION_COOKIE, secret, { httpOnly: true, sameSite: 'strict', path: '/', secure: request.protocol === 'https' });
}

export function clearSessionCookie(request: FastifyRequest, reply: FastifyReply): void {
  reply.clearCookie(SESSION_COOKIE, { httpOnly: true, sameSite: 'strict', path: '/', secure: request.protocol === 'https' });
}

/** The session the request's cookie stands for, or null (no cookie, or a session that has ended). */
export async function sessionOf(store: Store, request: FastifyRequest): Promise<{ user: User; session: ConsoleSession } | null> {
  const secret = request.cookies[SESSION_COOKIE];
  return secret ? store.sessions.authenticate(secret) : null;
}

/**
 * As sessionOf, but a state-changing request from another origin or without the session's CSRF token is
 * answered 403 here (the answer is sent, and 'refused' returned).
 */
export async function checkedSessionOf(
  store: Store,
  request: FastifyRequest,
  reply: FastifyReply,
): Promise<{ user: User; session: ConsoleSession } | 'refused' | null> {
  const found = await sessionOf(store, request);
  if (!found) return null;
  const problem = sessionRequestProblem(store, request, found.session);
  if (problem) {
    await send(reply, 403, problem);
    return 'refused';
  }
  return found;
}

export function authenticate(store: Store) {
  return async (request: FastifyRequest, reply: FastifyReply) => {
    if (request.routeOptions.config.public) return;
    const header = request.headers.authorization;
    if (header !== undefined) {
      const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
      if (!match) {
        reply.header('WWW-Authenticate', 'Bearer realm="liaison"');
        return send(reply, 401, NOT_SIGNED_IN);
      }
      const user = await store.tokens.authenticate(match[1]!);
      if (!user) {
        reply.header('WWW-Authenticate', 'Bearer realm="liaison", error="invalid_token"');
        return send(reply, 401, 'The API token is not valid (it may have been revoked, or its user deleted)');
      }
      request.user = user;
      return;
    }
    if (request.cookies[SESSION_COOKIE]) {
      const found = await checkedSessionOf(store, request, reply);
      if (found === 'refused') return reply;
      if (!found) {
        clearSessionCookie(request, reply);
        return send(reply, 401, SESSION_ENDED);
      }
      request.user = found.user;
      request.consoleSession = found.session;
      return;
    }
    reply.header('WWW-Authenticate', 'Bearer realm="liaison"');
    return send(reply, 401, NOT_SIGNED_IN);
  };
}

export function currentUser(request: FastifyRequest): User {
  if (!request.user) throw new Error('route reached without authentication');
  return request.user;
}

export function requireAdmin(request: FastifyRequest, what: string): User {
  const user = currentUser(request);
  if (!user.isAdmin) throw new ForbiddenError(`Only an administrator may ${what}`);
  return user;
}
