/**
 * `liaison analyze exchange-online` against a test sandbox's Graph side: the installed command (a process) for the
 * passing run, its --json in the API's shape, and a bad argument; the other cases in-process through runAnalyze
 * with the real diagnostics service (each process start costs seconds), reached with --resolve and --ca-file as an
 * administrator tests before DNS points at the servers. Exit codes 0 (passed), 1 (a step failed), 2 (bad arguments).
 */
/* eslint-disable no-control-regex -- these tests look for the absence of the terminal's escape sequences */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable, Writable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import AjvModule from 'ajv';
import addFormatsModule from 'ajv-formats';
import { ConnectionTestResult, StepResult } from '../src/api/schemas.js';
import { type AnalyzeIo, runAnalyze } from '../src/cli/analyze.js';
import { createDiagnostics } from '../src/diagnostics/index.js';
import { testLeaf } from './helpers/certs.js';
import { liaison, type CliResult } from './helpers/cli.js';
import { startTestSandbox, type TestSandbox } from './helpers/sandbox.js';
import { sandboxResolve } from './helpers/sandbox-connect.js';

const ajv = new AjvModule.default({ allErrors: true, strict: false });
addFormatsModule.default(ajv);
const apiShape = ajv.compile(ConnectionTestResult);

function assertApiShape(result: Record<string, unknown> & { steps: Array<Record<string, unknown>> }): void {
  assert.ok(apiShape(result), ajv.errorsText(apiShape.errors));
  const known = (schema: { properties: object }) => new Set(Object.keys(schema.properties));
  assert.deepEqual(Object.keys(result).filter((k) => !known(ConnectionTestResult).has(k)), [], 'nothing the API does not return');
  for (const step of result.steps) assert.deepEqual(Object.keys(step).filter((k) => !known(StepResult).has(k)), []);
}

class Capture extends Writable {
  text = '';
  readonly isTTY = false;
  override _write(chunk: Buffer | string, _encoding: string, done: () => void): void {
    this.text += chunk.toString();
    done();
  }
}

interface GraphInfo {
  url: string;
  authority: string;
  tenantId: string;
  clientId: string;
  clientSecret: string;
}

