/**
 * `liaison analyze exchange`: arguments, the password, rendering and exit codes. Bad arguments are tested on
 * the real command (a process); what the analyzer does with a result is tested in-process with the diagnostics
 * double (test/helpers/diagnostics-double.ts), since only the rendering and the exit code are under test here.
 * The steps themselves are tested with the real service against the sandbox.
 */
/* eslint-disable no-control-regex -- these tests look for the terminal's escape sequences, and for their absence */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PassThrough, Readable, Writable } from 'node:stream';
import { after, describe, test } from 'node:test';
import { type AnalyzeIo, runAnalyze } from '../src/cli/analyze.js';
import { loadPki } from '../src/sandbox/pki.js';
import { liaison } from './helpers/cli.js';
import { DiagnosticsDouble, type Script } from './helpers/diagnostics-double.js';

const dirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'liaison-analyze-'));
  dirs.push(dir);
  return dir;
}
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

class Capture extends Writable {
  text = '';
  constructor(readonly isTTY: boolean) {
    super();
  }
  override _write(chunk: Buffer | string, _encoding: string, done: () => void): void {
    this.text += chunk.toString();
    done();
  }
}

function io(options: { script?: Script; tty?: boolean; stdin?: string; env?: NodeJS.ProcessEnv; delayMs?: number } = {}) {
  const service = new DiagnosticsDouble(options.script, options.delayMs ?? 0);
  const stdin = Object.assign(Readable.from([Buffer.from(options.stdin ?? 'S3cret-pw\n')]), { isTTY: false });
  const stdout = new Capture(options.tty ?? false);
  const stderr = new Capture(options.tty ?? false);
  const value: AnalyzeIo = { stdin, stdout, stderr, env: options.env ?? {}, service };
  return { io: value, service, stdout, stderr };
}

const BASE = ['exchange', '--email', 'alice@contoso.test', '--username', 'svc-liaison@contoso.test', '--password-stdin'];
const BASIC_OFF = {
  step: 'ews',
  code: 'basic-auth-disabled',
  summary: 'Basic authentication is not enabled in Exchange',
  fix: 'Enable Basic on the EWS virtual directory, or switch the profile to NTLM (the server offers it)',
  request: { method: 'POST', url: 'https://mail.contoso.test/EWS/Exchange.asmx' },
  serverAnswer: { httpStatus: 401, headers: { 'www-authenticate': 'Negotiate, NTLM' }, excerpt: 'evil\u001b[2Jtext' },
  details: ['WWW-Authenticate offers Negotiate, NTLM; no Basic'],
} as const;

