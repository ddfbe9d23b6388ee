/**
 * What each Graph and Azure AD answer means for the engine, and the client's own rules (one new token after a
 * 401, Retry-After, links only on the Graph host), with a scripted transport: no server needed.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { HttpRequest, HttpResponse, HttpTransport } from '../../../src/connectors/ews/transport/types.js';
import { TransportError } from '../../../src/connectors/ews/transport/types.js';
import { classifyGraphError } from '../../../src/connectors/graph/classify.js';
import { GraphClient, graphErrorOf } from '../../../src/connectors/graph/client.js';
import { GraphError, GraphProtocolError, GraphSendUncertainError, GraphTokenError } from '../../../src/connectors/graph/errors.js';
import { GraphMailboxSession } from '../../../src/connectors/graph/mailbox.js';
import { aadstsOf, jwtClaims } from '../../../src/connectors/graph/token.js';

const context = { clientId: 'c1d2', tenantId: 't1', mailbox: 'ann@contoso.test' };
const graphError = (status: number, code: string, message: string, headers: Record<string, string> = {}) =>
  graphErrorOf(status, headers, JSON.stringify({ error: { code, message, innerError: { date: '2026-12-03T10:00:00', 'request-id': 'r' } } }), 'delta');

test('403 ErrorAccessDenied: an access policy names the PowerShell fix; missing roles name the permissions and admin consent', () => {
  const policy = classifyGraphError(graphError(403, 'ErrorAccessDenied', 'Access to OData is disabled: [RAOP] : Blocked by tenant configured AppOnly AccessPolicy settings.'), context);
  assert.equal(policy.kind, 'permanent');
  assert.equal(policy.code, 'graph.ErrorAccessDenied');
  assert.match(policy.fix!, /Test-ApplicationAccessPolicy -Identity ann@contoso.test -AppId c1d2/);
  assert.match(policy.fix!, /Set-ApplicationAccessPolicy/);
  const roles = classifyGraphError(graphError(403, 'ErrorAccessDenied', 'Access is denied. Check credentials and try again.'), context);
  assert.equal(roles.kind, 'permanent');
  assert.match(roles.fix!, /Mail\.ReadWrite and Mail\.Send/);
  assert.match(roles.fix!, /Grant admin consent/);
});

test('404 MailboxNotEnabledForRESTAPI is permanent and says to use an Exchange profile or license the mailbox', () => {
  const c = classifyGraphError(graphError(404, 'MailboxNotEnabledForRESTAPI', 'The mailbox is either inactive, soft-deleted, or is hosted on-premise.'), context);
  assert.equal(c.kind, 'permanent');
  assert.equal(c.code, 'graph.MailboxNotEnabledForRESTAPI');
  assert.match(c.fix!, /Exchange profile/);
  assert.match(c.fix!, /license/);
});

test('410 and SyncStateNotFound in either case are invalid-cursor; ErrorItemNotFound is its own code', () => {
  for (const code of ['SyncStateNotFound', 'syncStateNotFound']) {
    const c = classifyGraphError(graphError(410, code, 'The sync state is not found.'), context);
    assert.equal(c.kind, 'invalid-cursor');
    assert.equal(c.code, 'graph.SyncStateNotFound');
  }
  const missing = classifyGraphError(graphError(404, 'ErrorItemNotFound', 'The specified object was not found in the store.'), context);
  assert.equal(missing.code, 'graph.ErrorItemNotFound');
  assert.equal(missing.kind, 'transient');
});

test('throttling: 429 and 503 with Retry-After are throttled with the back-off; 503 without one and 500 are transient', () => {
  const t429 = classifyGraphError(graphError(429, 'ApplicationThrottled', 'Application is over its MailboxConcurrency limit.', { 'retry-after': '30' }), context);
  assert.deepEqual([t429.kind, t429.code, t429.backOffMs], ['throttled', 'http.429', 30_000]);
  const t503 = classifyGraphError(graphError(503, 'ServiceUnavailable', 'later', { 'retry-after': '5' }), context);
  assert.deepEqual([t503.kind, t503.code, t503.backOffMs], ['throttled', 'http.503', 5_000]);
  assert.equal(classifyGraphError(graphError(503, 'ServiceUnavailable', 'later'), context).kind, 'transient');
  assert.equal(classifyGraphError(graphError(500, 'InternalServerError', 'oops'), context).kind, 'transient');
  assert.equal(classifyGraphError(graphError(400, 'ErrorServerBusy', 'busy'), context).kind, 'throttled');
});

test('401 after a new token is permanent; transport failures: TLS permanent, a reset transient; a cut send uncertain', () => {
  assert.equal(classifyGraphError(graphError(401, 'InvalidAuthenticationToken', 'Access token has expired or is not yet valid.'), context).kind, 'permanent');
  const tls = new TransportError('tls', 'bad certificate', { url: 'https://graph.microsoft.com/v1.0', host: 'graph.microsoft.com', port: 443, tls: { code: 'CERT_HAS_EXPIRED' } });
  assert.equal(classifyGraphError(tls, context).kind, 'permanent');
  const reset = new TransportError('reset', 'closed', { url: 'https://graph.microsoft.com/v1.0', host: 'graph.microsoft.com', port: 443 });
  assert.equal(classifyGraphError(reset, context).kind, 'transient');
  const uncertain = classifyGraphError(new GraphSendUncertainError('ann@contoso.test', reset, 'reset'), context);
  assert.deepEqual([uncertain.kind, uncertain.code], ['uncertain', 'send.uncertain.reset']);
  assert.equal(classifyGraphError(new GraphProtocolError('delta', 'not JSON'), context).code, 'graph.protocol');
  assert.equal(classifyGraphError(new Error('something'), context).kind, 'transient');
});

test('AADSTS codes: from MSAL error numbers or the description; a 5xx of the identity platform is transient', () => {
  assert.equal(aadstsOf({ errorNo: '7000215' }), 'AADSTS7000215');
  assert.equal(aadstsOf({ errorMessage: 'Error(s): - Description: AADSTS90002: Tenant not found.' }), 'AADSTS90002');
  assert.equal(aadstsOf(new Error('no code')), null);
  const expired = classifyGraphError(new GraphTokenError('x', 'AADSTS7000222', 401, 'invalid_client: AADSTS7000222: The provided client secret keys are expired.'), context);
  assert.deepEqual([expired.kind, expired.code], ['permanent', 'aad.AADSTS7000222']);
  assert.equal(classifyGraphError(new GraphTokenError('x', 'AADSTS90033', 503, 'temporarily_unavailable'), context).kind, 'transient');
  assert.deepEqual(jwtClaims(`e30.${Buffer.from(JSON.stringify({ roles: ['Mail.Send'] })).toString('base64url')}.sig`), { roles: ['Mail.Send'] });
});

/** A transport that answers from a script and remembers what it was asked. */
function scripted(answers: Array<Partial<HttpResponse> & { status: number }>): HttpTransport & { asked: HttpRequest[] } {
  const asked: HttpRequest[] = [];
  return {
    asked,
    async request(request) {
      asked.push(request);
      const next = answers.shift();
      if (!next) throw new Error('no more answers');
      return { headers: {}, headerLists: {}, body: Buffer.alloc(0), elapsedMs: 1, ...next };
    },
    stream: () => Promise.reject(new Error('not used')),
    close: async () => undefined,
  };
}

