/**
 * GET /email-activities with the console's filters (party, q, since/until, conversationId) over HTTP on SQLite
 * and PostgreSQL: what they find, the 400s for bad values, a user's own email only, and the OpenAPI document.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { openApi, type TestApi } from './helpers/api.js';
import { DATABASES } from './helpers/stores.js';

for (const kind of DATABASES) {
  describe(`email activity filters over the API on ${kind.name}`, kind.suite, () => {
    let api: TestApi;
    let contactDraft: string;
    let memberDraft: string;
    before(async () => {
      api = await openApi(kind);
      const contact = await api.call('POST', '/api/v1/contacts', { body: { name: 'Carla Contact', emailAddresses: ['carla@fabrikam.test'] } });
      assert.equal(contact.statusCode, 201);
      const created = await api.call('POST', '/api/v1/email-activities', { body: { subject: 'Quote for Carla', to: ['Carla@Fabrikam.test'] } });
      assert.equal(created.statusCode, 201);
      contactDraft = created.json().id;
      const other = await api.call('POST', '/api/v1/email-activities', { body: { subject: 'Lunch?', to: ['bob@northwind.test'] } });
      assert.equal(other.statusCode, 201);
      const mine = await api.call('POST', '/api/v1/email-activities', { token: api.userToken, body: { subject: 'Member writes to Carla', to: ['carla@fabrikam.test'] } });
      assert.equal(mine.statusCode, 201);
      memberDraft = mine.json().id;
    });
    after(async () => api?.close());

    const ids = (response: { json(): { items: Array<{ id: string }> } }) => response.json().items.map((a) => a.id);

    test('party and q find the email; a user finds only their own', async () => {
      const byParty = await api.call('GET', '/api/v1/email-activities?party=CARLA%40fabrikam');
      assert.equal(byParty.statusCode, 200);
      assert.deepEqual(ids(byParty), [memberDraft, contactDraft]);
      assert.deepEqual(ids(await api.call('GET', '/api/v1/email-activities?party=carla&q=quote')), [contactDraft]);
      assert.deepEqual(ids(await api.call('GET', '/api/v1/email-activities?party=carla', { token: api.userToken })), [memberDraft]);
      const paged = await api.call('GET', '/api/v1/email-activities?party=carla&limit=1');
      assert.deepEqual(ids(paged), [memberDraft]);
      const next = await api.call('GET', `/api/v1/email-activities?party=carla&limit=1&after=${paged.json().nextCursor}`);
      assert.deepEqual(ids(next), [contactDraft]);
      assert.equal(next.json().nextCursor, null);
    });

    test('since and until take date-times; since must come before until', async () => {
      const hourAgo = encodeURIComponent(new Date(Date.now() - 3_600_000).toISOString());
      const inAnHour = encodeURIComponent(new Date(Date.now() + 3_600_000).toISOString());
      assert.equal(ids(await api.call('GET', `/api/v1/email-activities?since=${hourAgo}&until=${inAnHour}`)).length, 3);
      assert.deepEqual(ids(await api.call('GET', `/api/v1/email-activities?until=${hourAgo}`)), []);
      const reversed = await api.call('GET', `/api/v1/email-activities?since=${inAnHour}&until=${hourAgo}`);
      assert.equal(reversed.statusCode, 400);
      assert.deepEqual(reversed.json().problems.map((p: { field: string }) => p.field), ['until']);
      const notATime = await api.call('GET', '/api/v1/email-activities?since=last-week');
      assert.equal(notATime.statusCode, 400);
      assert.match(JSON.stringify(notATime.json().problems), /since/);
      const empty = await api.call('GET', '/api/v1/email-activities?party=');
      assert.equal(empty.statusCode, 400);
    });

    test('conversationId and messageId are applied: no email of these has them', async () => {
      // (Which email they find is tested on the store, with received email that has both.)
      assert.deepEqual(ids(await api.call('GET', '/api/v1/email-activities?conversationId=conv-none')), []);
      assert.deepEqual(ids(await api.call('GET', `/api/v1/email-activities?messageId=${encodeURIComponent('<none@x.test>')}`)), []);
    });

    test('the OpenAPI document lists the new filters', async () => {
      const doc = (await api.call('GET', '/api/v1/openapi.json', { token: null })).json();
      const names = doc.paths['/api/v1/email-activities'].get.parameters.map((p: { name: string }) => p.name);
      for (const name of ['party', 'q', 'since', 'until', 'conversationId', 'messageId']) assert.ok(names.includes(name), `${name} is documented`);
    });
  });
}
