/**
 * The Graph metadata checker (test/helpers/graph-csdl.ts) checked itself: every documented response body in
 * fixtures-from-docs/ conforms to the CSDL (where a documentation example disagrees with the CSDL, the exact
 * property is exempted below with the reason), and hand-made wrong payloads are caught, each at its JSON path.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import {
  applyExemptions,
  checkBatchResponse,
  checkGraphError,
  checkPrimitive,
  checkTokenResponse,
  formatProblems,
  GraphCsdl,
  graphReferenceDir,
  parseDocHttp,
  type CheckOptions,
  type CsdlExemption,
  type CsdlProblem,
} from '../helpers/graph-csdl.js';
import { requireService } from '../helpers/services.js';

const GRAPH = graphReferenceDir();
const DOCS = GRAPH ? path.join(GRAPH, 'fixtures-from-docs') : '';
const problem = GRAPH && existsSync(path.join(GRAPH, 'graph-v1.0-mail-trimmed.csdl.xml')) ? null : 'no graph reference folder (set LIAISON_REFERENCE_DIR)';

/** How each documented response body is checked, and what in it is exempt (exact paths, with the reason). */
type Check =
  | { kind: 'entity'; type: string; options?: CheckOptions; exempt?: CsdlExemption[] }
  | { kind: 'collection'; type: string; options?: CheckOptions; exempt?: CsdlExemption[] }
  | { kind: 'error'; exempt?: CsdlExemption[] }
  | { kind: 'token' }
  | { kind: 'batch' };

const NOT_IN_CSDL =
  'the 2021 example shows notificationContentType, which the v1.0 CSDL (msgraph-metadata f54f11b) does not declare on subscription: the sandbox must not send it';
const PLACEHOLDER_GUID = 'a placeholder (<subscription_guid>-style) where the documentation means a GUID';

const RESPONSES: Record<string, Check> = {
  'auth-v2-service__01.json': { kind: 'token' },
  'auth-v2-service__04.json': { kind: 'entity', type: 'user' },
  'delta-query-messages__03.json': { kind: 'collection', type: 'message', options: { delta: true } },
  'delta-query-messages__05.json': { kind: 'collection', type: 'message', options: { delta: true } },
  'delta-query-messages__07.json': { kind: 'collection', type: 'message', options: { delta: true } },
  'delta-query-messages__09.json': {
    kind: 'collection',
    type: 'message',
    options: { delta: true },
    exempt: [{ path: '$.value[1].isRead', reason: 'the example writes the Edm.Boolean as the string "true"; its sibling examples (03, 05, 07) write true' }],
  },
  'errors__01.json': { kind: 'error' },
  'json-batching__04.json': { kind: 'batch' },
  'mailfolder-post-childfolders__03.http.txt': { kind: 'entity', type: 'mailFolder' },
  'message-delta__02.http.txt': {
    kind: 'collection',
    type: 'message',
    options: { delta: true },
    exempt: [
      { path: "$['@odata.context']", reason: 'the API page abridges the answer (the concept page delta-query-messages__03 shows @odata.context)' },
      { path: '$.value[0].receivedDateTime', reason: 'the placeholder "datetime-value" stands for a DateTimeOffset' },
      { path: '$.value[0].sentDateTime', reason: 'the placeholder "datetime-value" stands for a DateTimeOffset' },
      { path: '$.value[0].body.contentType', reason: 'the placeholder "contentType-value" stands for a bodyType member (text or html)' },
    ],
  },
  'message-move__03.http.txt': { kind: 'entity', type: 'message' },
  'subscription-post-subscriptions__03.http.txt': { kind: 'entity', type: 'subscription', exempt: [{ path: '$.notificationContentType', reason: NOT_IN_CSDL }] },
  'subscription-update__03.http.txt': { kind: 'entity', type: 'subscription', exempt: [{ path: '$.notificationContentType', reason: NOT_IN_CSDL }] },
  'throttling__01.http.txt': { kind: 'error' },
  'user-post-mailfolders__03.http.txt': { kind: 'entity', type: 'mailFolder' },
  'user-sendmail__10.http.txt': { kind: 'error' },
  // Notifications Graph POSTs to the subscriber: changeNotificationCollection.
  'webhooks__05.json': {
    kind: 'entity',
    type: 'changeNotificationCollection',
    exempt: [{ path: '$.value[0].subscriptionId', reason: PLACEHOLDER_GUID }],
  },
  'webhooks-lifecycle__02.json': {
    kind: 'entity',
    type: 'changeNotificationCollection',
    exempt: [
      { path: '$.value[0].subscriptionId', reason: PLACEHOLDER_GUID },
      { path: '$.value[0].tenantId', reason: PLACEHOLDER_GUID },
    ],
  },
  'webhooks-lifecycle__03.json': {
    kind: 'entity',
    type: 'changeNotificationCollection',
    exempt: [
      { path: '$.value[0].subscriptionId', reason: PLACEHOLDER_GUID },
      { path: '$.value[0].tenantId', reason: PLACEHOLDER_GUID },
    ],
  },
  'webhooks-lifecycle__04.json': {
    kind: 'entity',
    type: 'changeNotificationCollection',
    exempt: [
      {
        path: '$.value[0].subscriptionExpirationDateTime',
        reason: 'written with the offset +00:00, a valid OData DateTimeOffset but not the UTC "Z" form the checker demands of the sandbox (the other lifecycle examples use Z)',
      },
    ],
  },
};

