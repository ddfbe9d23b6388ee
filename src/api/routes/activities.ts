/** /email-activities: read tracked email, compose outgoing email as a draft and send it. */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { ForbiddenError, NotFoundError, ValidationError } from '../../domain/errors.js';
import type { NewAttachment } from '../../store/activities.js';
import type { Store } from '../../store/store.js';
import { currentUser } from '../auth.js';
import { Activity, ActivityCreate, ActivityQuery, ActivityUpdate, errorResponses, Id, IdParams, PageOf } from '../schemas.js';

/** Bodies may carry base64 attachments; 50 attachments of 5 MB each, base64-inflated, fit. */
const DRAFT_BODY_LIMIT = 400 * 1024 * 1024;

function decodeAttachments(list: Array<{ fileName: string; contentType?: string; contentBase64: string }> | undefined): NewAttachment[] | undefined {
  if (list === undefined) return undefined;
  return list.map((a, index) => {
    const text = a.contentBase64.replace(/\s+/g, '');
    if (text.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(text)) {
      throw new ValidationError([{ field: `attachments[${index}].contentBase64`, message: 'is not valid base64' }]);
    }
    return { fileName: a.fileName, contentType: a.contentType ?? 'application/octet-stream', content: Buffer.from(text, 'base64') };
  });
}

export function activityRoutes(store: Store): FastifyPluginAsyncTypebox {
  return async (app) => {
    const tags = ['email activities'];

    async function assertVisible(request: Parameters<typeof currentUser>[0], id: string): Promise<void> {
      const me = currentUser(request);
      if (me.isAdmin) return;
      if (!(await store.activities.isVisibleTo(id, me.id))) {
        await store.activities.get(id); // 404 when it does not exist at all
        throw new ForbiddenError('This email belongs to another user');
      }
    }

    app.get('/email-activities', {
      schema: { tags, summary: 'List email activities, newest first', querystring: ActivityQuery, response: { 200: PageOf(Activity), ...errorResponses } },
    }, async (request) => {
      const me = currentUser(request);
      return store.activities.list({ ...request.query, ...(me.isAdmin ? {} : { visibleTo: me.id }) });
    });

    app.get('/email-activities/:id', {
      schema: { tags, summary: 'Read an email activity with its parties and attachments', params: IdParams, response: { 200: Activity, ...errorResponses } },
    }, async (request) => {
      await assertVisible(request, request.params.id);
      return store.activities.get(request.params.id);
    });

    app.post('/email-activities', {
      bodyLimit: DRAFT_BODY_LIMIT,
      schema: {
        tags,
        summary: 'Compose an outgoing email (saved as a draft)',
        body: ActivityCreate,
        response: { 201: Activity, ...errorResponses },
      },
    }, async (request, reply) => {
      const me = currentUser(request);
      const { mailboxId: requested, attachments, ...draft } = request.body;
      const mailboxId = requested ?? me.mailboxId;
      if (!mailboxId) throw new ValidationError([{ field: 'mailboxId', message: 'is required: the caller has no mailbox of their own' }]);
      const mailbox = await store.mailboxes.get(mailboxId).catch((error: unknown) => {
        if (error instanceof NotFoundError) throw new ValidationError([{ field: 'mailboxId', message: `no mailbox has id ${mailboxId}` }]);
        throw error;
      });
      if (!me.isAdmin && mailbox.ownerId !== me.id) throw new ForbiddenError('You may send only from your own mailbox or a queue you own');
      const activity = await store.activities.createDraft(mailbox.id, me.id, { ...draft, attachments: decodeAttachments(attachments) });
      return reply.code(201).send(activity);
    });

    app.patch('/email-activities/:id', {
      bodyLimit: DRAFT_BODY_LIMIT,
      schema: {
        tags,
        summary: 'Change a draft (recipient lists given replace the old ones; attachments given are added)',
        params: IdParams,
        body: ActivityUpdate,
        response: { 200: Activity, ...errorResponses },
      },
    }, async (request) => {
      await assertVisible(request, request.params.id);
      const { attachments, ...draft } = request.body;
      return store.activities.updateDraft(request.params.id, { ...draft, attachments: decodeAttachments(attachments) });
    });

    app.delete('/email-activities/:id', {
      schema: { tags, summary: 'Delete a draft', params: IdParams, response: { 204: Type.Null(), ...errorResponses } },
    }, async (request, reply) => {
      await assertVisible(request, request.params.id);
      await store.activities.deleteDraft(request.params.id);
      return reply.code(204).send(null);
    });

    app.post('/email-activities/:id/send', {
      schema: {
        tags,
        summary: 'Send a draft: it becomes pending send, for its mailbox’s outgoing synchronization to deliver',
        params: IdParams,
        response: { 200: Activity, ...errorResponses },
      },
    }, async (request) => {
      await assertVisible(request, request.params.id);
      return store.activities.send(request.params.id);
    });

    app.get('/email-activities/:id/attachments/:attachmentId/content', {
      schema: {
        tags,
        summary: 'Download an attachment',
        params: Type.Object({ id: Id, attachmentId: Id }),
        response: { 200: Type.Unsafe<Buffer>({ type: 'string', format: 'binary' }), ...errorResponses },
      },
    }, async (request, reply) => {
      await assertVisible(request, request.params.id);
      const file = await store.activities.attachment(request.params.id, request.params.attachmentId);
      const ascii = file.fileName.replace(/[^\x20-\x7e]|["\\]/g, '_');
      return reply
        .header('Content-Type', file.contentType)
        .header('Content-Disposition', `attachment; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(file.fileName)}`)
        .header('X-Content-Type-Options', 'nosniff')
        .send(file.content);
    });
  };
}
