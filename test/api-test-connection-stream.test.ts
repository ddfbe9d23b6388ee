/**
 * Test Connection as server-sent events (Accept: text/event-stream): each step arrives as its own event while the
 * test still runs, then the result; refusals before a step ran stay JSON errors; the result is kept either way.
 * Over a real socket (not inject), so what is asserted is what a browser reading the stream receives, and when.
 * The diagnostics service is the scripted double (test/helpers/diagnostics-double.ts).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { wantsEventStream } from '../src/api/routes/profiles.js';
import { openApi, type TestApi } from './helpers/api.js';
import { DiagnosticsDouble, type Script } from './helpers/diagnostics-double.js';
import { sqlite } from './helpers/stores.js';

const STEP_DELAY_MS = 150;
const EWS = 'https://mail.contoso.test/EWS/Exchange.asmx';

interface Received {
  event: string;
  data: unknown;
  /** Milliseconds since the request was sent. */
  at: number;
  /** Whether the double was still running its test when the event reached the client. */
  testRunning: boolean;
}

/** Reads a text/event-stream answer event by event, noting when each arrived. */
async function readEvents(response: Response, started: number, running: () => boolean): Promise<Received[]> {
  const events: Received[] = [];
  const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += value;
    let end: number;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const lines = block.split('\n');
      const event = lines.find((l) => l.startsWith('event: '))?.slice(7) ?? 'message';
      const data = lines.filter((l) => l.startsWith('data: ')).map((l) => l.slice(6)).join('\n');
      events.push({ event, data: JSON.parse(data), at: Date.now() - started, testRunning: running() });
    }
  }
  assert.equal(buffer, '', 'the stream ends after a complete event');
  return events;
}

