/**
 * The sandbox driven by Python's exchangelib (Debian's python3-exchangelib), an EWS client the project does not
 * control, in its default configuration: the service account's Credentials, Account(autodiscover=True,
 * access_type=IMPERSONATION), no auth_type (exchangelib takes the most secure scheme offered: NTLM before Basic),
 * no version (it guesses, newest first, and steps down on ErrorInvalidRequest), and the default field lists
 * (the fields of every item class a folder can hold). A day's mail work, in test/sandbox/exchangelib/day.py:
 * folders, listing with all fields, filters, MIME, send-and-save, drafts with attachments, move, mark read,
 * bulk create, delete, sync of items and hierarchy, pull and streaming subscriptions, name resolution, server
 * time zones, and more (reply and forward, extended properties, EmptyFolder, MarkAsJunk, out-of-office, and a
 * version guess without Autodiscover's hint). MailTips is left out: exchangelib 4.9.0 writes MailTipsRequested as
 * bare text, which Exchange refuses too.
 *
 * The script runs each step on its own and prints one JSON line per step, so a failing step is reported with
 * exchangelib's own error and the others still run; each step is one test here. The outcomes are also checked in
 * the sandbox through its control API, and the traffic against the schemas.
 *
 * How the client reaches the sandbox: sandbox_names.py, loaded first by the script, maps the sandbox's host
 * names to 127.0.0.1 inside the Python process (port 443, where Autodiscover candidates point, to the sandbox's
 * port; port 80 to its HTTP port), keeping the names for SNI, the certificate check and the Host header; TLS is
 * verified against the sandbox's CA through REQUESTS_CA_BUNDLE.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { startTestSandbox, type TestSandbox } from '../helpers/sandbox.js';
import { requireService } from '../helpers/services.js';
import { testTraffic } from '../helpers/traffic.js';

const PYTHON = '/usr/bin/python3';
const SCRIPT = path.join(path.dirname(fileURLToPath(import.meta.url)), 'exchangelib', 'day.py');
const ALICE = 'alice@contoso.test';
const BOB = 'bob@contoso.test';

/** The steps of day.py, in its order; each must report exactly once. */
const STEPS = [
  'autodiscover',
  'version',
  'root tree',
  'inbox children',
  'folder create, rename, delete',
  'inbox all fields',
  'filters',
  'mime',
  'send and save',
  'draft with attachments',
  'attachment add and remove',
  'move',
  'mark read',
  'bulk create',
  'delete',
  'sync items',
  'sync hierarchy',
  'pull subscription',
  'streaming subscription',
  'resolve names',
  'server time zones',
  'reply and forward',
  'extended property',
  'empty folder',
  'mark as junk',
  'out of office',
  'version guess from the newest',
] as const;

interface StepLine {
  step: string;
  ok: boolean;
  value?: unknown;
  type?: string;
  error?: string;
  where?: string;
}

interface ControlItem {
  subject: string;
  isRead: boolean;
}

function exchangelibProblem(): string | null {
  const probe = spawnSync(PYTHON, ['-c', 'import exchangelib, requests_ntlm; print(exchangelib.__version__)'], { encoding: 'utf8' });
  if (probe.error) return `${PYTHON} is not there (${probe.error.message})`;
  if (probe.status !== 0) return `exchangelib cannot be imported by ${PYTHON} (Debian packages python3-exchangelib, python3-requests-ntlm): ${probe.stderr.trim().split('\n').pop()}`;
  return null;
}

/** Runs day.py against the sandbox; resolves with its JSON lines and its standard error. */
function runDay(s: TestSandbox, run: string, tmp: string): Promise<{ lines: Array<StepLine & { done?: boolean }>; stderr: string; status: number | null }> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) {
    // No proxy may take the sandbox's names elsewhere; no development override may change the configuration.
    if (value === undefined || /proxy/i.test(key) || key.startsWith('EXL_')) continue;
    env[key] = value;
  }
  Object.assign(env, {
    SANDBOX_HOSTS: s.info.hosts.join(','),
    SANDBOX_PORT: String(s.info.listen.port),
    SANDBOX_HTTP_PORT: String(s.info.listen.httpPort ?? ''),
    SANDBOX_CONTROL: s.info.control,
    SANDBOX_USER: s.info.serviceAccount?.username ?? '',
    SANDBOX_PASSWORD: s.password,
    SANDBOX_MAILBOX: ALICE,
    SANDBOX_PEER: BOB,
    SANDBOX_RUN: run,
    REQUESTS_CA_BUNDLE: s.info.caCert,
    // exchangelib keeps an Autodiscover cache in the temporary folder: a fresh one per run.
    TMPDIR: tmp,
    PYTHONDONTWRITEBYTECODE: '1',
  });
  return new Promise((resolve, reject) => {
    const child = spawn(PYTHON, [SCRIPT], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), 240_000);
    child.on('error', reject);
    child.on('close', (status) => {
      clearTimeout(timer);
      const lines = stdout
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as StepLine & { done?: boolean });
      resolve({ lines, stderr, status });
    });
  });
}

