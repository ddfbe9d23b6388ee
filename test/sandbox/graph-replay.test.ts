/**
 * The Graph documentation's examples (reference graph/fixtures-from-docs/, Microsoft's 2021 docs) replayed against
 * the sandbox: each *.http.txt request is parsed (method, path, headers, body), `https://graph.microsoft.com`
 * becomes the sandbox's graph host, `/me` (and the docs' user ids) a sandbox mailbox, and the docs' placeholder
 * ids ids the sandbox has (a real message, folder, subscription, skip or delta token). The answer must have the
 * documented status and the documented response's shape: the same property names, each with the same JSON type
 * (values differ; null matches any type, an empty array any array). Complete documented answers are compared
 * 'same' (no property more or less); abridged ones 'embeds' (the documented properties present, more allowed).
 *
 * Every file is accounted for: replayed, exercised through another (syntax blocks list URL forms), or listed in
 * NOT_APPLICABLE with why. A difference the sandbox has from the documentation is a failing test, not a skip.
 */
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { checkGraphError, graphReferenceDir, parseDocHttp, type DocHttp } from '../helpers/graph-csdl.js';
import { graphId, startGraphSandbox, type GraphAnswer, type GraphTestSandbox } from '../helpers/graph-sandbox.js';
import { startNotificationEndpoint, type NotificationEndpoint } from '../helpers/notification-endpoint.js';
import { requireService } from '../helpers/services.js';

const GRAPH = graphReferenceDir();
const DOCS = GRAPH ? path.join(GRAPH, 'fixtures-from-docs') : '';
const MAILBOX = 'replay-graph@contoso.test';

/** Files that cannot be replayed as written, with the reason. (Each is still read by the inventory test.) */
const NOT_APPLICABLE: Record<string, string> = {
  'json-batching__01.http.txt': 'the $batch request line of json-batching__02, whose four requests go to OneDrive, Planner, groups and PATCH /me: outside the mail surface. Its envelope is replayed with mail requests instead (see "json-batching__02 adapted")',
  'json-batching__02.json': 'see json-batching__01 (OneDrive, Planner, groups, PATCH /me); replayed adapted',
  'json-batching__03.http.txt': 'the status line of json-batching__04 (compared in "json-batching__02 adapted")',
  'json-batching__05.json': 'dependsOn with "..." URLs: replayed adapted with mail requests ("json-batching__05 adapted")',
  'user-sendmail__08.http.txt':
    'the base64 MIME body is cut short by the documentation (573 characters, not a multiple of 4, the MIME inside ends mid-header): not a message. The same request with a complete base64 MIME (outlook-send-mime-message__02) is replayed instead',
  'user-sendmail__09.http.txt': 'the 202 of user-sendmail__08 (see there); the replay of outlook-send-mime-message__02 expects it',
  'webhooks-lifecycle__05.http.txt': 'addressed to the beta endpoint; replayed on /v1.0, where the CSDL declares the same bound action reauthorize (see "webhooks-lifecycle__05 on v1.0")',
  'webhooks-lifecycle__06.http.txt': 'addressed to the beta endpoint; replayed on /v1.0 (see "webhooks-lifecycle__06 on v1.0")',
  'outlook-send-mime-message__01.http.txt': 'the MIME that outlook-send-mime-message__02 carries in base64 (replayed there)',
  'outlook-send-mime-message__03.http.txt': 'a MIME part (a .docx attachment) of the concept page, not a request',
  'errors__01.json': 'an error of OneDrive uploads (invalidRange): its shape is the error shape every error replay is checked against',
  'errors__02.json': 'the error resource definition (checked through checkGraphError)',
  'errors__03.json': 'the odata.error definition (checked through checkGraphError)',
};

/** Syntax blocks: the URL forms a page lists; each form is exercised by the named replay. */
const SYNTAX: Record<string, string> = {
  'delta-query-messages__01.http.txt': 'replayed directly (GET mailFolders/{id}/messages/delta)',
  'message-delta__01.http.txt': 'both forms: /me/… in message-delta__02, /users/{id}/… in delta-query-messages__02',
  'mailfolder-post-childfolders__01.http.txt': 'mailfolder-post-childfolders__02',
  'message-move__01.http.txt': 'the /me/messages form in message-move__02, /users/{id}/mailFolders/{id}/messages/{id}/move replayed too',
  'outlook-get-mime-message__01.http.txt': 'replayed directly (/users/{id}/messages/{id}/$value)',
  'subscription-post-subscriptions__01.http.txt': 'subscription-post-subscriptions__02',
  'subscription-update__01.http.txt': 'subscription-update__02',
  'user-post-mailfolders__01.http.txt': 'user-post-mailfolders__02',
  'user-sendmail__01.http.txt': 'user-sendmail__02 (/me form); /users/{id} form replayed by user-sendmail__04',
};

// ---- shapes ----

type Shape = string | { [key: string]: Shape } | { '[]': Shape | null };

function shapeOf(value: unknown): Shape {
  if (value === null) return 'null';
  if (Array.isArray(value)) {
    let merged: Shape | null = null;
    for (const v of value) merged = merged === null ? shapeOf(v) : merge(merged, shapeOf(v));
    return { '[]': merged };
  }
  if (typeof value === 'object') return Object.fromEntries(Object.entries(value as Record<string, unknown>).map(([k, v]) => [k, shapeOf(v)]));
  return typeof value;
}

