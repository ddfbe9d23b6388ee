/**
 * Exchange Online profiles' credentials: a client secret or a client certificate (either is enough); the certificate
 * checked on save (both parts, readable, RSA, the key the certificate's, valid now) with problems that never quote
 * the key; the authority an https URL with the tenant and no query or fragment, defaulting to the global one.
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { describe, test } from 'node:test';
import { readClientCertificate } from '../../src/domain/client-certificate.js';
import { ValidationError } from '../../src/domain/errors.js';
import { applyProfileChange, authorityOf, normalizeProfile, type ProfileInput, secretsKept } from '../../src/domain/profile.js';
import { testLeaf } from '../helpers/certs.js';

const OWNER = '01a21a44-906d-74ea-9e4d-83db8e29b2e6';
const TENANT = '72f988bf-86f1-41af-91ab-2d7cd011db47';
const online: ProfileInput = { name: 'EXO', serverType: 'exchange-online', tenantId: TENANT, clientId: '11111111-2222-3333-4444-555555555555', ownerId: OWNER };

const app = testLeaf({ names: ['liaison-app'] });
const bundle = `${app.pem}${app.key.pem}`;
const other = testLeaf({ names: ['another-app'] });
const expired = testLeaf({ names: ['old-app'], notBefore: new Date(Date.now() - 20 * 86_400_000), notAfter: new Date(Date.now() - 86_400_000) });

function problemsOf(input: ProfileInput, secrets: Record<string, boolean> = {}) {
  try {
    normalizeProfile(input, secrets);
  } catch (error) {
    assert.ok(error instanceof ValidationError, `expected a ValidationError, got ${String(error)}`);
    return error.problems;
  }
  assert.fail('expected the profile to be refused');
}

const keyBody = (pem: string) => pem.split('\n').filter((line) => line !== '' && !line.startsWith('-----'));

describe('Exchange Online credentials', () => {
  test('a client secret or a client certificate is enough; neither names both', () => {
    const neither = problemsOf(online);
    assert.deepEqual(neither.map((p) => p.field), ['clientSecret']);
    assert.match(neither[0]!.message, /clientCertificate/);
    assert.equal(normalizeProfile(online, { clientSecret: true }).serverType, 'exchange-online');
    assert.equal(normalizeProfile({ ...online, clientCertificate: bundle }, { clientCertificate: true }).serverType, 'exchange-online');
    assert.equal(normalizeProfile({ ...online, clientCertificate: bundle }, { clientSecret: true, clientCertificate: true }).serverType, 'exchange-online');
    assert.deepEqual(secretsKept(normalizeProfile(online, { clientSecret: true })), ['clientSecret', 'clientCertificate']);
  });

  test('a usable certificate PEM (certificate and key in either order) is read with its thumbprints', () => {
    for (const pem of [bundle, `${app.key.pem}\n${app.pem}`]) {
      const read = readClientCertificate(pem);
      assert.ok(typeof read !== 'string', String(read));
      assert.match(read.thumbprintSha1, /^[0-9A-F]{40}$/);
      assert.match(read.thumbprintSha256, /^[0-9A-F]{64}$/);
      assert.equal(read.certificatePem.trim(), app.pem.trim());
    }
  });

  test('an unusable certificate is refused with the reason, never quoting the key', () => {
    const cases: Array<[string, RegExp]> = [
      ['not a pem at all', /must be a PEM text holding the certificate/],
      [app.pem, /no private key/],
      [app.key.pem, /no certificate/],
      [`${app.pem}${other.key.pem}`, /does not belong to the certificate/],
      [`${expired.pem}${expired.key.pem}`, /expired on .*Certificates & secrets/],
      [`${app.pem}${app.key.pem}${other.key.pem}`, /2 private keys/],
      [`${app.pem}-----BEGIN PRIVATE KEY-----\nAAAAnotakey\n-----END PRIVATE KEY-----\n`, /could not be read/],
      [`${app.pem}-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIabc\n-----END ENCRYPTED PRIVATE KEY-----\n`, /encrypted private key/],
    ];
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256', privateKeyEncoding: { type: 'pkcs8', format: 'pem' }, publicKeyEncoding: { type: 'spki', format: 'pem' } });
    cases.push([`${app.pem}${ec.privateKey}`, /EC private key.*RSA/]);
    for (const [pem, reason] of cases) {
      const problems = problemsOf({ ...online, clientCertificate: pem }, { clientCertificate: true });
      assert.deepEqual(problems.map((p) => p.field), ['clientCertificate'], pem.slice(0, 40));
      assert.match(problems[0]!.message, reason);
      for (const line of [...keyBody(app.key.pem), ...keyBody(other.key.pem), ...keyBody(ec.privateKey)]) {
        assert.ok(!problems[0]!.message.includes(line), 'the problem quotes the key');
      }
    }
  });

  test('the authority: default global, https with the tenant, no query, fragment or credentials; a trailing slash dropped', () => {
    const saved = normalizeProfile(online, { clientSecret: true });
    assert.equal(saved.authority, null);
    assert.equal(authorityOf(saved), `https://login.microsoftonline.com/${TENANT}`);
    const own = normalizeProfile({ ...online, authority: `https://login.contoso.test/${TENANT}/` }, { clientSecret: true });
    assert.equal(own.authority, `https://login.contoso.test/${TENANT}`);
    assert.equal(authorityOf(own), `https://login.contoso.test/${TENANT}`);
    const refused: Array<[string, RegExp]> = [
      [`http://login.contoso.test/${TENANT}`, /must start with https/],
      [`https://login.contoso.test/${TENANT}?x=1`, /query/],
      [`https://login.contoso.test/${TENANT}#f`, /fragment/],
      ['https://login.contoso.test/', /must name the tenant/],
      [`https://user:pw@login.contoso.test/${TENANT}`, /user name or password/],
      ['login.contoso.test', /is not a URL/],
    ];
    for (const [authority, reason] of refused) {
      const problems = problemsOf({ ...online, authority }, { clientSecret: true });
      assert.deepEqual(problems.map((p) => p.field), ['authority'], authority);
      assert.match(problems[0]!.message, reason);
    }
  });

  test('authority and clientCertificate belong to Exchange Online only; a change of type drops the authority', () => {
    const exchange: ProfileInput = { name: 'EX', serverType: 'exchange', autodiscover: true, username: 'svc@contoso.com', ownerId: OWNER };
    const problems = problemsOf({ ...exchange, authority: `https://login.contoso.test/${TENANT}`, clientCertificate: bundle }, { password: true });
    assert.deepEqual(problems.map((p) => p.field).sort(), ['authority', 'clientCertificate']);
    const saved = normalizeProfile({ ...online, authority: `https://login.contoso.test/${TENANT}` }, { clientSecret: true });
    const moved = normalizeProfile(applyProfileChange(saved, { serverType: 'exchange', autodiscover: true, username: 'svc@contoso.com' }), { password: true });
    assert.equal(moved.authority, null);
  });
});
