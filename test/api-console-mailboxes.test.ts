/**
 * What the console's mailbox pages need of the API: the organization's default email server profile (what
 * Apply Default Email Server Profile associates mailboxes with: set and cleared by administrators, must name a
 * profile, keeps its profile from being deleted), and a mailbox's profile in brief for its owner, who may not
 * read profiles (whether the mailbox's own login is used). On SQLite and PostgreSQL.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { openApi, type TestApi } from './helpers/api.js';
import { DATABASES } from './helpers/stores.js';

const UNKNOWN = '01234567-89ab-7cde-8f01-23456789abcd';

for (const kind of DATABASES) {
  describe(`default email server profile on ${kind.name}`, kind.suite, () => {
    let api: TestApi;
    before(async () => {
      api = await openApi(kind);
    });
    after(async () => api?.close());

    async function newProfile(name: string): Promise<string> {
      const created = await api.call('POST', '/api/v1/email-server-profiles', { body: { name, serverType: 'imap-smtp', incomingServer: 'imap.contoso.test', outgoingServer: 'smtp.contoso.test' } });
      assert.equal(created.statusCode, 201, created.body);
      return created.json().id as string;
    }

    test('none is set at first; only an existing profile can be the default, and only an administrator sets it', async () => {
      const first = await api.call('GET', '/api/v1/organization', { token: api.userToken });
      assert.equal(first.statusCode, 200);
      assert.equal(first.json().defaultProfileId, null);

      const profileId = await newProfile('Default IMAP');
      assert.equal((await api.call('PATCH', '/api/v1/organization', { token: api.userToken, body: { defaultProfileId: profileId } })).statusCode, 403);
      const unknown = await api.call('PATCH', '/api/v1/organization', { body: { defaultProfileId: UNKNOWN } });
      assert.equal(unknown.statusCode, 400);
      assert.deepEqual(unknown.json().problems, [{ field: 'defaultProfileId', message: `no email server profile has id ${UNKNOWN}` }]);
      const notAnId = await api.call('PATCH', '/api/v1/organization', { body: { defaultProfileId: 'imap' } });
      assert.equal(notAnId.statusCode, 400);
      assert.match(notAnId.body, /defaultProfileId/);
      assert.equal((await api.call('GET', '/api/v1/organization')).json().defaultProfileId, null, 'a refused change leaves no default');

      const set = await api.call('PATCH', '/api/v1/organization', { body: { defaultProfileId: profileId } });
      assert.equal(set.statusCode, 200, set.body);
      assert.equal(set.json().defaultProfileId, profileId);
      assert.equal((await api.call('GET', '/api/v1/organization', { token: api.userToken })).json().defaultProfileId, profileId);
      const other = await api.call('PATCH', '/api/v1/organization', { body: { useTrackingToken: false } });
      assert.equal(other.json().defaultProfileId, profileId, 'changing another setting keeps the default');
      await api.call('PATCH', '/api/v1/organization', { body: { useTrackingToken: true, defaultProfileId: null } });
    });

    test('the default profile cannot be deleted until another (or none) is the default', async () => {
      const profileId = await newProfile('Soon gone');
      await api.call('PATCH', '/api/v1/organization', { body: { defaultProfileId: profileId } });
      const refused = await api.call('DELETE', `/api/v1/email-server-profiles/${profileId}`);
      assert.equal(refused.statusCode, 409, refused.body);
      assert.match(refused.json().message, /"Soon gone" is the organization's default email server profile/);
      assert.match(refused.json().message, /defaultProfileId/);
      assert.equal((await api.call('GET', `/api/v1/email-server-profiles/${profileId}`)).statusCode, 200, 'still there');

      const cleared = await api.call('PATCH', '/api/v1/organization', { body: { defaultProfileId: null } });
      assert.equal(cleared.json().defaultProfileId, null);
      assert.equal((await api.call('DELETE', `/api/v1/email-server-profiles/${profileId}`)).statusCode, 204);
      assert.equal((await api.call('GET', `/api/v1/email-server-profiles/${profileId}`)).statusCode, 404);
    });

    test("a mailbox's reader gets its profile in brief, its owner too; none without a profile", async () => {
      const none = (await api.call('GET', `/api/v1/mailboxes/${api.user.mailboxId}`, { token: api.userToken })).json();
      assert.equal(none.profile, null);
      const created = await api.call('POST', '/api/v1/email-server-profiles', {
        body: { name: 'Own logins', serverType: 'imap-smtp', incomingServer: 'imap.contoso.test', outgoingServer: 'smtp.contoso.test', credentialSource: 'mailbox' },
      });
      const profileId = created.json().id as string;
      await api.call('POST', '/api/v1/mailboxes/associate', { body: { mailboxIds: [api.user.mailboxId], profileId } });
      const own = await api.call('GET', `/api/v1/mailboxes/${api.user.mailboxId}`, { token: api.userToken });
      assert.equal(own.statusCode, 200, own.body);
      assert.deepEqual(own.json().profile, { id: profileId, name: 'Own logins', serverType: 'imap-smtp', credentialSource: 'mailbox' });
      assert.equal((await api.call('GET', `/api/v1/email-server-profiles/${profileId}`, { token: api.userToken })).statusCode, 403, 'the owner still cannot read the profile itself');
      assert.equal((await api.call('GET', `/api/v1/mailboxes/${api.admin.mailboxId}`, { token: api.userToken })).statusCode, 403);
      await api.call('POST', '/api/v1/mailboxes/associate', { body: { mailboxIds: [api.user.mailboxId], profileId: null } });
    });

    test('the OpenAPI document has the setting, nullable, on reading and on changing', async () => {
      const doc = (await api.call('GET', '/api/v1/openapi.json', { token: null })).json();
      const path = doc.paths['/api/v1/organization'];
      const read = path.get.responses['200'].content['application/json'].schema;
      const change = path.patch.requestBody.content['application/json'].schema;
      assert.deepEqual(read.properties.defaultProfileId.type, ['string', 'null']);
      assert.ok(read.required.includes('defaultProfileId'));
      assert.match(read.properties.defaultProfileId.description, /Apply Default Email Server Profile/);
      assert.ok(change.properties.defaultProfileId, 'PATCH takes it');
    });
  });
}