function merge(a: Shape, b: Shape): Shape {
  if (typeof a === 'string' || typeof b === 'string') return a === 'null' ? b : a;
  if ('[]' in a && '[]' in b) return { '[]': a['[]'] === null ? b['[]'] : b['[]'] === null ? a['[]'] : merge(a['[]'] as Shape, b['[]'] as Shape) };
  const out: Record<string, Shape> = { ...(a as Record<string, Shape>) };
  for (const [k, v] of Object.entries(b as Record<string, Shape>)) out[k] = k in out ? merge(out[k]!, v) : v;
  return out;
}

interface Compare {
  mode: 'same' | 'embeds';
  /** Paths (dotted, arrays as []) left out of the documented shape, each with a reason where used. */
  ignoreDocumented?: readonly string[];
  /** Paths left out of the sandbox's shape: what Graph added after the documentation's example. */
  laterAdditions?: readonly string[];
}

function differences(doc: Shape, ours: Shape, compare: Compare, at = '$'): string[] {
  const out: string[] = [];
  if (doc === 'null' || ours === 'null') return out;
  if (typeof doc === 'string' || typeof ours === 'string') {
    if (doc !== ours) out.push(`${at}: documented ${typeof doc === 'string' ? doc : '[]' in doc ? 'array' : 'object'}, sandbox ${typeof ours === 'string' ? ours : '[]' in ours ? 'array' : 'object'}`);
    return out;
  }
  const docArray = '[]' in doc;
  const ourArray = '[]' in ours;
  if (docArray !== ourArray) return [`${at}: documented ${docArray ? 'array' : 'object'}, sandbox ${ourArray ? 'array' : 'object'}`];
  if (docArray && ourArray) {
    const d = (doc as { '[]': Shape | null })['[]'];
    const o = (ours as { '[]': Shape | null })['[]'];
    return d === null || o === null ? [] : differences(d, o, compare, `${at}[]`);
  }
  const d = doc as Record<string, Shape>;
  const o = ours as Record<string, Shape>;
  const skip = (set: readonly string[] | undefined, key: string) => (set ?? []).includes(`${at}.${key}`);
  for (const key of Object.keys(d)) {
    if (skip(compare.ignoreDocumented, key)) continue;
    if (!(key in o)) out.push(`${at}.${key}: documented, missing from the sandbox's answer`);
    else out.push(...differences(d[key]!, o[key]!, compare, `${at}.${key}`));
  }
  if (compare.mode === 'same') for (const key of Object.keys(o)) if (!(key in d) && !skip(compare.laterAdditions, key)) out.push(`${at}.${key}: in the sandbox's answer, not in the documented one`);
  return out;
}

function docFile(name: string): string {
  return readFileSync(path.join(DOCS, name), 'utf8');
}
function docHttp(name: string): DocHttp {
  return parseDocHttp(docFile(name));
}
function docJson(name: string): unknown {
  return name.endsWith('.json') ? JSON.parse(docFile(name)) : JSON.parse(docHttp(name).body);
}

