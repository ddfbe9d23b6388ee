/** /alerts: administrators read all; other users the alerts of their own mailboxes. */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { ForbiddenError } from '../../domain/errors.js';
import type { Store } from '../../store/store.js';
import { currentUser } from '../auth.js';
import { Alert, AlertQuery, errorResponses, IdParams, PageOf } from '../schemas.js';

export function alertRoutes(store: Store): FastifyPluginAsyncTypebox {
  return async (app) => {
    const tags = ['alerts'];
    app.get('/alerts', {
      schema: { tags, summary: 'List alerts, newest first', querystring: AlertQuery, response: { 200: PageOf(Alert), ...errorResponses } },
    }, async (request) => {
      const me = currentUser(request);
      return store.alerts.list({ ...request.query, ...(me.isAdmin ? {} : { visibleTo: me.id }) });
    });

    app.get('/alerts/:id', {
      schema: { tags, summary: 'Read an alert', params: IdParams, response: { 200: Alert, ...errorResponses } },
    }, async (request) => {
      const me = currentUser(request);
      const alert = await store.alerts.get(request.params.id);
      if (!me.isAdmin) {
        const mailbox = alert.mailboxId ? await store.mailboxes.get(alert.mailboxId) : null;
        if (!mailbox || mailbox.ownerId !== me.id) throw new ForbiddenError('Only an administrator may read this alert');
      }
      return alert;
    });
  };
}
