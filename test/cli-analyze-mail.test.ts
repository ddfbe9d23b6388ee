/**
 * `liaison analyze imap|pop3|smtp` end to end: the command (a process, the real diagnostics service) against the
 * harness's Dovecot and Postfix, reached with --resolve and --ca-file as an administrator reaches a server before
 * DNS points at it. Exit codes 0 and 1, what a failure prints (the server's own line, the fix, the code), --json in
 * the API's shape, and no password anywhere. The rendering itself is tested in-process in test/cli-analyze.test.ts.
 */
/* eslint-disable no-control-regex -- these tests look for the absence of the terminal's escape sequences */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import AjvModule from 'ajv';
import addFormatsModule from 'ajv-formats';
import { ConnectionTestResult } from '../src/api/schemas.js';
import { liaison, type CliResult } from './helpers/cli.js';
import { mailServersSkip, startMailServers, type MailServers, type MailUser } from './helpers/mail-servers.js';

const ajv = new AjvModule.default({ allErrors: true, strict: false });
addFormatsModule.default(ajv);
const apiShape = ajv.compile(ConnectionTestResult);

describe('liaison analyze imap|pop3|smtp against Dovecot and Postfix', mailServersSkip(), () => {
  let servers: MailServers;
  let alice: MailUser;
  let dir: string;
  let ca: string;

  before(async () => {
    servers = await startMailServers();
    alice = await servers.addUser('alice', 'Alice-cli-pw');
    dir = mkdtempSync(path.join(tmpdir(), 'liaison-analyze-mail-'));
    ca = path.join(dir, 'ca.pem');
    writeFileSync(ca, servers.caPem);
  });
  after(async () => {
    await servers?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const analyze = (protocol: string, args: string[], password = alice.password): Promise<CliResult> =>
    liaison(['analyze', protocol, '--host', servers.host, '--username', alice.address, '--password-stdin', '--ca-file', ca, '--resolve', servers.resolve.join(','), ...args], { stdin: `${password}\n` });
  const explain = (r: CliResult) => `exit ${r.code}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`;

  test('every step passes: IMAP over implicit TLS, IMAP with STARTTLS as the master user, POP3 with STLS, SMTP submission: exit 0', async () => {
    const runs: Array<[string, string[], string | undefined, RegExp]> = [
      ['imap', ['--port', String(servers.ports.imaps)], undefined, /^✓ 3\. IMAP: Mailbox connection \(\d+(\.\d)? m?s\): Opened the Inbox of alice@liaison\.test read-only \(EXAMINE\): 0 messages/m],
      ['imap', ['--port', String(servers.ports.imap), '--starttls', '--master-user', servers.master.username], servers.master.password, /as alice@liaison\.test\*liaison-master \(AUTHENTICATE PLAIN\)/],
      ['pop3', ['--port', String(servers.ports.pop3), '--starttls'], undefined, /^✓ 1\. POP3: Server connection \(DNS, TCP, TLS\) \(\d+(\.\d)? m?s\): Connected to pop3:\/\/mail\.liaison\.test:\d+ with STARTTLS \(dialled at 127\.0\.0\.1:\d+\) and started verified TLS with STLS/m],
      ['smtp', ['--port', String(servers.ports.submission), '--starttls'], undefined, /^✓ 3\. SMTP: Mailbox connection \(\d+(\.\d)? m?s\): mail\.liaison\.test accepts alice@liaison\.test as the sender \(250 2\.1\.0 Ok\)/m],
    ];
    const results = await Promise.all(runs.map(([protocol, args, password]) => analyze(protocol, args, password)));
    for (const [index, [protocol, , , line]] of runs.entries()) {
      const result = results[index]!;
      assert.equal(result.code, 0, explain(result));
      assert.match(result.stdout, new RegExp(`^Testing ${protocol.toUpperCase()} at ${protocol}s?://mail\\.liaison\\.test:\\d+`, 'm'));
      assert.match(result.stdout, line, explain(result));
      assert.match(result.stdout, /^Passed: 3 of 3 steps in /m);
      assert.doesNotMatch(result.stdout, /\u001b/, 'plain when piped');
    }
  });

  test("a wrong password: exit 1, step 2 shows Dovecot's line and the fix; --json is the API's shape; no password is printed", async () => {
    const wrong = 'Not-alices-pw-77';
    const [text, json] = await Promise.all([
      analyze('imap', ['--port', String(servers.ports.imaps)], wrong),
      analyze('imap', ['--port', String(servers.ports.imaps), '--json'], wrong),
    ]);
    assert.equal(text.code, 1, explain(text));
    assert.match(text.stdout, /^✗ 2\. IMAP: Protocol and login \(\d+(\.\d)? m?s\): mail\.liaison\.test refused the login of alice@liaison\.test \(AUTHENTICATE PLAIN\): a2 NO \[AUTHENTICATIONFAILED\] Authentication failed\.$/m);
    assert.match(text.stdout, /^ {4}request {3}a2 AUTHENTICATE PLAIN \(credentials hidden\) imaps:\/\/mail\.liaison\.test:\d+$/m);
    assert.match(text.stdout, /^ {4}answer {4}a2 NO \[AUTHENTICATIONFAILED\] Authentication failed\.$/m);
    assert.match(text.stdout, /^ {4}fix {7}Check the user name and password of alice@liaison\.test/m);
    assert.match(text.stdout, /^ {4}code {6}bad-credentials$/m);
    assert.match(text.stdout, /^Failed at step 2 \(IMAP: Protocol and login\)/m);

    assert.equal(json.code, 1, explain(json));
    const result = JSON.parse(json.stdout);
    assert.ok(apiShape(result), ajv.errorsText(apiShape.errors));
    assert.deepEqual(result.steps.map((s: { status: string }) => s.status), ['success', 'failure', 'skipped']);
    for (const output of [text.stdout, text.stderr, json.stdout, json.stderr]) {
      assert.ok(!output.includes(wrong) && !output.includes(Buffer.from(`\0${alice.address}\0${wrong}`).toString('base64')), 'no password, not even base64');
    }
  });

  test('a name the certificate does not carry: exit 1 at step 1 with the names it does carry', async () => {
    const port = servers.ports.smtps;
    const result = await liaison(
      ['analyze', 'smtp', '--host', 'wrong.liaison.test', '--port', String(port), '--username', alice.address, '--password-stdin', '--ca-file', ca, '--resolve', `wrong.liaison.test:${port}:127.0.0.1`],
      { stdin: `${alice.password}\n` },
    );
    assert.equal(result.code, 1, explain(result));
    assert.match(result.stdout, new RegExp(`^✗ 1\\. SMTP: Server connection \\(DNS, TCP, TLS\\) \\(\\d+(\\.\\d)? m?s\\): The certificate of wrong\\.liaison\\.test:${port} is not for wrong\\.liaison\\.test: it carries mail\\.liaison\\.test, localhost$`, 'm'));
    assert.match(result.stdout, /^ {4}code {6}tls-name-mismatch$/m);
    assert.match(result.stdout, /^○ 2\. SMTP: Protocol and login: skipped: /m);
  });
});