function describeFailure(line: StepLine): string {
  return `${line.type}: ${line.error}${line.where ? `\n  at ${line.where.trim()}` : ''}`;
}

describe('exchangelib (default configuration) does a day of mail work against the sandbox', requireService('python3-exchangelib', exchangelibProblem()), () => {
  let s: TestSandbox;
  let tmp: string;
  const run = `r${process.pid}`;
  const results = new Map<string, StepLine>();
  let outcome: { lines: Array<StepLine & { done?: boolean }>; stderr: string; status: number | null };

  before(async () => {
    s = await startTestSandbox();
    tmp = mkdtempSync(path.join(tmpdir(), 'liaison-exchangelib-'));
    outcome = await runDay(s, run, tmp);
    for (const line of outcome.lines) if (line.step) results.set(line.step, line);
  });
  after(async () => {
    await s?.close();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  test('the script ran to its end and reported every step once', () => {
    const done = outcome.lines.find((l) => l.done);
    assert.ok(done, `the script stopped early (exit ${outcome.status}):\n${outcome.stderr.slice(-3000)}`);
    assert.deepEqual(
      outcome.lines.filter((l) => l.step).map((l) => l.step),
      [...STEPS],
    );
  });

  for (const name of STEPS) {
    test(`exchangelib: ${name}`, () => {
      const line = results.get(name);
      assert.ok(line, `no result for this step (exit ${outcome.status}):\n${outcome.stderr.slice(-2000)}`);
      assert.ok(line.ok, describeFailure(line));
    });
  }

  test('exchangelib found the mailbox by Autodiscover on the default port and chose NTLM, as it does with Exchange', () => {
    const version = results.get('version');
    assert.ok(version?.ok, version ? describeFailure(version) : 'no version step');
    const value = version.value as { api: string; auth: string };
    assert.equal(value.auth, 'NTLM');
    assert.equal(value.api, 'Exchange2016');
    const autodiscover = s.records.filter((r) => r.surface.startsWith('autodiscover'));
    assert.ok(autodiscover.length > 0, 'no Autodiscover request reached the sandbox');
  });

  test('what exchangelib did is in the mailboxes, as the control API sees it', async () => {
    const inbox = (await s.control<ControlItem[]>('GET', `/mailboxes/${encodeURIComponent(ALICE)}/folders/inbox/items`)).json;
    const bobInbox = (await s.control<ControlItem[]>('GET', `/mailboxes/${encodeURIComponent(BOB)}/folders/inbox/items`)).json;
    const drafts = (await s.control<ControlItem[]>('GET', `/mailboxes/${encodeURIComponent(ALICE)}/folders/drafts/items`)).json;
    const sent = (await s.control<ControlItem[]>('GET', `/mailboxes/${encodeURIComponent(ALICE)}/folders/sentitems/items`)).json;
    const problems: string[] = [];
    if (!bobInbox.some((i) => i.subject === `Sent ${run}`)) problems.push('send and save: the message did not reach bob');
    if (!sent.some((i) => i.subject === `Sent ${run}`)) problems.push('send and save: no copy in Sent Items');
    if (!drafts.some((i) => i.subject === `Draft ${run}`)) problems.push('draft: not in Drafts');
    if (drafts.some((i) => i.subject.startsWith(`Bulk ${run}`))) problems.push('delete: bulk-created drafts are left');
    const read = inbox.find((i) => i.subject === `Read me ${run}`);
    if (!read?.isRead) problems.push(`mark read: ${read ? 'still unread' : 'message missing'}`);
    if (inbox.some((i) => i.subject === `Move me ${run}`)) problems.push('move: still in the inbox');
    assert.deepEqual(problems, []);
  });

  testTraffic(() => s.records);
});