describe('Test Connection as server-sent events', () => {
  let api: TestApi;
  let base: string;
  let script: Script = () => ({ failure: null });
  let double = new DiagnosticsDouble((target) => script(target), STEP_DELAY_MS);
  let exchangeId: string;

  before(async () => {
    api = await openApi(sqlite, {
      diagnostics: {
        service: {
          testConnection: (...args) => double.testConnection(...args),
          testMailbox: (...args) => double.testMailbox(...args),
        },
        resolve: [],
      },
    });
    base = await api.app.listen({ port: 0, host: '127.0.0.1' });
    const created = await api.call('POST', '/api/v1/email-server-profiles', {
      body: { name: 'Contoso', serverType: 'exchange', autodiscover: false, incomingServer: EWS, username: 'svc-crm@contoso.test', password: 'Stream-Passw0rd!' },
    });
    assert.equal(created.statusCode, 201, created.body);
    exchangeId = created.json().id;
  });
  after(async () => api?.close());

  function post(path: string, accept: string, body: unknown = {}) {
    return fetch(`${base}/api/v1${path}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${api.adminToken}`, accept, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
  }

  test('each step is its own event, in order, sent while the test still runs; then the result; then the end', async () => {
    script = () => ({ failure: null });
    double = new DiagnosticsDouble((target) => script(target), STEP_DELAY_MS);
    const started = Date.now();
    const response = await post(`/email-server-profiles/${exchangeId}/test-connection`, 'text/event-stream', { mailbox: 'someone@contoso.test' });
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type') ?? '', /^text\/event-stream/);
    assert.match(response.headers.get('cache-control') ?? '', /no-cache/);
    const events = await readEvents(response, started, () => double.inFlight > 0);

    assert.deepEqual(events.map((e) => e.event), ['step', 'step', 'step', 'result']);
    const steps = events.slice(0, 3).map((e) => e.data as { step: string; status: string; title: string; elapsedMs: number });
    assert.deepEqual(steps.map((s) => s.step), ['autodiscover', 'ews', 'mailbox']);
    assert.deepEqual(steps.map((s) => s.status), ['success', 'success', 'success']);
    // The first two steps reached the client while the test still ran (each step takes STEP_DELAY_MS), not in one
    // piece at the end. (Whether the double still runs, not arrival times: those bunch up on a loaded machine.)
    assert.deepEqual(events.map((e) => e.testRunning), [true, true, false, false], `arrived at ${events.map((e) => e.at).join(', ')} ms`);

    const result = events[3]!.data as { status: string; mailbox: string; steps: unknown[] };
    assert.deepEqual([result.status, result.mailbox], ['success', 'someone@contoso.test']);
    assert.deepEqual(result.steps, steps, 'the result holds the same steps the events carried');
    const stored = (await api.call('GET', `/api/v1/email-server-profiles/${exchangeId}/test-connection`)).json();
    assert.deepEqual(stored, result, 'the streamed result is the profile’s lastTestResult');
  });

  test('a failed step streams with its fix, the skipped step after it too', async () => {
    script = () => ({ failure: { step: 'ews', code: 'basic-auth-disabled', summary: 'Basic authentication is off', fix: 'Switch the profile to NTLM', serverAnswer: { httpStatus: 401 } } });
    double = new DiagnosticsDouble((target) => script(target), 20);
    const response = await post(`/email-server-profiles/${exchangeId}/test-connection`, 'text/event-stream');
    const events = await readEvents(response, Date.now(), () => double.inFlight > 0);
    assert.deepEqual(events.map((e) => e.event), ['step', 'step', 'step', 'result']);
    const failed = events[1]!.data as { status: string; fix: string; serverAnswer: unknown };
    assert.deepEqual([failed.status, failed.fix, failed.serverAnswer], ['failure', 'Switch the profile to NTLM', { httpStatus: 401 }]);
    assert.equal((events[2]!.data as { status: string }).status, 'skipped');
    assert.equal((events[3]!.data as { status: string; mailbox: string }).status, 'failure');
    assert.equal((events[3]!.data as { mailbox: string }).mailbox, 'admin@contoso.test', "the owner's address by default");
  });

  test('without the header the answer is JSON, as before', async () => {
    script = () => ({ failure: null });
    double = new DiagnosticsDouble((target) => script(target), 0);
    const response = await post(`/email-server-profiles/${exchangeId}/test-connection`, 'application/json');
    assert.match(response.headers.get('content-type') ?? '', /^application\/json/);
    const result = (await response.json()) as { status: string; steps: unknown[] };
    assert.deepEqual([result.status, result.steps.length], ['success', 3]);
  });

  test('refusals before any step ran are JSON errors with their status, even when the stream was asked for', async () => {
    const missing = await post('/email-server-profiles/00000000-0000-4000-8000-000000000000/test-connection', 'text/event-stream');
    assert.equal(missing.status, 404);
    assert.match(missing.headers.get('content-type') ?? '', /^application\/json/);
    // A profile of per-mailbox logins tested for an address none of its mailboxes has: refused before any step.
    const own = await api.call('POST', '/api/v1/email-server-profiles', {
      body: { name: 'Own logins', serverType: 'imap-smtp', incomingServer: 'imap.contoso.test', outgoingServer: 'smtp.contoso.test', credentialSource: 'mailbox' },
    });
    assert.equal(own.statusCode, 201, own.body);
    const refused = await post(`/email-server-profiles/${own.json().id}/test-connection`, 'text/event-stream', { mailbox: 'nobody@contoso.test' });
    assert.equal(refused.status, 409);
    assert.match(((await refused.json()) as { message: string }).message, /no mailbox of the profile has the address nobody@contoso\.test/);
    const bad = await post(`/email-server-profiles/${exchangeId}/test-connection`, 'text/event-stream', { mailbx: 'x@contoso.test' });
    assert.equal(bad.status, 400);
  });

  test('a fault after the first step ends the stream with an error event, and nothing is recorded', async () => {
    const before = (await api.call('GET', `/api/v1/email-server-profiles/${exchangeId}/test-connection`)).json();
    double = new DiagnosticsDouble(() => ({ failure: null }), 0);
    const broken = {
      testConnection: async (_target: unknown, onEvent?: (e: never) => void) => {
        onEvent?.({ type: 'end', result: { step: 'autodiscover', title: 'Autodiscover / HTTPS connection', status: 'success', elapsedMs: 1, summary: 'ok' } } as never);
        throw new Error('the service broke');
      },
    };
    const original = double.testConnection;
    double.testConnection = broken.testConnection as never;
    try {
      const response = await post(`/email-server-profiles/${exchangeId}/test-connection`, 'text/event-stream');
      assert.equal(response.status, 200);
      const events = await readEvents(response, Date.now(), () => false);
      assert.deepEqual(events.map((e) => e.event), ['step', 'error']);
      assert.deepEqual(events[1]!.data, { statusCode: 500, error: 'Internal Server Error', message: 'Test Connection failed in Liaison; the server log has the details' });
      assert.ok(api.logs.some((line) => line.includes('the service broke')), 'the fault is in the server log');
    } finally {
      double.testConnection = original;
    }
    assert.deepEqual((await api.call('GET', `/api/v1/email-server-profiles/${exchangeId}/test-connection`)).json(), before);
  });

  test('a client that goes away after the first step does not stop the test: its result is still kept', async () => {
    script = () => ({ failure: { step: 'mailbox', code: 'impersonation-denied', summary: 'may not impersonate' } });
    double = new DiagnosticsDouble((target) => script(target), STEP_DELAY_MS);
    const abort = new AbortController();
    const response = await fetch(`${base}/api/v1/email-server-profiles/${exchangeId}/test-connection`, {
      method: 'POST',
      headers: { authorization: `Bearer ${api.adminToken}`, accept: 'text/event-stream', 'content-type': 'application/json' },
      body: JSON.stringify({ mailbox: 'gone@contoso.test' }),
      signal: abort.signal,
    });
    const reader = response.body!.getReader();
    const first = new TextDecoder().decode((await reader.read()).value);
    assert.match(first, /^event: step\n/);
    abort.abort();
    assert.equal(double.inFlight, 1, 'the test was still running when the client left');
    for (let waited = 0; double.inFlight > 0 && waited < 5_000; waited += 20) await new Promise((resolve) => setTimeout(resolve, 20));
    let stored: { mailbox: string; status: string } | undefined;
    for (let waited = 0; waited < 2_000; waited += 20) {
      stored = (await api.call('GET', `/api/v1/email-server-profiles/${exchangeId}/test-connection`)).json();
      if (stored?.mailbox === 'gone@contoso.test') break;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    assert.deepEqual([stored?.mailbox, stored?.status], ['gone@contoso.test', 'failure']);
  });

  test('the Accept header is read as a list of media types with weights', () => {
    assert.equal(wantsEventStream(undefined), false);
    assert.equal(wantsEventStream('application/json'), false);
    assert.equal(wantsEventStream('text/event-stream'), true);
    assert.equal(wantsEventStream('application/json;q=0.5, Text/Event-Stream'), true);
    assert.equal(wantsEventStream('text/event-stream;q=0, application/json'), false);
    assert.equal(wantsEventStream('text/*'), false);
  });

  test('the route documents the stream', async () => {
    const doc = (await api.call('GET', '/api/v1/openapi.json', { token: null })).json();
    assert.match(doc.paths['/api/v1/email-server-profiles/{id}/test-connection'].post.description, /text\/event-stream.*event: step.*event: result/s);
  });
});
