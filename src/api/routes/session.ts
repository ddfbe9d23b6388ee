/**
 * /session: signing in to the web console with an email address and a password, the session behind its cookie,
 * signing out, and the first administrator's setup; and /users/:id/password.
 *
 * The /session routes take no bearer token: they are let through the authenticate hook and read the cookie
 * themselves.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ForbiddenError } from '../../domain/errors.js';
import type { NewSession } from '../../store/sessions.js';
import type { Store } from '../../store/store.js';
import type { User as UserRecord } from '../../store/users.js';
import { checkedSessionOf, clearSessionCookie, crossOriginProblem, currentUser, SESSION_COOKIE, sessionOf, setSessionCookie } from '../auth.js';
import { send } from '../errors.js';
import { ErrorBody, errorResponses, IdParams, PasswordChange, SessionCreate, SessionInfo, SetupRequest, SetupStatus } from '../schemas.js';

const noAuth = { security: [] as Array<Record<string, string[]>> };
const sessionResponses = { ...errorResponses, 429: ErrorBody };

function signedIn(request: FastifyRequest, reply: FastifyReply, user: UserRecord, session: NewSession) {
  setSessionCookie(request, reply, session.secret);
  return reply.code(200).send({ user, csrfToken: session.csrfToken, expiresAt: session.expiresAt });
}

export function sessionRoutes(store: Store): FastifyPluginAsyncTypebox {
  return async (app) => {
    app.post('/session', {
      config: { public: true },
      schema: {
        tags: ['session'],
        summary: 'Sign in to the console with an email address and a password',
        description:
          'Answers the user and the CSRF token, and sets the session cookie (liaison_session; HttpOnly, SameSite=Strict). ' +
          'A wrong address and a wrong password get the same 401. After 5 failed sign-ins in a row the account is locked for ' +
          '15 minutes: 429 with Retry-After, even for the right password.',
        ...noAuth,
        body: SessionCreate,
        response: { 200: SessionInfo, ...sessionResponses },
      },
    }, async (request, reply) => {
      const crossOrigin = crossOriginProblem(request);
      if (crossOrigin) return send(reply, 403, crossOrigin);
      const { user, session } = await store.sessions.login(request.body.email, request.body.password);
      // A cookie of an earlier session of this browser ends with it: one browser, one session.
      const previous = request.cookies[SESSION_COOKIE];
      if (previous) await store.sessions.revoke(previous);
      return signedIn(request, reply, user, session);
    });

    app.get('/session', {
      config: { public: true },
      schema: {
        tags: ['session'],
        summary: 'The console session of the cookie: its user and CSRF token (401 when not signed in)',
        ...noAuth,
        response: { 200: SessionInfo, ...errorResponses },
      },
    }, async (request, reply) => {
      const found = await sessionOf(store, request);
      if (!found) {
        if (request.cookies[SESSION_COOKIE]) clearSessionCookie(request, reply);
        return send(reply, 401, 'Not signed in to the console (or the session has ended): sign in with POST /api/v1/session');
      }
      return { user: found.user, csrfToken: found.session.csrfToken, expiresAt: found.session.expiresAt };
    });

    app.delete('/session', {
      config: { public: true },
      schema: {
        tags: ['session'],
        summary: 'Sign out: ends the session and clears its cookie',
        description: 'Needs the X-CSRF-Token header like every state-changing request made with the cookie. Without a session, there is nothing to end: 204 too.',
        ...noAuth,
        response: { 204: Type.Null(), ...errorResponses },
      },
    }, async (request, reply) => {
      const found = await checkedSessionOf(store, request, reply);
      if (found === 'refused') return reply;
      if (found) await store.sessions.revoke(request.cookies[SESSION_COOKIE]!);
      clearSessionCookie(request, reply);
      return reply.code(204).send(null);
    });

    app.get('/session/setup', {
      config: { public: true },
      schema: {
        tags: ['session'],
        summary: 'Whether the first administrator\'s password must still be set, and how',
        ...noAuth,
        response: { 200: SetupStatus },
      },
    }, async () => store.sessions.setupState());

    app.post('/session/setup', {
      config: { public: true },
      schema: {
        tags: ['session'],
        summary: 'Set the first administrator\'s password with the one-time link Liaison printed, and sign in',
        description:
          'With no administrator yet, creates one from email and name. Otherwise sets the password of the administrator without one ' +
          'that email names (optional when there is only one). The token works once and for 24 hours. Answers as POST /session.',
        ...noAuth,
        body: SetupRequest,
        response: { 200: SessionInfo, ...errorResponses },
      },
    }, async (request, reply) => {
      const crossOrigin = crossOriginProblem(request);
      if (crossOrigin) return send(reply, 403, crossOrigin);
      const { user, session } = await store.sessions.completeSetup(request.body);
      return signedIn(request, reply, user, session);
    });

    app.put('/users/:id/password', {
      schema: {
        tags: ['session'],
        summary: 'Set a user\'s console password',
        description:
          'Your own: send currentPassword (a wrong one counts toward the lock-out). An administrator sets another user\'s without it. ' +
          'The user\'s other console sessions end; API tokens keep working.',
        params: IdParams,
        body: PasswordChange,
        response: { 204: Type.Null(), ...sessionResponses },
      },
    }, async (request, reply) => {
      const me = currentUser(request);
      const own = me.id === request.params.id;
      if (!own && !me.isAdmin) throw new ForbiddenError('Only an administrator may set the password of another user');
      if (own) await store.sessions.checkCurrentPassword(me.id, request.body.currentPassword);
      else await store.users.get(request.params.id);
      await store.sessions.setPassword(request.params.id, request.body.password, { keepSessionId: own ? request.consoleSession?.id : undefined });
      return reply.code(204).send(null);
    });
  };
}
