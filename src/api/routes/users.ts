/** /users and /queues: the records that own mailboxes. */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { Store } from '../../store/store.js';
import { currentUser, requireAdmin } from '../auth.js';
import { ForbiddenError } from '../../domain/errors.js';
import {
  errorResponses,
  Id,
  IdParams,
  PageOf,
  PageQuery,
  Queue,
  QueueCreate,
  QueueUpdate,
  Token,
  TokenCreate,
  TokenInfo,
  User,
  UserCreate,
  UserUpdate,
} from '../schemas.js';

/** Users manage their own tokens; administrators anyone's. */
function mayManageTokens(me: { id: string; isAdmin: boolean }, userId: string, verb: string): void {
  if (!me.isAdmin && me.id !== userId) throw new ForbiddenError(`Only an administrator may ${verb} tokens of other users`);
}

export function userRoutes(store: Store): FastifyPluginAsyncTypebox {
  return async (app) => {
    app.get('/users', {
      schema: {
        tags: ['users'],
        summary: 'List users (administrators)',
        querystring: Type.Object({ ...PageQuery, isAdmin: Type.Optional(Type.Boolean()) }, { additionalProperties: false }),
        response: { 200: PageOf(User), ...errorResponses },
      },
    }, async (request) => {
      requireAdmin(request, 'list users');
      return store.users.list(request.query);
    });

    app.post('/users', {
      schema: {
        tags: ['users'],
        summary: 'Create a user (and their mailbox)',
        body: UserCreate,
        response: { 201: User, ...errorResponses },
      },
    }, async (request, reply) => {
      requireAdmin(request, 'create users');
      return reply.code(201).send(await store.users.create(request.body));
    });

    app.get('/users/me', {
      schema: { tags: ['users'], summary: 'The caller', response: { 200: User, ...errorResponses } },
    }, async (request) => currentUser(request));

    app.get('/users/:id', {
      schema: { tags: ['users'], summary: 'Read a user', params: IdParams, response: { 200: User, ...errorResponses } },
    }, async (request) => {
      const me = currentUser(request);
      if (!me.isAdmin && me.id !== request.params.id) throw new ForbiddenError('Only an administrator may read other users');
      return store.users.get(request.params.id);
    });

    app.patch('/users/:id', {
      schema: {
        tags: ['users'],
        summary: 'Change a user',
        description: 'Administrators change anything; a user may change their own incomingFilter (which of their incoming email is tracked) and nothing else.',
        params: IdParams,
        body: UserUpdate,
        response: { 200: User, ...errorResponses },
      },
    }, async (request) => {
      const me = currentUser(request);
      const ownFilterOnly = me.id === request.params.id && Object.keys(request.body).every((key) => key === 'incomingFilter');
      if (!ownFilterOnly) requireAdmin(request, 'change users');
      return store.users.update(request.params.id, request.body);
    });

    app.delete('/users/:id', {
      schema: {
        tags: ['users'],
        summary: 'Delete a user, their mailbox and their API tokens',
        description:
          'Their email activities stay, no longer in a mailbox. Refused (409) for the last administrator, and while the user owns ' +
          'queues or email server profiles, unless transferTo names the user who takes those over (and the email activities).',
        params: IdParams,
        querystring: Type.Object({ transferTo: Type.Optional(Id) }, { additionalProperties: false }),
        response: { 204: Type.Null(), ...errorResponses },
      },
    }, async (request, reply) => {
      requireAdmin(request, 'delete users');
      await store.users.delete(request.params.id, { transferTo: request.query.transferTo });
      return reply.code(204).send(null);
    });

    app.get('/users/:id/tokens', {
      schema: {
        tags: ['users'],
        summary: "List a user's API tokens (never the tokens themselves)",
        params: IdParams,
        querystring: Type.Object(PageQuery, { additionalProperties: false }),
        response: { 200: PageOf(TokenInfo), ...errorResponses },
      },
    }, async (request) => {
      mayManageTokens(currentUser(request), request.params.id, 'list');
      return store.tokens.list(request.params.id, request.query);
    });

    app.delete('/users/:id/tokens/:tokenId', {
      schema: {
        tags: ['users'],
        summary: 'Revoke an API token: it stops working at once',
        params: Type.Object({ id: Id, tokenId: Id }),
        response: { 204: Type.Null(), ...errorResponses },
      },
    }, async (request, reply) => {
      mayManageTokens(currentUser(request), request.params.id, 'revoke');
      await store.tokens.revoke(request.params.id, request.params.tokenId);
      return reply.code(204).send(null);
    });

    app.post('/users/:id/tokens', {
      schema: {
        tags: ['users'],
        summary: 'Issue an API token (shown once)',
        params: IdParams,
        body: Type.Optional(TokenCreate),
        response: { 201: Token, ...errorResponses },
      },
    }, async (request, reply) => {
      mayManageTokens(currentUser(request), request.params.id, 'issue');
      await store.users.get(request.params.id);
      return reply.code(201).send(await store.tokens.issue(request.params.id, request.body?.label ?? null));
    });

    app.get('/queues', {
      schema: {
        tags: ['queues'],
        summary: 'List queues',
        querystring: Type.Object({ ...PageQuery, ownerId: Type.Optional(Type.String({ format: 'uuid' })) }, { additionalProperties: false }),
        response: { 200: PageOf(Queue), ...errorResponses },
      },
    }, async (request) => store.queues.list(request.query));

    app.post('/queues', {
      schema: { tags: ['queues'], summary: 'Create a queue (and its mailbox)', body: QueueCreate, response: { 201: Queue, ...errorResponses } },
    }, async (request, reply) => {
      const me = requireAdmin(request, 'create queues');
      return reply.code(201).send(await store.queues.create({ ...request.body, ownerId: request.body.ownerId ?? me.id }));
    });

    app.get('/queues/:id', {
      schema: { tags: ['queues'], summary: 'Read a queue', params: IdParams, response: { 200: Queue, ...errorResponses } },
    }, async (request) => store.queues.get(request.params.id));

    app.patch('/queues/:id', {
      schema: { tags: ['queues'], summary: 'Change a queue', params: IdParams, body: QueueUpdate, response: { 200: Queue, ...errorResponses } },
    }, async (request) => {
      requireAdmin(request, 'change queues');
      return store.queues.update(request.params.id, request.body);
    });

    app.delete('/queues/:id', {
      schema: { tags: ['queues'], summary: 'Delete a queue and its mailbox', params: IdParams, response: { 204: Type.Null(), ...errorResponses } },
    }, async (request, reply) => {
      requireAdmin(request, 'delete queues');
      await store.queues.delete(request.params.id);
      return reply.code(204).send(null);
    });
  };
}
