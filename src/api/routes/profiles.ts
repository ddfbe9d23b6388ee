/** /email-server-profiles: administrators only. Secrets are write-only; answers say whether each is set. */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { FastifyBaseLogger, FastifyReply } from 'fastify';
import { PassThrough } from 'node:stream';
import { type DiagnosticsContext, testProfileConnection } from '../../diagnostics/runs.js';
import type { ConnectionTestResult as TestResult, StepResult } from '../../diagnostics/types.js';
import { ConflictError, NotFoundError } from '../../domain/errors.js';
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

/** Whether the Accept header asks for server-sent events (`text/event-stream`, not refused with q=0). */
export function wantsEventStream(accept: string | undefined): boolean {
  if (!accept) return false;
  return accept.split(',').some((part) => {
    const [type, ...params] = part.split(';').map((piece) => piece.trim().toLowerCase());
    if (type !== 'text/event-stream') return false;
    const q = params.find((param) => param.startsWith('q='));
    return q === undefined || Number(q.slice(2)) > 0;
  });
}

function eventText(event: 'step' | 'result' | 'error', data: unknown): string {
  // JSON.stringify writes no line breaks, so the data is one `data:` line.
  return `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}

/**
 * Answers a test as server-sent events: each step as it completes, then the result. The answer starts with the first
 * step, so a test refused before any step ran (unknown profile, untestable server type, missing login) is still an
 * ordinary JSON error with its status.
 */
async function streamTestConnection(
  reply: FastifyReply,
  log: FastifyBaseLogger,
  run: (onStep: (step: StepResult) => void) => Promise<TestResult>,
): Promise<FastifyReply> {
  const stream = new PassThrough();
  let begin!: () => void;
  const begun = new Promise<void>((resolve) => (begin = resolve));
  const running = run((step) => {
    stream.write(eventText('step', step));
    begin();
  });
  // Rejects (and so answers the error as JSON) only when the test fails before its first step.
  await Promise.race([begun, running]);
  running.then(
    (result) => stream.end(eventText('result', result)),
    (error: unknown) => {
      const known = error instanceof NotFoundError ? 404 : error instanceof ConflictError ? 409 : null;
      if (known === null) log.error({ err: error }, 'Test Connection failed while streaming');
      const message = known === null ? 'Test Connection failed in Liaison; the server log has the details' : (error as Error).message;
      const statusCode = known ?? 500;
      stream.end(eventText('error', { statusCode, error: statusCode === 500 ? 'Internal Server Error' : statusCode === 404 ? 'Not Found' : 'Conflict', message }));
    },
  );
  return reply
    .code(200)
    .header('content-type', 'text/event-stream; charset=utf-8')
    .header('cache-control', 'no-cache, no-transform')
    // Proxies that buffer answers (nginx) pass this one on as it comes.
    .header('x-accel-buffering', 'no')
    .send(stream);
}

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
          'IMAP/SMTP and POP3/SMTP profiles run the three steps for the incoming server, then for the SMTP server. ' +
          'Exchange Online profiles run three Graph steps: a token from the identity platform (AADSTS code and fix on failure), ' +
          'Graph and the permissions in the token\'s roles, then the mailbox\'s Inbox. The body may be left out.\n\n' +
          'Steps as they complete: with `Accept: text/event-stream` the answer is a stream of server-sent events instead of one JSON ' +
          'document: an `event: step` for each step as it completes (its data: the StepResult as JSON), then one `event: result` ' +
          '(the ConnectionTestResult, the same as the JSON answer), then the stream ends. Should Liaison fail after the first step ' +
          'was sent, the last event is an `event: error` whose data is an Error body. Refusals before any step ran (404, 409, 503, ' +
          'a 400 for the body) are plain JSON answers with their status, as without the header. Either way the result is kept as ' +
          'the profile\'s `lastTestResult`, even when the client went away before the end.',
        params: IdParams,
        body: TestConnectionRequest,
        response: { 200: ConnectionTestResult, ...errorResponses, 503: ErrorBody },
      },
      // The body is optional: none at all reads as {}, so the owner's address is tested.
      preValidation: async (request) => {
        if (request.body === undefined || request.body === null) request.body = {};
      },
    }, async (request, reply) => {
      const context = diagnosticsOf(diagnostics, 'Test Connection');
      if (!wantsEventStream(request.headers.accept)) {
        return testProfileConnection(store, context, request.params.id, request.body?.mailbox);
      }
      return streamTestConnection(reply, request.log, (onStep) =>
        testProfileConnection(store, context, request.params.id, request.body?.mailbox, (event) => {
          if (event.type === 'end') onStep(event.result);
        }),
      );
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
