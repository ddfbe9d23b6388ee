/**
 * Exchange Online's three steps (token, Microsoft Graph and permissions, mailbox) against the sandbox's Graph
 * side, through the connector's own token provider and Graph client: each failure names its step, shows what
 * Azure AD or Graph answered (the AADSTS code, Graph's error code and message) and says what to fix. The apps,
 * secrets, certificates and access policies are made through the sandbox's control API, as an administrator makes
 * them in the Entra admin center and in Exchange Online PowerShell.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { createGraphDiagnostics, explainAadsts, missingPermissions } from '../../src/diagnostics/graph.js';
import type { GraphTarget } from '../../src/diagnostics/service.js';
import type { ConnectionTestResult, StepEvent } from '../../src/diagnostics/types.js';
import { testLeaf } from '../helpers/certs.js';
import { startTestSandbox, type TestSandbox } from '../helpers/sandbox.js';
import { sandboxResolve } from '../helpers/sandbox-connect.js';

interface GraphInfo {
  url: string;
  authority: string;
  tenantId: string;
  clientId: string;
  clientSecret: string;
}

interface App {
  clientId: string;
  secrets: Array<{ value: string; expiresAt: string | null }>;
}

describe('Exchange Online Test Connection against the sandbox', () => {
  let s: TestSandbox;
  let g: GraphInfo;
  const diagnostics = createGraphDiagnostics();

  before(async () => {
    s = await startTestSandbox();
    g = (s.info as unknown as { graph: GraphInfo }).graph;
    assert.ok(g?.clientSecret, 'the demo seed has a Graph app');
  });
  after(() => s?.close());

  const target = (extra: Partial<GraphTarget> = {}): GraphTarget => ({
    kind: 'graph',
    email: 'alice@contoso.test',
    tenantId: g.tenantId,
    clientId: g.clientId,
    clientSecret: g.clientSecret,
    certificatePem: null,
    authority: g.authority,
    graphUrl: g.url,
    trustedCaPem: s.sandbox.pki.caCertPem,
    resolve: sandboxResolve(s),
    timeoutMs: 20_000,
    directions: ['incoming', 'outgoing'],
    ...extra,
  });
  const statuses = (r: ConnectionTestResult) => r.steps.map((step) => `${step.step}:${step.status}`);
  const dump = (r: unknown) => JSON.stringify(r, null, 2);

  async function app(body: Record<string, unknown>): Promise<App> {
    const created = await s.control<App>('POST', '/graph/apps', { displayName: `test ${randomUUID()}`, ...body });
    assert.ok(created.status === 200 || created.status === 201, dump(created.json));
    return created.json;
  }

  test('the demo app: all three steps pass, announced as they run, with the token, the permissions and the Inbox named', async () => {
    const events: StepEvent[] = [];
    const result = await diagnostics.testConnection(target(), (e) => events.push(e));
    assert.deepEqual(statuses(result), ['token:success', 'graph:success', 'mailbox:success'], dump(result));
    assert.equal(result.status, 'success');
    assert.equal(result.mailbox, 'alice@contoso.test');
    const [token, graph, mailbox] = result.steps;
    assert.match(token!.summary, new RegExp(`issued a token for app ${g.clientId} in tenant ${g.tenantId} with its client secret`));
    assert.equal(token!.request?.url, `${g.authority}/oauth2/v2.0/token`);
    assert.ok(token!.details?.some((d) => /^roles: .*Mail\.ReadWrite/.test(d) && /Mail\.Send/.test(d)), dump(token));
    assert.match(graph!.summary, /Graph accepted the token/);
    assert.match(graph!.summary, /holds Mail\.ReadWrite and Mail\.Send/);
    assert.match(mailbox!.summary, /^Opened the Inbox of alice@contoso\.test as app .*\(\d+ items, \d+ unread\); read Sent Items/);
    assert.deepEqual(events.map((e) => e.type), ['start', 'end', 'start', 'end', 'start', 'end']);
    // The secret and the token never reach the result (the API stores it, the console shows it).
    const text = dump(result);
    assert.ok(!text.includes(g.clientSecret), 'the client secret is not in the result');
    assert.doesNotMatch(text, /eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}/, 'no JWT in the result');
  });

  test('Test & Enable creates Inbox/Undeliverable when the profile moves failed mail there, and finds it the second time', async () => {
    const address = 'bob@contoso.test';
    const folders = async () => (await s.control<Array<{ path: string }>>('GET', `/mailboxes/${encodeURIComponent(address)}/folders`)).json.map((f) => f.path);
    const before = await folders();
    assert.ok(!before.some((p) => /^Inbox\/Undeliverable$/i.test(p)), `not there yet: ${before.join(', ')}`);
    const first = await diagnostics.testMailbox(target({ email: address, directions: ['incoming'] }), { createUndeliverable: true });
    assert.deepEqual(statuses(first), ['token:success', 'graph:success', 'mailbox:success'], dump(first));
    assert.match(first.steps[2]!.summary, /created the folder Inbox\/Undeliverable/);
    assert.ok((await folders()).some((p) => /^Inbox\/Undeliverable$/i.test(p)));
    const second = await diagnostics.testMailbox(target({ email: address, directions: ['incoming'] }), { createUndeliverable: true });
    assert.match(second.steps[2]!.summary, /the folder Inbox\/Undeliverable exists/);
    // Incoming only: Sent Items is not part of it.
    assert.doesNotMatch(second.steps[2]!.summary, /Sent Items/);
  });

  test('a wrong client secret fails step 1 naming AADSTS7000215, with Azure AD\'s own answer and the fix; steps 2 and 3 do not run', async () => {
    const result = await diagnostics.testConnection(target({ clientSecret: 'not-the-secret' }));
    assert.deepEqual(statuses(result), ['token:failure', 'graph:skipped', 'mailbox:skipped'], dump(result));
    const step = result.steps[0]!;
    assert.equal(step.code, 'aad.AADSTS7000215');
    assert.match(step.summary, /rejected the client secret .*AADSTS7000215/);
    assert.match(step.serverAnswer?.responseCode ?? '', /AADSTS7000215/);
    assert.match(step.serverAnswer?.messageText ?? '', /AADSTS7000215: Invalid client secret/);
    assert.match(step.serverAnswer?.messageText ?? '', /Trace ID: /, "Azure AD's trace id is kept for its support");
    assert.equal(step.serverAnswer?.httpStatus, 401);
    assert.match(step.fix ?? '', /Certificates & secrets, create a new client secret, and enter its Value \(not its Secret ID\)/);
    assert.ok(!dump(result).includes('not-the-secret'), 'the refused secret is not repeated');
    assert.match(result.steps[1]!.summary, /step 1 got no token/);
  });

  test('an expired secret, an unknown tenant and an unknown app each name their AADSTS code and the setting to fix', async () => {
    const expiring = await app({ permissions: ['Mail.ReadWrite', 'Mail.Send'], secrets: [{ expiresAt: new Date(Date.now() - 86_400_000).toISOString() }] });
    const otherTenant = randomUUID();
    const cases: Array<[string, Partial<GraphTarget>, string, RegExp]> = [
      ['expired secret', { clientId: expiring.clientId, clientSecret: expiring.secrets[0]!.value }, 'AADSTS7000222', /create a new client secret, and enter its Value \(not its Secret ID\).*when it expires/],
      ['unknown tenant', { tenantId: otherTenant, authority: g.authority.replace(g.tenantId, otherTenant) }, 'AADSTS90002', /Directory \(tenant\) ID on the app registration's Overview page/],
      ['unknown app', { clientId: randomUUID() }, 'AADSTS700016', /Application \(client\) ID on the app registration's Overview page, registered in this tenant/],
    ];
    for (const [name, extra, code, fix] of cases) {
      const result = await diagnostics.testConnection(target(extra));
      assert.deepEqual(statuses(result), ['token:failure', 'graph:skipped', 'mailbox:skipped'], `${name}: ${dump(result)}`);
      assert.equal(result.steps[0]!.code, `aad.${code}`, `${name}: ${dump(result.steps[0])}`);
      assert.match(result.steps[0]!.serverAnswer?.messageText ?? '', new RegExp(`${code}: `), name);
      assert.match(result.steps[0]!.fix ?? '', fix, name);
    }
  });

  test('a certificate: the registered one passes step 1; one the app does not know fails with AADSTS700027 and the upload fix', async () => {
    const registered = testLeaf({ names: ['liaison-app'] });
    const stranger = testLeaf({ names: ['someone-else'] });
    const withCert = await app({ permissions: ['Mail.ReadWrite', 'Mail.Send'], certificates: [{ pem: registered.pem }] });
    const good = await diagnostics.testConnection(target({ clientId: withCert.clientId, clientSecret: null, certificatePem: `${registered.key.pem}${registered.pem}` }));
    assert.deepEqual(statuses(good), ['token:success', 'graph:success', 'mailbox:success'], dump(good));
    assert.match(good.steps[0]!.summary, /with its certificate/);
    const bad = await diagnostics.testConnection(target({ clientId: withCert.clientId, clientSecret: null, certificatePem: `${stranger.key.pem}${stranger.pem}` }));
    assert.deepEqual(statuses(bad), ['token:failure', 'graph:skipped', 'mailbox:skipped'], dump(bad));
    assert.equal(bad.steps[0]!.code, 'aad.AADSTS700027');
    assert.match(bad.steps[0]!.fix ?? '', /Upload the certificate \(its public part, .cer or .pem\) to App registrations/);
    // A PEM without its private key is step 1's failure, said as the profile's certificate, before anything is sent.
    const keyless = await diagnostics.testConnection(target({ clientId: withCert.clientId, clientSecret: null, certificatePem: registered.pem }));
    assert.deepEqual(statuses(keyless), ['token:failure', 'graph:skipped', 'mailbox:skipped'], dump(keyless));
    assert.match(keyless.steps[0]!.summary, /private key/);
  });

  test('an app without Mail.Send fails step 2 for sending, naming Mail.Send and the admin consent; for incoming only it passes', async () => {
    const readOnly = await app({ permissions: ['Mail.ReadWrite'] });
    const secret = readOnly.secrets[0]!.value;
    const both = await diagnostics.testConnection(target({ clientId: readOnly.clientId, clientSecret: secret }));
    assert.deepEqual(statuses(both), ['token:success', 'graph:failure', 'mailbox:skipped'], dump(both));
    const step = both.steps[1]!;
    assert.equal(step.code, 'graph.permission-missing');
    assert.match(step.summary, /lacks Mail\.Send/);
    assert.doesNotMatch(step.summary, /lacks Mail\.ReadWrite/);
    assert.match(step.fix ?? '', /add the Microsoft Graph application permission Mail\.Send \(Application permissions, not Delegated\), then click "Grant admin consent"/);
    const outgoing = await diagnostics.testConnection(target({ clientId: readOnly.clientId, clientSecret: secret, directions: ['outgoing'] }));
    assert.equal(outgoing.steps[1]!.code, 'graph.permission-missing');
    const incoming = await diagnostics.testConnection(target({ clientId: readOnly.clientId, clientSecret: secret, directions: ['incoming'] }));
    assert.deepEqual(statuses(incoming), ['token:success', 'graph:success', 'mailbox:success'], dump(incoming));
  });

  test('an app with no consented permission (no roles claim) fails step 2 as admin consent not granted', async () => {
    const bare = await app({ permissions: [] });
    const result = await diagnostics.testConnection(target({ clientId: bare.clientId, clientSecret: bare.secrets[0]!.value }));
    assert.deepEqual(statuses(result), ['token:success', 'graph:failure', 'mailbox:skipped'], dump(result));
    assert.equal(result.steps[1]!.code, 'graph.consent-missing');
    assert.match(result.steps[1]!.summary, /no roles claim/);
    assert.match(result.steps[1]!.fix ?? '', /application permissions Mail\.ReadWrite and Mail\.Send .*"Grant admin consent"/);
  });

  test('an application access policy that excludes the mailbox fails step 3 with Exchange Online\'s answer and the PowerShell fix', async () => {
    const policy = await s.control<{ id: string }>('POST', '/graph/access-policies', { appId: g.clientId, accessRight: 'RestrictAccess', mailboxes: ['bob@contoso.test'] });
    assert.ok(policy.status === 200 || policy.status === 201, dump(policy.json));
    try {
      const excluded = await diagnostics.testConnection(target());
      assert.deepEqual(statuses(excluded), ['token:success', 'graph:success', 'mailbox:failure'], dump(excluded));
      const step = excluded.steps[2]!;
      assert.equal(step.code, 'graph.access-policy');
      assert.equal(step.serverAnswer?.httpStatus, 403);
      assert.equal(step.serverAnswer?.responseCode, 'ErrorAccessDenied');
      assert.match(step.serverAnswer?.messageText ?? '', /\[RAOP\].*AccessPolicy/);
      assert.match(step.request?.url ?? '', /\/v1\.0\/users\/alice%40contoso\.test\/mailFolders\/inbox/);
      assert.ok(step.fix?.includes(`Test-ApplicationAccessPolicy -Identity alice@contoso.test -AppId ${g.clientId}`), step.fix);
      assert.ok(step.fix?.includes(`New-ApplicationAccessPolicy -AppId ${g.clientId} -PolicyScopeGroupId <group> -AccessRight RestrictAccess`), step.fix);
      // The mailbox the policy grants still opens.
      const granted = await diagnostics.testConnection(target({ email: 'bob@contoso.test' }));
      assert.deepEqual(statuses(granted), ['token:success', 'graph:success', 'mailbox:success'], dump(granted));
    } finally {
      assert.equal((await s.control('DELETE', `/graph/access-policies/${policy.json.id}`)).status < 300, true);
    }
    assert.equal((await diagnostics.testConnection(target())).status, 'success', 'without the policy alice opens again');
  });

  test('an address the tenant does not know fails step 3 (ErrorInvalidUser), not step 2', async () => {
    const result = await diagnostics.testConnection(target({ email: 'nobody@contoso.test' }));
    assert.deepEqual(statuses(result), ['token:success', 'graph:success', 'mailbox:failure'], dump(result));
    assert.equal(result.steps[2]!.serverAnswer?.httpStatus, 404);
    assert.equal(result.steps[2]!.code, 'graph.no-such-mailbox');
    assert.equal(result.steps[2]!.serverAnswer?.responseCode, 'ErrorInvalidUser');
    assert.match(result.steps[2]!.fix ?? '', /Check the address/);
  });

  test('a user whose mailbox is not in Exchange Online (MailboxNotEnabledForRESTAPI) fails step 3 pointing to an Exchange profile', async () => {
    // The sandbox's directory account without a mailbox here answers as a mailbox hosted on-premises does.
    const result = await diagnostics.testConnection(target({ email: s.info.serviceAccount!.username }));
    assert.deepEqual(statuses(result), ['token:success', 'graph:success', 'mailbox:failure'], dump(result));
    const step = result.steps[2]!;
    assert.equal(step.code, 'graph.MailboxNotEnabledForRESTAPI');
    assert.deepEqual([step.serverAnswer?.httpStatus, step.serverAnswer?.responseCode], [404, 'MailboxNotEnabledForRESTAPI']);
    assert.match(step.serverAnswer?.messageText ?? '', /hosted on-premise/);
    assert.match(step.fix ?? '', /on-premises Exchange .*add it under an Exchange profile/);
  });

  test('settings that cannot be used fail step 1 before anything is sent', async () => {
    const requests = s.records.length;
    const http = await diagnostics.testConnection(target({ authority: g.authority.replace('https:', 'http:') }));
    assert.deepEqual(statuses(http), ['token:failure', 'graph:skipped', 'mailbox:skipped']);
    assert.equal(http.steps[0]!.code, 'bad-configuration');
    assert.match(http.steps[0]!.summary, /not https/);
    const none = await diagnostics.testConnection(target({ clientSecret: null }));
    assert.equal(none.steps[0]!.code, 'bad-configuration');
    assert.equal(s.records.length, requests, 'nothing reached the sandbox');
  });

  test('a token endpoint that cannot be reached is step 1, said as the network, not as Azure AD', async () => {
    const result = await diagnostics.testConnection(target({ authority: `https://login.unreachable.test/${g.tenantId}`, resolve: [...sandboxResolve(s), 'login.unreachable.test:443:127.0.0.1:1'] }));
    assert.deepEqual(statuses(result), ['token:failure', 'graph:skipped', 'mailbox:skipped'], dump(result));
    assert.doesNotMatch(result.steps[0]!.code ?? '', /^aad\./);
    assert.match(result.steps[0]!.summary, /login\.unreachable\.test/);
  });
});

describe('what the Graph diagnostics conclude, without a server', () => {
  test('the permissions each direction needs', () => {
    assert.deepEqual(missingPermissions(['Mail.ReadWrite', 'Mail.Send'], ['incoming', 'outgoing']), []);
    assert.deepEqual(missingPermissions(['Mail.ReadWrite'], ['incoming']), []);
    assert.deepEqual(missingPermissions(['Mail.ReadWrite'], ['outgoing']), ['Mail.Send']);
    assert.deepEqual(missingPermissions(['Mail.Read', 'Mail.Send'], ['incoming', 'outgoing']), ['Mail.ReadWrite']);
    assert.deepEqual(missingPermissions([], ['incoming', 'outgoing']), ['Mail.ReadWrite', 'Mail.Send']);
  });

  test('every AADSTS code the seed names has its own fix; an unknown one still says where to look', () => {
    const app = {
      tenantId: 'contoso.onmicrosoft.com',
      clientId: '11111111-2222-3333-4444-555555555555',
      authority: 'https://login.microsoftonline.com/contoso.onmicrosoft.com',
      email: 'alice@contoso.com',
      graphUrl: 'https://graph.microsoft.com',
    };
    const fixes = ['AADSTS7000215', 'AADSTS7000222', 'AADSTS90002', 'AADSTS700016', 'AADSTS700027'].map((code) => explainAadsts(code, app));
    assert.equal(new Set(fixes.map((f) => f.fix)).size, fixes.length, 'five different fixes');
    assert.deepEqual(fixes.map((f) => f.code), ['aad.AADSTS7000215', 'aad.AADSTS7000222', 'aad.AADSTS90002', 'aad.AADSTS700016', 'aad.AADSTS700027']);
    const unknown = explainAadsts('AADSTS123456', app);
    assert.equal(unknown.code, 'aad.AADSTS123456');
    assert.match(unknown.summary, /AADSTS123456/);
    assert.match(unknown.fix, /error\?code=123456/);
  });
});