/** Files that are not a response body to check against the CSDL, each with why. Every file is in one of the two lists. */
const NOT_RESPONSES: Record<string, string> = {
  'errors__02.json': 'the error resource type definition ({"error": odata.error}) the error checker implements',
  'errors__03.json': 'the odata.error definition (code, message, innererror) the error checker implements',
  'json-batching__02.json': 'a $batch request body (replayed in graph-replay.test.ts)',
  'json-batching__05.json': 'a $batch request body with dependsOn (replayed in graph-replay.test.ts)',
  'auth-v2-service__03.http.txt': 'response headers only (the body is auth-v2-service__04.json)',
  'json-batching__03.http.txt': 'response headers only (the body is json-batching__04.json)',
  'outlook-get-mime-message__03.http.txt': 'a MIME message ($value), not JSON',
  'outlook-send-mime-message__01.http.txt': 'a MIME message, not JSON',
  'outlook-send-mime-message__02.http.txt': 'a base64 MIME request body, not JSON',
  'outlook-send-mime-message__03.http.txt': 'a MIME part, not JSON',
  'webhooks__02.http.txt': 'the validation request Graph sends (no JSON body)',
  'user-sendmail__03.http.txt': '202 Accepted, no body',
  'user-sendmail__05.http.txt': '202 Accepted, no body',
  'user-sendmail__07.http.txt': '202 Accepted, no body',
  'user-sendmail__09.http.txt': '202 Accepted, no body',
};

function responseBody(file: string): unknown {
  const text = readFileSync(path.join(DOCS, file), 'utf8');
  return JSON.parse(file.endsWith('.json') ? text : parseDocHttp(text).body);
}

function check(csdl: GraphCsdl, payload: unknown, how: Check): CsdlProblem[] {
  switch (how.kind) {
    case 'entity':
      return csdl.checkEntity(payload, how.type, how.options);
    case 'collection':
      return csdl.checkCollection(payload, how.type, how.options);
    case 'error':
      return checkGraphError(payload);
    case 'token':
      return checkTokenResponse(payload);
    case 'batch': {
      const problems = checkBatchResponse(payload);
      for (const [i, r] of ((payload as { responses: Array<{ status: number; body?: unknown }> }).responses ?? []).entries()) {
        if (r.status >= 400) problems.push(...checkGraphError(r.body).map((p) => ({ ...p, path: p.path.replace('$', `$.responses[${i}].body`) })));
        // plannerTask is not in the mail CSDL; its collection is empty, so only the collection envelope is checked.
        else if (r.body && typeof r.body === 'object') problems.push(...csdl.checkCollection(r.body, 'plannerTask').map((p) => ({ ...p, path: p.path.replace('$', `$.responses[${i}].body`) })));
      }
      return problems;
    }
  }
}

