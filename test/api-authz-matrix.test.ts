/**
 * The authorization matrix: every route the server registers (read from Fastify itself, so a route added without
 * an entry here fails the test), and the console's pages, for every kind of caller: no credentials, a malformed
 * and an unknown token, a revoked token, an expired console session, a member (a user who is not an
 * administrator) with a token and with a cookie session, and an administrator.
 *
 * - Without valid credentials every non-public route is 401.
 * - A change made with a session cookie but without the X-CSRF-Token header is 403, for members and administrators.
 * - A member acting on another user's objects (their mailbox, its email and attachments, its alerts, their tokens,
 *   their password, their queue's mailbox) is refused with the status the API documents, lists never include
 *   those objects, no answer to the member carries any of their ids, and none of the refused requests changes a
 *   row of the database. Administrator-only routes are 403 for members.
 * - The member reaches their own objects, and the administrator reaches everything, with the documented status.
 *
 * Adding a route means adding one line (or a few) to MATRIX: `'METHOD /path': admin(...)`, `member(...)`,
 * `shared(...)` or `open(...)`.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify';
import { sql } from 'kysely';
import { CSRF_REFUSED } from '../src/api/auth.js';
import { buildApi, LOG_REDACT, registeredRoutes } from '../src/api/server.js';
import type { User } from '../src/store/users.js';
import { DiagnosticsDouble } from './helpers/diagnostics-double.js';
import { DATABASES, type TestStore } from './helpers/stores.js';

const PASSWORDS = { admin: 'Matrix-Admin-Passphrase-1', member: 'Matrix-Member-Passphrase-1', other: 'Matrix-Other-Passphrase-1' };
const NOWHERE = '01234567-89ab-7cde-8f01-23456789abcd';
const file = (name: string) => ({ fileName: name, contentType: 'text/plain', contentBase64: Buffer.from(name).toString('base64') });

type Method = NonNullable<InjectOptions['method']>;

/** One request of the matrix: the path (parameters filled in), the body, and the status it must get. */
interface Probe {
  url: string;
  body?: unknown;
  status: number;
  /** More to check on the answer. */
  check?: (response: Answer, w: World) => void;
}

