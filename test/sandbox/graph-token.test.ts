/**
 * login.<domain>: client credentials with a secret and with a certificate (through msal-node itself, as the
 * connector uses it), the token's claims and roles, and the AADSTS errors Azure AD answers.
 */
import assert from 'node:assert/strict';
import { createHash, X509Certificate } from 'node:crypto';
import { after, before, test } from 'node:test';
import { ConfidentialClientApplication, type INetworkModule, type NetworkRequestOptions } from '@azure/msal-node';
import { request } from 'undici';
import { decodeJwt } from '../../src/sandbox/graph/jwt.js';
import { testLeaf } from '../helpers/certs.js';
import { type GraphSandbox, startGraphSandbox } from './graph-support.js';

let s: GraphSandbox;
before(async () => {
  s = await startGraphSandbox();
});
after(() => s.close());

const GRAPH_SCOPE = 'https://graph.microsoft.com/.default';

function networkClient(): INetworkModule {
  const send = async <T>(method: 'GET' | 'POST', url: string, options?: NetworkRequestOptions) => {
    const response = await request(url, { method, headers: options?.headers, body: options?.body, dispatcher: s.agent });
    const text = await response.body.text();
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(response.headers)) if (typeof v === 'string') headers[k] = v;
    return { status: response.statusCode, headers, body: JSON.parse(text) as T };
  };
  return { sendGetRequestAsync: (url, options) => send('GET', url, options), sendPostRequestAsync: (url, options) => send('POST', url, options) };
}

function msal(auth: { clientSecret?: string; clientCertificate?: { thumbprintSha256: string; privateKey: string; x5c?: string } }, clientId = s.clientId): ConfidentialClientApplication {
  const host = new URL(s.loginUrl).host;
  return new ConfidentialClientApplication({
    auth: { clientId, authority: `${s.loginUrl}/${s.tenantId}`, knownAuthorities: [host], ...auth },
    system: { networkClient: networkClient() },
  });
}

function errorOf(answer: { status: number; json: { error: string; error_codes: number[]; error_description: string; trace_id: string; correlation_id: string } }) {
  assert.match(answer.json.error_description, /^AADSTS\d+: .*\r\nTrace ID: [0-9a-f-]{36}\r\nCorrelation ID: [0-9a-f-]{36}\r\nTimestamp: \d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ$/s);
  assert.match(answer.json.trace_id, /^[0-9a-f-]{36}$/);
  return { status: answer.status, error: answer.json.error, code: answer.json.error_codes[0] };
}

test('msal-node gets a token with the demo app secret from the sandbox authority; the token carries the consented roles', async () => {
  const result = await msal({ clientSecret: s.clientSecret }).acquireTokenByClientCredential({ scopes: [GRAPH_SCOPE] });
  assert.ok(result?.accessToken);
  const jwt = decodeJwt(result.accessToken)!;
  assert.equal(jwt.header.alg, 'RS256');
  assert.equal(jwt.payload.aud, 'https://graph.microsoft.com');
  assert.equal(jwt.payload.iss, `https://sts.windows.net/${s.tenantId}/`);
  assert.equal(jwt.payload.tid, s.tenantId);
  assert.equal(jwt.payload.appid, s.clientId);
  assert.deepEqual([...(jwt.payload.roles as string[])].sort(), ['Mail.ReadWrite', 'Mail.Send']);
  const lifetime = (jwt.payload.exp as number) - (jwt.payload.iat as number);
  assert.equal(lifetime, 3599);
  // The signature checks against the published keys.
  const keys = await request(`${s.loginUrl}/${s.tenantId}/discovery/v2.0/keys`, { dispatcher: s.agent });
  const jwks = (await keys.body.json()) as { keys: Array<{ kid: string; n: string; e: string }> };
  assert.equal(jwks.keys[0]!.kid, jwt.header.kid);
  const answer = await s.graph('GET', '/users/alice@contoso.test/mailFolders/inbox', { token: result.accessToken });
  assert.equal(answer.status, 200);
});

