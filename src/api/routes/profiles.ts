/** /email-server-profiles: administrators only. Secrets are write-only; answers say whether each is set. */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { type DiagnosticsContext, testProfileConnection } from '../../diagnostics/runs.js';
import { SERVER_TYPES } from '../../domain/profile.js';
import type { Store } from '../../store/store.js';
import { requireAdmin } from '../auth.js';
import { diagnosticsOf, HttpError } from '../errors.js';
import {
  ConnectionTestResult,
  ErrorBody,
  errorResponses,
  IdParams,
  PageOf,
  PageQuery,
  Profile,
  ProfileCreate,
  ProfileUpdate,
  StringEnum,
  TestConnectionRequest,
} from '../schemas.js';

export function profileRoutes(store: Store, diagnostics: DiagnosticsContext | null): FastifyPluginAsyncTypebox {
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

    app.post('/email-server-profiles/:id/test-connection', {
      schema: {
        tags,
        summary: 'Test Connection: Autodiscover / HTTPS, EWS, and opening a mailbox, step by step',
        description:
          "Runs the three steps for the mailbox in the body, or the profile owner's address, and keeps the result as the profile's " +
          '`lastTestResult`. A failed step is still a 200: the result says which step failed, what the server answered and the fix. ' +
          'Exchange (EWS) profiles only so far: other server types are answered 409. The body may be left out.',
        params: IdParams,
        body: TestConnectionRequest,
        response: { 200: ConnectionTestResult, ...errorResponses, 503: ErrorBody },
      },
      // The body is optional: none at all reads as {}, so the owner's address is tested.
      preValidation: async (request) => {
        if (request.body === undefined || request.body === null) request.body = {};
      },
    }, async (request) => {
      const context = diagnosticsOf(diagnostics, 'Test Connection');
      return testProfileConnection(store, context, request.params.id, request.body?.mailbox);
    });

    app.get('/email-server-profiles/:id/test-connection', {
      schema: {
        tags,
        summary: 'The last Test Connection result of a profile',
        description: 'When it started, how long it took, and each step; 404 when Test Connection never ran for the profile.',
        params: IdParams,
        response: { 200: ConnectionTestResult, ...errorResponses },
      },
    }, async (request) => {
      const profile = await store.profiles.get(request.params.id);
      if (!profile.lastTestResult) {
        throw new HttpError(
          404,
          `Test Connection has not run for profile "${profile.name}" yet; POST /api/v1/email-server-profiles/${profile.id}/test-connection runs it`,
        );
      }
      return profile.lastTestResult;
    });

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