describe('Graph CSDL checker', requireService('Graph reference', problem), () => {
  const csdl = problem ? (null as unknown as GraphCsdl) : GraphCsdl.load();

  test('the CSDL loads through the project parser (the duplicated xmlns of its Schema tag repaired) with the mail types', () => {
    const names = csdl.typeNames();
    for (const t of ['message', 'outlookItem', 'entity', 'mailFolder', 'subscription', 'recipient', 'itemBody', 'changeNotification', 'bodyType', 'importance', 'user', 'directoryObject']) {
      assert.ok(names.includes(`microsoft.graph.${t}`), `${t} is declared`);
    }
    // The base chain: message → outlookItem → entity.
    assert.equal(csdl.property('message', 'id')?.type, 'Edm.String');
    assert.equal(csdl.property('message', 'changeKey')?.type, 'Edm.String');
    assert.equal(csdl.property('message', 'toRecipients')?.collection, true);
    assert.equal(csdl.property('message', 'attachments')?.navigation, true);
    assert.equal(GraphCsdl.repair('<Schema xmlns="a" N="x" xmlns="a">'), '<Schema xmlns="a" N="x">');
  });

  test('every file of fixtures-from-docs is either a checked response or listed with why it is not one', () => {
    const files = readdirSync(DOCS).filter((f) => f !== 'INDEX.md');
    const requests = files.filter((f) => f.endsWith('.http.txt') && parseDocHttp(readFileSync(path.join(DOCS, f), 'utf8')).kind === 'request');
    const unlisted = files.filter((f) => !(f in RESPONSES) && !(f in NOT_RESPONSES) && !requests.includes(f));
    assert.deepEqual(unlisted, [], 'files neither checked nor explained');
    for (const f of [...Object.keys(RESPONSES), ...Object.keys(NOT_RESPONSES)]) assert.ok(files.includes(f), `${f} exists`);
  });

  for (const [file, how] of Object.entries(RESPONSES)) {
    test(`documentation example ${file} conforms (${how.kind}${'type' in how ? ` ${how.type}` : ''})`, () => {
      const exemptions = 'exempt' in how ? (how.exempt ?? []) : [];
      const { problems, unused } = applyExemptions(check(csdl, responseBody(file), how), exemptions);
      assert.deepEqual(problems, [], `${file}:\n${formatProblems(problems)}`);
      assert.deepEqual(unused, [], `${file}: exemptions that no longer match a problem (remove them)`);
    });
  }

  // ---- wrong payloads are caught ----

  const good = () => responseBody('message-move__03.http.txt') as Record<string, unknown>;
  const paths = (problems: CsdlProblem[]) => problems.map((p) => p.path);

  test('a good message has no problems (the base for the wrong ones)', () => {
    assert.deepEqual(csdl.checkEntity(good(), 'message'), []);
  });

  test('a misspelled property is reported at its path, with the declared name suggested', () => {
    const m = good();
    m.recievedDateTime = m.receivedDateTime;
    const problems = csdl.checkEntity(m, 'message');
    assert.deepEqual(paths(problems), ['$.recievedDateTime']);
    assert.match(problems[0]!.message, /did you mean "receivedDateTime"/);
    // Case matters in OData JSON: Subject is not subject.
    assert.deepEqual(paths(csdl.checkEntity({ id: 'x', Subject: 's' }, 'message')), ['$.Subject']);
  });

  test('a misspelling inside a complex type is reported at the nested path', () => {
    const m = good();
    (m.sender as { emailAddress: Record<string, unknown> }).emailAddress.adress = 'a@b';
    assert.deepEqual(paths(csdl.checkEntity(m, 'message')), ['$.sender.emailAddress.adress']);
  });

  test('a number where a string is declared, a string where a boolean is, and an object where a collection is', () => {
    const m = good();
    m.subject = 42;
    m.isRead = 'false';
    m.toRecipients = { emailAddress: { address: 'a@b' } };
    const problems = csdl.checkEntity(m, 'message');
    assert.deepEqual(paths(problems).sort(), ['$.isRead', '$.subject', '$.toRecipients']);
    assert.match(problems.find((p) => p.path === '$.subject')!.message, /Edm\.String is a string, not the number 42/);
  });

  test('bad dates: not ISO 8601, without a zone, not UTC, or a day that does not exist', () => {
    for (const bad of ['2018-08-12 08:43:22', '2018-08-12T08:43:22', '2018-08-12T08:43Z', '2018-02-30T08:43:22Z', '2018-13-01T00:00:00Z', '2018-08-12T24:00:00Z', 'datetime-value', 1534063402]) {
      const m = good();
      m.receivedDateTime = bad;
      assert.deepEqual(paths(csdl.checkEntity(m, 'message')), ['$.receivedDateTime'], `${JSON.stringify(bad)} is refused`);
    }
    for (const fine of ['2018-08-12T08:43:22Z', '2016-11-20T18:23:45.9356913Z', '2024-02-29T23:59:59Z']) assert.equal(checkPrimitive(fine, 'Edm.DateTimeOffset'), null, fine);
  });

  test('enum members are the declared names, exactly; Int32 is an integer; Guid has its form; null only where nullable', () => {
    const m = good();
    m.importance = 'Normal';
    (m.body as Record<string, unknown>).contentType = 'HTML';
    (m.flag as Record<string, unknown>).flagStatus = 1;
    assert.deepEqual(paths(csdl.checkEntity(m, 'message')).sort(), ['$.body.contentType', '$.flag.flagStatus', '$.importance']);
    assert.deepEqual(paths(csdl.checkEntity({ id: 'f', totalItemCount: 1.5, unreadItemCount: '3' }, 'mailFolder')).sort(), ['$.totalItemCount', '$.unreadItemCount']);
    assert.deepEqual(paths(csdl.checkEntity({ value: [{ subscriptionId: 'not-a-guid', tenantId: null, changeType: 'created', resource: 'r', subscriptionExpirationDateTime: '2020-01-01T00:00:00Z' }] }, 'changeNotificationCollection')).sort(), [
      '$.value[0].subscriptionId',
      '$.value[0].tenantId',
    ]);
    assert.deepEqual(paths(csdl.checkEntity({ id: null }, 'message')), ['$.id']);
  });

  test('navigation properties only when expanded, then checked as their type; derived types through @odata.type', () => {
    const m = { id: 'm', singleValueExtendedProperties: [{ id: 'String {00020386-0000-0000-C000-000000000046} Name x-liaison-id', value: 'abc' }] };
    assert.deepEqual(paths(csdl.checkEntity(m, 'message')), ['$.singleValueExtendedProperties']);
    assert.deepEqual(csdl.checkEntity(m, 'message', { expand: ['singleValueExtendedProperties'] }), []);
    const bad = { id: 'm', singleValueExtendedProperties: [{ id: 'p', value: 1 }] };
    assert.deepEqual(paths(csdl.checkEntity(bad, 'message', { expand: ['singleValueExtendedProperties'] })), ['$.singleValueExtendedProperties[0].value']);
    const attachment = { '@odata.type': '#microsoft.graph.fileAttachment', id: 'a', name: 'a.txt', contentType: 'text/plain', size: 12, isInline: false, contentBytes: 'SGVsbG8gV29ybGQh' };
    assert.deepEqual(csdl.checkEntity({ id: 'm', attachments: [attachment] }, 'message', { expand: ['attachments'] }), []);
    // attachment is abstract: without @odata.type the concrete type is unknown; a type not derived from it is wrong.
    const { '@odata.type': _dropped, ...untyped } = attachment;
    assert.deepEqual(paths(csdl.checkEntity({ id: 'm', attachments: [untyped] }, 'message', { expand: ['attachments'] })).sort(), ['$.attachments[0]', '$.attachments[0].contentBytes']);
    assert.deepEqual(paths(csdl.checkEntity({ id: 'm', attachments: [{ ...attachment, '@odata.type': '#microsoft.graph.mailFolder' }] }, 'message', { expand: ['attachments'] })).sort(), ['$.attachments[0].contentBytes', "$.attachments[0]['@odata.type']"]);
  });

  test('annotations: @odata.* strings anywhere, name@odata.* on declared properties, @removed only in delta answers', () => {
    assert.deepEqual(csdl.checkEntity({ '@odata.etag': 'W/"x"', id: 'm', 'attachments@odata.navigationLink': 'u' }, 'message'), []);
    assert.deepEqual(paths(csdl.checkEntity({ '@odata.etag': 7, id: 'm' }, 'message')), ["$['@odata.etag']"]);
    assert.deepEqual(paths(csdl.checkEntity({ id: 'm', '@microsoft.graph.tips': 'x', 'subjekt@odata.type': 'x' }, 'message')).sort(), ["$['@microsoft.graph.tips']", "$['subjekt@odata.type']"]);
    const removed = { '@odata.context': 'c', '@odata.deltaLink': 'https://g/d', value: [{ id: 'gone', '@removed': { reason: 'deleted' } }] };
    assert.deepEqual(csdl.checkCollection(removed, 'message', { delta: true }), []);
    assert.deepEqual(paths(csdl.checkCollection(removed, 'message')).sort(), ["$.value[0]['@removed']", "$['@odata.deltaLink']"].sort());
    const badRemoved = { '@odata.context': 'c', '@odata.deltaLink': 'https://g/d', value: [{ id: 'gone', subject: 's', '@removed': { reason: 'expired' } }] };
    assert.deepEqual(paths(csdl.checkCollection(badRemoved, 'message', { delta: true })).sort(), ['$.value[0]', "$.value[0]['@removed'].reason"]);
  });

  test('collection answers: value an array, only the three annotations beside it, one link on a delta page, context required', () => {
    assert.deepEqual(paths(csdl.checkCollection({ value: [] }, 'message')), ["$['@odata.context']"]);
    assert.deepEqual(paths(csdl.checkCollection({ '@odata.context': 'c', value: {} }, 'message')), ['$.value']);
    assert.deepEqual(paths(csdl.checkCollection({ '@odata.context': 'c', value: [], nextLink: 'x' }, 'message')), ['$.nextLink']);
    assert.deepEqual(paths(csdl.checkCollection({ '@odata.context': 'c', value: [] }, 'message', { delta: true })), ['$']);
    assert.deepEqual(paths(csdl.checkCollection({ '@odata.context': 'c', '@odata.nextLink': 'https://a', '@odata.deltaLink': 'https://b', value: [] }, 'message', { delta: true })), ['$']);
    assert.deepEqual(paths(csdl.checkCollection({ '@odata.context': 'c', '@odata.nextLink': '/relative', value: [] }, 'message')), ["$['@odata.nextLink']"]);
  });

  test('$select: properties beyond the selection (and id) are reported', () => {
    const item = { '@odata.etag': 'W/"x"', id: 'm', subject: 's', isRead: true };
    assert.deepEqual(csdl.checkEntity(item, 'message', { select: ['subject', 'isRead'] }), []);
    assert.deepEqual(paths(csdl.checkEntity(item, 'message', { select: ['subject'] })), ['$.isRead']);
  });

  test('error answers: {error: {code, message, innerError?}} and nothing else', () => {
    assert.deepEqual(checkGraphError({ error: { code: 'ErrorItemNotFound', message: 'The specified object was not found in the store.', innerError: { date: '2024-01-01T00:00:00', 'request-id': 'r', 'client-request-id': 'c' } } }), []);
    assert.deepEqual(paths(checkGraphError({ error: { message: 'm' } })), ['$.error.code']);
    assert.deepEqual(paths(checkGraphError({ error: { code: 'X', message: 'm', status: 404 } })), ['$.error.status']);
    assert.deepEqual(paths(checkGraphError({ code: 'X', message: 'm' })).sort(), ['$.code', '$.error', '$.message']);
    assert.deepEqual(paths(checkGraphError({ error: { code: 'X', message: 'm', innerError: { date: 5 } } })), ['$.error.innerError.date']);
  });

  test('token answers: Bearer, expires_in seconds, access_token', () => {
    assert.deepEqual(checkTokenResponse({ token_type: 'Bearer', expires_in: 3599, ext_expires_in: 3599, access_token: 'eyJ' }), []);
    assert.deepEqual(paths(checkTokenResponse({ token_type: 'bearer', expires_in: '3599', access_token: 'eyJ', refresh_token: 'r' })).sort(), ['$.expires_in', '$.refresh_token', '$.token_type']);
  });
});
