/**
 * /mailboxes: administrators see and change all; other users read their own (and their queues').
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { ForbiddenError } from '../../domain/errors.js';
import type { Mailbox as MailboxRecord } from '../../store/mailboxes.js';
import type { Store } from '../../store/store.js';
import { currentUser, requireAdmin } from '../auth.js';
import {
  errorResponses,
  IdParams,
  Mailbox,
  MailboxApproval,
  MailboxAssociate,
  MailboxDetail,
  MailboxQuery,
  MailboxUpdate,
  PageOf,
} from '../schemas.js';

const RECENT_ALERTS = 10;

export function mailboxRoutes(store: Store): FastifyPluginAsyncTypebox {
  return async (app) => {
    const tags = ['mailboxes'];

    /** A mailbox the caller may read: an administrator's any, a user's own or their queues'. */
    async function readable(request: Parameters<typeof currentUser>[0], id: string): Promise<MailboxRecord> {
      const me = currentUser(request);
      const mailbox = await store.mailboxes.get(id);
      if (!me.isAdmin && mailbox.ownerId !== me.id) throw new ForbiddenError("Only an administrator may read other users' mailboxes");
      return mailbox;
    }

    app.get('/mailboxes', {
      schema: { tags, summary: 'List mailboxes', querystring: MailboxQuery, response: { 200: PageOf(Mailbox), ...errorResponses } },
    }, async (request) => {
      const me = currentUser(request);
      const query = request.query;
      if (!me.isAdmin) {
        if (query.ownerId && query.ownerId !== me.id) throw new ForbiddenError("Only an administrator may list other users' mailboxes");
        return store.mailboxes.list({ ...query, ownerId: me.id });
      }
      return store.mailboxes.list(query);
    });

    app.get('/mailboxes/:id', {
      schema: { tags, summary: 'Read a mailbox with its recent alerts', params: IdParams, response: { 200: MailboxDetail, ...errorResponses } },
    }, async (request) => {
      const mailbox = await readable(request, request.params.id);
      const alerts = await store.alerts.list({ mailboxId: mailbox.id, limit: RECENT_ALERTS });
      return { ...mailbox, recentAlerts: alerts.items };
    });

    app.patch('/mailboxes/:id', {
      schema: {
        tags,
        summary: 'Change a mailbox: profile, approval, sync methods, enabled',
        description:
          'Changing the profile disables the mailbox and resets its statuses to not-run. Enabling needs an approved address and a profile.',
        params: IdParams,
        body: MailboxUpdate,
        response: { 200: Mailbox, ...errorResponses },
      },
    }, async (request) => {
      requireAdmin(request, 'change mailboxes');
      return store.mailboxes.update(request.params.id, request.body);
    });

    app.post('/mailboxes/associate', {
      schema: {
        tags,
        summary: 'Associate many mailboxes with a profile (or with none) in one call',
        description: 'All or nothing: an unknown mailbox or profile leaves every mailbox unchanged.',
        body: MailboxAssociate,
        response: { 200: Type.Object({ items: Type.Array(Mailbox) }), ...errorResponses },
      },
    }, async (request) => {
      requireAdmin(request, 'associate mailboxes with profiles');
      return { items: await store.mailboxes.updateMany(request.body.mailboxIds, { profileId: request.body.profileId }) };
    });

    app.post('/mailboxes/approval', {
      schema: {
        tags,
        summary: 'Approve or reject the email addresses of many mailboxes',
        body: MailboxApproval,
        response: { 200: Type.Object({ items: Type.Array(Mailbox) }), ...errorResponses },
      },
    }, async (request) => {
      requireAdmin(request, 'approve or reject email addresses');
      return { items: await store.mailboxes.updateMany(request.body.mailboxIds, { approvalStatus: request.body.approvalStatus }) };
    });
  };
}
