/**
 * The secret grep: a scenario takes every secret through every place it passes (profile passwords and SMTP
 * logins, mailboxes' own IMAP logins, API tokens, console passwords, session cookies and CSRF tokens, the setup
 * link's token, the CLI commands that take a password), with right AND wrong passwords against the sandbox's
 * Exchange and the real Dovecot/Postfix (a failure is where a secret slips into an error message), and a sync
 * cycle. Everything Liaison wrote is kept: its log at trace level, every API answer (body and headers), the CLI's
 * stdout and stderr, the SQLite files (with -wal and -shm) and, on PostgreSQL, every row of every table. Then no
 * secret may appear in any of it, in plain text or as it could be encoded on its way out: base64 (alone, of
 * `user:password` as an HTTP Basic header, of `\0user\0password` as SASL PLAIN), URL-encoded, JSON-escaped, hex.
 *
 * A secret shown once on purpose (an API token in the answer that issues it and in `liaison user token`'s output,
 * the session cookie and CSRF token in the sign-in answer) is allowed exactly there.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance, InjectOptions } from 'fastify';
import { sql } from 'kysely';
import { buildApi, LOG_REDACT } from '../src/api/server.js';
import { printEngineEvent } from '../src/cli/demo.js';
import { defaultConnectors } from '../src/connectors/index.js';
import { createDiagnostics } from '../src/diagnostics/index.js';
import { createSyncEngine } from '../src/sync/engine.js';
import { testLeaf } from './helpers/certs.js';
import { liaison } from './helpers/cli.js';
import { mailServersSkip, startMailServers, type MailServers } from './helpers/mail-servers.js';
import { startTestSandbox, type TestSandbox } from './helpers/sandbox.js';
import { sandboxResolve } from './helpers/sandbox-connect.js';
import { DATABASES, POSTGRES_URL, type TestStore } from './helpers/stores.js';

/** The ways a secret may leave in: as itself, or encoded as a protocol or a log would write it. */
export function encodings(secret: string, username?: string): string[] {
  const b64 = (text: string) => Buffer.from(text, 'utf8').toString('base64');
  const forms = [
    secret,
    b64(secret),
    Buffer.from(secret, 'utf8').toString('base64url'),
    encodeURIComponent(secret),
    JSON.stringify(secret).slice(1, -1),
    Buffer.from(secret, 'utf8').toString('hex'),
  ];
  if (username !== undefined) forms.push(b64(`${username}:${secret}`), b64(`\0${username}\0${secret}`), b64(`${username}\0${username}\0${secret}`));
  return [...new Set(forms)];
}

interface Secret {
  name: string;
  value: string;
  username?: string;
}

interface Sample {
  where: string;
  text: string;
  /** Secrets this sample shows on purpose. */
  allowed?: string[];
}

/** Where each secret appears (form and place), or nothing when none leaked. */
function leaks(secrets: Secret[], samples: Sample[]): string[] {
  const found: string[] = [];
  for (const secret of secrets) {
    const forms = encodings(secret.value, secret.username);
    for (const sample of samples) {
      if (sample.allowed?.includes(secret.value)) continue;
      for (const form of forms) {
        const at = sample.text.indexOf(form);
        if (at >= 0) found.push(`${secret.name} (as ${form === secret.value ? 'plain text' : JSON.stringify(form)}) in ${sample.where}: …${sample.text.slice(Math.max(0, at - 120), at + form.length + 40)}…`);
      }
    }
  }
  return found;
}

const mailSkip = mailServersSkip();