describe('Graph documentation examples replayed against the sandbox', requireService('Graph reference', GRAPH ? null : 'no graph reference folder'), () => {
  let g: GraphTestSandbox;
  let hook: NotificationEndpoint;
  let userId = '';
  let inboxId = '';
  const messages: string[] = [];
  const replayed = new Set<string>();

  before(async () => {
    g = await startGraphSandbox();
    hook = await startNotificationEndpoint();
    const created = await g.s.control('POST', '/mailboxes', { address: MAILBOX, displayName: 'Replay Graph', password: 'Replay-graph-1' });
    assert.equal(created.status, 201, JSON.stringify(created.json));
    // Five messages, as the delta concept page pages through (2 + 2 + 1).
    for (let i = 1; i <= 5; i++) {
      const d = await g.s.control<{ itemId: string }>('POST', `/mailboxes/${MAILBOX}/messages`, {
        from: { name: 'Dana Swope', address: 'danas@fabrikam.test' },
        to: MAILBOX,
        subject: `Replay ${i}`,
        body: `Body ${i}`,
        receivedAt: new Date(Date.now() - (10 - i) * 60_000).toISOString(),
      });
      assert.equal(d.status, 201);
      messages.push(graphId(d.json.itemId));
    }
    userId = (await g.call('GET', `/users/${MAILBOX}`)).json<{ id: string }>().id;
    inboxId = (await g.call('GET', `/users/${MAILBOX}/mailFolders/inbox`)).json<{ id: string }>().id;
  });
  after(async () => {
    await hook?.close();
    await g?.close();
  });

  /** The documented request made the sandbox's: host, /me, placeholders (a map from the doc's text to ours). */
  function sandboxUrl(target: string, substitutions: Record<string, string> = {}): string {
    let url = target.replace(/^https:\/\/graph\.microsoft\.com/, '');
    if (!url.startsWith('/v1.0') && !url.startsWith('/beta')) url = `/v1.0${url}`;
    url = url.replace(/^\/v1\.0\/me(?=\/|$)/, `/v1.0/users/${MAILBOX}`);
    for (const [from, to] of Object.entries(substitutions)) url = url.split(from).join(to);
    return `${g.graphBase}${url}`;
  }

  async function replay(name: string, substitutions: Record<string, string> = {}, bodyOverride?: (body: unknown) => unknown, headers: Record<string, string> = {}): Promise<GraphAnswer> {
    replayed.add(name);
    const doc = docHttp(name);
    assert.equal(doc.kind, 'request', `${name} is a request`);
    const requestHeaders: Record<string, string> = { ...headers };
    for (const [k, v] of Object.entries(doc.headers)) if (k !== 'authorization' && k !== 'host' && k !== 'content-length') requestHeaders[k] = v;
    let rawBody: string | undefined;
    if (doc.body) {
      const isJson = /json/i.test(doc.headers['content-type'] ?? '');
      rawBody = isJson ? JSON.stringify(bodyOverride ? bodyOverride(JSON.parse(doc.body)) : JSON.parse(doc.body)) : doc.body;
    }
    return g.call(doc.method!, sandboxUrl(doc.target!, substitutions), { headers: requestHeaders, ...(rawBody !== undefined ? { rawBody } : {}) });
  }

  function expectStatus(a: GraphAnswer, status: number, label: string): void {
    assert.equal(a.status, status, `${label}: HTTP ${a.status}, documented ${status}\n${a.text.slice(0, 1500)}`);
  }

  function expectShape(a: GraphAnswer, documented: unknown, compare: Compare, label: string): void {
    const problems = differences(shapeOf(documented), shapeOf(a.json()), compare);
    assert.deepEqual(problems, [], `${label}: the shape differs from the documented answer\n--- sandbox\n${a.text.slice(0, 3000)}`);
  }

  function responseOf(name: string): { status: number; body: unknown } {
    replayed.add(name);
    const doc = docHttp(name);
    return { status: doc.status!, body: doc.body ? JSON.parse(doc.body) : null };
  }

  // ---- users, folders ----

  test('auth-v2-service__02 → __03/__04: GET /users/{id} is 200 with the documented user properties', async () => {
    const a = await replay('auth-v2-service__02.http.txt', { '12345678-73a6-4952-a53a-e9916737ff7f': userId });
    replayed.add('auth-v2-service__03.http.txt');
    replayed.add('auth-v2-service__04.json');
    expectStatus(a, docHttp('auth-v2-service__03.http.txt').status!, 'GET user');
    assert.match(String(a.headers['content-type']), /^application\/json;\s*odata\.metadata=minimal/);
    expectShape(a, docJson('auth-v2-service__04.json'), { mode: 'same' }, 'GET user');
  });

  test('auth-v2-service__01: the token answer has the documented members (Azure AD adds ext_expires_in)', async () => {
    replayed.add('auth-v2-service__01.json');
    const a = await g.tokenRequest({ client_id: g.graph.clientId, client_secret: g.graph.clientSecret, scope: 'https://graph.microsoft.com/.default', grant_type: 'client_credentials' });
    expectStatus(a, 200, 'token');
    expectShape(a, docJson('auth-v2-service__01.json'), { mode: 'same', laterAdditions: ['$.ext_expires_in'] }, 'token');
  });

  let clutterId = '';
  test('user-post-mailfolders__02 → __03: 201 and the documented mailFolder, isHidden true kept', async () => {
    const a = await replay('user-post-mailfolders__02.http.txt');
    const documented = responseOf('user-post-mailfolders__03.http.txt');
    expectStatus(a, documented.status, 'create folder');
    // The documented answer is abridged: no @odata.context, which Graph sends on every entity answer.
    expectShape(a, documented.body, { mode: 'same', laterAdditions: ["$.@odata.context"] }, 'create folder');
    clutterId = a.json<{ id: string }>().id;
    assert.equal(a.json<{ displayName: string; isHidden: boolean }>().displayName, 'Clutter');
    assert.equal(a.json<{ isHidden: boolean }>().isHidden, true);
  });

  test('mailfolder-post-childfolders__02 → __03: 201 (the page says 201 Created; its example\'s status line says 200) and the documented mailFolder', async () => {
    const a = await replay('mailfolder-post-childfolders__02.http.txt', { '{id}': clutterId });
    const documented = responseOf('mailfolder-post-childfolders__03.http.txt');
    assert.equal(documented.status, 200, 'the example writes 200');
    expectStatus(a, 201, 'create child folder');
    expectShape(a, documented.body, { mode: 'same', laterAdditions: ['$.@odata.context'] }, 'create child folder');
    assert.equal(a.json<{ parentFolderId: string }>().parentFolderId, clutterId);
  });

  // ---- delta (the concept page's three pages and the next round) ----

  let skip1 = '';
  let skip2 = '';
  let delta = '';
  const token = (link: string, name: string) => new URL(link).searchParams.get(name) ?? assert.fail(`${link} has no ${name}`);

  test('delta-query-messages__01: GET mailFolders/{id}/messages/delta answers a delta page', async () => {
    const a = await replay('delta-query-messages__01.http.txt', { '{id}': inboxId });
    expectStatus(a, 200, 'delta');
    const page = a.json<{ value: unknown[]; '@odata.deltaLink'?: string; '@odata.nextLink'?: string }>();
    assert.ok(page['@odata.deltaLink'] ?? page['@odata.nextLink']);
  });

  test('delta-query-messages__02 → __03: the first page, two messages with subject, sender, isRead, and a nextLink', async () => {
    const a = await replay('delta-query-messages__02.http.txt', { AQMkADNkNAAAgEMAAAA: inboxId });
    replayed.add('delta-query-messages__03.json');
    expectStatus(a, 200, 'delta page 1');
    expectShape(a, docJson('delta-query-messages__03.json'), { mode: 'same' }, 'delta page 1');
    const page = a.json<{ value: unknown[]; '@odata.nextLink': string }>();
    assert.equal(page.value.length, 2);
    skip1 = token(page['@odata.nextLink'], '$skiptoken');
  });

  test('delta-query-messages__04 → __05: the second page by $skiptoken (the doc\'s token replaced by the sandbox\'s)', async () => {
    const a = await replay('delta-query-messages__04.http.txt', { AQMkADNkNAAAgEMAAAA: inboxId, GwcBoTmPuoTQWfcsAbkYM: encodeURIComponent(skip1) });
    replayed.add('delta-query-messages__05.json');
    expectStatus(a, 200, 'delta page 2');
    expectShape(a, docJson('delta-query-messages__05.json'), { mode: 'same' }, 'delta page 2');
    const page = a.json<{ value: unknown[]; '@odata.nextLink': string }>();
    assert.equal(page.value.length, 2);
    skip2 = token(page['@odata.nextLink'], '$skiptoken');
  });

  test('delta-query-messages__06 → __07: the last page, one message and the deltaLink', async () => {
    const a = await replay('delta-query-messages__06.http.txt', { AQMkADNkNAAAgEMAAAA: inboxId, GwcBoTmPKILK4jLH7mAd1lLU: encodeURIComponent(skip2) });
    replayed.add('delta-query-messages__07.json');
    expectStatus(a, 200, 'delta page 3');
    expectShape(a, docJson('delta-query-messages__07.json'), { mode: 'same' }, 'delta page 3');
    const page = a.json<{ value: Array<{ subject: string }>; '@odata.deltaLink': string }>();
    assert.equal(page.value.length, 1);
    delta = token(page['@odata.deltaLink'], '$deltatoken');
  });

  test('delta-query-messages__08 → __09: the next round brings a deleted message (@removed) and a changed one', async () => {
    const gone = await g.call('DELETE', `/users/${MAILBOX}/messages/${messages[0]!}`);
    expectStatus(gone, 204, 'delete');
    const patched = await g.call('PATCH', `/users/${MAILBOX}/messages/${messages[1]!}`, { body: { isRead: true } });
    expectStatus(patched, 200, 'mark read');
    const a = await replay('delta-query-messages__08.http.txt', { AQMkADNkNAAAgEMAAAA: inboxId, GwcBoTmPuoGNlgXgF1nyUNMXY: encodeURIComponent(delta) });
    replayed.add('delta-query-messages__09.json');
    expectStatus(a, 200, 'delta round 2');
    const page = a.json<{ value: Array<Record<string, unknown>> }>();
    const removed = page.value.filter((m) => '@removed' in m);
    const changed = page.value.filter((m) => !('@removed' in m));
    assert.deepEqual(removed.map((m) => m.id), [messages[0]]);
    assert.deepEqual(changed.map((m) => m.id), [messages[1]]);
    // Compared item by item: the documented removed item with ours, the documented changed item with ours.
    const documented = docJson('delta-query-messages__09.json') as { value: Array<Record<string, unknown>> };
    const [docRemoved, docChanged] = [documented.value.find((m) => '@removed' in m)!, documented.value.find((m) => !('@removed' in m))!];
    // The example writes isRead as the string "true" (its sibling pages write true): compared as a boolean.
    const docChangedFixed = { ...docChanged, isRead: true };
    for (const [doc, ours, what] of [
      [docRemoved, removed[0], 'removed item'],
      [docChangedFixed, changed[0], 'changed item'],
    ] as const) {
      const problems = differences(shapeOf(doc), shapeOf(ours), { mode: 'same' });
      assert.deepEqual(problems, [], `${what}: ${JSON.stringify(ours)}`);
    }
    const top = { ...documented, value: [] };
    assert.deepEqual(differences(shapeOf(top), shapeOf({ ...page, value: [] }), { mode: 'same' }), []);
  });

  test('message-delta__02 (abridged): a delta page without $select has the documented properties, of the documented types', async () => {
    const a = await g.call('GET', `/users/${MAILBOX}/mailFolders/${inboxId}/messages/delta`);
    replayed.add('message-delta__02.http.txt');
    const documented = responseOf('message-delta__02.http.txt');
    expectStatus(a, documented.status, 'delta without $select');
    // The page ends with the deltaLink here (five messages fit one page); the documented one with a nextLink.
    expectShape(a, documented.body, { mode: 'embeds', ignoreDocumented: ['$.@odata.nextLink'] }, 'delta without $select');
    assert.ok(a.json<Record<string, unknown>>()['@odata.deltaLink'] ?? a.json<Record<string, unknown>>()['@odata.nextLink']);
  });

  // ---- one message: $value, move ----

  test('outlook-get-mime-message__02 (/me/messages/{id}/$value) and __01 (/users/{id}/messages/{id}/$value) → __03: the MIME, with the documented headers', async () => {
    const a = await replay('outlook-get-mime-message__02.http.txt', { '4aade2547798441eab5188a7a2436bc1': messages[2]! });
    expectStatus(a, 200, '$value');
    const b = await replay('outlook-get-mime-message__01.http.txt', { '/users/{id}/messages/{id}/': `/users/${userId}/messages/${messages[2]!}/` });
    expectStatus(b, 200, '$value by user id');
    assert.equal(a.text, b.text);
    replayed.add('outlook-get-mime-message__03.http.txt');
    const headerNames = (mime: string) => new Set([...mime.split(/\r?\n\r?\n/)[0]!.matchAll(/^([A-Za-z][A-Za-z0-9-]*):/gm)].map((m) => m[1]!.toLowerCase()));
    const ours = headerNames(a.text);
    // The headers every message has in the documented MIME (the X-MS-Exchange-* and Thread-* ones are Exchange's transport's).
    for (const h of ['from', 'to', 'subject', 'date', 'message-id']) assert.ok(ours.has(h), `the MIME has ${h}:`);
    assert.match(a.text, /^Subject: Replay 3\r?$/m);
  });

  test('message-move__02 → __03: 201 and the documented message, @odata.type included (Graph added conversationIndex since)', async () => {
    const a = await replay('message-move__02.http.txt', { 'AAMkADhAAATs28OAAA=': messages[3]! });
    const documented = responseOf('message-move__03.http.txt');
    expectStatus(a, documented.status, 'move');
    expectShape(a, documented.body, { mode: 'same', laterAdditions: ['$.conversationIndex'] }, 'move');
    const moved = a.json<{ parentFolderId: string; '@odata.type': string }>();
    assert.equal(moved['@odata.type'], '#microsoft.graph.message');
    const deleted = (await g.call('GET', `/users/${MAILBOX}/mailFolders/deleteditems`)).json<{ id: string }>();
    assert.equal(moved.parentFolderId, deleted.id);
    // The fourth URL form of message-move__01: through the folder.
    const again = await g.call('POST', `/users/${MAILBOX}/mailFolders/deleteditems/messages/${a.json<{ id: string }>().id}/move`, { body: { destinationId: 'inbox' } });
    expectStatus(again, 201, 'move through the folder');
    assert.equal(again.json<{ parentFolderId: string }>().parentFolderId, inboxId);
  });

  // ---- sendMail ----

  async function outbound(): Promise<Array<{ subject: string; recipients: string[] }>> {
    return (await g.s.control<Array<{ subject: string; recipients: string[] }>>('GET', '/outbound')).json;
  }
  async function sentSubjects(): Promise<string[]> {
    return (await g.call('GET', `/users/${MAILBOX}/mailFolders/sentitems/messages?$select=subject&$top=100`)).json<{ value: Array<{ subject: string }> }>().value.map((m) => m.subject);
  }

  test('user-sendmail__02 → __03: 202; "saveToSentItems": "false" keeps no copy in Sent Items', async () => {
    const a = await replay('user-sendmail__02.http.txt');
    expectStatus(a, responseOf('user-sendmail__03.http.txt').status, 'sendMail');
    assert.equal(a.text, '');
    assert.ok((await outbound()).some((m) => m.subject === 'Meet for lunch?'), 'sent out');
    assert.ok(!(await sentSubjects()).includes('Meet for lunch?'), 'no copy saved');
  });

  test('user-sendmail__04 → __05: 202 with x- internetMessageHeaders (the /users/{id} form of user-sendmail__01)', async () => {
    const a = await replay('user-sendmail__04.http.txt', { [`/users/${MAILBOX}/`]: `/users/${userId}/` });
    expectStatus(a, responseOf('user-sendmail__05.http.txt').status, 'sendMail with headers');
    assert.ok((await sentSubjects()).includes('9/9/2018: concert'), 'a copy saved (saveToSentItems defaults to true)');
  });

  test('user-sendmail__06 → __07: 202 with a fileAttachment, kept in the Sent Items copy (hasAttachments, the MIME part)', async () => {
    const a = await replay('user-sendmail__06.http.txt');
    expectStatus(a, responseOf('user-sendmail__07.http.txt').status, 'sendMail with an attachment');
    const sent = (await g.call('GET', `/users/${MAILBOX}/mailFolders/sentitems/messages?$select=subject,hasAttachments&$top=100`)).json<{ value: Array<{ id: string; subject: string; hasAttachments: boolean }> }>().value;
    const copy = sent.find((m) => m.subject === 'Meet for lunch?');
    assert.ok(copy, 'the copy in Sent Items');
    assert.equal(copy.hasAttachments, true);
    const mime = (await g.call('GET', `/users/${MAILBOX}/messages/${copy.id}/$value`)).text;
    assert.match(mime, /filename=attachment\.txt/);
    assert.ok(mime.includes('SGVsbG8gV29ybGQh'), 'the attachment\'s bytes');
  });

  test('outlook-send-mime-message__02 as the text/plain body of POST /me/sendMail (user-sendmail__08\'s form) → 202 (user-sendmail__09)', async () => {
    replayed.add('outlook-send-mime-message__02.http.txt');
    const body = docFile('outlook-send-mime-message__02.http.txt').trim();
    const a = await g.call('POST', `/users/${MAILBOX}/sendMail`, { rawBody: body, headers: { 'content-type': 'text/plain' } });
    expectStatus(a, 202, 'sendMail MIME');
    const out = (await outbound()).find((m) => m.subject === 'This is a test in Graph - MIME');
    assert.ok(out, 'the MIME message went out with its own Subject');
    assert.deepEqual([...out.recipients].map((r) => r.toLowerCase()).sort(), ['alexw@contoso.com', 'christiec@contoso.com']);
  });

  test('user-sendmail__10: a body that is not base64 → 400 ErrorMimeContentInvalidBase64String in the documented shape', async () => {
    const documented = responseOf('user-sendmail__10.http.txt');
    const a = await g.call('POST', `/users/${MAILBOX}/sendMail`, { rawBody: '¡this is not base64!', headers: { 'content-type': 'text/plain' } });
    expectStatus(a, documented.status, 'sendMail bad MIME');
    assert.deepEqual(checkGraphError(a.json()), []);
    expectShape(a, documented.body, { mode: 'embeds' }, 'sendMail bad MIME');
    assert.equal(a.json<{ error: { code: string } }>().error.code, 'ErrorMimeContentInvalidBase64String');
  });

  // ---- $batch ----

  test('json-batching__02 adapted (mail requests in its envelope: GETs, an error, a PATCH with body and headers) → json-batching__04\'s envelope', async () => {
    replayed.add('json-batching__02.json');
    replayed.add('json-batching__04.json');
    const a = await g.call('POST', '/$batch', {
      headers: { accept: 'application/json' },
      body: {
        requests: [
          { id: '1', method: 'GET', url: `/users/${MAILBOX}/messages/${messages[2]!}?$select=subject` },
          { id: '2', method: 'GET', url: `/users/${MAILBOX}/mailFolders/inbox/messages?$select=subject` },
          { id: '3', method: 'GET', url: `/users/${MAILBOX}/messages/AAMkAGnothere` },
          { id: '4', url: `/users/${MAILBOX}/messages/${messages[2]!}`, method: 'PATCH', body: { isRead: true }, headers: { 'Content-Type': 'application/json' } },
        ],
      },
    });
    expectStatus(a, 200, '$batch');
    const doc = docJson('json-batching__04.json') as { responses: Array<Record<string, unknown>> };
    const ours = a.json<{ responses: Array<{ id: string; status: number; body?: unknown; headers?: Record<string, string> }> }>();
    assert.deepEqual(ours.responses.map((r) => r.id).sort(), ['1', '2', '3', '4']);
    const byId = new Map(ours.responses.map((r) => [r.id, r]));
    assert.equal(byId.get('3')!.status, 404);
    // The documented error entry (id 3) and collection entry (id 2), compared with ours.
    assert.deepEqual(differences(shapeOf(doc.responses.find((r) => r.id === '3')), shapeOf(byId.get('3')), { mode: 'embeds' }), []);
    assert.deepEqual(differences(shapeOf(doc.responses.find((r) => r.id === '2')), shapeOf(byId.get('2')), { mode: 'embeds' }), []);
    assert.equal(byId.get('4')!.status, 200);
    assert.equal((byId.get('4')!.body as { isRead: boolean }).isRead, true);
  });

  test('json-batching__05 adapted: dependsOn runs 1 before 2, 2 before 4', async () => {
    replayed.add('json-batching__05.json');
    const a = await g.call('POST', '/$batch', {
      body: {
        requests: [
          { id: '1', method: 'PATCH', url: `/users/${MAILBOX}/messages/${messages[4]!}`, body: { isRead: false }, headers: { 'Content-Type': 'application/json' } },
          { id: '2', dependsOn: ['1'], method: 'PATCH', url: `/users/${MAILBOX}/messages/${messages[4]!}`, body: { isRead: true }, headers: { 'Content-Type': 'application/json' } },
          { id: '3', method: 'GET', url: `/users/${MAILBOX}` },
          { id: '4', dependsOn: ['2'], method: 'GET', url: `/users/${MAILBOX}/messages/${messages[4]!}?$select=isRead` },
        ],
      },
    });
    expectStatus(a, 200, '$batch dependsOn');
    const byId = new Map(a.json<{ responses: Array<{ id: string; status: number; body: { isRead?: boolean } }> }>().responses.map((r) => [r.id, r]));
    for (const id of ['1', '2', '3', '4']) assert.equal(byId.get(id)?.status, 200, `request ${id}`);
    assert.equal(byId.get('4')!.body.isRead, true, '4 saw 2, which saw 1');
  });

  // ---- subscriptions ----

  let subscriptionId = '';
  const future = (minutes: number) => new Date(Date.now() + minutes * 60_000).toISOString().replace(/\.\d+Z$/, '.0000000Z');

  test('subscription-post-subscriptions__02 → __03: 201 and the documented subscription (notificationUrl: the local endpoint, expiration: an hour ahead)', async () => {
    const a = await replay('subscription-post-subscriptions__02.http.txt', {}, (body) => ({ ...(body as object), notificationUrl: `${hook.url}/api/send/myNotifyClient`, resource: `users/${MAILBOX}/mailFolders('Inbox')/messages`, expirationDateTime: future(60) }));
    const documented = responseOf('subscription-post-subscriptions__03.http.txt');
    expectStatus(a, documented.status, 'subscribe');
    // notificationContentType is in the example but not in the v1.0 CSDL (graph-csdl.test.ts); the sandbox sends
    // what the CSDL declares, nulls included.
    expectShape(a, documented.body, {
      mode: 'same',
      ignoreDocumented: ['$.notificationContentType'],
      laterAdditions: ['$.lifecycleNotificationUrl', '$.encryptionCertificate', '$.encryptionCertificateId', '$.includeResourceData', '$.notificationQueryOptions', '$.notificationUrlAppId'],
    }, 'subscribe');
    const sub = a.json<{ id: string; clientState: string; applicationId: string }>();
    assert.equal(sub.clientState, 'secretClientValue');
    assert.equal(sub.applicationId, g.graph.clientId);
    assert.ok(hook.validations.some((v) => v.path === '/api/send/myNotifyClient'));
    subscriptionId = sub.id;
  });

  test('webhooks__02: the validation request is a POST to the notificationUrl with ?validationToken= and Content-Type text/plain', () => {
    replayed.add('webhooks__02.http.txt');
    const v = hook.validations.find((x) => x.path === '/api/send/myNotifyClient');
    assert.ok(v);
    assert.ok(v.token.length > 0);
    assert.match(v.contentType, /^text\/plain; charset=utf-8$/i);
  });

  test('webhooks__05: the notification of a new message has the documented shape (its own id included)', async () => {
    replayed.add('webhooks__05.json');
    await g.s.control('POST', `/mailboxes/${MAILBOX}/messages`, { from: 'danas@fabrikam.test', to: MAILBOX, subject: 'Notified', body: 'n' });
    const n = await hook.waitFor((x) => x.path === '/api/send/myNotifyClient');
    const problems = differences(shapeOf(docJson('webhooks__05.json')), shapeOf(n.body), { mode: 'same' });
    assert.deepEqual(problems, [], JSON.stringify(n.body));
    const entries = (n.body as { value: Array<{ id: string }> }).value;
    assert.ok(entries.every((e) => e.id.length > 0), 'each notification has a non-empty id');
  });

  test('subscription-update__02 → __03: 200 and the documented subscription', async () => {
    const a = await replay('subscription-update__02.http.txt', { '{id}': subscriptionId }, () => ({ expirationDateTime: future(120) }));
    const documented = responseOf('subscription-update__03.http.txt');
    expectStatus(a, documented.status, 'renew');
    expectShape(a, documented.body, { mode: 'same', ignoreDocumented: ['$.notificationContentType'], laterAdditions: ['$.@odata.context', '$.notificationQueryOptions', '$.notificationUrlAppId'] }, 'renew');
  });

  test('webhooks__03: PATCH subscriptions/{id} renews (200)', async () => {
    const a = await replay('webhooks__03.http.txt', { '{id}': subscriptionId }, () => ({ expirationDateTime: future(180) }));
    expectStatus(a, 200, 'renew');
    assert.equal(Date.parse(a.json<{ expirationDateTime: string }>().expirationDateTime), Date.parse(future(180)));
  });

  let lifecycleId = '';
  test('webhooks-lifecycle__01 as written: a subscription on /users/{id}/messages (changeType created,updated, lifecycleNotificationUrl) → 201', async () => {
    const a = await replay('webhooks-lifecycle__01.http.txt', {}, (body) => ({
      ...(body as object),
      notificationUrl: `${hook.url}/api/resourceNotifications`,
      lifecycleNotificationUrl: `${hook.url}/api/lifecycleNotifications`,
      resource: `/users/${userId}/messages`,
      expirationDateTime: future(60),
    }));
    expectStatus(a, 201, 'subscribe with lifecycle');
    const sub = a.json<{ id: string; changeType: string; resource: string }>();
    assert.equal(sub.changeType, 'created,updated');
    assert.equal(sub.resource, `/users/${userId}/messages`);
    expectStatus(await g.call('DELETE', `/subscriptions/${sub.id}`), 204, 'unsubscribe');
  });

  test('webhooks-lifecycle__01 on the Inbox (changeType created): with lifecycleNotificationUrl → 201', async () => {
    const doc = JSON.parse(docHttp('webhooks-lifecycle__01.http.txt').body) as Record<string, unknown>;
    // changeType 'created' on the Inbox: what Liaison subscribes to.
    const a = await g.call('POST', '/subscriptions', {
      body: { ...doc, changeType: 'created', notificationUrl: `${hook.url}/api/resourceNotifications`, lifecycleNotificationUrl: `${hook.url}/api/lifecycleNotifications`, resource: `/users/${userId}/mailFolders('inbox')/messages`, expirationDateTime: future(60) },
    });
    expectStatus(a, 201, 'subscribe with lifecycle');
    lifecycleId = a.json<{ id: string }>().id;
    assert.equal(a.json<{ lifecycleNotificationUrl: string }>().lifecycleNotificationUrl, `${hook.url}/api/lifecycleNotifications`);
  });

  test('webhooks-lifecycle__02/03/04: the lifecycle notifications go to lifecycleNotificationUrl in the documented shapes', async () => {
    const cases = [
      ['webhooks-lifecycle__04.json', 'reauthorizationRequired'],
      ['webhooks-lifecycle__03.json', 'missed'],
      ['webhooks-lifecycle__02.json', 'subscriptionRemoved'],
    ] as const;
    for (const [file] of cases) replayed.add(file);
    assert.ok(lifecycleId, 'the subscription with a lifecycle URL exists');
    for (const [file, event] of cases) {
      const sent = await g.s.control('POST', `/graph/subscriptions/${lifecycleId}/lifecycle`, { event });
      assert.ok(sent.status < 300, JSON.stringify(sent.json));
      const n = await hook.waitFor((x) => x.path === '/api/lifecycleNotifications' && JSON.stringify(x.body).includes(event));
      assert.deepEqual(differences(shapeOf(docJson(file)), shapeOf(n.body), { mode: 'same' }), [], `${event}: ${JSON.stringify(n.body)}`);
    }
    // subscriptionRemoved also deleted it.
    expectStatus(await g.call('GET', `/subscriptions/${lifecycleId}`), 404, 'removed subscription');
  });

  test('webhooks-lifecycle__05 on v1.0: POST subscriptions/{id}/reauthorize (bound action of the v1.0 CSDL) → 204; an unknown id → 404', async () => {
    const a = await g.call('POST', `/subscriptions/${subscriptionId}/reauthorize`);
    replayed.add('webhooks-lifecycle__05.http.txt');
    expectStatus(a, 204, 'reauthorize');
    const unknown = await g.call('POST', '/subscriptions/00000000-0000-4000-8000-000000000000/reauthorize');
    expectStatus(unknown, 404, 'reauthorize unknown');
    assert.deepEqual(checkGraphError(unknown.json()), []);
  });

  test('webhooks-lifecycle__06 on v1.0: PATCH subscriptions/{id} → 200', async () => {
    const doc = docHttp('webhooks-lifecycle__06.http.txt');
    replayed.add('webhooks-lifecycle__06.http.txt');
    const a = await g.call('PATCH', `/subscriptions/${subscriptionId}`, { body: { ...(JSON.parse(doc.body) as object), expirationDateTime: future(90) } });
    expectStatus(a, 200, 'renew');
  });

  test('webhooks__01: changeType created,updated on /me/mailfolders(\'inbox\')/messages → 201', async () => {
    const a = await replay('webhooks__01.http.txt', {}, (body) => ({ ...(body as object), notificationUrl: `${hook.url}/notificationClient`, resource: `/users/${MAILBOX}/mailfolders('inbox')/messages`, expirationDateTime: future(60) }));
    expectStatus(a, 201, 'subscribe');
    assert.equal(a.json<{ changeType: string }>().changeType, 'created,updated');
  });

  test('webhooks__04: DELETE subscriptions/{id} → 204, then gone', async () => {
    const a = await replay('webhooks__04.http.txt', { '{id}': subscriptionId });
    expectStatus(a, 204, 'unsubscribe');
    const again = await g.call('GET', `/subscriptions/${subscriptionId}`);
    expectStatus(again, 404, 'read after delete');
  });

  // ---- throttling ----

  test('throttling__01: 429 with Retry-After and the documented error shape', async () => {
    const documented = responseOf('throttling__01.http.txt');
    const fault = await g.s.control('POST', '/faults', { kind: 'http429', operation: 'graph.list', times: 1 });
    assert.ok(fault.status < 300, JSON.stringify(fault.json));
    const a = await g.call('GET', `/users/${MAILBOX}/mailFolders/inbox/messages?$select=subject`);
    expectStatus(a, documented.status, 'throttled');
    assert.ok(Number(a.headers['retry-after']) > 0, 'Retry-After in seconds');
    assert.deepEqual(checkGraphError(a.json()), []);
    // Embeds: error.code, error.message and an innerError; the documented innerError's members differ by service.
    expectShape(a, { error: { code: 'x', message: 'x', innerError: {} } }, { mode: 'embeds' }, 'throttled');
    assert.match(a.json<{ error: { code: string } }>().error.code, /^(TooManyRequests|ApplicationThrottled)$/);
  });

  // ---- inventory ----

  test('every documentation example was replayed, exercised through another, or listed as not applicable with why', () => {
    const files = readdirSync(DOCS).filter((f) => f !== 'INDEX.md');
    const accounted = (f: string) => replayed.has(f) || f in NOT_APPLICABLE || f in SYNTAX;
    assert.deepEqual(files.filter((f) => !accounted(f)), []);
    for (const f of [...Object.keys(NOT_APPLICABLE), ...Object.keys(SYNTAX)]) assert.ok(files.includes(f), `${f} exists`);
    // Replays that ran must not also be excused, but for those replayed adapted (their entry says how).
    const adapted = ['json-batching__02.json', 'json-batching__05.json', 'webhooks-lifecycle__05.http.txt', 'webhooks-lifecycle__06.http.txt'];
    assert.deepEqual([...replayed].filter((f) => f in NOT_APPLICABLE && !adapted.includes(f)), []);
  });
});
