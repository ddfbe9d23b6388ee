/**
 * The plumbing around the diagnostics, through the API: the profile's new fields, Test Connection's target and
 * stored result, Test & Enable's outcomes (statuses, EWS URL, alerts, refusals, parallelism). The diagnostics
 * service here is a double (test/helpers/diagnostics-double.ts); the steps themselves are tested against the
 * sandbox with the real service.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { buildApi } from '../src/api/server.js';
import { openApi, type TestApi } from './helpers/api.js';
import { DiagnosticsDouble, type Script } from './helpers/diagnostics-double.js';
import { DATABASES } from './helpers/stores.js';

const PASSWORD = 'Diag-Service-Passw0rd!';
const RESOLVE = ['mail.contoso.test:443:127.0.0.1:8443', 'autodiscover.contoso.test:443:127.0.0.1:8443'];
const EWS = 'https://mail.contoso.test/EWS/Exchange.asmx';
const IMPERSONATION_DENIED = {
  step: 'mailbox',
  code: 'impersonation-denied',
  summary: 'The service account may not impersonate the mailbox',
  fix: 'New-ManagementRoleAssignment -Role ApplicationImpersonation -User svc-crm@contoso.test',
  request: { method: 'POST', url: EWS },
  serverAnswer: { httpStatus: 500, responseCode: 'ErrorImpersonateUserDenied', messageText: 'The account does not have permission to impersonate the requested user.' },
} as const;

/** A double whose script the current test sets. */
function switchable() {
  let script: Script = () => ({ failure: null });
  const holder = {
    double: new DiagnosticsDouble((target) => script(target)),
    set(next: Script, delayMs = 0, holdUntilInFlight = 0) {
      script = next;
      holder.double = new DiagnosticsDouble((target) => script(target), delayMs, holdUntilInFlight);
    },
  };
  return holder;
}

