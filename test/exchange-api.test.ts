/**
 * Issue 7 end to end, through the API: Test Connection and Test & Enable with the real diagnostics service
 * (createExchangeDiagnostics over the real transport) against a test sandbox reached as an administrator
 * reaches Exchange before DNS points at it (--resolve entries, the sandbox CA as the profile's trusted CA).
 * No doubles: what the plumbing does with a result is tested in test/api-diagnostics.test.ts, what each
 * diagnosis says in test/diagnostics/exchange.test.ts; here the whole chain runs, store included.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createHttpTransport } from '../src/connectors/ews/transport/http.js';
import { createExchangeDiagnostics } from '../src/diagnostics/exchange.js';
import { createDiagnostics } from '../src/diagnostics/index.js';
import { openApi, type TestApi } from './helpers/api.js';
import { SchemaCheckingTransport } from './helpers/ews-client.js';
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
  serverAnswer?: { httpStatus?: number; headers?: Record<string, string>; responseCode?: string; messageText?: string };
  details?: string[];
}
interface Result {
  status: string;
  startedAt: string;
  mailbox: string;
  ewsUrl?: string;
  steps: Step[];
}

const statuses = (r: Result) => r.steps.map((step) => `${step.step}:${step.status}`);
const ALL_PASS = ['autodiscover:success', 'ews:success', 'mailbox:success'];

describe('Exchange through the API, against the sandbox', () => {
  let s: TestSandbox;
  const sent: SchemaCheckingTransport[] = [];
  // The real service; its transports are the real ones, wrapped only to check every request against the schemas.
  const service = createDiagnostics({
    exchange: createExchangeDiagnostics({
      transportFactory: (options) => {
        const transport = new SchemaCheckingTransport(createHttpTransport(options));
        sent.push(transport);
        return transport;
      },
    }),
  });

  before(async () => {
    s = await startTestSandbox();
  });
  after(() => s?.close());

  const ews = (host = 'mail.contoso.test') => `https://${host}:${s.info.listen.port}/EWS/Exchange.asmx`;
  const settings = async (body: Record<string, unknown>) => assert.equal((await s.control('PATCH', '/settings', body)).status, 200);
  const impersonation = async (granted: boolean) => {
    const account = encodeURIComponent(s.info.serviceAccount!.username);
    assert.equal((await s.control('PATCH', `/accounts/${account}`, { impersonation: granted })).status, 200);
  };
  const folderPaths = async (address: string) => {
    const answer = await s.control<Array<{ path: string }>>('GET', `/mailboxes/${encodeURIComponent(address)}/folders`);
    assert.equal(answer.status, 200);
    return answer.json.map((f) => f.path);
  };

  for (const kind of DATABASES) {
    describe(`on ${kind.name}`, kind.suite, () => {
      let api: TestApi;
      const profiles: Record<string, string> = {};
      const mailboxOf: Record<string, string> = {};
      // A sandbox mailbox of this run's own, so that the Undeliverable folder is seen being created.
      const fresh = `fresh-${kind.name}@contoso.test`;

      async function profile(name: string, body: Record<string, unknown>): Promise<string> {
        const created = await api.call('POST', '/api/v1/email-server-profiles', {
          body: {
            name,
            serverType: 'exchange',
            username: 'svc-liaison@contoso.test',
            password: s.password,
            trustedCaPem: s.sandbox.pki.caCertPem,
            requestTimeoutSeconds: 20,
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

      /** A Liaison user whose email is a sandbox mailbox, its mailbox associated with the profile (and approved). */
      const users = new Map<string, { id: string; mailboxId: string }>();
      /** The Liaison user of a sandbox address, created on first use. */
      async function userOf(name: string, email: string): Promise<{ id: string; mailboxId: string }> {
        if (!users.has(email)) {
          const user = await api.call('POST', '/api/v1/users', { body: { name, email } });
          assert.equal(user.statusCode, 201, user.body);
          users.set(email, user.json());
        }
        return users.get(email)!;
      }

      async function liaisonMailbox(name: string, email: string, profileId: string, approved = true): Promise<string> {
        const id = (await userOf(name, email)).mailboxId;
        assert.equal((await api.call('POST', '/api/v1/mailboxes/associate', { body: { mailboxIds: [id], profileId } })).statusCode, 200);
        if (approved) assert.equal((await api.call('POST', '/api/v1/mailboxes/approval', { body: { mailboxIds: [id], approvalStatus: 'approved' } })).statusCode, 200);
        return id;
      }

      before(async () => {
        api = await openApi(kind, { diagnostics: { service, resolve: sandboxResolve(s) } });
        profiles.autoBasic = await profile('Autodiscover, Basic', { autodiscover: true, authentication: 'basic', moveFailedToUndeliverable: true });
        profiles.autoNtlm = await profile('Autodiscover, NTLM', { autodiscover: true, authentication: 'ntlm' });
        profiles.fixedBasic = await profile('mail, Basic', { autodiscover: false, incomingServer: ews(), authentication: 'basic' });
        profiles.fixedNtlm = await profile('mail, NTLM', { autodiscover: false, incomingServer: ews(), authentication: 'ntlm' });
        // The sandbox is shared by the runs on each database: carol starts on mail in each, and the fresh mailbox is new.
        assert.equal((await s.control('POST', '/mailboxes/carol@contoso.test/move', { server: 'mail' })).status, 200);
        assert.equal((await s.control('POST', '/mailboxes', { address: fresh, displayName: `Fresh ${kind.name}` })).status, 201);
      });
      after(async () => api?.close());

      test('Test Connection passes all three steps with Autodiscover on and off, with Basic and with NTLM', async () => {
        for (const [which, url] of [
          ['autoBasic', ews()],
          ['autoNtlm', ews()],
          ['fixedBasic', ews()],
          ['fixedNtlm', ews()],
        ] as const) {
          const result = await testConnection(profiles[which]!);
          assert.deepEqual(statuses(result), ALL_PASS, `${which}: ${JSON.stringify(result, null, 2)}`);
          assert.deepEqual([result.status, result.mailbox, result.ewsUrl], ['success', 'alice@contoso.test', url], which);
          assert.match(result.steps[0]!.summary, which.startsWith('auto') ? /by Autodiscover/ : /verified TLS/, which);
          assert.match(result.steps[1]!.summary, which.endsWith('Ntlm') ? /\(NTLM\)/ : /\(Basic\)/, which);
          assert.match(result.steps[2]!.summary, /Opened the Inbox of alice@contoso\.test as svc-liaison@contoso\.test by impersonation/, which);
        }
        // A mailbox on mail2: found there by Autodiscover, reached through mail by X-AnchorMailbox with it off.
        const dave = await testConnection(profiles.autoNtlm!, 'dave@contoso.test');
        assert.deepEqual([statuses(dave), dave.ewsUrl], [ALL_PASS, ews('mail2.contoso.test')]);
        assert.deepEqual(statuses(await testConnection(profiles.fixedBasic!, 'dave@contoso.test')), ALL_PASS);
      });

      test("Test Connection uses the profile as it is now, and tests the owner's address when the body names none", async () => {
        const switched = await api.call('PATCH', `/api/v1/email-server-profiles/${profiles.fixedBasic}`, { body: { authentication: 'ntlm' } });
        assert.equal(switched.statusCode, 200, switched.body);
        try {
          const result = await testConnection(profiles.fixedBasic!);
          assert.deepEqual(statuses(result), ALL_PASS);
          assert.match(result.steps[1]!.summary, /\(NTLM\)/, 'the password was kept through the change');
        } finally {
          assert.equal((await api.call('PATCH', `/api/v1/email-server-profiles/${profiles.fixedBasic}`, { body: { authentication: 'basic' } })).statusCode, 200);
        }
        const bob = await userOf('Bob Brown', 'bob@contoso.test');
        const owned = await profile('Owned by Bob', { autodiscover: true, ownerId: bob.id });
        const response = await api.call('POST', `/api/v1/email-server-profiles/${owned}/test-connection`);
        assert.equal(response.statusCode, 200, response.body);
        assert.deepEqual([response.json().mailbox, statuses(response.json())], ['bob@contoso.test', ALL_PASS]);
      });

      test("the profile keeps its last result: GET …/test-connection and the profile's lastTestResult", async () => {
        const result = await testConnection(profiles.fixedNtlm!, 'bob@contoso.test');
        assert.equal(result.status, 'success');
        const last = await api.call('GET', `/api/v1/email-server-profiles/${profiles.fixedNtlm}/test-connection`);
        assert.equal(last.statusCode, 200);
        assert.deepEqual(last.json(), result);
        const stored = (await api.call('GET', `/api/v1/email-server-profiles/${profiles.fixedNtlm}`)).json();
        assert.deepEqual(stored.lastTestResult, result);
        assert.equal(stored.lastTestResult.mailbox, 'bob@contoso.test');
      });

      test('Basic switched off: step 2 fails with WWW-Authenticate shown and the fix named; NTLM still passes', async () => {
        await settings({ basicAuth: false });
        try {
          const result = await testConnection(profiles.fixedBasic!);
          assert.deepEqual(statuses(result), ['autodiscover:success', 'ews:failure', 'mailbox:skipped']);
          const step = result.steps[1]!;
          assert.equal(step.code, 'basic-auth-disabled');
          assert.match(step.summary, /Basic authentication is not enabled in Exchange/);
          assert.equal(step.serverAnswer?.httpStatus, 401);
          const offered = step.serverAnswer?.headers?.['www-authenticate'] ?? '';
          assert.match(offered, /NTLM/);
          assert.doesNotMatch(offered, /Basic/);
          assert.match(step.fix ?? '', /Set-WebServicesVirtualDirectory.*-BasicAuthentication \$true/);
          assert.match(step.fix ?? '', /switch the profile to NTLM/);
          assert.deepEqual(step.request, { method: 'POST', url: ews() });
          // The stored result is the failing one.
          const last = (await api.call('GET', `/api/v1/email-server-profiles/${profiles.fixedBasic}/test-connection`)).json();
          assert.deepEqual(last, result);
          assert.deepEqual(statuses(await testConnection(profiles.fixedNtlm!)), ALL_PASS);
          assert.deepEqual(statuses(await testConnection(profiles.autoNtlm!)), ALL_PASS);
        } finally {
          await settings({ basicAuth: true });
        }
      });

      test('Extended Protection required: NTLM with channel binding passes, and Basic is unaffected', async () => {
        await settings({ extendedProtection: 'require' });
        try {
          for (const which of ['fixedNtlm', 'autoNtlm', 'fixedBasic', 'autoBasic']) {
            assert.deepEqual(statuses(await testConnection(profiles[which]!)), ALL_PASS, which);
          }
        } finally {
          await settings({ extendedProtection: 'none' });
        }
      });

      test('a service account without the impersonation role fails at step 3 with ErrorImpersonateUserDenied explained', async () => {
        await impersonation(false);
        try {
          for (const which of ['autoBasic', 'fixedNtlm']) {
            const result = await testConnection(profiles[which]!);
            assert.deepEqual(statuses(result), ['autodiscover:success', 'ews:success', 'mailbox:failure'], which);
            const step = result.steps[2]!;
            assert.equal(step.code, 'impersonation-denied');
            assert.equal(step.serverAnswer?.responseCode, 'ErrorImpersonateUserDenied');
            assert.ok(step.serverAnswer?.messageText, 'the server’s message text is shown');
            assert.match(step.summary, /impersonat/i);
            assert.match(step.fix ?? '', /New-ManagementRoleAssignment .*-Role ApplicationImpersonation -User "svc-liaison@contoso\.test"/);
          }
        } finally {
          await impersonation(true);
        }
      });

      test('the wrong-name host fails at step 1 with the names the certificate carries', async () => {
        const id = await profile('Wrong name', { autodiscover: false, incomingServer: ews('wrong-name.contoso.test') });
        const result = await testConnection(id);
        assert.deepEqual(statuses(result), ['autodiscover:failure', 'ews:skipped', 'mailbox:skipped']);
        const step = result.steps[0]!;
        assert.equal(step.code, 'tls-name-mismatch');
        assert.match(step.summary, /wrong-name\.contoso\.test/);
        assert.match(`${step.summary}\n${(step.details ?? []).join('\n')}`, /mail\.fabrikam\.test/);
        assert.ok(step.fix);
        assert.deepEqual(step.request, { method: 'GET', url: ews('wrong-name.contoso.test') });
      });

      test('Test & Enable (many): enables the approved mailboxes, caches their EWS URL, creates Inbox/Undeliverable; refuses the unapproved', async () => {
        for (const [name, email] of [['Alice Adams', 'alice@contoso.test'], ['Bob Brown', 'bob@contoso.test'], ['Dave Davis', 'dave@contoso.test'], ['Fresh', fresh]] as const) {
          mailboxOf[email] = await liaisonMailbox(name, email, profiles.autoBasic!);
        }
        mailboxOf['carol@contoso.test'] = await liaisonMailbox('Carol Clark', 'carol@contoso.test', profiles.autoBasic!, false);
        assert.ok(!(await folderPaths(fresh)).includes('Inbox/Undeliverable'), 'a new mailbox has no Undeliverable folder');
        const before = s.records.length;

        const ids = ['alice@contoso.test', 'bob@contoso.test', 'dave@contoso.test', fresh, 'carol@contoso.test'].map((e) => mailboxOf[e]!);
        const response = await api.call('POST', '/api/v1/mailboxes/test-and-enable', { body: { ids } });
        assert.equal(response.statusCode, 200, response.body);
        const body = response.json();
        assert.deepEqual(body.summary, { enabled: 4, failed: 0, refused: 1 }, JSON.stringify(body.items.map((i: { outcome: string; result?: Result }) => [i.outcome, i.result?.steps]), null, 2));
        const [alice, bob, dave, fresher, carol] = body.items;
        for (const [outcome, url] of [[alice, ews()], [bob, ews()], [dave, ews('mail2.contoso.test')], [fresher, ews()]]) {
          assert.equal(outcome.outcome, 'enabled');
          assert.deepEqual(statuses(outcome.result), ALL_PASS);
          const m = outcome.mailbox;
          assert.deepEqual([m.enabled, m.incomingStatus, m.outgoingStatus, m.ewsUrl], [true, 'success', 'success', url], outcome.emailAddress);
          assert.ok(m.ewsUrlFoundAt && m.lastTestAt);
          // The stored mailbox says the same as the outcome.
          const stored = (await api.call('GET', `/api/v1/mailboxes/${outcome.mailboxId}`)).json();
          assert.deepEqual([stored.enabled, stored.incomingStatus, stored.ewsUrl], [true, 'success', url]);
          assert.ok(stored.recentAlerts.some((a: { code: string; level: string }) => a.code === 'mailbox.enabled' && a.level === 'information'));
        }
        assert.match(fresher.result.steps[2].summary, /created the folder Inbox\/Undeliverable/);
        for (const address of ['alice@contoso.test', 'bob@contoso.test', 'dave@contoso.test', fresh]) {
          assert.ok((await folderPaths(address)).includes('Inbox/Undeliverable'), `${address} has Inbox/Undeliverable in the sandbox`);
        }

        assert.equal(carol.outcome, 'refused');
        assert.match(carol.problems.join(' '), /not approved; an administrator must approve it first/);
        assert.equal(carol.result, null);
        assert.deepEqual([carol.mailbox.enabled, carol.mailbox.incomingStatus], [false, 'not-run']);
        const seen = (address: string) => s.records.slice(before).some((r) => r.request.includes(address));
        assert.ok(seen('alice@contoso.test'), 'the tested mailboxes are asked about on the server');
        assert.ok(!seen('carol@contoso.test'), 'an unapproved mailbox is not even tested on the server');
      });

      test('Test & Enable (one): a failing mailbox gets an error alert with the step, the server answer and the fix, and stays disabled', async () => {
        const carol = mailboxOf['carol@contoso.test']!;
        assert.equal((await api.call('POST', '/api/v1/mailboxes/approval', { body: { mailboxIds: [carol], approvalStatus: 'approved' } })).statusCode, 200);
        await impersonation(false);
        let outcome;
        try {
          const response = await api.call('POST', `/api/v1/mailboxes/${carol}/test-and-enable`);
          assert.equal(response.statusCode, 200, response.body);
          outcome = response.json();
        } finally {
          await impersonation(true);
        }
        assert.equal(outcome.outcome, 'failed');
        assert.deepEqual(statuses(outcome.result), ['autodiscover:success', 'ews:success', 'mailbox:failure']);
        assert.deepEqual([outcome.mailbox.enabled, outcome.mailbox.incomingStatus, outcome.mailbox.outgoingStatus], [false, 'failure', 'failure']);
        assert.equal((await api.call('GET', `/api/v1/mailboxes/${carol}`)).json().enabled, false);

        const alerts = (await api.call('GET', `/api/v1/alerts?mailboxId=${carol}&level=error`)).json().items;
        assert.equal(alerts.length, 1);
        const alert = alerts[0];
        assert.equal(alert.id, outcome.alertId);
        assert.deepEqual([alert.scope, alert.code, alert.profileId], ['mailbox', 'test-and-enable.impersonation-denied', profiles.autoBasic]);
        assert.match(alert.message, /carol@contoso\.test at step 3 \(Mailbox connection\)/);
        assert.match(alert.message, /stays disabled/);
        assert.match(alert.serverResponse, new RegExp(`^POST ${ews().replace(/[.]/g, '\\.')}\\n`));
        assert.match(alert.serverResponse, /ErrorImpersonateUserDenied: /);
        assert.match(alert.fix, /New-ManagementRoleAssignment .*ApplicationImpersonation/);

        // With the role granted again, the same call enables it.
        const again = (await api.call('POST', `/api/v1/mailboxes/${carol}/test-and-enable`)).json();
        assert.equal(again.outcome, 'enabled', JSON.stringify(again.result?.steps, null, 2));
        assert.deepEqual([again.mailbox.enabled, again.mailbox.ewsUrl], [true, ews()]);
      });

      test('a mailbox moved to mail2 is found there again by Test & Enable, and the new EWS URL is cached', async () => {
        const carol = mailboxOf['carol@contoso.test']!;
        const cached = (await api.call('GET', `/api/v1/mailboxes/${carol}`)).json();
        assert.equal(cached.ewsUrl, ews());
        const moved = await s.control<{ server: string }>('POST', '/mailboxes/carol@contoso.test/move', { server: 'mail2' });
        assert.equal(moved.status, 200);
        const outcome = (await api.call('POST', `/api/v1/mailboxes/${carol}/test-and-enable`)).json();
        assert.equal(outcome.outcome, 'enabled', JSON.stringify(outcome.result?.steps, null, 2));
        assert.deepEqual([outcome.result.ewsUrl, outcome.mailbox.ewsUrl, outcome.mailbox.enabled], [ews('mail2.contoso.test'), ews('mail2.contoso.test'), true]);
        assert.ok(Date.parse(outcome.mailbox.ewsUrlFoundAt) > Date.parse(cached.ewsUrlFoundAt), 'the new location has its own time');
        // And Test Connection through the profile finds it there too.
        assert.equal((await testConnection(profiles.autoNtlm!, 'carol@contoso.test')).ewsUrl, ews('mail2.contoso.test'));
      });

      test('no response carries the service account password', () => {
        for (const body of api.bodies) assert.ok(!body.includes(s.password), 'a response carried the password');
      });
    });
  }

  test('every EWS request the service sent validates against the schemas', () => {
    const requests = sent.flatMap((t) => t.requests).filter((r) => r.url.includes('/EWS/') && r.body !== '');
    assert.ok(requests.length >= 20, `${requests.length} EWS requests`);
    assert.deepEqual(requests.filter((r) => r.violation !== null).map((r) => r.violation), []);
  });
});
