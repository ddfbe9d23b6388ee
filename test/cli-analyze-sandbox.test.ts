/**
 * `liaison analyze exchange` end to end: the installed command (a process, the real diagnostics service) against a
 * test sandbox started here, reached with --resolve and --ca-file as an administrator reaches an Exchange before
 * DNS points at it. Exit codes 0, 1 and 2, what a failure prints, and --json in the API's shape. The rendering
 * itself is tested in-process in test/cli-analyze.test.ts.
 */
/* eslint-disable no-control-regex -- these tests look for the absence of the terminal's escape sequences */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import AjvModule from 'ajv';
import addFormatsModule from 'ajv-formats';
import { ConnectionTestResult, StepResult } from '../src/api/schemas.js';
import { validateEwsEnvelope } from '../src/xml/ews-schema.js';
import { liaison, type CliResult } from './helpers/cli.js';
import { startTestSandbox, type TestSandbox } from './helpers/sandbox.js';
import { sandboxResolve } from './helpers/sandbox-connect.js';

// The API's own schema of a result, checked as the API's validator would (CommonJS packages: the class is on .default).
const ajv = new AjvModule.default({ allErrors: true, strict: false });
addFormatsModule.default(ajv);
const apiShape = ajv.compile(ConnectionTestResult);

/** The result is what the API answers: its schema holds, and it has no field the API's schema does not name. */
function assertApiShape(result: Record<string, unknown> & { steps: Array<Record<string, unknown>> }): void {
  assert.ok(apiShape(result), ajv.errorsText(apiShape.errors));
  const known = (schema: { properties: object }) => new Set(Object.keys(schema.properties));
  assert.deepEqual(Object.keys(result).filter((k) => !known(ConnectionTestResult).has(k)), [], 'nothing the API does not return');
  for (const step of result.steps) assert.deepEqual(Object.keys(step).filter((k) => !known(StepResult).has(k)), []);
}

