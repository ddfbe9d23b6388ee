/** /organization: the settings the sync engine applies to every mailbox. Everyone reads them; administrators change them. */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { Store } from '../../store/store.js';
import { requireAdmin } from '../auth.js';
import { errorResponses, Organization, OrganizationUpdate } from '../schemas.js';

export function organizationRoutes(store: Store): FastifyPluginAsyncTypebox {
  return async (app) => {
    const tags = ['organization'];

    app.get('/organization', {
      schema: { tags, summary: "The organization's email settings", response: { 200: Organization, ...errorResponses } },
    }, async () => store.organization.get());

    app.patch('/organization', {
      schema: {
        tags,
        summary: "Change the organization's email settings (administrators)",
        description:
          'Only the settings given change. Tracking tokens number on from where they are whatever the prefix or digits; ' +
          'systemNotificationMailboxId must name an existing mailbox (null: no system notifications are sent); ' +
          'defaultProfileId an existing email server profile (null: no default).',
        body: OrganizationUpdate,
        response: { 200: Organization, ...errorResponses },
      },
    }, async (request) => {
      requireAdmin(request, 'change the organization settings');
      return store.organization.update(request.body);
    });
  };
}