for (const kind of DATABASES) {
  describe(`diagnostics plumbing on ${kind.name}`, kind.suite, () => {
    let api: TestApi;
    const current = switchable();
    // The API holds one service; it forwards to whichever double the test set.
    const forwarding = {
      testConnection: (...args: Parameters<DiagnosticsDouble['testConnection']>) => current.double.testConnection(...args),
      testMailbox: (...args: Parameters<DiagnosticsDouble['testMailbox']>) => current.double.testMailbox(...args),
    };
    let exchangeId: string;

    before(async () => {
      api = await openApi(kind, { diagnostics: { service: forwarding, resolve: RESOLVE } });
      const created = await api.call('POST', '/api/v1/email-server-profiles', {
        body: {
          name: 'Contoso',
          serverType: 'exchange',
          autodiscover: false,
          incomingServer: EWS,
          username: 'svc-crm@contoso.test',
          password: PASSWORD,
          authentication: 'ntlm',
          requestTimeoutSeconds: 30,
          maxConcurrentConnections: 2,
          moveFailedToUndeliverable: true,
        },
      });
      assert.equal(created.statusCode, 201, created.body);
      exchangeId = created.json().id;
    });
    after(async () => api?.close());

    async function approvedMailbox(name: string, profileId: string | null = exchangeId) {
      const user = await api.t.store.users.create({ name, email: `${name.toLowerCase()}@contoso.test` });
      if (profileId) await api.call('POST', '/api/v1/mailboxes/associate', { body: { mailboxIds: [user.mailboxId], profileId } });
      await api.call('POST', '/api/v1/mailboxes/approval', { body: { mailboxIds: [user.mailboxId], approvalStatus: 'approved' } });
      return user.mailboxId!;
    }

    test('profiles carry authentication and the request timeout; other types refuse authentication', async () => {
      const profile = (await api.call('GET', `/api/v1/email-server-profiles/${exchangeId}`)).json();
      assert.deepEqual([profile.authentication, profile.requestTimeoutSeconds, profile.lastTestResult], ['ntlm', 30, null]);
      const imap = await api.call('POST', '/api/v1/email-server-profiles', {
        body: { name: 'IMAP', serverType: 'imap-smtp', incomingServer: 'imap.contoso.test', outgoingServer: 'smtp.contoso.test', authentication: 'ntlm' },
      });
      assert.equal(imap.statusCode, 400);
      assert.deepEqual(imap.json().problems.map((p: { field: string }) => p.field), ['authentication']);
      const bad = await api.call('PATCH', `/api/v1/email-server-profiles/${exchangeId}`, { body: { requestTimeoutSeconds: 101, authentication: 'kerberos' } });
      assert.equal(bad.statusCode, 400);
      assert.deepEqual(bad.json().problems.map((p: { field: string }) => p.field).sort(), ['authentication', 'requestTimeoutSeconds']);
      const doc = (await api.call('GET', '/api/v1/openapi.json', { token: null })).json();
      for (const route of ['/api/v1/email-server-profiles/{id}/test-connection', '/api/v1/mailboxes/{id}/test-and-enable', '/api/v1/mailboxes/test-and-enable']) {
        assert.ok(doc.paths[route], `${route} is documented`);
      }
      const create = doc.paths['/api/v1/email-server-profiles'].post.requestBody.content['application/json'].schema;
      assert.deepEqual([create.properties.requestTimeoutSeconds.maximum, create.properties.requestTimeoutSeconds.default], [100, 100]);
      assert.deepEqual(create.properties.authentication.enum, ['basic', 'ntlm']);
    });

    test("Test Connection tests the owner's address with the profile's settings and secrets, and keeps the result", async () => {
      const never = await api.call('GET', `/api/v1/email-server-profiles/${exchangeId}/test-connection`);
      assert.equal(never.statusCode, 404);
      assert.match(never.json().message, /has not run/);

      current.set(() => ({ failure: null }));
      const response = await api.call('POST', `/api/v1/email-server-profiles/${exchangeId}/test-connection`);
      assert.equal(response.statusCode, 200, response.body);
      const result = response.json();
      assert.deepEqual([result.status, result.mailbox, result.steps.length], ['success', 'admin@contoso.test', 3]);
      assert.deepEqual(current.double.calls.map((c) => c.kind), ['connection']);
      assert.deepEqual(current.double.calls[0]!.target, {
        kind: 'exchange',
        email: 'admin@contoso.test',
        username: 'svc-crm@contoso.test',
        password: PASSWORD,
        auth: 'ntlm',
        url: EWS,
        autodiscover: false,
        trustedCaPem: null,
        resolve: RESOLVE,
        timeoutMs: 30_000,
        maxConcurrentConnections: 2,
      });
      const stored = (await api.call('GET', `/api/v1/email-server-profiles/${exchangeId}`)).json();
      assert.deepEqual(stored.lastTestResult, result);
      assert.deepEqual((await api.call('GET', `/api/v1/email-server-profiles/${exchangeId}/test-connection`)).json(), result);
    });

    test('a failed step is answered 200 with the step, the server answer and the fix, and replaces the last result', async () => {
      current.set(() => ({ failure: { step: 'ews', code: 'basic-auth-disabled', summary: 'Basic authentication is not enabled in Exchange', fix: 'Switch the profile to NTLM', serverAnswer: { httpStatus: 401, headers: { 'www-authenticate': 'Negotiate, NTLM' } } } }));
      const response = await api.call('POST', `/api/v1/email-server-profiles/${exchangeId}/test-connection`, { body: { mailbox: 'someone@contoso.test' } });
      assert.equal(response.statusCode, 200, response.body);
      const result = response.json();
      assert.equal(current.double.calls[0]!.target.email, 'someone@contoso.test');
      assert.deepEqual(result.steps.map((s: { status: string }) => s.status), ['success', 'failure', 'skipped']);
      assert.deepEqual(result.steps[1].serverAnswer, { httpStatus: 401, headers: { 'www-authenticate': 'Negotiate, NTLM' } });
      assert.equal(result.steps[1].fix, 'Switch the profile to NTLM');
      const last = (await api.call('GET', `/api/v1/email-server-profiles/${exchangeId}/test-connection`)).json();
      assert.deepEqual([last.status, last.mailbox, last.startedAt], ['failure', 'someone@contoso.test', result.startedAt]);
      const unknown = await api.call('POST', `/api/v1/email-server-profiles/${exchangeId}/test-connection`, { body: { mailbx: 'x@y.test' } });
      assert.equal(unknown.statusCode, 400);
    });

    test('Test Connection: Exchange Online runs the Graph steps with the app registration as the target; non-admins 403, a Liaison without diagnostics 503', async () => {
      const online = await api.call('POST', '/api/v1/email-server-profiles', {
        body: { name: 'EXO', serverType: 'exchange-online', tenantId: 'contoso.onmicrosoft.com', clientId: '11111111-2222-3333-4444-555555555555', clientSecret: 'a-client-secret' },
      });
      assert.equal(online.statusCode, 201, online.body);
      current.set(() => ({ failure: { step: 'token', code: 'aad.AADSTS7000215', summary: 'wrong secret', fix: 'create a new client secret' } }));
      const tested = await api.call('POST', `/api/v1/email-server-profiles/${online.json().id}/test-connection`);
      assert.equal(tested.statusCode, 200, tested.body);
      assert.deepEqual(tested.json().steps.map((s: { step: string; status: string }) => `${s.step}:${s.status}`), ['token:failure', 'graph:skipped', 'mailbox:skipped']);
      const call = current.double.calls.at(-1)!;
      assert.equal(call.kind, 'connection');
      assert.deepEqual(call.target, {
        kind: 'graph',
        email: 'admin@contoso.test',
        tenantId: 'contoso.onmicrosoft.com',
        clientId: '11111111-2222-3333-4444-555555555555',
        clientSecret: 'a-client-secret',
        certificatePem: null,
        authority: 'https://login.microsoftonline.com/contoso.onmicrosoft.com',
        graphUrl: 'https://graph.microsoft.com',
        trustedCaPem: null,
        resolve: RESOLVE,
        timeoutMs: 100_000,
        directions: ['incoming', 'outgoing'],
      });
      assert.equal((await api.call('POST', `/api/v1/email-server-profiles/${exchangeId}/test-connection`, { token: api.userToken })).statusCode, 403);
      assert.equal((await api.call('POST', `/api/v1/mailboxes/test-and-enable`, { token: api.userToken, body: { ids: [api.user.mailboxId] } })).statusCode, 403);

      const bare = await buildApi({ store: api.t.store });
      try {
        const response = await bare.inject({
          method: 'POST',
          url: `/api/v1/email-server-profiles/${exchangeId}/test-connection`,
          headers: { authorization: `Bearer ${api.adminToken}` },
        });
        assert.equal(response.statusCode, 503);
        assert.match(response.json().message, /without the Exchange diagnostics/);
      } finally {
        await bare.close();
      }
    });

    test("Test Connection of an IMAP/SMTP profile tests its IMAP server, then its SMTP server, as the master user for the address", async () => {
      const created = await api.call('POST', '/api/v1/email-server-profiles', {
        body: {
          name: 'Dovecot',
          serverType: 'imap-smtp',
          incomingServer: 'imap.contoso.test',
          outgoingServer: 'smtp://smtp.contoso.test',
          credentialSource: 'profile',
          username: 'liaison',
          password: PASSWORD,
          masterUserSeparator: '%',
          requestTimeoutSeconds: 20,
        },
      });
      assert.equal(created.statusCode, 201, created.body);
      current.set(() => ({ failure: { step: 'login', code: 'bad-credentials', summary: 'refused (double)' } }));
      const response = await api.call('POST', `/api/v1/email-server-profiles/${created.json().id}/test-connection`, { body: { mailbox: 'someone@contoso.test' } });
      assert.equal(response.statusCode, 200, response.body);
      assert.deepEqual(current.double.mailCalls[0]!.target, {
        kind: 'mail',
        email: 'someone@contoso.test',
        servers: [
          {
            endpoint: { protocol: 'imap', host: 'imap.contoso.test', port: 993, tls: 'implicit', dialHost: 'imap.contoso.test', dialPort: 993 },
            login: { username: 'someone@contoso.test%liaison', password: PASSWORD, describe: 'master user liaison for someone@contoso.test' },
          },
          {
            endpoint: { protocol: 'smtp', host: 'smtp.contoso.test', port: 587, tls: 'starttls', dialHost: 'smtp.contoso.test', dialPort: 587 },
            login: { username: 'someone@contoso.test%liaison', password: PASSWORD, describe: 'master user liaison for someone@contoso.test' },
          },
        ],
        trustedCaPem: null,
        timeoutMs: 20_000,
      });
      const result = response.json();
      assert.deepEqual(
        result.steps.map((s: { protocol: string; step: string; status: string }) => `${s.protocol}:${s.step}:${s.status}`),
        ['imap:server:success', 'imap:login:failure', 'imap:mailbox:skipped', 'smtp:server:skipped', 'smtp:login:skipped', 'smtp:mailbox:skipped'],
      );
      assert.equal(result.steps[1].title, 'IMAP: Protocol and login');
    });

    test('Test & Enable enables the mailboxes that pass, fails the ones that do not (with an alert), refuses the unready', async () => {
      const good = await approvedMailbox('Gina');
      const denied = await approvedMailbox('Dora');
      const unapproved = (await api.t.store.users.create({ name: 'Una', email: 'una@contoso.test' })).mailboxId!;
      await api.call('POST', '/api/v1/mailboxes/associate', { body: { mailboxIds: [unapproved], profileId: exchangeId } });
      const orphan = await approvedMailbox('Otto', null);
      await api.call('PATCH', `/api/v1/mailboxes/${good}`, { body: { outgoingMethod: 'none' } });

      current.set((target) => ({ failure: target.email === 'dora@contoso.test' ? IMPERSONATION_DENIED : null, ewsUrl: 'https://mail2.contoso.test/EWS/Exchange.asmx' }));
      const response = await api.call('POST', '/api/v1/mailboxes/test-and-enable', { body: { ids: [good, denied, unapproved, orphan] } });
      assert.equal(response.statusCode, 200, response.body);
      const body = response.json();
      assert.deepEqual(body.items.map((i: { outcome: string }) => i.outcome), ['enabled', 'failed', 'refused', 'refused']);
      assert.deepEqual(body.summary, { enabled: 1, failed: 1, refused: 2 });
      assert.deepEqual(current.double.calls.map((c) => c.target.email).sort(), ['dora@contoso.test', 'gina@contoso.test'], 'refused mailboxes are not tested');
      assert.deepEqual(current.double.calls[0]!.options, { createUndeliverable: true, cachedEwsUrl: null });

      const [enabled, failed, notApproved, noProfile] = body.items;
      assert.deepEqual(
        [enabled.mailbox.enabled, enabled.mailbox.incomingStatus, enabled.mailbox.outgoingStatus, enabled.mailbox.ewsUrl],
        [true, 'success', 'not-run', 'https://mail2.contoso.test/EWS/Exchange.asmx'],
        'only the server-side-sync direction gets a status',
      );
      assert.ok(enabled.mailbox.lastTestAt && enabled.mailbox.ewsUrlFoundAt);
      assert.deepEqual([failed.mailbox.enabled, failed.mailbox.incomingStatus, failed.mailbox.outgoingStatus], [false, 'failure', 'failure']);
      assert.equal(failed.result.steps[2].serverAnswer.responseCode, 'ErrorImpersonateUserDenied');
      assert.match(notApproved.problems.join(' '), /not approved; an administrator must approve it first/);
      assert.match(noProfile.problems.join(' '), /has no email server profile/);
      assert.equal(notApproved.mailbox.enabled, false);

      const alerts = (await api.call('GET', `/api/v1/alerts?mailboxId=${denied}`)).json().items;
      assert.equal(alerts.length, 1);
      const alert = alerts[0];
      assert.equal(alert.id, failed.alertId);
      assert.deepEqual([alert.level, alert.scope, alert.code, alert.profileId], ['error', 'mailbox', 'test-and-enable.impersonation-denied', exchangeId]);
      assert.match(alert.message, /dora@contoso\.test at step 3 \(Mailbox connection\): The service account may not impersonate/);
      assert.equal(alert.serverResponse, `POST ${EWS}\nHTTP 500\nErrorImpersonateUserDenied: The account does not have permission to impersonate the requested user.`);
      assert.equal(alert.fix, IMPERSONATION_DENIED.fix);
      const info = (await api.call('GET', `/api/v1/alerts?mailboxId=${good}`)).json().items;
      assert.deepEqual(info.map((a: { level: string; code: string }) => [a.level, a.code]), [['information', 'mailbox.enabled']]);

      // Once the role is granted, the same mailbox passes; the cached URL is handed to the test.
      current.set(() => ({ failure: null }));
      const single = await api.call('POST', `/api/v1/mailboxes/${denied}/test-and-enable`);
      assert.equal(single.statusCode, 200, single.body);
      assert.equal(single.json().outcome, 'enabled');
      assert.deepEqual([single.json().mailbox.enabled, single.json().mailbox.incomingStatus], [true, 'success']);
      current.set(() => ({ failure: null }));
      await api.call('POST', `/api/v1/mailboxes/${good}/test-and-enable`);
      assert.equal(current.double.calls[0]!.options!.cachedEwsUrl, 'https://mail2.contoso.test/EWS/Exchange.asmx');
    });

    test('many mailboxes run in parallel, at most the profile’s Maximum Concurrent Connections at a time', async () => {
      const ids = [];
      for (const name of ['Pa', 'Pb', 'Pc', 'Pd', 'Pe']) ids.push(await approvedMailbox(name));
      // Each test is held until three run at once, which the cap of 2 never allows: they go on after 1 s.
      current.set(() => ({ failure: null }), 0, 3);
      const capped = await api.call('POST', '/api/v1/mailboxes/test-and-enable', { body: { ids } });
      assert.equal(capped.statusCode, 200, capped.body);
      assert.equal(capped.json().summary.enabled, 5);
      assert.equal(current.double.maxInFlight, 2, 'the profile allows 2');

      const raised = await api.call('PATCH', `/api/v1/email-server-profiles/${exchangeId}`, { body: { maxConcurrentConnections: 27 } });
      assert.equal(raised.statusCode, 200, raised.body);
      current.set(() => ({ failure: null }), 0, 5);
      await api.call('POST', '/api/v1/mailboxes/test-and-enable', { body: { ids } });
      assert.equal(current.double.maxInFlight, 5, 'all five at once when the profile allows it');
    });

    test('a fault inside one test fails that mailbox with an alert and leaves the others alone; unknown ids are refused', async () => {
      const faulty = await approvedMailbox('Fay');
      const fine = await approvedMailbox('Finn');
      current.set((target) => (target.email === 'fay@contoso.test' ? { throws: 'socket exploded' } : { failure: null }));
      const body = (await api.call('POST', '/api/v1/mailboxes/test-and-enable', { body: { ids: [faulty, fine] } })).json();
      assert.deepEqual(body.items.map((i: { outcome: string }) => i.outcome), ['failed', 'enabled']);
      assert.deepEqual([body.items[0].result, body.items[0].error], [null, 'socket exploded']);
      const alert = (await api.call('GET', `/api/v1/alerts?mailboxId=${faulty}`)).json().items[0];
      assert.equal(alert.code, 'test-and-enable.error');
      assert.match(alert.message, /could not finish for fay@contoso\.test: socket exploded/);
      assert.ok(api.logs.some((line) => line.includes('socket exploded')), 'the fault is logged');

      const missing = '01900000-0000-7000-8000-000000000000';
      const unknown = await api.call('POST', '/api/v1/mailboxes/test-and-enable', { body: { ids: [fine, missing] } });
      assert.equal(unknown.statusCode, 400);
      assert.match(unknown.json().message, new RegExp(`no mailbox has id ${missing}`));
      assert.equal((await api.call('POST', `/api/v1/mailboxes/${missing}/test-and-enable`)).statusCode, 404);
    });

    test('a mailbox whose approval is withdrawn while it is tested is not enabled', async () => {
      const id = await approvedMailbox('Wanda');
      current.set(() => {
        void api.t.store.mailboxes.update(id, { approvalStatus: 'rejected' });
        return { failure: null };
      }, 50);
      const outcome = (await api.call('POST', `/api/v1/mailboxes/${id}/test-and-enable`)).json();
      assert.equal(outcome.outcome, 'refused');
      assert.match(outcome.problems[0], /changed while it was tested.*rejected/);
      assert.deepEqual([outcome.mailbox.enabled, outcome.mailbox.approvalStatus, outcome.mailbox.incomingStatus], [false, 'rejected', 'not-run']);
    });

    test('a mailbox moved to another profile forgets the EWS URL the old one found', async () => {
      const id = await approvedMailbox('Mona');
      current.set(() => ({ failure: null }));
      assert.equal((await api.call('POST', `/api/v1/mailboxes/${id}/test-and-enable`)).json().mailbox.ewsUrl, EWS);
      const other = await api.call('POST', '/api/v1/email-server-profiles', {
        body: { name: 'Fabrikam', serverType: 'exchange', username: 'svc@fabrikam.test', password: PASSWORD },
      });
      const moved = await api.call('PATCH', `/api/v1/mailboxes/${id}`, { body: { profileId: other.json().id } });
      assert.deepEqual([moved.json().ewsUrl, moved.json().ewsUrlFoundAt, moved.json().enabled], [null, null, false]);
    });

    test('no secret appears in any response', () => {
      for (const body of api.bodies) assert.ok(!body.includes(PASSWORD), 'a response carried the password');
    });
  });
}