test('msal-node with a registered certificate (client assertion, x5t#S256) gets a token; an unregistered one is AADSTS700027', async () => {
  const cert = testLeaf({ names: ['liaison-graph-client'] });
  const created = await s.control<{ clientId: string }>('POST', '/graph/apps', { displayName: 'cert app', permissions: ['Mail.Read'], certificates: [{ pem: cert.pem }] });
  assert.equal(created.status, 201);
  const thumbprintSha256 = createHash('sha256').update(new X509Certificate(cert.pem).raw).digest('hex');
  const result = await msal({ clientCertificate: { thumbprintSha256, privateKey: cert.key.pem } }, created.json.clientId).acquireTokenByClientCredential({ scopes: [GRAPH_SCOPE] });
  const jwt = decodeJwt(result!.accessToken)!;
  assert.deepEqual(jwt.payload.roles, ['Mail.Read']);
  assert.equal(jwt.payload.appidacr, '2');

  const other = testLeaf({ names: ['someone-else'] });
  const otherThumb = createHash('sha256').update(new X509Certificate(other.pem).raw).digest('hex');
  await assert.rejects(
    msal({ clientCertificate: { thumbprintSha256: otherThumb, privateKey: other.key.pem } }, created.json.clientId).acquireTokenByClientCredential({ scopes: [GRAPH_SCOPE] }),
    (error: Error & { errorCode?: string; errorMessage?: string }) => /AADSTS700027/.test(`${error.message} ${error.errorMessage ?? ''}`),
  );
  // The right thumbprint with another key: the signature does not verify.
  await assert.rejects(
    msal({ clientCertificate: { thumbprintSha256, privateKey: other.key.pem } }, created.json.clientId).acquireTokenByClientCredential({ scopes: [GRAPH_SCOPE] }),
    (error: Error & { errorMessage?: string }) => /AADSTS700027/.test(`${error.message} ${error.errorMessage ?? ''}`),
  );
});

test('the tenant may be named by its domain', async () => {
  const answer = await s.tokenRequest({ grant_type: 'client_credentials', client_id: s.clientId, client_secret: s.clientSecret, scope: GRAPH_SCOPE }, 'contoso.onmicrosoft.com');
  assert.equal(answer.status, 200);
  assert.equal(answer.json.token_type, 'Bearer');
  assert.equal(answer.json.expires_in, 3599);
});

test('each AADSTS error as Azure AD answers it', async () => {
  const form = { grant_type: 'client_credentials', client_id: s.clientId, client_secret: s.clientSecret, scope: GRAPH_SCOPE };
  assert.deepEqual(errorOf(await s.tokenRequest({ ...form, client_secret: 'wrong' })), { status: 401, error: 'invalid_client', code: 7000215 });
  assert.deepEqual(errorOf(await s.tokenRequest(form, '11111111-2222-3333-4444-555555555555')), { status: 400, error: 'invalid_request', code: 90002 });
  assert.deepEqual(errorOf(await s.tokenRequest({ ...form, client_id: '99999999-8888-7777-6666-555555555555' })), { status: 400, error: 'unauthorized_client', code: 700016 });
  assert.deepEqual(errorOf(await s.tokenRequest({ ...form, scope: 'Mail.Read' })), { status: 400, error: 'invalid_scope', code: 1002012 });
  const { client_secret: _omit, ...noSecret } = form;
  assert.deepEqual(errorOf(await s.tokenRequest(noSecret)), { status: 401, error: 'invalid_client', code: 7000218 });

  const expired = await s.control<{ clientId: string; secrets: Array<{ value: string }> }>('POST', '/graph/apps', { permissions: ['Mail.Read'], secrets: [{ value: 'old~secret', expiresAt: '2020-01-01T00:00:00Z' }] });
  assert.deepEqual(errorOf(await s.tokenRequest({ ...form, client_id: expired.json.clientId, client_secret: 'old~secret' })), { status: 401, error: 'invalid_client', code: 7000222 });

  // msal-node surfaces the code too.
  await assert.rejects(msal({ clientSecret: 'wrong' }).acquireTokenByClientCredential({ scopes: [GRAPH_SCOPE] }), (error: Error & { errorMessage?: string }) => /AADSTS7000215/.test(`${error.message} ${error.errorMessage ?? ''}`));
});

test('an app without consented permissions gets a token without a roles claim, which Graph refuses with ErrorAccessDenied', async () => {
  const created = await s.control<{ clientId: string; secrets: Array<{ value: string }> }>('POST', '/graph/apps', { displayName: 'no consent' });
  const token = await s.token(created.json.clientId, created.json.secrets[0]!.value);
  assert.equal('roles' in decodeJwt(token)!.payload, false);
  const answer = await s.graph('GET', '/users/alice@contoso.test/mailFolders/inbox/messages', { token });
  assert.equal(answer.status, 403);
  assert.equal(answer.json.error.code, 'ErrorAccessDenied');
  assert.equal(answer.json.error.message, 'Access is denied. Check credentials and try again.');
});

test('Mail.Read may read but not send or write; Mail.Send alone may send but not read', async () => {
  const reader = await s.control<{ clientId: string; secrets: Array<{ value: string }> }>('POST', '/graph/apps', { permissions: ['Mail.Read'] });
  const readToken = await s.token(reader.json.clientId, reader.json.secrets[0]!.value);
  assert.equal((await s.graph('GET', '/users/alice@contoso.test/mailFolders/inbox/messages', { token: readToken })).status, 200);
  const send = await s.graph('POST', '/users/alice@contoso.test/sendMail', { token: readToken, body: { message: { subject: 'x', toRecipients: [{ emailAddress: { address: 'bob@contoso.test' } }] } } });
  assert.equal(send.status, 403);
  assert.equal(send.json.error.code, 'ErrorAccessDenied');
  assert.equal((await s.graph('POST', '/users/alice@contoso.test/messages', { token: readToken, body: { subject: 'draft' } })).status, 403);

  const sender = await s.control<{ clientId: string; secrets: Array<{ value: string }> }>('POST', '/graph/apps', { permissions: ['Mail.Send'] });
  const sendToken = await s.token(sender.json.clientId, sender.json.secrets[0]!.value);
  assert.equal((await s.graph('GET', '/users/alice@contoso.test/mailFolders/inbox/messages', { token: sendToken })).status, 403);
});

