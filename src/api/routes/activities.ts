/** /email-activities: read tracked email, compose outgoing email as a draft and send it. */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { DRAFT_REQUEST_MAX_BYTES } from '../../domain/activity.js';
import { ValidationError } from '../../domain/errors.js';
import type { Actor, NewAttachment } from '../../store/activities.js';
import type { Store } from '../../store/store.js';
import { currentUser } from '../auth.js';
import { Activity, ActivityCreate, ActivityQuery, ActivitySummary, ActivityUpdate, errorResponses, Id, IdParams, PageOf } from '../schemas.js';

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

    /** The caller as they are now: their role and the mailboxes they own are read again on every request. */
    function actor(request: Parameters<typeof currentUser>[0]): Actor {
      const me = currentUser(request);
      return { userId: me.id, isAdmin: me.isAdmin };
    }

    app.get('/email-activities', {
      schema: {
        tags,
        summary: 'List email activities, newest first (without their bodies: read one by id for those)',
        querystring: ActivityQuery,
        response: { 200: PageOf(ActivitySummary), ...errorResponses },
      },
    }, async (request) => {
      const me = currentUser(request);
      return store.activities.list({ ...request.query, ...(me.isAdmin ? {} : { visibleTo: me.id }) });
    });

    app.get('/email-activities/:id', {
      schema: { tags, summary: 'Read an email activity with its bodies, parties and attachments', params: IdParams, response: { 200: Activity, ...errorResponses } },
    }, async (request) => store.activities.get(request.params.id, actor(request)));

    app.post('/email-activities', {
      bodyLimit: DRAFT_REQUEST_MAX_BYTES,
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
      const activity = await store.activities.createDraft(mailboxId, me.id, { ...draft, attachments: decodeAttachments(attachments) }, actor(request));
      return reply.code(201).send(activity);
    });

    app.patch('/email-activities/:id', {
      bodyLimit: DRAFT_REQUEST_MAX_BYTES,
      schema: {
        tags,
        summary: 'Change a draft (recipient lists given replace the old ones; attachments given are added)',
        params: IdParams,
        body: ActivityUpdate,
        response: { 200: Activity, ...errorResponses },
      },
    }, async (request) => {
      const { attachments, ...draft } = request.body;
      return store.activities.updateDraft(request.params.id, { ...draft, attachments: decodeAttachments(attachments) }, actor(request));
    });

    app.delete('/email-activities/:id', {
      schema: { tags, summary: 'Delete a draft', params: IdParams, response: { 204: Type.Null(), ...errorResponses } },
    }, async (request, reply) => {
      await store.activities.deleteDraft(request.params.id, actor(request));
      return reply.code(204).send(null);
    });

    app.post('/email-activities/:id/send', {
      schema: {
        tags,
        summary: 'Send a draft: it becomes pending send, for its mailbox’s outgoing synchronization to deliver',
        params: IdParams,
        response: { 200: Activity, ...errorResponses },
      },
    }, async (request) => store.activities.send(request.params.id, actor(request)));

    app.post('/email-activities/:id/delivery', {
      schema: {
        tags,
        summary: 'Say whether an email whose delivery is uncertain arrived',
        description:
          'An email whose send outcome nobody could know (the SMTP answer was lost after the message went, and the server keeps no Sent copy that would tell) is delivery-uncertain: Liaison never sends it again by itself. delivered true marks it sent; false puts it back in pending send, and it is sent again.',
        params: IdParams,
        body: Type.Object({ delivered: Type.Boolean() }, { additionalProperties: false }),
        response: { 200: Activity, ...errorResponses },
      },
    }, async (request) => store.activities.resolveDelivery(request.params.id, request.body.delivered, actor(request)));

    app.get('/email-activities/:id/attachments/:attachmentId/content', {
      schema: {
        tags,
        summary: 'Download an attachment',
        params: Type.Object({ id: Id, attachmentId: Id }),
        response: { 200: Type.Unsafe<Buffer>({ type: 'string', format: 'binary' }), ...errorResponses },
      },
    }, async (request, reply) => {
      const file = await store.activities.attachment(request.params.id, request.params.attachmentId, actor(request));
      const ascii = file.fileName.replace(/[^\x20-\x7e]|["\\]/g, '_');
      return reply
        .header('Content-Type', file.contentType)
        .header('Content-Disposition', `attachment; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(file.fileName)}`)
        .header('X-Content-Type-Options', 'nosniff')
        .send(file.content);
    });
  };
}