interface Answer {
  statusCode: number;
  body: string;
  headers: Record<string, unknown>;
  json(): any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

type Build = (w: World) => Probe | Promise<Probe>;

interface Entry {
  /**
   * open: answers without credentials (its own probe per caller); admin: administrators only (members 403);
   * member: every user on their own objects, refused on others'; shared: every user reads (and writes) the same data.
   */
  access: 'open' | 'admin' | 'member' | 'shared';
  /** The administrator's request. */
  admin?: Build;
  /** A member on their own objects (member, shared). */
  own?: Build;
  /** A member on another user's objects: each is refused, or answered without them. */
  foreign?: Build[];
  /** open routes: the request and status for a caller without a session, and with a member's session cookie. */
  anonymous?: Build;
  signedIn?: Build;
  /** An answer that stays open (server-sent events): read over a real socket up to the first event. */
  stream?: boolean;
}

const admin = (request: Build): Entry => ({ access: 'admin', admin: request });
const member = (own: Build, foreign: Build[], adminRequest: Build = own): Entry => ({ access: 'member', own, foreign, admin: adminRequest });
const shared = (own: Build, adminRequest: Build = own): Entry => ({ access: 'shared', own, admin: adminRequest });
const open = (anonymous: Build, signedIn: Build = anonymous): Entry => ({ access: 'open', anonymous, signedIn });

/** Everything the requests act on: two members' data and an administrator. */
interface World {
  app: FastifyInstance;
  t: TestStore;
  admin: User;
  member: User;
  other: User;
  adminToken: string;
  memberToken: string;
  otherToken: { id: string; token: string };
  profileId: string;
  otherQueue: { id: string; mailboxId: string };
  memberDraft: { id: string; attachmentId: string };
  otherDraft: { id: string; attachmentId: string };
  memberAlert: string;
  otherAlert: string;
  contactId: string;
  accountId: string;
  leadId: string;
  /** As the administrator, through the API: for builders that need a fresh object. */
  asAdmin(method: Method, url: string, body?: unknown): Promise<Answer>;
  asMember(method: Method, url: string, body?: unknown): Promise<Answer>;
  /** The other member's ids: none may appear in an answer to the member. */
  foreignIds(): string[];
}

async function fresh(w: World, url: string, body: unknown, as: 'admin' | 'member' = 'admin'): Promise<string> {
  const created = await (as === 'admin' ? w.asAdmin : w.asMember)('POST', url, body);
  assert.ok(created.statusCode === 201 || created.statusCode === 200, `${url}: ${created.body}`);
  return created.json().id as string;
}

const throwawayUser = (w: World) => fresh(w, '/api/v1/users', { name: 'Throwaway', email: `throwaway-${Math.random().toString(36).slice(2)}@contoso.test` });
const record = (type: string, idOf: (w: World) => string): Record<string, Entry> => ({
  [`GET /api/v1/${type}`]: shared(() => ({ url: `/api/v1/${type}`, status: 200 })),
  [`POST /api/v1/${type}`]: shared(() => ({ url: `/api/v1/${type}`, body: { name: `New ${type}` }, status: 201 })),
  [`GET /api/v1/${type}/:id`]: shared((w) => ({ url: `/api/v1/${type}/${idOf(w)}`, status: 200 })),
  [`PATCH /api/v1/${type}/:id`]: shared((w) => ({ url: `/api/v1/${type}/${idOf(w)}`, body: { name: `Renamed ${type}` }, status: 200 })),
  [`DELETE /api/v1/${type}/:id`]: shared(async (w) => ({ url: `/api/v1/${type}/${await fresh(w, `/api/v1/${type}`, { name: 'Gone soon' })}`, status: 204 })),
});

const draftOf = async (w: World, as: 'admin' | 'member', mailboxId: string) =>
  fresh(w, '/api/v1/email-activities', { mailboxId, subject: 'Throwaway', to: ['carl@fabrikam.test'] }, as);

/** Where the member's answers must not name the other member's objects (but those the request named, echoed in an error). */
const noForeignIds = (response: Answer, w: World, probe?: Probe) => {
  const asked = probe ? `${probe.url} ${JSON.stringify(probe.body ?? null)}` : '';
  for (const id of w.foreignIds()) assert.ok(asked.includes(id) || !response.body.includes(id), `the answer names the other user's ${id}: ${response.body.slice(0, 400)}`);
};

const MATRIX: Record<string, Entry> = {
  // The documentation, health and metrics, and the console's files: no credentials, nothing of anyone's.
  'GET /docs': open(() => ({ url: '/docs', status: 200 })),
  'GET /docs/static/index.html': open(() => ({ url: '/docs/static/index.html', status: 302 })),
  'GET /docs/static/swagger-initializer.js': open(() => ({ url: '/docs/static/swagger-initializer.js', status: 200 })),
  'GET /docs/json': open(() => ({ url: '/docs/json', status: 200 })),
  'GET /docs/yaml': open(() => ({ url: '/docs/yaml', status: 200 })),
  'GET /docs/static/*': open(() => ({ url: '/docs/static/swagger-ui.css', status: 200 })),
  'GET /health': open(() => ({ url: '/health', status: 200 })),
  'GET /metrics': open(() => ({ url: '/metrics', status: 200 })),
  'GET /api/v1/openapi.json': open(() => ({ url: '/api/v1/openapi.json', status: 200 })),
  // Microsoft Graph's change notifications: Microsoft calls it, so no Liaison credentials; the clientState proves a notification.
  'POST /graph/notifications': open(() => ({ url: '/graph/notifications?validationToken=matrix-probe', status: 200, check: (r) => assert.equal(r.body, 'matrix-probe') })),
  'GET /assets/*': open(() => ({ url: '/assets/app.js', status: 200 })),

  // The session routes read the cookie themselves.
  'POST /api/v1/session': open(() => ({ url: '/api/v1/session', body: { email: 'nobody@contoso.test', password: 'not the password' }, status: 401 })),
  'GET /api/v1/session': open(
    () => ({ url: '/api/v1/session', status: 401 }),
    (w) => ({ url: '/api/v1/session', status: 200, check: (r) => assert.equal(r.json().user.id, w.member.id) }),
  ),
  'DELETE /api/v1/session': open(() => ({ url: '/api/v1/session', status: 204 })),
  'GET /api/v1/session/setup': open(() => ({ url: '/api/v1/session/setup', status: 200, check: (r) => assert.equal(r.json().needed, false) })),
  'POST /api/v1/session/setup': open(() => ({ url: '/api/v1/session/setup', body: { token: 'not-a-setup-token', password: 'A-new-long-passphrase' }, status: 401 })),

  // Users and their tokens.
  'PUT /api/v1/users/:id/password': member(
    (w) => ({ url: `/api/v1/users/${w.member.id}/password`, body: { password: PASSWORDS.member, currentPassword: PASSWORDS.member }, status: 204 }),
    [(w) => ({ url: `/api/v1/users/${w.other.id}/password`, body: { password: 'Hijacked-passphrase-1' }, status: 403 })],
    (w) => ({ url: `/api/v1/users/${w.other.id}/password`, body: { password: PASSWORDS.other }, status: 204 }),
  ),
  'GET /api/v1/users': admin(() => ({ url: '/api/v1/users', status: 200 })),
  'POST /api/v1/users': admin(() => ({ url: '/api/v1/users', body: { name: 'Nina New', email: 'nina@contoso.test' }, status: 201 })),
  'GET /api/v1/users/me': member(
    (w) => ({ url: '/api/v1/users/me', status: 200, check: (r) => assert.equal(r.json().id, w.member.id) }),
    [],
    (w) => ({ url: '/api/v1/users/me', status: 200, check: (r) => assert.equal(r.json().id, w.admin.id) }),
  ),
  'GET /api/v1/users/:id': member(
    (w) => ({ url: `/api/v1/users/${w.member.id}`, status: 200 }),
    [(w) => ({ url: `/api/v1/users/${w.other.id}`, status: 403 })],
    (w) => ({ url: `/api/v1/users/${w.other.id}`, status: 200 }),
  ),
  'PATCH /api/v1/users/:id': member(
    (w) => ({ url: `/api/v1/users/${w.member.id}`, body: { incomingFilter: 'all' }, status: 200 }),
    [
      (w) => ({ url: `/api/v1/users/${w.other.id}`, body: { incomingFilter: 'none' }, status: 403 }),
      (w) => ({ url: `/api/v1/users/${w.member.id}`, body: { isAdmin: true }, status: 403 }),
      (w) => ({ url: `/api/v1/users/${w.member.id}`, body: { incomingFilter: 'all', email: 'someone-else@contoso.test' }, status: 403 }),
    ],
    (w) => ({ url: `/api/v1/users/${w.other.id}`, body: { name: 'Otto Other' }, status: 200 }),
  ),
  'DELETE /api/v1/users/:id': admin(async (w) => ({ url: `/api/v1/users/${await throwawayUser(w)}`, status: 204 })),
  'GET /api/v1/users/:id/tokens': member(
    (w) => ({ url: `/api/v1/users/${w.member.id}/tokens`, status: 200 }),
    [(w) => ({ url: `/api/v1/users/${w.other.id}/tokens`, status: 403 })],
    (w) => ({ url: `/api/v1/users/${w.other.id}/tokens`, status: 200 }),
  ),
  'DELETE /api/v1/users/:id/tokens/:tokenId': member(
    async (w) => ({ url: `/api/v1/users/${w.member.id}/tokens/${(await w.t.store.tokens.issue(w.member.id)).id}`, status: 204 }),
    [
      (w) => ({ url: `/api/v1/users/${w.other.id}/tokens/${w.otherToken.id}`, status: 403 }),
      // The other user's token under the member's own id: not theirs, so not found.
      (w) => ({ url: `/api/v1/users/${w.member.id}/tokens/${w.otherToken.id}`, status: 404 }),
    ],
    async (w) => ({ url: `/api/v1/users/${w.other.id}/tokens/${(await w.t.store.tokens.issue(w.other.id)).id}`, status: 204 }),
  ),
  'POST /api/v1/users/:id/tokens': member(
    (w) => ({ url: `/api/v1/users/${w.member.id}/tokens`, body: { label: 'mine' }, status: 201 }),
    [(w) => ({ url: `/api/v1/users/${w.other.id}/tokens`, body: { label: 'stolen' }, status: 403 })],
    (w) => ({ url: `/api/v1/users/${w.other.id}/tokens`, body: { label: 'issued by the administrator' }, status: 201 }),
  ),

  // Queues: everyone reads them (the console lists them to everyone); administrators change them.
  'GET /api/v1/queues': shared(() => ({ url: '/api/v1/queues', status: 200 })),
  'POST /api/v1/queues': admin(() => ({ url: '/api/v1/queues', body: { name: 'Sales', email: 'sales@contoso.test' }, status: 201 })),
  'GET /api/v1/queues/:id': shared((w) => ({ url: `/api/v1/queues/${w.otherQueue.id}`, status: 200 })),
  'PATCH /api/v1/queues/:id': admin((w) => ({ url: `/api/v1/queues/${w.otherQueue.id}`, body: { name: 'Support desk' }, status: 200 })),
  'DELETE /api/v1/queues/:id': admin(async (w) => ({ url: `/api/v1/queues/${await fresh(w, '/api/v1/queues', { name: 'Gone', email: `gone-${Math.random().toString(36).slice(2)}@contoso.test` })}`, status: 204 })),

  // Contacts, accounts and leads: the CRM's records, shared by every user.
  ...record('contacts', (w) => w.contactId),
  ...record('accounts', (w) => w.accountId),
  ...record('leads', (w) => w.leadId),

  // Email server profiles, with their secrets: administrators only.
  'GET /api/v1/email-server-profiles': admin(() => ({ url: '/api/v1/email-server-profiles', status: 200 })),
  'POST /api/v1/email-server-profiles': admin(() => ({
    url: '/api/v1/email-server-profiles',
    body: { name: 'Another', serverType: 'imap-smtp', incomingServer: 'imap.contoso.test', outgoingServer: 'smtp.contoso.test', username: 'svc', password: 'Profile-Secret-9' },
    status: 201,
  })),
  'GET /api/v1/email-server-profiles/:id': admin((w) => ({ url: `/api/v1/email-server-profiles/${w.profileId}`, status: 200 })),
  'PATCH /api/v1/email-server-profiles/:id': admin((w) => ({ url: `/api/v1/email-server-profiles/${w.profileId}`, body: { description: 'Own logins' }, status: 200 })),
  'POST /api/v1/email-server-profiles/:id/test-connection': admin((w) => ({ url: `/api/v1/email-server-profiles/${w.profileId}/test-connection`, body: { mailbox: w.other.email }, status: 200 })),
  'GET /api/v1/email-server-profiles/:id/test-connection': admin(async (w) => {
    await w.asAdmin('POST', `/api/v1/email-server-profiles/${w.profileId}/test-connection`, { mailbox: w.other.email });
    return { url: `/api/v1/email-server-profiles/${w.profileId}/test-connection`, status: 200 };
  }),
  'DELETE /api/v1/email-server-profiles/:id': admin(async (w) => ({
    url: `/api/v1/email-server-profiles/${await fresh(w, '/api/v1/email-server-profiles', { name: `Gone ${Math.random()}`, serverType: 'imap-smtp', incomingServer: 'imap.contoso.test', outgoingServer: 'smtp.contoso.test' })}`,
    status: 204,
  })),

  // Mailboxes: a member reads their own (and their queues'), sets their own login.
  'GET /api/v1/mailboxes': member(
    (w) => ({ url: '/api/v1/mailboxes', status: 200, check: (r) => assert.deepEqual(r.json().items.map((m: { id: string }) => m.id), [w.member.mailboxId]) }),
    [(w) => ({ url: `/api/v1/mailboxes?ownerId=${w.other.id}`, status: 403 })],
    (w) => ({ url: '/api/v1/mailboxes', status: 200, check: (r) => assert.ok(r.json().items.some((m: { id: string }) => m.id === w.other.mailboxId)) }),
  ),
  'GET /api/v1/mailboxes/:id': member(
    (w) => ({ url: `/api/v1/mailboxes/${w.member.mailboxId}`, status: 200 }),
    [(w) => ({ url: `/api/v1/mailboxes/${w.other.mailboxId}`, status: 403 }), (w) => ({ url: `/api/v1/mailboxes/${w.otherQueue.mailboxId}`, status: 403 })],
    (w) => ({ url: `/api/v1/mailboxes/${w.other.mailboxId}`, status: 200 }),
  ),
  'PUT /api/v1/mailboxes/:id/login': member(
    (w) => ({ url: `/api/v1/mailboxes/${w.member.mailboxId}/login`, body: { username: 'uma', password: 'Member-Own-Imap-Pw' }, status: 200 }),
    [(w) => ({ url: `/api/v1/mailboxes/${w.other.mailboxId}/login`, body: { username: 'otto', password: 'Hijack-Imap-Pw' }, status: 403 })],
    (w) => ({ url: `/api/v1/mailboxes/${w.other.mailboxId}/login`, body: { username: 'otto', password: 'Other-Own-Imap-Pw' }, status: 200 }),
  ),
  'DELETE /api/v1/mailboxes/:id/login': member(
    (w) => ({ url: `/api/v1/mailboxes/${w.member.mailboxId}/login`, status: 200 }),
    [(w) => ({ url: `/api/v1/mailboxes/${w.other.mailboxId}/login`, status: 403 })],
    (w) => ({ url: `/api/v1/mailboxes/${w.other.mailboxId}/login`, status: 200 }),
  ),
  'PATCH /api/v1/mailboxes/:id': admin((w) => ({ url: `/api/v1/mailboxes/${w.other.mailboxId}`, body: { incomingMethod: 'none' }, status: 200 })),
  'POST /api/v1/mailboxes/associate': admin((w) => ({ url: '/api/v1/mailboxes/associate', body: { mailboxIds: [w.other.mailboxId], profileId: w.profileId }, status: 200 })),
  // The missing-mail audit: administrators run it (past the rights check; this world's mailboxes are not enabled, so the
  // documented answer is 409 naming why); members read their own audits.
  'POST /api/v1/mailboxes/:id/audit': admin((w) => ({
    url: `/api/v1/mailboxes/${w.member.mailboxId}/audit?wait=0`,
    status: 409,
    check: (r) => assert.match(r.json().message, /cannot be audited: it is not enabled/),
  })),
  'GET /api/v1/mailboxes/:id/audits': member(
    (w) => ({ url: `/api/v1/mailboxes/${w.member.mailboxId}/audits`, status: 200 }),
    [(w) => ({ url: `/api/v1/mailboxes/${w.other.mailboxId}/audits`, status: 403 })],
    (w) => ({ url: `/api/v1/mailboxes/${w.other.mailboxId}/audits`, status: 200 }),
  ),
  'POST /api/v1/mailboxes/:id/test-and-enable': admin((w) => ({ url: `/api/v1/mailboxes/${w.other.mailboxId}/test-and-enable`, status: 200 })),
  'POST /api/v1/mailboxes/test-and-enable': admin((w) => ({ url: '/api/v1/mailboxes/test-and-enable', body: { ids: [w.other.mailboxId] }, status: 200 })),
  'POST /api/v1/mailboxes/approval': admin((w) => ({ url: '/api/v1/mailboxes/approval', body: { mailboxIds: [w.other.mailboxId], approvalStatus: 'approved' }, status: 200 })),

  // Email activities: a member reaches the email of their own mailboxes.
  'GET /api/v1/email-activities': member(
    (w) => ({ url: '/api/v1/email-activities?limit=500', status: 200, check: (r) => assert.ok(r.json().items.some((a: { id: string }) => a.id === w.memberDraft.id)) }),
    [(w) => ({ url: `/api/v1/email-activities?mailboxId=${w.other.mailboxId}`, status: 200, check: (r) => assert.deepEqual(r.json().items, []) })],
    (w) => ({ url: '/api/v1/email-activities?limit=500', status: 200, check: (r) => assert.ok(r.json().items.some((a: { id: string }) => a.id === w.otherDraft.id)) }),
  ),
  'GET /api/v1/email-activities/:id': member(
    (w) => ({ url: `/api/v1/email-activities/${w.memberDraft.id}`, status: 200 }),
    [(w) => ({ url: `/api/v1/email-activities/${w.otherDraft.id}`, status: 403 })],
    (w) => ({ url: `/api/v1/email-activities/${w.otherDraft.id}`, status: 200 }),
  ),
  'POST /api/v1/email-activities': member(
    () => ({ url: '/api/v1/email-activities', body: { subject: 'Mine' }, status: 201 }),
    [(w) => ({ url: '/api/v1/email-activities', body: { mailboxId: w.other.mailboxId, subject: 'As Otto' }, status: 403 })],
    (w) => ({ url: '/api/v1/email-activities', body: { mailboxId: w.other.mailboxId, subject: 'By the administrator' }, status: 201 }),
  ),
  'PATCH /api/v1/email-activities/:id': member(
    (w) => ({ url: `/api/v1/email-activities/${w.memberDraft.id}`, body: { subject: 'Changed' }, status: 200 }),
    [(w) => ({ url: `/api/v1/email-activities/${w.otherDraft.id}`, body: { subject: 'Hijacked' }, status: 403 })],
    (w) => ({ url: `/api/v1/email-activities/${w.otherDraft.id}`, body: { subject: 'Changed by the administrator' }, status: 200 }),
  ),
  'DELETE /api/v1/email-activities/:id': member(
    async (w) => ({ url: `/api/v1/email-activities/${await draftOf(w, 'member', w.member.mailboxId!)}`, status: 204 }),
    [(w) => ({ url: `/api/v1/email-activities/${w.otherDraft.id}`, status: 403 })],
    async (w) => ({ url: `/api/v1/email-activities/${await draftOf(w, 'admin', w.other.mailboxId!)}`, status: 204 }),
  ),
  'POST /api/v1/email-activities/:id/send': member(
    async (w) => ({ url: `/api/v1/email-activities/${await draftOf(w, 'member', w.member.mailboxId!)}/send`, status: 200 }),
    [(w) => ({ url: `/api/v1/email-activities/${w.otherDraft.id}/send`, status: 403 })],
    async (w) => ({ url: `/api/v1/email-activities/${await draftOf(w, 'admin', w.other.mailboxId!)}/send`, status: 200 }),
  ),
  // A draft's delivery is not uncertain: 409 for whoever may reach it.
  'POST /api/v1/email-activities/:id/delivery': member(
    (w) => ({ url: `/api/v1/email-activities/${w.memberDraft.id}/delivery`, body: { delivered: true }, status: 409 }),
    [(w) => ({ url: `/api/v1/email-activities/${w.otherDraft.id}/delivery`, body: { delivered: true }, status: 403 })],
    (w) => ({ url: `/api/v1/email-activities/${w.otherDraft.id}/delivery`, body: { delivered: true }, status: 409 }),
  ),
  'GET /api/v1/email-activities/:id/attachments/:attachmentId/content': member(
    (w) => ({ url: `/api/v1/email-activities/${w.memberDraft.id}/attachments/${w.memberDraft.attachmentId}/content`, status: 200 }),
    [
      (w) => ({ url: `/api/v1/email-activities/${w.otherDraft.id}/attachments/${w.otherDraft.attachmentId}/content`, status: 403 }),
      // The other's attachment under the member's own email: not found there.
      (w) => ({ url: `/api/v1/email-activities/${w.memberDraft.id}/attachments/${w.otherDraft.attachmentId}/content`, status: 404 }),
    ],
    (w) => ({ url: `/api/v1/email-activities/${w.otherDraft.id}/attachments/${w.otherDraft.attachmentId}/content`, status: 200 }),
  ),

  // Alerts: of the member's own mailboxes.
  'GET /api/v1/alerts': member(
    (w) => ({ url: '/api/v1/alerts', status: 200, check: (r) => assert.deepEqual(r.json().items.map((a: { id: string }) => a.id), [w.memberAlert]) }),
    [(w) => ({ url: `/api/v1/alerts?mailboxId=${w.other.mailboxId}`, status: 200, check: (r) => assert.deepEqual(r.json().items, []) })],
    (w) => ({ url: '/api/v1/alerts', status: 200, check: (r) => assert.ok(r.json().items.some((a: { id: string }) => a.id === w.otherAlert)) }),
  ),
  'GET /api/v1/alerts/:id': member(
    (w) => ({ url: `/api/v1/alerts/${w.memberAlert}`, status: 200 }),
    [(w) => ({ url: `/api/v1/alerts/${w.otherAlert}`, status: 403 })],
    (w) => ({ url: `/api/v1/alerts/${w.otherAlert}`, status: 200 }),
  ),

  // The dashboard, and the same live: a member's counts only their own mailboxes.
  'GET /api/v1/dashboard': member(
    () => ({ url: '/api/v1/dashboard', status: 200, check: (r) => assert.equal(r.json().totals.mailboxes, 1) }),
    [],
    () => ({ url: '/api/v1/dashboard', status: 200, check: (r) => assert.ok(r.json().totals.mailboxes >= 4, r.body) }),
  ),
  'GET /api/v1/events': {
    ...member(() => ({ url: '/api/v1/events', status: 200, check: (r) => assert.equal(dashboardEvent(r).totals.mailboxes, 1) }), []),
    admin: () => ({ url: '/api/v1/events', status: 200, check: (r) => assert.ok(dashboardEvent(r).totals.mailboxes >= 4) }),
    stream: true,
  },

  // The organization's settings: everyone reads them, administrators change them.
  'GET /api/v1/organization': shared(() => ({ url: '/api/v1/organization', status: 200 })),
  'PATCH /api/v1/organization': admin(() => ({ url: '/api/v1/organization', body: { trackingTokenPrefix: 'CRM:' }, status: 200 })),
};

/** Console pages are no route: any GET path the API does not own is the console's page, the same for everyone. */
const CONSOLE_PAGES = ['/', '/setup', '/mailboxes', `/mailboxes/${NOWHERE}`, '/profiles', '/records/users', '/alerts'];

function dashboardEvent(response: Answer) {
  const match = /event: dashboard\ndata: (.*)\n/.exec(response.body);
  assert.ok(match, `a dashboard event: ${response.body.slice(0, 300)}`);
  return JSON.parse(match[1]!);
}

const STATE_CHANGING = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/** Every row of every table, to prove that the refused requests changed nothing (times of last use left out). */
async function snapshot(t: TestStore): Promise<Record<string, unknown[]>> {
  const db = t.store.database.db;
  const tables =
    t.store.database.dialect === 'sqlite'
      ? (await sql<{ name: string }>`select name from sqlite_master where type = 'table' and name not like 'sqlite_%' order by name`.execute(db)).rows.map((r) => r.name)
      : (await sql<{ name: string }>`select table_name as name from information_schema.tables where table_schema = current_schema() order by table_name`.execute(db)).rows.map((r) => r.name);
  const out: Record<string, unknown[]> = {};
  for (const table of tables) {
    const rows = (await sql<Record<string, unknown>>`select * from ${sql.table(table)}`.execute(db)).rows;
    out[table] = rows
      .map((row) => Object.fromEntries(Object.entries(row).filter(([column]) => !['last_used_at', 'last_seen_at', 'expires_at'].includes(column))))
      .map((row) => JSON.stringify(row, (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : Buffer.isBuffer(v) ? v.toString('hex') : v)))
      .sort();
  }
  return out;
}

for (const kind of DATABASES) {
  describe(`the authorization matrix on ${kind.name}`, kind.suite, () => {
    let w: World;
    let webRoot: string;
    let baseUrl: string;
    const cookies = { member: { secret: '', csrf: '' }, admin: { secret: '', csrf: '' }, expired: '' };
    let revokedToken: string;

    before(async () => {
      webRoot = mkdtempSync(path.join(tmpdir(), 'liaison-authz-web-'));
      mkdirSync(path.join(webRoot, 'assets'));
      writeFileSync(path.join(webRoot, 'index.html'), '<!doctype html><title>Liaison</title><script type="module" src="/assets/app.js"></script>');
      writeFileSync(path.join(webRoot, 'assets', 'app.js'), 'export {};\n');
      const t = await kind.open();
      const app = await buildApi({
        store: t.store,
        webRoot,
        logger: { level: 'trace', redact: LOG_REDACT, stream: { write: () => undefined } },
        diagnostics: { service: new DiagnosticsDouble(), resolve: [] },
      });
      const store = t.store;
      const adminUser = await store.users.create({ name: 'Ada Admin', email: 'admin@contoso.test', isAdmin: true });
      const memberUser = await store.users.create({ name: 'Uma Member', email: 'uma@contoso.test' });
      const otherUser = await store.users.create({ name: 'Otto Other', email: 'otto@contoso.test' });
      await store.sessions.setPassword(adminUser.id, PASSWORDS.admin);
      await store.sessions.setPassword(memberUser.id, PASSWORDS.member);
      await store.sessions.setPassword(otherUser.id, PASSWORDS.other);
      const adminToken = (await store.tokens.issue(adminUser.id)).token;
      const memberToken = (await store.tokens.issue(memberUser.id)).token;
      const otherToken = await store.tokens.issue(otherUser.id);
      const revoked = await store.tokens.issue(memberUser.id);
      await store.tokens.revoke(memberUser.id, revoked.id);
      revokedToken = revoked.token;

      const as = (token: string) => async (method: Method, url: string, body?: unknown): Promise<Answer> =>
        app.inject({ method, url, headers: { authorization: `Bearer ${token}` }, ...(body !== undefined ? { payload: body as never } : {}) });
      const asAdmin = as(adminToken);
      const asOther = as(otherToken.token);

      const profile = await asAdmin('POST', '/api/v1/email-server-profiles', {
        name: 'Own logins', serverType: 'imap-smtp', incomingServer: 'imap.contoso.test', outgoingServer: 'smtp.contoso.test', credentialSource: 'mailbox',
      });
      assert.equal(profile.statusCode, 201, profile.body);
      const profileId = profile.json().id as string;
      const queue = await asAdmin('POST', '/api/v1/queues', { name: 'Support', email: 'support@contoso.test', ownerId: otherUser.id });
      assert.equal(queue.statusCode, 201, queue.body);
      const otherQueue = { id: queue.json().id as string, mailboxId: queue.json().mailboxId as string };
      const mailboxIds = [memberUser.mailboxId!, otherUser.mailboxId!, otherQueue.mailboxId];
      assert.equal((await asAdmin('POST', '/api/v1/mailboxes/associate', { mailboxIds, profileId })).statusCode, 200);
      assert.equal((await asAdmin('PUT', `/api/v1/mailboxes/${otherUser.mailboxId}/login`, { username: 'otto', password: 'Other-Own-Imap-Pw' })).statusCode, 200);

      const compose = async (send: typeof asAdmin, mailboxId: string, subject: string) => {
        const created = await send('POST', '/api/v1/email-activities', { mailboxId, subject, to: ['carl@fabrikam.test'], attachments: [file(`${subject}.txt`)] });
        assert.equal(created.statusCode, 201, created.body);
        return { id: created.json().id as string, attachmentId: created.json().attachments[0].id as string };
      };
      const memberDraft = await compose(as(memberToken), memberUser.mailboxId!, 'Uma’s draft');
      const otherDraft = await compose(asOther, otherUser.mailboxId!, 'Otto’s draft');
      const otherQueueDraft = await compose(asOther, otherQueue.mailboxId, 'Support’s draft');
      const memberAlert = (await store.alerts.raise({ level: 'error', scope: 'mailbox', mailboxId: memberUser.mailboxId!, code: 'imap.login-failed', message: 'Uma’s login failed' })).id;
      const otherAlert = (await store.alerts.raise({ level: 'error', scope: 'mailbox', mailboxId: otherUser.mailboxId!, code: 'imap.login-failed', message: 'Otto’s login failed' })).id;
      const queueAlert = (await store.alerts.raise({ level: 'warning', scope: 'mailbox', mailboxId: otherQueue.mailboxId, code: 'imap.slow', message: 'Support is slow' })).id;
      const recordId = async (type: string) => (await asAdmin('POST', `/api/v1/${type}`, { name: `A ${type}` })).json().id as string;

      w = {
        app, t, admin: adminUser, member: memberUser, other: otherUser, adminToken, memberToken, otherToken, profileId, otherQueue,
        memberDraft, otherDraft, memberAlert, otherAlert,
        contactId: await recordId('contacts'), accountId: await recordId('accounts'), leadId: await recordId('leads'),
        asAdmin, asMember: as(memberToken),
        foreignIds: () => [otherUser.id, otherUser.mailboxId!, otherQueue.mailboxId, otherDraft.id, otherDraft.attachmentId, otherQueueDraft.id, otherQueueDraft.attachmentId, otherAlert, queueAlert, otherToken.id],
      };

      const signIn = async (email: string, password: string) => {
        const answer = await app.inject({ method: 'POST', url: '/api/v1/session', payload: { email, password } });
        assert.equal(answer.statusCode, 200, answer.body);
        const cookie = [answer.headers['set-cookie']].flat().find((c) => c?.startsWith('liaison_session='))!;
        return { secret: cookie.split(';')[0]!.slice('liaison_session='.length), csrf: answer.json().csrfToken as string };
      };
      cookies.member = await signIn(memberUser.email, PASSWORDS.member);
      cookies.admin = await signIn(adminUser.email, PASSWORDS.admin);
      const expired = await signIn(memberUser.email, PASSWORDS.member);
      await sql`update console_sessions set expires_at = ${new Date(Date.now() - 60_000).toISOString()} where user_id = ${memberUser.id} and id <> ${sha256(cookies.member.secret)}`.execute(store.database.db);
      cookies.expired = expired.secret;

      await app.listen({ port: 0, host: '127.0.0.1' });
      baseUrl = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
    });
    after(async () => {
      await w?.app.close();
      await w?.t.cleanup();
      rmSync(webRoot, { recursive: true, force: true });
    });

    type Caller = 'anonymous' | 'malformed' | 'unknown' | 'revoked' | 'expired' | 'member-token' | 'member-cookie' | 'member-cookie-no-csrf' | 'admin-cookie-no-csrf' | 'admin-token';

    function headersOf(caller: Caller, method: string): Record<string, string> {
      const cookie = (secret: string, csrf: string | null) => ({ cookie: `liaison_session=${secret}`, ...(csrf && STATE_CHANGING.has(method) ? { 'x-csrf-token': csrf } : {}) });
      switch (caller) {
        case 'anonymous': return {};
        case 'malformed': return { authorization: 'Bearer' };
        case 'unknown': return { authorization: `Bearer lsn_${'x'.repeat(43)}` };
        case 'revoked': return { authorization: `Bearer ${revokedToken}` };
        case 'expired': return cookie(cookies.expired, 'any-csrf');
        case 'member-token': return { authorization: `Bearer ${w.memberToken}` };
        case 'member-cookie': return cookie(cookies.member.secret, cookies.member.csrf);
        case 'member-cookie-no-csrf': return cookie(cookies.member.secret, null);
        case 'admin-cookie-no-csrf': return cookie(cookies.admin.secret, null);
        case 'admin-token': return { authorization: `Bearer ${w.adminToken}` };
      }
    }

    async function call(caller: Caller, method: string, probe: Probe, stream = false): Promise<Answer> {
      const headers = headersOf(caller, method);
      if (!stream) {
        const response: LightMyRequestResponse = await w.app.inject({ method: method as Method, url: probe.url, headers, ...(probe.body !== undefined ? { payload: probe.body as never } : {}) });
        return response;
      }
      // A stream stays open: read it up to its first event, then hang up.
      const abort = new AbortController();
      const response = await fetch(`${baseUrl}${probe.url}`, { method, headers, signal: abort.signal });
      let body = '';
      if (response.status === 200) {
        const reader = response.body!.getReader();
        const decoder = new TextDecoder();
        while (!/event: dashboard\ndata: .*\n/.test(body)) {
          const { value, done } = await reader.read();
          if (done) break;
          body += decoder.decode(value, { stream: true });
        }
      } else body = await response.text();
      abort.abort();
      return { statusCode: response.status, body, headers: Object.fromEntries(response.headers), json: () => JSON.parse(body) };
    }

    async function expectAnswer(caller: Caller, key: string, probe: Probe, stream: boolean, extra?: (r: Answer) => void): Promise<void> {
      const method = key.split(' ')[0]!;
      const response = await call(caller, method, probe, stream);
      assert.equal(response.statusCode, probe.status, `${caller} ${method} ${probe.url}: ${response.body.slice(0, 500)}`);
      probe.check?.(response, w);
      extra?.(response);
    }

    /** Path parameters filled with an id that names nothing: what the refusals before any lookup are tried with. */
    const placeholder = (url: string) => url.replace(/:[A-Za-z]+/g, NOWHERE).replace('*', 'anything');

    test('every route the server registers has its entry in the matrix, and every entry a route', () => {
      const routes = registeredRoutes(w.app).map((r) => `${r.method} ${r.url}`);
      assert.ok(routes.length > 50, `the routes were read from Fastify (${routes.length})`);
      const missing = routes.filter((r) => !(r in MATRIX));
      assert.deepEqual(missing, [], `routes without an entry in MATRIX (test/api-authz-matrix.test.ts): add one for each`);
      assert.deepEqual(Object.keys(MATRIX).filter((k) => !routes.includes(k)), [], 'entries for routes the server no longer has');
      // The routes that let callers through on their own are exactly the matrix's open ones under /api/v1.
      const publicRoutes = registeredRoutes(w.app).filter((r) => r.public).map((r) => `${r.method} ${r.url}`);
      assert.deepEqual(publicRoutes.sort(), Object.keys(MATRIX).filter((k) => k.includes(' /api/v1/') && MATRIX[k]!.access === 'open' && !k.endsWith('/openapi.json')).sort());
    });

    test('without valid credentials every route but the open ones is 401: none, malformed, unknown and revoked tokens, an expired session', async () => {
      for (const [key, entry] of Object.entries(MATRIX)) {
        if (entry.access === 'open') continue;
        const [method, url] = key.split(' ') as [string, string];
        for (const caller of ['anonymous', 'malformed', 'unknown', 'revoked', 'expired'] as const) {
          const response = await call(caller, method, { url: placeholder(url), body: STATE_CHANGING.has(method) ? {} : undefined, status: 401 });
          assert.equal(response.statusCode, 401, `${caller} ${key}: ${response.body}`);
          assert.equal(response.json().statusCode, 401);
          if (caller === 'expired') assert.match(String(response.headers['set-cookie']), /liaison_session=;/, 'the ended session’s cookie is cleared');
          else assert.match(String(response.headers['www-authenticate']), /^Bearer realm="liaison"/);
        }
      }
    });

    test('a change made with the session cookie but without the CSRF header is 403, for members and administrators alike', async () => {
      for (const [key, entry] of Object.entries(MATRIX)) {
        const [method, url] = key.split(' ') as [string, string];
        if (!STATE_CHANGING.has(method) || entry.access === 'open') continue;
        for (const caller of ['member-cookie-no-csrf', 'admin-cookie-no-csrf'] as const) {
          const response = await call(caller, method, { url: placeholder(url), body: {}, status: 403 });
          assert.equal(response.statusCode, 403, `${caller} ${key}: ${response.body}`);
          assert.equal(response.json().message, CSRF_REFUSED);
        }
      }
      // Signing out with the cookie is a change too.
      const out = await call('member-cookie-no-csrf', 'DELETE', { url: '/api/v1/session', status: 403 });
      assert.equal(out.statusCode, 403);
      assert.equal((await call('member-cookie', 'GET', { url: '/api/v1/session', status: 200 })).statusCode, 200, 'the session is still open');
    });

    test('the open routes answer every caller alike, and a member’s session only on the session routes', async () => {
      for (const [key, entry] of Object.entries(MATRIX)) {
        if (entry.access !== 'open') continue;
        for (const caller of ['anonymous', 'unknown', 'revoked', 'expired', 'member-token', 'admin-token'] as const) {
          await expectAnswer(caller, key, await entry.anonymous!(w), false, (r) => noForeignIds(r, w));
        }
        if (key === 'DELETE /api/v1/session') continue; // signing the member out would end the session the other tests use
        await expectAnswer('member-cookie', key, await entry.signedIn!(w), false, (r) => noForeignIds(r, w));
      }
      for (const page of CONSOLE_PAGES) {
        for (const caller of ['anonymous', 'revoked', 'expired', 'member-cookie', 'admin-token'] as const) {
          const response = await call(caller, 'GET', { url: page, status: 200 });
          assert.equal(response.statusCode, 200, `${caller} ${page}`);
          assert.match(String(response.headers['content-type']), /^text\/html/);
          assert.match(String(response.headers['content-security-policy']), /frame-ancestors 'none'/);
          assert.match(response.body, /<title>Liaison<\/title>/);
        }
        // Only GET shows a page; anything else on a console path is the API's 404.
        assert.equal((await call('member-cookie', 'POST', { url: page, body: {}, status: 404 })).statusCode, 404);
      }
      // A path under /api that matches nothing is a 404 for everyone (no console page, no hint of a route).
      assert.equal((await call('anonymous', 'GET', { url: '/api/v1/secrets', status: 404 })).statusCode, 404);
    });

    test('a member reaches nothing of another user: refused, or answered without it, and nothing changes', async () => {
      const probes: Array<{ key: string; probe: Probe; stream: boolean }> = [];
      for (const [key, entry] of Object.entries(MATRIX)) {
        if (entry.access === 'admin') probes.push({ key, probe: { ...(await entry.admin!(w)), status: 403, check: undefined }, stream: entry.stream === true });
        if (entry.access === 'member') for (const build of entry.foreign!) probes.push({ key, probe: await build(w), stream: entry.stream === true });
      }
      const before = await snapshot(w.t);
      for (const caller of ['member-token', 'member-cookie'] as const) {
        for (const { key, probe, stream } of probes) {
          await expectAnswer(caller, key, probe, stream, (r) => {
            noForeignIds(r, w, probe);
            if (probe.status === 403) assert.match(r.json().message, /administrator|own/i, `${key}: ${r.body}`);
          });
        }
      }
      assert.deepEqual(await snapshot(w.t), before, 'a refused request changed the database');
    });

    test('a member reaches their own objects (and the shared ones), and no answer names another user’s', async () => {
      for (const caller of ['member-cookie', 'member-token'] as const) {
        for (const [key, entry] of Object.entries(MATRIX)) {
          if (entry.access !== 'member' && entry.access !== 'shared') continue;
          const probe = await entry.own!(w);
          // The queue is the other user's, and shared: its answer names them by design; no other does.
          await expectAnswer(caller, key, probe, entry.stream === true, key.includes('/queues') ? undefined : (r) => noForeignIds(r, w));
        }
      }
    });

    test('an administrator reaches every route, with its documented answer', async () => {
      for (const [key, entry] of Object.entries(MATRIX)) {
        if (entry.access === 'open') continue;
        await expectAnswer('admin-token', key, await entry.admin!(w), entry.stream === true);
      }
    });
  });
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}
