/**
 * App-only tokens through MSAL over Liaison's transport, against the sandbox's identity platform: a secret and a
 * certificate, the roles read from the token, the cache between calls, renewal before expiry, and the AADSTS
 * codes of refusals named with their fixes (and without the secret in them).
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { HttpTransport } from '../../../src/connectors/ews/transport/types.js';
import { classifyGraphError } from '../../../src/connectors/graph/classify.js';
import { GraphTokenError } from '../../../src/connectors/graph/errors.js';
import { GraphTokens, type GraphTokenOptions, readCertificatePem } from '../../../src/connectors/graph/token.js';
import { testLeaf } from '../../helpers/certs.js';
import { sandboxResolve, sandboxTransport } from '../../helpers/sandbox-connect.js';
import { type GraphSandbox, startGraphSandbox } from './support.js';

let s: GraphSandbox;
before(async () => {
  s = await startGraphSandbox();
});
after(() => s.close());

function tokensFor(extra: Partial<GraphTokenOptions> = {}, requests: string[] = []): GraphTokens {
  const inner = sandboxTransport(s);
  const transport: HttpTransport = { ...inner, request: (r) => (requests.push(`${r.method} ${new URL(r.url).pathname}`), inner.request(r)) };
  return new GraphTokens({
    authority: s.info.graph.authority,
    tenantId: s.tenantId,
    clientId: s.clientId,
    clientSecret: s.clientSecret,
    graphUrl: 'https://graph.microsoft.com',
    resolve: sandboxResolve(s),
    transport,
    ...extra,
  });
}

async function refusal(tokens: GraphTokens): Promise<GraphTokenError> {
  const error = await tokens.token().then(
    () => assert.fail('a token was issued'),
    (e: unknown) => e,
  );
  assert.ok(error instanceof GraphTokenError, String(error));
  return error;
}

const tokenPosts = (requests: string[]) => requests.filter((r) => /^POST .*\/oauth2\/v2\.0\/token$/.test(r)).length;

test('a client secret gets a token with the consented roles; the next call is served from the cache', async () => {
  const requests: string[] = [];
  const tokens = tokensFor({}, requests);
  const first = await tokens.token();
  assert.deepEqual([...first.roles].sort(), ['Mail.ReadWrite', 'Mail.Send']);
  assert.ok(first.expiresAt.getTime() > Date.now() + 3_000_000);
  const second = await tokens.token();
  assert.equal(second.accessToken, first.accessToken);
  assert.equal(tokenPosts(requests), 1);
  // A forced refresh (after a 401) asks again.
  const third = await tokens.token({ forceRefresh: true });
  assert.equal(tokenPosts(requests), 2);
  assert.ok(third.accessToken);
});

test('a token about to expire is renewed: with a 2-second lifetime each call gets a new one', async () => {
  await s.control('PATCH', '/settings', { graphTokenLifetimeSeconds: 2 });
  try {
    const requests: string[] = [];
    const tokens = tokensFor({}, requests);
    const first = await tokens.token();
    assert.ok(first.expiresAt.getTime() <= Date.now() + 3_000);
    await new Promise((r) => setTimeout(r, 1100));
    const second = await tokens.token();
    assert.notEqual(second.accessToken, first.accessToken);
    assert.equal(tokenPosts(requests), 2);
  } finally {
    await s.control('PATCH', '/settings', { graphTokenLifetimeSeconds: 3599 });
  }
});

test('a certificate (PEM with key and certificate) gets a token: MSAL signs the assertion with its SHA-256 thumbprint', async () => {
  const cert = testLeaf({ names: ['liaison-connector-test'] });
  const app = await s.control<{ clientId: string }>('POST', '/graph/apps', { displayName: 'cert app', permissions: ['Mail.ReadWrite'], certificates: [{ pem: cert.pem }] });
  assert.equal(app.status, 201);
  const pem = `${cert.key.pem}\n${cert.pem}`;
  assert.match(readCertificatePem(pem).thumbprintSha256, /^[0-9a-f]{64}$/);
  const token = await tokensFor({ clientId: app.json.clientId, clientSecret: undefined, certificatePem: pem }).token();
  assert.deepEqual(token.roles, ['Mail.ReadWrite']);

  const other = testLeaf({ names: ['not-registered'] });
  const error = await refusal(tokensFor({ clientId: app.json.clientId, clientSecret: undefined, certificatePem: `${other.key.pem}\n${other.pem}` }));
  assert.equal(error.aadsts, 'AADSTS700027');
  const classified = classifyGraphError(error, { clientId: app.json.clientId });
  assert.equal(classified.kind, 'permanent');
  assert.equal(classified.code, 'aad.AADSTS700027');
  assert.match(classified.fix!, /Certificates & secrets > Certificates/);
});

test('a wrong secret is AADSTS7000215, permanent, named with its fix, and the secret appears nowhere in the error', async () => {
  const wrong = 'Wr0ng~secret-value-that-must-not-leak';
  const error = await refusal(tokensFor({ clientSecret: wrong }));
  assert.equal(error.aadsts, 'AADSTS7000215');
  assert.equal(error.status, 401);
  const classified = classifyGraphError(error, { clientId: s.clientId, tenantId: s.tenantId });
  assert.equal(classified.kind, 'permanent');
  assert.equal(classified.code, 'aad.AADSTS7000215');
  assert.match(classified.message, /client secret/);
  assert.match(classified.fix!, /Certificates & secrets, create a new client secret/);
  assert.match(classified.serverResponse!, /AADSTS7000215: Invalid client secret provided/);
  assert.match(classified.serverResponse!, /Trace ID/);
  const everything = JSON.stringify({ ...classified, message: error.message, stack: error.stack });
  assert.ok(!everything.includes(wrong));
});

test('an expired secret is AADSTS7000222; an unknown tenant AADSTS90002; an unknown app AADSTS700016', async () => {
  const app = await s.control<{ clientId: string; secrets: Array<{ value: string }> }>('POST', '/graph/apps', {
    displayName: 'expired secret app',
    permissions: ['Mail.ReadWrite'],
    secrets: [{ value: 'expired-secret-value', expiresAt: new Date(Date.now() - 86_400_000).toISOString() }],
  });
  const expired = await refusal(tokensFor({ clientId: app.json.clientId, clientSecret: 'expired-secret-value' }));
  assert.equal(expired.aadsts, 'AADSTS7000222');
  assert.match(classifyGraphError(expired).fix!, /create a new client secret/);

  const unknownTenant = '0b7e3a1c-9d2f-4c6e-8a15-3f4d2c1b0a99';
  const authority = s.info.graph.authority.replace(s.tenantId, unknownTenant);
  const tenant = await refusal(tokensFor({ authority, tenantId: unknownTenant }));
  assert.equal(tenant.aadsts, 'AADSTS90002');
  assert.equal(classifyGraphError(tenant, { tenantId: unknownTenant }).kind, 'permanent');
  assert.match(classifyGraphError(tenant).fix!, /tenant ID/);

  const unknownApp = await refusal(tokensFor({ clientId: '11111111-2222-3333-4444-555555555555' }));
  assert.equal(unknownApp.aadsts, 'AADSTS700016');
  assert.match(classifyGraphError(unknownApp).fix!, /client ID/);
});

test('a PEM without its private key is a clear configuration error before anything is sent', () => {
  const cert = testLeaf({ names: ['no-key'] });
  assert.throws(() => tokensFor({ clientSecret: undefined, certificatePem: cert.pem }), (e: unknown) => e instanceof GraphTokenError && /no private key/.test(e.message));
});
