/**
 * Every JSON answer of the sandbox's Graph side checked against Graph's metadata (the CSDL in the reference
 * folder, through test/helpers/graph-csdl.ts), as the EWS side's answers are against the XSDs: the token endpoint,
 * users, mailFolders, messages with and without $select, paging, one message, delta pages, a draft and its send,
 * sendMail, move, folders, $batch, a subscription and the notifications it brings, and the errors (the odata error
 * shape of the documentation, errors__02/03.json). The last test makes sure no JSON answer went unchecked.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  checkBatchResponse,
  checkGraphError,
  checkTokenResponse,
  formatProblems,
  GraphCsdl,
  graphReferenceDir,
  parseDocHttp,
  type CheckOptions,
  type CsdlProblem,
} from '../helpers/graph-csdl.js';
import { graphId, startGraphSandbox, type GraphAnswer, type GraphTestSandbox } from '../helpers/graph-sandbox.js';
import { startNotificationEndpoint, type NotificationEndpoint } from '../helpers/notification-endpoint.js';
import { requireService } from '../helpers/services.js';

const GRAPH = graphReferenceDir();
const ALICE = 'alice@contoso.test';
const BOB = 'bob@contoso.test';

interface Message {
  id: string;
  subject?: string;
  isDraft?: boolean;
  parentFolderId?: string;
  internetMessageId?: string;
  [key: string]: unknown;
}

interface Folder {
  id: string;
  displayName: string;
  totalItemCount?: number;
}

interface Page<T> {
  value: T[];
  '@odata.nextLink'?: string;
  '@odata.deltaLink'?: string;
  '@odata.context'?: string;
}

describe('Graph sandbox answers conform to the CSDL', requireService('Graph reference', GRAPH ? null : 'no graph reference folder'), () => {
  let g: GraphTestSandbox;
  let csdl: GraphCsdl;
  let hook: NotificationEndpoint;
  const checked = new WeakSet<GraphAnswer>();

  before(async () => {
    csdl = GraphCsdl.load();
    g = await startGraphSandbox();
    hook = await startNotificationEndpoint();
  });
  after(async () => {
    await hook?.close();
    await g?.close();
  });

  function status(a: GraphAnswer, expected: number): void {
    assert.equal(a.status, expected, `${a.method} ${a.url}: HTTP ${a.status}, expected ${expected}\n${a.text.slice(0, 1500)}`);
  }

  function noProblems(a: GraphAnswer, problems: CsdlProblem[], what: string): void {
    checked.add(a);
    assert.deepEqual(problems, [], `${a.method} ${a.url} (${what}):\n${formatProblems(problems)}\n--- answer\n${a.text.slice(0, 3000)}`);
  }

  function entity<T>(a: GraphAnswer, expected: number, type: string, options?: CheckOptions): T {
    status(a, expected);
    noProblems(a, csdl.checkEntity(a.json(), type, options), type);
    return a.json<T>();
  }

  function collection<T>(a: GraphAnswer, type: string, options?: CheckOptions): Page<T> {
    status(a, 200);
    noProblems(a, csdl.checkCollection(a.json(), type, options), `Collection(${type})`);
    return a.json<Page<T>>();
  }

  function graphError(a: GraphAnswer, expected: number, code: string | RegExp): { code: string; message: string } {
    status(a, expected);
    noProblems(a, checkGraphError(a.json()), 'odata.error');
    const error = a.json<{ error: { code: string; message: string } }>().error;
    if (typeof code === 'string') assert.equal(error.code, code);
    else assert.match(error.code, code);
    return error;
  }

  /** Azure AD's error answer (the preamble's contract; the sandbox's login host stands in for it). */
  function aadError(a: GraphAnswer, expected: number, aadsts: number): void {
    status(a, expected);
    checked.add(a);
    const body = a.json<Record<string, unknown>>();
    assert.equal(typeof body.error, 'string');
    assert.match(String(body.error_description), new RegExp(`^AADSTS${aadsts}: .+Trace ID: .+Correlation ID: .+Timestamp: `, 's'));
    assert.deepEqual(body.error_codes, [aadsts]);
    for (const key of ['timestamp', 'trace_id', 'correlation_id']) assert.equal(typeof body[key], 'string', `${key} is a string`);
    const known = new Set(['error', 'error_description', 'error_codes', 'timestamp', 'trace_id', 'correlation_id', 'error_uri']);
    assert.deepEqual(Object.keys(body).filter((k) => !known.has(k)), [], 'no members Azure AD does not send');
  }

  async function allPages<T>(first: GraphAnswer, type: string, options: CheckOptions = {}, headers: Record<string, string> = {}): Promise<{ items: T[]; pages: number; deltaLink?: string }> {
    const items: T[] = [];
    let page = collection<T>(first, type, options);
    let pages = 1;
    items.push(...page.value);
    while (page['@odata.nextLink']) {
      assert.ok(pages < 100, 'paging ends');
      page = collection<T>(await g.call('GET', page['@odata.nextLink'], { headers }), type, options);
      pages += 1;
      items.push(...page.value);
    }
    return { items, pages, ...(page['@odata.deltaLink'] ? { deltaLink: page['@odata.deltaLink'] } : {}) };
  }

  // ---- the login host ----

  test('the token endpoint answers client credentials with a Bearer token (auth-v2-service__01 shape) whose claims carry the roles', async () => {
    const a = await g.tokenRequest({ client_id: g.graph.clientId, client_secret: g.graph.clientSecret, scope: 'https://graph.microsoft.com/.default', grant_type: 'client_credentials' });
    status(a, 200);
    noProblems(a, checkTokenResponse(a.json()), 'token answer');
    const claims = JSON.parse(Buffer.from(a.json<{ access_token: string }>().access_token.split('.')[1]!, 'base64url').toString('utf8')) as Record<string, unknown>;
    assert.equal(claims.aud, 'https://graph.microsoft.com');
    assert.equal(claims.tid, g.graph.tenantId);
    assert.equal(claims.iss, `https://sts.windows.net/${g.graph.tenantId}/`);
    assert.deepEqual([...(claims.roles as string[])].sort(), ['Mail.ReadWrite', 'Mail.Send']);
  });

  test('a wrong secret and an unknown tenant answer as Azure AD does (AADSTS7000215, AADSTS90002)', async () => {
    aadError(await g.tokenRequest({ client_id: g.graph.clientId, client_secret: 'wrong', scope: 'https://graph.microsoft.com/.default', grant_type: 'client_credentials' }), 401, 7000215);
    aadError(
      await g.tokenRequest({ client_id: g.graph.clientId, client_secret: g.graph.clientSecret, scope: 'https://graph.microsoft.com/.default', grant_type: 'client_credentials' }, '00000000-0000-0000-0000-00000000dead'),
      400,
      90002,
    );
  });

  // ---- users and folders ----

  let folders: Folder[] = [];
  const folder = (name: string) => folders.find((f) => f.displayName === name) ?? assert.fail(`no folder ${name}: ${folders.map((f) => f.displayName).join(', ')}`);

  test('GET /users/{upn} is a user', async () => {
    const user = entity<Record<string, unknown>>(await g.call('GET', `/users/${ALICE}`), 200, 'user');
    assert.equal(user.userPrincipalName, ALICE);
    assert.equal(typeof user.id, 'string');
    assert.match(String(user['@odata.context']), /\$metadata#users\/\$entity$/);
  });

  test('GET mailFolders is a collection of mailFolder with the well-known folders; one folder by well-known name', async () => {
    const all = await allPages<Folder>(await g.call('GET', `/users/${ALICE}/mailFolders`), 'mailFolder');
    folders = all.items;
    for (const name of ['Inbox', 'Drafts', 'Sent Items', 'Deleted Items']) folder(name);
    const inbox = entity<Folder>(await g.call('GET', `/users/${ALICE}/mailFolders/inbox`), 200, 'mailFolder');
    assert.equal(inbox.id, folder('Inbox').id);
    collection(await g.call('GET', `/users/${ALICE}/mailFolders/inbox/childFolders`), 'mailFolder');
  });

  // ---- messages ----

  let inboxIds: string[] = [];

  test('the Inbox without $select: every message has the default property set of the documented message (message-move__03)', async () => {
    const all = await allPages<Message>(await g.call('GET', `/users/${ALICE}/mailFolders/inbox/messages`), 'message');
    assert.ok(all.items.length >= 2, 'the demo Inbox has messages');
    inboxIds = all.items.map((m) => m.id);
    const documented = JSON.parse(parseDocHttp(readFileSync(path.join(GRAPH!, 'fixtures-from-docs', 'message-move__03.http.txt'), 'utf8')).body) as Record<string, unknown>;
    const expected = Object.keys(documented).filter((k) => !k.startsWith('@')).sort();
    for (const m of all.items) {
      const got = Object.keys(m).filter((k) => !k.startsWith('@'));
      assert.deepEqual(expected.filter((k) => !got.includes(k)), [], `${m.id}: documented default properties missing`);
      assert.equal(m.parentFolderId, folder('Inbox').id);
      assert.equal(m.isDraft, false);
    }
    assert.equal(entity<Folder>(await g.call('GET', `/users/${ALICE}/mailFolders/inbox`), 200, 'mailFolder').totalItemCount, inboxIds.length);
  });

  test('$select returns the selected properties (and id) only; $top pages by @odata.nextLink to the same messages', async () => {
    const select = ['subject', 'from', 'receivedDateTime', 'internetMessageId'];
    const selected = await allPages<Message>(await g.call('GET', `/users/${ALICE}/mailFolders/inbox/messages?$select=${select.join(',')}`), 'message', { select });
    assert.deepEqual(selected.items.map((m) => m.id).sort(), [...inboxIds].sort());
    for (const m of selected.items) assert.equal(typeof m.subject, 'string');
    const paged = await allPages<Message>(await g.call('GET', `/users/${ALICE}/mailFolders/inbox/messages?$top=1&$select=subject`), 'message', { select: ['subject'] });
    assert.equal(paged.pages, inboxIds.length, 'one message a page');
    assert.deepEqual(paged.items.map((m) => m.id).sort(), [...inboxIds].sort());
  });

  test('one message: GET by id (with and without $select) is a message; $value is its MIME', async () => {
    const id = inboxIds[0]!;
    const m = entity<Message>(await g.call('GET', `/users/${ALICE}/messages/${id}`), 200, 'message');
    assert.equal(m.id, id);
    assert.match(String(m['@odata.context']), /\$metadata#users\('[^']+'\)\/messages\/\$entity$|\$metadata#.*messages\/\$entity$/);
    const s = entity<Message>(await g.call('GET', `/users/${ALICE}/messages/${id}?$select=subject,internetMessageId`), 200, 'message', { select: ['subject', 'internetMessageId'] });
    assert.equal(s.subject, m.subject);
    const mime = await g.call('GET', `/users/${ALICE}/messages/${id}/$value`);
    status(mime, 200);
    assert.ok(!mime.isJson, '$value is not JSON');
    assert.match(mime.text, new RegExp(`^Subject: ${String(m.subject).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`, 'mi'));
  });

  // ---- delta ----

  let deltaLink = '';

  test('delta pages (Prefer: odata.maxpagesize=2, $select) are delta collections ending in one @odata.deltaLink', async () => {
    const select = ['subject', 'from', 'isRead', 'receivedDateTime'];
    const prefer = { prefer: 'odata.maxpagesize=2' };
    const all = await allPages<Message>(await g.call('GET', `/users/${ALICE}/mailFolders/inbox/messages/delta?$select=${select.join(',')}`, { headers: prefer }), 'message', { delta: true, select }, prefer);
    assert.ok(all.deltaLink, 'the last page has @odata.deltaLink');
    assert.ok(all.pages >= Math.ceil(inboxIds.length / 2), 'at most two a page');
    assert.deepEqual([...new Set(all.items.map((m) => m.id))].sort(), [...inboxIds].sort());
    deltaLink = all.deltaLink!;
  });

  test('the next delta round: a new message and a removed one (@removed)', async () => {
    const delivered = await g.s.control<{ itemId: string }>('POST', `/mailboxes/${ALICE}/messages`, { from: 'jane.doe@fabrikam.test', to: ALICE, subject: 'Delta newcomer', body: 'new' });
    assert.equal(delivered.status, 201);
    const victim = inboxIds[inboxIds.length - 1]!;
    const deleted = await g.call('DELETE', `/users/${ALICE}/messages/${victim}`);
    status(deleted, 204);
    const round = await allPages<Message>(await g.call('GET', deltaLink), 'message', { delta: true, select: ['subject', 'from', 'isRead', 'receivedDateTime'] });
    const added = round.items.find((m) => m.subject === 'Delta newcomer');
    assert.ok(added, 'the new message is in the round');
    assert.equal(added.id, graphId(delivered.json.itemId));
    const removed = round.items.find((m) => m.id === victim);
    assert.ok(removed && '@removed' in removed, `the deleted message comes as @removed: ${JSON.stringify(round.items)}`);
    assert.ok(round.deltaLink);
    deltaLink = round.deltaLink!;
  });

  // ---- drafts, send, sendMail, move, folders ----

  const PROPERTY_ID = 'String {00020386-0000-0000-C000-000000000046} Name x-liaison-id';

  test('a created draft is a message in Drafts; its extended property comes back through $expand', async () => {
    const draft = entity<Message>(
      await g.call('POST', `/users/${ALICE}/messages`, {
        body: {
          subject: 'Schema draft',
          body: { contentType: 'text', content: 'Hello Bob' },
          toRecipients: [{ emailAddress: { address: BOB, name: 'Bob Brown' } }],
          internetMessageHeaders: [{ name: 'x-liaison-id', value: 'schema-1' }],
          singleValueExtendedProperties: [{ id: PROPERTY_ID, value: 'schema-1' }],
        },
      }),
      201,
      'message',
    );
    assert.equal(draft.isDraft, true);
    assert.equal(draft.parentFolderId, folder('Drafts').id);
    const expanded = entity<Message>(
      await g.call('GET', `/users/${ALICE}/messages/${draft.id}?$select=subject&$expand=singleValueExtendedProperties($filter=id eq '${PROPERTY_ID}')`),
      200,
      'message',
      { expand: ['singleValueExtendedProperties'], select: ['subject', 'singleValueExtendedProperties'] },
    );
    const props = expanded.singleValueExtendedProperties as Array<{ id: string; value: string }>;
    assert.equal(props.length, 1);
    assert.equal(props[0]!.value, 'schema-1');
    const sent = await g.call('POST', `/users/${ALICE}/messages/${draft.id}/send`);
    status(sent, 202);
    assert.equal(sent.text, '', '202 with no body');
    const atBob = await allPages<Message>(await g.call('GET', `/users/${BOB}/mailFolders/inbox/messages?$select=subject`), 'message', { select: ['subject'] });
    assert.equal(atBob.items.filter((m) => m.subject === 'Schema draft').length, 1, 'delivered once to Bob');
    const sentItems = await allPages<Message>(await g.call('GET', `/users/${ALICE}/mailFolders/sentitems/messages?$select=subject,isDraft`), 'message', { select: ['subject', 'isDraft'] });
    const copy = sentItems.items.filter((m) => m.subject === 'Schema draft');
    assert.equal(copy.length, 1, 'one copy in Sent Items');
    assert.equal(copy[0]!.isDraft, false);
  });

  test('sendMail answers 202 without a body; move answers 201 with the moved message; folders are created as mailFolder', async () => {
    const sent = await g.call('POST', `/users/${ALICE}/sendMail`, {
      body: { message: { subject: 'Schema sendMail', body: { contentType: 'text', content: 'x' }, toRecipients: [{ emailAddress: { address: BOB } }] }, saveToSentItems: true },
    });
    status(sent, 202);
    assert.equal(sent.text, '');
    const moved = entity<Message>(await g.call('POST', `/users/${ALICE}/messages/${inboxIds[0]!}/move`, { body: { destinationId: 'deleteditems' } }), 201, 'message');
    assert.equal(moved.parentFolderId, folder('Deleted Items').id);
    const created = entity<Folder>(await g.call('POST', `/users/${ALICE}/mailFolders`, { body: { displayName: 'Schema folder' } }), 201, 'mailFolder');
    assert.equal(created.displayName, 'Schema folder');
    const child = entity<Folder>(await g.call('POST', `/users/${ALICE}/mailFolders/${created.id}/childFolders`, { body: { displayName: 'Schema child' } }), 201, 'mailFolder');
    assert.equal((child as unknown as { parentFolderId: string }).parentFolderId, created.id);
  });

  test('$batch: the envelope of json-batching__04, and each body checked as what it answers', async () => {
    const a = await g.call('POST', '/$batch', {
      body: {
        requests: [
          { id: '1', method: 'GET', url: `/users/${ALICE}` },
          { id: '2', method: 'GET', url: `/users/${ALICE}/mailFolders/inbox/messages?$top=1&$select=subject` },
          { id: '3', method: 'GET', url: `/users/${ALICE}/messages/AAMkAGnothere` },
        ],
      },
    });
    status(a, 200);
    const body = a.json<{ responses: Array<{ id: string; status: number; body: unknown }> }>();
    const problems = checkBatchResponse(body);
    const byId = new Map(body.responses.map((r) => [r.id, r]));
    assert.deepEqual([...byId.keys()].sort(), ['1', '2', '3']);
    const inner = (id: string, p: CsdlProblem[]) => p.map((x) => ({ ...x, path: x.path.replace('$', `$.responses[id=${id}].body`) }));
    problems.push(...inner('1', csdl.checkEntity(byId.get('1')!.body, 'user')));
    problems.push(...inner('2', csdl.checkCollection(byId.get('2')!.body, 'message', { select: ['subject'] })));
    problems.push(...inner('3', checkGraphError(byId.get('3')!.body)));
    noProblems(a, problems, '$batch');
    assert.equal(byId.get('1')!.status, 200);
    assert.equal(byId.get('2')!.status, 200);
    assert.equal(byId.get('3')!.status, 404);
  });

  // ---- subscriptions and notifications ----

  test('a subscription: validated, created as subscription; the notifications it brings are changeNotificationCollection', async () => {
    const expiration = new Date(Date.now() + 60 * 60_000).toISOString().replace(/\.\d+Z$/, 'Z');
    const sub = entity<Record<string, unknown>>(
      await g.call('POST', '/subscriptions', {
        body: {
          changeType: 'created',
          notificationUrl: `${hook.url}/notify`,
          lifecycleNotificationUrl: `${hook.url}/lifecycle`,
          resource: `/users/${ALICE}/mailFolders('inbox')/messages`,
          expirationDateTime: expiration,
          clientState: 'schema-state',
        },
      }),
      201,
      'subscription',
    );
    assert.ok(hook.validations.some((v) => v.path === '/notify'), 'the notification URL was validated first');
    assert.equal(sub.clientState, 'schema-state');
    assert.equal(sub.changeType, 'created');
    const id = String(sub.id);

    const delivered = await g.s.control<{ itemId: string }>('POST', `/mailboxes/${ALICE}/messages`, { from: 'jane.doe@fabrikam.test', to: ALICE, subject: 'Notify me', body: 'n' });
    const n = await hook.waitFor((x) => x.path === '/notify');
    assert.match(n.contentType, /^application\/json/i, 'notifications are JSON');
    const nProblems = csdl.checkEntity(n.body, 'changeNotificationCollection');
    assert.deepEqual(nProblems, [], `notification:\n${formatProblems(nProblems)}\n${JSON.stringify(n.body)}`);
    const entry = (n.body as { value: Array<Record<string, unknown>> }).value[0]!;
    assert.equal(entry.subscriptionId, id);
    assert.equal(entry.clientState, 'schema-state');
    assert.equal(entry.tenantId, g.graph.tenantId);
    assert.equal(entry.changeType, 'created');
    assert.equal((entry.resourceData as { id: string }).id, graphId(delivered.json.itemId));

    const lifecycle = await g.s.control('POST', `/graph/subscriptions/${id}/lifecycle`, { event: 'missed' });
    assert.ok(lifecycle.status < 300, JSON.stringify(lifecycle.json));
    const l = await hook.waitFor((x) => x.path === '/lifecycle');
    const lProblems = csdl.checkEntity(l.body, 'changeNotificationCollection');
    assert.deepEqual(lProblems, [], `lifecycle notification:\n${formatProblems(lProblems)}\n${JSON.stringify(l.body)}`);
    assert.equal((l.body as { value: Array<Record<string, unknown>> }).value[0]!.lifecycleEvent, 'missed');

    entity(await g.call('GET', `/subscriptions/${id}`), 200, 'subscription');
    const later = new Date(Date.now() + 2 * 60 * 60_000).toISOString().replace(/\.\d+Z$/, 'Z');
    const patched = entity<Record<string, unknown>>(await g.call('PATCH', `/subscriptions/${id}`, { body: { expirationDateTime: later } }), 200, 'subscription');
    assert.equal(Date.parse(String(patched.expirationDateTime)), Date.parse(later));
    const listed = collection<Record<string, unknown>>(await g.call('GET', '/subscriptions'), 'subscription');
    assert.ok(listed.value.some((s) => s.id === id));
    status(await g.call('DELETE', `/subscriptions/${id}`), 204);
    graphError(await g.call('GET', `/subscriptions/${id}`), 404, /NotFound/i);
  });

  // ---- errors ----

  test('errors have the odata error shape: unknown message, unknown user, no token, a bad token, no roles', async () => {
    graphError(await g.call('GET', `/users/${ALICE}/messages/AAMkAGnothere`), 404, /^(ErrorItemNotFound|ResourceNotFound|ErrorInvalidIdMalformed)$/);
    graphError(await g.call('GET', `/users/nobody@contoso.test/mailFolders/inbox/messages`), 404, /./);
    graphError(await g.call('GET', `/users/${ALICE}/mailFolders/inbox/messages`, { token: null }), 401, 'InvalidAuthenticationToken');
    graphError(await g.call('GET', `/users/${ALICE}/mailFolders/inbox/messages`, { token: 'eyJhbGciOiJSUzI1NiJ9.e30.c2ln' }), 401, 'InvalidAuthenticationToken');
    const app = await g.s.control<{ clientId: string; secrets: Array<{ value: string }> }>('POST', '/graph/apps', { displayName: 'No roles', permissions: [], secrets: [{}] });
    assert.equal(app.status, 201, JSON.stringify(app.json));
    const t = await g.tokenRequest({ client_id: app.json.clientId, client_secret: app.json.secrets[0]!.value, scope: 'https://graph.microsoft.com/.default', grant_type: 'client_credentials' });
    status(t, 200);
    noProblems(t, checkTokenResponse(t.json()), 'token answer');
    const error = graphError(await g.call('GET', `/users/${ALICE}/mailFolders/inbox/messages`, { token: t.json<{ access_token: string }>().access_token }), 403, 'ErrorAccessDenied');
    assert.equal(error.message, 'Access is denied. Check credentials and try again.');
  });

  test('an expired delta token answers 410 SyncStateNotFound; a throttle fault answers 429 with Retry-After', async () => {
    const fault = await g.s.control('POST', '/faults', { kind: 'expireDelta', times: 1 });
    assert.ok(fault.status < 300, JSON.stringify(fault.json));
    graphError(await g.call('GET', deltaLink), 410, /^(SyncStateNotFound|syncStateNotFound)$/);
    const throttle = await g.s.control('POST', '/faults', { kind: 'http429', operation: 'graph.list', times: 1 });
    assert.ok(throttle.status < 300, JSON.stringify(throttle.json));
    const a = await g.call('GET', `/users/${ALICE}/mailFolders/inbox/messages?$select=subject`);
    graphError(a, 429, /^(ApplicationThrottled|TooManyRequests)$/);
    assert.match(String(a.headers['retry-after']), /^\d+$/, 'Retry-After in seconds');
  });

  // ---- what the connector asks for: $filter, $orderby, ImmutableId, PATCH; and the refusals it must understand ----

  test('$filter (receivedDateTime ge/lt, internetMessageId eq) and $orderby answer message collections that match', async () => {
    const all = (await allPages<Message>(await g.call('GET', `/users/${ALICE}/mailFolders/inbox/messages?$select=receivedDateTime,internetMessageId`), 'message', { select: ['receivedDateTime', 'internetMessageId'] })).items;
    assert.ok(all.length >= 2);
    const one = all[0]!;
    const eq = await allPages<Message>(
      await g.call('GET', `/users/${ALICE}/mailFolders/inbox/messages?$select=internetMessageId&$filter=${encodeURIComponent(`internetMessageId eq '${String(one.internetMessageId)}'`)}`),
      'message',
      { select: ['internetMessageId'] },
    );
    assert.deepEqual(eq.items.map((m) => m.id), [one.id]);
    const times = all.map((m) => String(m.receivedDateTime)).sort();
    const since = times[times.length - 1]!;
    const ge = await allPages<Message>(await g.call('GET', `/users/${ALICE}/mailFolders/inbox/messages?$select=receivedDateTime&$filter=receivedDateTime ge ${since}`), 'message', { select: ['receivedDateTime'] });
    assert.deepEqual(ge.items.map((m) => m.receivedDateTime), times.filter((t) => t >= since));
    const lt = await allPages<Message>(await g.call('GET', `/users/${ALICE}/mailFolders/inbox/messages?$select=receivedDateTime&$filter=receivedDateTime lt ${since}`), 'message', { select: ['receivedDateTime'] });
    assert.equal(lt.items.length, times.filter((t) => t < since).length);
    const ordered = await allPages<Message>(await g.call('GET', `/users/${ALICE}/mailFolders/inbox/messages?$select=receivedDateTime&$orderby=receivedDateTime desc`), 'message', { select: ['receivedDateTime'] });
    const got = ordered.items.map((m) => String(m.receivedDateTime));
    assert.deepEqual(got, [...got].sort().reverse());
  });

  test('the connector\'s Sent Items search: $filter on singleValueExtendedProperties any() finds the sent draft by its property', async () => {
    const filter = `singleValueExtendedProperties/any(ep: ep/id eq '${PROPERTY_ID}' and ep/value eq 'schema-1')`;
    const found = await allPages<Message>(await g.call('GET', `/users/${ALICE}/mailFolders/sentitems/messages?$select=subject&$filter=${encodeURIComponent(filter)}`), 'message', { select: ['subject'] });
    assert.deepEqual(found.items.map((m) => m.subject), ['Schema draft']);
  });

  test('Prefer IdType="ImmutableId": the id survives a move; PATCH of a draft answers the message', async () => {
    const immutable = { prefer: 'IdType="ImmutableId"' };
    const draft = entity<Message>(await g.call('POST', `/users/${ALICE}/messages`, { body: { subject: 'Immutable', body: { contentType: 'text', content: 'i' } }, headers: immutable }), 201, 'message');
    const moved = entity<Message>(await g.call('POST', `/users/${ALICE}/messages/${draft.id}/move`, { body: { destinationId: 'inbox' }, headers: immutable }), 201, 'message');
    assert.equal(moved.id, draft.id, 'the immutable id is the same after the move');
    const patched = entity<Message>(await g.call('PATCH', `/users/${ALICE}/messages/${moved.id}`, { body: { subject: 'Immutable 2', isRead: true }, headers: immutable }), 200, 'message');
    assert.equal(patched.subject, 'Immutable 2');
    assert.equal(entity<Message>(await g.call('GET', `/users/${ALICE}/messages/${draft.id}?$select=subject`, { headers: immutable }), 200, 'message', { select: ['subject'] }).subject, 'Immutable 2');
  });

  test('refusals in the odata error shape: an access policy (403 RAOP), a 503 fault with Retry-After, a batch of 21, a subscription whose validation fails or that lasts too long', async () => {
    const policy = await g.s.control<{ id: string }>('POST', '/graph/access-policies', { appId: g.graph.clientId, accessRight: 'DenyAccess', mailboxes: [BOB] });
    assert.equal(policy.status, 201, JSON.stringify(policy.json));
    const denied = graphError(await g.call('GET', `/users/${BOB}/mailFolders/inbox/messages`), 403, 'ErrorAccessDenied');
    assert.match(denied.message, /Access to OData is disabled: \[RAOP\] : Blocked by tenant configured AppOnly AccessPolicy settings\./);
    entity(await g.call('GET', `/users/${ALICE}/mailFolders/inbox`), 200, 'mailFolder');
    assert.ok((await g.s.control('DELETE', `/graph/access-policies/${policy.json.id}`)).status < 300);

    assert.ok((await g.s.control('POST', '/faults', { kind: 'http503', operation: 'graph.get', times: 1 })).status < 300);
    const unavailable = await g.call('GET', `/users/${ALICE}/mailFolders/inbox`);
    graphError(unavailable, 503, /./);
    assert.match(String(unavailable.headers['retry-after']), /^\d+$/);

    const many = Array.from({ length: 21 }, (_, i) => ({ id: String(i + 1), method: 'GET', url: `/users/${ALICE}` }));
    graphError(await g.call('POST', '/$batch', { body: { requests: many } }), 400, /./);

    hook.refuseValidation = true;
    try {
      const refused = graphError(
        await g.call('POST', '/subscriptions', { body: { changeType: 'created', notificationUrl: `${hook.url}/refuse`, resource: `/users/${ALICE}/mailFolders('inbox')/messages`, expirationDateTime: new Date(Date.now() + 3600_000).toISOString(), clientState: 'x' } }),
        400,
        /./,
      );
      assert.match(refused.message, /Subscription validation request failed/);
    } finally {
      hook.refuseValidation = false;
    }
    const tooLong = new Date(Date.now() + 4231 * 60_000).toISOString();
    graphError(await g.call('POST', '/subscriptions', { body: { changeType: 'created', notificationUrl: `${hook.url}/long`, resource: `/users/${ALICE}/mailFolders('inbox')/messages`, expirationDateTime: tooLong, clientState: 'x' } }), 400, /./);
  });

  // ---- over everything ----

  test('every JSON answer of the graph and login hosts was checked, and Graph answers carry request-id and a JSON content type', () => {
    // The demo app's token, fetched by the helper on the first call, is checked here.
    for (const a of g.answers.filter((x) => x.isJson && !checked.has(x) && x.url.startsWith(g.loginBase) && x.status === 200)) noProblems(a, checkTokenResponse(a.json()), 'token answer');
    const unchecked = g.answers.filter((a) => a.isJson && !checked.has(a));
    assert.deepEqual(unchecked.map((a) => `${a.method} ${a.url} → ${a.status}`), []);
    const graphAnswers = g.answers.filter((a) => a.url.startsWith(g.graphBase));
    assert.ok(graphAnswers.length > 20);
    const noRequestId = graphAnswers.filter((a) => typeof a.headers['request-id'] !== 'string');
    assert.deepEqual(noRequestId.map((a) => `${a.method} ${a.url} → ${a.status}`), [], 'Graph sends request-id on every answer (auth-v2-service__03)');
    const badType = graphAnswers.filter((a) => a.text.length > 0 && a.text.trimStart().startsWith('{') && !/^application\/json/i.test(String(a.headers['content-type'])));
    assert.deepEqual(badType.map((a) => `${a.method} ${a.url}: ${String(a.headers['content-type'])}`), []);
  });
});
