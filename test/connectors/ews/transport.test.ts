/**
 * The EWS transport against the sandbox: Basic and NTLM (both user-name forms, channel binding under Extended
 * Protection), connection reuse, the concurrency caps, certificate failures explained, timeouts.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { type AddressInfo, connect, createServer, type Socket } from 'node:net';
import { after, before, beforeEach, describe, test } from 'node:test';
import { createHttpTransport, type HttpTransportWithStats } from '../../../src/connectors/ews/transport/http.js';
import { type Credentials, type HttpRequest, TransportError, type TransportOptions } from '../../../src/connectors/ews/transport/types.js';
import { validateEwsEnvelope } from '../../../src/xml/ews-schema.js';
import { envelope, startTestSandbox, type TestSandbox } from '../../helpers/sandbox.js';

const GET_INBOX = '<m:GetFolder><m:FolderShape><t:BaseShape>IdOnly</t:BaseShape></m:FolderShape><m:FolderIds><t:DistinguishedFolderId Id="inbox"/></m:FolderIds></m:GetFolder>';

describe('EWS transport against the sandbox', () => {
  let s: TestSandbox;
  let ca: string;
  let port: number;
  const transports: HttpTransportWithStats[] = [];
  const transport = (options: TransportOptions = {}) => {
    const hosts = ['mail', 'mail2', 'wrong-name', 'autodiscover'].map((h) => `${h}.contoso.test:${port}:127.0.0.1`);
    const t = createHttpTransport({ trustedCaPem: ca, resolve: hosts, timeoutMs: 10_000, ...options });
    transports.push(t);
    return t;
  };
  const url = (host = 'mail.contoso.test') => `https://${host}:${port}/EWS/Exchange.asmx`;
  const basic = (password = s.password, username = s.info.serviceAccount!.username): Credentials => ({ username, password, method: 'basic' });
  const ntlm = (username: string, password = s.password): Credentials => ({ username, password, method: 'ntlm' });
  const ewsPost = (credentials: Credentials | null, extra: Partial<HttpRequest> = {}): HttpRequest => ({
    method: 'POST',
    url: url(),
    headers: { 'content-type': 'text/xml; charset=utf-8' },
    body: envelope(GET_INBOX, { as: s.info.mailboxes![0]! }),
    credentials,
    ...extra,
  });
  const rejects = async (promise: Promise<unknown>): Promise<TransportError> => {
    try {
      await promise;
    } catch (error) {
      assert.ok(error instanceof TransportError, `expected a TransportError, got ${String(error)}`);
      return error;
    }
    assert.fail('expected the request to fail');
  };

  before(async () => {
    s = await startTestSandbox();
    ca = readFileSync(s.info.caCert, 'utf8');
    port = s.info.listen.port;
  });
  beforeEach(async () => {
    await s.control('PATCH', '/settings', { basicAuth: true, extendedProtection: 'none' });
    await s.control('DELETE', '/faults');
  });
  after(async () => {
    await Promise.all(transports.map((t) => t.close()));
    await s.close();
  });

  test('Basic: an EWS call answers 200 with the envelope, the certificate described', async () => {
    const t = transport();
    const answer = await t.request(ewsPost(basic()));
    assert.equal(answer.status, 200, answer.body.toString());
    assert.match(answer.body.toString(), /ResponseClass="Success"/);
    assert.match(answer.headers['content-type'] ?? '', /text\/xml/);
    assert.deepEqual(answer.peerCertificate?.subjectAltNames, ['mail.contoso.test']);
    assert.match(answer.peerCertificate?.issuer ?? '', /Liaison Sandbox CA/);
    assert.ok(answer.elapsedMs >= 0);
  });

  test('Basic with a wrong password: the 401 with every WWW-Authenticate offer kept apart', async () => {
    const answer = await transport().request(ewsPost(basic('wrong')));
    assert.equal(answer.status, 401);
    assert.deepEqual(answer.headerLists['www-authenticate'], ['Negotiate', 'NTLM', 'Basic realm="mail.contoso.test"']);
    assert.equal(answer.headers['www-authenticate'], 'Negotiate, NTLM, Basic realm="mail.contoso.test"');
  });

  test('Basic off in the sandbox: 401 without Basic on offer', async () => {
    await s.control('PATCH', '/settings', { basicAuth: false });
    const answer = await transport().request(ewsPost(basic()));
    assert.equal(answer.status, 401);
    assert.deepEqual(answer.headerLists['www-authenticate'], ['Negotiate', 'NTLM']);
  });

  for (const username of ['CONTOSO\\svc-liaison', 'svc-liaison@contoso.test']) {
    test(`NTLM as ${username}: the EWS call succeeds`, async () => {
      const t = transport();
      const answer = await t.request(ewsPost(ntlm(username)));
      assert.equal(answer.status, 200, answer.body.toString());
      assert.match(answer.body.toString(), /ResponseClass="Success"/);
      assert.equal(t.stats().ntlmHandshakes, 1);
    });
  }

  test('NTLM with a wrong password: the final 401 is returned', async () => {
    const answer = await transport().request(ewsPost(ntlm('CONTOSO\\svc-liaison', 'wrong')));
    assert.equal(answer.status, 401);
    assert.ok(answer.headerLists['www-authenticate']?.includes('NTLM'));
  });

  test('NTLM with Extended Protection required and Basic off: channel binding passes', async () => {
    await s.control('PATCH', '/settings', { basicAuth: false, extendedProtection: 'require' });
    const t = transport();
    const answer = await t.request(ewsPost(ntlm('svc-liaison@contoso.test')));
    assert.equal(answer.status, 200, answer.body.toString());
  });

  test('NTLM authenticates the connection once: several calls, one handshake, the 401s counted', async () => {
    const t = transport();
    const before401 = s.records.length;
    for (let i = 0; i < 5; i++) {
      const answer = await t.request(ewsPost(ntlm('CONTOSO\\svc-liaison')));
      assert.equal(answer.status, 200);
    }
    assert.equal(t.stats().ntlmHandshakes, 1);
    assert.equal(t.stats().connections, 1);
    // The sandbox records only what reached EWS: the five calls, none of the handshake's 401s.
    assert.equal(s.records.length - before401, 5);
  });

  test('NTLM: a connection the server closed is authenticated again, without an error', async () => {
    const proxy = await tcpProxy(port);
    try {
      const t = transport({ resolve: [`mail.contoso.test:${port}:127.0.0.1:${proxy.port}`] });
      assert.equal((await t.request(ewsPost(ntlm('CONTOSO\\svc-liaison')))).status, 200);
      assert.equal(proxy.connections(), 1);
      // As IIS does after its idle timeout: the connection goes; the next call signs in on a new one.
      await proxy.dropAll();
      assert.equal((await t.request(ewsPost(ntlm('CONTOSO\\svc-liaison')))).status, 200);
      assert.equal(proxy.connections(), 2);
      assert.equal(t.stats().ntlmHandshakes, 2);
    } finally {
      await proxy.close();
    }
  });

  test('Anonymous requests never ride on an NTLM-authenticated connection', async () => {
    const t = transport();
    assert.equal((await t.request(ewsPost(ntlm('CONTOSO\\svc-liaison')))).status, 200);
    const anonymous = await t.request(ewsPost(null));
    assert.equal(anonymous.status, 401);
  });

  test('at most maxInFlightPerKey requests in flight per key, the others queued', async () => {
    await s.control('POST', '/faults', { kind: 'slow', delayMs: 150, times: 6 });
    const t = transport({ maxInFlightPerKey: 2 });
    const account = s.info.serviceAccount!.username;
    let most = 0;
    const sampler = setInterval(() => {
      most = Math.max(most, s.sandbox.runtime.inFlight.get(account) ?? 0);
      assert.ok(t.stats().inFlight <= 2);
    }, 5);
    const started = Date.now();
    const answers = await Promise.all(Array.from({ length: 6 }, () => t.request(ewsPost(basic(), { concurrencyKey: 'alice@contoso.test' }))));
    clearInterval(sampler);
    assert.deepEqual(
      answers.map((a) => a.status),
      [200, 200, 200, 200, 200, 200],
    );
    assert.equal(most, 2);
    assert.ok(Date.now() - started >= 3 * 150 - 20, 'three rounds of two');
  });

  test('the profile-wide cap holds across keys', async () => {
    await s.control('POST', '/faults', { kind: 'slow', delayMs: 100, times: 4 });
    const t = transport({ maxInFlight: 1, maxInFlightPerKey: 5 });
    let most = 0;
    const sampler = setInterval(() => (most = Math.max(most, t.stats().inFlight)), 2);
    const started = Date.now();
    await Promise.all(['a', 'b', 'c', 'd'].map((key) => t.request(ewsPost(basic(), { concurrencyKey: key }))));
    clearInterval(sampler);
    assert.equal(most, 1);
    assert.ok(Date.now() - started >= 4 * 100 - 20);
  });

  test('the wrong-name host: a TLS error that lists the names the certificate carries, and nothing sent', async () => {
    const before = s.records.length;
    const error = await rejects(transport().request(ewsPost(basic(), { url: url('wrong-name.contoso.test') })));
    assert.equal(error.kind, 'tls');
    assert.equal(error.details.tls?.code, 'ERR_TLS_CERT_ALTNAME_INVALID');
    assert.deepEqual(error.details.tls?.names, ['mail.fabrikam.test']);
    assert.match(error.message, /wrong-name\.contoso\.test/);
    assert.match(error.message, /mail\.fabrikam\.test/);
    assert.equal(s.records.length, before);
  });

  test('an unknown CA (no trustedCaPem): the error names the sandbox CA as the issuer', async () => {
    const error = await rejects(transport({ trustedCaPem: null }).request(ewsPost(basic())));
    assert.equal(error.kind, 'tls');
    assert.equal(error.details.tls?.code, 'UNABLE_TO_VERIFY_LEAF_SIGNATURE');
    assert.match(error.details.tls?.issuer ?? '', /Liaison Sandbox CA \(contoso\.test\)/);
    assert.match(error.message, /Liaison Sandbox CA \(contoso\.test\)/);
  });

  test('credentials are refused for an http URL; an anonymous http request goes out', async () => {
    const t = transport({ resolve: [`autodiscover.contoso.test:${s.info.listen.httpPort}:127.0.0.1`] });
    const error = await rejects(t.request({ method: 'GET', url: `http://autodiscover.contoso.test:${s.info.listen.httpPort}/autodiscover/autodiscover.xml`, credentials: basic() }));
    assert.equal(error.kind, 'insecure-url');
    const probe = await t.request({ method: 'GET', url: `http://autodiscover.contoso.test:${s.info.listen.httpPort}/autodiscover/autodiscover.xml` });
    assert.equal(probe.status, 302, 'the redirect is returned, not followed');
    assert.match(probe.headers.location ?? '', /^https:\/\/autodiscover\.contoso\.test:\d+\/autodiscover\/autodiscover\.xml$/);
    assert.equal(probe.peerCertificate, undefined);
  });

  test('the total timeout: the slow fault answers after it', async () => {
    await s.control('POST', '/faults', { kind: 'slow', delayMs: 1500, times: 1 });
    const started = Date.now();
    const error = await rejects(transport({ timeoutMs: 300 }).request(ewsPost(basic())));
    assert.equal(error.kind, 'timeout');
    assert.ok(Date.now() - started < 1200);
    assert.match(error.message, /mail\.contoso\.test:\d+/);
  });

  test('a body larger than maxResponseBytes is refused', async () => {
    const error = await rejects(transport({ maxResponseBytes: 100 }).request(ewsPost(basic())));
    assert.equal(error.kind, 'too-large');
  });

  test('a refused connection names host and port', async () => {
    const t = createHttpTransport({ resolve: ['mail.contoso.test:1:127.0.0.1'], timeoutMs: 2000 });
    transports.push(t);
    const error = await rejects(t.request({ method: 'GET', url: 'https://mail.contoso.test:1/EWS/Exchange.asmx' }));
    assert.equal(error.kind, 'refused');
    assert.match(error.message, /mail\.contoso\.test:1\b/);
    assert.equal(error.details.port, 1);
  });

  test('a name DNS does not know: kind dns, with the name', async () => {
    const t = createHttpTransport({ timeoutMs: 5000 });
    transports.push(t);
    const error = await rejects(t.request({ method: 'GET', url: 'https://no-such-host.invalid/EWS/Exchange.asmx' }));
    assert.equal(error.kind, 'dns');
    assert.match(error.message, /no-such-host\.invalid/);
  });

  test('stream: the body arrives in parts and cancel() ends it', async () => {
    const t = transport();
    const response = await t.stream(ewsPost(ntlm('CONTOSO\\svc-liaison')));
    assert.equal(response.status, 200);
    const parts: Buffer[] = [];
    for await (const chunk of response.body) parts.push(chunk);
    assert.match(Buffer.concat(parts).toString(), /ResponseClass="Success"/);
    assert.equal(t.stats().inFlight, 0);
    const again = await t.stream(ewsPost(ntlm('CONTOSO\\svc-liaison')));
    again.cancel();
    assert.equal(t.stats().inFlight, 0);
    assert.equal(t.stats().ntlmHandshakes, 1);
  });

  test('every EWS request these tests send validates against the schemas', () => {
    assert.equal(validateEwsEnvelope(ewsPost(null).body as string), null);
    assert.equal(validateEwsEnvelope(streamingEnvelope('AAAA', 'bob@contoso.test')), null);
  });

  test('stream: GetStreamingEvents read as it arrives, over NTLM, then cancelled', { timeout: 10_000 }, async () => {
    const subscribed = await s.ews(
      '<m:Subscribe><m:StreamingSubscriptionRequest><t:FolderIds><t:DistinguishedFolderId Id="inbox"/></t:FolderIds>' +
        '<t:EventTypes><t:EventType>NewMailEvent</t:EventType></t:EventTypes></m:StreamingSubscriptionRequest></m:Subscribe>',
      { as: 'bob@contoso.test' },
    );
    const id = /<m:SubscriptionId>([^<]+)</.exec(subscribed.text)![1]!;
    const t = transport({ timeoutMs: 500 });
    const response = await t.stream(ewsPost(ntlm('CONTOSO\\svc-liaison'), { body: streamingEnvelope(id, 'bob@contoso.test'), concurrencyKey: 'bob@contoso.test' }));
    assert.equal(response.status, 200);
    let text = '';
    let delivered = false;
    for await (const chunk of response.body) {
      text += chunk.toString();
      if (!delivered && text.includes('</Envelope>')) {
        delivered = true;
        // Past the 500 ms total timeout: a stream is not bound by it once its headers are in.
        await new Promise((r) => setTimeout(r, 700));
        await s.control('POST', '/mailboxes/bob@contoso.test/messages', { from: 'x@fabrikam.test', to: ['bob@contoso.test'], subject: 'Streamed' });
      }
      if (text.includes('NewMailEvent')) break;
    }
    assert.match(text, /<m:ConnectionStatus>OK<\/m:ConnectionStatus>|ConnectionStatus>OK</);
    assert.match(text, /NewMailEvent/);
    assert.equal(t.stats().inFlight, 1, 'the stream holds its slot until it ends');
    response.cancel();
    assert.equal(t.stats().inFlight, 0);
    // The connection went with the cancelled answer; the next call signs in on a new one.
    assert.equal((await t.request(ewsPost(ntlm('CONTOSO\\svc-liaison')))).status, 200);
    assert.equal(t.stats().ntlmHandshakes, 2);
  });

  test("the caller's signal cancels a call in flight and one waiting for a slot", async () => {
    await s.control('POST', '/faults', { kind: 'slow', delayMs: 1000, times: 1 });
    const t = transport({ maxInFlight: 1 });
    const controller = new AbortController();
    const inFlight = rejects(t.request(ewsPost(basic(), { signal: controller.signal })));
    await new Promise((r) => setTimeout(r, 100));
    const waiting = rejects(t.request(ewsPost(basic(), { signal: controller.signal })));
    assert.equal(t.stats().waiting, 1);
    controller.abort();
    assert.equal((await inFlight).kind, 'aborted');
    assert.equal((await waiting).kind, 'aborted');
    assert.equal(t.stats().inFlight, 0);
    await s.control('DELETE', '/faults');
    assert.equal((await t.request(ewsPost(basic()))).status, 200, 'the slot was given back');
  });

  test('the sandbox cutting the answer: kind reset, with host and port', async () => {
    await s.control('POST', '/faults', { kind: 'drop', times: 1 });
    const error = await rejects(transport().request(ewsPost(basic())));
    assert.equal(error.kind, 'reset');
    assert.match(error.message, /mail\.contoso\.test:\d+/);
  });

  test('a server that accepts but never completes TLS: connect-timeout', async () => {
    const silent = createServer((socket) => socket.on('error', () => undefined));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    try {
      const silentPort = (silent.address() as AddressInfo).port;
      const t = createHttpTransport({ resolve: [`mail.contoso.test:443:127.0.0.1:${silentPort}`], connectTimeoutMs: 200, timeoutMs: 5000 });
      transports.push(t);
      const started = Date.now();
      const error = await rejects(t.request({ method: 'GET', url: 'https://mail.contoso.test/EWS/Exchange.asmx' }));
      assert.equal(error.kind, 'connect-timeout');
      assert.ok(Date.now() - started < 2000);
      assert.match(error.message, new RegExp(`mail\\.contoso\\.test:443 \\(dialled 127\\.0\\.0\\.1:${silentPort} per --resolve\\) timed out after 200 ms`));
    } finally {
      silent.close();
    }
  });
});

function streamingEnvelope(id: string, as: string): string {
  return envelope(
    `<m:GetStreamingEvents><m:SubscriptionIds><t:SubscriptionId>${id}</t:SubscriptionId></m:SubscriptionIds><m:ConnectionTimeout>1</m:ConnectionTimeout></m:GetStreamingEvents>`,
    { as },
  );
}

/** A TCP relay to the sandbox whose connections the test can cut, as a server's idle timeout does. */
async function tcpProxy(targetPort: number): Promise<{ port: number; connections(): number; dropAll(): Promise<void>; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  let count = 0;
  const server = createServer((client) => {
    count += 1;
    const upstream = connect(targetPort, '127.0.0.1');
    sockets.add(client).add(upstream);
    client.pipe(upstream).pipe(client);
    const end = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const dropAll = async () => {
    for (const socket of sockets) socket.destroy();
    sockets.clear();
    await new Promise((r) => setTimeout(r, 30));
  };
  return {
    port: (server.address() as AddressInfo).port,
    connections: () => count,
    dropAll,
    async close() {
      await dropAll();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