describe('liaison analyze exchange-online against the sandbox', () => {
  let s: TestSandbox;
  let g: GraphInfo;
  let dir: string;
  const service = createDiagnostics();

  before(async () => {
    s = await startTestSandbox();
    g = (s.info as unknown as { graph: GraphInfo }).graph;
    dir = mkdtempSync(path.join(tmpdir(), 'liaison-analyze-graph-'));
  });
  after(async () => {
    await s?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** The profile's values as flags: the app, the mailbox, the sandbox's authority, Graph URL, names and CA. */
  const base = (over: { clientId?: string; email?: string } = {}) => [
    'exchange-online',
    '--tenant',
    g.tenantId,
    '--client-id',
    over.clientId ?? g.clientId,
    '--email',
    over.email ?? 'alice@contoso.test',
    '--authority',
    g.authority,
    '--graph-url',
    g.url,
    '--resolve',
    sandboxResolve(s).join(','),
    '--ca-file',
    s.info.caCert,
  ];
  const withSecret = (args: string[]) => [...args, '--client-secret-stdin'];
  const explain = (r: { code: number | null; stdout: string; stderr: string }) => `exit ${r.code}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`;

  /** In-process: the real service, stdin holding the secret (or what the test gives). */
  async function run(args: string[], stdin: string | null = `${g.clientSecret}\n`): Promise<CliResult> {
    const input = Object.assign(Readable.from(stdin === null ? [] : [Buffer.from(stdin)]), { isTTY: false });
    const stdout = new Capture();
    const stderr = new Capture();
    const io: AnalyzeIo = { stdin: input, stdout, stderr, env: {}, service };
    const code = await runAnalyze(args, io);
    return { code, stdout: stdout.text, stderr: stderr.text };
  }

  async function app(body: Record<string, unknown>): Promise<{ clientId: string; secrets: Array<{ value: string }> }> {
    const created = await s.control<{ clientId: string; secrets: Array<{ value: string }> }>('POST', '/graph/apps', { displayName: 'analyze test', ...body });
    assert.ok(created.status < 300, JSON.stringify(created.json));
    return created.json;
  }

  test('the installed command: every step passes, exit 0, one line per step, plain when piped; --json in the API shape', async () => {
    const [plain, json] = await Promise.all([
      liaison(['analyze', ...withSecret(base())], { stdin: `${g.clientSecret}\n` }),
      liaison(['analyze', ...withSecret(base()), '--json'], { stdin: g.clientSecret }),
    ]);
    assert.equal(plain.code, 0, explain(plain));
    assert.match(plain.stdout, new RegExp(`^Testing Exchange Online for alice@contoso\\.test as app ${g.clientId} in tenant ${g.tenantId} \\(client secret, `, 'm'));
    assert.match(plain.stdout, /^✓ 1\. Token from the identity platform \(\d+(\.\d)? m?s\): .*issued a token for app/m);
    assert.match(plain.stdout, /^✓ 2\. Microsoft Graph and permissions .*holds Mail\.ReadWrite and Mail\.Send/m);
    assert.match(plain.stdout, /^✓ 3\. Mailbox connection .*Opened the Inbox of alice@contoso\.test/m);
    assert.match(plain.stdout, /^Passed: 3 of 3 steps in [^;]*\.$/m);
    assert.doesNotMatch(plain.stdout + plain.stderr, /\u001b/, 'no escape sequences when piped');
    for (const r of [plain, json]) assert.ok(!(r.stdout + r.stderr).includes(g.clientSecret), 'the secret is not printed');

    assert.equal(json.code, 0, explain(json));
    const result = JSON.parse(json.stdout);
    assertApiShape(result);
    assert.deepEqual(result.steps.map((step: { step: string; status: string }) => `${step.step}:${step.status}`), ['token:success', 'graph:success', 'mailbox:success']);
    assert.deepEqual([result.status, result.mailbox], ['success', 'alice@contoso.test']);
  });

  test('a wrong client secret: exit 1 at step 1, the AADSTS code, Azure AD\'s own answer, the fix, steps 2 and 3 skipped', async () => {
    const result = await run(withSecret(base()), 'wrong-secret\n');
    assert.equal(result.code, 1, explain(result));
    assert.match(result.stdout, /^✗ 1\. Token from the identity platform .*AADSTS7000215/m);
    assert.match(result.stdout, /^\s+request\s+POST https:\/\/login\.contoso\.test.*\/oauth2\/v2\.0\/token$/m);
    assert.match(result.stdout, /^\s+answer\s+HTTP 401$/m);
    assert.match(result.stdout, /^\s+AADSTS7000215 \(invalid_client\): AADSTS7000215: Invalid client secret/m);
    assert.match(result.stdout, /^\s+fix\s+.*Certificates & secrets, create a new client secret, and enter its Value \(not its Secret ID\)/m);
    assert.match(result.stdout, /^\s+code\s+aad\.AADSTS7000215$/m);
    assert.match(result.stdout, /^○ 2\. Microsoft Graph and permissions: skipped/m);
    assert.match(result.stdout, /^○ 3\. Mailbox connection: skipped/m);
    assert.match(result.stdout, /^Failed at step 1 \(Token from the identity platform\)/m);
    assert.ok(!result.stdout.includes('wrong-secret'), 'the refused secret is not repeated');
  });

  test('an app without Mail.Send: --json exit 1 at step 2 naming Mail.Send; --direction incoming passes (exit 0)', async () => {
    const readOnly = await app({ permissions: ['Mail.ReadWrite'] });
    const stdin = `${readOnly.secrets[0]!.value}\n`;
    const both = await run([...withSecret(base({ clientId: readOnly.clientId })), '--json'], stdin);
    assert.equal(both.code, 1, explain(both));
    const json = JSON.parse(both.stdout);
    assertApiShape(json);
    assert.deepEqual(json.steps.map((step: { status: string }) => step.status), ['success', 'failure', 'skipped']);
    assert.equal(json.steps[1].code, 'graph.permission-missing');
    assert.match(json.steps[1].summary, /lacks Mail\.Send/);
    const incoming = await run([...withSecret(base({ clientId: readOnly.clientId })), '--direction', 'incoming'], stdin);
    assert.equal(incoming.code, 0, explain(incoming));
  });

  test('an access policy that excludes the mailbox: exit 1 at step 3 with ErrorAccessDenied and the PowerShell lines', async () => {
    const policy = await s.control<{ id: string }>('POST', '/graph/access-policies', { appId: g.clientId, accessRight: 'DenyAccess', mailboxes: ['alice@contoso.test'] });
    assert.ok(policy.status < 300, JSON.stringify(policy.json));
    let result: CliResult;
    try {
      result = await run(withSecret(base()));
    } finally {
      await s.control('DELETE', `/graph/access-policies/${policy.json.id}`);
    }
    assert.equal(result.code, 1, explain(result));
    assert.match(result.stdout, /^✓ 2\. Microsoft Graph and permissions/m);
    assert.match(result.stdout, /^✗ 3\. Mailbox connection .*application access policy/m);
    assert.match(result.stdout, /^\s+answer\s+HTTP 403$/m);
    assert.match(result.stdout, /^\s+ErrorAccessDenied: Access to OData is disabled: \[RAOP\]/m);
    assert.ok(result.stdout.includes(`Test-ApplicationAccessPolicy -Identity alice@contoso.test -AppId ${g.clientId}`), result.stdout);
    assert.ok(result.stdout.includes(`New-ApplicationAccessPolicy -AppId ${g.clientId} -PolicyScopeGroupId <group> -AccessRight RestrictAccess`), result.stdout);
    assert.match(result.stdout, /^Failed at step 3 \(Mailbox connection\)/m);
  });

  test('--certificate: the PEM registered on the app passes without any secret on stdin', async () => {
    const cert = testLeaf({ names: ['liaison-analyze'] });
    const withCert = await app({ permissions: ['Mail.ReadWrite', 'Mail.Send'], certificates: [{ pem: cert.pem }] });
    const file = path.join(dir, 'app.pem');
    writeFileSync(file, `${cert.key.pem}${cert.pem}`);
    const result = await run([...base({ clientId: withCert.clientId }), '--certificate', file], null);
    assert.equal(result.code, 0, explain(result));
    assert.match(result.stdout, /\(certificate, /);
    assert.match(result.stdout, /^✓ 1\. Token .*with its certificate/m);
  });

  test('bad arguments exit 2 with the reason, and nothing reaches the sandbox', async () => {
    const keyless = path.join(dir, 'keyless.pem');
    writeFileSync(keyless, testLeaf({ names: ['no-key'] }).pem);
    const swap = (args: string[], flag: string, value: string) => args.map((a, i) => (args[i - 1] === flag ? value : a));
    const before = s.records.length;
    const cases: Array<[string, Promise<CliResult>, RegExp]> = [
      ['a tenant that is neither a GUID nor a domain', run(withSecret(swap(base(), '--tenant', 'not a tenant'))), /--tenant.*Directory \(tenant\) ID/],
      ['a client id that is not a GUID', run(withSecret(swap(base(), '--client-id', 'my-app'))), /--client-id.*Application \(client\) ID/],
      ['an http authority', run(withSecret(swap(base(), '--authority', g.authority.replace('https:', 'http:')))), /--authority.*must start with https:\/\//],
      ['an http Graph URL', run(withSecret(swap(base(), '--graph-url', 'http://graph.contoso.test'))), /--graph-url.*must start with https:\/\//],
      ['a --client-secret flag', run([...base(), '--client-secret', 'hunter2']), /never taken on the command line/],
      ['both a secret and a certificate', run([...withSecret(base()), '--certificate', keyless]), /not both/],
      ['a certificate without its private key', run([...base(), '--certificate', keyless], null), /holds no unencrypted private key/],
      ['an empty --client-secret-stdin', run(withSecret(base()), ''), /standard input held no client secret/],
      ['no secret and no terminal to ask on', run(base(), null), /pipe the client secret in with --client-secret-stdin/],
      ['an unknown --direction', run([...withSecret(base()), '--direction', 'sideways']), /Allowed choices are both, incoming, outgoing/],
    ];
    for (const [name, pending, message] of cases) {
      const result = await pending;
      assert.equal(result.code, 2, `${name}: ${explain(result)}`);
      assert.match(result.stderr, message, name);
      assert.ok(!result.stderr.includes('hunter2'), `${name}: a refused secret is not repeated`);
    }
    // The installed command exits 2 too, for a required option left out.
    const withoutTenant = base().filter((_, i, all) => all[i] !== '--tenant' && all[i - 1] !== '--tenant');
    const missing = await liaison(['analyze', ...withSecret(withoutTenant)], { stdin: g.clientSecret });
    assert.equal(missing.code, 2, explain(missing));
    assert.match(missing.stderr, /required option '--tenant <id>' not specified/);
    assert.equal(s.records.length, before, 'no request reached the sandbox');
  });
});
