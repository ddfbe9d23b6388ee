/**
 * Test Connection's three steps against the sandbox, through the real transport, for the cases the seed's
 * troubleshooting table lists: each failure names the step, shows what Exchange answered, and says what to do.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createExchangeDiagnostics } from '../../src/diagnostics/exchange.js';
import type { ExchangeTarget } from '../../src/diagnostics/service.js';
import type { ConnectionTestResult, StepEvent } from '../../src/diagnostics/types.js';
import { createHttpTransport } from '../../src/connectors/ews/transport/http.js';
import { SchemaCheckingTransport } from '../helpers/ews-client.js';
import { startTestSandbox, type TestSandbox } from '../helpers/sandbox.js';
import { sandboxResolve } from '../helpers/sandbox-connect.js';

describe('Test Connection against the sandbox', () => {
  let s: TestSandbox;
  const sent: SchemaCheckingTransport[] = [];
  const diagnostics = createExchangeDiagnostics({
    transportFactory: (options) => {
      const t = new SchemaCheckingTransport(createHttpTransport(options));
      sent.push(t);
      return t;
    },
  });

  before(async () => {
    s = await startTestSandbox();
  });
  after(() => s.close());

  const target = (extra: Partial<ExchangeTarget> = {}): ExchangeTarget => ({
    kind: 'exchange',
    email: 'alice@contoso.test',
    username: s.info.serviceAccount!.username,
    password: s.password,
    auth: 'basic',
    url: null,
    autodiscover: true,
    trustedCaPem: s.sandbox.pki.caCertPem,
    resolve: sandboxResolve(s),
    timeoutMs: 20_000,
    maxConcurrentConnections: 27,
    ...extra,
  });
  const ews = (host = 'mail.contoso.test') => `https://${host}:${s.info.listen.port}/EWS/Exchange.asmx`;
  const statuses = (r: ConnectionTestResult) => r.steps.map((step) => `${step.step}:${step.status}`);
  const settings = (body: Record<string, unknown>) => s.control('PATCH', '/settings', body);

  test('all three steps pass with Autodiscover on, with Basic and with NTLM (both user name forms)', async () => {
    for (const extra of [{}, { auth: 'ntlm' as const }, { auth: 'ntlm' as const, username: 'CONTOSO\\svc-liaison' }]) {
      const events: StepEvent[] = [];
      const result = await diagnostics.testConnection(target(extra), (e) => events.push(e));
      assert.deepEqual(statuses(result), ['autodiscover:success', 'ews:success', 'mailbox:success'], JSON.stringify(result, null, 2));
      assert.equal(result.status, 'success');
      assert.equal(result.ewsUrl, ews());
      assert.match(result.steps[0]!.summary, /Found https:\/\/mail\.contoso\.test.* by Autodiscover/);
      assert.match(result.steps[2]!.summary, /Opened the Inbox of alice@contoso\.test/);
      assert.ok(result.steps.every((step) => step.elapsedMs >= 0));
      assert.deepEqual(events.map((e) => e.type), ['start', 'end', 'start', 'end', 'start', 'end']);
    }
  });

  test('all three steps pass with Autodiscover off (the profile URL), for a mailbox on either server', async () => {
    const result = await diagnostics.testConnection(target({ autodiscover: false, url: ews() }));
    assert.deepEqual(statuses(result), ['autodiscover:success', 'ews:success', 'mailbox:success']);
    assert.match(result.steps[0]!.summary, /verified TLS/);
    const dave = await diagnostics.testConnection(target({ autodiscover: false, url: ews(), email: 'dave@contoso.test' }));
    assert.equal(dave.status, 'success', 'X-AnchorMailbox routes the request to mail2');
  });

  test('Basic switched off: step 2 fails, shows WWW-Authenticate and names the fix, NTLM still passes', async () => {
    await settings({ basicAuth: false });
    try {
      const result = await diagnostics.testConnection(target({ autodiscover: false, url: ews() }));
      assert.deepEqual(statuses(result), ['autodiscover:success', 'ews:failure', 'mailbox:skipped']);
      const step = result.steps[1]!;
      assert.equal(step.code, 'basic-auth-disabled');
      assert.match(step.summary, /Basic authentication is not enabled in Exchange/);
      assert.equal(step.serverAnswer?.httpStatus, 401);
      assert.match(step.serverAnswer?.headers?.['www-authenticate'] ?? '', /NTLM/);
      assert.doesNotMatch(step.serverAnswer?.headers?.['www-authenticate'] ?? '', /Basic/);
      assert.match(step.fix ?? '', /BasicAuthentication \$true.*switch the profile to NTLM/);
      assert.deepEqual(step.request, { method: 'POST', url: ews() });
      // With Autodiscover on, the first step already meets the 401s and says the same.
      const discovered = await diagnostics.testConnection(target());
      assert.equal(discovered.steps[0]!.status, 'failure');
      assert.equal(discovered.steps[0]!.code, 'basic-auth-disabled');
      assert.ok((discovered.steps[0]!.details ?? []).length >= 2, 'every Autodiscover URL tried is listed');
      const ntlm = await diagnostics.testConnection(target({ auth: 'ntlm' }));
      assert.equal(ntlm.status, 'success');
    } finally {
      await settings({ basicAuth: true });
    }
  });

  test('Extended Protection required: NTLM with channel binding passes, Basic is unaffected', async () => {
    await settings({ extendedProtection: 'require' });
    try {
      assert.equal((await diagnostics.testConnection(target({ auth: 'ntlm' }))).status, 'success');
      assert.equal((await diagnostics.testConnection(target())).status, 'success');
    } finally {
      await settings({ extendedProtection: 'none' });
    }
  });

  test('a wrong password is a 401 with the method offered: the user name or password', async () => {
    const basic = await diagnostics.testConnection(target({ autodiscover: false, url: ews(), password: 'wrong' }));
    assert.equal(basic.steps[1]!.code, 'bad-credentials');
    const ntlm = await diagnostics.testConnection(target({ autodiscover: false, url: ews(), password: 'wrong', auth: 'ntlm' }));
    assert.equal(ntlm.steps[1]!.code, 'ntlm-rejected');
    assert.match(ntlm.steps[1]!.summary, /password is wrong, or Extended Protection/);
  });

  test('a service account without the impersonation role fails at step 3 with ErrorImpersonateUserDenied explained', async () => {
    const account = encodeURIComponent(s.info.serviceAccount!.username);
    await s.control('PATCH', `/accounts/${account}`, { impersonation: false });
    try {
      const result = await diagnostics.testConnection(target());
      assert.deepEqual(statuses(result), ['autodiscover:success', 'ews:success', 'mailbox:failure']);
      const step = result.steps[2]!;
      assert.equal(step.code, 'impersonation-denied');
      assert.equal(step.serverAnswer?.responseCode, 'ErrorImpersonateUserDenied');
      assert.ok(step.serverAnswer?.messageText);
      assert.match(step.fix ?? '', /New-ManagementRoleAssignment .*-Role ApplicationImpersonation -User "svc-liaison@contoso\.test"/);
    } finally {
      await s.control('PATCH', `/accounts/${account}`, { impersonation: true });
    }
  });

  test('the wrong-name host fails at step 1 with the names the certificate carries', async () => {
    const result = await diagnostics.testConnection(target({ autodiscover: false, url: ews('wrong-name.contoso.test') }));
    assert.deepEqual(statuses(result), ['autodiscover:failure', 'ews:skipped', 'mailbox:skipped']);
    const step = result.steps[0]!;
    assert.equal(step.code, 'tls-name-mismatch');
    assert.match(step.summary, /wrong-name\.contoso\.test/);
    assert.match(step.summary, /mail\.fabrikam\.test/);
  });

  test('an untrusted CA names the issuer; a refused port and an unknown name name the host and port', async () => {
    const untrusted = await diagnostics.testConnection(target({ autodiscover: false, url: ews(), trustedCaPem: null }));
    assert.equal(untrusted.steps[0]!.code, 'tls-untrusted');
    assert.match((untrusted.steps[0]!.details ?? []).join('\n'), /issuer: .*Sandbox/i);
    const refused = await diagnostics.testConnection(target({ autodiscover: false, url: 'https://mail.contoso.test:1/EWS/Exchange.asmx', resolve: ['mail.contoso.test:1:127.0.0.1'] }));
    assert.equal(refused.steps[0]!.code, 'connection-refused');
    assert.match(refused.steps[0]!.summary, /mail\.contoso\.test:1/);
  });

  test('a mailbox that does not exist fails at step 3; Autodiscover finding nothing lists every URL tried', async () => {
    const none = await diagnostics.testConnection(target({ autodiscover: false, url: ews(), email: 'nobody@contoso.test' }));
    assert.equal(none.steps[2]!.code, 'no-such-mailbox');
    const lost = await diagnostics.testConnection(target({ email: 'alice@nowhere.test', resolve: [...sandboxResolve(s), 'nowhere.test:443:127.0.0.1:1', 'autodiscover.nowhere.test:443:127.0.0.1:1', 'autodiscover.nowhere.test:80:127.0.0.1:1'] }));
    assert.equal(lost.steps[0]!.code, 'autodiscover-not-found');
    const tried = (lost.steps[0]!.details ?? []).join('\n');
    assert.match(tried, /https:\/\/nowhere\.test\/autodiscover\/autodiscover\.svc/);
    assert.match(tried, /https:\/\/autodiscover\.nowhere\.test\/autodiscover\/autodiscover\.svc/);
    assert.match(tried, /http:\/\/autodiscover\.nowhere\.test\/autodiscover\/autodiscover\.xml/);
    assert.match(tried, /SRV _autodiscover\._tcp\.nowhere\.test: skipped: not looked up: \.test is reserved/);
    assert.match(lost.steps[0]!.fix ?? '', /turn Autodiscover off/);
  });

  test('Autodiscover answering that it does not know the address is a wrong address, not a missing Autodiscover', async () => {
    const result = await diagnostics.testConnection(target({ email: 'nobody@contoso.test' }));
    assert.equal(result.steps[0]!.code, 'no-such-mailbox');
    assert.match(result.steps[0]!.summary, /does not know nobody@contoso\.test/);
  });

  test('an Autodiscover that accepts connections but never answers is cut off and said so', async () => {
    const fault = await s.control<{ id: string }>('POST', '/faults', { kind: 'slow', operation: 'autodiscover', delayMs: 5000 });
    try {
      const result = await diagnostics.testConnection(target({ timeoutMs: 700 }));
      assert.equal(result.steps[0]!.code, 'autodiscover-timeout');
      assert.ok(result.steps[0]!.elapsedMs < 4000, `${result.steps[0]!.elapsedMs} ms`);
    } finally {
      await s.control('DELETE', `/faults/${fault.json.id}`);
    }
  });

  test('throttling in step 3 says to back off, with the server\'s hint', async () => {
    const fault = await s.control<{ id: string }>('POST', '/faults', { kind: 'serverBusy', operation: 'GetFolder', mailbox: 'alice@contoso.test', times: 1, backOffMilliseconds: 1234 });
    try {
      const result = await diagnostics.testConnection(target({ autodiscover: false, url: ews() }));
      assert.equal(result.steps[2]!.code, 'server-busy');
      assert.match(result.steps[2]!.fix ?? '', /1234 ms/);
    } finally {
      await s.control('DELETE', `/faults/${fault.json.id}`);
    }
  });

  test('an IIS 503 and an answer that is not EWS are each named for what they are', async () => {
    for (const [kind, code] of [['http503', 'unavailable'], ['malformed', 'not-ews']] as const) {
      const fault = await s.control<{ id: string }>('POST', '/faults', { kind, operation: 'GetFolder', mailbox: 'alice@contoso.test', times: 1 });
      try {
        const result = await diagnostics.testConnection(target({ autodiscover: false, url: ews() }));
        assert.equal(result.steps[2]!.status, 'failure');
        assert.equal(result.steps[2]!.code, code, JSON.stringify(result.steps[2]));
      } finally {
        await s.control('DELETE', `/faults/${fault.json.id}`);
      }
    }
  });

  test('a mailbox on a server that does not proxy to it, with Autodiscover off, is named as moved', async () => {
    await s.control('PATCH', '/settings', { proxyBetweenServers: false });
    try {
      const result = await diagnostics.testConnection(target({ autodiscover: false, url: ews(), email: 'dave@contoso.test' }));
      assert.equal(result.steps[2]!.code, 'mailbox-moved');
      assert.match(result.steps[2]!.fix ?? '', /turn Autodiscover on/);
    } finally {
      await s.control('PATCH', '/settings', { proxyBetweenServers: true });
    }
  });

  test('Test & Enable creates the Undeliverable folder when the profile moves failed email', async () => {
    const result = await diagnostics.testMailbox(target({ email: 'bob@contoso.test' }), { createUndeliverable: true });
    assert.equal(result.status, 'success');
    assert.match(result.steps[2]!.summary, /created the folder Inbox\/Undeliverable/);
    const again = await diagnostics.testMailbox(target({ email: 'bob@contoso.test' }), { createUndeliverable: true });
    assert.match(again.steps[2]!.summary, /the folder Inbox\/Undeliverable exists/);
    assert.equal(again.ewsUrl, ews());
  });

  test('every EWS request the diagnostics sent validates against the schemas', () => {
    const ews = sent.flatMap((t) => t.requests).filter((r) => r.url.includes('/EWS/') && r.body !== '');
    assert.ok(ews.length > 20, `${ews.length} EWS requests`);
    assert.deepEqual(ews.filter((r) => r.violation !== null).map((r) => r.violation), []);
  });
});

test('settings that cannot be used fail step 1 and say which', async () => {
  const diagnostics = createExchangeDiagnostics();
  const base: ExchangeTarget = { kind: 'exchange', email: 'a@contoso.test', username: 'svc', password: 'x', auth: 'basic', url: 'https://mail.contoso.test/EWS/Exchange.asmx', autodiscover: false, trustedCaPem: null, resolve: [], timeoutMs: 1000, maxConcurrentConnections: 1 };
  const resolve = await diagnostics.testConnection({ ...base, resolve: ['mail.contoso.test:443'] });
  assert.equal(resolve.steps[0]!.code, 'bad-configuration');
  assert.match(resolve.steps[0]!.summary, /mail\.contoso\.test:443/);
  const ca = await diagnostics.testConnection({ ...base, trustedCaPem: 'not a certificate' });
  assert.equal(ca.steps[0]!.code, 'bad-configuration');
  assert.deepEqual(ca.steps.map((s) => s.status), ['failure', 'skipped', 'skipped']);
});
