/** /email-server-profiles: administrators only. Secrets are write-only; answers say whether each is set. */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { SERVER_TYPES } from '../../domain/profile.js';
import type { Store } from '../../store/store.js';
import { requireAdmin } from '../auth.js';
import { errorResponses, IdParams, PageOf, PageQuery, Profile, ProfileCreate, ProfileUpdate, StringEnum } from '../schemas.js';

export function profileRoutes(store: Store): FastifyPluginAsyncTypebox {
  return async (app) => {
    const tags = ['email server profiles'];
    app.addHook('onRequest', async (request) => {
      requireAdmin(request, 'manage email server profiles');
    });

    app.get('/email-server-profiles', {
      schema: {
        tags,
        summary: 'List email server profiles',
        querystring: Type.Object(
          { ...PageQuery, serverType: Type.Optional(StringEnum(SERVER_TYPES)), ownerId: Type.Optional(Type.String({ format: 'uuid' })) },
          { additionalProperties: false },
        ),
        response: { 200: PageOf(Profile), ...errorResponses },
      },
    }, async (request) => store.profiles.list(request.query));

    app.post('/email-server-profiles', {
      schema: {
        tags,
        summary: 'Create an email server profile',
        description: 'Empty ports are filled in from the server type or the location; the advanced options get their defaults.',
        body: ProfileCreate,
        response: { 201: Profile, ...errorResponses },
      },
    }, async (request, reply) => {
      const me = request.user!;
      const profile = await store.profiles.create({ ...request.body, ownerId: request.body.ownerId ?? me.id });
      return reply.code(201).send(profile);
    });

    app.get('/email-server-profiles/:id', {
      schema: { tags, summary: 'Read an email server profile', params: IdParams, response: { 200: Profile, ...errorResponses } },
    }, async (request) => store.profiles.get(request.params.id));

    app.patch('/email-server-profiles/:id', {
      schema: {
        tags,
        summary: 'Change an email server profile',
        description: 'Fields left out keep their values; a secret set to null is removed.',
        params: IdParams,
        body: ProfileUpdate,
        response: { 200: Profile, ...errorResponses },
      },
    }, async (request) => store.profiles.update(request.params.id, request.body));

    app.delete('/email-server-profiles/:id', {
      schema: {
        tags,
        summary: 'Delete an email server profile (refused while mailboxes use it)',
        params: IdParams,
        response: { 204: Type.Null(), ...errorResponses },
      },
    }, async (request, reply) => {
      await store.profiles.delete(request.params.id);
      return reply.code(204).send(null);
    });
  };
}