test('the client: a 401 gets one new token and one retry; bearer and immutable ids on every request', async () => {
  const asks: boolean[] = [];
  const tokens = { token: async (o: { forceRefresh?: boolean } = {}) => (asks.push(!!o.forceRefresh), { accessToken: o.forceRefresh ? 'new' : 'old', expiresAt: new Date(), roles: [] }) };
  const transport = scripted([{ status: 401, body: Buffer.from('{"error":{"code":"InvalidAuthenticationToken","message":"expired"}}') }, { status: 200, body: Buffer.from('{"ok":true}') }]);
  const client = new GraphClient({ graphUrl: 'https://graph.microsoft.com', tokens, transport });
  assert.deepEqual(await client.json({ method: 'GET', path: '/users/a@b/mailFolders/inbox', operation: 'get' }), { ok: true });
  assert.deepEqual(asks, [false, true]);
  assert.equal(transport.asked[1]!.headers!.authorization, 'Bearer new');
  assert.match(transport.asked[0]!.headers!.prefer!, /IdType="ImmutableId"/);

  const twice = scripted([{ status: 401 }, { status: 401, body: Buffer.from('{"error":{"code":"InvalidAuthenticationToken","message":"expired"}}') }]);
  const c2 = new GraphClient({ graphUrl: 'https://graph.microsoft.com', tokens, transport: twice });
  await assert.rejects(c2.request({ method: 'GET', path: '/x', operation: 'get' }), (e: unknown) => e instanceof GraphError && e.status === 401 && twice.asked.length === 2);
});

test('a delta link to another host is refused before the token is sent there', async () => {
  const tokens = { token: async () => ({ accessToken: 't', expiresAt: new Date(), roles: [] }) };
  const transport = scripted([{ status: 200, body: Buffer.from(JSON.stringify({ value: [], '@odata.deltaLink': 'https://evil.example/v1.0/users/a/mailFolders/inbox/messages/delta?$deltatoken=x' })) }]);
  const client = new GraphClient({ graphUrl: 'https://graph.microsoft.com', tokens, transport });
  const session = new GraphMailboxSession('a@contoso.test', client, async () => false);
  await assert.rejects(session.listChanges('inbox', null, 10), GraphProtocolError);
  await assert.rejects(session.listChanges('inbox', 'https://evil.example/v1.0/users/a/mailFolders/inbox/messages/delta?$deltatoken=x', 10), GraphProtocolError);
  assert.equal(transport.asked.length, 1);
});
