/**
 * Exchange Online through the API, end to end: Test Connection of an exchange-online profile and Test & Enable of
 * its mailboxes with the real diagnostics service (the connector's tokens and Graph client) against a test
 * sandbox's Graph side, reached by the profile's authority and Graph URL with --resolve entries and the sandbox
 * CA as the profile's trusted CA. What is stored (the profile's last result, the mailbox's statuses, the alerts)
 * is checked as for Exchange in test/exchange-api.test.ts.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createDiagnostics } from '../src/diagnostics/index.js';
import { openApi, type TestApi } from './helpers/api.js';
import { startTestSandbox, type TestSandbox } from './helpers/sandbox.js';
import { sandboxResolve } from './helpers/sandbox-connect.js';
import { DATABASES } from './helpers/stores.js';

interface Step {
  step: string;
  status: string;
  summary: string;
  code?: string;
  fix?: string;
  request?: { method: string; url: string };
  serverAnswer?: { httpStatus?: number; responseCode?: string; messageText?: string };
}
interface Result {
  status: string;
  mailbox: string;
  ewsUrl?: string;
  steps: Step[];
}
interface GraphInfo {
  url: string;
  authority: string;
  tenantId: string;
  clientId: string;
  clientSecret: string;
}

const statuses = (r: Result) => r.steps.map((step) => `${step.step}:${step.status}`);
const ALL_PASS = ['token:success', 'graph:success', 'mailbox:success'];

describe('Exchange Online through the API, against the sandbox', () => {
  let s: TestSandbox;
  let g: GraphInfo;
  const service = createDiagnostics();

  before(async () => {
    s = await startTestSandbox();
    g = (s.info as unknown as { graph: GraphInfo }).graph;
  });
  after(() => s?.close());

  const folderPaths = async (address: string) => {
    const answer = await s.control<Array<{ path: string }>>('GET', `/mailboxes/${encodeURIComponent(address)}/folders`);
    assert.equal(answer.status, 200);
    return answer.json.map((f) => f.path);
  };

  for (const kind of DATABASES) {
    describe(`on ${kind.name}`, kind.suite, () => {
      let api: TestApi;
      let profileId: string;
      // A sandbox mailbox of this run's own, so that the Undeliverable folder is seen being created.
      const fresh = `graph-fresh-${kind.name}@contoso.test`;

      async function profile(name: string, body: Record<string, unknown>): Promise<string> {
        const created = await api.call('POST', '/api/v1/email-server-profiles', {
          body: {
            name,
            serverType: 'exchange-online',
            tenantId: g.tenantId,
            clientId: g.clientId,
            clientSecret: g.clientSecret,
            authority: g.authority,
            incomingServer: g.url,
            trustedCaPem: s.sandbox.pki.caCertPem,
            requestTimeoutSeconds: 20,
            moveFailedToUndeliverable: true,
            ...body,
          },
        });
        assert.equal(created.statusCode, 201, created.body);
        return created.json().id;
      }

      async function testConnection(id: string, mailbox = 'alice@contoso.test'): Promise<Result> {
        const response = await api.call('POST', `/api/v1/email-server-profiles/${id}/test-connection`, { body: { mailbox } });
        assert.equal(response.statusCode, 200, response.body);
        return response.json();
      }

      /** A Liaison user whose email is a sandbox mailbox, its mailbox associated with the profile and approved. */
      async function liaisonMailbox(name: string, email: string, profile: string, approved = true): Promise<string> {
        const user = await api.call('POST', '/api/v1/users', { body: { name, email } });
        assert.equal(user.statusCode, 201, user.body);
        const id = user.json().mailboxId as string;
        assert.equal((await api.call('POST', '/api/v1/mailboxes/associate', { body: { mailboxIds: [id], profileId: profile } })).statusCode, 200);
        if (approved) assert.equal((await api.call('POST', '/api/v1/mailboxes/approval', { body: { mailboxIds: [id], approvalStatus: 'approved' } })).statusCode, 200);
        return id;
      }

      before(async () => {
        api = await openApi(kind, { diagnostics: { service, resolve: sandboxResolve(s) } });
        profileId = await profile('Exchange Online (sandbox)', {});
        assert.equal((await s.control('POST', '/mailboxes', { address: fresh, displayName: `Graph fresh ${kind.name}` })).status, 201);
      });
      after(async () => api?.close());

      test('Test Connection passes the three Graph steps and keeps the result as the profile\'s last', async () => {
        const result = await testConnection(profileId);
        assert.deepEqual(statuses(result), ALL_PASS, JSON.stringify(result, null, 2));
        assert.deepEqual([result.status, result.mailbox, result.ewsUrl], ['success', 'alice@contoso.test', undefined]);
        assert.match(result.steps[0]!.summary, new RegExp(`issued a token for app ${g.clientId} in tenant ${g.tenantId}`));
        assert.match(result.steps[2]!.summary, /Opened the Inbox of alice@contoso\.test/);
        const stored = (await api.call('GET', `/api/v1/email-server-profiles/${profileId}`)).json();
        assert.deepEqual(stored.lastTestResult, result);
      });

      test('a wrong client secret fails Test Connection at step 1 with AADSTS7000215 named; the saved secret changed back passes', async () => {
        assert.equal((await api.call('PATCH', `/api/v1/email-server-profiles/${profileId}`, { body: { clientSecret: 'not-the-secret' } })).statusCode, 200);
        let result: Result;
        try {
          result = await testConnection(profileId);
        } finally {
          assert.equal((await api.call('PATCH', `/api/v1/email-server-profiles/${profileId}`, { body: { clientSecret: g.clientSecret } })).statusCode, 200);
        }
        assert.deepEqual(statuses(result), ['token:failure', 'graph:skipped', 'mailbox:skipped']);
        assert.equal(result.steps[0]!.code, 'aad.AADSTS7000215');
        assert.match(result.steps[0]!.serverAnswer?.messageText ?? '', /AADSTS7000215: Invalid client secret/);
        assert.match(result.steps[0]!.fix ?? '', /Certificates & secrets/);
        assert.deepEqual(statuses(await testConnection(profileId)), ALL_PASS);
      });

      test('Test & Enable (many): enables the approved mailboxes, creates Inbox/Undeliverable, refuses the unapproved', async () => {
        const alice = await liaisonMailbox('Alice Adams', 'alice@contoso.test', profileId);
        const fresher = await liaisonMailbox('Fresh', fresh, profileId);
        const carol = await liaisonMailbox('Carol Clark', 'carol@contoso.test', profileId, false);
        assert.ok(!(await folderPaths(fresh)).includes('Inbox/Undeliverable'), 'a new mailbox has no Undeliverable folder');
        const response = await api.call('POST', '/api/v1/mailboxes/test-and-enable', { body: { ids: [alice, fresher, carol] } });
        assert.equal(response.statusCode, 200, response.body);
        const body = response.json();
        assert.deepEqual(body.summary, { enabled: 2, failed: 0, refused: 1 }, JSON.stringify(body.items, null, 2));
        const [a, f, c] = body.items;
        for (const outcome of [a, f]) {
          assert.equal(outcome.outcome, 'enabled');
          assert.deepEqual(statuses(outcome.result), ALL_PASS);
          assert.deepEqual([outcome.mailbox.enabled, outcome.mailbox.incomingStatus, outcome.mailbox.outgoingStatus], [true, 'success', 'success'], outcome.emailAddress);
          const stored = (await api.call('GET', `/api/v1/mailboxes/${outcome.mailboxId}`)).json();
          assert.equal(stored.enabled, true);
          assert.ok(stored.recentAlerts.some((alert: { code: string }) => alert.code === 'mailbox.enabled'));
        }
        assert.match(f.result.steps[2].summary, /created the folder Inbox\/Undeliverable/);
        assert.ok((await folderPaths(fresh)).includes('Inbox/Undeliverable'), 'the folder exists in the sandbox');
        assert.equal(c.outcome, 'refused');
        assert.match(c.problems.join(' '), /not approved/);
      });

      test('Test & Enable (one): an access policy that excludes the mailbox fails at step 3, the alert carries the PowerShell fix, the mailbox stays disabled', async () => {
        const bob = await liaisonMailbox('Bob Brown', 'bob@contoso.test', profileId);
        const policy = await s.control<{ id: string }>('POST', '/graph/access-policies', { appId: g.clientId, accessRight: 'RestrictAccess', mailboxes: ['alice@contoso.test'] });
        assert.ok(policy.status < 300, JSON.stringify(policy.json));
        let outcome;
        try {
          const response = await api.call('POST', `/api/v1/mailboxes/${bob}/test-and-enable`);
          assert.equal(response.statusCode, 200, response.body);
          outcome = response.json();
        } finally {
          await s.control('DELETE', `/graph/access-policies/${policy.json.id}`);
        }
        assert.equal(outcome.outcome, 'failed');
        assert.deepEqual(statuses(outcome.result), ['token:success', 'graph:success', 'mailbox:failure']);
        assert.deepEqual([outcome.mailbox.enabled, outcome.mailbox.incomingStatus], [false, 'failure']);
        const alerts = (await api.call('GET', `/api/v1/alerts?mailboxId=${bob}&level=error`)).json().items;
        assert.equal(alerts.length, 1);
        const alert = alerts[0];
        assert.deepEqual([alert.id, alert.code], [outcome.alertId, 'test-and-enable.graph.access-policy']);
        assert.match(alert.message, /bob@contoso\.test at step 3 \(Mailbox connection\)/);
        assert.match(alert.serverResponse, /^GET https:\/\/graph\.contoso\.test:\d+\/v1\.0\/users\/bob%40contoso\.test\/mailFolders\/inbox/);
        assert.match(alert.serverResponse, /HTTP 403\nErrorAccessDenied: Access to OData is disabled: \[RAOP\]/);
        assert.ok(alert.fix.includes(`Test-ApplicationAccessPolicy -Identity bob@contoso.test -AppId ${g.clientId}`), alert.fix);

        // Without the policy the same call enables it.
        const again = (await api.call('POST', `/api/v1/mailboxes/${bob}/test-and-enable`)).json();
        assert.equal(again.outcome, 'enabled', JSON.stringify(again.result?.steps, null, 2));
      });

      test('Test & Enable of a mailbox that only sends checks Mail.Send: an app without it fails at step 2 naming it', async () => {
        const readOnly = await s.control<{ clientId: string; secrets: Array<{ value: string }> }>('POST', '/graph/apps', { displayName: `read only ${kind.name}`, permissions: ['Mail.ReadWrite'] });
        assert.ok(readOnly.status < 300, JSON.stringify(readOnly.json));
        const limited = await profile(`Read-only app ${kind.name}`, { clientId: readOnly.json.clientId, clientSecret: readOnly.json.secrets[0]!.value });
        const dave = await liaisonMailbox('Dave Davis', 'dave@contoso.test', limited);
        assert.equal((await api.call('PATCH', `/api/v1/mailboxes/${dave}`, { body: { incomingMethod: 'none' } })).statusCode, 200);
        const failed = (await api.call('POST', `/api/v1/mailboxes/${dave}/test-and-enable`)).json();
        assert.equal(failed.outcome, 'failed', JSON.stringify(failed, null, 2));
        assert.deepEqual(statuses(failed.result), ['token:success', 'graph:failure', 'mailbox:skipped']);
        assert.equal(failed.result.steps[1].code, 'graph.permission-missing');
        assert.match(failed.result.steps[1].summary, /lacks Mail\.Send/);
        // Receiving only, the same app is enough.
        assert.equal((await api.call('PATCH', `/api/v1/mailboxes/${dave}`, { body: { incomingMethod: 'server-side-sync', outgoingMethod: 'none' } })).statusCode, 200);
        const enabled = (await api.call('POST', `/api/v1/mailboxes/${dave}/test-and-enable`)).json();
        assert.equal(enabled.outcome, 'enabled', JSON.stringify(enabled.result?.steps, null, 2));
      });

      test('no response carries the client secret', () => {
        for (const body of api.bodies) assert.ok(!body.includes(g.clientSecret), 'a response carried the client secret');
      });
    });
  }
});
