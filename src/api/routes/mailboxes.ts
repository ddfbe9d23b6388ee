/**
 * /mailboxes: administrators see and change all; other users read their own (and their queues').
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { type DiagnosticsContext, type TestAndEnableOutcome, testAndEnableMailboxes } from '../../diagnostics/runs.js';
import { ForbiddenError, NotFoundError, ValidationError } from '../../domain/errors.js';
import type { Mailbox as MailboxRecord } from '../../store/mailboxes.js';
import type { Store } from '../../store/store.js';
import { currentUser, requireAdmin } from '../auth.js';
import { diagnosticsOf } from '../errors.js';
import { requestAudit } from '../../sync/audit-request.js';
import {
  AuditAnswer,
  AuditList,
  AuditListQuery,
  AuditRequestQuery,
  ErrorBody,
  errorResponses,
  IdParams,
  Mailbox,
  MailboxApproval,
  MailboxAssociate,
  MailboxDetail,
  MailboxLoginBody,
  MailboxQuery,
  MailboxUpdate,
  PageOf,
  TestAndEnableOutcome as TestAndEnableOutcomeSchema,
  TestAndEnableRequest,
  TestAndEnableResults,
} from '../schemas.js';

const RECENT_ALERTS = 10;

export function mailboxRoutes(store: Store, diagnostics: DiagnosticsContext | null): FastifyPluginAsyncTypebox {
  return async (app) => {
    const tags = ['mailboxes'];

    /** Faults inside a test are reported in the outcome; the log keeps them for whoever fixes Liaison. */
    function logFaults(request: { log: { error: (o: object, m: string) => void } }, outcomes: TestAndEnableOutcome[]) {
      for (const o of outcomes) if (o.outcome === 'failed' && o.error) request.log.error({ mailboxId: o.mailboxId, error: o.error }, 'Test & Enable could not finish');
    }

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
      schema: { tags, summary: 'Read a mailbox with its recent alerts and its profile in brief', params: IdParams, response: { 200: MailboxDetail, ...errorResponses } },
    }, async (request) => {
      const mailbox = await readable(request, request.params.id);
      const alerts = await store.alerts.list({ mailboxId: mailbox.id, limit: RECENT_ALERTS });
      // A profile deleted since the mailbox was read leaves it without one.
      const profile = mailbox.profileId
        ? await store.profiles.get(mailbox.profileId).catch((error: unknown) => {
          if (error instanceof NotFoundError) return null;
          throw error;
        })
        : null;
      const lastAudit = (await store.audits.recent(mailbox.id, 1))[0] ?? null;
      return {
        ...mailbox,
        lastAudit,
        recentAlerts: alerts.items,
        profile: profile && { id: profile.id, name: profile.name, serverType: profile.serverType, credentialSource: profile.credentialSource },
      };
    });

    /** The mailbox's own login may be set by its owner or an administrator, and only where the profile uses it. */
    async function loginChangeable(request: Parameters<typeof currentUser>[0], id: string): Promise<MailboxRecord> {
      const me = currentUser(request);
      const mailbox = await readable(request, id);
      if (!me.isAdmin && mailbox.ownerId !== me.id) throw new ForbiddenError("Only the mailbox's owner or an administrator may set its login");
      return mailbox;
    }

    app.put('/mailboxes/:id/login', {
      schema: {
        tags,
        summary: "Set the mailbox's own login (IMAP/POP3 profiles that take each mailbox's login)",
        description:
          "For a mailbox whose profile is IMAP/SMTP or POP3/SMTP with credentialSource mailbox: the user name and password Liaison logs in with for this mailbox (and sends with, unless the profile has an SMTP login of its own). The password is stored encrypted and never shown. The owner of the mailbox or an administrator may set it.",
        params: IdParams,
        body: MailboxLoginBody,
        response: { 200: Mailbox, ...errorResponses },
      },
    }, async (request) => {
      const mailbox = await loginChangeable(request, request.params.id);
      const profile = mailbox.profileId ? await store.profiles.get(mailbox.profileId) : null;
      if (!profile || profile.credentialSource !== 'mailbox') {
        const why = !profile
          ? 'the mailbox has no email server profile'
          : profile.credentialSource === 'profile'
            ? `its profile "${profile.name}" logs in for every mailbox with its master user`
            : `its profile "${profile.name}" is an ${profile.serverType} profile, which signs in with the profile's own account`;
        throw new ValidationError([{ field: 'username', message: `a mailbox login is used only by IMAP/POP3 profiles whose credentialSource is mailbox, and ${why}; set the login on the profile, or switch the profile's credentialSource to mailbox` }]);
      }
      return store.mailboxes.setLogin(mailbox.id, { username: request.body.username.trim(), password: request.body.password });
    });

    app.delete('/mailboxes/:id/login', {
      schema: { tags, summary: "Remove the mailbox's own login", params: IdParams, response: { 200: Mailbox, ...errorResponses } },
    }, async (request) => {
      const mailbox = await loginChangeable(request, request.params.id);
      return store.mailboxes.setLogin(mailbox.id, null);
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

    const testAndEnableDescription =
      'Checks what enabling needs (an approved address, a profile, something to synchronize), then tests the mailbox on its server: ' +
      'the connection (Autodiscover or the profile URL), impersonation, opening the Inbox, and the Undeliverable folder when the profile ' +
      'moves failed emails there. Passing enables the mailbox, sets the status of each server-side-sync direction to success and caches the ' +
      'EWS URL; failing sets those statuses to failure, leaves the mailbox disabled and raises an error alert on it with the step, the ' +
      "server's answer and the fix. Each outcome is enabled, failed (with the steps) or refused (not tested, with why); all are answered 200.";

    app.post('/mailboxes/:id/audit', {
      schema: {
        tags,
        summary: 'Run the missing-mail audit of a mailbox now (administrators)',
        description:
          "Asks for an audit and waits (up to `wait` seconds, default 60) for the worker that holds the mailbox's lease to run it, " +
          'right after its next incoming pass: with several workers exactly one audits the mailbox. 200 with the audit (completed, or failed ' +
          'with its error); 202 when no worker ran it in time: it stays queued and runs at the mailbox\'s next cycle. The audit compares ' +
          'what the server holds since Process Email From with the outcomes Liaison recorded; missing messages are listed oldest first, ' +
          'queued for processing, and raise an alert.',
        params: IdParams,
        querystring: AuditRequestQuery,
        response: { 200: AuditAnswer, 202: AuditAnswer, ...errorResponses },
      },
    }, async (request, reply) => {
      requireAdmin(request, 'audit mailboxes');
      const result = await requestAudit(store, request.params.id, { waitMs: (request.query.wait ?? 60) * 1000 });
      if (result.status === 'queued') reply.code(202);
      return result;
    });

    app.get('/mailboxes/:id/audits', {
      schema: {
        tags,
        summary: "The mailbox's latest missing-mail audits, newest first",
        params: IdParams,
        querystring: AuditListQuery,
        response: { 200: AuditList, ...errorResponses },
      },
    }, async (request) => {
      const mailbox = await readable(request, request.params.id);
      return { items: await store.audits.recent(mailbox.id, request.query.limit ?? 10) };
    });

    app.post('/mailboxes/:id/test-and-enable', {
      schema: {
        tags,
        summary: 'Test & Enable one mailbox',
        description: testAndEnableDescription,
        params: IdParams,
        response: { 200: TestAndEnableOutcomeSchema, ...errorResponses, 503: ErrorBody },
      },
    }, async (request) => {
      requireAdmin(request, 'test and enable mailboxes');
      const context = diagnosticsOf(diagnostics, 'Test & Enable');
      await store.mailboxes.get(request.params.id);
      const outcomes = await testAndEnableMailboxes(store, context, [request.params.id]);
      logFaults(request, outcomes);
      return outcomes[0]!;
    });

    app.post('/mailboxes/test-and-enable', {
      schema: {
        tags,
        summary: 'Test & Enable many mailboxes',
        description:
          `${testAndEnableDescription} The mailboxes are tested in parallel, at most the profile's Maximum Concurrent Connections at a time ` +
          'per profile, and every one gets its outcome; an unknown id refuses the whole request (400) before anything is tested.',
        body: TestAndEnableRequest,
        response: { 200: TestAndEnableResults, ...errorResponses, 503: ErrorBody },
      },
    }, async (request) => {
      requireAdmin(request, 'test and enable mailboxes');
      const context = diagnosticsOf(diagnostics, 'Test & Enable');
      const items = await testAndEnableMailboxes(store, context, request.body.ids);
      logFaults(request, items);
      const count = (outcome: TestAndEnableOutcome['outcome']) => items.filter((i) => i.outcome === outcome).length;
      return { items, summary: { enabled: count('enabled'), failed: count('failed'), refused: count('refused') } };
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
