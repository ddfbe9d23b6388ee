/**
 * Exchange Online credentials through the API, on both databases: a client certificate (PEM with its key) is
 * stored encrypted and bound to its row, only its presence is answered, never the PEM, nor in the log; a bad one is
 * 400 on clientCertificate without quoting the key; either secret alone is enough, clearing the last one is
 * refused; the authority is saved and answered; the OpenAPI document names the new fields.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { sql } from 'kysely';
import { openApi, type TestApi } from './helpers/api.js';
import { testLeaf } from './helpers/certs.js';
import { DATABASES } from './helpers/stores.js';

const TENANT = '72f988bf-86f1-41af-91ab-2d7cd011db47';
const app = testLeaf({ names: ['liaison-app'] });
const BUNDLE = `${app.pem}${app.key.pem}`;
const KEY_LINE = app.key.pem.split('\n')[5]!;
const other = testLeaf({ names: ['other-app'] });

for (const kind of DATABASES) {
  describe(`Exchange Online credentials over the API (${kind.name})`, kind.suite, () => {
    let api: TestApi;
    before(async () => {
      api = await openApi(kind);
    });
    after(async () => {
      await api?.close();
    });

    const base = { name: 'EXO cert', serverType: 'exchange-online', tenantId: TENANT, clientId: '11111111-2222-3333-4444-555555555555' };

    test('a certificate alone is enough: stored encrypted, answered as clientCertificateSet, the PEM never returned or logged', async () => {
      const created = await api.call('POST', '/api/v1/email-server-profiles', { body: { ...base, clientCertificate: BUNDLE, authority: `https://login.contoso.test/${TENANT}/` } });
      assert.equal(created.statusCode, 201, created.body);
      const profile = created.json();
      assert.equal(profile.clientCertificateSet, true);
      assert.equal(profile.clientSecretSet, false);
      assert.equal(profile.authority, `https://login.contoso.test/${TENANT}`);
      assert.equal(profile.clientCertificate, undefined);
      const read = await api.call('GET', `/api/v1/email-server-profiles/${profile.id}`);
      assert.equal(read.json().clientCertificateSet, true);
      const row = await api.t.store.database.db
        .selectFrom('email_server_profiles')
        .select(['client_certificate_enc', 'authority'])
        .where('id', '=', profile.id)
        .executeTakeFirstOrThrow();
      assert.ok(row.client_certificate_enc?.startsWith('v1:'), 'encrypted');
      assert.ok(!row.client_certificate_enc!.includes('BEGIN'), 'no plaintext in the row');
      assert.equal((await api.t.store.profiles.secretsOf(profile.id)).clientCertificate, BUNDLE);
      for (const text of [...api.bodies, ...api.logs]) assert.ok(!text.includes(KEY_LINE), 'the private key appears in an answer or the log');
    });

    test('the ciphertext is bound to its row and field: copied elsewhere it does not decrypt', async () => {
      const first = (await api.call('POST', '/api/v1/email-server-profiles', { body: { ...base, name: 'EXO a', clientCertificate: BUNDLE } })).json();
      const second = (await api.call('POST', '/api/v1/email-server-profiles', { body: { ...base, name: 'EXO b', clientSecret: 'a-secret' } })).json();
      const db = api.t.store.database.db;
      const { client_certificate_enc: enc } = await db.selectFrom('email_server_profiles').select('client_certificate_enc').where('id', '=', first.id).executeTakeFirstOrThrow();
      await db.updateTable('email_server_profiles').set({ client_certificate_enc: enc }).where('id', '=', second.id).execute();
      await assert.rejects(api.t.store.profiles.secretsOf(second.id), /integrity check/);
      await db.updateTable('email_server_profiles').set({ client_certificate_enc: null }).where('id', '=', second.id).execute();
      await db.updateTable('email_server_profiles').set({ client_secret_enc: enc }).where('id', '=', first.id).execute();
      await assert.rejects(api.t.store.profiles.secretsOf(first.id), /integrity check/);
      await db.updateTable('email_server_profiles').set({ client_secret_enc: null }).where('id', '=', first.id).execute();
    });

    test('a bad certificate is 400 on clientCertificate, naming why and not quoting the key; nothing is saved', async () => {
      const before = await api.t.store.database.db.selectFrom('email_server_profiles').select(sql<number>`count(*)`.as('n')).executeTakeFirstOrThrow();
      const mismatch = await api.call('POST', '/api/v1/email-server-profiles', { body: { ...base, name: 'EXO bad', clientCertificate: `${app.pem}${other.key.pem}` } });
      assert.equal(mismatch.statusCode, 400);
      assert.deepEqual(mismatch.json().problems.map((p: { field: string }) => p.field), ['clientCertificate']);
      assert.match(mismatch.json().message, /does not belong to the certificate/);
      assert.ok(!mismatch.body.includes(other.key.pem.split('\n')[5]!));
      const after = await api.t.store.database.db.selectFrom('email_server_profiles').select(sql<number>`count(*)`.as('n')).executeTakeFirstOrThrow();
      assert.equal(Number(after.n), Number(before.n));
      const authority = await api.call('POST', '/api/v1/email-server-profiles', { body: { ...base, name: 'EXO bad 2', clientSecret: 's', authority: 'http://login.contoso.test/x' } });
      assert.equal(authority.statusCode, 400);
      assert.deepEqual(authority.json().problems.map((p: { field: string }) => p.field), ['authority']);
    });

    test('a secret and a certificate: either may be cleared, not both; the authority reset to the default with null', async () => {
      const created = await api.call('POST', '/api/v1/email-server-profiles', {
        body: { ...base, name: 'EXO both', clientSecret: 'a-secret', clientCertificate: BUNDLE, authority: `https://login.contoso.test/${TENANT}` },
      });
      assert.equal(created.statusCode, 201, created.body);
      const id = created.json().id;
      const noSecret = await api.call('PATCH', `/api/v1/email-server-profiles/${id}`, { body: { clientSecret: null, authority: null } });
      assert.equal(noSecret.statusCode, 200, noSecret.body);
      assert.deepEqual([noSecret.json().clientSecretSet, noSecret.json().clientCertificateSet, noSecret.json().authority], [false, true, null]);
      const neither = await api.call('PATCH', `/api/v1/email-server-profiles/${id}`, { body: { clientCertificate: null } });
      assert.equal(neither.statusCode, 400);
      assert.deepEqual(neither.json().problems.map((p: { field: string }) => p.field), ['clientSecret']);
      assert.equal((await api.call('GET', `/api/v1/email-server-profiles/${id}`)).json().clientCertificateSet, true, 'the refused change kept it');
      const swapped = await api.call('PATCH', `/api/v1/email-server-profiles/${id}`, { body: { clientCertificate: null, clientSecret: 'new-secret' } });
      assert.equal(swapped.statusCode, 200, swapped.body);
      assert.deepEqual([swapped.json().clientSecretSet, swapped.json().clientCertificateSet], [true, false]);
      const secrets = await api.t.store.profiles.secretsOf(id);
      assert.deepEqual([secrets.clientSecret, secrets.clientCertificate], ['new-secret', null]);
    });

    test('the OpenAPI document names authority and the write-only clientCertificate', async () => {
      const doc = (await api.call('GET', '/api/v1/openapi.json', { token: null })).json();
      const text = JSON.stringify(doc);
      assert.ok(text.includes('"clientCertificateSet"'));
      assert.ok(text.includes('"authority"'));
      assert.match(text, /"clientCertificate":\{[^}]*"writeOnly":true/);
    });
  });
}