describe('liaison analyze exchange against the sandbox', () => {
  let s: TestSandbox;
  before(async () => {
    s = await startTestSandbox();
  });
  after(() => s?.close());

  const ews = (host = 'mail.contoso.test') => `https://${host}:${s.info.listen.port}/EWS/Exchange.asmx`;
  const settings = async (body: Record<string, unknown>) => assert.equal((await s.control('PATCH', '/settings', body)).status, 200);
  /** The profile's values as flags: the mailbox, the service account, the sandbox's names and CA. */
  const base = (email = 'alice@contoso.test') => [
    'analyze',
    'exchange',
    '--email',
    email,
    '--username',
    s.info.serviceAccount!.username,
    '--password-stdin',
    '--resolve',
    sandboxResolve(s).join(','),
    '--ca-file',
    s.info.caCert,
  ];
  const analyze = (args: string[], stdin = `${s.password}\n`): Promise<CliResult> => liaison([...base(), ...args], { stdin });
  const explain = (r: CliResult) => `exit ${r.code}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`;

  test('every step passes: exit 0, with Basic and NTLM, with Autodiscover and with --url; --json in the API shape; piped output is plain', async () => {
    // Each process start costs seconds, so two of the four also check --json.
    const runs: Array<[string[], RegExp]> = [
      [[], /by Autodiscover/],
      [['--auth', 'ntlm', '--json'], /by Autodiscover/],
      [['--url', ews(), '--json'], /verified TLS/],
      [['--auth', 'ntlm', '--url', ews()], /verified TLS/],
    ];
    const results = await Promise.all(runs.map(([args]) => analyze(args)));
    for (const [index, result] of results.entries()) {
      const [args, step1] = runs[index]!;
      const name = args.join(' ') || '(Basic, Autodiscover)';
      const method = args.includes('ntlm') ? 'NTLM' : 'Basic';
      assert.equal(result.code, 0, `${name}: ${explain(result)}`);
      assert.doesNotMatch(result.stdout + result.stderr, /\u001b/, `${name}: no escape sequences when piped`);
      assert.ok(!(result.stdout + result.stderr).includes(s.password), `${name}: the password is not printed`);
      if (args.includes('--json')) {
        const json = JSON.parse(result.stdout);
        assertApiShape(json);
        assert.deepEqual(
          json.steps.map((step: { step: string; status: string }) => `${step.step}:${step.status}`),
          ['autodiscover:success', 'ews:success', 'mailbox:success'],
        );
        assert.deepEqual([json.status, json.mailbox, json.ewsUrl], ['success', 'alice@contoso.test', ews()], name);
        assert.match(json.steps[0].summary, step1, name);
        assert.match(json.steps[1].summary, new RegExp(`\\(${method}\\)`), name);
        continue;
      }
      assert.match(result.stdout, /^Testing Exchange for alice@contoso\.test as svc-liaison@contoso\.test/m, name);
      assert.match(result.stdout, new RegExp(`^✓ 1\\. Autodiscover / HTTPS connection .*${step1.source}`, 'm'), name);
      assert.match(result.stdout, new RegExp(`^✓ 2\\. EWS connection .*\\(${method}\\)`, 'm'), name);
      assert.match(result.stdout, /^✓ 3\. Mailbox connection .*Opened the Inbox of alice@contoso\.test/m, name);
      assert.match(result.stdout, new RegExp(`^Passed: 3 of 3 steps in .*; EWS ${ews().replace(/[.]/g, '\\.')}\\.$`, 'm'), name);
    }
  });

  test('Basic switched off: exit 1, the output names step 2, shows WWW-Authenticate and the fix', async () => {
    await settings({ basicAuth: false });
    let result: CliResult;
    try {
      result = await analyze(['--url', ews()]);
    } finally {
      await settings({ basicAuth: true });
    }
    assert.equal(result.code, 1, explain(result));
    assert.match(result.stdout, /^✓ 1\. Autodiscover \/ HTTPS connection/m);
    assert.match(result.stdout, /^✗ 2\. EWS connection .*Basic authentication is not enabled in Exchange/m);
    assert.match(result.stdout, /^\s+request\s+POST https:\/\/mail\.contoso\.test:\d+\/EWS\/Exchange\.asmx$/m);
    assert.match(result.stdout, /^\s+answer\s+HTTP 401$/m);
    const offered = result.stdout.match(/^\s+www-authenticate: (.*)$/m);
    assert.ok(offered, `WWW-Authenticate is shown:\n${result.stdout}`);
    assert.match(offered[1]!, /NTLM/);
    assert.doesNotMatch(offered[1]!, /Basic/);
    assert.match(result.stdout, /^\s+fix\s+.*BasicAuthentication \$true.*switch the profile to NTLM/m);
    assert.match(result.stdout, /^\s+code\s+basic-auth-disabled$/m);
    assert.match(result.stdout, /^○ 3\. Mailbox connection: skipped/m);
    assert.match(result.stdout, /^Failed at step 2 \(EWS connection\)/m);
    assert.doesNotMatch(result.stdout, /\u001b/);
  });

  test('Extended Protection required: NTLM with channel binding passes (exit 0), for a mailbox Autodiscover finds on mail2', async () => {
    await settings({ extendedProtection: 'require' });
    let result: CliResult;
    try {
      result = await liaison([...base('dave@contoso.test'), '--auth', 'ntlm', '--json'], { stdin: s.password });
    } finally {
      await settings({ extendedProtection: 'none' });
    }
    assert.equal(result.code, 0, explain(result));
    const json = JSON.parse(result.stdout);
    assert.deepEqual([json.status, json.mailbox, json.ewsUrl], ['success', 'dave@contoso.test', ews('mail2.contoso.test')]);
  });

  test('--json of a failure: exit 1, the API shape, the certificate names of the wrong-name host', async () => {
    const wrongName = await analyze(['--json', '--url', ews('wrong-name.contoso.test')]);
    assert.equal(wrongName.code, 1, explain(wrongName));
    const failed = JSON.parse(wrongName.stdout);
    assertApiShape(failed);
    assert.deepEqual(failed.steps.map((step: { status: string }) => step.status), ['failure', 'skipped', 'skipped']);
    assert.equal(failed.steps[0].code, 'tls-name-mismatch');
    assert.match(`${failed.steps[0].summary} ${(failed.steps[0].details ?? []).join(' ')}`, /mail\.fabrikam\.test/);
  });

  test('a service account without the impersonation role: exit 1 at step 3 with ErrorImpersonateUserDenied explained', async () => {
    const account = encodeURIComponent(s.info.serviceAccount!.username);
    await s.control('PATCH', `/accounts/${account}`, { impersonation: false });
    let result: CliResult;
    try {
      result = await analyze([]);
    } finally {
      await s.control('PATCH', `/accounts/${account}`, { impersonation: true });
    }
    assert.equal(result.code, 1, explain(result));
    assert.match(result.stdout, /^✗ 3\. Mailbox connection/m);
    assert.match(result.stdout, /ErrorImpersonateUserDenied: /);
    assert.match(result.stdout, /^\s+fix\s+.*New-ManagementRoleAssignment .*-Role ApplicationImpersonation/m);
  });

  test('bad arguments exit 2 with the reason, and nothing reaches the sandbox', async () => {
    // Every other argument is right, so a check that let the bad one through would connect and pass.
    const withoutEmail = base().filter((_, i, all) => all[i] !== '--email' && all[i - 1] !== '--email');
    const before = s.records.length;
    const cases: Array<[string, Promise<CliResult>, RegExp]> = [
      ['unknown --auth', analyze(['--auth', 'kerberos']), /Allowed choices are basic, ntlm/],
      ['an http --url', analyze(['--url', ews().replace('https:', 'http:')]), /must start with https:\/\//],
      ['a bad --resolve entry', analyze(['--resolve', 'mail.contoso.test:443']), /"mail\.contoso\.test:443": it needs at least a host, a port and an address/],
      ['a --password flag', analyze(['--password', 'hunter2']), /never taken on the command line/],
      ['no --email', liaison(withoutEmail, { stdin: s.password }), /required option '--email <address>' not specified/],
      ['an empty --password-stdin', analyze([], ''), /standard input held no password/],
    ];
    for (const [name, pending, message] of cases) {
      const result = await pending;
      assert.equal(result.code, 2, `${name}: ${explain(result)}`);
      assert.match(result.stderr, message, name);
      assert.ok(!result.stderr.includes('hunter2'), `${name}: a refused password is not repeated`);
    }
    assert.equal(s.records.length, before, 'no request reached the sandbox');
  });

  test('every EWS request the command sent (as the sandbox received it) validates against the schemas', () => {
    const requests = s.records.filter((r) => r.surface === 'ews' && r.request !== '');
    assert.ok(requests.length >= 10, `${requests.length} EWS requests`);
    const invalid = [];
    for (const r of requests) {
      const violation = validateEwsEnvelope(r.request);
      if (violation) invalid.push(`${r.operation}: ${violation.message} (line ${violation.line})`);
    }
    assert.deepEqual(invalid, []);
  });
});
