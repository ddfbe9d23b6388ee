/**
 * What the API takes and refuses before a request reaches the store: body sizes (413 naming the limit), lists
 * that never carry whole bodies, NUL characters (which PostgreSQL cannot store), and bodies that are not JSON
 * objects. The same tests on SQLite and PostgreSQL.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { BODY_LIMITS } from '../src/api/server.js';
import { ACTIVITY_LIMITS, ATTACHMENT_POLICY, DRAFT_REQUEST_MAX_BYTES } from '../src/domain/activity.js';
import { openApi, type TestApi } from './helpers/api.js';
import { DATABASES } from './helpers/stores.js';

/** `json` padded with trailing spaces (still valid JSON) to exactly `bytes` bytes. */
function padded(json: unknown, bytes: number): string {
  const text = JSON.stringify(json);
  assert.ok(Buffer.byteLength(text) <= bytes);
  return text + ' '.repeat(bytes - Buffer.byteLength(text));
}

for (const kind of DATABASES) {
  describe(`REST API limits on ${kind.name}`, kind.suite, () => {
    let api: TestApi;
    before(async () => {
      api = await openApi(kind);
    });
    after(async () => api?.close());

    function raw(method: 'POST' | 'PATCH' | 'GET', url: string, payload?: string, contentType: string | null = 'application/json', token = api.userToken) {
      return api.app.inject({
        method,
        url,
        headers: { authorization: `Bearer ${token}`, ...(contentType ? { 'content-type': contentType } : {}) },
        ...(payload !== undefined ? { payload } : {}),
      });
    }

    test('a draft one byte over its limit is 413 naming the limit; one at the limit is taken', async () => {
      const at = await raw('POST', '/api/v1/email-activities', padded({ subject: 'at the limit' }, DRAFT_REQUEST_MAX_BYTES));
      assert.equal(at.statusCode, 201, at.body.slice(0, 300));
      const over = await raw('POST', '/api/v1/email-activities', padded({ subject: 'over the limit' }, DRAFT_REQUEST_MAX_BYTES + 1));
      assert.equal(over.statusCode, 413);
      assert.match(over.headers['content-type'] as string, /application\/json/);
      const body = over.json();
      assert.equal(body.error, 'Payload Too Large');
      assert.ok(body.message.includes(`${DRAFT_REQUEST_MAX_BYTES.toLocaleString('en-US')} bytes`), body.message);
      assert.match(body.message, /POST \/api\/v1\/email-activities/);
      const patch = await raw('PATCH', `/api/v1/email-activities/${at.json().id}`, padded({ subject: 'x' }, DRAFT_REQUEST_MAX_BYTES + 1));
      assert.equal(patch.statusCode, 413);
    });

    test('other bodies have a smaller limit, and routes that take no body almost none', async () => {
      const at = await raw('POST', '/api/v1/contacts', padded({ name: 'Padded Contact' }, BODY_LIMITS.default), 'application/json', api.adminToken);
      assert.equal(at.statusCode, 201, at.body);
      const over = await raw('POST', '/api/v1/contacts', padded({ name: 'Padded Contact' }, BODY_LIMITS.default + 1), 'application/json', api.adminToken);
      assert.equal(over.statusCode, 413);
      assert.match(over.json().message, /524,288 bytes \(512 KiB\)/);

      const draft = (await api.call('POST', '/api/v1/email-activities', { token: api.userToken, body: { subject: 's' } })).json();
      const send = await raw('POST', `/api/v1/email-activities/${draft.id}/send`, padded({}, BODY_LIMITS.noBody + 1));
      assert.equal(send.statusCode, 413);
      assert.match(send.json().message, /1,024 bytes/);
    });

    test('the limits are in the OpenAPI document', async () => {
      const doc = (await api.call('GET', '/api/v1/openapi.json', { token: null })).json();
      const create = doc.paths['/api/v1/email-activities'].post;
      assert.ok(create.description.includes(`${DRAFT_REQUEST_MAX_BYTES.toLocaleString('en-US')} bytes`), create.description);
      assert.ok(create.responses['413'], '413 is documented');
      const schema = create.requestBody.content['application/json'].schema;
      assert.equal(schema.properties.bodyText.maxLength, ACTIVITY_LIMITS.bodyMaxLength);
      assert.equal(schema.properties.subject.maxLength, ACTIVITY_LIMITS.subjectMaxLength);
      assert.equal(schema.properties.attachments.maxItems, ATTACHMENT_POLICY.maxCount);
      assert.ok(schema.properties.attachments.items.properties.contentBase64.maxLength > (ATTACHMENT_POLICY.maxBytes * 4) / 3);
      assert.ok(doc.paths['/api/v1/contacts'].post.description.includes('524,288 bytes'));
      const list = doc.paths['/api/v1/email-activities'].get.responses['200'].content['application/json'].schema;
      assert.equal(list.properties.items.items.properties.bodyText, undefined, 'list items carry no body');
      assert.equal(list.properties.items.items.properties.bodyExcerpt.type[0], 'string');
    });

    test('a body, an attachment or the attachments of one email over their limits are 400 naming them', async () => {
      const long = await api.call('POST', '/api/v1/email-activities', { token: api.userToken, body: { bodyHtml: 'x'.repeat(ACTIVITY_LIMITS.bodyMaxLength + 1) } });
      assert.equal(long.statusCode, 400);
      assert.deepEqual(long.json().problems.map((p: { field: string }) => p.field), ['bodyHtml']);
      assert.match(long.json().message, /1048576 characters/);

      const file = (bytes: number, name = 'f.bin') => ({ fileName: name, contentBase64: Buffer.alloc(bytes, 1).toString('base64') });
      const big = await api.call('POST', '/api/v1/email-activities', { token: api.userToken, body: { attachments: [file(ATTACHMENT_POLICY.maxBytes + 1)] } });
      assert.equal(big.statusCode, 400);
      assert.match(big.json().message, /at most 5120 KB/);

      const many = await api.call('POST', '/api/v1/email-activities', {
        token: api.userToken,
        body: { attachments: Array.from({ length: ATTACHMENT_POLICY.maxCount }, (_, i) => file(1, `f${i}.bin`)) },
      });
      assert.equal(many.statusCode, 201, many.body.slice(0, 300));
      const oneMore = await api.call('PATCH', `/api/v1/email-activities/${many.json().id}`, { token: api.userToken, body: { attachments: [file(1)] } });
      assert.equal(oneMore.statusCode, 400);
      assert.match(oneMore.json().message, /at most 50 attachments; this one would have 51/);
    });

    test('a list after the largest draft allowed still works and carries an excerpt, not the bodies', async () => {
      const text = 'Dear Carl, '.repeat(Math.ceil(ACTIVITY_LIMITS.bodyMaxLength / 11)).slice(0, ACTIVITY_LIMITS.bodyMaxLength);
      const html = `<p>${'h'.repeat(ACTIVITY_LIMITS.bodyMaxLength - 7)}</p>`;
      const perFile = ATTACHMENT_POLICY.maxTotalBytes / 5;
      assert.ok(perFile <= ATTACHMENT_POLICY.maxBytes);
      const attachments = Array.from({ length: 5 }, (_, i) => ({ fileName: `part${i}.bin`, contentBase64: Buffer.alloc(perFile, i).toString('base64') }));
      const created = await api.call('POST', '/api/v1/email-activities', {
        token: api.userToken,
        body: { subject: 'Largest', bodyText: text, bodyHtml: html, to: ['carl@fabrikam.test'], attachments },
      });
      assert.equal(created.statusCode, 201, created.body.slice(0, 300));
      const draft = created.json();
      assert.equal(draft.bodyText.length, ACTIVITY_LIMITS.bodyMaxLength, 'composing answers with the whole email');

      const file = await api.call('GET', `/api/v1/email-activities/${draft.id}/attachments/${draft.attachments[4].id}/content`, { token: api.userToken });
      assert.equal(file.rawPayload.length, perFile);

      const overTotal = await api.call('PATCH', `/api/v1/email-activities/${draft.id}`, {
        token: api.userToken,
        body: { attachments: [{ fileName: 'one-byte.bin', contentBase64: 'AA==' }] },
      });
      assert.equal(overTotal.statusCode, 400, 'the email already holds the most attachments allowed together');
      assert.match(overTotal.json().message, /at most 25600 KB together/);

      for (const token of [api.userToken, api.adminToken]) {
        const list = await api.call('GET', '/api/v1/email-activities?limit=500', { token });
        assert.equal(list.statusCode, 200);
        assert.ok(list.body.length < 100_000, `the list is ${list.body.length} bytes`);
        const item = list.json().items.find((a: { id: string }) => a.id === draft.id);
        assert.ok(item, 'the large draft is listed');
        assert.equal(item.bodyText, undefined);
        assert.equal(item.bodyHtml, undefined);
        assert.equal(item.bodyExcerpt, text.slice(0, ACTIVITY_LIMITS.excerptLength));
        assert.equal(item.attachments.length, 5);
        assert.equal(item.attachments[0].size, perFile);
      }
      const htmlOnly = (await api.call('GET', '/api/v1/email-activities', { token: api.userToken })).json().items.find((a: { subject: string }) => a.subject === 'at the limit');
      assert.equal(htmlOnly.bodyExcerpt, null, 'no text body, no excerpt');

      const one = await api.call('GET', `/api/v1/email-activities/${draft.id}`, { token: api.userToken });
      assert.equal(one.json().bodyText, text, 'reading the email gives its whole body');
      assert.equal(one.json().bodyHtml, html);
    });

    test('a NUL character in a body, query or path string is 400 naming the field, and nothing is stored', async () => {
      const subject = await api.call('POST', '/api/v1/email-activities', { token: api.userToken, body: { subject: 'a\u0000b' } });
      assert.equal(subject.statusCode, 400, subject.body);
      assert.deepEqual(subject.json().problems, [{ field: 'subject', message: 'must not contain the NUL character (U+0000)' }]);

      const nested = await api.call('POST', '/api/v1/email-activities', {
        token: api.userToken,
        body: { to: ['ok@fabrikam.test', 'x\u0000@fabrikam.test'], attachments: [{ fileName: 'a\u0000.txt', contentBase64: '' }] },
      });
      assert.equal(nested.statusCode, 400);
      assert.deepEqual(nested.json().problems.map((p: { field: string }) => p.field).sort(), ['attachments[0].fileName', 'to[1]']);

      const contact = await api.call('POST', '/api/v1/contacts', { body: { name: 'Nul\u0000Contact' } });
      assert.equal(contact.statusCode, 400);
      assert.match(contact.json().message, /^name: must not contain the NUL character/);
      const listed = (await api.call('GET', '/api/v1/contacts?limit=500')).json();
      assert.ok(listed.items.every((c: { name: string }) => !c.name.includes('\u0000')), 'nothing was stored');

      const profile = await api.call('POST', '/api/v1/email-server-profiles', { body: { name: 'P', serverType: 'imap-smtp', incomingServer: 'imap.contoso.test', password: 'pa\u0000ss' } });
      assert.equal(profile.statusCode, 400);
      assert.deepEqual(profile.json().problems.map((p: { field: string }) => p.field), ['password']);

      for (const url of ['/api/v1/email-activities?after=%00', '/api/v1/contacts?after=a%00b', '/api/v1/mailboxes?profileId=%00', '/api/v1/alerts?after=%00']) {
        const response = await api.call('GET', url);
        assert.equal(response.statusCode, 400, `${url}: ${response.body}`);
        assert.ok(response.json().problems.some((p: { field: string; message: string }) => /NUL/.test(p.message) && p.field !== ''), url);
      }
      const search = await api.call('GET', '/api/v1/contacts?emailAddress=carl%00@fabrikam.test');
      assert.equal(search.statusCode, 400);
      assert.equal(search.json().problems[0].field, 'emailAddress');

      const path = await api.call('GET', '/api/v1/email-activities/%00');
      assert.equal(path.statusCode, 400);
      assert.equal(path.json().problems[0].field, 'id');
      const header = await api.app.inject({ method: 'GET', url: '/api/v1/users/me', headers: { authorization: 'Bearer lsn_\u0000' } });
      assert.equal(header.statusCode, 401, 'a NUL in the token is an unknown token, not a failure');
    });

    test('a body nested deeper than the call stack is refused 400, not a failure', async () => {
      const depth = 50_000;
      const response = await raw('POST', '/api/v1/email-activities', `{"subject":"deep","extra":${'['.repeat(depth)}"\\u0000"${']'.repeat(depth)}}`);
      assert.equal(response.statusCode, 400, response.body.slice(0, 300));
      assert.deepEqual(response.json().problems.map((p: { field: string }) => p.field), ['extra']);
    });

    test('text/plain carrying JSON is 415 like any other type that is not JSON', async () => {
      for (const type of ['text/plain', 'text/plain; charset=utf-8', 'application/xml', 'application/x-www-form-urlencoded']) {
        const response = await raw('POST', '/api/v1/email-activities', '{"subject":"plain"}', type);
        assert.equal(response.statusCode, 415, `${type}: ${response.body}`);
        assert.equal(response.json().message, 'Send the request body as application/json');
      }
      const json = await raw('POST', '/api/v1/email-activities', '{"subject":"json"}', 'application/json; charset=utf-8');
      assert.equal(json.statusCode, 201);
    });

    test('a body of null, an array or nothing says so', async () => {
      for (const [payload, words] of [['null', 'not null'], ['[]', 'not an array'], ['[{"subject":"x"}]', 'not an array'], ['"text"', 'not a string'], ['42', 'not a number']] as const) {
        const response = await raw('POST', '/api/v1/email-activities', payload);
        assert.equal(response.statusCode, 400, payload);
        assert.equal(response.json().message, `the request body must be a JSON object, ${words}`);
      }
      const patch = await raw('PATCH', `/api/v1/users/${api.user.id}`, 'null', 'application/json', api.adminToken);
      assert.equal(patch.json().message, 'the request body must be a JSON object, not null');
      const missing = await raw('POST', '/api/v1/contacts', undefined, null, api.adminToken);
      assert.equal(missing.statusCode, 400);
      assert.equal(missing.json().message, 'the request body is missing: send a JSON object');
    });
  });
}