test('a missing, forged or expired bearer token is 401 InvalidAuthenticationToken with the WWW-Authenticate Graph sends', async () => {
  const none = await s.graph('GET', '/users/alice@contoso.test/messages', { token: null });
  assert.equal(none.status, 401);
  assert.equal(none.json.error.code, 'InvalidAuthenticationToken');
  assert.match(String(none.headers['www-authenticate']), /^Bearer realm="", authorization_uri="https:\/\/login\.contoso\.test:\d+\/common\/oauth2\/authorize", client_id="00000003-0000-0000-c000-000000000000"$/);

  const good = await s.token();
  const [h, p] = good.split('.');
  const claims = JSON.parse(Buffer.from(p!, 'base64url').toString()) as Record<string, unknown>;
  const forged = `${h}.${Buffer.from(JSON.stringify({ ...claims, roles: ['Mail.ReadWrite', 'Mail.Send', 'Extra'] })).toString('base64url')}.${good.split('.')[2]}`;
  const bad = await s.graph('GET', '/users/alice@contoso.test/messages', { token: forged });
  assert.equal(bad.status, 401);
  assert.equal(bad.json.error.code, 'InvalidAuthenticationToken');

  await s.control('PATCH', '/settings', { graphTokenLifetimeSeconds: 1 });
  try {
    const short = await s.token();
    const exp = decodeJwt(short)!.payload.exp as number;
    // Issued 5 s in the past (as Azure AD back-dates iat/nbf), so a one-second token is already expired.
    assert.ok(exp * 1000 <= Date.now());
    const expired = await s.graph('GET', '/users/alice@contoso.test/messages', { token: short });
    assert.equal(expired.status, 401);
    assert.equal(expired.json.error.message, 'Lifetime validation failed, the token is expired.');
  } finally {
    await s.control('PATCH', '/settings', { graphTokenLifetimeSeconds: 3599 });
  }
});

test('the OpenID configuration and instance discovery answer for the tenant; an unknown tenant is AADSTS90002', async () => {
  const config = await request(`${s.loginUrl}/${s.tenantId}/v2.0/.well-known/openid-configuration`, { dispatcher: s.agent });
  const json = (await config.body.json()) as { token_endpoint: string; issuer: string };
  assert.equal(json.token_endpoint, `${s.loginUrl}/${s.tenantId}/oauth2/v2.0/token`);
  const unknown = await request(`${s.loginUrl}/nobody.example/v2.0/.well-known/openid-configuration`, { dispatcher: s.agent });
  assert.equal(unknown.statusCode, 400);
  assert.equal(((await unknown.body.json()) as { error_codes: number[] }).error_codes[0], 90002);
  const discovery = await request(`${s.loginUrl}/common/discovery/instance?api-version=1.1&authorization_endpoint=x`, { dispatcher: s.agent });
  assert.equal(discovery.statusCode, 200);
});

test('token faults answer in Azure AD\'s words with Retry-After once, then tokens flow again: http503 AADSTS90033, http429 AADSTS50196', async () => {
  const form = { grant_type: 'client_credentials', client_id: s.clientId, client_secret: s.clientSecret, scope: GRAPH_SCOPE };
  await s.control('POST', '/faults', { kind: 'http503', operation: 'graph.token', times: 1 });
  const failed = await s.tokenRequest(form);
  assert.equal(failed.status, 503);
  assert.equal(failed.headers['retry-after'], '2');
  assert.equal(failed.json.error, 'temporarily_unavailable');
  assert.deepEqual(failed.json.error_codes, [90033]);
  assert.match(failed.json.error_description, /^AADSTS90033: A transient error has occurred\. Please try again\.\r\nTrace ID: /);
  assert.equal((await s.tokenRequest(form)).status, 200);
  await s.control('POST', '/faults', { kind: 'http429', operation: 'graph.token', times: 1 });
  const looped = await s.tokenRequest(form);
  assert.equal(looped.status, 429);
  assert.equal(looped.headers['retry-after'], '2');
  assert.deepEqual(looped.json.error_codes, [50196]);
  assert.match(looped.json.error_description, /^AADSTS50196: The server terminated an operation because it encountered a client request loop\. Please contact your app vendor\.\r\n/);
  assert.equal((await s.tokenRequest(form)).status, 200);
});