describe('liaison analyze exchange', () => {
  test('every step passed: exit 0, one line per step, plain (no escape sequences) when piped; the flags make the target', async () => {
    const dir = tempDir();
    const pki = loadPki(dir, 'contoso.test', []);
    const ca = path.join(dir, 'ca.pem');
    writeFileSync(ca, pki.caCertPem);
    const run = io();
    const code = await runAnalyze(
      [...BASE, '--auth', 'ntlm', '--url', 'https://mail.contoso.test:8443/EWS/Exchange.asmx', '--ca-file', ca, '--timeout', '20',
        '--resolve', 'mail.contoso.test:8443:127.0.0.1', '--resolve', 'AUTODISCOVER.contoso.test:443:[::1]:8443,contoso.test:443:127.0.0.1:8443'],
      run.io,
    );
    assert.equal(code, 0, run.stderr.text);
    assert.deepEqual(run.service.calls[0]!.target, {
      kind: 'exchange',
      email: 'alice@contoso.test',
      username: 'svc-liaison@contoso.test',
      password: 'S3cret-pw',
      auth: 'ntlm',
      url: 'https://mail.contoso.test:8443/EWS/Exchange.asmx',
      autodiscover: false,
      trustedCaPem: pki.caCertPem,
      resolve: ['mail.contoso.test:8443:127.0.0.1', 'AUTODISCOVER.contoso.test:443:[::1]:8443', 'contoso.test:443:127.0.0.1:8443'],
      timeoutMs: 20_000,
      maxConcurrentConnections: 27,
    });
    const out = run.stdout.text;
    assert.doesNotMatch(out, /\u001b/, 'no ANSI when not a terminal');
    assert.match(out, /^… 1\. Autodiscover \/ HTTPS connection$/m);
    assert.match(out, /^✓ 1\. Autodiscover \/ HTTPS connection \(10 ms\): /m);
    assert.match(out, /^✓ 2\. EWS connection \(11 ms\): /m);
    assert.match(out, /^✓ 3\. Mailbox connection \(12 ms\): /m);
    assert.match(out, /^Passed: 3 of 3 steps in 33 ms; EWS https:\/\/mail\.contoso\.test\/EWS\/Exchange\.asmx\.$/m);
  });

  test('a failed step: exit 1, with the request, the server answer, the details and the fix; server text cannot drive the terminal', async () => {
    const run = io({ script: () => ({ failure: BASIC_OFF }) });
    assert.equal(await runAnalyze(BASE, run.io), 1);
    assert.equal(run.service.exchangeCalls[0]!.target.autodiscover, true, 'no --url: Autodiscover');
    assert.equal(run.service.exchangeCalls[0]!.target.url, null);
    const out = run.stdout.text;
    assert.match(out, /^✗ 2\. EWS connection \(25 ms\): Basic authentication is not enabled in Exchange$/m);
    assert.match(out, /^ {4}request {3}POST https:\/\/mail\.contoso\.test\/EWS\/Exchange\.asmx$/m);
    assert.match(out, /^ {4}answer {4}HTTP 401$/m);
    assert.match(out, /^ {14}www-authenticate: Negotiate, NTLM$/m);
    assert.match(out, /^ {14}evil\\x1b\[2Jtext$/m, 'the escape character is shown, not sent');
    assert.match(out, /^ {4}details {3}WWW-Authenticate offers Negotiate, NTLM; no Basic$/m);
    assert.match(out, /^ {4}fix {7}Enable Basic on the EWS virtual directory, or switch the profile to NTLM/m);
    assert.match(out, /^○ 3\. Mailbox connection: skipped: /m);
    assert.match(out, /^Failed at step 2 \(EWS connection\), after 35 ms\.$/m);
    assert.doesNotMatch(out, /\u001b/);
  });

  test('--json prints the result as the API returns it, and nothing else; the exit code still says how it went', async () => {
    const run = io({ script: () => ({ failure: BASIC_OFF }) });
    assert.equal(await runAnalyze([...BASE, '--json'], run.io), 1);
    const result = JSON.parse(run.stdout.text);
    assert.deepEqual(Object.keys(result).sort(), ['elapsedMs', 'ewsUrl', 'mailbox', 'startedAt', 'status', 'steps']);
    assert.deepEqual(result.steps.map((s: { status: string }) => s.status), ['success', 'failure', 'skipped']);
    assert.equal(result.steps[1].serverAnswer.headers['www-authenticate'], 'Negotiate, NTLM');
    const passed = io();
    assert.equal(await runAnalyze([...BASE, '--json'], passed.io), 0);
    assert.equal(JSON.parse(passed.stdout.text).status, 'success');
  });

  test('on a terminal: a spinner with the elapsed time while a step runs, colour for the outcome; NO_COLOR keeps the spinner, drops colour', async () => {
    const run = io({ tty: true, delayMs: 200 });
    assert.equal(await runAnalyze(BASE, run.io), 0);
    const out = run.stdout.text;
    assert.match(out, /\r\u001b\[2K\u001b\[36m[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏]\u001b\[0m 1\. Autodiscover \/ HTTPS connection \u001b\[2m\d+ ms\u001b\[0m/);
    const frames = new Set([...out.matchAll(/([⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏])\u001b\[0m 1\. Autodiscover/g)].map((m) => m[1]));
    assert.ok(frames.size >= 2, `the spinner turns while the step runs (frames: ${[...frames].join('')})`);
    assert.match(out, /\u001b\[2m[1-9]\d* ms\u001b\[0m/, 'the elapsed time counts up');
    assert.match(out, /\u001b\[32m✓\u001b\[0m 1\. Autodiscover \/ HTTPS connection/);

    const plain = io({ tty: true, env: { NO_COLOR: '1' }, script: () => ({ failure: BASIC_OFF }) });
    assert.equal(await runAnalyze(BASE, plain.io), 1);
    assert.doesNotMatch(plain.stdout.text, /\u001b\[\d+m/, 'no colour with NO_COLOR');
    assert.match(plain.stdout.text, /\r\u001b\[2K/, 'the spinner line is still redrawn');
    assert.match(plain.stdout.text, /\r\u001b\[2K✗ 2\. EWS connection/, 'the outcome replaces the spinner line');
  });

  test('on a terminal without --password-stdin the password is asked for without echo', async () => {
    const stdin = Object.assign(new PassThrough(), { isTTY: true, raw: [] as boolean[], setRawMode(raw: boolean) { this.raw.push(raw); } });
    const run = io({ tty: true });
    run.io.stdin = stdin;
    const pending = runAnalyze(BASE.filter((a) => a !== '--password-stdin'), run.io);
    setTimeout(() => stdin.write('sec\u007fret\r'), 20);
    assert.equal(await pending, 0, run.stderr.text);
    assert.equal(run.service.exchangeCalls[0]!.target.password, 'seret');
    assert.match(run.stderr.text, /^Password for svc-liaison@contoso\.test: \n/);
    assert.ok(!run.stderr.text.includes('sec') && !run.stdout.text.includes('seret'), 'nothing typed is echoed');
    assert.deepEqual(stdin.raw, [true, false], 'raw mode is on while typing and off after');
  });

  test('a service fault is exit 1 with the reason; an empty --password-stdin is a bad argument', async () => {
    const fault = io({ script: () => ({ throws: 'undici exploded' }) });
    assert.equal(await runAnalyze(BASE, fault.io), 1);
    assert.match(fault.stderr.text, /the test could not finish: undici exploded/);
    const empty = io({ stdin: '' });
    assert.equal(await runAnalyze(BASE, empty.io), 2);
    assert.match(empty.stderr.text, /standard input held no password/);
    assert.equal(empty.service.calls.length, 0);
  });

  test('bad arguments exit 2 with a message that says what to fix, before anything connects', async () => {
    const dir = tempDir();
    const notPem = path.join(dir, 'not.pem');
    writeFileSync(notPem, 'hello');
    const cases: Array<[string[], RegExp]> = [
      [[...BASE, '--password=hunter2'], /never taken on the command line/],
      [['exchange', '--username', 'svc@contoso.test'], /required option '--email/],
      [[...BASE, '--email', 'not-an-address'], /--email <address>' argument 'not-an-address' is invalid/],
      [[...BASE, '--username', 'justaname'], /user principal name/],
      [[...BASE, '--url', 'http://mail.contoso.test/EWS/Exchange.asmx'], /must start with https:\/\//],
      [[...BASE, '--url', 'not a url'], /is not a URL/],
      [[...BASE, '--resolve', 'mail.contoso.test:443'], /needs at least a host, a port and an address/],
      [[...BASE, '--resolve', 'mail.contoso.test:443:mail2.contoso.test'], /is not an IP address/],
      [[...BASE, '--resolve', 'mail.contoso.test:99999:127.0.0.1'], /the port must be a number from 1 to 65535, not "99999"/],
      [[...BASE, '--ca-file', path.join(dir, 'missing.pem')], /cannot be read: ENOENT/],
      [[...BASE, '--ca-file', notPem], /must hold one or more PEM certificates/],
      [[...BASE, '--timeout', '0'], /from 1 to 100/],
      [[...BASE, '--auth', 'kerberos'], /Allowed choices are basic, ntlm/],
      [[...BASE, '--impersonate', 'bob@contoso.test'], /give that address as --email/],
      [['exchange', '--email', 'alice@contoso.test', '--username', 'svc@contoso.test'], /pipe the password in with --password-stdin/],
      [[], /Usage: liaison analyze/],
    ];
    for (const [args, message] of cases) {
      const run = io();
      assert.equal(await runAnalyze(args, run.io), 2, `${args.join(' ')}: ${run.stderr.text}`);
      assert.match(run.stderr.text, message, args.join(' '));
      assert.equal(run.service.calls.length, 0, 'nothing connected');
      assert.ok(!run.stderr.text.includes('hunter2'), 'a refused password is not repeated');
    }
  });

  test('the installed command exits 2 on bad arguments too, and does not offer --password', async () => {
    for (const [args, message] of [
      [[...BASE, '--password', 'hunter2'], /never taken on the command line/],
      [[...BASE, '--no-such-flag'], /unknown option '--no-such-flag'/],
      [[...BASE, '--resolve', 'bad'], /"bad": it needs at least a host, a port and an address/],
    ] as Array<[string[], RegExp]>) {
      const result = await liaison(['analyze', ...args]);
      assert.equal(result.code, 2, `${args.join(' ')}: ${result.stderr}`);
      assert.match(result.stderr, message);
      assert.ok(!result.stderr.includes('hunter2'));
    }
    const help = await liaison(['analyze', 'exchange', '--help']);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /--password-stdin/);
    assert.doesNotMatch(help.stdout, /--password </, 'the refused flag is not offered');
  });
});

describe('liaison analyze imap|pop3|smtp', () => {
  const MAIL = ['--host', 'mail.contoso.test', '--username', 'alice@contoso.test', '--password-stdin'];
  const SMTP_REFUSED = {
    step: 'login',
    code: 'bad-credentials',
    summary: 'mail.contoso.test refused the login of alice@contoso.test (AUTH PLAIN): 535 5.7.8 Error: authentication failed',
    fix: 'Check the user name and password of alice@contoso.test',
    request: { method: 'AUTH PLAIN (credentials hidden)', url: 'smtp://mail.contoso.test:587' },
    serverAnswer: { messageText: '535 5.7.8 Error: authentication failed' },
  } as const;

  test('the flags make one server: the port from the protocol and --starttls, the address from --username, --resolve applied', async () => {
    const cases: Array<[string, string[], { port: number; tls: string; dialPort: number }]> = [
      ['imap', [], { port: 993, tls: 'implicit', dialPort: 993 }],
      ['imap', ['--starttls'], { port: 143, tls: 'starttls', dialPort: 143 }],
      ['pop3', [], { port: 995, tls: 'implicit', dialPort: 995 }],
      ['pop3', ['--starttls'], { port: 110, tls: 'starttls', dialPort: 110 }],
      ['smtp', [], { port: 465, tls: 'implicit', dialPort: 465 }],
      ['smtp', ['--starttls', '--port', '2525', '--resolve', 'mail.contoso.test:2525:127.0.0.1:10025'], { port: 2525, tls: 'starttls', dialPort: 10025 }],
    ];
    for (const [protocol, extra, expected] of cases) {
      const run = io();
      assert.equal(await runAnalyze([protocol, ...MAIL, ...extra], run.io), 0, run.stderr.text);
      const target = run.service.mailCalls[0]!.target;
      assert.deepEqual(
        { ...target, servers: target.servers.map((s) => ({ ...s, endpoint: { ...s.endpoint } })) },
        {
          kind: 'mail',
          email: 'alice@contoso.test',
          servers: [
            {
              endpoint: { protocol, host: 'mail.contoso.test', port: expected.port, tls: expected.tls, dialHost: expected.dialPort === expected.port ? 'mail.contoso.test' : '127.0.0.1', dialPort: expected.dialPort },
              login: { username: 'alice@contoso.test', password: 'S3cret-pw', describe: 'alice@contoso.test' },
            },
          ],
          trustedCaPem: null,
          timeoutMs: 100_000,
        },
        `${protocol} ${extra.join(' ')}`,
      );
    }
  });

  test('--master-user logs in as mailbox*master for --username, and --address names the mailbox of step 3', async () => {
    const run = io();
    const args = ['imap', '--host', 'mail.contoso.test', '--username', 'alice', '--address', 'alice@contoso.test', '--master-user', 'liaison', '--password-stdin'];
    assert.equal(await runAnalyze(args, run.io), 0, run.stderr.text);
    const target = run.service.mailCalls[0]!.target;
    assert.equal(target.email, 'alice@contoso.test');
    assert.deepEqual(target.servers[0]!.login, { username: 'alice*liaison', password: 'S3cret-pw', describe: 'master user liaison for alice' });
    assert.match(run.stdout.text, /^Testing IMAP at imaps:\/\/mail\.contoso\.test:993 for alice@contoso\.test as alice\*liaison$/m);
  });

  test('each step is shown as for Exchange, numbered 1 to 3, with the command, the reply line and the fix; exit 1 on a failure', async () => {
    const passed = io();
    assert.equal(await runAnalyze(['smtp', ...MAIL, '--starttls'], passed.io), 0);
    assert.match(passed.stdout.text, /^Testing SMTP at smtp:\/\/mail\.contoso\.test:587 with STARTTLS for alice@contoso\.test as alice@contoso\.test$/m);
    assert.match(passed.stdout.text, /^✓ 1\. SMTP: Server connection \(DNS, TCP, TLS\) \(10 ms\): /m);
    assert.match(passed.stdout.text, /^✓ 3\. SMTP: Mailbox connection \(12 ms\): /m);
    assert.match(passed.stdout.text, /^Passed: 3 of 3 steps in 33 ms\.$/m);

    const run = io({ script: () => ({ failure: SMTP_REFUSED }) });
    assert.equal(await runAnalyze(['smtp', ...MAIL, '--starttls'], run.io), 1);
    const out = run.stdout.text;
    assert.match(out, /^✗ 2\. SMTP: Protocol and login \(25 ms\): mail\.contoso\.test refused the login/m);
    assert.match(out, /^ {4}request {3}AUTH PLAIN \(credentials hidden\) smtp:\/\/mail\.contoso\.test:587$/m);
    assert.match(out, /^ {4}answer {4}535 5\.7\.8 Error: authentication failed$/m);
    assert.match(out, /^ {4}fix {7}Check the user name and password/m);
    assert.match(out, /^ {4}code {6}bad-credentials$/m);
    assert.match(out, /^○ 3\. SMTP: Mailbox connection: skipped: /m);
    assert.match(out, /^Failed at step 2 \(SMTP: Protocol and login\), after 35 ms\.$/m);

    const json = io({ script: () => ({ failure: SMTP_REFUSED }) });
    assert.equal(await runAnalyze(['smtp', ...MAIL, '--starttls', '--json'], json.io), 1);
    const result = JSON.parse(json.stdout.text);
    assert.deepEqual(Object.keys(result).sort(), ['elapsedMs', 'mailbox', 'startedAt', 'status', 'steps']);
    assert.deepEqual(result.steps.map((s: { protocol: string; step: string }) => `${s.protocol}:${s.step}`), ['smtp:server', 'smtp:login', 'smtp:mailbox']);
  });

  test('bad arguments exit 2 before anything connects', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['imap', '--username', 'alice@contoso.test', '--password-stdin'], /required option '--host/],
      [['imap', '--host', 'imaps://mail.contoso.test', '--username', 'a@b.test', '--password-stdin'], /must be a host name only: the protocol is the command/],
      [['imap', '--host', 'mail contoso', '--username', 'a@b.test', '--password-stdin'], /is not a host name or IP address/],
      [['pop3', ...MAIL, '--port', '0'], /must be a port number from 1 to 65535/],
      [['smtp', '--host', 'mail.contoso.test', '--username', 'alice', '--password-stdin'], /not an email address, so step 3 has no sender for MAIL FROM: give --address/],
      [['smtp', ...MAIL, '--address', 'nope'], /--address <address>' argument 'nope' is invalid/],
      [['imap', ...MAIL, '--password=hunter2'], /never taken on the command line/],
      [['imap', ...MAIL, '--resolve', 'mail.contoso.test:993'], /needs at least a host, a port and an address/],
      [['imap', ...MAIL, '--timeout', '500'], /from 1 to 100/],
    ];
    for (const [args, message] of cases) {
      const run = io();
      assert.equal(await runAnalyze(args, run.io), 2, `${args.join(' ')}: ${run.stderr.text}`);
      assert.match(run.stderr.text, message, args.join(' '));
      assert.equal(run.service.calls.length, 0, 'nothing connected');
      assert.ok(!run.stderr.text.includes('hunter2'));
    }
  });
});

describe('--resolve on serve', () => {
  test('a bad LIAISON_RESOLVE entry stops serve with the entry named', async () => {
    const data = tempDir();
    const result = await liaison(['serve', '--port', '0', '--data', data], { env: { LIAISON_RESOLVE: 'mail.contoso.test:443:127.0.0.1,oops' } });
    assert.notEqual(result.code, 0);
    assert.match(result.stderr, /from env 'LIAISON_RESOLVE' is invalid\. Bad --resolve entry "oops": it needs at least a host, a port and an address/);
  });
});