test('the grep finds a secret in every form it looks for, and only where it is not allowed', () => {
  const pw = 'S3cret/pä ss"word';
  const forms = encodings(pw, 'svc@contoso.test');
  assert.ok(forms.includes(Buffer.from('svc@contoso.test:' + pw).toString('base64')), 'the HTTP Basic form');
  assert.ok(forms.includes(Buffer.from('\0svc@contoso.test\0' + pw).toString('base64')), 'the SASL PLAIN form');
  for (const form of forms) {
    assert.ok(leaks([{ name: 'pw', value: pw, username: 'svc@contoso.test' }], [{ where: 'a log line', text: `{"msg":"login ${form} failed"}` }]).length >= 1, form);
  }
  assert.deepEqual(leaks([{ name: 'pw', value: pw }], [{ where: 'the answer that shows it', text: pw, allowed: [pw] }]), []);
  assert.deepEqual(leaks([{ name: 'pw', value: pw }], [{ where: 'a clean log', text: '{"msg":"login failed","password":"[redacted]"}' }]), []);
});

for (const kind of DATABASES) {
  describe(`no secret leaks, on ${kind.name}`, kind.suite, () => {
    let sandbox: TestSandbox;
    let servers: MailServers | null = null;
    let t: TestStore;
    let app: FastifyInstance;
    const logs: string[] = [];
    const samples: Sample[] = [];
    const secrets: Secret[] = [];
    const secret = (name: string, value: string, username?: string) => {
      secrets.push({ name, value, username });
      return value;
    };

    async function call(method: InjectOptions['method'], url: string, options: { token?: string; cookie?: string; csrf?: string; body?: unknown; accept?: string; allowed?: string[] } = {}) {
      const headers: Record<string, string> = {};
      if (options.token) headers.authorization = `Bearer ${options.token}`;
      if (options.cookie) headers.cookie = `liaison_session=${options.cookie}`;
      if (options.csrf) headers['x-csrf-token'] = options.csrf;
      if (options.accept) headers.accept = options.accept;
      const response = await app.inject({ method, url, headers, ...(options.body !== undefined ? { payload: options.body as never } : {}) });
      samples.push({ where: `the answer to ${method} ${url} (${response.statusCode})`, text: `${JSON.stringify(response.headers)}\n${response.body}`, allowed: options.allowed });
      return response;
    }

    async function cli(args: string[], options: { stdin?: string; allowedFrom?: (stdout: string) => string[] } = {}) {
      const result = await liaison(args, { stdin: options.stdin });
      samples.push({ where: `the output of liaison ${args.join(' ')}`, text: `${result.stdout}\n${result.stderr}`, allowed: options.allowedFrom?.(result.stdout) });
      return result;
    }

    before(async () => {
      sandbox = await startTestSandbox();
      if (!mailSkip.skip) servers = await startMailServers();
      t = await kind.open();
      app = await buildApi({
        store: t.store,
        logger: { level: 'trace', redact: LOG_REDACT, stream: { write: (line: string) => void logs.push(line) } },
        diagnostics: { service: createDiagnostics(), resolve: [...sandboxResolve(sandbox), ...(servers?.resolve ?? [])] },
        webRoot: null,
      });
      secret('the sandbox service account password', sandbox.info.serviceAccount!.password, sandbox.info.serviceAccount!.username);
      secret('the sandbox users’ password', sandbox.password);
      if (servers) secret('the Dovecot master password', servers.master.password, servers.master.username);
    });
    after(async () => {
      await app?.close();
      await t?.cleanup();
      await servers?.stop();
      await sandbox?.close();
    });

    test('every secret set in the scenario stays out of the logs, the answers and the database', async () => {
      const store = t.store;
      // The first administrator, through the setup link.
      const admin = await store.users.create({ name: 'Ada Admin', email: 'alice@contoso.test', isAdmin: true });
      const setupToken = secret('the setup token', (await store.sessions.issueSetupToken())!);
      const adminPassword = secret('the administrator’s console password', 'Ada-Console-Passphrase-7');
      const wrongSetup = await call('POST', '/api/v1/session/setup', { body: { token: `${setupToken}x`, password: adminPassword } });
      assert.equal(wrongSetup.statusCode, 401, wrongSetup.body);
      const setup = await call('POST', '/api/v1/session/setup', { body: { token: setupToken, password: adminPassword }, allowed: [] });
      assert.equal(setup.statusCode, 200, setup.body);
      const setupCookie = [setup.headers['set-cookie']].flat().find((c) => c?.startsWith('liaison_session='))!.split(';')[0]!.slice(16);
      secret('the setup session cookie', setupCookie);
      secret('the setup session CSRF token', setup.json().csrfToken);
      samples.at(-1)!.allowed = [setupCookie, setup.json().csrfToken];

      // Signing in: wrong, then right; the session; a password change (wrong current one first); signing out.
      assert.equal((await call('POST', '/api/v1/session', { body: { email: admin.email, password: `${adminPassword}!` } })).statusCode, 401);
      const signIn = await call('POST', '/api/v1/session', { body: { email: admin.email, password: adminPassword } });
      assert.equal(signIn.statusCode, 200);
      const cookie = secret('the session cookie', [signIn.headers['set-cookie']].flat().find((c) => c?.startsWith('liaison_session='))!.split(';')[0]!.slice(16));
      const csrf = secret('the CSRF token', signIn.json().csrfToken);
      samples.at(-1)!.allowed = [cookie, csrf];
      const got = await call('GET', '/api/v1/session', { cookie });
      samples.at(-1)!.allowed = [csrf];
      assert.equal(got.statusCode, 200);
      const newPassword = secret('the administrator’s new console password', 'Ada-Changed-Passphrase-8');
      const wrongCurrent = await call('PUT', `/api/v1/users/${admin.id}/password`, { cookie, csrf, body: { password: newPassword, currentPassword: 'not-the-current-one' } });
      assert.equal(wrongCurrent.statusCode, 400, wrongCurrent.body);
      assert.equal((await call('PUT', `/api/v1/users/${admin.id}/password`, { cookie, csrf, body: { password: newPassword, currentPassword: adminPassword } })).statusCode, 204);
      assert.equal((await call('DELETE', '/api/v1/session', { cookie })).statusCode, 403, 'no CSRF header');
      assert.equal((await call('DELETE', '/api/v1/session', { cookie, csrf })).statusCode, 204);
      assert.equal((await call('GET', '/api/v1/users/me', { cookie })).statusCode, 401);

      // API tokens: issued (shown once), used, revoked, used again.
      const again = await call('POST', '/api/v1/session', { body: { email: admin.email, password: newPassword } });
      assert.equal(again.statusCode, 200, again.body);
      const cookie2 = secret('a second session cookie', [again.headers['set-cookie']].flat().find((c) => c?.startsWith('liaison_session='))!.split(';')[0]!.slice(16));
      const csrf2 = secret('a second CSRF token', again.json().csrfToken);
      samples.at(-1)!.allowed = [cookie2, csrf2];
      const issued = await call('POST', `/api/v1/users/${admin.id}/tokens`, { cookie: cookie2, csrf: csrf2, body: { label: 'ops' } });
      assert.equal(issued.statusCode, 201, issued.body);
      const token = secret('an API token', issued.json().token);
      samples.at(-1)!.allowed = [token];
      assert.equal((await call('GET', '/api/v1/users/me', { token })).statusCode, 200);
      const member = await store.users.create({ name: 'Uma Member', email: 'bob@contoso.test' });
      const memberToken = (await call('POST', `/api/v1/users/${member.id}/tokens`, { token, body: {} })).json().token as string;
      samples.at(-1)!.allowed = [secret('the member’s API token', memberToken)];
      const revokedToken = await call('POST', `/api/v1/users/${admin.id}/tokens`, { token, body: {} });
      const revoked = secret('a revoked API token', revokedToken.json().token);
      samples.at(-1)!.allowed = [revoked];
      assert.equal((await call('DELETE', `/api/v1/users/${admin.id}/tokens/${revokedToken.json().id}`, { token })).statusCode, 204);
      assert.equal((await call('GET', '/api/v1/users/me', { token: revoked })).statusCode, 401);
      assert.equal((await call('GET', '/api/v1/users/me', { token: `${token}0` })).statusCode, 401);

      // Exchange profiles on the sandbox: the right service-account password, and a wrong one.
      const svc = sandbox.info.serviceAccount!;
      const wrongExchange = secret('a wrong Exchange password', 'Wrong-Exchange-Pw-3', svc.username);
      const exchange = async (name: string, password: string) => {
        const created = await call('POST', '/api/v1/email-server-profiles', {
          token,
          body: { name, serverType: 'exchange', autodiscover: true, username: svc.username, password, authentication: 'basic', trustedCaPem: sandbox.sandbox.pki.caCertPem },
        });
        assert.equal(created.statusCode, 201, created.body);
        return created.json().id as string;
      };
      const goodExchange = await exchange('Sandbox', svc.password);
      const badExchange = await exchange('Sandbox, wrong password', wrongExchange);
      for (const id of [goodExchange, badExchange]) {
        const tested = await call('POST', `/api/v1/email-server-profiles/${id}/test-connection`, { token, body: { mailbox: 'alice@contoso.test' } });
        assert.equal(tested.statusCode, 200, tested.body);
        assert.equal((await call('POST', `/api/v1/email-server-profiles/${id}/test-connection`, { token, body: { mailbox: 'alice@contoso.test' }, accept: 'text/event-stream' })).statusCode, 200);
        assert.equal((await call('GET', `/api/v1/email-server-profiles/${id}/test-connection`, { token })).statusCode, 200);
      }
      assert.equal((await call('GET', `/api/v1/email-server-profiles/${badExchange}/test-connection`, { token })).json().steps.some((s: { status: string }) => s.status === 'failure'), true, 'the wrong password fails');
      // Test & Enable: the member's mailbox with the wrong password (an alert), the administrator's with the right one.
      await call('POST', '/api/v1/mailboxes/associate', { token, body: { mailboxIds: [member.mailboxId], profileId: badExchange } });
      await call('POST', '/api/v1/mailboxes/associate', { token, body: { mailboxIds: [admin.mailboxId], profileId: goodExchange } });
      await call('POST', '/api/v1/mailboxes/approval', { token, body: { mailboxIds: [member.mailboxId, admin.mailboxId], approvalStatus: 'approved' } });
      const enabled = await call('POST', '/api/v1/mailboxes/test-and-enable', { token, body: { ids: [member.mailboxId, admin.mailboxId] } });
      assert.deepEqual(enabled.json().summary, { enabled: 1, failed: 1, refused: 0 }, enabled.body);
      assert.equal((await call('GET', '/api/v1/alerts', { token })).statusCode, 200);
      assert.equal((await call('GET', `/api/v1/mailboxes/${member.mailboxId}`, { token: memberToken })).statusCode, 200);

      // Exchange Online on the sandbox's Graph side: the app's right client secret, a wrong one, and a certificate
      // with its private key (the PEM, and lines of its key as they could be quoted alone).
      const g = (sandbox.info as unknown as { graph: { url: string; authority: string; tenantId: string; clientId: string; clientSecret: string } }).graph;
      secret('the sandbox Graph app’s client secret', g.clientSecret);
      const wrongClientSecret = secret('a wrong client secret', 'Wrong~Graph.Client-Secret-8');
      const leaf = testLeaf({ names: ['liaison-leak-app'] });
      secret('a client certificate’s private key', leaf.key.pem);
      const keyLines = leaf.key.pem.split(/\r?\n/).filter((line) => line && !line.startsWith('-----'));
      for (const at of [0, Math.floor(keyLines.length / 2), keyLines.length - 2]) secret(`line ${at + 1} of the private key`, keyLines[at]!);
      const certApp = await sandbox.control<{ clientId: string }>('POST', '/graph/apps', { displayName: 'leak test', permissions: ['Mail.ReadWrite', 'Mail.Send'], certificates: [{ pem: leaf.pem }] });
      assert.ok(certApp.status < 300, JSON.stringify(certApp.json));
      const online = async (name: string, body: Record<string, unknown>) => {
        const created = await call('POST', '/api/v1/email-server-profiles', {
          token,
          body: { name, serverType: 'exchange-online', tenantId: g.tenantId, clientId: g.clientId, authority: g.authority, incomingServer: g.url, trustedCaPem: sandbox.sandbox.pki.caCertPem, ...body },
        });
        assert.equal(created.statusCode, 201, created.body);
        return created.json().id as string;
      };
      const goodOnline = await online('Exchange Online', { clientSecret: g.clientSecret });
      const badOnline = await online('Exchange Online, wrong secret', { clientSecret: wrongClientSecret });
      const certOnline = await online('Exchange Online, certificate', { clientId: certApp.json.clientId, clientCertificate: `${leaf.pem}${leaf.key.pem}` });
      for (const id of [goodOnline, badOnline, certOnline]) {
        assert.equal((await call('POST', `/api/v1/email-server-profiles/${id}/test-connection`, { token, body: { mailbox: 'alice@contoso.test' } })).statusCode, 200);
        assert.equal((await call('POST', `/api/v1/email-server-profiles/${id}/test-connection`, { token, body: { mailbox: 'alice@contoso.test' }, accept: 'text/event-stream' })).statusCode, 200);
      }
      const onlineResult = async (id: string) => (await call('GET', `/api/v1/email-server-profiles/${id}/test-connection`, { token })).json() as { status: string; steps: Array<{ status: string; code?: string }> };
      assert.equal((await onlineResult(goodOnline)).status, 'success', 'the right client secret passes');
      assert.equal((await onlineResult(certOnline)).status, 'success', 'the certificate passes');
      assert.equal((await onlineResult(badOnline)).steps[0]!.code, 'aad.AADSTS7000215', 'the wrong client secret fails at the token');
      // Test & Enable of a mailbox on the secret's profile and one on the certificate's, then a sync cycle of each.
      const onlineUsers = await Promise.all(['dave', 'sales'].map((local) => store.users.create({ name: local, email: `${local}@contoso.test` })));
      await call('POST', '/api/v1/mailboxes/associate', { token, body: { mailboxIds: [onlineUsers[0]!.mailboxId], profileId: goodOnline } });
      await call('POST', '/api/v1/mailboxes/associate', { token, body: { mailboxIds: [onlineUsers[1]!.mailboxId], profileId: certOnline } });
      await call('POST', '/api/v1/mailboxes/approval', { token, body: { mailboxIds: onlineUsers.map((u) => u.mailboxId), approvalStatus: 'approved' } });
      const onlineEnabled = await call('POST', '/api/v1/mailboxes/test-and-enable', { token, body: { ids: onlineUsers.map((u) => u.mailboxId) } });
      assert.deepEqual(onlineEnabled.json().summary, { enabled: 2, failed: 0, refused: 0 }, onlineEnabled.body);
      const onlineEvents = await cycles(store, sandboxResolve(sandbox), onlineUsers.map((u) => u.email));
      samples.push({ where: 'the sync engine’s events (Exchange Online)', text: onlineEvents.join('\n') });
      for (const id of [goodOnline, badOnline, certOnline]) assert.equal((await call('GET', `/api/v1/email-server-profiles/${id}`, { token })).statusCode, 200);
      for (const user of onlineUsers) assert.equal((await call('GET', `/api/v1/mailboxes/${user.mailboxId}`, { token })).statusCode, 200);
      // The analyzer, the client secret from stdin, right and wrong (SQLite only, as for IMAP below).
      if (kind.name === 'sqlite') {
        const flags = ['analyze', 'exchange-online', '--tenant', g.tenantId, '--client-id', g.clientId, '--email', 'alice@contoso.test', '--authority', g.authority, '--graph-url', g.url, '--resolve', sandboxResolve(sandbox).join(','), '--ca-file', sandbox.info.caCert, '--client-secret-stdin'];
        const right = await cli([...flags, '--json'], { stdin: `${g.clientSecret}\n` });
        assert.equal(right.code, 0, right.stdout + right.stderr);
        const wrong = await cli(flags, { stdin: `${wrongClientSecret}\n` });
        assert.equal(wrong.code, 1, wrong.stdout + wrong.stderr);
        assert.match(wrong.stdout, /AADSTS7000215/);
      }

      // Dovecot and Postfix: a master-user profile (right and wrong), a wrong SMTP login, mailboxes' own logins.
      if (servers) {
        const host = servers.host;
        const imap = `imaps://${host}:${servers.ports.imaps}`;
        const smtp = `smtp://${host}:${servers.ports.submission}`;
        const dave = await servers.addUser(`leak-${process.pid}-${kind.name}-dave`, secret('a Dovecot user’s password', `Dave-Imap-Pw-${kind.name}`));
        const wrongMaster = secret('a wrong master password', 'Wrong-Master-Pw-4', servers.master.username);
        const wrongSmtp = secret('a wrong SMTP password', 'Wrong-Smtp-Pw-5', 'smtp-login');
        const wrongOwn = secret('a wrong own IMAP password', 'Wrong-Own-Imap-Pw-6', dave.address);
        const mailProfile = async (name: string, body: Record<string, unknown>) => {
          const created = await call('POST', '/api/v1/email-server-profiles', { token, body: { name, serverType: 'imap-smtp', incomingServer: imap, outgoingServer: smtp, trustedCaPem: servers!.caPem, ...body } });
          assert.equal(created.statusCode, 201, created.body);
          return created.json().id as string;
        };
        const master = await mailProfile('Dovecot master', { credentialSource: 'profile', username: servers.master.username, password: servers.master.password });
        const badMaster = await mailProfile('Dovecot wrong master', { credentialSource: 'profile', username: servers.master.username, password: wrongMaster });
        const badSmtp = await mailProfile('Postfix wrong SMTP', {
          credentialSource: 'profile', username: servers.master.username, password: servers.master.password, useSameSettingsForOutgoing: false, outgoingUsername: 'smtp-login', outgoingPassword: wrongSmtp,
        });
        const own = await mailProfile('Own logins', { credentialSource: 'mailbox' });
        const daveUser = await store.users.create({ name: 'Dave', email: dave.address });
        const erin = await servers.addUser(`leak-${process.pid}-${kind.name}-erin`, secret('another Dovecot user’s password', `Erin-Imap-Pw-${kind.name}`));
        const erinUser = await store.users.create({ name: 'Erin', email: erin.address });
        for (const id of [master, badMaster, badSmtp]) {
          const tested = await call('POST', `/api/v1/email-server-profiles/${id}/test-connection`, { token, body: { mailbox: dave.address } });
          assert.equal(tested.statusCode, 200, tested.body);
        }
        await call('POST', '/api/v1/mailboxes/associate', { token, body: { mailboxIds: [daveUser.mailboxId, erinUser.mailboxId], profileId: own } });
        await call('POST', '/api/v1/mailboxes/approval', { token, body: { mailboxIds: [daveUser.mailboxId, erinUser.mailboxId], approvalStatus: 'approved' } });
        assert.equal((await call('PUT', `/api/v1/mailboxes/${daveUser.mailboxId}/login`, { token, body: { username: dave.address, password: wrongOwn } })).statusCode, 200);
        assert.equal((await call('POST', `/api/v1/email-server-profiles/${own}/test-connection`, { token, body: { mailbox: dave.address } })).statusCode, 200);
        assert.equal((await call('POST', `/api/v1/mailboxes/${daveUser.mailboxId}/test-and-enable`, { token })).json().outcome, 'failed');
        assert.equal((await call('PUT', `/api/v1/mailboxes/${daveUser.mailboxId}/login`, { token, body: { username: dave.address, password: dave.password } })).statusCode, 200);
        assert.equal((await call('PUT', `/api/v1/mailboxes/${erinUser.mailboxId}/login`, { token, body: { username: erin.address, password: erin.password } })).statusCode, 200);
        const both = await call('POST', '/api/v1/mailboxes/test-and-enable', { token, body: { ids: [daveUser.mailboxId, erinUser.mailboxId] } });
        assert.deepEqual(both.json().summary, { enabled: 2, failed: 0, refused: 0 }, both.body);
        // Erin's password changes on the server: her next cycle fails its login.
        await servers.addUser(`leak-${process.pid}-${kind.name}-erin`, secret('Erin’s new server password', `Erin-Changed-Pw-${kind.name}`));

        // A sync cycle of the enabled mailboxes, its events printed as `serve` prints them.
        const events = await cycles(store, servers.resolve, [dave.address, erin.address]);
        samples.push({ where: 'the sync engine’s events', text: events.join('\n') });
        assert.ok(events.some((e) => e.includes(erin.address) && e.includes('"failure"')), `Erin's cycle failed: ${events.join('\n')}`);
        assert.equal((await call('GET', '/api/v1/alerts?limit=200', { token })).statusCode, 200);
        assert.equal((await call('GET', '/api/v1/dashboard', { token })).statusCode, 200);
        for (const mailboxId of [daveUser.mailboxId, erinUser.mailboxId]) assert.equal((await call('GET', `/api/v1/mailboxes/${mailboxId}`, { token })).statusCode, 200);

        // The CLI's connectivity analyzer: the password from stdin, right and wrong.
        const analyzerWrong = secret('a wrong password given to liaison analyze', 'Wrong-Analyze-Pw-7', dave.address);
        // (On SQLite only: the CLI is the same on both databases, and each run costs a process start.)
        if (kind.name === 'sqlite') {
          for (const [password, json] of [[dave.password, ['--json']], [analyzerWrong, []]] as const) {
            const analyzed = await cli(['analyze', 'imap', '--host', host, '--port', String(servers.ports.imaps), '--username', dave.address, '--password-stdin', '--ca-file', await caFile(servers.caPem), ...servers.resolve.flatMap((r) => ['--resolve', r]), ...json], { stdin: `${password}\n` });
            assert.equal(analyzed.code, password === analyzerWrong ? 1 : 0, analyzed.stdout + analyzed.stderr);
          }
        }
      }
      for (const id of [goodExchange, badExchange]) assert.equal((await call('GET', `/api/v1/email-server-profiles/${id}`, { token })).statusCode, 200);
      assert.equal((await call('GET', '/api/v1/email-server-profiles?limit=100', { token })).statusCode, 200);
      assert.equal((await call('GET', '/api/v1/mailboxes?limit=100', { token })).statusCode, 200);

      // The CLI's own commands that take or show secrets (SQLite: the CLI opens the same data folder).
      if (kind.name === 'sqlite') {
        const data = ['--data', t.dataDir];
        const created = await cli(['user', 'create', '--email', 'carol@contoso.test', '--name', 'Carol', ...data, '--json'], { allowedFrom: tokensIn });
        assert.equal(created.code, 0, created.stderr);
        for (const value of tokensIn(created.stdout)) secret('a token the CLI issued', value);
        const cliPassword = secret('a console password set with the CLI', 'Carol-Cli-Passphrase-9');
        assert.equal((await cli(['user', 'password', '--email', 'carol@contoso.test', '--password-stdin', ...data], { stdin: `${cliPassword}\n` })).code, 0);
        assert.equal((await call('POST', '/api/v1/session', { body: { email: 'carol@contoso.test', password: cliPassword } })).statusCode, 200);
        const carolSession = samples.at(-1)!;
        const carol = JSON.parse(carolSession.text.slice(carolSession.text.indexOf('\n') + 1)) as { csrfToken: string };
        const carolCookie = /liaison_session=([^;"]+)/.exec(carolSession.text)![1]!;
        secret('Carol’s session cookie', carolCookie);
        secret('Carol’s CSRF token', carol.csrfToken);
        carolSession.allowed = [carolCookie, carol.csrfToken];
      }

      // What is stored: the SQLite files as they are now (the -wal holds the latest writes), or every PostgreSQL row.
      if (kind.name === 'sqlite') {
        for (const name of readdirSync(t.dataDir)) {
          const full = path.join(t.dataDir, name);
          if (/\.(db|sqlite|sqlite3)(-wal|-shm)?$|-wal$|-shm$/.test(name) || name.startsWith('liaison')) {
            if (existsSync(full)) samples.push({ where: `the database file ${name}`, text: readFileSync(full).toString('latin1') });
          }
        }
        assert.ok(samples.some((s) => s.where.startsWith('the database file')), `database files in ${t.dataDir}: ${readdirSync(t.dataDir).join(', ')}`);
        // As UTF-8 too, for secrets with characters beyond ASCII.
        for (const s of samples.filter((x) => x.where.startsWith('the database file'))) samples.push({ where: `${s.where} (UTF-8)`, text: Buffer.from(s.text, 'latin1').toString('utf8') });
      } else {
        const schema = t.options.postgresSchema!;
        const tables = (await sql<{ name: string }>`select table_name as name from information_schema.tables where table_schema = ${schema}`.execute(store.database.db)).rows;
        for (const { name } of tables) {
          const rows = (await sql<Record<string, unknown>>`select * from ${sql.table(name)}`.execute(store.database.db)).rows;
          samples.push({ where: `the PostgreSQL table ${name}`, text: JSON.stringify(rows, (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v)) });
        }
        assert.ok(tables.length > 10, `tables of ${schema} at ${POSTGRES_URL}`);
      }
      samples.push({ where: 'the server log', text: logs.join('') });

      assert.ok(logs.length > 100, 'the log was captured at trace level');
      assert.ok(secrets.length >= (servers ? 20 : 12), `the secrets set: ${secrets.map((s) => s.name).join(', ')}`);
      assert.deepEqual(leaks(secrets, samples), []);
    });
  });
}

/** Runs the sync engine until each address has had a cycle (at most 30 s); its events as `serve` prints them, and as JSON. */
async function cycles(store: TestStore['store'], resolve: string[], addresses: string[]): Promise<string[]> {
  const events: string[] = [];
  const engine = createSyncEngine({
    sync: store.sync,
    connectors: defaultConnectors(),
    resolve,
    leaseMs: 5_000,
    pollFloorMs: 200,
    push: false,
    onEvent: (event) => {
      printEngineEvent(event, { write: (text: string) => void events.push(text) });
      events.push(JSON.stringify(event));
    },
  });
  engine.start();
  const deadline = Date.now() + 30_000;
  const done = () => addresses.every((address) => events.some((e) => e.includes(address) && e.includes('"cycle"')));
  while (!done() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
  await engine.stop();
  assert.ok(done(), `a cycle of each of ${addresses.join(', ')}: ${events.join('\n')}`);
  return events;
}

function tokensIn(text: string): string[] {
  return [...text.matchAll(/lsn_[A-Za-z0-9_-]{43}/g)].map((m) => m[0]);
}

let caPath: string | null = null;
async function caFile(pem: string): Promise<string> {
  if (caPath) return caPath;
  const { mkdtempSync, writeFileSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  caPath = path.join(mkdtempSync(path.join(tmpdir(), 'liaison-leak-ca-')), 'ca.pem');
  writeFileSync(caPath, pem);
  return caPath;
}
